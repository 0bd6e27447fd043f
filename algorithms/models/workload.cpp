// SPDX-License-Identifier: GPL-3.0-or-later
#include "models/workload.h"

#include "error.h"
#include "models/cnn.h"
#include "privacy/dp.h"

#include <algorithm>
#include <stdexcept>

namespace dml {

Workload::Workload(const TrainingConfig& cfg, const Dataset& train) : m_train(&train)
{
    if (cfg.proxy.parameters > 0) {
        m_numParams = Eigen::Index(cfg.proxy.parameters);
        m_trainFlopsPerSample = cfg.proxy.trainFlopsPerSample;
        m_layers = cfg.proxy.layers;
        if (m_layers.empty()) // backward about twice the forward pass (Kaplan et al. 2020, Sec. 2.1)
            m_layers.push_back({"model", cfg.proxy.parameters, m_trainFlopsPerSample / 3,
                                m_trainFlopsPerSample * 2 / 3});
        if (totalParameters(m_layers) != cfg.proxy.parameters)
            throw ConfigError("workload.model.layers", "the layers' parameters add up to " +
                                                           std::to_string(totalParameters(m_layers)) + ", not the " +
                                                           std::to_string(cfg.proxy.parameters) + " of the model");
        return;
    }
    if (!cfg.cnn.layers.empty()) {
        const CnnSpec& c = cfg.cnn;
        if (double(c.channels) * c.height * c.width != double(train.numFeatures()))
            throw ConfigError("workload.model.input",
                              "the input image " + std::to_string(c.channels) + " x " + std::to_string(c.height) +
                                  " x " + std::to_string(c.width) + " (channels x height x width) must have the " +
                                  std::to_string(train.numFeatures()) + " features of a sample of the dataset");
        try {
            m_arch = std::make_shared<Cnn>(c, train.classes);
        } catch (const CnnShapeError& e) {
            throw ConfigError(e.layer < 0 ? "workload.model.input"
                                          : "workload.model.layers[" + std::to_string(e.layer) + "]",
                              e.what());
        }
    } else {
        m_arch = std::make_shared<Mlp>(train.numFeatures(), cfg.hidden, train.classes);
    }
    m_numParams = m_arch->numParams();
    m_trainFlopsPerSample = m_arch->trainFlopsPerSample();
    m_layers = m_arch->layerCosts();
}

Eigen::VectorXf Workload::initialParams(std::uint64_t seed) const
{
    if (!m_arch)
        throw std::logic_error("Workload::initialParams: a proxy workload has no parameter vector");
    Eigen::VectorXf p(m_numParams);
    m_arch->initParams(p.data(), seed);
    return p;
}

namespace {

/// The batches (and clippedGradientSum's one-example batch and gradient) of the calling thread.
struct BatchScratch {
    Eigen::MatrixXf x;
    std::vector<std::uint8_t> y;
    Eigen::MatrixXf example;
    Eigen::VectorXf exampleGrad;
};

BatchScratch& threadScratch()
{
    thread_local BatchScratch scratch;
    return scratch;
}

} // namespace

std::vector<int> drawBatches(BatchSampler& sampler, long steps)
{
    const std::size_t b = std::size_t(sampler.batchSize());
    std::vector<int> idx(std::size_t(steps) * b);
    for (long s = 0; s < steps; ++s) {
        const int* next = sampler.next();
        std::copy(next, next + b, idx.begin() + std::ptrdiff_t(std::size_t(s) * b));
    }
    return idx;
}

float Workload::gradient(const float* params, const int* batch, int n, float* grad) const
{
    if (!m_arch)
        throw std::logic_error("Workload::gradient: a proxy workload has no model to differentiate");
    BatchScratch& s = threadScratch();
    gatherBatch(*m_train, batch, n, s.x, s.y);
    return m_arch->lossAndGradient(params, s.x, s.y.data(), grad);
}

float Workload::clippedGradientSum(const float* params, const int* batch, int n, double clip, float* grad) const
{
    if (!m_arch)
        throw std::logic_error("Workload::clippedGradientSum: a proxy workload has no model to differentiate");
    BatchScratch& s = threadScratch();
    gatherBatch(*m_train, batch, n, s.x, s.y);
    Eigen::Map<Eigen::VectorXf> sum(grad, m_numParams);
    sum.setZero();
    s.exampleGrad.resize(m_numParams);
    double loss = 0;
    for (Eigen::Index i = 0; i < s.x.cols(); ++i) {
        s.example = s.x.col(i);
        loss += m_arch->lossAndGradient(params, s.example, &s.y[std::size_t(i)], s.exampleGrad.data());
        privacy::clipToNorm(s.exampleGrad, clip);
        sum += s.exampleGrad;
    }
    return float(loss / double(s.x.cols()));
}

} // namespace dml
