// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The two mechanisms of DP training (Abadi et al. 2016, Algorithm 1 lines "clip gradient" and "add noise";
// McMahan et al. 2018, Algorithm 1 ClipFn and the server's noise): L2 clipping and seeded Gaussian noise.
#include <Eigen/Core>

#include <cstdint>

namespace dml::privacy {

/// Scales v in place to L2 norm at most c (c > 0): v <- v min(1, c / ||v||_2). Returns the factor applied (1 when
/// v was within the bound). The norm is accumulated in double, so the factor does not depend on the instruction
/// set. Flops: clipFlops(n).
double clipToNorm(Eigen::Ref<Eigen::VectorXf> v, double c);
inline double clipFlops(double n) { return 3.0 * n; } // square-add per element, then a scale

/// v_i += sigma g_i with g_i i.i.d. standard normal drawn from Rng(seed) in element order (Box-Muller, rng.h), so
/// the same seed gives the same noise on every machine that rounds the same way. sigma >= 0; sigma = 0 leaves v
/// unchanged (no draws). Flops: noiseFlops(n).
void addGaussianNoise(Eigen::Ref<Eigen::VectorXf> v, double sigma, std::uint64_t seed);
inline double noiseFlops(double n) { return 10.0 * n; } // Box-Muller: a log, a sqrt, a sin or cos per pair, scale

} // namespace dml::privacy
