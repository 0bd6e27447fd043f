// SPDX-License-Identifier: GPL-3.0-or-later
#include "strategies/overlap.h"

#include <stdexcept>

namespace dml {

namespace {
/// Local channels between a rank's body and its background actor.
enum LocalTag { Work = 1, Done = 2 };
enum Kind { BucketReady = 0, Stop = 1 };
} // namespace

std::vector<GradientBucket> makeBuckets(const std::vector<LayerCost>& layers, double capBytes)
{
    if (!(capBytes > 0))
        throw std::invalid_argument("makeBuckets: the bucket cap must be > 0 bytes");
    std::vector<GradientBucket> out;
    long long offset = 0;
    for (const LayerCost& l : layers)
        offset += l.parameters;
    long long end = offset; // the open bucket is [offset, end)
    int lowest = 0;         // the lowest layer whose parameters are in the open bucket
    for (int l = int(layers.size()) - 1; l >= 0; --l) {
        if (layers[std::size_t(l)].parameters == 0)
            continue;
        offset -= layers[std::size_t(l)].parameters;
        lowest = l;
        if (4.0 * double(end - offset) >= capBytes) {
            out.push_back({int(out.size()), offset, end, l});
            end = offset;
        }
    }
    if (end > offset) // the rest, ready with the first layer that has parameters
        out.push_back({int(out.size()), offset, end, lowest});
    return out;
}

BackwardOverlap::BackwardOverlap(const std::vector<LayerCost>& layers, const OverlapSpec& spec, int batch)
    : m_layers(layers), m_buckets(makeBuckets(layers, spec.bucketCapBytes)), m_batch(batch)
{
    for (const LayerCost& l : m_layers)
        m_forward += l.forward;
}

void BackwardOverlap::start(Transport& t, Reduce reduce)
{
    m_started = true;
    t.spawnBackground([this, reduce = std::move(reduce)](Transport& bt) {
        for (;;) {
            const Message m = bt.takeLocal(Work);
            if (m.kind == Stop)
                break;
            reduce(bt, m_buckets[std::size_t(m.version)]);
            bt.postLocal(Done, Message{.kind = BucketReady, .version = m.version});
        }
        bt.postLocal(Done, Message{.kind = Stop});
    });
}

void BackwardOverlap::step(Transport& t, const std::function<void()>& gradientReady,
                           const std::function<void(const GradientBucket&)>& handOff)
{
    if (!m_started && !handOff)
        throw std::logic_error("BackwardOverlap::step: neither a background actor (start) nor a hand-off");
    t.compute(double(m_batch) * m_forward);
    if (gradientReady)
        gradientReady();
    auto ready = [&](std::size_t b) {
        if (m_started)
            t.postLocal(Work, Message{.kind = BucketReady, .version = long(b)});
        else
            handOff(m_buckets[b]);
    };
    std::size_t next = 0; // the next bucket to hand over
    for (int l = int(m_layers.size()) - 1; l >= 0; --l) {
        t.compute(double(m_batch) * m_layers[std::size_t(l)].backward);
        for (; next < m_buckets.size() && m_buckets[next].readyAfter == l; ++next)
            ready(next);
    }
    for (; next < m_buckets.size(); ++next) // not reached: every bucket is ready after some layer
        ready(next);
    if (m_started)
        for (std::size_t b = 0; b < m_buckets.size(); ++b)
            t.takeLocal(Done);
}

void BackwardOverlap::stop(Transport& t)
{
    if (!m_started)
        return;
    m_started = false;
    t.postLocal(Work, Message{.kind = Stop});
    while (t.takeLocal(Done).kind != Stop) {
    }
}

} // namespace dml
