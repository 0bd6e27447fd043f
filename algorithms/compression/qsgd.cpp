// SPDX-License-Identifier: GPL-3.0-or-later
#include "compression/qsgd.h"

#include "rng.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace dml::compression {

namespace {

constexpr int kBlock = 1024; // elements per block: a multiple of 8, so a block of w-bit fields ends on a byte boundary

/// Sum of squares in double over blocks summed in float (vectorised; the float error stays that of 4096 terms).
double sumSquares(const float* x, Eigen::Index n)
{
    double total = 0.0;
    for (Eigen::Index i = 0; i < n; i += 4096)
        total += Eigen::Map<const Eigen::VectorXf>(x + i, std::min<Eigen::Index>(4096, n - i)).squaredNorm();
    return total;
}

/// Fields of elements [i0, i0 + len) of one bucket (x points at element i0), into codes[0, len). Written so that
/// GCC vectorises it: a >= 0, so truncation is floor (std::floor would keep the loop scalar).
void quantize(const float* x, Eigen::Index i0, int len, float scale, std::uint32_t s, int levelBits,
              std::uint64_t seed, std::uint32_t* codes)
{
    for (int t = 0; t < len; ++t) {
        const float a = std::fabs(x[t]) * scale;
        const std::int32_t fl = std::int32_t(a);
        const std::uint64_t h = splitMix64(seed + std::uint64_t(i0 + t) * 0x9E3779B97F4A7C15ull);
        const float u = float(std::int32_t(h >> 40)) * 0x1.0p-24f;
        std::uint32_t l = std::uint32_t(fl) + std::uint32_t(u < a - float(fl));
        l = l < s ? l : s;
        codes[t] = l | ((std::bit_cast<std::uint32_t>(x[t]) >> 31) << levelBits);
    }
}

/// Packs len fields of w bits LSB-first at `dst` (byte aligned).
void pack(const std::uint32_t* codes, int len, int w, std::uint8_t* dst)
{
    if (w == 8) {
        for (int t = 0; t < len; ++t)
            dst[t] = std::uint8_t(codes[t]);
        return;
    }
    if (w == 4) {
        for (int j = 0; j < len / 2; ++j)
            dst[j] = std::uint8_t(codes[2 * j] | (codes[2 * j + 1] << 4));
        if (len & 1)
            dst[len / 2] = std::uint8_t(codes[len - 1]);
        return;
    }
    std::uint64_t acc = 0;
    int bits = 0;
    for (int t = 0; t < len; ++t) {
        acc |= std::uint64_t(codes[t]) << bits;
        bits += w;
        while (bits >= 8) {
            *dst++ = std::uint8_t(acc);
            acc >>= 8;
            bits -= 8;
        }
    }
    if (bits > 0)
        *dst = std::uint8_t(acc);
}

/// Reads len fields of w bits LSB-first from `src` (byte aligned).
void unpack(const std::uint8_t* src, int len, int w, std::uint32_t* codes)
{
    if (w == 8) {
        for (int t = 0; t < len; ++t)
            codes[t] = src[t];
        return;
    }
    if (w == 4) {
        for (int j = 0; j < len / 2; ++j) {
            codes[2 * j] = src[j] & 0xFu;
            codes[2 * j + 1] = std::uint32_t(src[j]) >> 4;
        }
        if (len & 1)
            codes[len - 1] = src[len / 2] & 0xFu;
        return;
    }
    const std::uint32_t mask = (std::uint32_t(1) << w) - 1;
    std::uint64_t acc = 0;
    int bits = 0;
    for (int t = 0; t < len; ++t) {
        while (bits < w) {
            acc |= std::uint64_t(*src++) << bits;
            bits += 8;
        }
        codes[t] = std::uint32_t(acc) & mask;
        acc >>= w;
        bits -= w;
    }
}

} // namespace

Qsgd::Qsgd(int levels, Eigen::Index bucket) : m_s(levels), m_bucket(bucket)
{
    if (levels < 1 || levels > 65535)
        throw std::invalid_argument("qsgd: levels s = " + std::to_string(levels) + " not in [1, 65535]");
    if (bucket < 0)
        throw std::invalid_argument("qsgd: bucket size " + std::to_string(bucket) + " < 0");
    m_bits = 1 + std::bit_width(std::uint32_t(levels)); // ceil(log2(s + 1)) = bit width of s
}

int Qsgd::levelsForBits(int bits)
{
    if (bits < 2 || bits > 17)
        throw std::invalid_argument("qsgd: " + std::to_string(bits) + " bits per element not in [2, 17]");
    return (1 << (bits - 1)) - 1;
}

std::string Qsgd::name() const
{
    return "qsgd(s=" + std::to_string(m_s) + (m_bucket ? ",bucket=" + std::to_string(m_bucket) : std::string()) +
           ")";
}

Eigen::Index Qsgd::buckets(Eigen::Index n) const
{
    if (n <= 0)
        return 0;
    return m_bucket > 0 ? (n + m_bucket - 1) / m_bucket : 1;
}

double Qsgd::encodedBytes(Eigen::Index n) const
{
    return 4.0 * double(buckets(n)) + double((std::uint64_t(n) * std::uint64_t(m_bits) + 7) / 8);
}

void Qsgd::encodeInto(const Eigen::Ref<const Eigen::VectorXf>& g, std::uint64_t seed, Encoded& out) const
{
    const Eigen::Index n = g.size();
    const Eigen::Index nb = buckets(n);
    const Eigen::Index d = m_bucket > 0 ? m_bucket : std::max<Eigen::Index>(n, 1);
    out.n = n;
    out.seed = seed;
    out.payload.resize(std::size_t(encodedBytes(n)));
    auto* norms = reinterpret_cast<float*>(out.payload.data());
    std::uint8_t* stream = out.payload.data() + 4 * nb;
    thread_local std::vector<float> scales;
    scales.resize(std::size_t(nb));
    for (Eigen::Index b = 0; b < nb; ++b) {
        const Eigen::Index len = std::min(d, n - b * d);
        const float norm = float(std::sqrt(sumSquares(g.data() + b * d, len)));
        norms[b] = norm;
        scales[std::size_t(b)] = norm > 0.0f ? float(m_s) / norm : 0.0f;
    }
    const float* x = g.data();
    const int levelBits = m_bits - 1;
    std::uint32_t codes[kBlock];
    for (Eigen::Index blk = 0; blk < n; blk += kBlock) {
        const int len = int(std::min<Eigen::Index>(kBlock, n - blk));
        // split the block at bucket boundaries: each piece has one scale
        for (int t = 0; t < len;) {
            const Eigen::Index i = blk + t;
            const Eigen::Index b = i / d;
            const int piece = int(std::min<Eigen::Index>(len - t, (b + 1) * d - i));
            quantize(x + i, i, piece, scales[std::size_t(b)], std::uint32_t(m_s), levelBits, seed, codes + t);
            t += piece;
        }
        pack(codes, len, m_bits, stream + blk / 8 * m_bits);
    }
}

void Qsgd::decodeInto(const Encoded& e, Eigen::VectorXf& out) const
{
    checkPayload(e);
    const Eigen::Index n = e.n;
    const Eigen::Index nb = buckets(n);
    const Eigen::Index d = m_bucket > 0 ? m_bucket : std::max<Eigen::Index>(n, 1);
    const auto* norms = reinterpret_cast<const float*>(e.payload.data());
    const std::uint8_t* stream = e.payload.data() + 4 * nb;
    out.resize(n);
    float* y = out.data();
    const int levelBits = m_bits - 1;
    const std::uint32_t levelMask = (std::uint32_t(1) << levelBits) - 1;
    std::uint32_t codes[kBlock];
    for (Eigen::Index blk = 0; blk < n; blk += kBlock) {
        const int len = int(std::min<Eigen::Index>(kBlock, n - blk));
        unpack(stream + blk / 8 * m_bits, len, m_bits, codes);
        for (int t = 0; t < len;) {
            const Eigen::Index i = blk + t;
            const Eigen::Index b = i / d;
            const int piece = int(std::min<Eigen::Index>(len - t, (b + 1) * d - i));
            const float unit = norms[b] / float(m_s);
            for (int j = t; j < t + piece; ++j) {
                const float v = float(codes[j] & levelMask) * unit;
                y[blk + j] = (codes[j] >> levelBits) ? -v : v;
            }
            t += piece;
        }
    }
}

} // namespace dml::compression
