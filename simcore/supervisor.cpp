// SPDX-License-Identifier: GPL-3.0-or-later
#include "supervisor.h"

#include <simgrid/kernel/Timer.hpp>
#include <simgrid/s4u/Engine.hpp>
#include <simgrid/s4u/Link.hpp>

#include <algorithm>

namespace sg4 = simgrid::s4u;
using simgrid::kernel::timer::Timer;

namespace dml::sim {

Supervisor::Supervisor(World& world, Strategy& strategy, const CheckpointSpec& spec)
    : m_world(world), m_strategy(strategy), m_spec(spec)
{
    m_world.rankLost = [this](int rank) { lost(rank); };
}

void Supervisor::lost(int /*rank*/)
{
    if (m_state != State::Running || m_world.finishing)
        return; // joins the restart under way, or the run is ending anyway
    m_state = State::Detecting;
    m_failedAt = sg4::Engine::get_clock();
    Timer::set(m_failedAt + m_spec.failureDetection, [this] { detect(); });
}

void Supervisor::detect()
{
    const double now = sg4::Engine::get_clock();
    if (m_world.finishing) { // the run ended meanwhile: nothing to restart
        m_state = State::Running;
        return;
    }
    for (std::size_t r = 0; r < m_world.actors.size(); ++r)
        if (m_world.running[r] && m_world.actors[r])
            m_world.actors[r]->kill();
    m_discarded.emplace_back(m_lastRelaunch, now);
    if (m_restarts >= m_spec.maxRestarts) {
        m_state = State::GaveUp;
        m_stopReason = "max_restarts";
        return;
    }
    m_state = State::Restarting;
    Timer::set(now + m_spec.restartDelay, [this] { relaunch(); });
}

void Supervisor::relaunch()
{
    const double now = sg4::Engine::get_clock();
    // Killed bodies unwind when SimGrid next schedules them: wait until none runs.
    if (std::any_of(m_world.running.begin(), m_world.running.end(), [](char r) { return r != 0; })) {
        Timer::set(now, [this] { relaunch(); });
        return;
    }
    for (const RankAccount& a : m_world.accounts)
        if (!a.host->is_on())
            a.host->turn_on(); // a replacement host of the same specification
    const long progress = m_strategy.progress();
    const CheckpointRef ref = m_strategy.restoreCheckpoint();
    m_lostSteps += std::max(0L, progress - ref.step);
    // Work before the checkpoint (or before the previous relaunch, whichever is later) was kept.
    if (!m_discarded.empty())
        m_discarded.back().first = std::max(m_discarded.back().first, ref.time);
    m_recoverySeconds += now - m_failedAt;
    if (m_world.report)
        m_world.report("restart", now, double(std::max(0L, progress - ref.step)));
    ++m_restarts;
    m_lastRelaunch = now;
    m_world.boxes.newGeneration();
    // A link still down cuts ranks off again: they fail at once (no body starts), and each further restart costs
    // the detection and the delay again, up to max_restarts (as torchrun --max-restarts does).
    std::vector<int> cut;
    for (const sg4::Link* l : m_world.linksDown)
        for (int r : m_world.cutBy(l))
            if (std::find(cut.begin(), cut.end(), r) == cut.end() && m_strategy.launchedAtStart(r))
                cut.push_back(r);
    if (!cut.empty()) {
        for (int r : cut)
            m_world.rankFailed(r, false); // this incident already restarts
        m_state = State::Detecting;
        m_failedAt = now;
        Timer::set(now + m_spec.failureDetection, [this] { detect(); });
        return;
    }
    m_state = State::Running;
    for (int r = 0; r < m_strategy.numRanks(); ++r)
        if (m_strategy.launchedAtStart(r))
            m_world.start(r);
}

void Supervisor::fill(Summary& s) const
{
    s.restarts = m_restarts;
    s.lostSteps = m_lostSteps;
    s.recoverySeconds = m_recoverySeconds;
    double lost = 0;
    for (const RankAccount& a : m_world.accounts)
        for (const auto& [c0, c1] : a.computing)
            for (const auto& [d0, d1] : m_discarded)
                lost += std::max(0.0, std::min(c1, d1) - std::max(c0, d0));
    s.lostComputeSeconds = lost;
}

} // namespace dml::sim
