// SPDX-License-Identifier: GPL-3.0-or-later
#include "privacy/rdp.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <stdexcept>
#include <string>

namespace dml::privacy {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// log(exp(x) + exp(y)); -inf stands for 0 (Opacus' _log_add).
double logAdd(double x, double y)
{
    const double a = std::min(x, y), b = std::max(x, y);
    if (a == -kInf)
        return b;
    return std::log1p(std::exp(a - b)) + b;
}

/// log(exp(x) - exp(y)) for x >= y (Opacus' _log_sub, which raises ValueError for x < y).
double logSub(double x, double y)
{
    if (x < y)
        throw std::runtime_error("rdpSampledGaussian: the fractional-order series went negative (log-space "
                                 "subtraction of a larger term)");
    if (y == -kInf)
        return x;
    if (x == y)
        return -kInf;
    const double d = std::expm1(x - y);
    if (std::isinf(d)) // Python's math.expm1 raises OverflowError there; Opacus then returns x
        return x;
    return std::log(d) + y;
}

/// log(erfc(x)), accurate where erfc(x) underflows (Opacus' _log_erfc, log 2 + scipy's log_ndtr(-x sqrt 2)).
double logErfc(double x)
{
    if (x < 25.0)
        return std::log(std::erfc(x)); // erfc(25) ~ 1e-274: still a normal double, with full relative precision
    // Asymptotic expansion: erfc(x) = exp(-x^2) / (x sqrt(pi)) * sum_n (-1)^n (2n - 1)!! / (2 x^2)^n.
    // For x >= 25 the ratio of consecutive terms is below (2n - 1) / 1250; eight terms are far past double
    // precision.
    const double u = 1.0 / (2.0 * x * x);
    double term = 1.0, sum = 1.0;
    for (int n = 1; n <= 8; ++n) {
        term *= -(2.0 * n - 1.0) * u;
        sum += term;
    }
    return -x * x - std::log(x) - 0.5 * std::log(std::numbers::pi) + std::log(sum);
}

/// log(A_alpha) for integer alpha >= 2 and 0 < q < 1 (Opacus' _compute_log_a_for_int_alpha, TF Privacy's
/// _compute_log_a_int; Mironov, Talwar & Zhang 2019 Sec. 3.3).
double logAInt(double q, double sigma, double alpha)
{
    const double logQ = std::log(q), log1mQ = std::log1p(-q);
    const double lgAlpha1 = std::lgamma(alpha + 1.0);
    const double twoSigma2 = 2.0 * sigma * sigma;
    double logA = -kInf;
    const long n = static_cast<long>(alpha);
    for (long k = 0; k <= n; ++k) {
        const double i = double(k);
        const double logCoef = lgAlpha1 - std::lgamma(i + 1.0) - std::lgamma(alpha - i + 1.0) + i * logQ
                               + (alpha - i) * log1mQ;
        logA = logAdd(logA, logCoef + (i * i - i) / twoSigma2);
    }
    return logA;
}

/// log(A_alpha) for fractional alpha > 1 and 0 < q < 1 (Opacus' _compute_log_a_for_frac_alpha, TF Privacy's
/// _compute_log_a_frac; Mironov, Talwar & Zhang 2019 Sec. 3.3): the integrals over (-inf, z0] and [z0, +inf) as
/// two series in i = 0, 1, ..., stopped when both new terms are below e^-30.
double logAFrac(double q, double sigma, double alpha)
{
    double logA0 = -kInf, logA1 = -kInf;
    const double sigma2 = sigma * sigma;
    const double z0 = sigma2 * std::log(1.0 / q - 1.0) + 0.5;
    const double logQ = std::log(q), log1mQ = std::log1p(-q);
    const double logHalf = std::log(0.5);
    const double sqrt2Sigma = std::sqrt(2.0) * sigma;
    // log |C(alpha, i)| and its sign by the running product C(alpha, i + 1) = C(alpha, i) (alpha - i) / (i + 1)
    // (alpha is not an integer, so no factor is 0).
    double logCoef = 0.0;
    bool positive = true;
    for (long k = 0; k < 1000000; ++k) {
        const double i = double(k);
        const double j = alpha - i;

        const double logT0 = logCoef + i * logQ + j * log1mQ;
        const double logT1 = logCoef + j * logQ + i * log1mQ;
        const double logE0 = logHalf + logErfc((i - z0) / sqrt2Sigma);
        const double logE1 = logHalf + logErfc((z0 - j) / sqrt2Sigma);
        const double logS0 = logT0 + (i * i - i) / (2.0 * sigma2) + logE0;
        const double logS1 = logT1 + (j * j - j) / (2.0 * sigma2) + logE1;

        if (positive) {
            logA0 = logAdd(logA0, logS0);
            logA1 = logAdd(logA1, logS1);
        } else {
            logA0 = logSub(logA0, logS0);
            logA1 = logSub(logA1, logS1);
        }
        if (std::max(logS0, logS1) < -30.0)
            return logAdd(logA0, logA1);

        logCoef += std::log(std::fabs(alpha - i)) - std::log(i + 1.0);
        if (alpha - i < 0.0)
            positive = !positive;
    }
    throw std::runtime_error("rdpSampledGaussian: the fractional-order series did not converge (q = "
                             + std::to_string(q) + ", noiseMultiplier = " + std::to_string(sigma)
                             + ", order = " + std::to_string(alpha) + ")");
}

void checkQ(double q)
{
    if (!(q >= 0.0 && q <= 1.0))
        throw std::invalid_argument("q (sampling probability) must be in [0, 1], got " + std::to_string(q));
}

void checkNoise(double noiseMultiplier)
{
    if (!(noiseMultiplier >= 0.0))
        throw std::invalid_argument("noiseMultiplier must be >= 0, got " + std::to_string(noiseMultiplier));
}

void checkOrder(double order)
{
    if (!(order > 1.0))
        throw std::invalid_argument("order (RDP order alpha) must be > 1, got " + std::to_string(order));
}

void checkDelta(double delta)
{
    if (!(delta > 0.0 && delta < 1.0))
        throw std::invalid_argument("delta must be in (0, 1), got " + std::to_string(delta));
}

} // namespace

double rdpSampledGaussian(double q, double noiseMultiplier, double order)
{
    checkQ(q);
    checkNoise(noiseMultiplier);
    checkOrder(order);
    // The special cases in Opacus' _compute_rdp order.
    if (q == 0.0)
        return 0.0;
    if (noiseMultiplier == 0.0)
        return kInf;
    if (std::isinf(noiseMultiplier))
        return 0.0;
    if (q == 1.0)
        return order / (2.0 * noiseMultiplier * noiseMultiplier);
    if (std::isinf(order))
        return kInf;
    // Integer orders below 2^53 are exactly representable; the binomial expansion has order + 1 terms.
    const bool integer = std::floor(order) == order && order < 9007199254740992.0;
    const double logA = integer ? logAInt(q, noiseMultiplier, order) : logAFrac(q, noiseMultiplier, order);
    // A_alpha >= 1 in exact arithmetic; rounding can leave log(A_alpha) a few ulps below 0 for tiny q.
    return std::max(0.0, logA / (order - 1.0));
}

double epsilonFromRdp(double rdp, double order, double delta, Conversion conversion)
{
    checkDelta(delta);
    checkOrder(order);
    if (!(rdp >= 0.0))
        throw std::invalid_argument("rdp must be >= 0, got " + std::to_string(rdp));
    if (std::isinf(rdp))
        return kInf;
    if (std::isinf(order)) // both formulas tend to rdp as alpha -> inf
        return rdp;
    if (conversion == Conversion::Classic)
        return rdp - std::log(delta) / (order - 1.0);
    // Opacus: rdp - (log(delta) + log(orders)) / (orders - 1) + log((orders - 1) / orders)
    return rdp - (std::log(delta) + std::log(order)) / (order - 1.0) + std::log((order - 1.0) / order);
}

PrivacySpent privacySpent(std::span<const double> orders, std::span<const double> rdp, double delta,
                          Conversion conversion)
{
    if (orders.empty() || orders.size() != rdp.size())
        throw std::invalid_argument("orders and rdp must have the same, non-zero length (got "
                                    + std::to_string(orders.size()) + " orders and " + std::to_string(rdp.size())
                                    + " rdp values)");
    checkDelta(delta);
    PrivacySpent best{kInf, kNaN};
    for (std::size_t k = 0; k < orders.size(); ++k) {
        const double eps = epsilonFromRdp(rdp[k], orders[k], delta, conversion);
        if (eps < best.epsilon) { // strict: the first order wins a tie, as numpy's argmin
            best.epsilon = eps;
            best.order = orders[k];
        }
    }
    if (best.epsilon < 0.0)
        best.epsilon = 0.0;
    return best;
}

const std::vector<double>& RdpAccountant::defaultOrders()
{
    static const std::vector<double> orders = [] {
        std::vector<double> v;
        for (int x = 1; x < 100; ++x)
            v.push_back(1.0 + double(x) / 10.0); // Python's 1 + x / 10.0, bit for bit
        for (int a = 12; a < 64; ++a)
            v.push_back(double(a));
        return v;
    }();
    return orders;
}

const std::vector<double>& RdpAccountant::tfPrivacyOrders()
{
    static const std::vector<double> orders = [] {
        std::vector<double> v{1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 3.0, 3.5, 4.0, 4.5};
        for (int a = 5; a < 64; ++a)
            v.push_back(double(a));
        v.insert(v.end(), {128.0, 256.0, 512.0});
        return v;
    }();
    return orders;
}

RdpAccountant::RdpAccountant() : RdpAccountant(defaultOrders()) {}

RdpAccountant::RdpAccountant(std::vector<double> orders) : m_orders(std::move(orders))
{
    if (m_orders.empty())
        throw std::invalid_argument("orders must not be empty");
    for (double a : m_orders)
        if (!(a > 1.0))
            throw std::invalid_argument("orders: every RDP order must be > 1, got " + std::to_string(a));
    m_rdp.assign(m_orders.size(), 0.0);
}

void RdpAccountant::step(double q, double noiseMultiplier, long steps)
{
    checkQ(q);
    checkNoise(noiseMultiplier);
    if (steps < 0)
        throw std::invalid_argument("steps must be >= 0, got " + std::to_string(steps));
    if (steps == 0)
        return;
    if (m_lastStep.empty() || q != m_lastQ || noiseMultiplier != m_lastSigma) {
        std::vector<double> one(m_orders.size());
        for (std::size_t k = 0; k < m_orders.size(); ++k)
            one[k] = rdpSampledGaussian(q, noiseMultiplier, m_orders[k]);
        m_lastStep = std::move(one);
        m_lastQ = q;
        m_lastSigma = noiseMultiplier;
    }
    for (std::size_t k = 0; k < m_orders.size(); ++k)
        m_rdp[k] += m_lastStep[k] * double(steps); // Opacus: compute_rdp(...) = rdp * steps
    m_steps += steps;
}

PrivacySpent RdpAccountant::privacySpent(double delta, Conversion conversion) const
{
    checkDelta(delta);
    if (m_steps == 0)
        return {0.0, kNaN};
    return dml::privacy::privacySpent(m_orders, m_rdp, delta, conversion);
}

double RdpAccountant::epsilon(double delta, Conversion conversion) const
{
    return privacySpent(delta, conversion).epsilon;
}

void RdpAccountant::reset()
{
    std::fill(m_rdp.begin(), m_rdp.end(), 0.0);
    m_steps = 0;
}

} // namespace dml::privacy
