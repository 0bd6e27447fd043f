// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// What a scenario asks of differential privacy (strategy.privacy). Plain data: strategy.h includes it.

namespace dml::privacy {

/// strategy.privacy:
///  - none
///  - dp-fedavg (fedavg): user-level DP-FedAvg (McMahan, Ramage, Talwar & Zhang 2018, "Learning differentially
///    private recurrent language models", ICLR, Algorithm 1 with the fixed-denominator estimator f~_f and uniform
///    weights): each client's update clipped to L2 norm `clip`, Gaussian noise of standard deviation
///    noise_multiplier x clip added to their sum, divided by the expected clients per round
///  - dp-sgd (sync-ps, ring-allreduce): example-level DP-SGD (Abadi et al. 2016, "Deep learning with differential
///    privacy", CCS, Algorithm 1): every example's gradient clipped to `clip`, noise of standard deviation
///    noise_multiplier x clip added to the sum over the lot (all workers' batches of one step)
/// The RDP accountant (privacy/rdp.h) turns the noise multiplier, the sampling rate and the steps into (epsilon,
/// delta); a run with target_epsilon > 0 stops before a step would exceed it.
struct PrivacySpec {
    enum class Kind { None, DpFedAvg, DpSgd };
    Kind kind = Kind::None;
    double clip = 1.0;            ///< L2 norm bound C (> 0)
    double noiseMultiplier = 1.0; ///< z: noise standard deviation / C (>= 0)
    double delta = 1e-5;          ///< the delta of (epsilon, delta)-DP, in (0, 1)
    double targetEpsilon = 0;     ///< stop before epsilon would exceed it; 0 = no budget

    bool enabled() const { return kind != Kind::None; }
};

} // namespace dml::privacy

namespace dml::privacy {

/// strategy.secure_aggregation (fedavg): Bonawitz et al. 2017, "Practical secure aggregation for privacy-preserving
/// machine learning" (CCS'17), the semi-honest protocol; see privacy/secagg.h. Plain data: strategy.h includes it.
struct SecAggSpec {
    bool enabled = false;
    int bits = 32;       ///< R = 2^bits, the ring of the masked sums; in [16, 32]
    double range = 1.0;  ///< without DP-FedAvg: every update coordinate is clamped to [-range, range] (> 0)
    int threshold = 0;   ///< t of the t-out-of-n Shamir sharing; 0 = floor(2n/3) + 1 (n = clients per round)
};

} // namespace dml::privacy
