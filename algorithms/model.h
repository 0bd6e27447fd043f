// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
#include "mlpkernel.h"

#include <Eigen/Core>
#include <cstdint>
#include <utility>
#include <vector>

namespace dml {

/// Multi-layer perceptron with ReLU hidden layers and a softmax cross-entropy output
/// (no hidden layers = multinomial logistic regression).
///
/// Parameters live in one flat float vector (as in MiniDNN), layer by layer: W_l (out x in, column-major)
/// followed by b_l (out). Batches are features x batch matrices, one sample per column.
///
/// The arithmetic is mlpkernel.h's, run on float. Methods use scratch buffers held by the object: one Mlp per
/// worker, not shared between workers.
class Mlp {
public:
    /// inputs > 0, every hidden width > 0, classes >= 2.
    Mlp(int inputs, std::vector<int> hidden, int classes);

    Eigen::Index numParams() const { return m_numParams; }
    int inputs() const { return m_sizes.front(); }
    int classes() const { return m_sizes.back(); }
    const std::vector<int>& layerSizes() const { return m_sizes; }

    /// He initialisation (He et al. 2015): W ~ N(0, 2 / fan_in), b = 0. `params` holds numParams() floats.
    void initParams(float* params, std::uint64_t seed) const;

    /// Analytic flops of one sample's forward pass (2 per multiply-add, plus bias, ReLU and softmax).
    double forwardFlopsPerSample() const { return m_forwardFlops; }
    /// Analytic flops of one sample's forward and backward pass (what one gradient evaluation costs per sample).
    double trainFlopsPerSample() const { return m_trainFlops; }

    /// Mean cross-entropy over the batch, in nats, and its gradient with respect to the parameters.
    /// x: inputs() x B; y: B labels, each < classes(); grad: numParams() floats, overwritten.
    /// The loss is computed as log-sum-exp (mlpkernel::softmaxCrossEntropy): finite for any logits.
    float lossAndGradient(const float* params, const Eigen::MatrixXf& x, const std::uint8_t* y, float* grad);

    /// Sum of the cross-entropy losses (nats) and number of correct predictions (the largest logit is at the
    /// label) over x (inputs() x N), labels y.
    std::pair<double, int> evaluate(const float* params, const Eigen::Ref<const Eigen::MatrixXf>& x,
                                    const std::uint8_t* y);

private:
    std::vector<int> m_sizes;
    std::vector<Eigen::Index> m_offsets; // mlpkernel::offsets(m_sizes): start of W_l; b_l follows W_l
    Eigen::Index m_numParams = 0;
    double m_forwardFlops = 0, m_trainFlops = 0;
    mlpkernel::Scratch<float> m_scratch;
};

} // namespace dml
