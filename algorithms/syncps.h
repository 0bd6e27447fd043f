// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
#include "evaluator.h"
#include "model.h"
#include "optimizer.h"
#include "partition.h"
#include "strategy.h"
#include "vectorpool.h"
#include "workload.h"

namespace dml {

/// Synchronous parameter server: bulk-synchronous data-parallel SGD (Dean et al. 2012, Sec. 4 "sandblaster"
/// synchronous variant; Li et al. 2014, OSDI "Scaling distributed ML with the parameter server").
///
/// Ranks 0..P-1 are workers, rank P the server. The server sends the model to every worker; each worker
/// computes the gradient of its next mini-batch (drawn from its shard) and sends it back; the server waits
/// for all P gradients (the barrier), averages them in rank order, applies the optimizer, and sends the new
/// model. Messages: model and gradient are each 4 bytes x numParams.
///
/// Workers' shards come from makePartition(cfg.partition, ...); every shard must hold a full batch (ConfigError
/// "workload.batch_size" otherwise). A proxy workload (cfg.proxy) runs the same protocol with the same compute
/// charges and message sizes, but messages carry no data and no parameter vector exists.
class SyncParameterServer final : public Strategy {
public:
    enum Tag { ToWorker = 1, ToServer = 2 };
    enum Kind { Model = 1, Gradient = 2, Stop = 3 };

    SyncParameterServer(int workers, const TrainingConfig& cfg, const TrainTest& data, MetricsSink& sink);
    int numRanks() const override { return m_workers + 1; }
    std::string roleOf(int rank) const override { return rank == m_workers ? "server" : "worker"; }
    void run(int rank, Transport& t) override;
    std::string stopReason() const override { return m_evaluator.stopReason(); }
    void completeSummary(Summary& s) const override { m_evaluator.completeSummary(s); }
    const Eigen::VectorXf& finalModel() const override { return m_final; }
    const std::vector<std::vector<int>>* shards() const override { return &m_partition; }

    /// Flops the server is charged per step: sum P gradients, scale, optimizer update.
    double serverFlopsPerStep() const;
    /// Flops a worker is charged per step: one forward+backward pass over its mini-batch.
    double workerFlopsPerStep() const { return double(m_cfg.batchSize) * m_workload.trainFlopsPerSample(); }

private:
    VectorPool m_pool; ///< models and gradients, reused across steps and clients
    void runServer(Transport& t);
    void runWorker(int rank, Transport& t);
    int m_workers;
    TrainingConfig m_cfg;
    const TrainTest& m_data;
    Workload m_workload;
    Partition m_partition;
    long m_stepsPerEpoch;
    Evaluator m_evaluator;
    Eigen::VectorXf m_final;
};

} // namespace dml
