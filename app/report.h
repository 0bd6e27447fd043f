// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Comparison reports of stored runs (`dmlsim report`, the workbench's "Export report"): what differs between
// the runs' scenarios, a table of the summary figures (mean and spread over repetitions), charts, and how to
// reproduce every run. Library dml_report (Qt Widgets: charts are drawn with QCustomPlot).
#include <QString>

#include <string>
#include <vector>

namespace dml::app {

class RunStore;

/// What a report ranks by and what it hands back besides the file.
struct ReportOptions {
    /// "tta" (time to the target accuracy; the default), "time" (simulated time) or "cost" (cost to the target, or
    /// per run without one; needs a "cost" section in the scenarios, README "Cost"). A report on runs without a
    /// target or without accuracy (proxy models) ranks by simulated time and says so.
    std::string objective = "tta";
    /// If set, receives the answer in plain sentences (best configuration, margin over the runner-up, crossovers,
    /// bottlenecks and warnings), as the report's summary states it.
    std::vector<std::string>* answer = nullptr;
};

/// Writes a report on the runs `runIds` of `store` to `outFile`; the format follows the extension:
/// - .html: one self-contained file (charts embedded as base64 PNG images);
/// - .pdf: the same content, typeset with QTextDocument onto QPdfWriter (A4 landscape);
/// - .csv: the summary table, one row per configuration (README "Reports" lists the columns; one unit per
///   column, named in its heading), and beside it seriesCsvFile(outFile) with the series in long form, one row
///   per point: run_id,config,seed,series,time,step,epoch,value (series: test_accuracy, test_loss, train_loss,
///   and the run's named series such as staleness; time in simulated seconds; accuracy as a fraction).
/// The report opens with its answer: the best configuration for the objective, its margin over the runner-up,
/// where the best strategy changes along each varied numeric field (the crossover, interpolated between grid
/// points), and every configuration's bottleneck, with a warning for a shared link above 80 % load.
/// Runs are grouped into configurations by their scenario with name, description and seed left out; a group's
/// runs are its repetitions (mean and 95 % confidence interval, Student's t). Runs that did not finish are
/// listed but left out of the figures.
/// HTML and PDF need a QApplication: if there is no QCoreApplication, one is created for the call on the
/// "offscreen" platform (unless QT_QPA_PLATFORM says otherwise); a QCoreApplication that is not a QApplication
/// is an error. Throws std::runtime_error (StoreError for store problems) with a message naming the problem:
/// no runs, an unknown run id, no finished run, an unknown extension or objective, objective "cost" without
/// prices, a file that cannot be written.
/// Returns warnings for the caller to show, one line each: configurations whose runs were made by different
/// builds of dmlsim (their figures may differ in the last bits; README "Reproducibility"). HTML and PDF reports
/// show them too.
std::vector<std::string> writeReport(RunStore& store, const std::vector<long long>& runIds, const QString& outFile,
                                     const ReportOptions& options = {});

/// Where a CSV report puts the series: "dir/report.csv" -> "dir/report-series.csv".
QString seriesCsvFile(const QString& csvFile);

/// The runs of sweep `sweep` (its id, a unique prefix of it, or its name): for every (point, repetition), the
/// latest finished run, ordered by point then repetition. Throws std::runtime_error if there is no such sweep
/// or it has no finished run.
std::vector<long long> sweepRunIds(RunStore& store, const std::string& sweep);

} // namespace dml::app
