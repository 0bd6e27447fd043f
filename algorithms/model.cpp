// SPDX-License-Identifier: GPL-3.0-or-later
#include "model.h"

#include "rng.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace dml {

using MatMap = Eigen::Map<Eigen::MatrixXf>;
using ConstMatMap = Eigen::Map<const Eigen::MatrixXf>;
using ConstVecMap = Eigen::Map<const Eigen::VectorXf>;
using VecMap = Eigen::Map<Eigen::VectorXf>;

Mlp::Mlp(int inputs, std::vector<int> hidden, int classes)
{
    if (inputs < 1 || classes < 2)
        throw std::invalid_argument("Mlp: needs inputs >= 1 and classes >= 2");
    m_sizes.push_back(inputs);
    for (int h : hidden) {
        if (h < 1)
            throw std::invalid_argument("Mlp: hidden layer width must be >= 1, got " + std::to_string(h));
        m_sizes.push_back(h);
    }
    m_sizes.push_back(classes);
    const std::size_t layers = m_sizes.size() - 1;
    for (std::size_t l = 0; l < layers; ++l) {
        const double in = m_sizes[l], out = m_sizes[l + 1];
        m_offsets.push_back(m_numParams);
        m_numParams += Eigen::Index(in * out + out);
        const bool hiddenLayer = l + 1 < layers;
        // forward: W*a (2 in out), + b (out), ReLU (out) for hidden layers
        const double fwd = 2 * in * out + out + (hiddenLayer ? out : 0);
        m_forwardFlops += fwd;
        // backward: dW = d a^T (2 in out), db (out), d_prev = W^T d (2 in out) except for the first layer,
        // ReLU mask on d_prev (in) when the previous layer is hidden
        m_trainFlops += fwd + 2 * in * out + out + (l > 0 ? 2 * in * out + in : 0);
    }
    // softmax (max, subtract, exp, sum, divide ~ 5 per class) and log-loss; backward p - onehot (1 per class)
    m_forwardFlops += 5.0 * classes;
    m_trainFlops += 6.0 * classes;
    m_act.resize(layers);
}

void Mlp::initParams(float* params, std::uint64_t seed) const
{
    Rng rng(deriveSeed(seed, 0x1417));
    for (std::size_t l = 0; l + 1 < m_sizes.size(); ++l) {
        const int in = m_sizes[l], out = m_sizes[l + 1];
        const double sd = std::sqrt(2.0 / in);
        float* w = params + m_offsets[l];
        for (Eigen::Index i = 0; i < Eigen::Index(in) * out; ++i)
            w[i] = float(rng.normal() * sd);
        std::fill(w + Eigen::Index(in) * out, w + Eigen::Index(in) * out + out, 0.0f);
    }
}

void Mlp::forward(const float* params, const Eigen::Ref<const Eigen::MatrixXf>& x)
{
    const std::size_t layers = m_act.size();
    for (std::size_t l = 0; l < layers; ++l) {
        const int in = m_sizes[l], out = m_sizes[l + 1];
        ConstMatMap w(params + m_offsets[l], out, in);
        ConstVecMap b(params + m_offsets[l] + Eigen::Index(in) * out, out);
        Eigen::MatrixXf& a = m_act[l];
        a.resize(out, x.cols());
        if (l == 0)
            a.noalias() = w * x;
        else
            a.noalias() = w * m_act[l - 1];
        a.colwise() += b;
        if (l + 1 < layers)
            a = a.cwiseMax(0.0f);
    }
    // softmax per column, in place
    Eigen::MatrixXf& z = m_act.back();
    for (Eigen::Index j = 0; j < z.cols(); ++j) {
        auto c = z.col(j);
        c.array() = (c.array() - c.maxCoeff()).exp();
        c /= c.sum();
    }
}

float Mlp::lossAndGradient(const float* params, const Eigen::MatrixXf& x, const std::uint8_t* y, float* grad)
{
    forward(params, x);
    const Eigen::Index batch = x.cols();
    const std::size_t layers = m_act.size();
    // delta = (softmax - onehot) / B
    m_delta = m_act.back();
    double loss = 0.0;
    for (Eigen::Index j = 0; j < batch; ++j) {
        loss -= std::log(std::max(m_delta(y[j], j), 1e-30f));
        m_delta(y[j], j) -= 1.0f;
    }
    m_delta *= 1.0f / float(batch);
    for (std::size_t l = layers; l-- > 0;) {
        const int in = m_sizes[l], out = m_sizes[l + 1];
        MatMap gw(grad + m_offsets[l], out, in);
        VecMap gb(grad + m_offsets[l] + Eigen::Index(in) * out, out);
        if (l == 0)
            gw.noalias() = m_delta * x.transpose();
        else
            gw.noalias() = m_delta * m_act[l - 1].transpose();
        gb = m_delta.rowwise().sum();
        if (l > 0) {
            ConstMatMap w(params + m_offsets[l], out, in);
            m_deltaPrev.resize(in, batch);
            m_deltaPrev.noalias() = w.transpose() * m_delta;
            m_deltaPrev = (m_act[l - 1].array() > 0.0f).select(m_deltaPrev, 0.0f);
            m_delta.swap(m_deltaPrev);
        }
    }
    return float(loss / double(batch));
}

std::pair<double, int> Mlp::evaluate(const float* params, const Eigen::Ref<const Eigen::MatrixXf>& x,
                                     const std::uint8_t* y)
{
    double loss = 0.0;
    int correct = 0;
    constexpr Eigen::Index chunk = 2000; // bounds the activations' memory
    for (Eigen::Index s = 0; s < x.cols(); s += chunk) {
        const Eigen::Index n = std::min(chunk, x.cols() - s);
        forward(params, x.middleCols(s, n));
        const Eigen::MatrixXf& p = m_act.back();
        for (Eigen::Index j = 0; j < n; ++j) {
            Eigen::Index arg;
            p.col(j).maxCoeff(&arg);
            correct += int(arg == y[s + j]);
            loss -= std::log(std::max(p(y[s + j], j), 1e-30f));
        }
    }
    return {loss, correct};
}

} // namespace dml
