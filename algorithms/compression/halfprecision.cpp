// SPDX-License-Identifier: GPL-3.0-or-later
#include "compression/halfprecision.h"

#include <Eigen/Core>

#include <bit>
#include <cstring>
#include <stdexcept>
#if defined(__F16C__)
#include <immintrin.h>
#endif

namespace dml::compression {

namespace {

void toFp16(const float* x, std::uint16_t* h, Eigen::Index n)
{
    Eigen::Index i = 0;
#if defined(__F16C__)
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(h + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
#endif
    for (; i < n; ++i) // Eigen::half rounds to nearest even
        h[i] = Eigen::numext::bit_cast<std::uint16_t>(Eigen::half(x[i]));
}

void fromFp16(const std::uint16_t* h, float* x, Eigen::Index n)
{
    Eigen::Index i = 0;
#if defined(__F16C__)
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + i))));
#endif
    for (; i < n; ++i)
        x[i] = float(Eigen::numext::bit_cast<Eigen::half>(h[i]));
}

void toBf16(const float* x, std::uint16_t* h, Eigen::Index n)
{
    for (Eigen::Index i = 0; i < n; ++i) {
        const std::uint32_t u = std::bit_cast<std::uint32_t>(x[i]);
        const std::uint32_t rounded = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
        const std::uint32_t nan = (u >> 16) | 0x40u; // keep sign and payload's top bits, force quiet
        h[i] = std::uint16_t((u & 0x7FFFFFFFu) > 0x7F800000u ? nan : rounded);
    }
}

void fromBf16(const std::uint16_t* h, float* x, Eigen::Index n)
{
    for (Eigen::Index i = 0; i < n; ++i)
        x[i] = std::bit_cast<float>(std::uint32_t(h[i]) << 16);
}

} // namespace

void HalfPrecision::sum(std::span<const Encoded* const> parts, Encoded& out) const
{
    if (parts.empty())
        throw std::invalid_argument(name() + ": sum of no encodings");
    const Eigen::Index n = parts[0]->n;
    Eigen::VectorXf acc, x;
    decodeInto(*parts[0], acc);
    for (std::size_t i = 1; i < parts.size(); ++i) {
        if (parts[i]->n != n)
            throw std::invalid_argument(name() + ": sum of encodings of different lengths");
        decodeInto(*parts[i], x);
        acc += x;
    }
    encodeInto(acc, parts[0]->seed, out);
}

void Fp16::encodeInto(const Eigen::Ref<const Eigen::VectorXf>& g, std::uint64_t seed, Encoded& out) const
{
    out.n = g.size();
    out.seed = seed;
    out.payload.resize(std::size_t(2 * g.size()));
    toFp16(g.data(), reinterpret_cast<std::uint16_t*>(out.payload.data()), g.size());
}

void Fp16::decodeInto(const Encoded& e, Eigen::VectorXf& out) const
{
    checkPayload(e);
    out.resize(e.n);
    fromFp16(reinterpret_cast<const std::uint16_t*>(e.payload.data()), out.data(), e.n);
}

void Bf16::encodeInto(const Eigen::Ref<const Eigen::VectorXf>& g, std::uint64_t seed, Encoded& out) const
{
    out.n = g.size();
    out.seed = seed;
    out.payload.resize(std::size_t(2 * g.size()));
    toBf16(g.data(), reinterpret_cast<std::uint16_t*>(out.payload.data()), g.size());
}

void Bf16::decodeInto(const Encoded& e, Eigen::VectorXf& out) const
{
    checkPayload(e);
    out.resize(e.n);
    fromBf16(reinterpret_cast<const std::uint16_t*>(e.payload.data()), out.data(), e.n);
}

} // namespace dml::compression
