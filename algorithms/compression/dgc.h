// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Deep Gradient Compression's momentum correction and momentum factor masking (Lin, Han, Mao, Wang & Dally 2018,
// "Deep gradient compression", ICLR, Sec. 3.2 and 3.3, Algorithm 1 lines 6-11): with momentum SGD, the momentum is
// accumulated locally before sparsification instead of after aggregation, so the sparse update keeps the
// momentum's direction.
#include "compression/sparsify.h"

namespace dml::compression {

/// The state of one rank and one buffer, used in place of ErrorFeedback (v is the residual memory):
///   u_t = m u_{t-1} + g_t        (velocity, Sec. 3.2)
///   v_t = v_{t-1} + u_t          (accumulated update; sparsify v_t and send it)
///   u_t, v_t = 0 where sent      (momentum factor masking, Sec. 3.3)
/// The receiver applies the aggregate of the sparse v's with plain SGD (w -= lr * sum), no momentum of its own.
/// Hence, per rank, sum_t decode(sent_t) + v_T = sum_t u_t (u_t before masking). With m = 0 this is top-k with
/// error feedback.
/// Not implemented from the paper: local gradient clipping (Sec. 3.2), warm-up training (Sec. 3.3), the sampled
/// threshold (Sec. 3.1: TopK here selects exactly) and Nesterov momentum.
class MomentumCorrection {
public:
    /// momentum in [0, 1); throws std::invalid_argument otherwise.
    explicit MomentumCorrection(float momentum);
    /// Adds one gradient (n floats; u and v start at zero) and returns v, what to sparsify. Throws
    /// std::invalid_argument if n differs from the state's length.
    const Eigen::VectorXf& accumulate(const Eigen::Ref<const Eigen::VectorXf>& g);
    /// Momentum factor masking: u_i = v_i = 0 for each sent index i (< n).
    void mask(std::span<const std::uint32_t> sent);
    /// accumulate, encode v with `s` into `out`, decode it into `decoded`, mask the sent indices.
    /// Flops: flops(n) here plus s's encode and decode flops.
    void step(const Sparsifier& s, const Eigen::Ref<const Eigen::VectorXf>& g, std::uint64_t seed, Encoded& out,
              Eigen::VectorXf& decoded);
    const Eigen::VectorXf& velocity() const { return m_u; }
    const Eigen::VectorXf& accumulated() const { return m_v; }
    float momentum() const { return m_momentum; }
    /// Flops per step over n floats: 2n for u, n for v (masking is k stores).
    static double flops(double n) { return 3.0 * n; }

private:
    float m_momentum;
    Eigen::VectorXf m_u, m_v;
    std::vector<std::uint32_t> m_sent;
};

} // namespace dml::compression
