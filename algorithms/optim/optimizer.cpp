// SPDX-License-Identifier: GPL-3.0-or-later
#include "optim/optimizer.h"

#include <cmath>

namespace dml {

Optimizer::Optimizer(const OptimizerSpec& spec, Eigen::Index numParams) : m_spec(spec), m_n(numParams)
{
    if (spec.kind != OptimizerSpec::Kind::Sgd)
        m_m = Eigen::ArrayXf::Zero(numParams);
    if (spec.kind == OptimizerSpec::Kind::Adam)
        m_v = Eigen::ArrayXf::Zero(numParams);
}

void Optimizer::step(float* params, const float* grad)
{
    Eigen::Map<Eigen::ArrayXf> p(params, m_n);
    Eigen::Map<const Eigen::ArrayXf> g(grad, m_n);
    const float lr = m_spec.learningRate;
    switch (m_spec.kind) {
    case OptimizerSpec::Kind::Sgd:
        p -= lr * g;
        break;
    case OptimizerSpec::Kind::Momentum:
        m_m = m_spec.momentum * m_m + g;
        p -= lr * m_m;
        break;
    case OptimizerSpec::Kind::Adam: {
        ++m_t;
        const float b1 = m_spec.beta1, b2 = m_spec.beta2;
        m_m = b1 * m_m + (1.0f - b1) * g;
        m_v = b2 * m_v + (1.0f - b2) * g.square();
        const float c1 = 1.0f - std::pow(b1, float(m_t));
        const float c2 = std::sqrt(1.0f - std::pow(b2, float(m_t)));
        p -= (lr / c1) * m_m / (m_v.sqrt() / c2 + m_spec.epsilon);
        break;
    }
    }
}

long Optimizer::saveState(float* out) const
{
    Eigen::Map<Eigen::ArrayXf>(out, m_m.size()) = m_m;
    Eigen::Map<Eigen::ArrayXf>(out + m_m.size(), m_v.size()) = m_v;
    return m_t;
}

void Optimizer::loadState(const float* in, long stepCount)
{
    m_m = Eigen::Map<const Eigen::ArrayXf>(in, m_m.size());
    m_v = Eigen::Map<const Eigen::ArrayXf>(in + m_m.size(), m_v.size());
    m_t = stepCount;
}

double Optimizer::flopsPerStep() const
{
    return stepFlops(m_spec, double(m_n));
}

double Optimizer::stepFlops(const OptimizerSpec& spec, double numParams)
{
    switch (spec.kind) {
    case OptimizerSpec::Kind::Sgd: return 2.0 * numParams;
    case OptimizerSpec::Kind::Momentum: return 4.0 * numParams;
    case OptimizerSpec::Kind::Adam: return 12.0 * numParams;
    }
    return 0.0;
}

} // namespace dml
