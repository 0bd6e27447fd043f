// SPDX-License-Identifier: GPL-3.0-or-later
// `dmlsim report`: a comparison report of a sweep or of chosen runs.
#include "commands.h"
#include "report.h"
#include "runstore.h"

#include <QCommandLineParser>
#include <QFile>

#include <cstdio>

namespace dml::app {

int cmdReport(const QStringList& args)
{
    QCommandLineParser p;
    p.setApplicationDescription(
        "Write a report comparing stored runs. It opens with the answer: the best configuration for the objective, "
        "how much better it is than the runner-up, where the best strategy changes along each varied field (the "
        "crossover, interpolated between grid points) and each configuration's bottleneck (most loaded link or "
        "host), with a warning for a shared link above 80 % load. Then what differs, a table of accuracy, time to "
        "target, simulated time, throughput, cost (with prices), communication overhead, utilization, bytes and "
        "wall time (mean and 95 % confidence interval over repetitions), charts against each varied field, and how "
        "to reproduce each run. The answer is printed too. The format follows the extension of --out: .html "
        "(self-contained), .pdf, or .csv (the summary table; the series go to FILE-series.csv).");
    const QCommandLineOption sweep("sweep", "The runs of this sweep (id, id prefix or name).", "id");
    const QCommandLineOption runs("runs", "Comma-separated run ids.", "ids");
    const QCommandLineOption db("db", "Run store (SQLite). Default: ./dmlsim.sqlite.", "file", "dmlsim.sqlite");
    const QCommandLineOption out("out", "Report file: FILE.html, FILE.pdf or FILE.csv.", "file");
    const QCommandLineOption objective("objective", "What the best configuration minimises: tta (time to the target "
                                                    "accuracy, the default), time (simulated time) or cost (needs "
                                                    "prices: README \"Cost\").", "name", "tta");
    p.addOptions({sweep, runs, db, out, objective});
    if (auto rc = parseCommandLine(p, "report", args))
        return *rc;
    if (p.isSet(sweep) == p.isSet(runs) || !p.isSet(out) || !p.positionalArguments().isEmpty()) {
        std::fprintf(stderr, "dmlsim report: expected --sweep ID or --runs ID,ID,... and --out FILE; "
                             "try 'dmlsim report --help'\n");
        return BadInput;
    }
    if (!QFile::exists(p.value(db))) {
        std::fprintf(stderr, "dmlsim report: %s: no such run store\n", qPrintable(p.value(db)));
        return BadInput;
    }
    try {
        RunStore store(p.value(db).toStdString());
        std::vector<long long> ids;
        if (p.isSet(sweep)) {
            ids = sweepRunIds(store, p.value(sweep).toStdString());
        } else {
            for (const QString& s : p.value(runs).split(',', Qt::SkipEmptyParts)) {
                bool ok = false;
                ids.push_back(s.trimmed().toLongLong(&ok));
                if (!ok) {
                    std::fprintf(stderr, "dmlsim report: --runs: '%s' is not a run id\n", qPrintable(s));
                    return BadInput;
                }
            }
        }
        ReportOptions options;
        options.objective = p.value(objective).toStdString();
        std::vector<std::string> answer;
        options.answer = &answer;
        for (const std::string& w : writeReport(store, ids, p.value(out), options))
            std::fprintf(stderr, "dmlsim report: warning: %s\n", w.c_str());
        for (const std::string& line : answer)
            std::printf("%s\n", line.c_str());
        if (p.value(out).endsWith(".csv", Qt::CaseInsensitive))
            std::printf("wrote %s (summary, %zu runs) and %s (series)\n", qPrintable(p.value(out)), ids.size(),
                        qPrintable(seriesCsvFile(p.value(out))));
        else
            std::printf("wrote %s (%zu runs)\n", qPrintable(p.value(out)), ids.size());
        return Ok;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "dmlsim report: %s\n", e.what());
        return BadInput;
    }
}

} // namespace dml::app
