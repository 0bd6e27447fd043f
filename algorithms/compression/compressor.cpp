// SPDX-License-Identifier: GPL-3.0-or-later
#include "compression/compressor.h"

#include <cstring>
#include <stdexcept>

namespace dml::compression {

void Compressor::sum(std::span<const Encoded* const>, Encoded&) const
{
    throw std::logic_error(name() + ": encodings cannot be summed; all-gather and decode them");
}

double Compressor::sumFlops(double n, int parts) const
{
    return parts > 1 ? double(parts - 1) * n : 0.0;
}

Encoded Compressor::encode(const Eigen::Ref<const Eigen::VectorXf>& g, std::uint64_t seed) const
{
    Encoded e;
    encodeInto(g, seed, e);
    return e;
}

Eigen::VectorXf Compressor::decode(const Encoded& e) const
{
    Eigen::VectorXf out;
    decodeInto(e, out);
    return out;
}

void Compressor::accumulate(const Encoded& e, float weight, Eigen::VectorXf& acc) const
{
    if (acc.size() != e.n)
        throw std::invalid_argument(name() + ": accumulating " + std::to_string(e.n) + " floats into " +
                                    std::to_string(acc.size()));
    thread_local Eigen::VectorXf decoded; // no allocation per call once warm (one simulation per thread)
    decodeInto(e, decoded);
    acc += weight * decoded;
}

void Compressor::checkPayload(const Encoded& e) const
{
    const double expected = encodedBytes(e.n);
    if (e.n < 0 || double(e.payload.size()) != expected)
        throw std::invalid_argument(name() + ": payload of " + std::to_string(e.payload.size()) + " bytes for n = " +
                                    std::to_string(e.n) + ", expected " + std::to_string(std::int64_t(expected)));
}

void NoCompression::encodeInto(const Eigen::Ref<const Eigen::VectorXf>& g, std::uint64_t seed, Encoded& out) const
{
    out.n = g.size();
    out.seed = seed;
    out.payload.resize(std::size_t(g.size()) * 4);
    if (g.size())
        std::memcpy(out.payload.data(), g.data(), out.payload.size());
}

void NoCompression::decodeInto(const Encoded& e, Eigen::VectorXf& out) const
{
    checkPayload(e);
    out.resize(e.n);
    if (e.n)
        std::memcpy(out.data(), e.payload.data(), e.payload.size());
}

void NoCompression::sum(std::span<const Encoded* const> parts, Encoded& out) const
{
    if (parts.empty())
        throw std::invalid_argument("none: sum of no encodings");
    const Eigen::Index n = parts[0]->n;
    Eigen::VectorXf acc = decode(*parts[0]);
    Eigen::VectorXf x;
    for (std::size_t i = 1; i < parts.size(); ++i) {
        if (parts[i]->n != n)
            throw std::invalid_argument("none: sum of encodings of different lengths");
        decodeInto(*parts[i], x);
        acc += x;
    }
    encodeInto(acc, parts[0]->seed, out);
}

} // namespace dml::compression
