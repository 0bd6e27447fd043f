// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Casting to 16-bit floats: IEEE-754 binary16 (fp16, as Horovod's and PyTorch DDP's fp16 compression hooks do) and
// bfloat16 (bf16: float32's exponent range with 8 significand bits). Both round to nearest, ties to even.
#include "compression/compressor.h"

namespace dml::compression {

/// 2 bytes per element, little-endian: bytes = 2n. Flops: encode n, decode n (one conversion per element).
/// Summable: sum() decodes the parts, adds them in float32 in the order given and rounds the sum once, which is
/// one reduction step of an all-reduce over 16-bit data (e.g. NCCL's half-precision sum).
class HalfPrecision : public Compressor {
public:
    double encodedBytes(Eigen::Index n) const override { return 2.0 * double(n); }
    double encodeFlops(double n) const override { return n; }
    double decodeFlops(double n) const override { return n; }
    bool summable() const override { return true; }
    void sum(std::span<const Encoded* const> parts, Encoded& out) const override;
    /// parts n to decode, parts - 1 additions, one encode: 2 parts n.
    double sumFlops(double n, int parts) const override { return 2.0 * double(parts) * n; }
};

/// IEEE-754 binary16. Round-trip error: at most 2^-11 |x| for 2^-14 <= |x| <= 65504 (normal range), at most 2^-25
/// below it (subnormals, flushed to zero under 2^-25); |x| >= 65520 becomes infinity, NaN stays NaN.
class Fp16 final : public HalfPrecision {
public:
    std::string name() const override { return "fp16"; }
    void encodeInto(const Eigen::Ref<const Eigen::VectorXf>& g, std::uint64_t seed, Encoded& out) const override;
    void decodeInto(const Encoded& e, Eigen::VectorXf& out) const override;
};

/// bfloat16: the upper 16 bits of the float32 after rounding the lower 16 to nearest, ties to even (NaN stays a
/// quiet NaN). Round-trip error: at most 2^-8 |x| over float32's normal range; |x| >= 2^128 (1 - 2^-9) ~ 3.396e38
/// (halfway from bf16's largest finite value to 2^128) becomes infinity.
class Bf16 final : public HalfPrecision {
public:
    std::string name() const override { return "bf16"; }
    void encodeInto(const Eigen::Ref<const Eigen::VectorXf>& g, std::uint64_t seed, Encoded& out) const override;
    void decodeInto(const Encoded& e, Eigen::VectorXf& out) const override;
};

} // namespace dml::compression
