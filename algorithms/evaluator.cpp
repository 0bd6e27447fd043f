// SPDX-License-Identifier: GPL-3.0-or-later
#include "evaluator.h"

#include <cmath>

namespace dml {

Evaluator::Evaluator(const Dataset& test, const Mlp& architecture, const TrainingConfig& cfg, long stepsPerEpoch,
                     MetricsSink& sink)
    : m_test(test), m_model(architecture), m_cfg(cfg), m_stepsPerEpoch(stepsPerEpoch), m_sink(sink)
{
    m_totalSteps = long(cfg.epochs) * stepsPerEpoch;
    if (cfg.maxSteps > 0 && cfg.maxSteps < m_totalSteps)
        m_totalSteps = cfg.maxSteps;
    m_evalEvery = cfg.evalEverySteps > 0 ? cfg.evalEverySteps : stepsPerEpoch;
}

void Evaluator::addTrainLoss(double loss)
{
    m_lossSum += loss;
    ++m_lossCount;
}

void Evaluator::evaluate(double time, long step, const float* params)
{
    Sample s;
    s.time = time;
    s.step = step;
    s.epoch = epochOf(step);
    s.trainLoss = m_lossCount ? m_lossSum / double(m_lossCount) : std::numeric_limits<double>::quiet_NaN();
    const auto [loss, correct] = m_model.evaluate(params, m_test.features, m_test.labels.data());
    s.testLoss = loss / m_test.numSamples();
    s.testAccuracy = double(correct) / m_test.numSamples();
    m_lastAccuracy = s.testAccuracy;
    m_lossSum = 0;
    m_lossCount = 0;
    m_sink.sample(s);
}

void Evaluator::initial(double time, const float* params)
{
    evaluate(time, 0, params);
}

bool Evaluator::afterStep(double time, long step, const float* params, bool force)
{
    m_sink.progress(step, m_totalSteps, time);
    const bool last = step >= m_totalSteps;
    const bool overTime = m_cfg.maxSimulatedTime > 0 && time >= m_cfg.maxSimulatedTime;
    const bool evaluated = force || last || overTime || step % m_evalEvery == 0;
    if (evaluated)
        evaluate(time, step, params);
    if (evaluated && m_cfg.stopAtTarget && m_cfg.targetAccuracy > 0 && m_lastAccuracy >= m_cfg.targetAccuracy)
        m_stopReason = "target_accuracy";
    else if (overTime)
        m_stopReason = "max_simulated_time";
    else if (last)
        m_stopReason = m_cfg.maxSteps > 0 && m_cfg.maxSteps == m_totalSteps ? "max_steps" : "epochs";
    return !m_stopReason.empty();
}

} // namespace dml
