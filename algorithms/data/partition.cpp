// SPDX-License-Identifier: GPL-3.0-or-later
#include "data/partition.h"

#include "error.h"
#include "rng.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <queue>
#include <stdexcept>
#include <string>
#include <utility>

namespace dml {

namespace {

void checkParts(int samples, int parts)
{
    if (parts < 1 || parts > samples)
        throw ConfigError("platform.workers", "expected between 1 and " + std::to_string(samples) +
                                                  " (the training samples), got " + std::to_string(parts));
}

void checkAlpha(double alpha)
{
    if (!(alpha > 0.0) || !std::isfinite(alpha))
        throw ConfigError("workload.partitioning.alpha",
                          "expected a Dirichlet concentration greater than 0, got " + std::to_string(alpha));
}

/// The sample indices of each class, in index order. Throws std::invalid_argument (naming `who`) for a label
/// outside [0, classes).
std::vector<std::vector<int>> samplesByClass(const std::vector<std::uint8_t>& labels, int classes, const char* who)
{
    std::vector<std::vector<int>> byClass(static_cast<std::size_t>(std::max(classes, 0)));
    for (std::size_t i = 0; i < labels.size(); ++i) {
        const int c = labels[i];
        if (c >= classes)
            throw std::invalid_argument(std::string(who) + ": label " + std::to_string(c) + " of sample " +
                                        std::to_string(i) + " outside [0, " + std::to_string(classes) + ")");
        byClass[std::size_t(c)].push_back(int(i));
    }
    return byClass;
}

} // namespace

Partition partitionIid(int samples, int parts, std::uint64_t seed)
{
    checkParts(samples, parts);
    std::vector<int> all(static_cast<std::size_t>(samples));
    std::iota(all.begin(), all.end(), 0);
    Rng rng(deriveSeed(seed, 0x9A27));
    rng.shuffle(std::span<int>(all));
    Partition p(static_cast<std::size_t>(parts));
    std::size_t begin = 0;
    for (int w = 0; w < parts; ++w) {
        const std::size_t size = std::size_t(samples / parts + (w < samples % parts ? 1 : 0));
        p[std::size_t(w)].assign(all.begin() + std::ptrdiff_t(begin), all.begin() + std::ptrdiff_t(begin + size));
        begin += size;
    }
    return p;
}


double logGammaVariate(Rng& rng, double shape)
{
    if (shape < 1.0) {
        // Gamma(a) = Gamma(a + 1) * U^(1/a): in logs, log Gamma(a + 1) + log(U) / a.
        double u = 0.0;
        while (u <= 0.0)
            u = rng.uniform();
        return logGammaVariate(rng, shape + 1.0) + std::log(u) / shape;
    }
    const double d = shape - 1.0 / 3.0;
    const double c = 1.0 / std::sqrt(9.0 * d);
    for (;;) {
        const double x = rng.normal();
        double v = 1.0 + c * x;
        if (v <= 0.0)
            continue;
        v = v * v * v;
        const double u = rng.uniform();
        const double x2 = x * x;
        if (u < 1.0 - 0.0331 * x2 * x2) // the squeeze: accepts ~98 % without a logarithm
            return std::log(d) + std::log(v);
        if (u > 0.0 && std::log(u) < 0.5 * x2 + d * (1.0 - v + std::log(v)))
            return std::log(d) + std::log(v);
    }
}

std::vector<double> sampleDirichlet(Rng& rng, const std::vector<double>& concentration)
{
    std::vector<double> p(concentration.size());
    double top = -std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < p.size(); ++i) {
        p[i] = concentration[i] > 0.0 ? logGammaVariate(rng, concentration[i])
                                      : -std::numeric_limits<double>::infinity();
        top = std::max(top, p[i]);
    }
    double sum = 0.0;
    for (double& x : p) {
        x = std::exp(x - top); // the largest becomes 1: the sum is >= 1, never 0; exp(-inf) = 0
        sum += x;
    }
    for (double& x : p)
        x /= sum;
    return p;
}

std::vector<double> sampleDirichlet(Rng& rng, double alpha, int k)
{
    return sampleDirichlet(rng, std::vector<double>(static_cast<std::size_t>(k), alpha));
}

Partition partitionDirichlet(const std::vector<std::uint8_t>& labels, int classes, int parts, double alpha,
                             std::uint64_t seed)
{
    const int samples = int(labels.size());
    checkParts(samples, parts);
    checkAlpha(alpha);
    std::vector<std::vector<int>> pools = samplesByClass(labels, classes, "partitionDirichlet");
    const std::size_t nc = pools.size();
    std::vector<double> concentration(nc); // alpha p
    for (std::size_t c = 0; c < nc; ++c) {
        concentration[c] = alpha * double(pools[c].size()) / double(samples);
        Rng rng(deriveSeed(seed, 0x4A5C, c));
        rng.shuffle(std::span<int>(pools[c])); // taken from the back
    }
    Partition p(static_cast<std::size_t>(parts));
    std::vector<double> w(nc);
    std::vector<std::size_t> take(nc);
    for (int k = 0; k < parts; ++k) {
        Rng rng(deriveSeed(seed, 0x4A5D, std::uint64_t(k)));
        const std::vector<double> q = sampleDirichlet(rng, concentration); // this part's class mix
        std::fill(take.begin(), take.end(), 0);
        std::size_t need = std::size_t(samples / parts + (k < samples % parts ? 1 : 0));
        while (need > 0) { // each pass fills the part or empties a pool: a capped class had fewer than its count
            double total = 0.0;
            for (std::size_t c = 0; c < nc; ++c) {
                w[c] = pools[c].size() > take[c] ? q[c] : 0.0; // q renormalised over the classes left
                total += w[c];
            }
            if (!(total > 0.0)) { // the classes left all have q = 0 (underflow at tiny alpha): by pool size
                for (std::size_t c = 0; c < nc; ++c) {
                    w[c] = double(pools[c].size() - take[c]);
                    total += w[c];
                }
            }
            // need x w / total, rounded so the counts sum to need: the differences of the rounded cumulative sums,
            // the last class with weight taking what rounding left.
            std::size_t last = 0;
            for (std::size_t c = 0; c < nc; ++c)
                if (w[c] > 0.0)
                    last = c;
            double cum = 0.0;
            std::size_t below = 0, given = 0;
            for (std::size_t c = 0; c <= last; ++c) {
                cum += w[c];
                const std::size_t upTo =
                    c == last ? need
                              : std::clamp(std::size_t(std::llround(cum / total * double(need))), below, need);
                const std::size_t n = std::min(upTo - below, pools[c].size() - take[c]); // at most what is left
                take[c] += n;
                given += n;
                below = upTo;
            }
            need -= given;
        }
        std::vector<int>& part = p[std::size_t(k)];
        for (std::size_t c = 0; c < nc; ++c) {
            part.insert(part.end(), pools[c].end() - std::ptrdiff_t(take[c]), pools[c].end());
            pools[c].resize(pools[c].size() - take[c]);
        }
    }
    return p;
}

Partition partitionDirichletPerClass(const std::vector<std::uint8_t>& labels, int classes, int parts, double alpha,
                                     std::uint64_t seed)
{
    const int samples = int(labels.size());
    checkParts(samples, parts);
    checkAlpha(alpha);
    std::vector<std::vector<int>> byClass = samplesByClass(labels, classes, "partitionDirichletPerClass");
    Partition p(static_cast<std::size_t>(parts));
    for (int c = 0; c < classes; ++c) {
        std::vector<int>& idx = byClass[std::size_t(c)];
        const auto n = std::ptrdiff_t(idx.size());
        Rng rng(deriveSeed(seed, 0xD1C1, std::uint64_t(c)));
        rng.shuffle(std::span<int>(idx));
        const std::vector<double> q = sampleDirichlet(rng, alpha, parts);
        double cum = 0.0;
        std::ptrdiff_t begin = 0;
        for (int w = 0; w < parts; ++w) {
            cum += q[std::size_t(w)];
            std::ptrdiff_t end = w + 1 == parts ? n : std::clamp<std::ptrdiff_t>(std::llround(cum * double(n)), begin, n);
            p[std::size_t(w)].insert(p[std::size_t(w)].end(), idx.begin() + begin, idx.begin() + end);
            begin = end;
        }
    }
    // No empty part: each empty part takes one sample from the largest part (lowest index on ties). Since
    // samples >= parts, a part with at least 2 samples exists whenever one is empty (pigeonhole).
    std::priority_queue<std::pair<std::size_t, int>> largest; // (size, -index): largest size, then lowest index
    for (int w = 0; w < parts; ++w)
        if (!p[std::size_t(w)].empty())
            largest.emplace(p[std::size_t(w)].size(), -w);
    for (int w = 0; w < parts; ++w) {
        if (!p[std::size_t(w)].empty())
            continue;
        const int donor = -largest.top().second;
        largest.pop();
        std::vector<int>& from = p[std::size_t(donor)];
        p[std::size_t(w)].push_back(from.back());
        from.pop_back();
        largest.emplace(from.size(), -donor);
    }
    return p;
}

Partition partitionShards(const std::vector<std::uint8_t>& labels, int parts, int shardsPerClient,
                          std::uint64_t seed)
{
    const int samples = int(labels.size());
    checkParts(samples, parts);
    if (shardsPerClient < 1 || (long long)parts * shardsPerClient > samples)
        throw ConfigError("workload.partitioning.shards_per_client",
                          "expected between 1 and " + std::to_string(samples / parts) + " (" +
                              std::to_string(samples) + " samples over " + std::to_string(parts) +
                              " parts, at least one sample per shard), got " + std::to_string(shardsPerClient));
    std::vector<int> sorted(static_cast<std::size_t>(samples));
    std::iota(sorted.begin(), sorted.end(), 0);
    std::stable_sort(sorted.begin(), sorted.end(),
                     [&](int a, int b) { return labels[std::size_t(a)] < labels[std::size_t(b)]; });
    const int shards = parts * shardsPerClient;
    std::vector<std::size_t> shardBegin(static_cast<std::size_t>(shards) + 1, 0);
    for (int s = 0; s < shards; ++s)
        shardBegin[std::size_t(s) + 1] = shardBegin[std::size_t(s)] +
                                         std::size_t(samples / shards + (s < samples % shards ? 1 : 0));
    std::vector<int> order(static_cast<std::size_t>(shards));
    std::iota(order.begin(), order.end(), 0);
    Rng rng(deriveSeed(seed, 0x5A4D));
    rng.shuffle(std::span<int>(order));
    Partition p(static_cast<std::size_t>(parts));
    for (int w = 0; w < parts; ++w)
        for (int k = 0; k < shardsPerClient; ++k) {
            const auto s = std::size_t(order[std::size_t(w * shardsPerClient + k)]);
            p[std::size_t(w)].insert(p[std::size_t(w)].end(), sorted.begin() + std::ptrdiff_t(shardBegin[s]),
                                     sorted.begin() + std::ptrdiff_t(shardBegin[s + 1]));
        }
    return p;
}

Partition makePartition(const PartitionSpec& spec, const Dataset& d, int parts, std::uint64_t seed)
{
    switch (spec.kind) {
    case PartitionSpec::Kind::Iid: return partitionIid(d.numSamples(), parts, seed);
    case PartitionSpec::Kind::Dirichlet: return partitionDirichlet(d.labels, d.classes, parts, spec.alpha, seed);
    case PartitionSpec::Kind::DirichletPerClass:
        return partitionDirichletPerClass(d.labels, d.classes, parts, spec.alpha, seed);
    case PartitionSpec::Kind::Shards: return partitionShards(d.labels, parts, spec.shardsPerClient, seed);
    }
    throw ConfigError("workload.partitioning.type", "unknown partitioning");
}

void checkBatchFits(const Partition& p, int batch)
{
    std::size_t smallest = 0;
    for (std::size_t w = 1; w < p.size(); ++w)
        if (p[w].size() < p[smallest].size())
            smallest = w;
    if (!p.empty() && (batch < 1 || int(p[smallest].size()) < batch))
        throw ConfigError("workload.batch_size",
                          "expected between 1 and " + std::to_string(p[smallest].size()) + " (the samples of part " +
                              std::to_string(smallest) + ", the smallest), got " + std::to_string(batch));
}

std::vector<std::vector<int>> labelHistogram(const Partition& p, const Dataset& d)
{
    std::vector<std::vector<int>> h(p.size(), std::vector<int>(std::size_t(d.classes), 0));
    for (std::size_t w = 0; w < p.size(); ++w)
        for (int i : p[w])
            ++h[w][d.labels[std::size_t(i)]];
    return h;
}

PartitionStats partitionStats(const std::vector<std::vector<int>>& counts)
{
    PartitionStats s;
    s.parts = int(counts.size());
    if (counts.empty())
        return s;
    std::size_t classes = 0;
    for (const auto& row : counts)
        classes = std::max(classes, row.size());
    std::vector<double> global(classes, 0.0), size(counts.size(), 0.0);
    for (std::size_t k = 0; k < counts.size(); ++k)
        for (std::size_t c = 0; c < counts[k].size(); ++c) {
            global[c] += counts[k][c];
            size[k] += counts[k][c];
        }
    const double total = std::accumulate(size.begin(), size.end(), 0.0);
    s.sizeMin = *std::min_element(size.begin(), size.end());
    s.sizeMax = *std::max_element(size.begin(), size.end());
    for (std::size_t k = 0; k < counts.size(); ++k) {
        if (size[k] <= 0.0)
            continue; // distance 0, share 0
        double tv = 0.0, largest = 0.0;
        for (std::size_t c = 0; c < classes; ++c) {
            const double n = c < counts[k].size() ? double(counts[k][c]) : 0.0;
            tv += std::fabs(n / size[k] - global[c] / total);
            largest = std::max(largest, n);
        }
        s.labelSkew += 0.5 * tv;
        s.largestClassShare += largest / size[k];
    }
    s.labelSkew /= double(counts.size());
    s.largestClassShare /= double(counts.size());
    return s;
}

BatchSampler::BatchSampler(std::vector<int> shard, int batch, std::uint64_t seed)
    : m_order(std::move(shard)), m_batch(batch), m_seed(seed)
{
    if (batch < 1 || batch > int(m_order.size()))
        throw ConfigError("workload.batch_size", "expected between 1 and " + std::to_string(m_order.size()) +
                                                     " (the samples of one shard), got " + std::to_string(batch));
    m_batchesPerEpoch = int(m_order.size()) / batch;
    m_cursor = m_batchesPerEpoch; // forces a shuffle on the first call
}

const int* BatchSampler::next()
{
    if (m_cursor == m_batchesPerEpoch) {
        Rng rng(deriveSeed(m_seed, 0xE90C, std::uint64_t(m_epoch)));
        rng.shuffle(std::span<int>(m_order));
        m_cursor = 0;
        ++m_epoch;
    }
    return m_order.data() + std::size_t(m_cursor++) * std::size_t(m_batch);
}

void gatherBatch(const Dataset& d, const int* idx, int n, Eigen::MatrixXf& x, std::vector<std::uint8_t>& y)
{
    x.resize(d.features.rows(), n);
    y.resize(std::size_t(n));
    for (int j = 0; j < n; ++j) {
        x.col(j) = d.features.col(idx[j]);
        y[std::size_t(j)] = d.labels[std::size_t(idx[j])];
    }
}

} // namespace dml
