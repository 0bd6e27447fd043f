// SPDX-License-Identifier: GPL-3.0-or-later
#include "partition.h"

#include "error.h"
#include "rng.h"

#include <numeric>

namespace dml {

Partition partitionIid(int samples, int parts, std::uint64_t seed)
{
    if (parts < 1 || parts > samples)
        throw ConfigError("platform.workers", "expected between 1 and " + std::to_string(samples) +
                                                  " (the training samples), got " + std::to_string(parts));
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

std::vector<std::vector<int>> labelHistogram(const Partition& p, const Dataset& d)
{
    std::vector<std::vector<int>> h(p.size(), std::vector<int>(std::size_t(d.classes), 0));
    for (std::size_t w = 0; w < p.size(); ++w)
        for (int i : p[w])
            ++h[w][d.labels[std::size_t(i)]];
    return h;
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
