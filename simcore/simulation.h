// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
#include "metrics.h"
#include "platform.h"
#include "strategy.h"

#include <string>
#include <vector>

namespace dml::sim {

struct SimulationSpec {
    PlatformSpec platform;
    StrategySpec strategy;
    TrainingConfig training;
};

struct SimulationResult {
    std::vector<Sample> samples;
    std::vector<HostStats> hosts; ///< one per rank, in rank order
    Summary summary;
};

/// Error raised inside the simulation (an actor threw); what() carries the actor's message.
class SimulationError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Runs one simulation of `spec` on `data`, reporting samples, host statistics and the summary to `sink` as
/// they happen. SimGrid allows ONE simulation per process (../shared/SIMGRID-NOTES.md): call this once.
/// Throws ConfigError for settings the strategy cannot run, SimulationError if an actor fails.
SimulationResult simulate(const SimulationSpec& spec, const TrainTest& data, MetricsSink& sink);

/// Host names by rank: "worker-0" ... "worker-(P-1)", "server".
std::vector<std::string> hostNames(const Strategy& s);

} // namespace dml::sim
