// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
#include <QStringList>

#include <optional>

class QCommandLineParser;

namespace dml::sim {
struct SimulationResult;
}

namespace dml::app {

/// Adds -h/--help to `p` and parses `args` for subcommand `name`. Prints the help (returns Ok) or the error
/// (returns BadInput); returns nothing when the command should go on.
std::optional<int> parseCommandLine(QCommandLineParser& p, const QString& name, const QStringList& args);

/// Exit codes of every subcommand.
enum ExitCode { Ok = 0, SimulationFailed = 1, BadInput = 2 };

/// `dmlsim run SCENARIO.json [--db FILE] [--stream] [--json]`. args excludes "dmlsim" and "run".
int cmdRun(const QStringList& args);
/// `dmlsim runs [--db FILE] [--json]`.
int cmdRuns(const QStringList& args);
/// `dmlsim compare SCENARIO.json [--strategies LIST] [--jobs N] [--db FILE] [--json]`.
int cmdCompare(const QStringList& args);
/// `dmlsim platform SCENARIO.json [--json FILE] [--dot FILE]`.
int cmdPlatform(const QStringList& args);
/// `dmlsim sweep SWEEP.json [--jobs N] [--db FILE] [--shard I/K]` (README "The sweep file").
int cmdSweep(const QStringList& args);
/// `dmlsim report (--sweep ID | --runs ID,...) [--db FILE] --out FILE.html|.pdf|.csv` (in dml_report).
int cmdReport(const QStringList& args);
/// `dmlsim merge A.sqlite B.sqlite ... --into C.sqlite`.
int cmdMerge(const QStringList& args);
/// `dmlsim trace RUN_ID [--db FILE] --out trace.json`.
int cmdTrace(const QStringList& args);
/// The top-level usage text.
QString usage();

struct Scenario;
/// The summary table `dmlsim run` prints for run `runId` of `sc` (wall: wall-clock s).
void printSummaryTable(long long runId, const Scenario& sc, const sim::SimulationResult& r, double wall);

} // namespace dml::app
