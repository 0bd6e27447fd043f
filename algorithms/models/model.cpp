// SPDX-License-Identifier: GPL-3.0-or-later
#include "models/model.h"

#include "parallel.h"
#include "rng.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace dml {

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
    m_offsets = mlpkernel::offsets(m_sizes);
    m_numParams = m_offsets.back();
    const std::size_t layers = m_sizes.size() - 1;
    for (std::size_t l = 0; l < layers; ++l) {
        const double in = m_sizes[l], out = m_sizes[l + 1];
        const bool hiddenLayer = l + 1 < layers;
        // forward: W*a (2 in out), + b (out), ReLU (out) for hidden layers
        const double fwd = 2 * in * out + out + (hiddenLayer ? out : 0);
        m_forwardFlops += fwd;
        // backward: dW = d a^T (2 in out), db (out), d_prev = W^T d (2 in out) except for the first layer,
        // ReLU mask on d_prev (in) when the previous layer is hidden
        m_trainFlops += fwd + 2 * in * out + out + (l > 0 ? 2 * in * out + in : 0);
    }
    // softmax (max, subtract, exp, sum, divide: 5 per class); backward: (p - onehot) / B (1 per class)
    m_forwardFlops += 5.0 * classes;
    m_trainFlops += 6.0 * classes;
}

std::vector<LayerCost> Mlp::layerCosts() const
{
    std::vector<LayerCost> out;
    const std::size_t layers = m_sizes.size() - 1;
    for (std::size_t l = 0; l < layers; ++l) { // the terms of the constructor's sums, layer by layer
        const double in = m_sizes[l], out_ = m_sizes[l + 1];
        const double fwd = 2 * in * out_ + out_ + (l + 1 < layers ? out_ : 0);
        out.push_back({"dense" + std::to_string(l + 1), (long long)(m_offsets[l + 1] - m_offsets[l]), fwd,
                       2 * in * out_ + out_ + (l > 0 ? 2 * in * out_ + in : 0)});
    }
    out.back().forward += 5.0 * classes();
    out.back().backward += 1.0 * classes();
    return out;
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

std::vector<std::pair<Eigen::Index, Eigen::Index>> Mlp::parameterBlocks() const
{
    std::vector<std::pair<Eigen::Index, Eigen::Index>> blocks;
    for (std::size_t l = 0; l + 1 < m_sizes.size(); ++l) {
        blocks.emplace_back(m_sizes[l + 1], m_sizes[l]);
        blocks.emplace_back(m_sizes[l + 1], 1);
    }
    return blocks;
}

namespace {

/// The activations of the training passes this thread runs, whatever Mlp they are for (resized as needed).
mlpkernel::Scratch<float>& threadScratch()
{
    thread_local mlpkernel::Scratch<float> scratch;
    return scratch;
}

/// The same for evaluations: kept apart, so that neither a mini-batch nor a 2,000-sample chunk reallocates the
/// other's buffers (fresh memory faults its pages in again).
mlpkernel::Scratch<float>& evaluationScratch()
{
    thread_local mlpkernel::Scratch<float> scratch;
    return scratch;
}

} // namespace

float Mlp::lossAndGradient(const float* params, const Eigen::MatrixXf& x, const std::uint8_t* y, float* grad) const
{
    const double loss = mlpkernel::lossAndGradient(m_sizes, m_offsets, params, x, y, grad, threadScratch());
    return float(loss / double(x.cols()));
}

std::pair<double, int> Mlp::evaluate(const float* params, const Eigen::Ref<const Eigen::MatrixXf>& x,
                                     const std::uint8_t* y) const
{
    constexpr Eigen::Index chunk = mlpkernel::kEvaluationChunk;
    const long chunks = long((x.cols() + chunk - 1) / chunk);
    if (parallel::threads() == 1 || chunks <= 1) { // one pass, on the job stack (parallel.h) like every job
        std::pair<double, int> result;
        parallel::forEach(1, [&](long) {
            result = mlpkernel::evaluate(m_sizes, m_offsets, params, x, y, evaluationScratch());
        });
        return result;
    }
    // The kernel's own chunks, each a job; their sums are added in chunk order, as the kernel adds them
    // (0.0 + first chunk's sum + ...), so the result does not depend on which thread ran which chunk.
    std::vector<std::pair<double, int>> parts(static_cast<std::size_t>(chunks));
    parallel::forEach(chunks, [&](long c) {
        const Eigen::Index first = Eigen::Index(c) * chunk;
        const Eigen::Index n = std::min(chunk, x.cols() - first);
        parts[std::size_t(c)] =
            mlpkernel::evaluate(m_sizes, m_offsets, params, x.middleCols(first, n), y + first, evaluationScratch());
    });
    double loss = 0.0;
    int correct = 0;
    for (const auto& [l, c] : parts) {
        loss += l;
        correct += c;
    }
    return {loss, correct};
}

} // namespace dml
