// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Differential privacy (issue 12), part 1: the privacy accountant of DP-SGD. Rényi differential privacy (RDP) of
// the Poisson-subsampled Gaussian mechanism, composed over training steps and converted to (epsilon, delta)-DP.
//
// Sources:
//  - Mironov 2017, "Rényi differential privacy" (CSF 2017; arXiv:1702.07476): RDP, its composition (Prop. 1: RDP
//    of composed mechanisms adds up, order by order), the Gaussian mechanism's RDP alpha / (2 sigma^2) (Table 2,
//    sensitivity 1) and the classic conversion to (epsilon, delta)-DP (Prop. 3).
//  - Mironov, Talwar & Zhang 2019, "Rényi differential privacy of the sampled Gaussian mechanism"
//    (arXiv:1908.10530): the RDP of the sampled Gaussian mechanism as log(A_alpha) / (alpha - 1), with A_alpha
//    computed exactly for integer alpha (binomial expansion, Sec. 3.3) and as a convergent series for fractional
//    alpha (Sec. 3.3).
//  - Balle, Barthe, Gaboardi, Hsu & Sato 2020, "Hypothesis testing interpretations and Rényi differential privacy"
//    (AISTATS 2020; arXiv:1905.09982, Theorem 21), also Canonne, Kamath & Steinke 2020 (arXiv:2004.00010,
//    Prop. 12 in v4): the improved conversion to (epsilon, delta)-DP.
//
// The code mirrors the reference implementations, so its numbers can be checked against theirs:
//  - Opacus, opacus/accountants/analysis/rdp.py: _compute_rdp, _compute_log_a_for_int_alpha,
//    _compute_log_a_for_frac_alpha, _log_add, _log_sub, _log_erfc, compute_rdp and get_privacy_spent;
//    opacus/accountants/rdp.py: RDPAccountant and its DEFAULT_ALPHAS.
//  - TensorFlow Privacy, tensorflow_privacy/privacy/analysis/rdp_accountant.py (removed from TF Privacy in 2022 in
//    favour of Google's dp_accounting library): _compute_rdp, _compute_log_a_int, _compute_log_a_frac,
//    _compute_eps (improved conversion from Dec 2020 on, classic conversion before).
//
// Conventions: the mechanism adds N(0, (noiseMultiplier * C)^2) noise to a sum of per-example gradients clipped to
// L2 norm C (the sensitivity), each example being in a step's batch independently with probability q (Poisson
// sampling); neighbouring datasets differ by adding or removing one example. epsilon is in nats (natural
// logarithms), delta a probability. Everything here is plain C++ (no Eigen, no Qt) and deterministic.
// Invalid arguments throw std::invalid_argument whose message names the parameter.
#include <span>
#include <vector>

namespace dml::privacy {

/// How RDP at order alpha becomes (epsilon, delta)-DP. Both are valid upper bounds; Improved is never larger.
enum class Conversion {
    /// epsilon = rdp - (log(delta) + log(alpha)) / (alpha - 1) + log((alpha - 1) / alpha): Balle et al. 2020,
    /// Theorem 21 (arXiv:1905.09982), the formula of Opacus' get_privacy_spent (opacus/accountants/analysis/rdp.py)
    /// and, written as rdp + log1p(-1/alpha) - log(delta * alpha) / (alpha - 1), of TF Privacy's _compute_eps since
    /// December 2020 and of dp_accounting. The default. Unlike TF Privacy / dp_accounting, no order is skipped
    /// (they give +inf for alpha <= 1.01, where the bound is loose anyway) and their extra KL-divergence shortcut
    /// (epsilon = 0 when delta^2 >= 1 - exp(-rdp)) is not applied; neither changes an epsilon of a realistic run.
    Improved,
    /// epsilon = rdp + log(1 / delta) / (alpha - 1): Mironov 2017, Prop. 3, as TF Privacy's _compute_eps before
    /// December 2020 (commit be8175b "Improved conversion from Renyi DP to approx DP").
    Classic,
};

/// RDP at order `order` of one step of the sampled Gaussian mechanism with sampling probability q and noise
/// multiplier sigma = noiseMultiplier (noise standard deviation / L2 sensitivity); in nats.
///   q = 0:  0 (nothing of the dataset is used), whatever sigma;
///   sigma = 0 (q > 0): +inf (no noise, no privacy); sigma = +inf: 0;
///   q = 1:  alpha / (2 sigma^2), the plain Gaussian mechanism (Mironov 2017, Table 2);
///   0 < q < 1: log(A_alpha) / (alpha - 1) (Mironov, Talwar & Zhang 2019, Sec. 3.3), +inf for alpha = +inf;
///              a result rounded below 0 (A_alpha >= 1 exactly; only ever a few ulps off) is returned as 0.
/// A_alpha is computed in log space (log-sum-exp, log binomial coefficients by lgamma or by a running product), so
/// large orders do not overflow: for integer alpha exactly, by the binomial expansion
///   A_alpha = sum_{i=0..alpha} C(alpha, i) q^i (1 - q)^(alpha - i) exp((i^2 - i) / (2 sigma^2)),
/// as Opacus' _compute_log_a_for_int_alpha / TF Privacy's _compute_log_a_int (O(alpha) terms); for fractional
/// alpha by the two-sided series of Sec. 3.3, summed until both new terms are below e^-30, as Opacus'
/// _compute_log_a_for_frac_alpha / TF Privacy's _compute_log_a_frac.
/// Throws std::invalid_argument if q is not in [0, 1] ("q"), noiseMultiplier is negative or NaN
/// ("noiseMultiplier") or order is not > 1 ("order"; +inf is allowed); std::runtime_error if the fractional series
/// fails to converge within a million terms (not seen for any finite sigma > 0).
double rdpSampledGaussian(double q, double noiseMultiplier, double order);

/// epsilon of (epsilon, delta)-DP implied by `rdp` (nats) at order `order` with the chosen conversion. +inf if rdp
/// is +inf. The raw formula (it can be negative when rdp is tiny and delta large; see privacySpent()).
/// Throws std::invalid_argument if delta is not in (0, 1) ("delta"), order is not > 1 ("order") or rdp is
/// negative or NaN ("rdp").
double epsilonFromRdp(double rdp, double order, double delta, Conversion conversion = Conversion::Improved);

/// An (epsilon, delta) guarantee's epsilon and the RDP order that gives it.
struct PrivacySpent {
    double epsilon = 0.0; ///< nats, >= 0; +inf if no order gives a finite bound
    double order = 0.0;   ///< the order alpha minimising epsilon; NaN if epsilon is +inf or nothing was composed
};

/// The best (smallest) epsilon over the orders, as Opacus' get_privacy_spent(orders, rdp, delta) (and TF Privacy's
/// get_privacy_spent(orders, rdp, target_delta=delta)): epsilonFromRdp() at every order, the minimum, its order
/// (the first one on ties, as numpy's argmin). A negative minimum is reported as 0, as TF Privacy's _compute_eps
/// and dp_accounting do (Opacus returns the negative number; it only happens for a nearly zero rdp and a large
/// delta, and (0, delta)-DP holds whenever a negative epsilon does).
/// orders and rdp have the same length (>= 1). Throws std::invalid_argument if the lengths differ or are 0
/// ("orders"), or as epsilonFromRdp().
PrivacySpent privacySpent(std::span<const double> orders, std::span<const double> rdp, double delta,
                          Conversion conversion = Conversion::Improved);

/// RDP accountant of DP-SGD: accumulates, order by order, the RDP of each step of the sampled Gaussian mechanism
/// (composition adds, Mironov 2017 Prop. 1) and converts the total to (epsilon, delta)-DP at the best order.
/// Mirrors Opacus' RDPAccountant (opacus/accountants/rdp.py) with the same default orders and conversion; the
/// orders can be replaced, e.g. by TF Privacy's list (tfPrivacyOrders()) to reproduce its numbers.
/// Not thread-safe for concurrent step() calls (plain value type; copies are independent).
class RdpAccountant {
public:
    /// Opacus' RDPAccountant.DEFAULT_ALPHAS: [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64)), i.e. 1.1,
    /// 1.2, ..., 10.9 and then 12, 13, ..., 63 (151 orders; 11 is not among them).
    static const std::vector<double>& defaultOrders();
    /// The orders of TF Privacy's compute_dp_sgd_privacy (compute_dp_sgd_privacy_lib.py):
    /// [1.25, 1.5, 1.75, 2., 2.25, 2.5, 3., 3.5, 4., 4.5] + list(range(5, 64)) + [128, 256, 512] (72 orders).
    static const std::vector<double>& tfPrivacyOrders();

    /// An accountant over defaultOrders().
    RdpAccountant();
    /// An accountant over `orders` (each > 1, +inf allowed, in any order; at least one). Throws
    /// std::invalid_argument ("orders") otherwise.
    explicit RdpAccountant(std::vector<double> orders);

    /// Composes `steps` steps of the sampled Gaussian mechanism with sampling probability q and noise multiplier
    /// noiseMultiplier: rdp[k] += steps * rdpSampledGaussian(q, noiseMultiplier, orders[k]). steps = 0 changes
    /// nothing. Consecutive calls with the same (q, noiseMultiplier) reuse the per-order values of the previous
    /// call. Throws std::invalid_argument as rdpSampledGaussian() ("q", "noiseMultiplier") or for steps < 0
    /// ("steps"); the accountant is unchanged then.
    void step(double q, double noiseMultiplier, long steps = 1);

    /// epsilon (nats) of the (epsilon, delta)-DP guarantee of everything composed so far: privacySpent(delta).epsilon.
    /// 0 before any step (as Opacus). Throws std::invalid_argument if delta is not in (0, 1) ("delta").
    double epsilon(double delta, Conversion conversion = Conversion::Improved) const;
    /// epsilon and the order that gives it (see the free privacySpent()); {0, NaN} before any step.
    PrivacySpent privacySpent(double delta, Conversion conversion = Conversion::Improved) const;

    /// The orders, as given, and the accumulated RDP at each (nats, same length).
    const std::vector<double>& orders() const { return m_orders; }
    const std::vector<double>& rdp() const { return m_rdp; }
    /// Steps composed so far (the sum of step()'s `steps`).
    long steps() const { return m_steps; }
    /// Forgets every step (the orders stay).
    void reset();

private:
    std::vector<double> m_orders;
    std::vector<double> m_rdp;
    long m_steps = 0;
    // The per-order RDP of one step at (m_lastQ, m_lastSigma), reused by step() while they do not change.
    std::vector<double> m_lastStep;
    double m_lastQ = -1.0;
    double m_lastSigma = -1.0;
};

} // namespace dml::privacy
