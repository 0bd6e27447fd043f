// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Gradient compression (issue 13): the encode/decode interface every compressor implements, the encoded message,
// and the uncompressed fp32 format as the baseline. Eigen only: strategies decide where encodings travel (a
// parameter server's push, a ring all-reduce's chunks, an all-gather), compressors only turn floats into bytes
// and back. PowerSGD (powersgd.h) is not an encode/decode pair and has its own step-by-step interface.
//
// Conventions shared by every compressor in this folder:
//  - A gradient is a flat float vector of n elements (one layer, a bucket, a ring chunk or the whole model).
//  - Encoded::payload is the real wire format, built bit by bit; its size is the byte count charged to the
//    network. encodedBytes(n) gives that size without encoding (for proxy workloads that carry no numbers).
//  - Deterministic: randomness comes only from the 64-bit seed passed to encodeInto(), drawn with the project's
//    own generators (rng.h, no std::*_distribution), so the same gradient and seed give the same payload. A
//    strategy derives the seed with deriveSeed(run seed, rank, step). Float reductions (QSGD's norms, the sign
//    scale) follow Eigen's vectorisation, so builds for different instruction sets may differ in a last bit there,
//    as the training arithmetic itself does.
//  - Flop counts are for simulated time: arithmetic operations and comparisons per element, as documented by
//    each compressor; memory moves (copies, zero fills, bit packing shifts) are not counted.
//  - Invalid parameters throw std::invalid_argument (the scenario layer validates its fields first and names
//    them); a payload whose size does not match its n throws std::invalid_argument in decodeInto().
#include <Eigen/Core>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace dml::compression {

/// One encoded gradient as it crosses the network.
struct Encoded {
    Eigen::Index n = 0;                ///< floats of the gradient it encodes (known to the receiver, not sent)
    std::uint64_t seed = 0;            ///< the seed encodeInto() drew from; not sent (receivers derive it as the sender
                                       ///< did); read only by formats that regenerate randomness (RandomK, shared)
    std::vector<std::uint8_t> payload; ///< the wire format
    /// Bytes on the wire: the payload's size.
    double bytes() const { return double(payload.size()); }
};

/// A gradient compressor: stateless and const (error feedback and momentum correction are separate pieces,
/// errorfeedback.h and dgc.h), so one instance serves every rank.
class Compressor {
public:
    virtual ~Compressor() = default;
    /// Short name for logs and scenarios, e.g. "topk(0.01)", "qsgd(s=127,bucket=512)", "fp16".
    virtual std::string name() const = 0;

    /// Encodes g (n floats) into `out` (its payload is reused, so a caller that keeps one Encoded per rank does
    /// not allocate every step). Deterministic in (g, seed).
    virtual void encodeInto(const Eigen::Ref<const Eigen::VectorXf>& g, std::uint64_t seed, Encoded& out) const = 0;
    /// Decodes `e` into `out` (resized to e.n floats). Throws std::invalid_argument if the payload's size is not
    /// encodedBytes(e.n).
    virtual void decodeInto(const Encoded& e, Eigen::VectorXf& out) const = 0;

    /// Size in bytes of the encoding of any n-float gradient (every format here has a size fixed by n).
    virtual double encodedBytes(Eigen::Index n) const = 0;
    /// Flops of encodeInto() and decodeInto() for an n-float gradient (see the conventions above).
    virtual double encodeFlops(double n) const = 0;
    virtual double decodeFlops(double n) const = 0;

    /// True if encodings can be added in encoded form (sum()), so a ring all-reduce can reduce them chunk by
    /// chunk; false if they must be all-gathered and each decoded (top-k, QSGD, sign).
    virtual bool summable() const = 0;
    /// For summable formats: the encoding of the element-wise sum of the decoded parts (all of the same n), as one
    /// reduction step of an all-reduce computes it. Throws std::logic_error if !summable(), std::invalid_argument
    /// if parts is empty or their n (or, for RandomK, their seeds) differ.
    virtual void sum(std::span<const Encoded* const> parts, Encoded& out) const;
    /// Flops of sum() over `parts` encodings of n floats.
    virtual double sumFlops(double n, int parts) const;

    /// acc += weight * decode(e), acc holding e.n floats: an aggregator's step (a parameter server summing its
    /// workers' encodings, a rank adding all-gathered ones). Sparse formats add their k values in place, without a
    /// dense decode. Throws std::invalid_argument if acc.size() != e.n or the payload's size is wrong.
    virtual void accumulate(const Encoded& e, float weight, Eigen::VectorXf& acc) const;
    /// Flops of accumulate() for n floats: decodeFlops(n) + 2n here; 2k for the sparse formats.
    virtual double accumulateFlops(double n) const { return decodeFlops(n) + 2.0 * n; }

    /// Conveniences that allocate.
    Encoded encode(const Eigen::Ref<const Eigen::VectorXf>& g, std::uint64_t seed) const;
    Eigen::VectorXf decode(const Encoded& e) const;
    /// encodedBytes(n) / (4 n): the wire size relative to fp32.
    double ratio(Eigen::Index n) const { return n > 0 ? encodedBytes(n) / (4.0 * double(n)) : 1.0; }

protected:
    /// Throws std::invalid_argument naming this compressor if e's payload is not encodedBytes(e.n) bytes.
    void checkPayload(const Encoded& e) const;
};

/// No compression: the n floats as they are (IEEE-754 binary32, little-endian as in memory). 4n bytes; 0 flops;
/// summable (sum adds in float, in the order of the parts). The baseline every other format is compared with.
class NoCompression final : public Compressor {
public:
    std::string name() const override { return "none"; }
    void encodeInto(const Eigen::Ref<const Eigen::VectorXf>& g, std::uint64_t seed, Encoded& out) const override;
    void decodeInto(const Encoded& e, Eigen::VectorXf& out) const override;
    double encodedBytes(Eigen::Index n) const override { return 4.0 * double(n); }
    double encodeFlops(double) const override { return 0.0; }
    double decodeFlops(double) const override { return 0.0; }
    bool summable() const override { return true; }
    void sum(std::span<const Encoded* const> parts, Encoded& out) const override;
};

} // namespace dml::compression
