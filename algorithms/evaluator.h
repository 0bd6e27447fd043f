// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
#include "dataset.h"
#include "metrics.h"
#include "model.h"
#include "strategy.h"

#include <limits>

namespace dml {

/// Observes the global model: evaluates it on the whole test set every `evalEverySteps` steps and at the end,
/// and emits Samples to the sink. An observer: it charges no simulated time.
class Evaluator {
public:
    Evaluator(const Dataset& test, const Mlp& architecture, const TrainingConfig& cfg, long stepsPerEpoch,
              MetricsSink& sink);

    /// Adds one worker's mini-batch loss to the running train loss.
    void addTrainLoss(double loss);
    /// Call after each global step (step >= 1) with the current global model (numParams floats).
    /// Evaluates if due (or if `force`), emits a Sample and reports progress. Returns true when the run
    /// should stop (stop criteria of TrainingConfig); stopReason() then says why.
    bool afterStep(double time, long step, const float* params, bool force = false);
    /// Evaluates the initial model (step 0).
    void initial(double time, const float* params);

    long totalSteps() const { return m_totalSteps; }
    const std::string& stopReason() const { return m_stopReason; }
    double epochOf(long step) const { return double(step) / double(m_stepsPerEpoch); }

private:
    void evaluate(double time, long step, const float* params);
    const Dataset& m_test;
    Mlp m_model;
    TrainingConfig m_cfg;
    long m_stepsPerEpoch, m_totalSteps, m_evalEvery;
    MetricsSink& m_sink;
    double m_lossSum = 0;
    long m_lossCount = 0;
    double m_lastAccuracy = 0;
    std::string m_stopReason;
};

} // namespace dml
