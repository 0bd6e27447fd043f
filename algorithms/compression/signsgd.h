// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Sign compression: signSGD with majority vote (Bernstein, Wang, Azizzadenesheli & Anandkumar 2018, "signSGD:
// compressed optimisation for non-convex problems", ICML: Algorithm 1, and distributed training by majority
// vote) and the scaled sign of EF-SignSGD (Karimireddy, Rebjock, Stich & Jaggi 2019, "Error feedback fixes SignSGD
// and other gradient compression schemes", ICML, Algorithm 1: Delta = (||p||_1 / d) sign(p), with error feedback).
#include "compression/compressor.h"

namespace dml::compression {

/// One bit per element: 1 if the element's sign bit is set (x < 0, or -0.0), 0 otherwise; a zero is sent as a
/// positive sign (1 bit cannot carry a zero). Bits are packed LSB-first: element i is bit i % 8 of byte i / 8.
///  - Scale::None (signSGD, Bernstein et al.): decodes to +-1; the learning rate sets the step.
///        bytes = ceil(n / 8).
///  - Scale::MeanAbs (Karimireddy et al.): a float32 scale ||g||_1 / n first, then the bits; decodes to +-scale.
///        bytes = 4 + ceil(n / 8).
/// EF-SignSGD is SignCompressor(Scale::MeanAbs) inside an ErrorFeedback (errorfeedback.h), fed gamma * g as
/// Karimireddy et al.'s Algorithm 1 does.
/// Flops: encode n (one sign per element) plus 2n for the scale (abs and add), decode n. Not summable: the sum of
/// signs is not a sign; a parameter server aggregates with majorityVote(), an all-reduce must all-gather.
class SignCompressor final : public Compressor {
public:
    enum class Scale { None, MeanAbs };
    explicit SignCompressor(Scale scale = Scale::None) : m_scale(scale) {}
    Scale scale() const { return m_scale; }

    std::string name() const override { return m_scale == Scale::None ? "sign" : "sign-meanabs"; }
    void encodeInto(const Eigen::Ref<const Eigen::VectorXf>& g, std::uint64_t seed, Encoded& out) const override;
    void decodeInto(const Encoded& e, Eigen::VectorXf& out) const override;
    double encodedBytes(Eigen::Index n) const override;
    double encodeFlops(double n) const override { return m_scale == Scale::None ? n : 3.0 * n; }
    double decodeFlops(double n) const override { return n; }
    bool summable() const override { return false; }

    /// Majority vote (Bernstein et al. 2018: the server sends back sign(sum_m sign(g_m))): the encoding,
    /// in this compressor's format, whose element i is negative iff more than half of the parts are negative at
    /// i; a tie (an even number of parts, split evenly) is positive, as a zero is. With Scale::MeanAbs the vote's
    /// scale is the mean of the parts' scales (dmlsim's choice: the paper's vote is unscaled). The result's seed is
    /// the first part's. Throws std::invalid_argument if parts is empty or their n differ.
    /// Flops: voteFlops(n, parts).
    void majorityVote(std::span<const Encoded* const> parts, Encoded& out) const;
    Encoded majorityVote(std::span<const Encoded* const> parts) const;
    static double voteFlops(double n, int parts) { return double(parts) * n; }

private:
    Scale m_scale;
};

} // namespace dml::compression
