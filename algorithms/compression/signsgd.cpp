// SPDX-License-Identifier: GPL-3.0-or-later
#include "compression/signsgd.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <stdexcept>
#if defined(__AVX__)
#include <immintrin.h>
#endif

namespace dml::compression {

namespace {

/// Sign bits of x[0, 64) as one word, element j at bit j.
inline std::uint64_t signWord(const float* x)
{
    std::uint64_t w = 0;
#if defined(__AVX__)
    for (int j = 0; j < 8; ++j)
        w |= std::uint64_t(std::uint32_t(_mm256_movemask_ps(_mm256_loadu_ps(x + 8 * j)))) << (8 * j);
#else
    for (int j = 0; j < 64; ++j)
        w |= std::uint64_t(std::bit_cast<std::uint32_t>(x[j]) >> 31) << j;
#endif
    return w;
}

/// y[j] = +-|s| for j in [0, 64), negative where bit j of w is set.
inline void expandWord(std::uint64_t w, float s, float* y)
{
#if defined(__AVX512F__)
    const __m512 pos = _mm512_set1_ps(std::fabs(s)), neg = _mm512_set1_ps(-std::fabs(s));
    for (int j = 0; j < 4; ++j)
        _mm512_storeu_ps(y + 16 * j, _mm512_mask_blend_ps(__mmask16(w >> (16 * j)), pos, neg));
#else
    const std::uint32_t a = std::bit_cast<std::uint32_t>(s) & 0x7FFFFFFFu;
    for (int j = 0; j < 64; ++j)
        y[j] = std::bit_cast<float>(a | (std::uint32_t(w >> j) & 1u) << 31);
#endif
}

/// sum |x_i| in double over blocks summed in float (vectorised; the float error stays that of 4096 terms).
double sumAbs(const float* x, Eigen::Index n)
{
    double total = 0.0;
    for (Eigen::Index i = 0; i < n; i += 4096)
        total += Eigen::Map<const Eigen::VectorXf>(x + i, std::min<Eigen::Index>(4096, n - i)).cwiseAbs().sum();
    return total;
}

} // namespace

double SignCompressor::encodedBytes(Eigen::Index n) const
{
    return (m_scale == Scale::MeanAbs ? 4.0 : 0.0) + double((n + 7) / 8);
}

void SignCompressor::encodeInto(const Eigen::Ref<const Eigen::VectorXf>& g, std::uint64_t seed, Encoded& out) const
{
    const Eigen::Index n = g.size();
    out.n = n;
    out.seed = seed;
    out.payload.resize(std::size_t(encodedBytes(n)));
    std::uint8_t* bits = out.payload.data();
    if (m_scale == Scale::MeanAbs) {
        const float scale = n ? float(sumAbs(g.data(), n) / double(n)) : 0.0f;
        std::memcpy(bits, &scale, 4);
        bits += 4;
    }
    const float* x = g.data();
    Eigen::Index i = 0;
    for (; i + 64 <= n; i += 64) {
        const std::uint64_t w = signWord(x + i);
        std::memcpy(bits + i / 8, &w, 8);
    }
    for (; i < n; i += 8) { // tail: whole bytes
        std::uint8_t b = 0;
        for (Eigen::Index j = i; j < std::min(i + 8, n); ++j)
            b |= std::uint8_t((std::bit_cast<std::uint32_t>(x[j]) >> 31) << (j - i));
        bits[i / 8] = b;
    }
}

void SignCompressor::decodeInto(const Encoded& e, Eigen::VectorXf& out) const
{
    checkPayload(e);
    const Eigen::Index n = e.n;
    const std::uint8_t* bits = e.payload.data();
    float scale = 1.0f;
    if (m_scale == Scale::MeanAbs) {
        std::memcpy(&scale, bits, 4);
        bits += 4;
    }
    out.resize(n);
    float* y = out.data();
    Eigen::Index i = 0;
    for (; i + 64 <= n; i += 64) {
        std::uint64_t w;
        std::memcpy(&w, bits + i / 8, 8);
        expandWord(w, scale, y + i);
    }
    // tail: +-scale from the sign bit OR-ed into the scale's bits
    const std::uint32_t s = std::bit_cast<std::uint32_t>(scale) & 0x7FFFFFFFu;
    for (; i < n; ++i) {
        const std::uint32_t b = (bits[i >> 3] >> (i & 7)) & 1u;
        y[i] = std::bit_cast<float>(s | (b << 31));
    }
}

void SignCompressor::majorityVote(std::span<const Encoded* const> parts, Encoded& out) const
{
    if (parts.empty())
        throw std::invalid_argument(name() + ": majority vote over no encodings");
    const Eigen::Index n = parts[0]->n;
    double scaleSum = 0.0;
    for (const Encoded* p : parts) {
        checkPayload(*p);
        if (p->n != n)
            throw std::invalid_argument(name() + ": majority vote over encodings of different lengths");
        if (m_scale == Scale::MeanAbs) {
            float s;
            std::memcpy(&s, p->payload.data(), 4);
            scaleSum += s;
        }
    }
    const std::size_t header = m_scale == Scale::MeanAbs ? 4 : 0;
    const std::size_t nbytes = std::size_t((n + 7) / 8);
    const std::uint32_t half = std::uint32_t(parts.size() / 2);
    Encoded result;
    Encoded& r = (&out == parts[0] || std::find(parts.begin(), parts.end(), &out) != parts.end()) ? result : out;
    r.n = n;
    r.seed = parts[0]->seed;
    r.payload.assign(header + nbytes, 0);
    if (header) {
        const float s = float(scaleSum / double(parts.size()));
        std::memcpy(r.payload.data(), &s, 4);
    }
    // Count the negative votes of 64 elements at once in bit-sliced counters (counter bit l of element j is bit j
    // of c[l]; each part is added with a ripple carry), then compare each count with `half` from the top bit down.
    const int levels = std::bit_width(std::uint32_t(parts.size()));
    std::uint64_t c[33];
    for (std::size_t byte = 0; byte < nbytes; byte += 8) {
        const std::size_t len = std::min<std::size_t>(8, nbytes - byte);
        std::fill(c, c + levels, 0);
        for (const Encoded* p : parts) {
            std::uint64_t carry = 0;
            std::memcpy(&carry, p->payload.data() + header + byte, len);
            for (int l = 0; l < levels && carry; ++l) {
                const std::uint64_t t = c[l] & carry;
                c[l] ^= carry;
                carry = t;
            }
        }
        std::uint64_t greater = 0, equal = ~std::uint64_t(0);
        for (int l = levels - 1; l >= 0; --l) {
            if ((half >> l) & 1u) {
                equal &= c[l];
            } else {
                greater |= equal & c[l];
                equal &= ~c[l];
            }
        }
        std::memcpy(r.payload.data() + header + byte, &greater, len);
    }
    // clear the padding bits of the last byte: the encoding of the vote is then byte-identical to encodeInto()'s
    if (n % 8)
        r.payload.back() &= std::uint8_t((1u << (n % 8)) - 1);
    if (&r == &result)
        out = std::move(result);
}

Encoded SignCompressor::majorityVote(std::span<const Encoded* const> parts) const
{
    Encoded out;
    majorityVote(parts, out);
    return out;
}

} // namespace dml::compression
