// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// QSGD: stochastic quantization with s levels (Alistarh, Grubic, Li, Tomioka & Vojnovic 2017, "QSGD:
// communication-efficient SGD via gradient quantization and encoding", NeurIPS, Sec. 3.1).
#include "compression/compressor.h"

namespace dml::compression {

/// Q_s(v_i) = ||v||_2 sgn(v_i) xi_i(v, s), where, with r = |v_i| s / ||v||_2 and l = floor(r), xi_i = (l + 1) / s
/// with probability r - l and l / s otherwise (Sec. 3.1). Unbiased, E[Q_s(v)] = v, with variance
/// E||Q_s(v) - v||^2 <= min(n / s^2, sqrt(n) / s) ||v||^2 (Lemma 3.1), per bucket when bucketed.
///
/// Variant: with bucket = d > 0 the vector is quantized in buckets of d consecutive elements, each with its own
/// 2-norm, as the paper's experiments do ("bucket size d"; they also use a max-norm scaling, not implemented here);
/// bucket = 0 is Sec. 3.1 with one norm.
/// Wire format: the paper's simple fixed-width scheme, not its Elias coding (Sec. 3.2): first one float32 norm per
/// bucket, then per element a field of w = 1 + ceil(log2(s + 1)) bits (the level l in the low bits, the sign in
/// the top bit), packed LSB-first from element 0:
///     bytes = 4 * buckets + ceil(n * w / 8),   buckets = ceil(n / d) (1 if d = 0, 0 if n = 0).
/// "QSGD b-bit" is s = 2^(b-1) - 1, so w = b (levelsForBits): 8-bit is s = 127, 4-bit is s = 7.
/// Randomness: element i draws u_i in [0, 1) from the top 24 bits of splitMix64(seed + i * 0x9E3779B97F4A7C15)
/// (the i-th output of a SplitMix64 stream; counter-based, so a chunk of a vector can be encoded on its own);
/// rounding up iff u_i < r - l makes the rounding unbiased up to 2^-24 of a level.
/// Flops: encode 8n (2 per element for the norm; abs, scale, floor, subtract, compare and round per element),
/// decode 2n. Not summable (each encoding has its own norms): all-gather.
/// Finite input is assumed: an infinite or NaN element makes its bucket's norm non-finite.
class Qsgd final : public Compressor {
public:
    /// levels s in [1, 65535], bucket d >= 0. Throws std::invalid_argument otherwise.
    explicit Qsgd(int levels, Eigen::Index bucket = 0);
    /// s = 2^(bits - 1) - 1 for a field of `bits` bits including the sign; bits in [2, 17].
    static int levelsForBits(int bits);
    int levels() const { return m_s; }
    Eigen::Index bucket() const { return m_bucket; }
    /// w = 1 + ceil(log2(s + 1)).
    int bitsPerElement() const { return m_bits; }
    Eigen::Index buckets(Eigen::Index n) const;

    std::string name() const override;
    void encodeInto(const Eigen::Ref<const Eigen::VectorXf>& g, std::uint64_t seed, Encoded& out) const override;
    void decodeInto(const Encoded& e, Eigen::VectorXf& out) const override;
    double encodedBytes(Eigen::Index n) const override;
    double encodeFlops(double n) const override { return 8.0 * n; }
    double decodeFlops(double n) const override { return 2.0 * n; }
    bool summable() const override { return false; }

private:
    int m_s;
    Eigen::Index m_bucket;
    int m_bits;
};

} // namespace dml::compression
