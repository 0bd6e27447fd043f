// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Runs `dmlsim` child processes N at a time (one simulation per process: ../shared/SIMGRID-NOTES.md).
#include <QByteArray>
#include <QString>
#include <QStringList>

#include <functional>
#include <vector>

namespace dml::app {

struct ChildJob {
    QStringList args;     ///< arguments of the child dmlsim
    int exitCode = -1;    ///< -1 if it crashed or could not start
    QByteArray out, err;  ///< everything it printed
    double wallTime = 0;  ///< s
};

/// Runs every job with at most `parallel` at once and returns when all have ended. `onDone(index)` is called
/// as each one ends (in the calling thread). Needs no running event loop; creates a QCoreApplication if none.
void runChildren(std::vector<ChildJob>& jobs, int parallel, const std::function<void(std::size_t)>& onDone);

/// Path of the running dmlsim executable.
QString selfExecutable();

} // namespace dml::app
