// SPDX-License-Identifier: GPL-3.0-or-later
#include "compression/codec.h"

#include "compression/halfprecision.h"
#include "compression/qsgd.h"
#include "compression/signsgd.h"
#include "compression/sparsify.h"
#include "metrics.h"
#include "transport.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace dml::compression {

const char* toString(CompressionSpec::Kind k)
{
    using K = CompressionSpec::Kind;
    switch (k) {
    case K::None: return "none";
    case K::TopK: return "topk";
    case K::RandomK: return "randomk";
    case K::Qsgd: return "qsgd";
    case K::Sign: return "sign";
    case K::Fp16: return "fp16";
    case K::Bf16: return "bf16";
    case K::PowerSgd: return "powersgd";
    }
    return "?";
}

std::string describe(const CompressionSpec& s)
{
    using K = CompressionSpec::Kind;
    auto percent = [](double r) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%g%%", 100.0 * r);
        return std::string(buf);
    };
    std::string d;
    switch (s.kind) {
    case K::None: return "none";
    case K::TopK: d = "topk " + percent(s.ratio); break;
    case K::RandomK: d = "randomk " + percent(s.ratio); break;
    case K::Qsgd: d = "qsgd " + std::to_string(s.bits) + "-bit"; break;
    case K::Sign: return s.errorFeedback ? "EF-signSGD" : "signSGD (majority vote)";
    case K::Fp16: d = "fp16"; break;
    case K::Bf16: d = "bf16"; break;
    case K::PowerSgd: d = "powersgd rank " + std::to_string(s.rank); break;
    }
    if (s.momentumCorrection)
        return d + " + DGC";
    return s.errorFeedback ? d + " + EF" : d;
}

std::unique_ptr<Compressor> makeCompressor(const CompressionSpec& spec, bool allReduce)
{
    using K = CompressionSpec::Kind;
    switch (spec.kind) {
    case K::None:
    case K::PowerSgd: return nullptr;
    case K::TopK: return std::make_unique<TopK>(Keep{.fraction = spec.ratio});
    case K::RandomK: return std::make_unique<RandomK>(Keep{.fraction = spec.ratio}, allReduce);
    case K::Qsgd: return std::make_unique<Qsgd>(Qsgd::levelsForBits(spec.bits), Eigen::Index(spec.bucket));
    case K::Sign:
        return std::make_unique<SignCompressor>(spec.errorFeedback ? SignCompressor::Scale::MeanAbs
                                                                   : SignCompressor::Scale::None);
    case K::Fp16: return std::make_unique<Fp16>();
    case K::Bf16: return std::make_unique<Bf16>();
    }
    throw std::invalid_argument("unknown compression kind");
}

bool majorityVote(const CompressionSpec& spec)
{
    return spec.kind == CompressionSpec::Kind::Sign && !spec.errorFeedback;
}

GradientEncoder::GradientEncoder(const Compressor& c, const CompressionSpec& spec, float momentum)
    : m_c(c), m_sparse(dynamic_cast<const Sparsifier*>(&c))
{
    if (spec.momentumCorrection) {
        if (!m_sparse)
            throw std::invalid_argument("momentum correction needs a sparsifier, not " + c.name());
        m_dgc.emplace(momentum);
    } else if (spec.errorFeedback) {
        m_ef.emplace();
    }
}

double GradientEncoder::encode(const Eigen::Ref<const Eigen::VectorXf>& g, std::uint64_t seed, Encoded& out)
{
    if (m_dgc) { // MomentumCorrection::step without its decode, which nothing here reads
        m_sparse->encodeInto(m_dgc->accumulate(g), seed, out);
        m_sparse->indices(out, m_kept);
        m_dgc->mask(m_kept);
    } else if (m_ef && m_sparse)
        m_ef->stepSparse(*m_sparse, g, seed, out);
    else if (m_ef)
        m_ef->step(m_c, g, seed, out, m_decoded);
    else
        m_c.encodeInto(g, seed, out);
    return encodeFlops(double(g.size()));
}

double GradientEncoder::encodeFlops(double n) const
{
    if (m_dgc)
        return MomentumCorrection::flops(n) + m_c.encodeFlops(n) + m_c.decodeFlops(n);
    if (m_ef)
        return ErrorFeedback::flops(n) + m_c.encodeFlops(n) + m_c.decodeFlops(n);
    return m_c.encodeFlops(n);
}

void GradientEncoder::encodeMessage(const Eigen::VectorXf* v, double n, std::uint64_t seed, Transport& t,
                                    CompressionCounters& counters, Message& m)
{
    const double uncompressed = m.bytes;
    double flops = encodeFlops(n);
    m.bytes = m_c.encodedBytes(Eigen::Index(n));
    if (v) {
        auto e = std::make_shared<Encoded>();
        flops = encode(*v, seed, *e);
        m.bytes = e->bytes();
        m.encoded = std::move(e);
    }
    m.data = nullptr;
    counters.compute(t, flops);
    counters.sent(uncompressed, m.bytes);
}

double aggregate(const Compressor& c, bool vote, std::span<const Encoded* const> parts, std::span<const float> weights,
                 Eigen::VectorXf& acc)
{
    if (parts.empty())
        throw std::invalid_argument(c.name() + ": aggregate of no encodings");
    const Eigen::Index n = parts[0]->n;
    if (vote) {
        const auto* sign = dynamic_cast<const SignCompressor*>(&c);
        if (!sign)
            throw std::invalid_argument("majority vote needs the sign compressor, not " + c.name());
        Encoded v;
        sign->majorityVote(parts, v);
        sign->decodeInto(v, acc);
        return aggregateFlops(c, vote, double(n), int(parts.size()));
    }
    if (weights.size() != parts.size())
        throw std::invalid_argument(c.name() + ": " + std::to_string(weights.size()) + " weights for " +
                                    std::to_string(parts.size()) + " encodings");
    acc.setZero(n);
    for (std::size_t i = 0; i < parts.size(); ++i)
        c.accumulate(*parts[i], weights[i], acc);
    return aggregateFlops(c, vote, double(n), int(parts.size()));
}

double aggregateFlops(const Compressor& c, bool vote, double n, int parts)
{
    if (vote)
        return SignCompressor::voteFlops(n, parts) + c.decodeFlops(n);
    return double(parts) * c.accumulateFlops(n);
}

void CompressionCounters::compute(Transport& t, double flops)
{
    if (!(flops > 0))
        return;
    const double start = t.now();
    t.compute(flops);
    codecSeconds += t.now() - start;
}

void CompressionCounters::fill(const CompressionSpec& spec, int localSteps, Summary& s) const
{
    s.compressor = describe(spec);
    s.uncompressedBytes = uncompressedBytes;
    s.compressedBytes = compressedBytes;
    s.codecSeconds = codecSeconds;
    s.localSteps = localSteps;
}

} // namespace dml::compression
