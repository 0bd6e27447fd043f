// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The convolutional network's arithmetic (cnn.h), written once as templates over the scalar type: Cnn runs it on
// float, tst_algorithms runs it on double for the gradient check.
//
// Layout: a spatial activation of C channels, H x W pixels, for a batch of B samples is a C x (B H W) matrix,
// column-major, one column per pixel, column (b H + y) W + x (channels fastest, then x, then y, then the sample:
// "NHWC"). Each sample's C H W values are therefore contiguous, so a dense layer reads the activation as a
// (C H W) x B matrix without copying. A convolution is one GEMM over the whole batch on the unrolled input
// (Chellapilla, Puri & Simard 2006, "High performance convolutional neural networks for document processing",
// Sec. 3: "unrolling" the input windows into the columns of a matrix, im2col).
#include "models/cnnspec.h"
#include "models/mlpkernel.h"

#include <Eigen/Core>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

namespace dml::cnnkernel {

using mlpkernel::Mat;
template <class S>
using Vec = Eigen::Matrix<S, Eigen::Dynamic, 1>;

/// One layer of the network with its shapes resolved (Cnn builds them from a CnnSpec).
struct Layer {
    using Kind = CnnLayerKind;
    Kind kind = Kind::Relu;
    int inC = 0, inH = 1, inW = 1;    ///< input: channels, height, width (dense: inC features, 1 x 1)
    int outC = 0, outH = 1, outW = 1; ///< output
    int kernel = 1, stride = 1, padding = 0; ///< conv, max-pool: window side, step, zero padding (pixels)
    Eigen::Index offset = 0; ///< conv, dense: start of W in the flat parameter vector; b follows W
    bool inputGradient = false; ///< backward computes the gradient of the input (some earlier layer has parameters)

    Eigen::Index inSize() const { return Eigen::Index(inC) * inH * inW; }   ///< values per sample
    Eigen::Index outSize() const { return Eigen::Index(outC) * outH * outW; }
    Eigen::Index outPixels() const { return Eigen::Index(outH) * outW; }
    /// Rows of the unrolled input (conv): kernel^2 inC; the columns of W.
    Eigen::Index unrolled() const { return Eigen::Index(kernel) * kernel * inC; }
    /// W's rows x cols (conv: outC x kernel^2 inC; dense: outC x inC) and b's length (outC); 0 without parameters.
    Eigen::Index weightRows() const { return hasParams() ? outC : 0; }
    Eigen::Index weightCols() const { return kind == Kind::Conv ? unrolled() : kind == Kind::Dense ? inC : 0; }
    Eigen::Index numParams() const { return hasParams() ? weightRows() * weightCols() + outC : 0; }
    bool hasParams() const { return kind == Kind::Conv || kind == Kind::Dense; }
};

/// Scratch of the passes (one per thread; Cnn keeps one per thread).
template <class S>
struct Scratch {
    Mat<S> input;              ///< the batch in NHWC layout when the input has more than one channel
    std::vector<Mat<S>> act;   ///< act[l]: output of layer l (outC x B outH outW; the logits last, classes x B)
    std::vector<Mat<S>> col;   ///< col[l]: conv layer l's unrolled input (unrolled() x B outH outW)
    std::vector<std::vector<Eigen::Index>> argmax; ///< max-pool layer l: index in its input of each output's max
    Mat<S> probs;              ///< backward: softmax of the logits, then the output error
    Vec<S> delta, deltaPrev;   ///< backward: gradient of the current layer's output, and of its input
    Mat<S> dcol;               ///< backward of a conv layer: gradient of its unrolled input
};

/// The in-bounds taps of a window row: for the window starting at input column x0 (may be negative), taps kx in
/// [lo, hi) read input columns x0 + kx inside [0, width); the others read the zero padding.
inline void windowRow(int x0, int kernel, int width, int& lo, int& hi)
{
    lo = std::clamp(-x0, 0, kernel);
    hi = std::clamp(width - x0, lo, kernel);
}

/// im2col (Chellapilla et al. 2006, Sec. 3.1): writes to `col` (l.unrolled() x B P, P = outH outW) the input
/// window of each output pixel, one column per pixel (same order as the output), rows (ky kernel + kx) inC + c;
/// pixels of the zero padding read 0. `in`: l.inC x B inH inW (NHWC), so each window row is one contiguous run of
/// kernel inC values (copied as one run; the padding's part filled with zeros).
// The runs im2col copies are a few values long (kernel x in-channels: 5 for a first layer): GCC would turn its loops
// into calls of memmove and memset, which cost more than the copies.
#if defined(__GNUC__) && !defined(__clang__)
#define DML_NO_LIBC_LOOPS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define DML_NO_LIBC_LOOPS
#endif

template <class S>
DML_NO_LIBC_LOOPS void im2col(const Layer& l, const S* in, Eigen::Index batch, Mat<S>& col)
{
    const int k = l.kernel, C = l.inC;
    const Eigen::Index run = Eigen::Index(k) * C;
    col.resize(l.unrolled(), batch * l.outPixels());
    S* dst = col.data();
    for (Eigen::Index b = 0; b < batch; ++b)
        for (int oy = 0; oy < l.outH; ++oy)
            for (int ox = 0; ox < l.outW; ++ox) {
                const int x0 = ox * l.stride - l.padding;
                int lo, hi;
                windowRow(x0, k, l.inW, lo, hi);
                for (int ky = 0; ky < k; ++ky, dst += run) {
                    const int iy = oy * l.stride - l.padding + ky;
                    if (iy < 0 || iy >= l.inH) {
                        for (Eigen::Index t = 0; t < run; ++t)
                            dst[t] = S(0);
                        continue;
                    }
                    const S* src = in + C * ((b * l.inH + iy) * l.inW + x0);
                    Eigen::Index t = 0;
                    for (; t < Eigen::Index(lo) * C; ++t)
                        dst[t] = S(0);
                    for (; t < Eigen::Index(hi) * C; ++t)
                        dst[t] = src[t];
                    for (; t < run; ++t)
                        dst[t] = S(0);
                }
            }
}

/// col2im, im2col's adjoint: dx (l.inC x B inH inW, NHWC; overwritten) = the sum, over the windows that read each
/// input pixel, of that window's column of `dcol` (l.unrolled() x B P), window by window in column order. Padding
/// receives nothing.
template <class S>
void col2im(const Layer& l, const Mat<S>& dcol, Eigen::Index batch, S* dx)
{
    const int k = l.kernel, C = l.inC;
    const Eigen::Index run = Eigen::Index(k) * C;
    std::fill(dx, dx + batch * l.inSize(), S(0));
    const S* src = dcol.data();
    for (Eigen::Index b = 0; b < batch; ++b)
        for (int oy = 0; oy < l.outH; ++oy)
            for (int ox = 0; ox < l.outW; ++ox) {
                const int x0 = ox * l.stride - l.padding;
                int lo, hi;
                windowRow(x0, k, l.inW, lo, hi);
                for (int ky = 0; ky < k; ++ky, src += run) {
                    const int iy = oy * l.stride - l.padding + ky;
                    if (iy < 0 || iy >= l.inH)
                        continue;
                    S* d = dx + C * ((b * l.inH + iy) * l.inW + x0);
                    for (Eigen::Index t = Eigen::Index(lo) * C; t < Eigen::Index(hi) * C; ++t)
                        d[t] += src[t];
                }
            }
}

/// The batch x (inC H W x B, one sample per column, each sample channel by channel, row by row, as a dataset stores
/// an image) as the first layer reads it: x's own data, or an NHWC copy in s.input (several channels, or a strided
/// view). Also sizes s's per-layer buffers.
template <class S>
const S* prepareInput(const std::vector<Layer>& layers, const mlpkernel::ConstRef<S>& x, Scratch<S>& s)
{
    const Eigen::Index batch = x.cols();
    s.act.resize(layers.size());
    s.col.resize(layers.size());
    s.argmax.resize(layers.size());
    const Layer& first = layers.front();
    if (first.inC > 1) { // CHW per sample -> HWC
        const Eigen::Index pixels = Eigen::Index(first.inH) * first.inW;
        s.input.resize(first.inC, batch * pixels);
        for (Eigen::Index b = 0; b < batch; ++b)
            s.input.middleCols(b * pixels, pixels) =
                Eigen::Map<const Mat<S>>(x.data() + b * x.outerStride(), pixels, first.inC).transpose();
        return s.input.data();
    }
    if (x.outerStride() != x.rows()) { // a strided view: one contiguous copy
        s.input = x;
        return s.input.data();
    }
    return x.data();
}

/// Layer i's forward pass on its input `in` (l.inC x B inH inW, NHWC) for a batch of B samples: writes s.act[i]
/// (and s.col[i] for a conv layer, s.argmax[i] for a max-pool layer). s sized by prepareInput.
template <class S>
void forwardLayer(const std::vector<Layer>& layers, std::size_t i, const S* params, const S* in, Eigen::Index batch,
                  Scratch<S>& s)
{
    const Layer& l = layers[i];
    Mat<S>& out = s.act[i];
    switch (l.kind) {
    case Layer::Kind::Conv: {
        im2col(l, in, batch, s.col[i]);
        Eigen::Map<const Mat<S>> w(params + l.offset, l.weightRows(), l.weightCols());
        Eigen::Map<const Vec<S>> bias(params + l.offset + w.size(), l.outC);
        out.resize(l.outC, batch * l.outPixels());
        out.noalias() = w * s.col[i];
        out.colwise() += bias;
        break;
    }
    case Layer::Kind::Dense: {
        Eigen::Map<const Mat<S>> a(in, l.inC, batch);
        Eigen::Map<const Mat<S>> w(params + l.offset, l.outC, l.inC);
        Eigen::Map<const Vec<S>> bias(params + l.offset + w.size(), l.outC);
        out.resize(l.outC, batch);
        out.noalias() = w * a;
        out.colwise() += bias;
        break;
    }
    case Layer::Kind::Relu:
        out = Eigen::Map<const Mat<S>>(in, l.outC, batch * l.outPixels()).cwiseMax(S(0));
        break;
    case Layer::Kind::MaxPool: {
        const int C = l.inC;
        out.resize(C, batch * l.outPixels());
        std::vector<Eigen::Index>& arg = s.argmax[i];
        arg.resize(std::size_t(out.size()));
        S* o = out.data();
        Eigen::Index* a = arg.data();
        for (Eigen::Index b = 0; b < batch; ++b)
            for (int oy = 0; oy < l.outH; ++oy)
                for (int ox = 0; ox < l.outW; ++ox, o += C, a += C)
                    for (int ky = 0; ky < l.kernel; ++ky)
                        for (int kx = 0; kx < l.kernel; ++kx) {
                            const Eigen::Index p = C * ((b * l.inH + oy * l.stride + ky) * l.inW + ox * l.stride + kx);
                            if (ky == 0 && kx == 0) {
                                std::copy_n(in + p, C, o);
                                for (int c = 0; c < C; ++c)
                                    a[c] = p + c;
                            } else {
                                for (int c = 0; c < C; ++c)
                                    if (in[p + c] > o[c]) { // the first maximum wins a tie
                                        o[c] = in[p + c];
                                        a[c] = p + c;
                                    }
                            }
                        }
        break;
    }
    }
}

/// Forward pass of x (inC H W x B, as prepareInput): leaves the logits (classes x B) in s.act.back(). Returns the
/// first layer's input as it read it.
template <class S>
const S* forward(const std::vector<Layer>& layers, const S* params, const mlpkernel::ConstRef<S>& x, Scratch<S>& s)
{
    const S* input = prepareInput(layers, x, s);
    const S* in = input;
    for (std::size_t i = 0; i < layers.size(); ++i) {
        forwardLayer(layers, i, params, in, x.cols(), s);
        in = s.act[i].data();
    }
    return input;
}

/// Layer i's backward pass, after forwardLayer on the same input `in`: from s.delta (the gradient of its output,
/// B l.outSize() values) writes its parameters' gradient to grad (at l.offset) and, if l.inputGradient, the
/// gradient of its input to s.deltaPrev (B l.inSize() values).
template <class S>
void backwardLayer(const std::vector<Layer>& layers, std::size_t i, const S* params, const S* in, Eigen::Index batch,
                   S* grad, Scratch<S>& s)
{
    const Layer& l = layers[i];
    Eigen::Map<const Mat<S>> d(s.delta.data(), l.outC, batch * l.outPixels());
    if (l.inputGradient)
        s.deltaPrev.resize(batch * l.inSize());
    switch (l.kind) {
    case Layer::Kind::Conv: {
        Eigen::Map<Mat<S>> gw(grad + l.offset, l.weightRows(), l.weightCols());
        Eigen::Map<Vec<S>> gb(grad + l.offset + gw.size(), l.outC);
        gw.noalias() = d * s.col[i].transpose();
        gb = d.rowwise().sum();
        if (l.inputGradient) {
            Eigen::Map<const Mat<S>> w(params + l.offset, l.weightRows(), l.weightCols());
            s.dcol.resize(l.unrolled(), d.cols());
            s.dcol.noalias() = w.transpose() * d;
            col2im(l, s.dcol, batch, s.deltaPrev.data());
        }
        break;
    }
    case Layer::Kind::Dense: {
        Eigen::Map<Mat<S>> gw(grad + l.offset, l.outC, l.inC);
        Eigen::Map<Vec<S>> gb(grad + l.offset + gw.size(), l.outC);
        gw.noalias() = d * Eigen::Map<const Mat<S>>(in, l.inC, batch).transpose();
        gb = d.rowwise().sum();
        if (l.inputGradient) {
            Eigen::Map<const Mat<S>> w(params + l.offset, l.outC, l.inC);
            Eigen::Map<Mat<S>>(s.deltaPrev.data(), l.inC, batch).noalias() = w.transpose() * d;
        }
        break;
    }
    case Layer::Kind::Relu:
        if (l.inputGradient) // the mask: where the output (= the input, where positive) is positive
            s.deltaPrev.array() = (s.act[i].reshaped().array() > S(0)).select(s.delta.array(), S(0));
        break;
    case Layer::Kind::MaxPool:
        if (l.inputGradient) {
            s.deltaPrev.setZero();
            const std::vector<Eigen::Index>& arg = s.argmax[i];
            for (std::size_t j = 0; j < arg.size(); ++j)
                s.deltaPrev[arg[j]] += s.delta[Eigen::Index(j)];
        }
        break;
    }
}

/// Sum of the cross-entropy losses over the batch x (inputs x B), labels y, and the gradient of their mean with
/// respect to the parameters, written to grad. Backpropagation (Rumelhart, Hinton & Williams 1986; for
/// convolutions LeCun et al. 1998, Sec. II) with the output error softmax(z) - onehot(y), as mlpkernel.h's.
template <class S>
double lossAndGradient(const std::vector<Layer>& layers, const S* params, const Mat<S>& x, const std::uint8_t* y,
                       S* grad, Scratch<S>& s)
{
    const S* input = forward(layers, params, x, s);
    const Eigen::Index batch = x.cols();
    const std::size_t n = layers.size();
    Mat<S>& z = s.probs;
    z = s.act.back();
    const double loss = mlpkernel::softmaxCrossEntropy(z, y);
    for (Eigen::Index j = 0; j < batch; ++j)
        z(y[j], j) -= S(1);
    z *= S(1) / S(float(batch));
    s.delta = Eigen::Map<const Vec<S>>(z.data(), z.size());
    for (std::size_t i = n; i-- > 0;) {
        backwardLayer(layers, i, params, i > 0 ? s.act[i - 1].data() : input, batch, grad, s);
        if (!layers[i].inputGradient)
            break; // no earlier layer has parameters
        s.delta.swap(s.deltaPrev);
    }
    return loss;
}

/// Samples per forward pass of evaluate(). Part of the numbers (Eigen's GEMM may block, and so round, a product
/// differently for another number of columns). Smaller than the MLP's: LeNet-5's activations and unrolled inputs
/// take about 200 kB per sample, so a chunk takes about 50 MB.
inline constexpr Eigen::Index kEvaluationChunk = 256;

/// Sum of the cross-entropy losses and number of correct predictions (largest logit at the label) over x
/// (inputs x N), labels y, in chunks of kEvaluationChunk samples.
template <class S>
std::pair<double, int> evaluate(const std::vector<Layer>& layers, const S* params, const mlpkernel::ConstRef<S>& x,
                                const std::uint8_t* y, Scratch<S>& s)
{
    double loss = 0.0;
    int correct = 0;
    constexpr Eigen::Index chunk = kEvaluationChunk;
    for (Eigen::Index first = 0; first < x.cols(); first += chunk) {
        const Eigen::Index n = std::min(chunk, x.cols() - first);
        forward(layers, params, x.middleCols(first, n), s);
        loss += mlpkernel::softmaxCrossEntropy(s.act.back(), y + first, &correct);
    }
    return {loss, correct};
}

} // namespace dml::cnnkernel
