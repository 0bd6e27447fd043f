// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Run control for `dmlsim run --stream`: commands on stdin, one per line, applied at global-step boundaries.
//   pause          wait after the current step
//   resume         carry on
//   step           run one more global step, then pause
//   stop           end the run gracefully (stored as finished, stop reason "stopped")
//   pace X         X simulated seconds per wall-clock second (for teaching); "pace 0" = as fast as possible
// The simulation waits inside MetricsSink::progress, so a paused run uses no CPU.
#include "metrics.h"

#include <functional>
#include <istream>
#include <memory>
#include <string>

namespace dml::app {

class RunControl final : public MetricsSink {
public:
    /// `onState(state, step, time)` is called with "paused" when the run starts waiting and "running" when it
    /// carries on (e.g. to emit stream events).
    explicit RunControl(std::function<void(const char*, long, double)> onState = {});
    /// Reads commands from `in` on a background thread until end of file; at end of file (the controller is gone)
    /// the run resumes and drops its pace, to finish as fast as possible. `in` must outlive the process's use of it
    /// (std::cin).
    void listen(std::istream& in);
    /// Applies one command line. Returns false (and changes nothing) if it is not a command.
    bool command(const std::string& line);

    void progress(long step, long totalSteps, double time) override;
    bool stopRequested() const override;

private:
    struct State;
    std::shared_ptr<State> m_state; // shared with the reader thread, which may outlive this object
    std::function<void(const char*, long, double)> m_onState;
};

} // namespace dml::app
