// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
#include "compression/codec.h"
#include "evaluator.h"
#include "recovery/checkpoint.h"
#include "models/model.h"
#include "optim/optimizer.h"
#include "data/partition.h"
#include "strategy.h"
#include "vectorpool.h"
#include "models/workload.h"

#include <vector>

namespace dml {

/// Asynchronous parameter server: Downpour SGD (Dean et al. 2012, "Large scale distributed deep networks",
/// Sec. 4.1) with one server shard, i.e. Hogwild-style lock-free updates applied in arrival order (Recht et al.
/// 2011); optionally bounded staleness (stale-synchronous parallel, Ho et al. 2013, "More effective distributed
/// ML via a stale synchronous parallel parameter server", Sec. 2).
///
/// Ranks 0..P-1 are workers, rank P the server. A worker repeatedly pulls the current model, computes the
/// gradient of its next mini-batch (from its own part of makePartition) and pushes it. The server applies each
/// gradient as it arrives (one optimizer step, no averaging, no barrier) and replies with the current model to
/// that worker only. Messages: model and gradient are each 4 bytes x numParams.
///
/// Staleness of an applied update = model versions applied between the worker's pull and its push (its
/// gradient was computed on version v, the server is at version v' when it applies it: staleness v' - v). Each
/// one is reported as sink.point("staleness", time, value); completeSummary() fills stalenessMean/Max.
///
/// Bound s >= 0 (stalenessBound), in clocks as Ho et al. 2013 (Sec. 2) define them: a worker's clock is the
/// number of its updates applied so far (one update per clock). A worker at clock c may compute its next gradient
/// only while c - (the slowest worker's clock) <= s; otherwise the server withholds its reply until the slowest
/// catches up (it then gets the model current at release time). s = 0 lets no worker run ahead (every worker
/// pushes once per round of P updates, applied one by one, not averaged); s = -1: unbounded (plain Downpour).
/// The bound is on clocks, not on staleness in model versions: staleness counts every other worker's updates
/// between a pull and a push, so it can exceed s by far (with P identical workers it is about P - 1 whatever s). Each model sent to a worker records its clock gap c - min clock as the series
/// "clock_gap" (never above s).
///
/// Steps: one Evaluator step = one applied update. One epoch = P x stepsPerEpoch(samples, P, batch) updates, so
/// that an epoch still means every sample seen once across all workers (each worker contributes its share),
/// and the run plans epochs x P x stepsPerEpoch updates.
///
/// Stop: once the Evaluator says stop, the model is final; the server answers every worker's next message (and
/// every withheld worker) with Stop, and receives and discards the gradients still in flight, so no worker is
/// left blocked. With one worker the updates are those of SyncParameterServer with one worker, bit for bit.
class AsyncParameterServer final : public Strategy {
public:
    enum Tag { ToWorker = 1, ToServer = 2 };
    enum Kind { Model = 1, Gradient = 2, Stop = 3 };

    /// `workers` = P >= 1; `stalenessBound` = s (-1 unbounded). Throws ConfigError as makeStrategy documents.
    AsyncParameterServer(int workers, int stalenessBound, const TrainingConfig& cfg, const TrainTest& data,
                         MetricsSink& sink);
    int numRanks() const override { return m_workers + 1; }
    std::string roleOf(int rank) const override { return rank == m_workers ? "server" : "worker"; }
    void run(int rank, Transport& t) override;
    std::string stopReason() const override { return m_evaluator.stopReason(); }
    const Eigen::VectorXf& finalModel() const override { return m_final; }
    const std::vector<std::vector<int>>* shards() const override { return &m_partition; }
    void completeSummary(Summary& s) const override;
    std::vector<std::string> failureTolerantRoles() const override
    {
        return m_clock ? std::vector<std::string>{"worker", "server"} : std::vector<std::string>{"worker"};
    }
    /// Checkpoint-restart (README "Failures"), which a server failure needs: every K applied updates (or T
    /// simulated seconds) the server saves the model, the optimizer, its version and the workers' clocks, the
    /// workers' batch samplers, the staleness statistics and the evaluator's position, and writes
    /// recovery::checkpointBytes while it applies nothing (the workers' pushes wait in its queue). After any
    /// failure the supervisor restarts every rank from the last checkpoint (restoreCheckpoint). Deviation from a
    /// pause-free replay: gradients in flight when a checkpoint was taken are lost at a restart, and their batches
    /// are not drawn again (the samplers are saved as they stand). Not with compression (error-feedback memory is
    /// not saved); makeStrategy validated the spec (checkRecovery).
    void setCheckpointing(const CheckpointSpec& spec);
    const CheckpointSpec* checkpointing() const override { return m_clock ? &m_clock->spec() : nullptr; }
    long progress() const override { return m_done; }
    CheckpointRef restoreCheckpoint() override;

    /// Compression of the workers' gradients (makeStrategy validated it: checkCompression). Each worker encodes
    /// with its own memory (error feedback); the server decodes each gradient as it arrives and applies it.
    void setCompression(const compression::CompressionSpec& spec);
    /// Worker failures (a platform whose worker hosts go off: availability): the server waits at most `seconds`
    /// (> 0; ConfigError "strategy.failure_detection" otherwise) at a time for a push, and after each wait leaves
    /// out the workers whose host went off (Transport::peerFailed): a dead worker never pushes again, its clock no
    /// longer bounds the others under SSP (the bound applies among the live workers), a push it made before
    /// failing is discarded if it arrives after, and the run goes on with the others (series "failed_workers",
    /// one point per failure at its detection). If every worker fails, the run ends with stop reason
    /// "workers_failed". Without failures the waits only add timer events: the results are the same.
    void setFailureDetection(double seconds);
    /// Flops the server is charged per applied update: one optimizer step.
    double serverFlopsPerUpdate() const;
    /// Flops a worker is charged per gradient: one forward+backward pass over its mini-batch.
    double workerFlopsPerStep() const { return double(m_cfg.batchSize) * m_workload.trainFlopsPerSample(); }
    /// Updates that make one epoch: P x stepsPerEpoch(samples, P, batch).
    long updatesPerEpoch() const { return m_updatesPerEpoch; }

private:
    VectorPool m_pool; ///< models and gradients, reused across steps and clients
    void runServer(Transport& t);
    void runWorker(int rank, Transport& t);
    int m_workers;
    int m_bound;
    TrainingConfig m_cfg;
    const TrainTest& m_data;
    Workload m_workload;
    Partition m_partition;
    long m_updatesPerEpoch;
    MetricsSink& m_sink;
    Evaluator m_evaluator;
    Eigen::VectorXf m_final;
    double m_stalenessSum = 0;
    long m_stalenessCount = 0;
    long m_stalenessMax = -1;
    double m_failureDetection = 1.0;
    compression::CompressionSpec m_compression;
    std::unique_ptr<compression::Compressor> m_compressor; ///< nullptr: none
    compression::CompressionCounters m_counters;
    std::vector<BatchSampler> m_samplers; ///< per worker (in the strategy so that checkpoints can save them)
    struct Snapshot {
        long step = 0;   ///< updates applied
        double time = 0; ///< when its write completed
        recovery::ModelState model;
        std::vector<long> clock;
        std::vector<BatchSampler> samplers;
        double stalenessSum = 0;
        long stalenessCount = 0, stalenessMax = -1;
        Evaluator::State evaluator;
    };
    std::optional<recovery::CheckpointClock> m_clock; ///< set: checkpoint-restart
    Snapshot m_committed;
    bool m_resuming = false;
    long m_done = 0;
};

} // namespace dml
