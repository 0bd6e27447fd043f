// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// `--threads N` of run, compare and sweep (issue 16): how many computations of one simulation run at once
// (algorithms/parallel.h). The numbers never depend on it.
#include <QCommandLineOption>
#include <QStringList>

#include <optional>

class QCommandLineParser;

namespace dml::app {

/// The --threads option; `fallback` describes the default in the help.
QCommandLineOption threadsOption(const QString& fallback);

/// The value of --threads if set, else `fallback`. On a value that is not a whole number in [1, 256]
/// (parallel::kMaxThreads) prints "dmlsim COMMAND: --threads: expected a whole number from 1 to 256, got 'X'" on
/// stderr and returns nothing.
std::optional<int> threadsValue(const QCommandLineParser& p, const QCommandLineOption& o, const char* command,
                                int fallback);

/// Threads for each of the children of compare or sweep when `jobs` run at once out of `runs`, on `cores` cores:
/// max(1, cores / min(jobs, runs)), so that the children together do not use more threads than cores.
int threadsPerChild(int cores, int jobs, int runs);

/// The cores this process may use (parallel::availableCores).
int availableCores();

/// `args` of a child `dmlsim run` with "--threads N" appended.
QStringList withThreads(QStringList args, int threads);

} // namespace dml::app
