// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
#include "metrics.h"
#include "platform.h"
#include "strategy.h"

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace dml::sim {

struct SimulationSpec {
    PlatformSpec platform;
    StrategySpec strategy;
    TrainingConfig training;
};

/// Traffic through one simulated link over the run: the payload bytes of every delivered message whose route
/// crosses it (Host::route_to), so the same under every network model.
struct SimulationResult {
    std::vector<Sample> samples;
    std::vector<HostStats> hosts; ///< one per rank, in rank order
    Summary summary;
    Eigen::VectorXf finalModel;   ///< the trained global model (empty for proxy workloads)
    std::vector<Span> timeline;   ///< every host's activities, in the order they ended
    /// counts[rank][class]: the training labels of each worker's or client's shard (empty for proxies)
    std::vector<std::vector<int>> labelHistogram;
    /// Named series reported through MetricsSink::point, as (time, value) pairs in report order.
    std::map<std::string, std::vector<std::pair<double, double>>> series;
    /// Every link that carried traffic, most bytes first (ties by name).
    std::vector<LinkStats> links;
    /// Several jobs on one platform (Strategy::jobOf): per job, the links its own messages crossed, with its bytes
    /// (load and utilization over the whole run's time), most bytes first; empty for a single strategy.
    std::vector<std::vector<LinkStats>> linksByJob;
};

/// Error raised inside the simulation (an actor threw); what() carries the actor's message.
class SimulationError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Runs one simulation of `spec` on `data`, reporting samples, host and link statistics and the summary to
/// `sink` as they happen. SimGrid allows ONE simulation per process (../shared/SIMGRID-NOTES.md): call this once.
/// Throws ConfigError for settings the strategy cannot run, SimulationError if an actor fails.
/// Throws ConfigError (with the scenario path) for a platform that cannot hold the strategy (checkPlatform).
SimulationResult simulate(const SimulationSpec& spec, const TrainTest& data, MetricsSink& sink);

/// A FedScale capacity trace given without reference_flops is taken as measured on the scenario's own model: sets
/// p.capacity.referenceFlops to a third of the workload's training flops per sample (simulate() does this itself).
void resolveCapacity(PlatformSpec& p, const TrainingConfig& training, const Dataset& train);

/// Runs an already-built strategy on `platform` (any topology) (what simulate() does after makeStrategy). For tests and
/// tools that drive a custom Strategy; same one-simulation-per-process rule. The result's samples and series are
/// empty (the strategy reports to its own sink); hosts, summary timing and finalModel are filled in.
SimulationResult simulateStrategy(const PlatformSpec& platform, Strategy& strategy, double targetAccuracy,
                                  bool accuracySimulated);
/// The same, with the timeline's span batches and the simulation's own series ("rank_failed", "link_down:...")
/// forwarded to `forward` (may be null) as they happen, and `horizon` (s; <= 0: the default 1e5 s) bounding random
/// availability and periodic profiles. What simulateJobs (multijob.h) runs.
SimulationResult simulateStrategy(const PlatformSpec& platform, Strategy& strategy, double targetAccuracy,
                                  bool accuracySimulated, MetricsSink* forward, double horizon);

/// Builds the platform the strategy would run on (in a SimGrid engine: one per process, like simulate()) and
/// describes it: every host and link, their adjacency along routes, and a few sample routes.
PlatformGraph describePlatform(const PlatformSpec& platform, const Strategy& strategy);

/// Default host names by rank: "worker-0" ... "worker-(P-1)", "server" (an XML platform uses its own names).
std::vector<std::string> hostNames(const Strategy& s);
/// The same from the roles of the ranks, in rank order.
std::vector<std::string> hostNames(const std::vector<std::string>& roles);

} // namespace dml::sim
