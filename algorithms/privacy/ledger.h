// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// What every private strategy does after each noisy step: account it, report epsilon, and say whether the
// budget allows another step. One per run, kept by the strategy.
#include "privacy/rdp.h"
#include "privacy/spec.h"

#include <string>

namespace dml {
struct Summary;
class MetricsSink;
}

namespace dml::privacy {

class PrivacyLedger {
public:
    void setSpec(const PrivacySpec& spec) { m_spec = spec; }
    const PrivacySpec& spec() const { return m_spec; }
    /// Accounts one sampled Gaussian mechanism with sampling rate q (in [0, 1]) and the spec's noise multiplier,
    /// and reports epsilon at the spec's delta as the point ("epsilon", time, epsilon). Returns true if the next
    /// step at the same q would take epsilon over spec().targetEpsilon (never without a target).
    bool step(double q, double time, MetricsSink& sink);
    /// epsilon after the steps so far (0 before any).
    double epsilon() const;
    /// Fills Summary::privacy ("dp-sgd z=1.1 C=1"), epsilon and delta; nothing when the spec is none.
    void fill(Summary& s) const;

private:
    PrivacySpec m_spec;
    RdpAccountant m_accountant;
    long m_steps = 0;
};

} // namespace dml::privacy
