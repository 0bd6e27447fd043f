// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
#include "models/mlpkernel.h"

#include "models/layercost.h"

#include <Eigen/Core>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace dml {

/// A trainable classifier as the strategies see it (Workload::model()): a flat float parameter vector (as in
/// MiniDNN), a softmax cross-entropy loss and its gradient on a batch, analytic flop counts, and the rows x cols
/// blocks the parameter vector is made of. Implementations: Mlp (below) and Cnn (models/cnn.h).
///
/// Every method is const and thread-safe: activations live in scratch held by the calling thread, so pool jobs
/// (parallel.h) may train and evaluate with one model at once. Results do not depend on the thread count.
class Model {
public:
    virtual ~Model() = default;
    /// A copy (the evaluator keeps its own).
    virtual std::unique_ptr<Model> clone() const = 0;

    virtual Eigen::Index numParams() const = 0;
    /// Features per sample (rows of a batch) and classes.
    virtual int inputs() const = 0;
    virtual int classes() const = 0;
    /// He initialisation (He et al. 2015): weights ~ N(0, 2 / fan_in), biases 0. `params` holds numParams() floats.
    virtual void initParams(float* params, std::uint64_t seed) const = 0;
    /// Analytic flops of one sample's forward pass, and of its forward and backward pass (what one gradient
    /// evaluation costs per sample); each implementation documents its convention (2 per multiply-add, 1 per
    /// elementwise operation and per term of a sum or maximum).
    virtual double forwardFlopsPerSample() const = 0;
    virtual double trainFlopsPerSample() const = 0;
    /// Mean cross-entropy over the batch, in nats, and its gradient with respect to the parameters.
    /// x: inputs() x B, one sample per column; y: B labels, each < classes(); grad: numParams() floats, overwritten.
    virtual float lossAndGradient(const float* params, const Eigen::MatrixXf& x, const std::uint8_t* y,
                                  float* grad) const = 0;
    /// Sum of the cross-entropy losses (nats) and number of correct predictions (largest logit at the label) over
    /// x (inputs() x N), labels y; the same bits whatever the thread count.
    virtual std::pair<double, int> evaluate(const float* params, const Eigen::Ref<const Eigen::MatrixXf>& x,
                                            const std::uint8_t* y) const = 0;
    /// The blocks of the flat parameter vector in order, each rows x cols column-major (a weight matrix, or a bias
    /// as rows x 1); their sizes add up to numParams(). PowerSGD compresses the matrices among them.
    virtual std::vector<std::pair<Eigen::Index, Eigen::Index>> parameterBlocks() const = 0;
    /// The layers in forward order with their parameters and their forward and backward flops per sample, for a
    /// backward pass charged layer by layer (README "Overlap"). Their parameters add up to numParams(), their
    /// forward flops to forwardFlopsPerSample() and forward + backward to trainFlopsPerSample() (the softmax is the
    /// last layer's).
    virtual std::vector<LayerCost> layerCosts() const = 0;
};

/// Multi-layer perceptron with ReLU hidden layers and a softmax cross-entropy output
/// (no hidden layers = multinomial logistic regression).
///
/// Parameters live in one flat float vector (as in MiniDNN), layer by layer: W_l (out x in, column-major)
/// followed by b_l (out). Batches are features x batch matrices, one sample per column.
///
/// The arithmetic is mlpkernel.h's, run on float. The methods are const and thread-safe: their activations live in
/// a scratch held by the calling thread (one per thread, never shared), so pool jobs (parallel.h) may train and
/// evaluate with one Mlp at once.
class Mlp final : public Model {
public:
    /// inputs > 0, every hidden width > 0, classes >= 2.
    Mlp(int inputs, std::vector<int> hidden, int classes);

    std::unique_ptr<Model> clone() const override { return std::make_unique<Mlp>(*this); }
    Eigen::Index numParams() const override { return m_numParams; }
    int inputs() const override { return m_sizes.front(); }
    int classes() const override { return m_sizes.back(); }
    const std::vector<int>& layerSizes() const { return m_sizes; }
    /// W_l (out x in) and b_l (out x 1), layer by layer.
    std::vector<std::pair<Eigen::Index, Eigen::Index>> parameterBlocks() const override;
    /// One layer per weight matrix ("dense1", ...), with the terms of trainFlopsPerSample() that belong to it.
    std::vector<LayerCost> layerCosts() const override;

    /// He initialisation (He et al. 2015): W ~ N(0, 2 / fan_in), b = 0. `params` holds numParams() floats.
    void initParams(float* params, std::uint64_t seed) const override;

    /// Analytic flops of one sample's forward pass, in the usual convention: 2 per multiply-add, 1 per
    /// elementwise operation and per term of a sum. Per layer (in -> out): 2 in out (W a) + out (bias)
    /// + out (ReLU, hidden layers only); then 5 per class for the softmax (max, subtract, exp, sum, divide).
    /// Left out: the loss's log and subtraction (2 per sample).
    ///
    /// What runs differs from this by a fixed, tested amount (tst_algorithms flopCountsMatchExecution, which
    /// counts every scalar operation mlpkernel.h executes): Eigen computes a k-term dot product with k
    /// multiplications and k - 1 additions, and a sum or maximum of n values with n - 1 operations, so each
    /// dot product and each sum or maximum runs one flop fewer than counted here. For the quickstart's
    /// 784-256-10 at B = 32 that is 0.07 % fewer flops in the forward pass and 0.84 % fewer in forward +
    /// backward (mostly dW's sums over the batch). The float path runs the same operations in SIMD, fusing
    /// multiply-adds.
    double forwardFlopsPerSample() const override { return m_forwardFlops; }
    /// Analytic flops of one sample's forward and backward pass (what one gradient evaluation costs per
    /// sample), in the convention of forwardFlopsPerSample(): the forward pass, then per layer 2 in out (dW)
    /// + out (db), and for every layer but the first 2 in out (W^T delta) + in (ReLU mask); plus 1 per class
    /// (scaling softmax - onehot by 1/B). Left out: the one-hot subtraction (1 per sample). The weight
    /// update is the optimizer's (Optimizer::flopsPerStep).
    double trainFlopsPerSample() const override { return m_trainFlops; }

    /// Mean cross-entropy over the batch, in nats, and its gradient with respect to the parameters.
    /// x: inputs() x B; y: B labels, each < classes(); grad: numParams() floats, overwritten.
    /// The loss is computed as log-sum-exp (mlpkernel::softmaxCrossEntropy): finite for any logits.
    float lossAndGradient(const float* params, const Eigen::MatrixXf& x, const std::uint8_t* y,
                          float* grad) const override;

    /// Sum of the cross-entropy losses (nats) and number of correct predictions (the largest logit is at the
    /// label) over x (inputs() x N), labels y. The chunks of mlpkernel::kEvaluationChunk samples run as parallel
    /// jobs (parallel::forEach) and their sums are added in chunk order: the same bits as one sequential pass.
    std::pair<double, int> evaluate(const float* params, const Eigen::Ref<const Eigen::MatrixXf>& x,
                                    const std::uint8_t* y) const override;

private:
    std::vector<int> m_sizes;
    std::vector<Eigen::Index> m_offsets; // mlpkernel::offsets(m_sizes): start of W_l; b_l follows W_l
    Eigen::Index m_numParams = 0;
    double m_forwardFlops = 0, m_trainFlops = 0;
};

} // namespace dml
