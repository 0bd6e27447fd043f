// SPDX-License-Identifier: GPL-3.0-or-later
#include "workload.h"

#include <stdexcept>

namespace dml {

Workload::Workload(const TrainingConfig& cfg, const Dataset& train) : m_train(&train)
{
    if (cfg.proxy.parameters > 0) {
        m_numParams = Eigen::Index(cfg.proxy.parameters);
        m_trainFlopsPerSample = cfg.proxy.trainFlopsPerSample;
        return;
    }
    m_arch.emplace(train.numFeatures(), cfg.hidden, train.classes);
    m_numParams = m_arch->numParams();
    m_trainFlopsPerSample = m_arch->trainFlopsPerSample();
}

Eigen::VectorXf Workload::initialParams(std::uint64_t seed) const
{
    if (!m_arch)
        throw std::logic_error("Workload::initialParams: a proxy workload has no parameter vector");
    Eigen::VectorXf p(m_numParams);
    m_arch->initParams(p.data(), seed);
    return p;
}

float Workload::gradient(const float* params, BatchSampler& sampler, float* grad) const
{
    if (!m_arch)
        throw std::logic_error("Workload::gradient: a proxy workload has no model to differentiate");
    gatherBatch(*m_train, sampler.next(), sampler.batchSize(), m_batchX, m_batchY);
    return m_arch->lossAndGradient(params, m_batchX, m_batchY.data(), grad);
}

} // namespace dml
