// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
#include "compression/codec.h"
#include "compression/powersgd.h"
#include "evaluator.h"
#include "privacy/ledger.h"
#include "recovery/checkpoint.h"
#include "models/model.h"
#include "optim/optimizer.h"
#include "data/partition.h"
#include "strategy.h"
#include "vectorpool.h"
#include "models/workload.h"

namespace dml {

/// Synchronous parameter server: bulk-synchronous data-parallel SGD (Dean et al. 2012, Sec. 4 "sandblaster"
/// synchronous variant; Li et al. 2014, OSDI "Scaling distributed ML with the parameter server").
///
/// Ranks 0..P-1 are workers, rank P the server. The server sends the model to every worker; each worker
/// computes the gradient of its next mini-batch (drawn from its shard) and sends it back; the server waits
/// for all P gradients (the barrier), averages them in rank order, applies the optimizer, and sends the new
/// model. Messages: model and gradient are each 4 bytes x numParams.
///
/// Backup workers (Chen et al. 2016, "Revisiting distributed synchronous SGD", arXiv:1604.00981, Sec. 3 and
/// Algorithm 3-4): with b = backupWorkers > 0 the server aggregates the first N = P - b gradients of each step to
/// arrive and drops the other b (their bytes still crossed the network; the time per step then follows the N-th
/// fastest worker, not the slowest). The N gradients are averaged (scale 1/N) in rank order, never arrival order.
/// Gradients carry the model version they were computed on (Message::version); a late one from an earlier step
/// is discarded when it arrives. Every worker receives each new model; a worker that was late takes the newest
/// model waiting for it (dropping older ones) and starts its next step from it, so its late result is simply
/// ignored, as in the paper. Dropped gradients per step are reported as the series "dropped_gradients" (one point
/// per step at the aggregation time; the b late gradients of a step count as dropped at that step, whether or not
/// they later arrive). With b = 0 the protocol and its results are exactly the plain barrier's.
///
/// Workers' shards come from makePartition(cfg.partition, ...); every shard must hold a full batch (ConfigError
/// "workload.batch_size" otherwise). A proxy workload (cfg.proxy) runs the same protocol with the same compute
/// charges and message sizes, but messages carry no data and no parameter vector exists.
class SyncParameterServer final : public Strategy {
public:
    enum Tag { ToWorker = 1, ToServer = 2 };
    enum Kind { Model = 1, Gradient = 2, Stop = 3, Factors = 4 };

    /// `workers` = P >= 1, `backupWorkers` = b in [0, P) (ConfigError "strategy.backup_workers" otherwise).
    SyncParameterServer(int workers, const TrainingConfig& cfg, const TrainTest& data, MetricsSink& sink,
                        int backupWorkers = 0);
    int numRanks() const override { return m_workers + 1; }
    std::string roleOf(int rank) const override { return rank == m_workers ? "server" : "worker"; }
    void run(int rank, Transport& t) override;
    std::string stopReason() const override { return m_evaluator.stopReason(); }
    void completeSummary(Summary& s) const override
    {
        m_evaluator.completeSummary(s);
        m_counters.fill(m_compression, m_localSteps, s);
        m_privacy.fill(s);
        if (m_clock)
            m_clock->fill(s);
    }
    const Eigen::VectorXf& finalModel() const override { return m_final; }
    const std::vector<std::vector<int>>* shards() const override { return &m_partition; }

    /// Compression of the workers' gradients (or, with local SGD, model updates) and local SGD (makeStrategy
    /// validated them: checkCompression).
    void setCompression(const compression::CompressionSpec& spec, int localSteps = 1);
    /// Example-level DP-SGD (Abadi et al. 2016, "Deep learning with differential privacy", Algorithm 1): each
    /// worker clips every example's gradient to L2 norm C and sends the sum over its batch
    /// (Workload::clippedGradientSum); the server adds N(0, (z C)^2 I) to the sum over the P workers (seeded
    /// deriveSeed(seed, 0xD95, step)), divides by the lot L = P x B and applies the optimizer. Accounting: one
    /// sampled Gaussian mechanism per step with q = L / (training samples). Deviation, as in Abadi et al.'s own
    /// implementation and most Opacus runs: lots are drawn by shuffling each worker's shard (BatchSampler), not by
    /// Poisson sampling, and accounted as Poisson. makeStrategy validated the spec (checkPrivacy).
    void setPrivacy(const privacy::PrivacySpec& spec) { m_privacy.setSpec(spec); }
    /// Overlap (strategy.overlap; makeStrategy checked it: checkOverlap, the plain protocol only): each worker
    /// charges its backward pass layer by layer (Workload::layers(), last layer first) and pushes each gradient
    /// bucket (makeBuckets) to the server as soon as it is ready, while its backward pass goes on, as PS frameworks
    /// push layer by layer (Zhang et al. 2017, "Poseidon: an efficient communication architecture for distributed
    /// deep learning on GPU clusters", wait-free backpropagation; MXNet's KVStore). The server adds each bucket into
    /// the sum as it arrives (its additions charged then), and applies the optimizer once every worker's buckets are
    /// in; the model goes back whole. The arithmetic is unchanged: the same sum in rank order, bit for bit.
    void setOverlap(const OverlapSpec& spec) { m_overlap = spec; }
    /// Elastic recovery (as Horovod Elastic and TorchElastic's elastic mode do for data parallelism): a worker's
    /// failure (its host went off, or a failed link cut it off: Transport::peerFailed) becomes known to the server
    /// exactly `failureDetection` seconds (> 0) after it happened (Transport::peerFailedAt; a heartbeat timeout, the
    /// same detection that checkpoint-restart charges); the server then leaves the worker out (series
    /// "failed_workers", one point per failure at its detection). The step then averages the gradients of the survivors (a gradient sent before its worker
    /// failed still counts), and every later step waits for the live workers minus b; series "live_workers", one
    /// point per step. The run keeps its planned steps (an epoch stays the nominal steps per epoch) and a failed
    /// worker's shard is not trained on while it is away (no re-partitioning, which Horovod Elastic does). A failed
    /// worker whose host is back on (and not cut off) re-joins at the next step boundary: the server relaunches its
    /// body (Transport::launch), it receives that step's model and its sampler goes on where it stopped (series
    /// "rejoined_workers"). If every worker fails the run ends with stop reason "workers_failed". Off: the plain
    /// barrier, bit for bit.
    void setRecovery(bool elastic, double failureDetection);
    std::vector<std::string> failureTolerantRoles() const override
    {
        return m_clock     ? std::vector<std::string>{"worker", "server"}
               : m_elastic ? std::vector<std::string>{"worker"} : std::vector<std::string>{};
    }
    /// Checkpoint-restart (TorchElastic's restart of every rank; README "Failures"): after a step that
    /// recovery::CheckpointClock says is due, the server saves the model, the optimizer state, every worker's batch
    /// sampler and the evaluator's position, and writes recovery::checkpointBytes to its checkpoint storage
    /// (Transport::writeCheckpoint) while the workers wait for the next model, as a synchronous torch.save on the
    /// server would; the checkpoint counts once the write completed. After a failure the supervisor calls
    /// restoreCheckpoint(); the relaunched server reads the checkpoint (Transport::readCheckpoint) and goes on from
    /// its step, so the lost steps are redone on the same batches and give the same numbers bit for bit. With
    /// backup workers, a late worker's sampler is saved as it stands (deterministic, but the replay may differ
    /// from the failure-free run). makeStrategy validated the spec (checkRecovery).
    void setCheckpointing(const CheckpointSpec& spec);
    const CheckpointSpec* checkpointing() const override { return m_clock ? &m_clock->spec() : nullptr; }
    long progress() const override { return m_done; }
    CheckpointRef restoreCheckpoint() override;
    /// b, the backup workers whose gradients each step drops.
    int backupWorkers() const { return m_backup; }
    /// Flops the server is charged per step: sum N = P - b gradients, scale, optimizer update.
    double serverFlopsPerStep() const;
    /// Flops a worker is charged per step: one forward+backward pass over its mini-batch.
    double workerFlopsPerStep() const { return double(m_cfg.batchSize) * m_workload.trainFlopsPerSample(); }

private:
    VectorPool m_pool; ///< models and gradients, reused across steps and clients
    void runServer(Transport& t);
    void runWorker(int rank, Transport& t);
    int m_workers;
    int m_backup; ///< b: gradients dropped per step
    MetricsSink& m_sink;
    TrainingConfig m_cfg;
    const TrainTest& m_data;
    Workload m_workload;
    Partition m_partition;
    long m_stepsPerEpoch;
    Evaluator m_evaluator;
    Eigen::VectorXf m_final;
    compression::CompressionSpec m_compression;
    int m_localSteps = 1;
    OverlapSpec m_overlap{};
    std::unique_ptr<compression::Compressor> m_compressor; ///< nullptr: none or powersgd
    compression::CompressionCounters m_counters;
    privacy::PrivacyLedger m_privacy;
    bool m_elastic = false;
    double m_failureDetection = 1.0;
    /// Per worker, in the strategy rather than in the worker's body so that checkpoints can save them.
    std::vector<BatchSampler> m_samplers;
    /// A saved state: the model and optimizer after `step` steps (no model: the initial one), the samplers, the
    /// evaluator's position.
    struct Snapshot {
        long step = 0;
        double time = 0; ///< when its write completed
        recovery::ModelState model;
        std::vector<BatchSampler> samplers;
        Evaluator::State evaluator;
    };
    std::optional<recovery::CheckpointClock> m_clock; ///< set: checkpoint-restart
    Snapshot m_committed;     ///< the last completed checkpoint (step 0: the initial state)
    bool m_resuming = false;  ///< the next server body starts from m_committed
    long m_done = 0;          ///< steps applied (progress())
};

} // namespace dml
