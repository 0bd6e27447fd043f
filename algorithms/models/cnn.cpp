// SPDX-License-Identifier: GPL-3.0-or-later
#include "models/cnn.h"

#include "parallel.h"
#include "rng.h"

#include <algorithm>
#include <cmath>

namespace dml {

CnnSpec CnnSpec::lenet5()
{
    using K = CnnLayerSpec::Kind;
    CnnSpec s;
    s.layers = {{K::Conv, 6, 5, 1, 2},  {K::Relu, 0, 0, 0, 0},  {K::MaxPool, 0, 2, 2, 0},
                {K::Conv, 16, 5, 1, 0}, {K::Relu, 0, 0, 0, 0},  {K::MaxPool, 0, 2, 2, 0},
                {K::Dense, 120, 0, 0, 0}, {K::Relu, 0, 0, 0, 0}, {K::Dense, 84, 0, 0, 0},
                {K::Relu, 0, 0, 0, 0}};
    return s;
}

namespace {

std::string pixels(int h, int w) { return std::to_string(h) + " x " + std::to_string(w); }

} // namespace

Cnn::Cnn(const CnnSpec& spec, int classes)
{
    using K = cnnkernel::Layer::Kind;
    if (classes < 2)
        throw std::invalid_argument("Cnn: needs classes >= 2");
    if (spec.channels < 1 || spec.height < 1 || spec.width < 1)
        throw CnnShapeError(-1, "the input must be at least 1 x 1 x 1 (channels x height x width)");
    if (spec.layers.empty())
        throw CnnShapeError(-1, "a CNN needs at least one hidden layer");
    int c = spec.channels, h = spec.height, w = spec.width;
    bool paramsBefore = false;
    auto add = [&](cnnkernel::Layer l) {
        l.inputGradient = paramsBefore;
        if (l.hasParams()) {
            l.offset = m_numParams;
            m_numParams += l.numParams();
            paramsBefore = true;
        }
        c = l.outC;
        h = l.outH;
        w = l.outW;
        m_layers.push_back(l);
    };
    for (std::size_t i = 0; i < spec.layers.size(); ++i) {
        const CnnLayerSpec& s = spec.layers[i];
        const int index = int(i);
        cnnkernel::Layer l;
        l.kind = s.kind;
        l.inC = c;
        l.inH = h;
        l.inW = w;
        l.outC = c;
        l.outH = h;
        l.outW = w;
        switch (s.kind) {
        case K::Conv:
        case K::MaxPool: {
            const bool conv = s.kind == K::Conv;
            if (conv && s.units < 1)
                throw CnnShapeError(index, "a conv layer needs filters >= 1");
            if (s.kernel < 1 || s.stride < 0 || s.padding < 0 || (!conv && s.padding != 0))
                throw CnnShapeError(index, "needs kernel >= 1, stride >= 0 (0: the default) and padding >= 0");
            if (s.padding >= s.kernel)
                throw CnnShapeError(index, "padding " + std::to_string(s.padding) + " must be less than the kernel " +
                                               std::to_string(s.kernel) + " (a window of zeros only)");
            l.kernel = s.kernel;
            l.stride = s.stride > 0 ? s.stride : (conv ? 1 : s.kernel);
            l.padding = s.padding;
            const int ph = h + 2 * s.padding, pw = w + 2 * s.padding;
            if (ph < s.kernel || pw < s.kernel)
                throw CnnShapeError(index, "the " + std::to_string(s.kernel) + " x " + std::to_string(s.kernel) +
                                               " window does not fit its " + pixels(h, w) + " input" +
                                               (s.padding ? " (with the padding)" : ""));
            l.outH = (ph - s.kernel) / l.stride + 1;
            l.outW = (pw - s.kernel) / l.stride + 1;
            if (conv)
                l.outC = s.units;
            break;
        }
        case K::Dense:
            if (s.units < 1)
                throw CnnShapeError(index, "a dense layer needs units >= 1");
            l.inC = c * h * w;
            l.inH = l.inW = 1;
            l.outC = s.units;
            l.outH = l.outW = 1;
            break;
        case K::Relu:
            break;
        }
        add(l);
    }
    cnnkernel::Layer out;
    out.kind = K::Dense;
    out.inC = c * h * w;
    out.outC = classes;
    add(out);

    for (const cnnkernel::Layer& l : m_layers) {
        LayerFlops f;
        const double P = double(l.outPixels()), Co = l.outC, n = double(l.outSize());
        const double back = l.inputGradient;
        switch (l.kind) {
        case K::Conv: {
            const double Kr = double(l.unrolled());
            f.forward = 2 * Kr * Co * P + Co * P;
            f.train = f.forward + 2 * Kr * Co * P + Co * P + back * (2 * Kr * Co * P + Kr * P);
            break;
        }
        case K::Dense: {
            const double in = l.inC;
            f.forward = 2 * in * Co + Co;
            f.train = f.forward + 2 * in * Co + Co + back * 2 * in * Co;
            break;
        }
        case K::Relu:
            f.forward = n;
            f.train = n + back * n;
            break;
        case K::MaxPool:
            f.forward = double(l.kernel) * l.kernel * n;
            f.train = f.forward + back * n;
            break;
        }
        m_layerFlops.push_back(f);
        m_forwardFlops += f.forward;
        m_trainFlops += f.train;
    }
    m_forwardFlops += 5.0 * classes;
    m_trainFlops += 6.0 * classes;
}

std::vector<LayerCost> Cnn::layerCosts() const
{
    std::vector<LayerCost> out;
    for (std::size_t i = 0; i < m_layers.size(); ++i) {
        const cnnkernel::Layer& l = m_layers[i];
        using K = cnnkernel::Layer::Kind;
        const char* kind = l.kind == K::Conv ? "conv" : l.kind == K::Dense ? "dense" : l.kind == K::Relu ? "relu"
                                                                                                       : "pool";
        const auto params = (long long)l.numParams();
        out.push_back({kind + std::to_string(i + 1), params, m_layerFlops[i].forward,
                       m_layerFlops[i].train - m_layerFlops[i].forward});
    }
    out.back().forward += 5.0 * classes();
    out.back().backward += 1.0 * classes();
    return out;
}

std::vector<std::pair<Eigen::Index, Eigen::Index>> Cnn::parameterBlocks() const
{
    std::vector<std::pair<Eigen::Index, Eigen::Index>> blocks;
    for (const cnnkernel::Layer& l : m_layers)
        if (l.hasParams()) {
            blocks.emplace_back(l.weightRows(), l.weightCols());
            blocks.emplace_back(l.outC, 1);
        }
    return blocks;
}

void Cnn::initParams(float* params, std::uint64_t seed) const
{
    Rng rng(deriveSeed(seed, 0xc22));
    for (const cnnkernel::Layer& l : m_layers) {
        if (!l.hasParams())
            continue;
        const Eigen::Index weights = l.weightRows() * l.weightCols();
        const double sd = std::sqrt(2.0 / double(l.weightCols()));
        float* w = params + l.offset;
        for (Eigen::Index i = 0; i < weights; ++i)
            w[i] = float(rng.normal() * sd);
        std::fill(w + weights, w + weights + l.outC, 0.0f);
    }
}

double Cnn::trainingBytes(Eigen::Index batch) const
{
    double floats = 0, indices = 0, largest = 0, dcol = 0;
    for (const cnnkernel::Layer& l : m_layers) {
        floats += double(l.outSize());
        largest = std::max({largest, double(l.outSize()), double(l.inSize())});
        if (l.kind == cnnkernel::Layer::Kind::Conv) {
            floats += double(l.unrolled()) * double(l.outPixels());
            dcol = std::max(dcol, double(l.unrolled()) * double(l.outPixels()));
        }
        if (l.kind == cnnkernel::Layer::Kind::MaxPool)
            indices += double(l.outSize());
    }
    floats += 2 * largest + dcol + double(m_layers.front().inSize()) + classes();
    return double(batch) * (4 * floats + double(sizeof(Eigen::Index)) * indices);
}

namespace {

cnnkernel::Scratch<float>& threadScratch()
{
    thread_local cnnkernel::Scratch<float> scratch;
    return scratch;
}

/// Kept apart from the training scratch, as Mlp's, so that neither reallocates the other's buffers.
cnnkernel::Scratch<float>& evaluationScratch()
{
    thread_local cnnkernel::Scratch<float> scratch;
    return scratch;
}

} // namespace

float Cnn::lossAndGradient(const float* params, const Eigen::MatrixXf& x, const std::uint8_t* y, float* grad) const
{
    if (x.rows() != inputs())
        throw std::invalid_argument("Cnn::lossAndGradient: the batch has " + std::to_string(x.rows()) +
                                    " features per sample, the model " + std::to_string(inputs()));
    const double loss = cnnkernel::lossAndGradient(m_layers, params, x, y, grad, threadScratch());
    return float(loss / double(x.cols()));
}

std::pair<double, int> Cnn::evaluate(const float* params, const Eigen::Ref<const Eigen::MatrixXf>& x,
                                     const std::uint8_t* y) const
{
    if (x.rows() != inputs())
        throw std::invalid_argument("Cnn::evaluate: the data has " + std::to_string(x.rows()) +
                                    " features per sample, the model " + std::to_string(inputs()));
    constexpr Eigen::Index chunk = cnnkernel::kEvaluationChunk;
    const long chunks = long((x.cols() + chunk - 1) / chunk);
    // As Mlp::evaluate: each chunk a job, the sums added in chunk order (0.0 + first chunk's + ...), which is the
    // kernel's own order, so the result does not depend on the thread count.
    std::vector<std::pair<double, int>> parts(static_cast<std::size_t>(chunks));
    parallel::forEach(chunks, [&](long c) {
        const Eigen::Index first = Eigen::Index(c) * chunk;
        const Eigen::Index n = std::min(chunk, x.cols() - first);
        parts[std::size_t(c)] =
            cnnkernel::evaluate<float>(m_layers, params, x.middleCols(first, n), y + first, evaluationScratch());
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
