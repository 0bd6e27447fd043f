// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
#include "dataset.h"
#include "metrics.h"
#include "optimizer.h"
#include "transport.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace dml {

/// The workload and run settings shared by every strategy.
struct TrainingConfig {
    std::vector<int> hidden;        ///< MLP hidden widths; empty = logistic regression
    OptimizerSpec optimizer;
    int batchSize = 32;             ///< per worker, samples
    int epochs = 1;                 ///< passes over the training set
    long maxSteps = 0;              ///< 0 = no limit
    int evalEverySteps = 0;         ///< 0 = once per epoch
    double targetAccuracy = 0;      ///< for time-to-accuracy; 0 = none
    bool stopAtTarget = false;      ///< end the run when the target is reached
    double maxSimulatedTime = 0;    ///< s; 0 = no limit
    std::uint64_t seed = 1;
};

enum class StrategyKind { SyncPs };

struct StrategySpec {
    StrategyKind kind = StrategyKind::SyncPs;
    int workers = 1;
};

/// A distributed training algorithm, as a set of ranks that each run a function over a Transport.
class Strategy {
public:
    virtual ~Strategy() = default;
    virtual int numRanks() const = 0;
    /// "worker", "server", ...
    virtual std::string roleOf(int rank) const = 0;
    /// The body of rank `rank`; returns when that rank is done.
    virtual void run(int rank, Transport& t) = 0;
    /// Why the run ended (see Summary::stopReason); valid after every rank returned.
    virtual std::string stopReason() const = 0;
};

/// Builds the strategy. `data` and `sink` must outlive it. Throws ConfigError for impossible settings
/// (more workers than samples, a batch larger than a shard).
std::unique_ptr<Strategy> makeStrategy(const StrategySpec& spec, const TrainingConfig& cfg, const TrainTest& data,
                                       MetricsSink& sink);

/// Steps per epoch when `workers` workers each draw batches of `batch` from IID shards of `samples`.
long stepsPerEpoch(int samples, int workers, int batch);

} // namespace dml
