// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// What a scenario asks of gradient compression (strategy.compression) and local SGD (strategy.local_steps). Plain
// data, no Eigen: strategy.h includes it. The runtime pieces are in codec.h.
#include <string>

namespace dml::compression {

/// strategy.compression: the format the workers' (or clients') gradients or model updates travel in.
///  - none:     fp32, the baseline
///  - topk:     the `ratio` fraction of largest magnitudes (Stich et al. 2018; with error_feedback Mem-SGD; with
///              momentum_correction DGC, Lin et al. 2018)
///  - randomk:  `ratio` of the elements chosen by the seed (Stich et al. 2018, rand_k)
///  - qsgd:     stochastic quantization with `bits` bits per element, bucketed norms (Alistarh et al. 2017)
///  - sign:     1 bit per element. Without error feedback: signSGD with majority vote (Bernstein et al. 2018),
///              unscaled; with error feedback: EF-SignSGD (Karimireddy et al. 2019), the scaled sign
///              ||p||_1 / n sign(p), averaged
///  - fp16, bf16: half-precision casts
///  - powersgd: rank-`rank` factors, all-reduced (Vogels et al. 2019); error feedback on by default
struct CompressionSpec {
    enum class Kind { None, TopK, RandomK, Qsgd, Sign, Fp16, Bf16, PowerSgd };
    Kind kind = Kind::None;
    double ratio = 0.01;             ///< topk, randomk: fraction of the elements kept, in (0, 1]
    int bits = 8;                    ///< qsgd: bits per element including the sign, [2, 17]: s = 2^(bits-1) - 1
    int bucket = 512;                ///< qsgd: elements per norm; 0 = one norm for the whole vector
    bool errorFeedback = false;      ///< residual memory on the sending side (every kind but none)
    bool momentumCorrection = false; ///< topk only: DGC's momentum correction (needs the momentum optimizer)
    int rank = 2;                    ///< powersgd: the rank r of the factors, >= 1

    bool enabled() const { return kind != Kind::None; }
};

/// "none", "topk", "randomk", "qsgd", "sign", "fp16", "bf16", "powersgd" (the scenario's spelling).
const char* toString(CompressionSpec::Kind k);
/// A short label for tables and summaries, e.g. "topk 1% + EF", "qsgd 8-bit", "signSGD (majority vote)",
/// "EF-signSGD", "powersgd rank 2 + EF", "none".
std::string describe(const CompressionSpec& s);

} // namespace dml::compression
