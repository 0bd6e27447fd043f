// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Layer-by-layer descriptions of well-known models, for proxy workloads that overlap their backward pass with
// communication as the real models do (README "Overlap"). Computed from the architectures, not tabulated.
#include "models/layercost.h"

#include <string>
#include <vector>

namespace dml {

/// The names proxyPreset() knows: "resnet50", "bert-base", "bert-large".
std::vector<std::string> proxyPresetNames();

/// The layers of a known model, in forward order (see LayerCost). Flop convention as Mlp's: 2 per multiply-add,
/// 1 per elementwise operation; a layer's backward pass costs twice its forward pass (input and weight
/// gradients), once for a layer whose input needs no gradient (the first convolution, the embeddings' lookup).
///  - "resnet50": He et al. 2016 ("Deep residual learning for image recognition", Table 1), as torchvision's
///    resnet50 (stride on the 3x3 convolution), one 224 x 224 x 3 image per sample, 1000 classes. One layer per
///    convolution with its batch normalization (2 C parameters; 2 flops per output for BN, 1 for ReLU), the
///    max-pool, and the average-pool + fully connected layer: 25,557,032 parameters, 4.09 G multiply-adds forward.
///  - "bert-base", "bert-large": Devlin et al. 2019 ("BERT", Sec. 3: L = 12, H = 768, A = 12 and L = 24,
///    H = 1024, A = 16; feed-forward 4H; vocabulary 30,522, 512 positions, 2 segment types), as Hugging Face's
///    BertForSequenceClassification with 2 labels; one sample = one sequence of 128 tokens. Layers: the embeddings
///    (lookup and layer norm), each encoder layer's attention (Q, K, V, output projection, 2 S^2 H for the scores and
///    as much for their weighted sum, 5 per score for the softmax, layer norm) and its feed-forward block (two
///    dense layers, GELU at 8 flops per element, layer norm), then the pooler and classifier. 109,483,778 and
///    335,143,938 parameters.
/// Throws std::invalid_argument naming the known presets for any other name.
std::vector<LayerCost> proxyPreset(const std::string& name);

} // namespace dml
