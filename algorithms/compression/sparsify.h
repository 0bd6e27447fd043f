// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Sparsification: top-k and random-k (Stich, Cordonnier & Jaggi 2018, "Sparsified SGD with memory", NeurIPS,
// Sec. 2, the operators top_k and rand_k). Both are biased k-contractions, meant to be used with error feedback
// (errorfeedback.h) or DGC's momentum correction (dgc.h), as that paper and Lin et al. 2018 do.
#include "compression/compressor.h"

namespace dml::compression {

/// How many elements a sparsifier keeps: a fixed count, or a fraction of the gradient (so ring chunks and layers of
/// different lengths keep the same density).
struct Keep {
    double fraction = 0.0;   ///< in (0, 1], used when count == 0
    Eigen::Index count = 0;  ///< > 0: keep min(count, n)
    static Keep ratio(double f) { return {f, 0}; }
    static Keep exactly(Eigen::Index k) { return {0.0, k}; }
};

/// A sparse format: k (index, value) pairs out of n.
class Sparsifier : public Compressor {
public:
    /// Elements kept of an n-float gradient: min(count, n) if count > 0, else round(fraction n) clamped to [1, n];
    /// 0 if n == 0.
    Eigen::Index keep(Eigen::Index n) const;
    /// The k indices carried by `e`, ascending (for DGC's momentum factor masking).
    virtual void indices(const Encoded& e, std::vector<std::uint32_t>& out) const = 0;
    /// acc[i] += weight * value for each of the k pairs.
    void accumulate(const Encoded& e, float weight, Eigen::VectorXf& acc) const override;
    double accumulateFlops(double n) const override { return 2.0 * double(keep(Eigen::Index(n))); }

protected:
    /// Throws std::invalid_argument unless count > 0 or 0 < fraction <= 1.
    explicit Sparsifier(Keep keep);
    std::string keepName() const;
    Keep m_keep;
};

/// Top-k: the k elements of largest magnitude |g_i|, exactly; among equal magnitudes the lower index wins, so the
/// choice is a function of g alone (no seed). NaN counts as larger than infinity.
///
/// Wire format: k little-endian uint32 indices (ascending), then the k float32 values: 8k bytes (n < 2^32; k and n
/// are known to the receiver). Decoding writes the values into a zero vector of n floats.
/// Flops: encode 3n (one magnitude and two comparisons per element: a candidate filter from a strided sample of
/// magnitudes, then the selection), decode k. Not summable: the index sets of two ranks differ, so an all-reduce
/// must all-gather the pairs (their size grows with the number of ranks), as DGC does.
/// Throws std::invalid_argument from encodeInto() if n >= 2^32.
class TopK final : public Sparsifier {
public:
    explicit TopK(Keep keep) : Sparsifier(keep) {}
    std::string name() const override { return "topk(" + keepName() + ")"; }
    void encodeInto(const Eigen::Ref<const Eigen::VectorXf>& g, std::uint64_t seed, Encoded& out) const override;
    void decodeInto(const Encoded& e, Eigen::VectorXf& out) const override;
    double encodedBytes(Eigen::Index n) const override { return 8.0 * double(keep(n)); }
    double encodeFlops(double n) const override { return 3.0 * n; }
    double decodeFlops(double n) const override { return double(keep(Eigen::Index(n))); }
    bool summable() const override { return false; }
    void indices(const Encoded& e, std::vector<std::uint32_t>& out) const override;
};

/// Random-k (Stich et al. 2018, rand_k): k distinct indices drawn uniformly from the seed (Floyd's algorithm over
/// Rng(seed)), the values kept as they are (not rescaled by n/k: the biased contraction of the paper, for use
/// with error feedback).
///
/// Two variants:
///  - per-rank seeds (sharedSeed false): like top-k, k uint32 indices then k float32 values, 8k bytes; not
///    summable.
///  - a seed shared by every rank of a step (sharedSeed true; e.g. deriveSeed(run seed, step)): every rank keeps
///    the same indices and the receiver regenerates them from Encoded::seed, so only the k float32 values are
///    sent: 4k bytes; summable (an all-reduce adds the value arrays). A dmlsim variant, not in the paper.
/// Flops: encode 2k (a draw and a membership test per index), decode k.
class RandomK final : public Sparsifier {
public:
    explicit RandomK(Keep keep, bool sharedSeed = false) : Sparsifier(keep), m_shared(sharedSeed) {}
    std::string name() const override { return std::string(m_shared ? "randomk-shared(" : "randomk(") + keepName() + ")"; }
    void encodeInto(const Eigen::Ref<const Eigen::VectorXf>& g, std::uint64_t seed, Encoded& out) const override;
    void decodeInto(const Encoded& e, Eigen::VectorXf& out) const override;
    double encodedBytes(Eigen::Index n) const override { return (m_shared ? 4.0 : 8.0) * double(keep(n)); }
    double encodeFlops(double n) const override { return 2.0 * double(keep(Eigen::Index(n))); }
    double decodeFlops(double n) const override { return double(keep(Eigen::Index(n))); }
    bool summable() const override { return m_shared; }
    /// Adds the value arrays; the parts must share n and seed (throws std::invalid_argument otherwise).
    void sum(std::span<const Encoded* const> parts, Encoded& out) const override;
    double sumFlops(double n, int parts) const override;
    void indices(const Encoded& e, std::vector<std::uint32_t>& out) const override;
    /// The k = keep(n) indices, ascending, that a gradient of n floats encoded with `seed` keeps.
    void drawIndices(Eigen::Index n, std::uint64_t seed, std::vector<std::uint32_t>& out) const;

private:
    bool m_shared;
};

} // namespace dml::compression
