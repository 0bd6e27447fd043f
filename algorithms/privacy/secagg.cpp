// SPDX-License-Identifier: GPL-3.0-or-later
#include "privacy/secagg.h"

#include "error.h"
#include "rng.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace dml::privacy {

namespace {

constexpr std::uint64_t kGenerator = 3;

std::uint64_t fieldAdd(std::uint64_t a, std::uint64_t b)
{
    const std::uint64_t s = a + b; // both < 2^61: no overflow
    return s >= kSecAggPrime ? s - kSecAggPrime : s;
}

std::uint64_t fieldSub(std::uint64_t a, std::uint64_t b)
{
    return a >= b ? a - b : a + kSecAggPrime - b;
}

std::uint32_t ringMask(int bits)
{
    return bits >= 32 ? 0xFFFFFFFFu : (std::uint32_t(1) << bits) - 1;
}

bool contains(std::span<const int> set, int u)
{
    return std::binary_search(set.begin(), set.end(), u);
}

} // namespace

std::uint64_t fieldMul(std::uint64_t a, std::uint64_t b)
{
    const unsigned __int128 p = (unsigned __int128)a * b;
    // 2^61 = 1 mod p: fold the high bits onto the low ones.
    const std::uint64_t lo = std::uint64_t(p) & kSecAggPrime, hi = std::uint64_t(p >> 61);
    return fieldAdd(lo, hi % kSecAggPrime);
}

std::uint64_t fieldPow(std::uint64_t a, std::uint64_t e)
{
    std::uint64_t r = 1;
    a %= kSecAggPrime;
    for (; e; e >>= 1) {
        if (e & 1)
            r = fieldMul(r, a);
        a = fieldMul(a, a);
    }
    return r;
}

long long FixedPoint::signedValue(std::uint32_t s) const
{
    const std::uint64_t v = s & mask;
    const std::uint64_t half = std::uint64_t(1) << (bits - 1);
    return v >= half ? (long long)v - (long long)(std::uint64_t(1) << bits) : (long long)v;
}

std::uint32_t FixedPoint::encode(double x, double weight) const
{
    const double c = std::clamp(x, -range, range); // NaN stays NaN: encoded as 0 below
    const double v = c * weight * scale;
    const long long q = std::isfinite(v) ? std::llround(v) : 0;
    return std::uint32_t(std::uint64_t(q)) & mask; // two's complement, mod 2^32, then mod 2^bits
}

FixedPoint makeFixedPoint(int bits, double range, long summands, double weightBound, const char* rangeField)
{
    if (bits < 16 || bits > 32)
        throw ConfigError("strategy.secure_aggregation.bits",
                          "expected 16 to 32 bits per element, got " + std::to_string(bits));
    if (!(range > 0) || !std::isfinite(range))
        throw ConfigError(rangeField, "expected a clamp range greater than 0, got " + std::to_string(range));
    summands = std::max(1L, summands);
    weightBound = std::max(1.0, weightBound);
    FixedPoint f;
    f.bits = bits;
    f.mask = ringMask(bits);
    f.range = range;
    f.summands = summands;
    f.weightBound = weightBound;
    const double limit = std::floor(double((std::uint64_t(1) << (bits - 1)) - 1) / double(summands));
    if (double(summands) * weightBound > double((std::uint64_t(1) << (bits - 1)) - 1))
        throw ConfigError("strategy.secure_aggregation.bits",
                          std::to_string(summands) + " inputs of weight up to " + std::to_string(long(weightBound)) +
                              " overflow a " + std::to_string(bits) + "-bit ring: use more bits");
    // The largest power of two with summands x ceil(range x weightBound x scale) <= 2^(bits-1) - 1.
    int e = int(std::floor(std::log2(limit / (range * weightBound))));
    f.scale = std::ldexp(1.0, e);
    while (e > -1000 && std::ceil(range * weightBound * f.scale) > limit)
        f.scale = std::ldexp(1.0, --e);
    while (std::ceil(range * weightBound * std::ldexp(1.0, e + 1)) <= limit)
        f.scale = std::ldexp(1.0, ++e);
    if (!(range * f.scale >= 256))
        throw ConfigError("strategy.secure_aggregation.bits",
                          "with " + std::to_string(bits) + " bits, " + std::to_string(summands) +
                              " inputs per round and weights up to " + std::to_string(long(weightBound)) +
                              " the fixed-point step would be range/" + std::to_string(range * f.scale) +
                              " (fewer than 256 levels over [0, range]): use more bits, fewer clients per round, "
                              "or DP-FedAvg (its clipped updates are summed without weights)");
    return f;
}

int secAggDefaultThreshold(int n)
{
    return std::clamp(2 * n / 3 + 1, 1, std::max(1, n));
}

std::vector<std::uint64_t> shamirShare(std::uint64_t secret, int t, std::span<const std::uint64_t> xs,
                                       std::uint64_t seed)
{
    if (t < 1)
        throw std::invalid_argument("shamirShare: t must be >= 1");
    std::vector<std::uint64_t> coeff(static_cast<std::size_t>(t));
    coeff[0] = secret % kSecAggPrime;
    std::uint64_t state = seed;
    for (int i = 1; i < t; ++i) {
        state += 0x9E3779B97F4A7C15ull;
        coeff[std::size_t(i)] = splitMix64(state) % kSecAggPrime;
    }
    std::vector<std::uint64_t> ys;
    ys.reserve(xs.size());
    for (std::uint64_t x : xs) { // Horner
        std::uint64_t y = 0;
        for (int i = t - 1; i >= 0; --i)
            y = fieldAdd(fieldMul(y, x), coeff[std::size_t(i)]);
        ys.push_back(y);
    }
    return ys;
}

std::uint64_t shamirReconstruct(std::span<const std::uint64_t> xs, std::span<const std::uint64_t> ys)
{
    if (xs.size() != ys.size() || xs.empty())
        throw std::invalid_argument("shamirReconstruct: xs and ys must have the same, non-zero length");
    std::uint64_t secret = 0;
    for (std::size_t j = 0; j < xs.size(); ++j) {
        std::uint64_t num = 1, den = 1; // prod x_m / (x_m - x_j)
        for (std::size_t k = 0; k < xs.size(); ++k) {
            if (k == j)
                continue;
            num = fieldMul(num, xs[k]);
            den = fieldMul(den, fieldSub(xs[k], xs[j]));
        }
        secret = fieldAdd(secret, fieldMul(ys[j], fieldMul(num, fieldPow(den, kSecAggPrime - 2))));
    }
    return secret;
}

std::uint64_t keyAgreementPublic(std::uint64_t secretKey)
{
    return fieldPow(kGenerator, secretKey);
}

std::uint64_t keyAgreement(std::uint64_t secretKey, std::uint64_t otherPublic)
{
    return fieldPow(otherPublic, secretKey);
}

void addPrg(std::span<std::uint32_t> v, std::uint64_t seed, int sign, std::uint32_t mask)
{
    std::uint64_t state = seed;
    std::size_t i = 0;
    const std::size_t n = v.size();
    auto put = [&](std::uint32_t r) {
        v[i] = (sign > 0 ? v[i] + r : v[i] - r) & mask; // uint32 arithmetic wraps mod 2^32
        ++i;
    };
    while (i < n) {
        state += 0x9E3779B97F4A7C15ull;
        std::uint64_t z = state;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        put(std::uint32_t(z));
        if (i < n)
            put(std::uint32_t(z >> 32));
    }
}

SecAggProtocol::SecAggProtocol(int parties, int threshold, std::size_t length, int bits, std::uint64_t seed)
    : m_party(std::size_t(std::max(0, parties))), m_held(std::size_t(std::max(0, parties))), m_t(threshold),
      m_length(length), m_mask(ringMask(bits)), m_seed(seed)
{
    if (parties < 1 || threshold < 1 || threshold > parties || bits < 1 || bits > 32)
        throw std::invalid_argument("SecAggProtocol: need 1 <= threshold <= parties and bits in [1, 32]");
    for (int u = 0; u < parties; ++u) {
        Party& p = m_party[std::size_t(u)];
        // Secret keys are exponents in [1, p - 2]; b_u is a PRG seed in the share field.
        p.skC = 1 + deriveSeed(seed, 0xC1, std::uint64_t(u)) % (kSecAggPrime - 2);
        p.skS = 1 + deriveSeed(seed, 0x51, std::uint64_t(u)) % (kSecAggPrime - 2);
        p.b = deriveSeed(seed, 0xB0, std::uint64_t(u)) % kSecAggPrime;
        p.pkC = keyAgreementPublic(p.skC);
        p.pkS = keyAgreementPublic(p.skS);
    }
}

void SecAggProtocol::shareKeys(int u, std::span<const int> u1)
{
    if (int(u1.size()) < m_t || !contains(u1, u))
        throw std::invalid_argument("SecAggProtocol::shareKeys: fewer parties than the threshold, or u not among them");
    std::vector<std::uint64_t> xs;
    for (int v : u1)
        xs.push_back(std::uint64_t(v) + 1);
    const Party& p = m_party[std::size_t(u)];
    const std::vector<std::uint64_t> sk = shamirShare(p.skS, m_t, xs, deriveSeed(m_seed, 0x5A, std::uint64_t(u)));
    const std::vector<std::uint64_t> b = shamirShare(p.b, m_t, xs, deriveSeed(m_seed, 0x5B, std::uint64_t(u)));
    for (std::size_t i = 0; i < u1.size(); ++i) {
        auto& held = m_held[std::size_t(u1[i])];
        if (held.empty())
            held.resize(m_party.size());
        held[std::size_t(u)] = Held{sk[i], b[i], true};
    }
}

std::uint64_t SecAggProtocol::pairSeed(int u, int v) const
{
    // s_{u,v}: the agreed key, hashed (the paper's KA.agree includes a hash); symmetric in u and v.
    return splitMix64(keyAgreement(m_party[std::size_t(u)].skS, m_party[std::size_t(v)].pkS) ^ 0x5ECA66ull);
}

std::vector<std::uint32_t> SecAggProtocol::masks(int u, std::span<const int> u2, bool selfMask) const
{
    std::vector<std::uint32_t> y(m_length, 0);
    if (selfMask)
        addPrg(y, m_party[std::size_t(u)].b, +1, m_mask);
    for (int v : u2)
        if (v != u)
            addPrg(y, pairSeed(u, v), u < v ? +1 : -1, m_mask);
    return y;
}

std::vector<std::uint32_t> SecAggProtocol::maskedInput(int u, std::span<const std::uint32_t> x,
                                                       std::span<const int> u2) const
{
    if (x.size() != m_length)
        throw std::invalid_argument("SecAggProtocol::maskedInput: x has the wrong length");
    std::vector<std::uint32_t> y = masks(u, u2, true);
    for (std::size_t i = 0; i < m_length; ++i)
        y[i] = (y[i] + x[i]) & m_mask;
    return y;
}

std::optional<std::vector<std::uint32_t>> SecAggProtocol::unmask(std::vector<std::uint32_t> sum,
                                                                 std::span<const int> u2, std::span<const int> u3,
                                                                 std::span<const int> u4) const
{
    if (int(u4.size()) < m_t)
        return std::nullopt;
    if (sum.size() != m_length)
        throw std::invalid_argument("SecAggProtocol::unmask: the sum has the wrong length");
    // The first t responders' shares (their x-coordinates are fixed for the round: Lagrange weights could be
    // computed once; shamirReconstruct recomputes them, which the cost model does not charge).
    std::vector<std::uint64_t> xs;
    for (int i = 0; i < m_t; ++i)
        xs.push_back(std::uint64_t(u4[std::size_t(i)]) + 1);
    auto reconstruct = [&](int u, bool secretKey) {
        std::vector<std::uint64_t> ys;
        for (int i = 0; i < m_t; ++i) {
            const auto& held = m_held[std::size_t(u4[std::size_t(i)])];
            if (held.empty() || !held[std::size_t(u)].valid)
                throw std::invalid_argument("SecAggProtocol::unmask: a responder holds no share of party " +
                                            std::to_string(u));
            ys.push_back(secretKey ? held[std::size_t(u)].sk : held[std::size_t(u)].b);
        }
        return shamirReconstruct(xs, ys);
    };
    for (int u : u3) // the survivors' self masks
        addPrg(sum, reconstruct(u, false), -1, m_mask);
    for (int u : u2) {
        if (contains(u3, u))
            continue;
        // u dropped after sharing its keys: each survivor v added p_{v,u} = (v < u ? + : -) PRG(s_{v,u}).
        const std::uint64_t sk = reconstruct(u, true);
        for (int v : u3) {
            const std::uint64_t s = splitMix64(keyAgreement(sk, m_party[std::size_t(v)].pkS) ^ 0x5ECA66ull);
            addPrg(sum, s, v < u ? -1 : +1, m_mask);
        }
    }
    return sum;
}

SecAggPhaseCost& SecAggPhaseCost::operator+=(const SecAggPhaseCost& o)
{
    clientFlops += o.clientFlops;
    clientSentBytes += o.clientSentBytes;
    clientReceivedBytes += o.clientReceivedBytes;
    serverFlops += o.serverFlops;
    serverSentBytes += o.serverSentBytes;
    serverReceivedBytes += o.serverReceivedBytes;
    return *this;
}

SecAggPhaseCost SecAggCost::total() const
{
    SecAggPhaseCost t = advertiseKeys;
    t += shareKeys;
    t += maskedInput;
    t += unmasking;
    return t;
}

SecAggCost secAggCost(long n, long m, long dropped, int bits, const SecAggConstants& c, long threshold)
{
    SecAggCost k;
    if (n < 1)
        return k;
    const double N = double(n), M = double(m), d = double(std::clamp(dropped, 0L, n)), s = N - d;
    const double t = double(threshold > 0 ? std::min(threshold, n) : long(secAggDefaultThreshold(int(n))));
    const double elementBytes = double(bits) / 8.0;
    const double ciphertext = 2 * c.idBytes + 2 * c.shareBytes + c.aeadOverheadBytes;

    SecAggPhaseCost& a = k.advertiseKeys;
    a.clientFlops = 2 * c.keyGenerationFlops;
    a.clientSentBytes = 2 * c.publicKeyBytes;
    a.clientReceivedBytes = N * (c.idBytes + 2 * c.publicKeyBytes);
    a.serverReceivedBytes = N * a.clientSentBytes;
    a.serverSentBytes = N * a.clientReceivedBytes;

    SecAggPhaseCost& sh = k.shareKeys;
    sh.clientFlops = (N - 1) * c.keyAgreementFlops + 2 * N * t * c.shamirFlops +
                     (N - 1) * ciphertext * c.aeadFlopsPerByte;
    sh.clientSentBytes = sh.clientReceivedBytes = (N - 1) * ciphertext;
    sh.serverReceivedBytes = sh.serverSentBytes = N * (N - 1) * ciphertext;

    SecAggPhaseCost& mi = k.maskedInput;
    mi.clientFlops = (N - 1) * ciphertext * c.aeadFlopsPerByte + (N - 1) * c.keyAgreementFlops +
                     N * M * c.prgFlopsPerElement + M * c.encodeFlopsPerElement;
    mi.clientSentBytes = M * elementBytes;
    mi.serverReceivedBytes = s * mi.clientSentBytes;
    mi.serverFlops = s * M * c.encodeFlopsPerElement;

    SecAggPhaseCost& u = k.unmasking;
    u.clientReceivedBytes = s * c.idBytes;
    u.clientSentBytes = (N - 1) * (c.idBytes + c.shareBytes);
    u.serverSentBytes = s * u.clientReceivedBytes;
    u.serverReceivedBytes = s * u.clientSentBytes;
    u.serverFlops = t * t * c.shamirFlops + N * t * c.shamirFlops + s * M * c.prgFlopsPerElement +
                    d * s * (c.keyAgreementFlops + M * c.prgFlopsPerElement) + M * c.encodeFlopsPerElement;
    return k;
}

} // namespace dml::privacy
