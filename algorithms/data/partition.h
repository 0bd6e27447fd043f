// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
#include "data/dataset.h"
#include "rng.h"
#include "strategy.h"

#include <cstdint>
#include <vector>

namespace dml {

/// Sample indices per worker (or client): shards[w] lists the training samples worker w owns.
using Partition = std::vector<std::vector<int>>;

/// IID partition: a seeded shuffle of [0, samples) cut into `parts` contiguous shards whose sizes differ by
/// at most one. Throws ConfigError("platform.workers") if parts < 1 or parts > samples.
Partition partitionIid(int samples, int parts, std::uint64_t seed);

/// Label-skewed partition with equal client sizes, after Hsu, Qi & Brown 2019 ("Measuring the effects of
/// non-identical data distribution for federated visual classification", arXiv:1909.06335, Sec. 3): part k holds
/// n_k = floor(N / K) or ceil(N / K) samples (the first N mod K parts one more) and has a class mix
/// q_k ~ Dir(alpha p), where p is the training set's class distribution (p_c = n_c / N). Its samples are taken by
/// that mix without replacement from per-class pools (each a seeded shuffle of the class's samples), parts in index
/// order. Small alpha: each part holds one or two classes; large alpha: every part close to p. Only the labels are
/// skewed, not the sizes (compare partitionDirichletPerClass).
///
/// Our handling of what the paper leaves open:
/// - Counts, not draws: part k takes n_k q_kc samples of class c, rounded so that they sum to n_k (differences of
///   the rounded cumulative sums), where the paper draws each label from Categorical(q_k). This removes the
///   multinomial noise (a mean TV distance of about 0.05 from p for 600 samples of 10 classes even at q_k = p), so
///   the measured skew reflects alpha alone.
/// - When a class pool runs dry, q_k is renormalised over the classes that still have samples and the shortfall is
///   apportioned again; should those classes all have q_kc = 0 (underflow at tiny alpha), the part takes in
///   proportion to the remaining pool sizes. So late parts take what the early ones left.
/// - A class absent from the labels (p_c = 0) gets q_kc = 0.
/// Every sample is assigned exactly once. `labels`: one per sample, each in [0, classes). Deterministic for a seed
/// (pool c shuffled by Rng(deriveSeed(seed, 0x4A5C, c)); q_k drawn from Rng(deriveSeed(seed, 0x4A5D, k))).
/// O(N + K x classes^2) time: 60,000 samples over 1,000 parts take a few milliseconds.
/// Throws ConfigError("platform.workers") if parts < 1 or parts > samples,
/// ConfigError("workload.partitioning.alpha") if alpha <= 0 (or not finite), std::invalid_argument for a label
/// outside [0, classes).
Partition partitionDirichlet(const std::vector<std::uint8_t>& labels, int classes, int parts, double alpha,
                             std::uint64_t seed);

/// Per-class Dirichlet split (Yurochkin et al. 2019, "Bayesian nonparametric federated learning of neural
/// networks", the heterogeneous partition of their experiments; NIID-Bench: Li, Diao, Chen & He 2022, "Federated
/// learning on non-IID data silos: an experimental study", Sec. III-A, distribution-based label imbalance): for each
/// class c, proportions q_c ~ Dir(alpha, ..., alpha) over the `parts` parts, and the samples of class c (in a seeded
/// shuffle) are cut into `parts` consecutive runs of lengths round(cumsum(q_c) * n_c) differences. Small alpha:
/// each class lands on few parts. Besides label skew this adds quantity skew: part sizes vary widely (at
/// alpha = 0.1 over 20 parts, from a handful of samples to several times N / K).
///
/// `labels`: one per sample, each in [0, classes). Every sample is assigned exactly once. No part is empty:
/// after the draw, each empty part (in part order) receives the last sample of the currently largest part
/// (lowest index on ties), which keeps every donor non-empty since samples >= parts. Deterministic for a seed
/// (one Rng per class, seeded with deriveSeed(seed, 0xD1C1, class)).
/// Throws ConfigError("platform.workers") if parts < 1 or parts > samples,
/// ConfigError("workload.partitioning.alpha") if alpha <= 0 (or not finite), std::invalid_argument for a label
/// outside [0, classes).
Partition partitionDirichletPerClass(const std::vector<std::uint8_t>& labels, int classes, int parts, double alpha,
                                     std::uint64_t seed);

/// The pathological non-IID split of McMahan et al. 2017 ("Communication-efficient learning of deep networks
/// from decentralized data", Sec. 3, "Pathological Non-IID"): sort the samples by label (ties by index), cut the
/// sorted list into parts x shardsPerClient shards of near-equal size (sizes differ by at most one), and give
/// each part shardsPerClient shards chosen by a seeded permutation. Every sample is assigned exactly once; no part
/// is empty because every shard holds at least one sample.
/// Throws ConfigError("platform.workers") if parts < 1 or parts > samples,
/// ConfigError("workload.partitioning.shards_per_client") if shardsPerClient < 1 or parts x shardsPerClient
/// exceeds the number of samples.
Partition partitionShards(const std::vector<std::uint8_t>& labels, int parts, int shardsPerClient,
                          std::uint64_t seed);

/// The partition every strategy uses: IID (partitionIid over d.numSamples()), Dirichlet, DirichletPerClass or Shards
/// as `spec` says, over `parts` workers or clients. For proxy workloads `d` may have 0 feature rows (features is
/// 0 x samples); non-IID kinds read d.labels. Throws what the chosen function throws.
Partition makePartition(const PartitionSpec& spec, const Dataset& d, int parts, std::uint64_t seed);

/// For data-parallel strategies, where every worker draws full mini-batches of `batch` from its own part:
/// throws ConfigError("workload.batch_size") naming the smallest part if one holds fewer than `batch` samples
/// (which a skewed non-IID partition can produce).
void checkBatchFits(const Partition& p, int batch);

/// Natural logarithm of a Gamma(shape, 1) variate: Marsaglia & Tsang 2000 ("A simple method for generating gamma
/// variables", ACM TOMS 26(3), Sec. 3 for shape >= 1; for shape < 1 their Sec. 6 boost
/// Gamma(a) = Gamma(a + 1) U^(1/a)). Returned as a logarithm so that tiny shapes (U^(1/0.01)) do not underflow
/// to 0. Draws only from rng's engine (normal(), uniform()): the same stream on every platform. shape > 0.
double logGammaVariate(Rng& rng, double shape);

/// Proportions ~ Dir(alpha, ..., alpha) over k >= 1 components (non-negative, summing to 1 up to rounding):
/// normalised Gamma(alpha, 1) variates, normalised in log space (log-sum-exp). alpha > 0.
/// The same stream as sampleDirichlet(rng, std::vector<double>(k, alpha)).
std::vector<double> sampleDirichlet(Rng& rng, double alpha, int k);

/// Proportions ~ Dir(concentration[0], ..., concentration[k-1]), as above. A component with concentration 0 gets
/// proportion 0 and draws nothing from rng (the degenerate Dirichlet). At least one concentration must be > 0;
/// none may be negative.
std::vector<double> sampleDirichlet(Rng& rng, const std::vector<double>& concentration);

/// Label histogram of each shard: result[w][c] = number of samples of class c in shard w.
std::vector<std::vector<int>> labelHistogram(const Partition& p, const Dataset& d);

/// How skewed a partition is, from its label histogram (see partitionStats).
struct PartitionStats {
    int parts = 0;                   ///< rows of the histogram
    double sizeMin = 0, sizeMax = 0; ///< samples in the smallest and the largest part
    /// Mean over parts of the total-variation distance between the part's label distribution and the global one
    /// (the histogram's column sums): (1/2) sum_c |h[k][c] / n_k - g_c / N|, in [0, 1]; 0 = IID labels.
    double labelSkew = 0;
    double largestClassShare = 0;    ///< mean over parts of max_c h[k][c] / n_k, in (0, 1]; 1 = one class per part
};

/// Statistics of a label histogram `counts` (parts x classes, counts[k][c] = samples of class c in part k, as
/// labelHistogram returns; rows may differ in length, missing entries count as 0). Means are unweighted over parts;
/// an empty part (n_k = 0) counts with distance 0 and share 0. An empty histogram gives all zeros. No throws.
PartitionStats partitionStats(const std::vector<std::vector<int>>& counts);

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
