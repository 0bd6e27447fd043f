// SPDX-License-Identifier: GPL-3.0-or-later
#include "privacy/ledger.h"

#include "metrics.h"

#include <cstdio>

namespace dml::privacy {

bool PrivacyLedger::step(double q, double time, MetricsSink& sink)
{
    m_accountant.step(q, m_spec.noiseMultiplier);
    ++m_steps;
    sink.point("epsilon", time, epsilon());
    if (!(m_spec.targetEpsilon > 0))
        return false;
    RdpAccountant next = m_accountant;
    next.step(q, m_spec.noiseMultiplier);
    return next.epsilon(m_spec.delta) > m_spec.targetEpsilon;
}

double PrivacyLedger::epsilon() const
{
    return m_steps == 0 ? 0.0 : m_accountant.epsilon(m_spec.delta);
}

void PrivacyLedger::fill(Summary& s) const
{
    if (!m_spec.enabled())
        return;
    char label[96];
    std::snprintf(label, sizeof label, "%s z=%g C=%g",
                  m_spec.kind == PrivacySpec::Kind::DpFedAvg ? "dp-fedavg" : "dp-sgd", m_spec.noiseMultiplier,
                  m_spec.clip);
    s.privacy = label;
    s.epsilon = epsilon();
    s.delta = m_spec.delta;
}

} // namespace dml::privacy
