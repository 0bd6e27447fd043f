// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// What a strategy needs to send compressed gradients (issue 13): the compressor a scenario names, each sender's
// memory (error feedback or DGC's momentum correction) and the receiver's aggregation, plus the byte and time
// counters every strategy reports the same way (Summary::compressor ...). The strategies decide where encodings
// travel; this file only turns a flat float vector into an Encoded and a set of Encoded back into one vector.
#include "compression/compressor.h"
#include "compression/dgc.h"
#include "compression/errorfeedback.h"
#include "compression/sparsify.h"
#include "compression/spec.h"

#include <memory>
#include <optional>

namespace dml {
struct Summary;
class Transport;
struct Message;
}

namespace dml::compression {

/// The compressor of `spec`: nullptr for none and powersgd (which is not an encode/decode pair). `allReduce`:
/// for a ring all-reduce, random-k shares one seed per step over the ranks (so its encodings are summable);
/// otherwise each rank draws its own indices. Throws std::invalid_argument for parameters out of range (the
/// scenario layer names the field first).
std::unique_ptr<Compressor> makeCompressor(const CompressionSpec& spec, bool allReduce = false);

/// Whether the receiver combines encodings by majority vote (signSGD without error feedback, Bernstein et al. 2018)
/// instead of a (weighted) mean of their decodings.
bool majorityVote(const CompressionSpec& spec);

struct CompressionCounters;

/// The sending side of one rank and one vector: the compressor plus that rank's memory, kept across steps (and,
/// for a federated client, across the rounds it takes part in).
///  - error feedback (spec.errorFeedback): p = g + e; send C(p); e = p - decode(C(p))  (errorfeedback.h)
///  - momentum correction (spec.momentumCorrection, top-k only): DGC's local velocity and accumulation (dgc.h)
///  - neither: send C(g)
class GradientEncoder {
public:
    /// `c` must outlive the encoder. `momentum`: the optimizer's momentum, used only with momentum correction.
    GradientEncoder(const Compressor& c, const CompressionSpec& spec, float momentum = 0.0f);
    /// Encodes g (n floats) with `seed` into `out`. Returns the flops to charge: the memory's arithmetic plus the
    /// compressor's encode (and, with a memory, the decode it needs for the residual).
    double encode(const Eigen::Ref<const Eigen::VectorXf>& g, std::uint64_t seed, Encoded& out);
    /// Flops encode() charges for n floats, without encoding (for proxy workloads).
    double encodeFlops(double n) const;
    /// The sender's step every strategy shares: encodes v (n floats) with `seed` into m.encoded and sets m.bytes
    /// to its size; charges the flops on t and counts the message (m.bytes before the call is its fp32 size) in
    /// `counters`. v == nullptr (a proxy workload): m.bytes becomes the size of an encoding of n floats and the
    /// flops are charged, with nothing encoded.
    void encodeMessage(const Eigen::VectorXf* v, double n, std::uint64_t seed, Transport& t,
                       CompressionCounters& counters, Message& m);

private:
    const Compressor& m_c;
    const Sparsifier* m_sparse; ///< m_c as a sparsifier (top-k, random-k), or nullptr
    std::optional<ErrorFeedback> m_ef;
    std::optional<MomentumCorrection> m_dgc;
    Eigen::VectorXf m_decoded;          ///< scratch: what the receivers will decode (dense error feedback)
    std::vector<std::uint32_t> m_kept; ///< scratch: DGC's sent indices
};

/// The receiving side: acc = sum_i weights[i] decode(parts[i]), in the order given (the callers pass rank order),
/// or with `vote`, acc = decode(majorityVote(parts)) (weights ignored: Bernstein et al.'s server steps by the
/// vote). acc is resized to the parts' n. Returns the flops to charge. Throws std::invalid_argument if parts is
/// empty, the lengths differ, or weights has another size.
double aggregate(const Compressor& c, bool vote, std::span<const Encoded* const> parts, std::span<const float> weights,
                 Eigen::VectorXf& acc);
/// Flops aggregate() charges for `parts` encodings of n floats, without decoding (for proxy workloads).
double aggregateFlops(const Compressor& c, bool vote, double n, int parts);

/// What a run reports about compression, accumulated by the strategy as its ranks send (one simulation runs its
/// actors one at a time, so plain sums are safe).
struct CompressionCounters {
    double uncompressedBytes = 0; ///< fp32 size of the compressed messages sent
    double compressedBytes = 0;   ///< their encoded size as sent
    double codecSeconds = 0;      ///< simulated s spent encoding, decoding and aggregating, summed over ranks
    /// One compressed message of `uncompressed` fp32 bytes sent as `compressed` bytes.
    void sent(double uncompressed, double compressed)
    {
        uncompressedBytes += uncompressed;
        compressedBytes += compressed;
    }
    /// t.compute(flops) for encoding, decoding or aggregating; the simulated time it took counts in codecSeconds.
    void compute(Transport& t, double flops);
    /// Fills Summary::compressor, uncompressedBytes, compressedBytes, codecSeconds (and localSteps).
    void fill(const CompressionSpec& spec, int localSteps, Summary& s) const;
};

} // namespace dml::compression
