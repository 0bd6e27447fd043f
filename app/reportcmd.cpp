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
        "Write a report comparing stored runs: what differs between their scenarios, a table of final accuracy, "
        "time to target accuracy, simulated time, communication overhead, utilization, bytes and wall time "
        "(mean and spread over repetitions), charts (accuracy against simulated time; speed-up and scaling "
        "efficiency when workers vary; communication overhead when a bandwidth varies), and how to reproduce "
        "each run. The format follows the extension of --out: .html (self-contained), .pdf, or .csv (the "
        "series).");
    const QCommandLineOption sweep("sweep", "The runs of this sweep (id, id prefix or name).", "id");
    const QCommandLineOption runs("runs", "Comma-separated run ids.", "ids");
    const QCommandLineOption db("db", "Run store (SQLite). Default: ./dmlsim.sqlite.", "file", "dmlsim.sqlite");
    const QCommandLineOption out("out", "Report file: FILE.html, FILE.pdf or FILE.csv.", "file");
    p.addOptions({sweep, runs, db, out});
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
        for (const std::string& w : writeReport(store, ids, p.value(out)))
            std::fprintf(stderr, "dmlsim report: warning: %s\n", w.c_str());
        std::printf("wrote %s (%zu runs)\n", qPrintable(p.value(out)), ids.size());
        return Ok;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "dmlsim report: %s\n", e.what());
        return BadInput;
    }
}

} // namespace dml::app
