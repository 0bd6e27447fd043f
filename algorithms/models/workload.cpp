// SPDX-License-Identifier: GPL-3.0-or-later
#include "models/workload.h"

#include "privacy/dp.h"

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

float Workload::clippedGradientSum(const float* params, BatchSampler& sampler, double clip, float* grad) const
{
    if (!m_arch)
        throw std::logic_error("Workload::clippedGradientSum: a proxy workload has no model to differentiate");
    gatherBatch(*m_train, sampler.next(), sampler.batchSize(), m_batchX, m_batchY);
    Eigen::Map<Eigen::VectorXf> sum(grad, m_numParams);
    sum.setZero();
    m_exampleGrad.resize(m_numParams);
    double loss = 0;
    for (Eigen::Index i = 0; i < m_batchX.cols(); ++i) {
        m_example = m_batchX.col(i);
        loss += m_arch->lossAndGradient(params, m_example, &m_batchY[std::size_t(i)], m_exampleGrad.data());
        privacy::clipToNorm(m_exampleGrad, clip);
        sum += m_exampleGrad;
    }
    return float(loss / double(m_batchX.cols()));
}

} // namespace dml
