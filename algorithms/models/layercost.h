// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
#include <string>
#include <vector>

namespace dml {

/// What one layer of a model costs, for a backward pass charged layer by layer (overlap of backward and
/// communication, README "Overlap"). Layers are listed in forward order and own consecutive ranges of the flat
/// parameter vector (layer 0 first); a layer without parameters (ReLU, pooling) has parameters = 0.
struct LayerCost {
    std::string name;       ///< e.g. "conv1", "layer3.2.conv2", "dense2"
    long long parameters = 0; ///< floats of the flat parameter vector this layer owns (>= 0)
    double forward = 0;     ///< flops per sample of its forward pass (>= 0)
    double backward = 0;    ///< flops per sample of its backward pass (>= 0)
};

/// Sum of the layers' parameters.
long long totalParameters(const std::vector<LayerCost>& layers);
/// Sums of the layers' forward flops, and of their forward + backward flops, per sample.
double totalForward(const std::vector<LayerCost>& layers);
double totalTrain(const std::vector<LayerCost>& layers);

} // namespace dml
