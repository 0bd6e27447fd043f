// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
#include "compression/codec.h"
#include "evaluator.h"
#include "model.h"
#include "optimizer.h"
#include "partition.h"
#include "strategy.h"
#include "workload.h"

#include <functional>
#include <vector>

namespace dml {

/// Two scalars that ride along a ringAllReduce at no extra bytes, in the messages that carry chunk 0: a sum
/// (e.g. the workers' mini-batch losses) and a bitwise OR of flags (e.g. "stop after this step").
struct RingScalars {
    double sum = 0; ///< in: this rank's term; out: the sum over ranks, added in rank order 0, 1, ..., P-1
    long flags = 0; ///< in: this rank's bits; out: the OR over ranks
};

/// Bandwidth-optimal ring all-reduce (Patarasuk & Yuan 2009, "Bandwidth optimal all-reduce algorithms for
/// clusters of workstations", Sec. 3; as in Horovod, Sergeev & Del Balso 2018): a reduce-scatter of P-1 steps
/// followed by an all-gather of P-1 steps. The vector is cut into P chunks of near-equal length (lengths differ
/// by at most one: the first N mod P chunks hold one more element). In every step each rank sends one chunk to
/// (rank+1) mod P and receives one from (rank-1+P) mod P (isend, recv, waitAll).
///  - Reduce-scatter step s = 0..P-2: send chunk (rank-s) mod P, receive chunk (rank-s-1) mod P and add it into
///    the local copy (charged 1 flop per element added). Afterwards rank r holds the full sum of chunk (r+1) mod P.
///  - All-gather step s = 0..P-2: send chunk (rank+1-s) mod P, receive chunk (rank-s) mod P and overwrite it.
///
/// Result: `*data` becomes the element-wise SUM over the P ranks (not the mean: callers divide). Chunk c is summed
/// in the fixed ring order c, c+1, ..., c+P-1 (mod P), never in arrival order, and then copied to every rank, so
/// all ranks end with bit-identical vectors.
///
/// Must be called by all P ranks with the same P, N, totalBytes and tagBase; uses channel `tagBase` only.
/// `data`: N floats (the same N on every rank), or nullptr for a proxy workload, in which case N =
/// round(totalBytes / 4) is used for the chunk lengths and the additions are charged but not done. A chunk of
/// len elements is sent as totalBytes x len / N bytes. Simulated time under the alpha-beta model with P ranks on
/// private links of bandwidth B: 2(P-1)(alpha + totalBytes/(P B)) plus the additions.
/// `scalars` (optional): see RingScalars. P == 1 leaves everything unchanged.
void ringAllReduce(Transport& t, int rank, int P, Eigen::VectorXf* data, double totalBytes, int tagBase,
                   RingScalars* scalars = nullptr);

/// Chunk c's [begin, end) when N elements are cut into P near-equal chunks (as ringAllReduce does).
std::pair<Eigen::Index, Eigen::Index> ringChunk(Eigen::Index N, int P, int c);

/// Data-parallel SGD with ring all-reduce, no server (Horovod: Sergeev & Del Balso 2018, Sec. 3; the
/// all-reduce of Patarasuk & Yuan 2009). Ranks 0..P-1 are workers, each with its own replica of the model and
/// its own copy of the optimizer, started from the same seeded initial parameters. Each step every worker
/// computes the gradient of its next mini-batch (from its part of makePartition), all-reduces it, divides the
/// sum by P and applies the optimizer: every replica applies the same averaged gradient, so the replicas stay
/// bit-identical. Workers are charged batch x trainFlopsPerSample per gradient, the chunk additions, and
/// N (the division) + the optimizer's flops per step.
///
/// Steps per epoch: stepsPerEpoch(samples, P, batch), as in SyncParameterServer. Rank 0 reports to the Evaluator;
/// the train loss is the mean of the P workers' mini-batch losses, summed along the all-reduce (RingScalars).
/// Stop: the planned last step is known to every rank. An early stop (target accuracy, simulated-time limit) is
/// decided by rank 0 after step k and announced in the flags of step k+1's all-reduce; every rank then discards
/// that step's reduced gradient, so the final model is the one evaluated at step k.
/// finalModel() = rank 0's replica.
class RingAllReduceStrategy final : public Strategy {
public:
    enum Tag { Ring = 1 };
    /// Called by every worker after it applied step `step`, with its replica (numParams floats; empty for a
    /// proxy). For tests and tools, e.g. checking that replicas agree; charges no simulated time.
    using ReplicaObserver = std::function<void(int rank, long step, const Eigen::VectorXf& params)>;

    RingAllReduceStrategy(int workers, const TrainingConfig& cfg, const TrainTest& data, MetricsSink& sink);
    int numRanks() const override { return m_workers; }
    std::string roleOf(int) const override { return "worker"; }
    void run(int rank, Transport& t) override;
    std::string stopReason() const override { return m_evaluator.stopReason(); }
    void completeSummary(Summary& s) const override
    {
        m_evaluator.completeSummary(s);
        m_counters.fill(m_compression, m_localSteps, s);
    }
    const Eigen::VectorXf& finalModel() const override { return m_final; }
    const std::vector<std::vector<int>>* shards() const override { return &m_partition; }

    /// Compression of the all-reduced gradients and local SGD (makeStrategy validated them: checkCompression).
    void setCompression(const compression::CompressionSpec& spec, int localSteps = 1);
    void setReplicaObserver(ReplicaObserver f) { m_observer = std::move(f); }
    /// Flops a worker is charged per step for its gradient: one forward+backward pass over its mini-batch.
    double workerFlopsPerStep() const { return double(m_cfg.batchSize) * m_workload.trainFlopsPerSample(); }
    /// Flops a worker is charged per step after the all-reduce: N divisions + the optimizer step.
    double updateFlopsPerStep() const;

private:
    int m_workers;
    TrainingConfig m_cfg;
    const TrainTest& m_data;
    Workload m_workload;
    Partition m_partition;
    long m_stepsPerEpoch;
    Evaluator m_evaluator;
    Eigen::VectorXf m_final;
    ReplicaObserver m_observer;
    compression::CompressionSpec m_compression;
    int m_localSteps = 1;
    compression::CompressionCounters m_counters;
};

} // namespace dml
