// SPDX-License-Identifier: GPL-3.0-or-later
#include "strategy.h"

#include "asyncps.h"
#include "error.h"
#include "fedavg.h"
#include "ringallreduce.h"
#include "syncps.h"

#include <algorithm>
#include <cmath>

namespace dml {

long stepsPerEpoch(int samples, int workers, int batch)
{
    if (workers < 1 || workers > samples)
        throw ConfigError("platform.workers", "expected between 1 and " + std::to_string(samples) +
                                                  " (the training samples), got " + std::to_string(workers));
    const int smallestShard = samples / workers;
    if (batch < 1 || batch > smallestShard)
        throw ConfigError("workload.batch_size", "expected between 1 and " + std::to_string(smallestShard) +
                                                     " (the samples of one worker's shard), got " +
                                                     std::to_string(batch));
    return smallestShard / batch;
}

const char* toString(StrategyKind k)
{
    switch (k) {
    case StrategyKind::SyncPs: return "sync-ps";
    case StrategyKind::AsyncPs: return "async-ps";
    case StrategyKind::RingAllReduce: return "ring-allreduce";
    case StrategyKind::FedAvg: return "fedavg";
    }
    return "?";
}

std::unique_ptr<Strategy> makeStrategy(const StrategySpec& spec, const TrainingConfig& cfg, const TrainTest& data,
                                       MetricsSink& sink)
{
    if (cfg.proxy.parameters > 0 && cfg.partition.kind != PartitionSpec::Kind::Iid)
        throw ConfigError("workload.partitioning.type", "a proxy workload supports only iid partitioning");
    if (cfg.proxy.parameters > 0 && !(cfg.proxy.trainFlopsPerSample >= 0))
        throw ConfigError("workload.proxy.train_flops_per_sample",
                          "expected 0 or more flops, got " + std::to_string(cfg.proxy.trainFlopsPerSample));
    if (spec.kind != StrategyKind::SyncPs && spec.backupWorkers != 0)
        throw ConfigError("strategy.backup_workers", "only sync-ps has backup workers");
    switch (spec.kind) {
    case StrategyKind::SyncPs:
        stepsPerEpoch(data.train.numSamples(), spec.workers, cfg.batchSize); // validates
        return std::make_unique<SyncParameterServer>(spec.workers, cfg, data, sink, spec.backupWorkers);
    case StrategyKind::AsyncPs:
        stepsPerEpoch(data.train.numSamples(), spec.workers, cfg.batchSize);
        if (spec.stalenessBound < -1)
            throw ConfigError("strategy.staleness_bound", "expected -1 (unbounded) or a bound s >= 0 in clocks (updates per worker), got " +
                                                              std::to_string(spec.stalenessBound));
        return std::make_unique<AsyncParameterServer>(spec.workers, spec.stalenessBound, cfg, data, sink);
    case StrategyKind::RingAllReduce:
        stepsPerEpoch(data.train.numSamples(), spec.workers, cfg.batchSize);
        return std::make_unique<RingAllReduceStrategy>(spec.workers, cfg, data, sink);
    case StrategyKind::FedAvg:
        // Clients may hold fewer samples than a batch (they then train on their whole part): no stepsPerEpoch.
    {
        auto fed = std::make_unique<FederatedAveraging>(spec.workers, spec.clientFraction, spec.localEpochs,
                                                        spec.proxMu, spec.rounds, cfg, data, sink);
        fed->setRoundRules({.deadline = spec.roundDeadline, .targetClients = spec.targetClients,
                            .failureDetection = spec.failureDetection});
        return fed;
    }
    }
    throw ConfigError("strategy.type", "unknown strategy");
}

Summary summarize(const std::vector<Sample>& samples, const std::vector<HostStats>& hosts, double targetAccuracy)
{
    Summary s;
    s.targetAccuracy = targetAccuracy;
    if (!samples.empty()) {
        s.finalAccuracy = samples.back().testAccuracy;
        s.finalTestLoss = samples.back().testLoss;
        s.steps = samples.back().step;
        s.epochs = samples.back().epoch;
    }
    for (const Sample& x : samples) {
        s.bestAccuracy = std::max(s.bestAccuracy, x.testAccuracy);
        if (targetAccuracy > 0 && s.timeToTarget < 0 && x.testAccuracy >= targetAccuracy)
            s.timeToTarget = x.time;
    }
    double comm = 0, compute = 0, idle = 0, elapsed = 0;
    for (const HostStats& h : hosts) {
        s.simulatedTime = std::max(s.simulatedTime, h.finish);
        s.bytesOnWire += h.bytesSent;
        s.bytesLost += h.bytesLost;
        if (h.role != "worker" && h.role != "client") // fedavg's clients are its workers
            continue;
        comm += h.communication;
        compute += h.compute;
        idle += h.idle;
        elapsed += h.elapsed;
    }
    if (elapsed > 0) {
        s.communicationOverhead = comm / elapsed;
        s.utilization = compute / elapsed;
        s.idleFraction = idle / elapsed;
    }
    return s;
}

} // namespace dml
