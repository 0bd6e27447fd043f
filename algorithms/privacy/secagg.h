// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Secure aggregation (issue 12, item 2): Bonawitz, Ivanov, Kreuter, Marcedone, McMahan, Patel, Ramage, Segal &
// Seth 2017, "Practical secure aggregation for privacy-preserving machine learning" (CCS'17), the protocol secure
// against an honest-but-curious server (its four rounds AdvertiseKeys, ShareKeys, MaskedInputCollection and
// Unmasking; the active-adversary version's ConsistencyCheck round and signatures are not modelled).
//
// What is real here: the fixed-point encoding into Z_R, R = 2^bits; every party's self mask PRG(b_u) and pairwise
// masks +-PRG(s_{u,v}), which cancel in the sum; t-out-of-n Shamir sharing of b_u and of the mask key s_u^SK over
// GF(2^61 - 1); the server's unmasking, which reconstructs b_u for the survivors and s_u^SK for the clients that
// dropped after ShareKeys from the shares the responding survivors hold, recomputes the dropped clients' pairwise
// masks with the survivors and removes them. The decoded sum equals the plain sum of the survivors' encoded inputs
// exactly (mod R).
//
// What is simulated, not cryptography (deviations, named so nobody mistakes this for a secure implementation):
//  - Key agreement: a toy Diffie-Hellman in the multiplicative group mod p = 2^61 - 1 (generator 3), with secret
//    keys derived deterministically from the run seed, the round and the client (deriveSeed, rng.h). It has the
//    algebra the protocol needs (KA.agree(s_u^SK, s_v^PK) = KA.agree(s_v^SK, s_u^PK), so a server that
//    reconstructed s_u^SK recomputes s_{u,v}) and no security at all. The paper uses ECDH over NIST P-256.
//  - PRG: a SplitMix64 stream (rng.h), fast and seeded, not cryptographic. The paper's prototype uses AES-CTR.
//  - Authenticated encryption of the shares (AES-GCM in the paper) is not performed; its bytes and time are charged.
// The costs of the real primitives are charged in simulated time by secAggCost() (SecAggConstants).
//
// Plain C++ and the standard library only (no Qt, no SimGrid); ConfigError (error.h) for refused settings.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace dml::privacy {

/// The fixed-point code of the inputs: a real x is clamped to [-range, range], multiplied by an integer weight and
/// by `scale` (a power of two), rounded to the nearest integer and taken mod R = 2^bits (two's complement,
/// arithmetic in uint32 with wrap-around, then masked to `bits`). `scale` is the largest power of two with
/// summands x ceil(range x weightBound x scale) <= 2^(bits-1) - 1, so the sum of up to `summands` encodings never
/// wraps and decode() of the sum is the exact signed sum / scale.
struct FixedPoint {
    int bits = 32;
    std::uint32_t mask = 0xFFFFFFFFu; ///< R - 1
    double range = 1;                 ///< c: the clamp
    double scale = 1;                 ///< a power of two; the quantization step is 1 / scale
    long summands = 1;
    double weightBound = 1;           ///< the largest weight an encoding may carry

    /// round(clamp(x, -c, c) x weight x scale) mod R; weight in [0, weightBound].
    std::uint32_t encode(double x, double weight = 1) const;
    /// The integer `count` (e.g. a sample count n_k <= weightBound) as it is, mod R.
    std::uint32_t encodeCount(long count) const { return std::uint32_t(std::uint64_t(count)) & mask; }
    /// s mod R read as a signed integer in [-2^(bits-1), 2^(bits-1)), divided by scale.
    double decode(std::uint32_t s) const { return double(signedValue(s)) / scale; }
    long long signedValue(std::uint32_t s) const;
    double step() const { return 1.0 / scale; }
};

/// The fixed point of `summands` inputs of weight <= weightBound, clamp `range`, ring 2^bits. Throws ConfigError:
/// "strategy.secure_aggregation.bits" for bits outside [16, 32], or when the step would be absurd: fewer than 256
/// levels over [0, range] for a unit weight (scale x range < 256), or the weights alone could overflow
/// (summands x weightBound > 2^(bits-1) - 1); "strategy.secure_aggregation.range" for a range that is not finite
/// and > 0. `rangeField` replaces the latter path (e.g. "strategy.privacy.clip" when the DP clip is the range).
FixedPoint makeFixedPoint(int bits, double range, long summands, double weightBound = 1,
                          const char* rangeField = "strategy.secure_aggregation.range");

/// The paper's threshold recommendation for n clients: t = floor(2n/3) + 1, i.e. t > 2n/3, the bound under which
/// the active-adversary version stays secure against a server colluding with up to n/3 clients (Bonawitz et al.
/// 2017, Sec. 6); the honest-but-curious analysis only needs t larger than the colluding clients. At least 1, at
/// most n.
int secAggDefaultThreshold(int n);

// ---- The primitives (toy, see the header comment) ----------------------------------------------------------------

/// The Shamir field: GF(p), p = 2^61 - 1.
inline constexpr std::uint64_t kSecAggPrime = (std::uint64_t(1) << 61) - 1;
std::uint64_t fieldMul(std::uint64_t a, std::uint64_t b);
std::uint64_t fieldPow(std::uint64_t a, std::uint64_t e);
/// t-out-of-n Shamir sharing of `secret` (< p): a random polynomial of degree t - 1 (coefficients from `seed`) with
/// f(0) = secret, evaluated at each x in xs (1 <= x < p, distinct).
std::vector<std::uint64_t> shamirShare(std::uint64_t secret, int t, std::span<const std::uint64_t> xs,
                                       std::uint64_t seed);
/// f(0) by Lagrange interpolation from the points (xs[i], ys[i]); exact when there are at least t of them.
std::uint64_t shamirReconstruct(std::span<const std::uint64_t> xs, std::span<const std::uint64_t> ys);
/// Toy key agreement: public key 3^sk mod p; agree(sk_u, pk_v) = pk_v^sk_u mod p = agree(sk_v, pk_u).
std::uint64_t keyAgreementPublic(std::uint64_t secretKey);
std::uint64_t keyAgreement(std::uint64_t secretKey, std::uint64_t otherPublic);
/// v[i] = v[i] + sign x PRG(seed)[i] mod R for every i (sign = +1 or -1): the PRG's stream of 32-bit words (two per
/// SplitMix64 output), masked to the ring.
void addPrg(std::span<std::uint32_t> v, std::uint64_t seed, int sign, std::uint32_t mask);

/// One instance of the protocol (one FedAvg round): parties 0..n-1 (Shamir x-coordinate u + 1), vectors of
/// `length` elements of Z_R, threshold t. Each method is what one party (or the server) does in one round with the
/// sets the server announced: u1 = the parties that advertised keys, u2 = those that shared them, u3 = those whose
/// masked input the server received, u4 = those that answered the unmasking. The shares a party sends are kept in
/// the instance (addressed to their recipient), standing for the encrypted messages that carry them. Not
/// thread-safe (a simulation runs one actor at a time).
class SecAggProtocol {
public:
    /// Keys and self-mask seeds of every party derive from `seed` (one per round: deriveSeed(run seed, tag, round)).
    /// threshold in [1, parties]; bits in [1, 32].
    SecAggProtocol(int parties, int threshold, std::size_t length, int bits, std::uint64_t seed);
    int parties() const { return int(m_party.size()); }
    int threshold() const { return m_t; }
    std::size_t length() const { return m_length; }
    std::uint32_t mask() const { return m_mask; }

    /// Round 0, AdvertiseKeys: party u's public keys (c_u^PK for the share encryption, s_u^PK for the masks).
    std::uint64_t maskPublicKey(int u) const { return m_party[std::size_t(u)].pkS; }
    /// Round 1, ShareKeys: party u splits s_u^SK and b_u t-out-of-|u1| and addresses one share of each to every
    /// party of u1 (itself included). Throws std::invalid_argument if |u1| < t or u is not in u1.
    void shareKeys(int u, std::span<const int> u1);
    /// Round 2, MaskedInputCollection: y_u = x_u + PRG(b_u) + sum_{v in u2, v != u} p_{u,v} mod R, with
    /// p_{u,v} = +PRG(s_{u,v}) for u < v and -PRG(s_{u,v}) for u > v (so p_{u,v} + p_{v,u} = 0), s_{u,v} the hashed
    /// key agreement of s_u^SK and s_v^PK. x has length() elements.
    std::vector<std::uint32_t> maskedInput(int u, std::span<const std::uint32_t> x, std::span<const int> u2) const;
    /// The masks alone: PRG(b_u) (with selfMask) plus the pairwise masks of u with u2 (for tests).
    std::vector<std::uint32_t> masks(int u, std::span<const int> u2, bool selfMask) const;
    /// Round 3, Unmasking, at the server: `sum` = sum over u3 of y_u (mod R). Reconstructs b_u (u in u3) and s_u^SK
    /// (u in u2 \ u3) from the shares held by the first t parties of u4, subtracts PRG(b_u) and the pairwise masks
    /// the survivors still carry for each dropped party, and returns the sum of the survivors' inputs mod R.
    /// std::nullopt (the round fails: nothing is revealed) if |u4| < t. u4 within u3 within u2 within u1 (sorted).
    std::optional<std::vector<std::uint32_t>> unmask(std::vector<std::uint32_t> sum, std::span<const int> u2,
                                                     std::span<const int> u3, std::span<const int> u4) const;

private:
    struct Party {
        std::uint64_t skC, pkC, skS, pkS, b;
    };
    struct Held { // the shares a party holds of another party's secrets
        std::uint64_t sk = 0, b = 0;
        bool valid = false;
    };
    std::uint64_t pairSeed(int u, int v) const; // s_{u,v}, from u's secret key and v's public key
    std::vector<Party> m_party;
    std::vector<std::vector<Held>> m_held; // m_held[v][u], allocated when v receives its first share
    int m_t;
    std::size_t m_length;
    std::uint32_t m_mask;
    std::uint64_t m_seed;
};

// ---- Cost model --------------------------------------------------------------------------------------------------

/// The costs of the real primitives, in flops-equivalents (charged with Transport::compute on the host that runs
/// them, so a slower device takes proportionally longer) and bytes. Order-of-magnitude estimates for the primitives
/// of the paper's prototype (Bonawitz et al. 2017, Sec. 7.2: ECDH over NIST P-256, AES-GCM, AES-CTR as the PRG,
/// Shamir sharing over a field of about 256 bits), not measurements of this machine. A P-256 key agreement takes
/// roughly 0.1-1 ms on a 2017 phone core, i.e. 1e5-1e6 flops at the 1 Gflop/s a simulated phone typically gets;
/// AES in software runs at ~10-20 cycles per byte. Only their ratios matter for the asymptotic checks in the tests.
struct SecAggConstants {
    double keyGenerationFlops = 3e5;   ///< one key pair (two per client in AdvertiseKeys)
    double keyAgreementFlops = 3e5;    ///< one key agreement (ECDH) plus the key derivation
    double shamirFlops = 50;           ///< one multiply-add in the share field (sharing: t per share; Lagrange)
    double aeadFlopsPerByte = 15;      ///< authenticated encryption or decryption of the shares, per byte
    double prgFlopsPerElement = 16;    ///< one mask element: 4 PRG bytes (AES-CTR) plus the addition mod R
    double encodeFlopsPerElement = 4;  ///< clamp, scale, round, wrap (client) and the server's modular addition
    double publicKeyBytes = 33;        ///< a compressed P-256 point
    double shareBytes = 32;            ///< one Shamir share of a 256-bit secret
    double idBytes = 4;                ///< a client index
    double aeadOverheadBytes = 28;     ///< AES-GCM: 12-byte nonce + 16-byte tag
    double controlBytes = 16;          ///< an abort or a goodbye
};

/// One phase's costs: per client (a client that takes part in the phase) and at the server (for all clients).
struct SecAggPhaseCost {
    double clientFlops = 0, clientSentBytes = 0, clientReceivedBytes = 0;
    double serverFlops = 0, serverSentBytes = 0, serverReceivedBytes = 0;
    SecAggPhaseCost& operator+=(const SecAggPhaseCost& o);
};

struct SecAggCost {
    SecAggPhaseCost advertiseKeys, shareKeys, maskedInput, unmasking;
    SecAggPhaseCost total() const;
};

/// The costs of one protocol instance with n clients that shared their keys, `dropped` of them dropping before
/// MaskedInputCollection (s = n - dropped survivors, all answering the unmasking), vectors of m elements of
/// `bits` bits and threshold t (0: secAggDefaultThreshold(n)). Bonawitz et al. 2017, Sec. 7.1: client computation
/// O(n^2 + m n) (n - 1 key agreements twice, 2 Shamir sharings of n shares of degree t - 1, n PRG expansions of m
/// elements), client communication O(n + m); server computation O(m n^2) with a fixed drop-out fraction
/// (reconstructing n secrets from t shares each, s self masks, and for each dropped client s key agreements and s
/// PRG expansions of m elements), server communication O(n^2 + m n) (it relays the n x (n - 1) encrypted shares).
/// Per phase:
///  - AdvertiseKeys: client 2 key generations, sends 2 public keys, receives the n entries (id, 2 keys).
///  - ShareKeys: client (n - 1) agreements (encryption keys), 2 n t Shamir multiply-adds, encrypts n - 1
///    ciphertexts of 2 ids + 2 shares + overhead; the server relays them.
///  - MaskedInputCollection: client decrypts its n - 1 ciphertexts, (n - 1) agreements (mask keys), n m PRG
///    elements, m encodings; sends m x bits / 8 bytes. The server receives s vectors and adds them (s m).
///  - Unmasking: the server sends the s survivor ids to each survivor, which answers with n - 1 shares (id +
///    share); the server computes the Lagrange coefficients (t^2) and n secrets (n t), s m PRG elements (self masks),
///    dropped x s agreements and dropped x s x m PRG elements.
SecAggCost secAggCost(long n, long m, long dropped, int bits, const SecAggConstants& c = {}, long threshold = 0);

} // namespace dml::privacy
