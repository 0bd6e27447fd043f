// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
#include "data/dataset.h"
#include "metrics.h"
#include "models/model.h"
#include "strategy.h"

#include <limits>
#include <memory>
#include <optional>
#include <string>

namespace dml {

struct PendingEvaluation;

/// Observes the global model: evaluates it on the whole test set at the points of one evaluation grid and at the
/// end, and emits Samples to the sink. An observer: it charges no simulated time.
///
/// A "step" is whatever the strategy counts as one global update: a synchronous step (sync-ps, ring
/// all-reduce), one applied gradient (async-ps) or one round (fedavg). The grid is in epochs of data processed,
/// the same for every strategy (README "Evaluation"): with spacing I = run.eval_interval_epochs (default 1), the
/// model is evaluated after the first step at which epochOf(step) >= k I, for k = 1, 2, ...; when one step
/// covers several grid points (a federated round of more than I epochs) it is evaluated once and the summary says
/// so (Summary::evalNote). run.eval_interval (steps) instead puts the grid every that many steps.
class Evaluator {
public:
    /// `stepsPerEpoch` steps make one pass over the training set; the run plans cfg.epochs * stepsPerEpoch steps
    /// (capped by cfg.maxSteps) and ends with reason "epochs".
    Evaluator(const Dataset& test, const Model& architecture, const TrainingConfig& cfg, long stepsPerEpoch,
              MetricsSink& sink);
    /// General form. `architecture` == nullptr means a proxy workload: nothing is evaluated and every Sample
    /// carries NaN train loss, test loss and accuracy (time, step and epoch are real). `stepsPerEpoch` (> 0, may
    /// be fractional, e.g. fedavg's expected rounds per pass) converts steps to epochs and sets the default
    /// evaluation interval (max(1, round(stepsPerEpoch)) steps). The run plans `plannedSteps` steps, capped by
    /// cfg.maxSteps, and ends after them with reason `endReason` ("epochs", "rounds"), or "max_steps" when the
    /// cap is what ended it. `stepName` names a step in the summary's evaluation note ("round" for fedavg).
    Evaluator(const Dataset& test, const Model* architecture, const TrainingConfig& cfg, double stepsPerEpoch,
              long plannedSteps, std::string endReason, MetricsSink& sink, std::string stepName = "step");
    /// Waits for an evaluation still running in the background (its sample is not emitted).
    ~Evaluator();
    Evaluator(const Evaluator&) = delete;
    Evaluator& operator=(const Evaluator&) = delete;

    /// Adds one worker's mini-batch loss to the running train loss.
    void addTrainLoss(double loss);
    /// Call after each global step (step >= 1) with the current global model (numParams floats; nullptr for a
    /// proxy). Evaluates if due (or if `force`), emits a Sample and reports progress. Returns true when the run
    /// should stop (stop criteria of TrainingConfig); stopReason() then says why.
    ///
    /// With more than one thread (parallel.h), and unless the run stops at a target accuracy (which needs the result
    /// at once), the evaluation runs in the background on a copy of the model, and its Sample is emitted at the first
    /// afterStep() that finds it done (or when the next evaluation starts, when state() or restore() is called, and
    /// before afterStep() returns true): the same samples in the same order, a step or so later. Nothing that decides
    /// the run reads them meanwhile.
    bool afterStep(double time, long step, const float* params, bool force = false);
    /// The strategy's own stop criterion (e.g. "privacy_budget"): the next afterStep() evaluates and returns true
    /// with this stop reason (unless the target accuracy or the user's stop came first).
    void requestStop(std::string reason) { m_requested = std::move(reason); }
    /// Evaluates the initial model (step 0). After prestartInitial() with the same numbers, takes that evaluation.
    void initial(double time, const float* params);
    /// Starts evaluating the initial model `params` (numParams floats, copied) in the background now, before the
    /// simulation starts (with several threads and evaluations in the background; otherwise nothing): the first
    /// evaluation's memory is then faulted in while SimGrid builds the platform. initial() takes it if it gets
    /// the same numbers, and discards it otherwise.
    void prestartInitial(const float* params);

    long totalSteps() const { return m_totalSteps; }
    /// Elastic training (the workers changed at step `atStep`): from then on an epoch is `stepsPerEpoch` (> 0)
    /// steps. The epochs done so far stay; the run plans its remaining epochs at the new rate, ceil((planned epochs
    /// - epochOf(atStep)) x stepsPerEpoch) more steps, capped by cfg.maxSteps as before; an evaluation grid in
    /// epochs stays in epochs (one in steps, run.eval_interval, stays in steps).
    void changeStepsPerEpoch(long atStep, double stepsPerEpoch);
    /// What checkpoint-restart saves and restores of the evaluator: the grid position and the running train loss
    /// (samples already emitted stay emitted; redone steps are evaluated again when they reach the grid).
    struct State {
        long nextGrid = 1;
        double lossSum = 0;
        long lossCount = 0;
        double lastAccuracy = 0;
    };
    State state() const
    {
        flush();
        return {m_nextGrid, m_lossSum, m_lossCount, m_lastAccuracy};
    }
    void restore(const State& s)
    {
        flush();
        m_nextGrid = s.nextGrid;
        m_lossSum = s.lossSum;
        m_lossCount = s.lossCount;
        m_lastAccuracy = s.lastAccuracy;
    }
    /// Fills the evaluation-grid fields of the summary (evalIntervalEpochs, epochsPerStep, evalNote).
    void completeSummary(Summary& s) const;
    const std::string& stopReason() const { return m_stopReason; }
    double epochOf(long step) const { return m_baseEpoch + double(step - m_baseStep) / m_stepsPerEpoch; }

private:
    void evaluate(double time, long step, const float* params);
    bool inBackground() const;
    /// Emits the sample of the background evaluation, if one is pending, once it is done.
    void flush() const;
    const Dataset& m_test;
    std::unique_ptr<Model> m_model; ///< a copy of the architecture; empty for a proxy workload
    TrainingConfig m_cfg;
    double m_stepsPerEpoch;
    long m_totalSteps;
    double m_gridSteps;  ///< grid spacing in steps (may be fractional)
    long m_nextGrid = 1; ///< index k of the next grid point
    double m_plannedEpochs; ///< the planned steps over the steps per epoch given at construction
    long m_baseStep = 0;    ///< changeStepsPerEpoch: epochOf(step) = m_baseEpoch + (step - m_baseStep) / spe
    double m_baseEpoch = 0;
    double m_gridEpochs = 0; ///< after changeStepsPerEpoch with a grid in epochs: its spacing, epochs; else 0
    std::string m_endReason;
    std::string m_stepName;
    MetricsSink& m_sink;
    double m_lossSum = 0;
    long m_lossCount = 0;
    mutable double m_lastAccuracy = 0;
    mutable std::unique_ptr<PendingEvaluation> m_pending; ///< a background evaluation and its sample
    std::unique_ptr<PendingEvaluation> m_prestarted;      ///< prestartInitial()'s, until initial() takes it
    std::string m_stopReason;
    std::string m_requested;
};

} // namespace dml
