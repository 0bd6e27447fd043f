// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The MLP's arithmetic (model.h), written once as templates over the scalar type. Mlp runs it on float;
// tst_algorithms also runs it on a scalar that counts every operation, so the flop-count test counts what this
// code executes instead of re-deriving Mlp's analytic formula.
#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

namespace dml::mlpkernel {

template <class S>
using Mat = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
/// A read-only view of a matrix or of some of its columns; S is deduced from the other arguments.
template <class S>
using ConstRef = std::type_identity_t<Eigen::Ref<const Mat<S>>>;

/// Start of W_l in the flat parameter vector for layer sizes {inputs, hidden..., classes}: W_l (out x in,
/// column-major) then b_l (out), layer after layer. The last entry is the total number of parameters.
inline std::vector<Eigen::Index> offsets(const std::vector<int>& sizes)
{
    std::vector<Eigen::Index> o{0};
    for (std::size_t l = 0; l + 1 < sizes.size(); ++l)
        o.push_back(o.back() + Eigen::Index(sizes[l]) * sizes[l + 1] + sizes[l + 1]);
    return o;
}

/// Scratch buffers of the passes (one per thread: Mlp keeps one per thread).
template <class S>
struct Scratch {
    std::vector<Mat<S>> act; ///< act[l]: output of layer l (ReLU'd for hidden layers; logits for the last)
    Mat<S> delta, deltaPrev; ///< backward pass
};

/// Forward pass of x (sizes.front() x B, one sample per column): leaves the logits (classes x B) in
/// s.act.back().
template <class S>
void forward(const std::vector<int>& sizes, const std::vector<Eigen::Index>& off, const S* params,
             const ConstRef<S>& x, Scratch<S>& s)
{
    const std::size_t layers = sizes.size() - 1;
    s.act.resize(layers);
    for (std::size_t l = 0; l < layers; ++l) {
        const int in = sizes[l], out = sizes[l + 1];
        Eigen::Map<const Mat<S>> w(params + off[l], out, in);
        Eigen::Map<const Eigen::Matrix<S, Eigen::Dynamic, 1>> b(params + off[l] + Eigen::Index(in) * out, out);
        Mat<S>& a = s.act[l];
        a.resize(out, x.cols());
        if (l == 0)
            a.noalias() = w * x;
        else
            a.noalias() = w * s.act[l - 1];
        a.colwise() += b;
        if (l + 1 < layers)
            a = a.cwiseMax(S(0));
    }
}

/// Softmax cross-entropy of each column of z (classes x B, logits) against labels y (B, each < classes).
/// Replaces z by softmax(z) and returns the sum over the columns of
///   loss_j = log sum_k exp(z_kj - m_j) - (z_{y_j} j - m_j),  m_j = max_k z_kj,
/// the log-sum-exp form: finite and exact to float rounding for any logits (z = [1000, 0] with label 1 gives
/// 1000 nats), where -log(softmax) underflows to log(0). If `correct` is not null, adds to it the number of
/// columns whose largest logit (the first, on a tie) is at the label.
template <class S>
double softmaxCrossEntropy(Mat<S>& z, const std::uint8_t* y, int* correct = nullptr)
{
    using std::log;
    double loss = 0.0;
    for (Eigen::Index j = 0; j < z.cols(); ++j) {
        auto c = z.col(j);
        S m;
        if (correct) {
            Eigen::Index arg;
            m = c.maxCoeff(&arg);
            *correct += int(arg == Eigen::Index(y[j]));
        } else {
            m = c.maxCoeff();
        }
        c.array() -= m;
        const S shifted = c(y[j]); // z_y - m <= 0
        c.array() = c.array().exp();
        const S sum = c.sum(); // in [1, classes]
        c /= sum;
        loss += double(log(sum) - shifted);
    }
    return loss;
}

/// Sum of the cross-entropy losses over the batch x (sizes.front() x B), labels y, and the gradient of their
/// mean with respect to the parameters, written to grad (off.back() entries). Backpropagation (Rumelhart,
/// Hinton & Williams 1986) with the output error softmax(z) - onehot(y).
template <class S>
double lossAndGradient(const std::vector<int>& sizes, const std::vector<Eigen::Index>& off, const S* params,
                       const Mat<S>& x, const std::uint8_t* y, S* grad, Scratch<S>& s)
{
    forward(sizes, off, params, x, s);
    const Eigen::Index batch = x.cols();
    const std::size_t layers = sizes.size() - 1;
    // delta = (softmax - onehot) / B
    s.delta = s.act.back();
    const double loss = softmaxCrossEntropy(s.delta, y);
    for (Eigen::Index j = 0; j < batch; ++j)
        s.delta(y[j], j) -= S(1);
    s.delta *= S(1) / S(float(batch));
    for (std::size_t l = layers; l-- > 0;) {
        const int in = sizes[l], out = sizes[l + 1];
        Eigen::Map<Mat<S>> gw(grad + off[l], out, in);
        Eigen::Map<Eigen::Matrix<S, Eigen::Dynamic, 1>> gb(grad + off[l] + Eigen::Index(in) * out, out);
        if (l == 0)
            gw.noalias() = s.delta * x.transpose();
        else
            gw.noalias() = s.delta * s.act[l - 1].transpose();
        gb = s.delta.rowwise().sum();
        if (l > 0) {
            Eigen::Map<const Mat<S>> w(params + off[l], out, in);
            s.deltaPrev.resize(in, batch);
            s.deltaPrev.noalias() = w.transpose() * s.delta;
            s.deltaPrev = (s.act[l - 1].array() > S(0)).select(s.deltaPrev, S(0));
            s.delta.swap(s.deltaPrev);
        }
    }
    return loss;
}

/// Samples per forward pass of evaluate(). Part of the numbers: Eigen's GEMM may block (and so round) a product
/// differently for another number of columns.
inline constexpr Eigen::Index kEvaluationChunk = 2000;

/// Sum of the cross-entropy losses and number of correct predictions (largest logit at the label) over x
/// (sizes.front() x N), labels y. Works in chunks of kEvaluationChunk samples to bound the activations' memory.
template <class S>
std::pair<double, int> evaluate(const std::vector<int>& sizes, const std::vector<Eigen::Index>& off,
                                const S* params, const ConstRef<S>& x, const std::uint8_t* y,
                                Scratch<S>& s)
{
    double loss = 0.0;
    int correct = 0;
    constexpr Eigen::Index chunk = kEvaluationChunk;
    for (Eigen::Index first = 0; first < x.cols(); first += chunk) {
        const Eigen::Index n = std::min(chunk, x.cols() - first);
        forward(sizes, off, params, x.middleCols(first, n), s);
        loss += softmaxCrossEntropy(s.act.back(), y + first, &correct);
    }
    return {loss, correct};
}

} // namespace dml::mlpkernel
