// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Checkpoint-restart's bookkeeping shared by the strategies that save checkpoints (issue 11): when a save is due,
// its size, and the time spent saving. What a checkpoint holds is each strategy's own (its model, optimizer and
// samplers); the simulation's supervisor (simcore) detects failures and restarts the ranks.
#include "optim/optimizer.h"
#include "strategy.h"
#include "transport.h"

#include <Eigen/Core>
#include <optional>

namespace dml::recovery {

/// Bytes of a checkpoint of `numParams` float parameters and their optimizer state (4 bytes per float: the
/// parameters, plus one slot for momentum, two for Adam's moments), as torch.save of a model's and optimizer's
/// state_dict would write them.
double checkpointBytes(const OptimizerSpec& optimizer, double numParams);

/// The model and optimizer state a checkpoint saved; empty (no optimizer) for the initial state.
struct ModelState {
    Eigen::VectorXf params;
    std::optional<Optimizer> optimizer;
    /// Copies the saved state into `params` and `opt` and charges reading `bytes` from `t`'s checkpoint storage
    /// (Transport::readCheckpoint); leaves them as they are for the initial state (nothing to read).
    void load(Eigen::VectorXf& params, Optimizer& opt, Transport& t, double bytes) const
    {
        if (!optimizer)
            return;
        params = this->params;
        opt = *optimizer;
        t.readCheckpoint(bytes);
    }
};

/// The checkpoint schedule of one run (TorchElastic's "save every K steps" or "every T seconds" loop). Survives
/// restarts: it lives in the strategy object, not in a rank's body.
class CheckpointClock {
public:
    explicit CheckpointClock(const CheckpointSpec& spec) : m_spec(spec) {}
    /// Whether a checkpoint is due after global step `step` (>= 1) at simulated time `now`: every_steps divides
    /// `step`, or at least `every` seconds passed since the previous save ended (or since the run or the last
    /// restart began).
    bool due(long step, double now) const;
    /// Records a save of step `step` that took [start, end] (simulated s) and completed.
    void saved(long step, double start, double end);
    /// Records the relaunch at `now` (the time-based interval starts again).
    void restarted(double now) { m_lastSave = now; }
    const CheckpointSpec& spec() const { return m_spec; }
    int saves() const { return m_saves; }
    double seconds() const { return m_seconds; } ///< simulated s spent saving, summed over saves
    /// Fills Summary::checkpoints and checkpointSeconds.
    void fill(Summary& s) const;

private:
    CheckpointSpec m_spec;
    double m_lastSave = 0;
    int m_saves = 0;
    double m_seconds = 0;
};

} // namespace dml::recovery
