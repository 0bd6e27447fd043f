// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
#include "models/cnnkernel.h"
#include "models/cnnspec.h"
#include "models/model.h"

#include <stdexcept>
#include <string>
#include <vector>

namespace dml {

/// A layer the shapes of a CnnSpec cannot build: `layer` is its index in CnnSpec::layers, or -1 for the input.
struct CnnShapeError : std::invalid_argument {
    CnnShapeError(int layerIndex, const std::string& what) : std::invalid_argument(what), layer(layerIndex) {}
    int layer;
};

/// A convolutional network in the style of LeNet-5 (LeCun, Bottou, Bengio & Haffner 1998, "Gradient-based
/// learning applied to document recognition", Proc. IEEE 86(11), Sec. II): convolution, max-pooling, ReLU and
/// dense layers in any order a CnnSpec gives, then a dense output layer with a softmax cross-entropy loss.
/// Convolutions unroll their input windows into a matrix and run one GEMM over the batch (im2col, Chellapilla,
/// Puri & Simard 2006, "High performance convolutional neural networks for document processing", Sec. 3), backward
/// two more GEMMs and the adjoint col2im (cnnkernel.h).
///
/// Deviations from LeNet-5 as published: max-pooling instead of the trainable subsampling layers S2 and S4 (the
/// average of 2 x 2 times a coefficient plus a bias); ReLU instead of the scaled tanh; every filter sees every
/// input channel (LeNet's C3 connects each of its 16 maps to a subset of S2's 6 maps, Table I); a dense output layer
/// with softmax cross-entropy instead of the RBF units F7 and their MAP criterion; He initialisation.
///
/// Parameters: one flat float vector, layer by layer: W (conv: filters x kernel^2 in-channels, column-major, column
/// (ky kernel + kx) in-channels + c; dense: out x in) followed by b (out). Batches are (channels x height x width)
/// x B matrices, one sample per column, each sample channel by channel, row by row; the dense layers read the
/// spatial activations pixel by pixel, channels fastest (cnnkernel.h's layout), not channel by channel.
///
/// Thread-safe like Mlp: every method is const; activations live in a scratch held by the calling thread.
class Cnn final : public Model {
public:
    /// Throws CnnShapeError naming the layer if the input is not at least 1 x 1 x 1, a conv or dense layer has
    /// units < 1, a window (kernel < 1, stride < 0, padding < 0, padding >= kernel) does not fit its input, or
    /// spec.layers is empty; std::invalid_argument if classes < 2.
    Cnn(const CnnSpec& spec, int classes);

    std::unique_ptr<Model> clone() const override { return std::make_unique<Cnn>(*this); }
    Eigen::Index numParams() const override { return m_numParams; }
    int inputs() const override { return int(m_layers.front().inSize()); }
    int classes() const override { return m_layers.back().outC; }
    std::vector<std::pair<Eigen::Index, Eigen::Index>> parameterBlocks() const override;
    /// One entry per layer ("conv1", "relu2", "pool3", "dense4", ...) with its layerFlops().
    std::vector<LayerCost> layerCosts() const override;
    /// The layers with their shapes; the last is the output layer.
    const std::vector<cnnkernel::Layer>& layers() const { return m_layers; }

    /// He initialisation (He et al. 2015): W ~ N(0, 2 / fan_in) with fan_in = kernel^2 in-channels (conv) or the
    /// input width (dense); b = 0.
    void initParams(float* params, std::uint64_t seed) const override;

    /// Analytic flops of one layer for one sample, in Mlp's convention (2 per multiply-add, 1 per elementwise
    /// operation and per term of a sum or maximum). For a layer with input C x H x W and output C' x H' x W'
    /// (P = H' W' output pixels, K = kernel^2 C the unrolled rows):
    ///   conv     forward 2 K C' P (the GEMM W col, padding taps included, as it runs) + C' P (bias);
    ///            backward 2 K C' P (dW = delta col^T) + C' P (db) and, if it computes its input's gradient,
    ///            2 K C' P (dcol = W^T delta) + K P (col2im's additions)
    ///   dense    forward 2 C C' + C'; backward 2 C C' + C' and, with the input's gradient, 2 C C'
    ///   ReLU     forward C' P (a maximum with 0); backward C' P (the mask), with the input's gradient
    ///   max-pool forward kernel^2 C' P (a maximum over each window); backward C' P (routing each output's gradient
    ///            to its maximum), with the input's gradient
    /// A layer computes its input's gradient if an earlier layer has parameters. The softmax and loss are charged
    /// as in Mlp: 5 per class forward, 1 per class backward.
    struct LayerFlops {
        double forward = 0, train = 0; ///< flops per sample; train includes forward
    };
    const std::vector<LayerFlops>& layerFlops() const { return m_layerFlops; }
    /// The sum of layerFlops() plus the softmax (5 per class; loss left out, as in Mlp).
    double forwardFlopsPerSample() const override { return m_forwardFlops; }
    /// The sum of layerFlops()' train plus 6 per class (softmax, and scaling its error by 1/B).
    double trainFlopsPerSample() const override { return m_trainFlops; }

    /// Bytes of the buffers one thread holds to train on a batch of B samples (activations, unrolled inputs,
    /// max-pool indices, gradients; not the parameters or the batch itself), an estimate to refuse absurd models.
    double trainingBytes(Eigen::Index batch) const;

    float lossAndGradient(const float* params, const Eigen::MatrixXf& x, const std::uint8_t* y,
                          float* grad) const override;
    /// Evaluates in chunks of cnnkernel::kEvaluationChunk samples, each a parallel job, the sums added in chunk
    /// order (as Mlp::evaluate).
    std::pair<double, int> evaluate(const float* params, const Eigen::Ref<const Eigen::MatrixXf>& x,
                                    const std::uint8_t* y) const override;

private:
    std::vector<cnnkernel::Layer> m_layers;
    std::vector<LayerFlops> m_layerFlops;
    Eigen::Index m_numParams = 0;
    double m_forwardFlops = 0, m_trainFlops = 0;
};

} // namespace dml
