// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Seeded random numbers whose streams are the same on every platform and standard library:
// std::*_distribution are implementation-defined, so we draw from the engine ourselves.
#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>
#include <span>
#include <utility>

namespace dml {

/// SplitMix64 (Steele, Lea & Flood 2014): derives independent seeds from (seed, stream ids).
constexpr std::uint64_t splitMix64(std::uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/// Seed for stream `a`, `b` of a run seeded with `seed` (e.g. worker 3, epoch 7).
constexpr std::uint64_t deriveSeed(std::uint64_t seed, std::uint64_t a, std::uint64_t b = 0)
{
    return splitMix64(splitMix64(splitMix64(seed) ^ a) ^ (b * 0xD6E8FEB86659FD93ull));
}

class Rng {
public:
    explicit Rng(std::uint64_t seed) : m_engine(seed) {}
    std::uint64_t next() { return m_engine(); }
    /// Uniform in [0, 1) with 53 random bits.
    double uniform() { return double(m_engine() >> 11) * 0x1.0p-53; }
    /// Uniform integer in [0, n); n > 0. Lemire's multiply-shift (bias < n / 2^64).
    std::uint64_t below(std::uint64_t n) { return std::uint64_t((unsigned __int128)m_engine() * n >> 64); }
    /// Standard normal by Box-Muller.
    double normal()
    {
        if (m_haveSpare) {
            m_haveSpare = false;
            return m_spare;
        }
        double u1 = 0.0;
        while (u1 <= 0.0)
            u1 = uniform();
        const double u2 = uniform();
        const double r = std::sqrt(-2.0 * std::log(u1));
        m_spare = r * std::sin(2.0 * std::numbers::pi * u2);
        m_haveSpare = true;
        return r * std::cos(2.0 * std::numbers::pi * u2);
    }
    /// Fisher-Yates shuffle.
    template <typename T> void shuffle(std::span<T> v)
    {
        for (std::size_t i = v.size(); i > 1; --i)
            std::swap(v[i - 1], v[below(i)]);
    }

private:
    std::mt19937_64 m_engine;
    double m_spare = 0.0;
    bool m_haveSpare = false;
};

} // namespace dml
