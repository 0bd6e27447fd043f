// SPDX-License-Identifier: GPL-3.0-or-later
#include "recovery/checkpoint.h"

namespace dml::recovery {

double checkpointBytes(const OptimizerSpec& optimizer, double numParams)
{
    const double slots = optimizer.kind == OptimizerSpec::Kind::Adam       ? 2
                         : optimizer.kind == OptimizerSpec::Kind::Momentum ? 1 : 0;
    return 4.0 * numParams * (1 + slots);
}

bool CheckpointClock::due(long step, double now) const
{
    if (m_spec.everySteps > 0 && step % m_spec.everySteps == 0)
        return true;
    return m_spec.everySeconds > 0 && now - m_lastSave >= m_spec.everySeconds;
}

void CheckpointClock::saved(long /*step*/, double start, double end)
{
    ++m_saves;
    m_seconds += end - start;
    m_lastSave = end;
}

void CheckpointClock::fill(Summary& s) const
{
    s.checkpoints = m_saves;
    s.checkpointSeconds = m_seconds;
}

} // namespace dml::recovery
