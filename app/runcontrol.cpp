// SPDX-License-Identifier: GPL-3.0-or-later
#include "runcontrol.h"

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <sstream>
#include <thread>

namespace dml::app {

using Clock = std::chrono::steady_clock;

struct RunControl::State {
    std::mutex mutex;
    std::condition_variable changed;
    bool paused = false;
    bool stop = false;
    long stepBudget = -1; ///< steps left before pausing again; -1 = no limit
    double pace = 0;      ///< simulated s per wall s; 0 = as fast as possible
    bool reanchor = true; ///< pace changed or the run was paused: measure from the next step
    double anchorSim = 0;
    Clock::time_point anchorWall;

    bool apply(const std::string& line)
    {
        std::istringstream in(line);
        std::string word;
        in >> word;
        std::lock_guard lock(mutex);
        if (word == "pause") {
            paused = true;
        } else if (word == "resume") {
            paused = false;
            stepBudget = -1;
        } else if (word == "step") {
            paused = false;
            stepBudget = 1;
        } else if (word == "stop") {
            stop = true;
        } else if (word == "pace") {
            double x = -1;
            if (!(in >> x) || x < 0)
                return false;
            pace = x;
        } else {
            return false;
        }
        reanchor = true;
        changed.notify_all();
        return true;
    }
};

RunControl::RunControl(std::function<void(const char*, long, double)> onState)
    : m_state(std::make_shared<State>()), m_onState(std::move(onState))
{
}

void RunControl::listen(std::istream& in)
{
    std::thread([state = m_state, &in] {
        std::string line;
        while (std::getline(in, line))
            if (!line.empty() && !state->apply(line))
                std::fprintf(stderr, "dmlsim run: unknown control command '%s' (pause, resume, step, stop, "
                                     "pace X)\n", line.c_str());
        // The controller is gone (the workbench quit or crashed without stopping this run): nobody can resume a
        // pause or wants the pace any more, so the run goes on as fast as possible to its end and is stored.
        state->apply("pace 0");
        state->apply("resume");
    }).detach();
}

bool RunControl::command(const std::string& line)
{
    return m_state->apply(line);
}

void RunControl::progress(long step, long /*totalSteps*/, double time)
{
    State& s = *m_state;
    std::unique_lock lock(s.mutex);
    if (s.stepBudget > 0 && --s.stepBudget == 0) {
        s.paused = true;
        s.stepBudget = -1;
    }
    if (s.paused && !s.stop) {
        if (m_onState)
            m_onState("paused", step, time);
        s.changed.wait(lock, [&] { return !s.paused || s.stop; });
        if (m_onState)
            m_onState("running", step, time);
    }
    if (s.pace > 0 && !s.stop) {
        if (s.reanchor) {
            s.anchorSim = time;
            s.anchorWall = Clock::now();
            s.reanchor = false;
            return;
        }
        const auto due = s.anchorWall + std::chrono::duration_cast<Clock::duration>(
                                            std::chrono::duration<double>((time - s.anchorSim) / s.pace));
        // Wait until the wall clock catches up with the simulated one, waking early for a command.
        s.changed.wait_until(lock, due, [&] { return s.reanchor || s.stop; });
    } else {
        s.reanchor = true;
    }
}

bool RunControl::stopRequested() const
{
    std::lock_guard lock(m_state->mutex);
    return m_state->stop;
}

} // namespace dml::app
