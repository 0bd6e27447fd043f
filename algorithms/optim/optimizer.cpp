// SPDX-License-Identifier: GPL-3.0-or-later
#include "optim/optimizer.h"

#include "parallel.h"

#include <algorithm>
#include <cmath>

namespace dml {

Optimizer::Optimizer(const OptimizerSpec& spec, Eigen::Index numParams) : m_spec(spec), m_n(numParams)
{
    if (spec.kind != OptimizerSpec::Kind::Sgd)
        m_m = Eigen::ArrayXf::Zero(numParams);
    if (spec.kind == OptimizerSpec::Kind::Adam)
        m_v = Eigen::ArrayXf::Zero(numParams);
}

Optimizer::Coefficients Optimizer::advance()
{
    if (m_spec.kind != OptimizerSpec::Kind::Adam)
        return {};
    ++m_t;
    return {1.0f - std::pow(m_spec.beta1, float(m_t)), std::sqrt(1.0f - std::pow(m_spec.beta2, float(m_t)))};
}

void Optimizer::update(float* params, const float* grad, Eigen::Index begin, Eigen::Index end,
                       const Coefficients& c, const float* from)
{
    const Eigen::Index len = end - begin;
    Eigen::Map<Eigen::ArrayXf> p(params + begin, len);
    Eigen::Map<const Eigen::ArrayXf> p0(from + begin, len); // p itself, or the parameters to update into p
    Eigen::Map<const Eigen::ArrayXf> g(grad + begin, len);
    const float lr = m_spec.learningRate;
    // p = p0 - x evaluates psub(p0, x) per packet, as p -= x does with p0 = p: the same bits either way.
    switch (m_spec.kind) {
    case OptimizerSpec::Kind::Sgd:
        p = p0 - lr * g;
        break;
    case OptimizerSpec::Kind::Momentum: {
        auto m = m_m.segment(begin, len);
        m = m_spec.momentum * m + g;
        p = p0 - lr * m;
        break;
    }
    case OptimizerSpec::Kind::Adam: {
        const float b1 = m_spec.beta1, b2 = m_spec.beta2;
        auto m = m_m.segment(begin, len);
        auto v = m_v.segment(begin, len);
        m = b1 * m + (1.0f - b1) * g;
        v = b2 * v + (1.0f - b2) * g.square();
        p = p0 - (lr / c.c1) * m / (v.sqrt() / c.c2 + m_spec.epsilon);
        break;
    }
    }
}

void Optimizer::step(float* params, const float* grad)
{
    update(params, grad, 0, m_n, advance());
}

void Optimizer::stepFrom(const float* from, float* params, const float* grad)
{
    update(params, grad, 0, m_n, advance(), from);
}

void Optimizer::stepParallel(float* params, const float* grad)
{
    const Coefficients c = advance();
    // Ranges of whole 4 KiB pages: every element goes through the same SIMD instructions as in step().
    parallel::forRanges(long(m_n), 1024, [&](long begin, long end) { update(params, grad, begin, end, c); });
}

void Optimizer::stepFused(float* params, float* grad, const std::function<void(long, long)>& fill)
{
    const Coefficients c = advance();
    constexpr long block = 4096; // 16 KiB per array: the gradients summed into a block and the state stay in cache
    parallel::forRanges(long(m_n), 1024, [&](long begin, long end) {
        for (long b = begin; b < end; b += block) {
            const long e = std::min(end, b + block);
            fill(b, e);
            update(params, grad, b, e, c);
        }
    });
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
