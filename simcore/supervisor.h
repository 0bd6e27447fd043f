// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Internal to simcore: checkpoint-restart's supervisor (issue 11), TorchElastic's elastic agent in simulation.
#include "simtransport.h"
#include "strategy.h"

#include <string>
#include <vector>

namespace dml::sim {

/// Restarts every rank of a checkpointing strategy after a failure, as TorchElastic's agent does
/// (PyTorch docs "torchrun (Elastic Launch)": on a worker failure all workers are stopped and restarted, and the
/// training script resumes from its last checkpoint). In simulated time:
///  1. a rank is lost at time t_f (its host went off, or a failed link cut it off: World::rankLost);
///  2. at t_f + failure detection (the heartbeat timeout) every rank still running is killed;
///  3. after the restart delay, the hosts that are off are turned on (replacement hosts of the same
///     specification), the strategy restores its last checkpoint (Strategy::restoreCheckpoint) and every rank
///     that starts with the run is launched again on fresh mailboxes.
/// A failure while a restart is under way joins it. After CheckpointSpec::maxRestarts restarts the next failure
/// ends the run (stop reason "max_restarts"). Failures after a rank's body returned normally (the run is
/// finishing) restart nothing. Runs entirely in SimGrid's maestro context (host callbacks and kernel timers): it
/// needs no host of its own.
class Supervisor {
public:
    Supervisor(World& world, Strategy& strategy, const CheckpointSpec& spec);
    /// Fills Summary::restarts, lostSteps, recoverySeconds and lostComputeSeconds (from the ranks' measured compute
    /// intervals inside the discarded windows); call after the simulation ended.
    void fill(Summary& s) const;
    /// Empty, or "max_restarts" when it gave up.
    const std::string& stopReason() const { return m_stopReason; }

private:
    void lost(int rank);
    void detect();
    void relaunch();
    World& m_world;
    Strategy& m_strategy;
    CheckpointSpec m_spec;
    enum class State { Running, Detecting, Restarting, GaveUp } m_state = State::Running;
    double m_failedAt = 0;       ///< first failure of the incident under way
    double m_lastRelaunch = 0;   ///< work since then (or since the restored checkpoint) is lost at a failure
    int m_restarts = 0;
    long m_lostSteps = 0;
    double m_recoverySeconds = 0;
    /// [from, to]: work done in these windows was discarded by a roll-back.
    std::vector<std::pair<double, double>> m_discarded;
    std::string m_stopReason;
};

} // namespace dml::sim
