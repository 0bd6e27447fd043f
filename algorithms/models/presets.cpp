// SPDX-License-Identifier: GPL-3.0-or-later
#include "models/presets.h"

#include <numeric>
#include <stdexcept>

namespace dml {

long long totalParameters(const std::vector<LayerCost>& layers)
{
    return std::accumulate(layers.begin(), layers.end(), 0LL,
                           [](long long s, const LayerCost& l) { return s + l.parameters; });
}

double totalForward(const std::vector<LayerCost>& layers)
{
    return std::accumulate(layers.begin(), layers.end(), 0.0,
                           [](double s, const LayerCost& l) { return s + l.forward; });
}

double totalTrain(const std::vector<LayerCost>& layers)
{
    return std::accumulate(layers.begin(), layers.end(), 0.0,
                           [](double s, const LayerCost& l) { return s + l.forward + l.backward; });
}

std::vector<std::string> proxyPresetNames()
{
    return {"resnet50", "bert-base", "bert-large"};
}

namespace {

/// A layer whose backward pass costs twice its forward pass (or once, without an input gradient).
LayerCost layer(std::string name, long long parameters, double forward, bool inputGradient = true)
{
    return {std::move(name), parameters, forward, (inputGradient ? 2.0 : 1.0) * forward};
}

std::vector<LayerCost> resnet50()
{
    std::vector<LayerCost> out;
    // A k x k convolution cin -> cout with batch normalization and (if `relu`) ReLU, on an hw-pixel output.
    auto conv = [&](std::string name, int k, int cin, int cout, double hw, bool relu, bool inputGradient = true) {
        const double macs = double(k) * k * cin * cout * hw;
        out.push_back(layer(std::move(name), (long long)k * k * cin * cout + 2LL * cout,
                            2 * macs + (relu ? 3.0 : 2.0) * cout * hw, inputGradient));
    };
    conv("conv1", 7, 3, 64, 112.0 * 112, true, false);
    out.push_back(layer("maxpool", 0, 9.0 * 64 * 56 * 56));
    const int blocks[4] = {3, 4, 6, 3};
    int in = 64, side = 56;
    for (int s = 0; s < 4; ++s) {
        const int mid = 64 << s, width = 4 * mid;
        for (int b = 0; b < blocks[s]; ++b) {
            const std::string p = "layer" + std::to_string(s + 1) + "." + std::to_string(b) + ".";
            const int stride = s > 0 && b == 0 ? 2 : 1;
            const double inHw = double(side) * side, outHw = inHw / (stride * stride);
            conv(p + "conv1", 1, in, mid, inHw, true);
            conv(p + "conv2", 3, mid, mid, outHw, true);
            conv(p + "conv3", 1, mid, width, outHw, false);
            if (b == 0)
                conv(p + "downsample", 1, in, width, outHw, false);
            // the residual addition and the block's ReLU, charged with its last convolution
            out.back().forward += 2.0 * width * outHw;
            out.back().backward += 4.0 * width * outHw;
            in = width;
            side /= stride;
        }
    }
    // global average pool (2048 x 7 x 7 additions) and the fully connected layer, softmax on 1000 classes
    out.push_back(layer("fc", 2048LL * 1000 + 1000, 2048.0 * 49 + 2.0 * 2048 * 1000 + 1000 + 5.0 * 1000));
    return out;
}

std::vector<LayerCost> bert(int L, int H)
{
    const int A = H / 64, F = 4 * H, vocab = 30522, positions = 512, types = 2;
    const double S = 128; // tokens per sample
    const double norm = 8.0 * S * H; // layer norm: mean, variance, normalize, scale and shift
    std::vector<LayerCost> out;
    // Lookup (no input gradient: the backward pass adds each token's gradient into its row), sum of the three
    // embeddings (2 S H), layer norm.
    out.push_back(layer("embeddings", (long long)(vocab + positions + types) * H + 2LL * H, 2 * S * H + norm, false));
    for (int l = 0; l < L; ++l) {
        const std::string p = "encoder." + std::to_string(l) + ".";
        const double proj = 2 * S * H * H + S * H; // one H x H projection with its bias
        const double scores = 2 * S * S * H + 5.0 * A * S * S + 2 * S * S * H; // Q K^T, softmax, weights x V
        out.push_back(layer(p + "attention", 4LL * (H * (long long)H + H) + 2LL * H,
                            4 * proj + scores + S * H + norm)); // + residual
        const double ffn = 2 * S * H * F + S * F + 8 * S * F + 2 * S * F * H + S * H;
        out.push_back(layer(p + "ffn", 2LL * H * F + F + H + 2LL * H, ffn + S * H + norm));
    }
    // pooler (dense + tanh on the first token) and the 2-label classifier with its softmax
    out.push_back(layer("pooler+classifier", (long long)H * H + H + 2LL * H + 2,
                        2.0 * H * H + H + 5.0 * H + 2.0 * H * 2 + 2 + 10));
    return out;
}

} // namespace

std::vector<LayerCost> proxyPreset(const std::string& name)
{
    if (name == "resnet50")
        return resnet50();
    if (name == "bert-base")
        return bert(12, 768);
    if (name == "bert-large")
        return bert(24, 1024);
    std::string known;
    for (const std::string& n : proxyPresetNames())
        known += (known.empty() ? "\"" : ", \"") + n + "\"";
    throw std::invalid_argument("unknown model preset \"" + name + "\": expected one of " + known);
}

} // namespace dml
