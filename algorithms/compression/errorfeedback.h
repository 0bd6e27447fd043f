// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Error feedback (residual memory), the piece that makes biased compressors converge: Seide et al. 2014 (1-bit
// SGD), Stich, Cordonnier & Jaggi 2018 ("Sparsified SGD with memory", Algorithm 1, Mem-SGD: m_{t+1} = m_t +
// eta_t g_t - comp_k(m_t + eta_t g_t)), Karimireddy et al. 2019 ("Error feedback fixes SignSGD", Algorithm 1). GRACE's Memory/Residual shape:
// compensate before encoding, update after.
#include "compression/compressor.h"

namespace dml::compression {

class Sparsifier;

/// The residual memory of one rank and one buffer (a layer, a bucket, the whole gradient):
///   p_t = g_t + e_t;  send C(p_t);  e_{t+1} = p_t - decode(C(p_t)),  with e_0 = 0.
/// Hence sum_t decode(C(p_t)) + e_T = sum_t g_t: nothing is lost, only delayed.
///
/// Stich et al.'s and Karimireddy et al.'s algorithms feed back the error of the scaled step p_t = gamma_t g_t + e_t;
/// pass gamma_t g_t as g to follow them exactly (with a constant learning rate the two forms differ only by the
/// factor gamma in e).
/// State, not const: one ErrorFeedback per rank and buffer, owned by the strategy (so it survives relaunches and
/// can be checkpointed).
class ErrorFeedback {
public:
    /// p = g + e (p = g before the first update). p is resized to g.size(). Throws std::invalid_argument if the
    /// residual has another length.
    void compensate(const Eigen::Ref<const Eigen::VectorXf>& g, Eigen::VectorXf& p) const;
    /// e = p - decoded (both of the same length).
    void update(const Eigen::Ref<const Eigen::VectorXf>& p, const Eigen::Ref<const Eigen::VectorXf>& decoded);
    /// compensate, encode p with `c` and `seed` into `out`, decode it into `decoded` (what the receivers will use),
    /// update. Flops: flops(n) here plus c's encode and decode flops.
    void step(const Compressor& c, const Eigen::Ref<const Eigen::VectorXf>& g, std::uint64_t seed, Encoded& out,
              Eigen::VectorXf& decoded);
    /// step() for a sparsifier (top-k, random-k), without decoding: a sparse encoding carries exact copies of the
    /// kept values, so e = p - decode(C(p)) is p with the kept elements set to zero, bit for bit for finite values
    /// (an infinite or NaN kept element gets a residual of 0 here, NaN in step()). Swaps buffers instead of
    /// allocating. Same flops as step() are charged by the callers (the arithmetic saved is a memory pass).
    void stepSparse(const Sparsifier& s, const Eigen::Ref<const Eigen::VectorXf>& g, std::uint64_t seed, Encoded& out);
    /// e (empty before the first update).
    const Eigen::VectorXf& residual() const { return m_e; }
    /// Restores a residual (e.g. from a checkpoint) or clears it (an empty vector).
    void setResidual(Eigen::VectorXf e) { m_e = std::move(e); }
    /// Flops per step over n floats: n for compensate, n for update.
    static double flops(double n) { return 2.0 * n; }

private:
    Eigen::VectorXf m_e, m_p;
    std::vector<std::uint32_t> m_kept;
};

} // namespace dml::compression
