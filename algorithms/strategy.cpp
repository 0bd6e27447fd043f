// SPDX-License-Identifier: GPL-3.0-or-later
#include "strategy.h"

#include "strategies/asyncps.h"
#include "error.h"
#include "strategies/fedavg.h"
#include "strategies/hierfavg.h"
#include "strategies/fedbuff.h"
#include "strategies/ringallreduce.h"
#include "strategies/syncps.h"

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
    case StrategyKind::HierFavg: return "hierfavg";
    case StrategyKind::FedBuff: return "fedbuff";
    }
    return "?";
}

void checkCompression(const StrategySpec& spec, const TrainingConfig& cfg)
{
    using K = compression::CompressionSpec::Kind;
    const compression::CompressionSpec& c = spec.compression;
    const bool synchronous = spec.kind == StrategyKind::SyncPs || spec.kind == StrategyKind::RingAllReduce;
    const std::string kind = compression::toString(c.kind);
    if (spec.localSteps < 1)
        throw ConfigError("strategy.local_steps", "expected 1 (average every step) or more, got " +
                                                      std::to_string(spec.localSteps));
    if (spec.localSteps > 1 && !synchronous)
        throw ConfigError("strategy.local_steps", std::string("local SGD is for sync-ps and ring-allreduce; ") +
                                                      (spec.kind == StrategyKind::FedAvg ||
                                                               spec.kind == StrategyKind::FedBuff
                                                           ? "federated clients train strategy.local_epochs"
                                                       : spec.kind == StrategyKind::HierFavg
                                                           ? "hierfavg's clients train strategy.edge_interval steps"
                                                           : "async-ps workers never average"));
    if (spec.kind == StrategyKind::FedBuff && c.kind != K::None)
        throw ConfigError("strategy.compression.type", "fedbuff sends its clients' updates dense: compression is not "
                                                       "implemented for it (use \"none\")");
    if ((c.kind == K::TopK || c.kind == K::RandomK) && !(c.ratio > 0 && c.ratio <= 1))
        throw ConfigError("strategy.compression.ratio",
                          "expected a fraction of the elements in (0, 1], got " + std::to_string(c.ratio));
    if (c.kind == K::Qsgd && (c.bits < 2 || c.bits > 17))
        throw ConfigError("strategy.compression.bits", "expected 2 to 17 bits per element, got " + std::to_string(c.bits));
    if (c.kind == K::Qsgd && c.bucket < 0)
        throw ConfigError("strategy.compression.bucket",
                          "expected 0 (one norm) or a bucket size, got " + std::to_string(c.bucket));
    if (c.kind == K::PowerSgd) {
        if (c.rank < 1)
            throw ConfigError("strategy.compression.rank", "expected a rank of 1 or more, got " + std::to_string(c.rank));
        if (!synchronous)
            throw ConfigError("strategy.compression.type",
                              "powersgd averages its factors over all workers every step: use sync-ps or "
                              "ring-allreduce, not " + std::string(toString(spec.kind)));
        if (spec.backupWorkers > 0)
            throw ConfigError("strategy.compression.type", "powersgd needs every worker's factors: not with backup_workers");
        if (spec.localSteps > 1)
            throw ConfigError("strategy.compression.type", "powersgd compresses each step's gradient: not with local_steps > 1");
        if (cfg.proxy.parameters > 0)
            throw ConfigError("strategy.compression.type", "powersgd needs the layers' shapes: not with a proxy model");
    }
    if (c.momentumCorrection) {
        if (c.kind != K::TopK && c.kind != K::RandomK)
            throw ConfigError("strategy.compression.momentum_correction",
                              "DGC's momentum correction sparsifies a local momentum: it needs topk or randomk, not " + kind);
        if (cfg.optimizer.kind != OptimizerSpec::Kind::Momentum)
            throw ConfigError("strategy.compression.momentum_correction",
                              "needs workload.optimizer.type \"momentum\" (the workers keep the momentum, the "
                              "aggregate is applied with plain SGD)");
        if (!synchronous || spec.localSteps > 1)
            throw ConfigError("strategy.compression.momentum_correction",
                              "is for synchronous gradient averaging (sync-ps or ring-allreduce, local_steps 1)");
    }
    if (spec.kind == StrategyKind::HierFavg && c.enabled())
        throw ConfigError("strategy.compression.type", "hierfavg sends dense models (compression is for sync-ps, "
                                                       "async-ps, ring-allreduce and fedavg)");
    if (compression::majorityVote(c) && (spec.kind == StrategyKind::FedAvg || spec.localSteps > 1))
        throw ConfigError("strategy.compression.error_feedback",
                          "sign without error feedback is signSGD's majority vote of gradients; model updates "
                          "(fedavg, local SGD) need the scaled sign: set error_feedback to true");
}

void checkPrivacy(const StrategySpec& spec, const TrainingConfig&)
{
    using K = privacy::PrivacySpec::Kind;
    const privacy::PrivacySpec& p = spec.privacy;
    if (!p.enabled())
        return;
    if (spec.kind == StrategyKind::FedBuff)
        throw ConfigError("strategy.privacy.type", "differential privacy is not implemented for fedbuff (use "
                                                   "\"none\"; dp-fedavg is fedavg's)");
    if (p.kind == K::DpFedAvg && spec.kind != StrategyKind::FedAvg)
        throw ConfigError("strategy.privacy.type", std::string("dp-fedavg is user-level privacy for fedavg; for ") +
                                                       toString(spec.kind) + " use dp-sgd");
    if (p.kind == K::DpSgd && spec.kind != StrategyKind::SyncPs && spec.kind != StrategyKind::RingAllReduce)
        throw ConfigError("strategy.privacy.type", std::string("dp-sgd is for sync-ps and ring-allreduce, not ") +
                                                       toString(spec.kind) +
                                                       (spec.kind == StrategyKind::FedAvg ? " (use dp-fedavg)" : ""));
    if (p.kind == K::DpSgd && (spec.localSteps > 1 || spec.compression.enabled() || spec.backupWorkers > 0))
        throw ConfigError("strategy.privacy.type", "dp-sgd accounts for one noisy average of every worker's clipped "
                                                   "gradients per step: not with local_steps, compression or "
                                                   "backup_workers");
    if (!(p.clip > 0) || !std::isfinite(p.clip))
        throw ConfigError("strategy.privacy.clip", "expected an L2 norm bound greater than 0, got " + std::to_string(p.clip));
    if (!(p.noiseMultiplier >= 0) || !std::isfinite(p.noiseMultiplier))
        throw ConfigError("strategy.privacy.noise_multiplier",
                          "expected 0 or more (noise standard deviation / clip), got " + std::to_string(p.noiseMultiplier));
    if (!(p.delta > 0 && p.delta < 1))
        throw ConfigError("strategy.privacy.delta", "expected a probability in (0, 1), got " + std::to_string(p.delta));
    if (!(p.targetEpsilon >= 0) || !std::isfinite(p.targetEpsilon))
        throw ConfigError("strategy.privacy.target_epsilon",
                          "expected 0 (no budget) or a positive epsilon, got " + std::to_string(p.targetEpsilon));
    if (p.targetEpsilon > 0 && p.noiseMultiplier == 0)
        throw ConfigError("strategy.privacy.target_epsilon", "needs noise_multiplier > 0: without noise epsilon is infinite");
}

void checkSecureAggregation(const StrategySpec& spec, const TrainingConfig&)
{
    const privacy::SecAggSpec& a = spec.secureAggregation;
    if (!a.enabled)
        return;
    if (spec.kind != StrategyKind::FedAvg)
        throw ConfigError("strategy.secure_aggregation.enabled",
                          std::string("secure aggregation sums federated clients' updates: fedavg only, not ") +
                              toString(spec.kind));
    if (spec.compression.enabled())
        throw ConfigError("strategy.secure_aggregation.enabled",
                          "not with compression: the masked sum needs every client's whole vector in Z_R");
    if (a.bits < 16 || a.bits > 32)
        throw ConfigError("strategy.secure_aggregation.bits", "expected 16 to 32 bits per element, got " +
                                                                  std::to_string(a.bits));
    if (!(a.range > 0) || !std::isfinite(a.range))
        throw ConfigError("strategy.secure_aggregation.range",
                          "expected a clamp range greater than 0, got " + std::to_string(a.range));
    const int m = std::max(1, int(std::lround(spec.clientFraction * double(spec.workers))));
    if (m < 2)
        throw ConfigError("strategy.secure_aggregation.enabled",
                          "needs at least 2 clients per round (round(client_fraction x workers) is " +
                              std::to_string(m) + "): the sum of one client is its update");
    if (a.threshold < 0 || a.threshold > m)
        throw ConfigError("strategy.secure_aggregation.threshold",
                          "expected 0 (floor(2m/3) + 1) or 1 to " + std::to_string(m) +
                              " (the clients sampled per round), got " + std::to_string(a.threshold));
    const int t = a.threshold > 0 ? a.threshold : 2 * m / 3 + 1;
    if (spec.targetClients > 0 && t > spec.targetClients)
        throw ConfigError("strategy.secure_aggregation.threshold",
                          "the threshold t = " + std::to_string(t) + " exceeds strategy.target_clients = " +
                              std::to_string(spec.targetClients) + ": every round would close with fewer than t "
                              "masked inputs and fail");
}

std::vector<std::string> failureTolerantRoles(const StrategySpec& spec)
{
    if (spec.recovery == StrategySpec::Recovery::CheckpointRestart) // every rank is restarted
        return spec.kind == StrategyKind::RingAllReduce ? std::vector<std::string>{"worker"}
                                                        : std::vector<std::string>{"worker", "server"};
    switch (spec.kind) {
    case StrategyKind::FedAvg:
    case StrategyKind::HierFavg:
    case StrategyKind::FedBuff: return {"client"};
    case StrategyKind::AsyncPs: return {"worker"};
    case StrategyKind::SyncPs:
    case StrategyKind::RingAllReduce:
        if (spec.recovery == StrategySpec::Recovery::Elastic)
            return {"worker"};
        break;
    }
    return {};
}

namespace {
void checkCheckpointRestart(const StrategySpec& spec)
{
    const CheckpointSpec& c = spec.checkpoint;
    if (spec.kind == StrategyKind::FedBuff)
        throw ConfigError("strategy.recovery", "checkpoint-restart is not implemented for fedbuff (its clients are "
                                               "replaced when their devices go off, without it)");
    if (spec.kind == StrategyKind::FedAvg || spec.kind == StrategyKind::HierFavg)
        throw ConfigError("strategy.recovery", "checkpoint-restart is implemented for sync-ps, async-ps and "
                                               "ring-allreduce, not " + std::string(toString(spec.kind)) +
                                               " yet (its clients drop out of rounds without it)");
    if (spec.kind == StrategyKind::RingAllReduce && (c.everySeconds > 0 || c.everySteps <= 0))
        throw ConfigError("strategy.checkpoint.every", "ring-allreduce checkpoints every K steps (every_steps): "
                                                       "its ranks must agree on the step without a server");
    if (spec.compression.kind != compression::CompressionSpec::Kind::None || spec.localSteps > 1 ||
        spec.privacy.kind != privacy::PrivacySpec::Kind::None)
        throw ConfigError("strategy.recovery", "checkpoint-restart with compression, local SGD or privacy: their "
                                               "per-worker state (error feedback, local models, the privacy "
                                               "ledger) is not saved in checkpoints yet");
    if (c.everySteps < 0 || (c.everySteps == 0 && !(c.everySeconds > 0)))
        throw ConfigError("strategy.checkpoint.every_steps",
                          "expected a checkpoint interval: every_steps >= 1 or every > 0 (a duration)");
    if (!(c.everySeconds >= 0) || !std::isfinite(c.everySeconds))
        throw ConfigError("strategy.checkpoint.every", "expected a finite duration >= 0");
    if (!(c.writeBandwidth > 0) || !std::isfinite(c.writeBandwidth))
        throw ConfigError("strategy.checkpoint.write_bandwidth", "expected a finite bandwidth > 0");
    if (!(c.readBandwidth > 0) || !std::isfinite(c.readBandwidth))
        throw ConfigError("strategy.checkpoint.read_bandwidth", "expected a finite bandwidth > 0");
    if (!(c.restartDelay >= 0) || !std::isfinite(c.restartDelay))
        throw ConfigError("strategy.checkpoint.restart_delay", "expected a finite duration >= 0");
    if (c.maxRestarts < 0)
        throw ConfigError("strategy.checkpoint.max_restarts", "expected 0 or more");
    if (!(spec.failureDetection > 0) || !std::isfinite(spec.failureDetection))
        throw ConfigError("strategy.failure_detection", "expected a finite time greater than zero");
}
} // namespace

void checkRecovery(const StrategySpec& spec)
{
    if (spec.recovery == StrategySpec::Recovery::None)
        return;
    if (spec.recovery == StrategySpec::Recovery::CheckpointRestart)
        return checkCheckpointRestart(spec);
    if (spec.kind != StrategyKind::SyncPs && spec.kind != StrategyKind::RingAllReduce)
        throw ConfigError("strategy.recovery",
                          std::string("elastic recovery is for sync-ps and ring-allreduce: ") + toString(spec.kind) +
                              " goes on without the failed " +
                              (spec.kind == StrategyKind::FedAvg || spec.kind == StrategyKind::FedBuff ||
                                       spec.kind == StrategyKind::HierFavg
                                   ? "clients"
                                   : "workers") +
                              " by itself");
    if (spec.compression.kind == compression::CompressionSpec::Kind::PowerSgd)
        throw ConfigError("strategy.recovery", "elastic recovery with powersgd: its two averagings per step need the "
                                               "same workers");
    if (spec.kind == StrategyKind::RingAllReduce && spec.localSteps > 1)
        throw ConfigError("strategy.recovery", "elastic ring all-reduce with local_steps > 1: the survivors' local "
                                               "models and optimizers are not part of the state it rolls back");
    if (spec.kind == StrategyKind::RingAllReduce && spec.privacy.kind == privacy::PrivacySpec::Kind::DpSgd)
        throw ConfigError("strategy.recovery", "elastic ring all-reduce with dp-sgd: a redone step would release a "
                                               "second noisy average of that step, which the accountant does not "
                                               "count");
}

void checkOverlap(const StrategySpec& spec)
{
    const OverlapSpec& o = spec.overlap;
    if (!(o.bucketCapBytes > 0) || !std::isfinite(o.bucketCapBytes))
        throw ConfigError("strategy.bucket_cap_mb", "expected a bucket size greater than 0");
    if (!o.enabled)
        return;
    if (spec.kind != StrategyKind::RingAllReduce && spec.kind != StrategyKind::SyncPs)
        throw ConfigError("strategy.overlap", std::string("overlaps the backward pass with the gradients' transfer "
                                                          "in ring-allreduce and sync-ps; not with ") +
                                                  toString(spec.kind));
    if (spec.backupWorkers > 0)
        throw ConfigError("strategy.overlap", "not with backup workers: a late worker's buckets would be dropped "
                                              "piecemeal");
    if (spec.compression.kind != compression::CompressionSpec::Kind::None)
        throw ConfigError("strategy.overlap", "not with compression: the buckets are all-reduced dense");
    if (spec.localSteps != 1)
        throw ConfigError("strategy.overlap", "not with local SGD (local_steps > 1): it averages whole models");
    if (spec.privacy.kind != privacy::PrivacySpec::Kind::None)
        throw ConfigError("strategy.overlap", "not with differential privacy: the noise is added to the whole sum");
    if (spec.recovery != StrategySpec::Recovery::None)
        throw ConfigError("strategy.overlap", "not with recovery: a failure would strand the buckets in flight");
}

void checkCollective(const StrategySpec& spec)
{
    using collectives::Algorithm;
    const collectives::AllReduceSpec& c = spec.collective;
    const std::string name = collectives::toString(c.algorithm);
    if (c.algorithm != Algorithm::Ring) {
        if (spec.kind != StrategyKind::RingAllReduce)
            throw ConfigError("strategy.collective", "\"" + name + "\" is an all-reduce algorithm for " +
                                                         "ring-allreduce; " + toString(spec.kind) +
                                                         " has no all-reduce (use \"ring\")");
        if (spec.compression.kind != compression::CompressionSpec::Kind::None)
            throw ConfigError("strategy.collective", "\"" + name + "\" with compression: compressed gradients "
                                                     "travel the ring's chunk schedule only (use \"ring\", or no "
                                                     "compression)");
        if (spec.recovery == StrategySpec::Recovery::Elastic)
            throw ConfigError("strategy.collective", "\"" + name + "\" with recovery elastic: the survivors re-form a "
                                                     "ring (use \"ring\")");
    }
    const bool hierarchical = c.mayUseHierarchical();
    if (c.ranksPerNode != 1 && !hierarchical)
        throw ConfigError("strategy.ranks_per_node", "is the node size of collective \"hierarchical\"; expected 1 "
                                                     "with \"" + name + "\", got " + std::to_string(c.ranksPerNode));
    if (!c.candidates.empty() && c.algorithm != Algorithm::Auto)
        throw ConfigError("strategy.auto_among", "is the choice of collective \"auto\"; not used with \"" + name +
                                                     "\"");
    if (std::count(c.candidates.begin(), c.candidates.end(), Algorithm::Auto))
        throw ConfigError("strategy.auto_among", "expected algorithms for \"auto\" to choose among, not \"auto\"");
    if (hierarchical && (c.ranksPerNode < 1 || spec.workers % c.ranksPerNode != 0))
        throw ConfigError("strategy.ranks_per_node",
                          "expected a node size that divides the " + std::to_string(spec.workers) +
                              " workers (nodes of consecutive ranks), got " + std::to_string(c.ranksPerNode));
    if (c.algorithm == Algorithm::Auto) {
        if (!(c.cost.bandwidth > 0) || !std::isfinite(c.cost.bandwidth))
            throw ConfigError("strategy.auto_bandwidth", "collective \"auto\" needs the bandwidth between two "
                                                         "workers (bytes/s > 0) to choose by the cost formulas");
        if (!(c.cost.alpha >= 0) || !std::isfinite(c.cost.alpha))
            throw ConfigError("strategy.auto_latency", "collective \"auto\" needs the latency between two workers "
                                                       "(a time >= 0) to choose by the cost formulas");
    }
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
    checkCompression(spec, cfg);
    checkPrivacy(spec, cfg);
    checkSecureAggregation(spec, cfg);
    checkRecovery(spec);
    checkCollective(spec);
    checkOverlap(spec);
    switch (spec.kind) {
    case StrategyKind::SyncPs:
        stepsPerEpoch(data.train.numSamples(), spec.workers, cfg.batchSize); // validates
    {
        auto ps = std::make_unique<SyncParameterServer>(spec.workers, cfg, data, sink, spec.backupWorkers);
        ps->setCompression(spec.compression, spec.localSteps);
        ps->setPrivacy(spec.privacy);
        ps->setRecovery(spec.recovery == StrategySpec::Recovery::Elastic, spec.failureDetection);
        ps->setOverlap(spec.overlap);
        if (spec.recovery == StrategySpec::Recovery::CheckpointRestart) {
            CheckpointSpec c = spec.checkpoint;
            c.failureDetection = spec.failureDetection;
            ps->setCheckpointing(c);
        }
        return ps;
    }
    case StrategyKind::AsyncPs:
        stepsPerEpoch(data.train.numSamples(), spec.workers, cfg.batchSize);
        if (spec.stalenessBound < -1)
            throw ConfigError("strategy.staleness_bound", "expected -1 (unbounded) or a bound s >= 0 in clocks (updates per worker), got " +
                                                              std::to_string(spec.stalenessBound));
    {
        auto ps = std::make_unique<AsyncParameterServer>(spec.workers, spec.stalenessBound, cfg, data, sink);
        ps->setCompression(spec.compression);
        ps->setFailureDetection(spec.failureDetection);
        if (spec.recovery == StrategySpec::Recovery::CheckpointRestart) {
            CheckpointSpec c = spec.checkpoint;
            c.failureDetection = spec.failureDetection;
            ps->setCheckpointing(c);
        }
        return ps;
    }
    case StrategyKind::RingAllReduce:
        stepsPerEpoch(data.train.numSamples(), spec.workers, cfg.batchSize);
    {
        auto ring = std::make_unique<RingAllReduceStrategy>(spec.workers, cfg, data, sink);
        ring->setCompression(spec.compression, spec.localSteps);
        ring->setPrivacy(spec.privacy);
        ring->setRecovery(spec.recovery == StrategySpec::Recovery::Elastic, spec.failureDetection);
        ring->setCollective(spec.collective);
        ring->setOverlap(spec.overlap);
        if (spec.recovery == StrategySpec::Recovery::CheckpointRestart) {
            CheckpointSpec c = spec.checkpoint;
            c.failureDetection = spec.failureDetection;
            ring->setCheckpointing(c);
        }
        return ring;
    }
    case StrategyKind::FedAvg:
        // Clients may hold fewer samples than a batch (they then train on their whole part): no stepsPerEpoch.
    {
        auto fed = std::make_unique<FederatedAveraging>(spec.workers, spec.clientFraction, spec.localEpochs,
                                                        spec.proxMu, spec.rounds, cfg, data, sink);
        fed->setRoundRules({.deadline = spec.roundDeadline, .targetClients = spec.targetClients,
                            .failureDetection = spec.failureDetection});
        fed->setCompression(spec.compression);
        fed->setPrivacy(spec.privacy);
        fed->setSecureAggregation(spec.secureAggregation);
        return fed;
    }
    case StrategyKind::HierFavg:
        return std::make_unique<HierarchicalFedAvg>(spec.workers, spec.edgeServers, spec.edgeInterval,
                                                    spec.cloudInterval, spec.rounds, spec.failureDetection, cfg, data,
                                                    sink);
    case StrategyKind::FedBuff:
        // Like fedavg: clients may hold fewer samples than a batch. No compression, privacy or recovery (checked).
        return std::make_unique<FedBuff>(
            spec.workers,
            FedBuff::Settings{.concurrency = spec.concurrency, .bufferSize = spec.bufferSize,
                              .serverLearningRate = spec.serverLearningRate, .localEpochs = spec.localEpochs,
                              .aggregations = spec.rounds, .failureDetection = spec.failureDetection,
                              .refillOnAggregation = spec.refillOnAggregation},
            cfg, data, sink);
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
