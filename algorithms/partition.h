// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
#include "dataset.h"
#include "rng.h"

#include <cstdint>
#include <vector>

namespace dml {

/// Sample indices per worker (or client): shards[w] lists the training samples worker w owns.
using Partition = std::vector<std::vector<int>>;

/// IID partition: a seeded shuffle of [0, samples) cut into `parts` contiguous shards whose sizes differ by
/// at most one. Throws ConfigError("platform.workers") if parts < 1 or parts > samples.
Partition partitionIid(int samples, int parts, std::uint64_t seed);

/// Label histogram of each shard: result[w][c] = number of samples of class c in shard w.
std::vector<std::vector<int>> labelHistogram(const Partition& p, const Dataset& d);

/// Draws mini-batches from one shard without replacement: each epoch is a fresh seeded shuffle of the shard,
/// cut into floor(shard / batch) batches (the incomplete tail is dropped, as in PyTorch's drop_last).
class BatchSampler {
public:
    /// Throws ConfigError("workload.batch_size") if batch < 1 or batch > shard size.
    BatchSampler(std::vector<int> shard, int batch, std::uint64_t seed);

    int batchesPerEpoch() const { return m_batchesPerEpoch; }
    int batchSize() const { return m_batch; }
    /// The next batch's sample indices (batchSize() of them); reshuffles at each epoch boundary.
    const int* next();
    /// Epochs started so far (1 after the first call to next()).
    int epoch() const { return m_epoch; }

private:
    std::vector<int> m_order;
    int m_batch;
    int m_batchesPerEpoch;
    int m_cursor;
    int m_epoch = 0;
    std::uint64_t m_seed;
};

/// Seed of worker (or client) `worker`'s BatchSampler in a run seeded with `seed`.
inline std::uint64_t workerSeed(std::uint64_t seed, int worker) { return deriveSeed(seed, 0x3C4, std::uint64_t(worker)); }

/// Copies the columns `idx[0..n)` of `d` into `x` (features x n) and their labels into `y`.
void gatherBatch(const Dataset& d, const int* idx, int n, Eigen::MatrixXf& x, std::vector<std::uint8_t>& y);

} // namespace dml
