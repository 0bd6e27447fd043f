// SPDX-License-Identifier: GPL-3.0-or-later
#include "evaluator.h"

#include "parallel.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace dml {

/// An evaluation running in the background: its sample (without the test loss and accuracy), the model it
/// evaluates (a copy: the strategy goes on changing its own) and the job.
struct PendingEvaluation {
    Sample sample;
    Eigen::VectorXf params;
    std::pair<double, int> result{0.0, 0};
    parallel::Task job; // last: destroyed (so finished) before what it reads and writes
};

Evaluator::Evaluator(const Dataset& test, const Model& architecture, const TrainingConfig& cfg, long stepsPerEpoch,
                     MetricsSink& sink)
    : Evaluator(test, &architecture, cfg, double(stepsPerEpoch), long(cfg.epochs) * stepsPerEpoch, "epochs", sink)
{
}

Evaluator::Evaluator(const Dataset& test, const Model* architecture, const TrainingConfig& cfg, double stepsPerEpoch,
                     long plannedSteps, std::string endReason, MetricsSink& sink, std::string stepName)
    : m_test(test), m_cfg(cfg), m_stepsPerEpoch(stepsPerEpoch), m_endReason(std::move(endReason)),
      m_stepName(std::move(stepName)), m_sink(sink)
{
    if (architecture)
        m_model = architecture->clone();
    m_totalSteps = plannedSteps;
    m_plannedEpochs = double(plannedSteps) / stepsPerEpoch;
    if (cfg.maxSteps > 0 && cfg.maxSteps < m_totalSteps)
        m_totalSteps = cfg.maxSteps;
    m_gridSteps = cfg.evalEverySteps > 0 ? double(cfg.evalEverySteps)
                                         : (cfg.evalEveryEpochs > 0 ? cfg.evalEveryEpochs : 1.0) * stepsPerEpoch;
}

Evaluator::~Evaluator() = default;

void Evaluator::addTrainLoss(double loss)
{
    m_lossSum += loss;
    ++m_lossCount;
}

void Evaluator::evaluate(double time, long step, const float* params)
{
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();
    Sample s;
    s.time = time;
    s.step = step;
    s.epoch = epochOf(step);
    if (!m_model) { // proxy workload: no arithmetic on data, no accuracy
        s.trainLoss = s.testLoss = s.testAccuracy = nan;
        m_sink.sample(s);
        return;
    }
    s.trainLoss = m_lossCount ? m_lossSum / double(m_lossCount) : nan;
    m_lossSum = 0;
    m_lossCount = 0;
    flush();
    if (inBackground()) {
        std::unique_ptr<PendingEvaluation> pre = std::move(m_prestarted);
        if (pre && step == 0 && pre->params == Eigen::Map<const Eigen::VectorXf>(params, m_model->numParams())) {
            pre->sample = s;
            m_pending = std::move(pre);
            return;
        }
        pre.reset(); // another model: its evaluation is dropped (finished or cancelled first)
        m_pending = std::make_unique<PendingEvaluation>();
        PendingEvaluation& p = *m_pending;
        p.sample = s;
        p.params = Eigen::Map<const Eigen::VectorXf>(params, m_model->numParams());
        p.job = parallel::submit([this, &p] {
            p.result = m_model->evaluate(p.params.data(), m_test.features, m_test.labels.data());
        });
        return;
    }
    const auto [loss, correct] = m_model->evaluate(params, m_test.features, m_test.labels.data());
    s.testLoss = loss / m_test.numSamples();
    s.testAccuracy = double(correct) / m_test.numSamples();
    m_lastAccuracy = s.testAccuracy;
    m_sink.sample(s);
}

void Evaluator::flush() const
{
    if (!m_pending)
        return;
    const std::unique_ptr<PendingEvaluation> p = std::move(m_pending);
    p->job.wait();
    Sample s = p->sample;
    s.testLoss = p->result.first / m_test.numSamples();
    s.testAccuracy = double(p->result.second) / m_test.numSamples();
    m_lastAccuracy = s.testAccuracy;
    m_sink.sample(s);
}

void Evaluator::initial(double time, const float* params)
{
    evaluate(time, 0, params);
}

bool Evaluator::inBackground() const
{
    return parallel::threads() > 1 && !(m_cfg.stopAtTarget && m_cfg.targetAccuracy > 0);
}

void Evaluator::prestartInitial(const float* params)
{
    if (!m_model || !inBackground())
        return;
    m_prestarted = std::make_unique<PendingEvaluation>();
    PendingEvaluation& p = *m_prestarted;
    p.params = Eigen::Map<const Eigen::VectorXf>(params, m_model->numParams());
    p.job = parallel::submit([this, &p] {
        p.result = m_model->evaluate(p.params.data(), m_test.features, m_test.labels.data());
    });
}

void Evaluator::completeSummary(Summary& s) const
{
    s.epochsPerStep = 1.0 / m_stepsPerEpoch;
    s.evalIntervalEpochs = m_gridSteps / m_stepsPerEpoch;
    if (m_gridSteps < 1 - 1e-12) {
        char buf[200];
        std::snprintf(buf, sizeof buf,
                      "one %s covers %.2f epochs, more than the %.3g-epoch evaluation interval: evaluated after "
                      "every %s",
                      m_stepName.c_str(), s.epochsPerStep, s.evalIntervalEpochs, m_stepName.c_str());
        s.evalNote = buf;
    }
}

void Evaluator::changeStepsPerEpoch(long atStep, double stepsPerEpoch)
{
    const double epoch = epochOf(atStep);
    if (m_cfg.evalEverySteps <= 0) {
        if (m_gridEpochs == 0)
            m_gridEpochs = m_gridSteps / m_stepsPerEpoch;
        m_gridSteps = m_gridEpochs * stepsPerEpoch;
    }
    m_baseStep = atStep;
    m_baseEpoch = epoch;
    m_stepsPerEpoch = stepsPerEpoch;
    const double rest = std::max(0.0, m_plannedEpochs - epoch) * stepsPerEpoch;
    m_totalSteps = atStep + long(std::ceil(rest * (1 - 1e-12)));
    if (m_cfg.maxSteps > 0 && m_cfg.maxSteps < m_totalSteps)
        m_totalSteps = m_cfg.maxSteps;
}

bool Evaluator::afterStep(double time, long step, const float* params, bool force)
{
    if (m_pending && m_pending->job.ready()) // a background evaluation is done: its sample goes out now
        flush();
    m_sink.progress(step, m_totalSteps, time); // may block: a paused or paced run waits here
    const bool stopped = m_sink.stopRequested();
    const bool last = step >= m_totalSteps;
    const bool overTime = m_cfg.maxSimulatedTime > 0 && time >= m_cfg.maxSimulatedTime;
    // Grid point k is reached at the first step >= k x spacing (a relative tolerance absorbs the rounding of
    // fractional spacings such as 0.25 x 234 steps).
    // A spacing under one step puts a grid point in every step (and would overflow the grid index).
    // After changeStepsPerEpoch, a grid in epochs is checked in epochs (the same rule, measured by epochOf).
    const double s = m_gridEpochs > 0 ? epochOf(step) : double(step);
    const double spacing = m_gridEpochs > 0 ? m_gridEpochs : m_gridSteps;
    const bool everyStep = m_gridSteps <= 1;
    const bool onGrid = everyStep || s >= double(m_nextGrid) * spacing * (1 - 1e-12);
    const bool requested = !m_requested.empty();
    const bool evaluated = force || last || overTime || stopped || requested || onGrid;
    if (onGrid && !everyStep) // skip the grid points this step covered as well (at most step + 1)
        m_nextGrid = long(std::floor(s / spacing * (1 + 1e-12))) + 1;
    if (evaluated)
        evaluate(time, step, params);
    if (evaluated && m_model && m_cfg.stopAtTarget && m_cfg.targetAccuracy > 0 &&
        m_lastAccuracy >= m_cfg.targetAccuracy)
        m_stopReason = "target_accuracy";
    else if (stopped)
        m_stopReason = "stopped";
    else if (requested)
        m_stopReason = m_requested;
    else if (overTime)
        m_stopReason = "max_simulated_time";
    else if (last)
        m_stopReason = m_cfg.maxSteps > 0 && m_cfg.maxSteps == m_totalSteps ? "max_steps" : m_endReason;
    if (!m_stopReason.empty())
        flush(); // the run ends: its last sample is out before the strategy returns
    return !m_stopReason.empty();
}

} // namespace dml
