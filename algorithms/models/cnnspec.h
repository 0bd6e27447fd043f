// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// What a scenario says about a convolutional network (TrainingConfig::cnn); the model itself is Cnn (cnn.h).
#include <vector>

namespace dml {

/// The layer kinds of a convolutional network (cnn.h).
enum class CnnLayerKind { Conv, MaxPool, Relu, Dense };

/// One hidden layer of a convolutional network, as a scenario gives it (workload.model.layers).
struct CnnLayerSpec {
    using Kind = CnnLayerKind;
    Kind kind = Kind::Relu;
    int units = 0;   ///< conv: filters (output channels); dense: output width; otherwise unused
    int kernel = 0;  ///< conv, max-pool: side of the square window, pixels
    int stride = 0;  ///< conv, max-pool: step between windows, pixels; 0 = the default (conv 1, max-pool kernel)
    int padding = 0; ///< conv: zeros added on each side of the input, pixels
};

/// A convolutional network: its input image and its hidden layers. The output layer, dense to the dataset's
/// classes, is implicit (as Mlp's).
struct CnnSpec {
    int channels = 1, height = 28, width = 28; ///< the input image; channels x height x width = features
    std::vector<CnnLayerSpec> layers;          ///< empty: not a CNN (TrainingConfig::cnn)

    /// LeNet-5 (LeCun et al. 1998, Sec. II.B) for a 28 x 28 input: conv 6@5x5 with padding 2 (LeNet-5's C1 sees
    /// the 28 x 28 digit centred in a 32 x 32 field), ReLU, max-pool 2, conv 16@5x5, ReLU, max-pool 2, dense 120,
    /// ReLU, dense 84, ReLU, then the output layer. 61,706 parameters for 10 classes. See Cnn for the deviations.
    static CnnSpec lenet5();
};

} // namespace dml
