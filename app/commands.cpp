// SPDX-License-Identifier: GPL-3.0-or-later
#include "commands.h"

#include "bottleneck.h"
#include "buildinfo.h"
#include "error.h"
#include "events.h"
#include "runcontrol.h"
#include "runstore.h"
#include "scenario.h"
#include "scenario_platform.h"
#include "scenario_jobs.h"
#include "sweep.h"
#include "threadsoption.h"
#include "parallel.h"
#include "units.h"

#include <QCommandLineParser>
#include <QJsonArray>
#include <QJsonDocument>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <optional>
#include <set>
#include <unistd.h>

namespace dml::app {
namespace {

const char* kVersion = DMLSIM_VERSION;
const char* kDefaultDb = "dmlsim.sqlite";

/// Sets the synopsis, then parseCommandLine.
std::optional<int> parseArgs(QCommandLineParser& p, const QString& name, const QString& synopsis,
                             const QStringList& args)
{
    p.setApplicationDescription(synopsis);
    return parseCommandLine(p, name, args);
}

double wallClock()
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

} // namespace

void printSummaryTable(long long runId, const Scenario& sc, const sim::SimulationResult& r, double wall)
{
    const Summary& s = r.summary;
    std::printf("\nRun %lld finished: %s\n", runId, sc.name.c_str());
    const bool fedbuff = sc.sim.strategy.kind == StrategyKind::FedBuff;
    const bool hier = sc.sim.strategy.kind == StrategyKind::HierFavg;
    const bool fedavg = sc.sim.strategy.kind == StrategyKind::FedAvg || fedbuff || hier; // clients, not workers
    std::printf("  strategy                   %s, %d %s, network model %s\n", strategyTitle(sc.sim.strategy.kind),
                sc.sim.strategy.workers, fedavg ? "clients" : "workers", sim::toString(sc.sim.platform.network));
    if (sc.sim.strategy.overlap.enabled)
        std::printf("  overlap                    backward pass with the gradients' %s, in buckets of %g MiB\n",
                    sc.sim.strategy.kind == StrategyKind::SyncPs ? "pushes" : "all-reduces",
                    sc.sim.strategy.overlap.bucketCapBytes / (1024.0 * 1024.0));
    if (s.accuracySimulated)
        std::printf("  final test accuracy        %.2f %%   (best %.2f %%)\n", 100 * s.finalAccuracy,
                    100 * s.bestAccuracy);
    else
        std::printf("  test accuracy              not simulated: proxy model (no real arithmetic on data)\n");
    std::printf("  simulated training time    %s\n", formatSeconds(s.simulatedTime).c_str());
    if (s.targetAccuracy > 0 && s.accuracySimulated)
        std::printf("  %-26s %s\n", ("time to " + QString::number(100 * s.targetAccuracy, 'g', 4).toStdString() +
                                       " % accuracy").c_str(),
                    s.timeToTarget < 0 ? "not reached" : (formatSeconds(s.timeToTarget) + " (simulated)").c_str());
    std::printf("  communication overhead     %.1f %%   (workers' communication time / elapsed time)\n",
                100 * s.communicationOverhead);
    std::printf("  utilization                %.1f %%   (workers' compute time / elapsed time)\n",
                100 * s.utilization);
    std::printf("  idle                       %.1f %%   (workers' time blocked waiting for others / elapsed time)\n",
                100 * s.idleFraction);
    std::printf("  bytes on the wire          %s   (delivered)\n", formatBytes(s.bytesOnWire).c_str());
    if (s.bytesLost > 0)
        std::printf("  bytes lost                 %s   (transfers that failed: a host went off)\n",
                    formatBytes(s.bytesLost).c_str());
    if (s.stalenessMean >= 0)
        std::printf("  staleness                  mean %.2f, max %.0f   (model versions between pull and push)\n",
                    s.stalenessMean, s.stalenessMax);
    if (s.compressedBytes > 0)
        std::printf("  compression                %s: %s sent for %s at fp32 (%.1fx, %s saved); encode/decode %s "
                    "simulated (summed over hosts)\n",
                    s.compressor.c_str(), formatBytes(s.compressedBytes).c_str(),
                    formatBytes(s.uncompressedBytes).c_str(), s.uncompressedBytes / s.compressedBytes,
                    formatBytes(s.uncompressedBytes - s.compressedBytes).c_str(), formatSeconds(s.codecSeconds).c_str());
    if (s.epsilon >= 0)
        std::printf("  privacy                    %s: (epsilon %.3g, delta %.3g)-DP   (RDP accountant)\n",
                    s.privacy.c_str(), s.epsilon, s.delta);
    if (s.secureAggregation != "none")
        std::printf("  secure aggregation         %s: %s of protocol rounds, %s of keys and shares (simulated); %ld "
                    "round(s) failed (fewer than t clients)\n",
                    s.secureAggregation.c_str(), formatSeconds(s.secAggSeconds).c_str(),
                    formatBytes(s.secAggBytes).c_str(), s.secAggFailedRounds);
    if (s.failures > 0 || s.checkpoints > 0) {
        if (s.failures > 0) {
            std::printf("  failures                   %d rank failure(s)", s.failures);
            if (s.restarts > 0 || s.checkpoints > 0)
                std::printf("; %d restart(s), %ld step(s) lost, %s of compute redone, %s recovering", s.restarts,
                            s.lostSteps, formatSeconds(s.lostComputeSeconds).c_str(),
                            formatSeconds(s.recoverySeconds).c_str());
            std::printf("\n");
        }
        if (s.checkpoints > 0)
            std::printf("  checkpoints                %d written in %s (simulated)\n", s.checkpoints,
                        formatSeconds(s.checkpointSeconds).c_str());
        if (s.goodput >= 0)
            std::printf("  goodput                    %.1f %%   (useful compute / (ranks x simulated time))\n",
                        100 * s.goodput);
    }
    if (s.localSteps > 1)
        std::printf("  local SGD                  averaging every %d optimizer steps\n", s.localSteps);
    if (s.partitionParts > 0)
        std::printf("  partition                  %d %s, %.0f-%.0f samples, label skew (mean TV) %.2f, largest class "
                    "%.0f %%\n",
                    s.partitionParts, fedavg ? "clients" : "workers", s.partitionSizeMin, s.partitionSizeMax,
                    s.partitionLabelSkew, 100 * s.partitionLargestClassShare);
    std::printf("  %-26s %ld / %.2f   (stopped: %s)\n", fedbuff ? "aggregations / epochs" : hier ? "cloud rounds / epochs" : fedavg ? "rounds / epochs" : "steps / epochs", s.steps,
                s.epochs, s.stopReason.c_str());
    std::printf("  evaluation                 every %.3g epochs of data processed%s%s\n", s.evalIntervalEpochs,
                s.evalNote.empty() ? "" : "; ", s.evalNote.c_str());
    // The most loaded link or host, and shared links near saturation (issue 15).
    std::printf("  bottleneck                 %s   (most loaded link or host)\n",
                findBottleneck(r.hosts, r.links).text().c_str());
    for (const LinkStats& l : saturatedSharedLinks(r.hosts, r.links))
        std::printf("  warning: %s\n", saturationWarning(l, r.hosts).c_str());
    std::printf("  wall time                  %.2f s\n\n", wall);
    std::printf("  %-12s %-7s %10s %10s %10s %8s %12s %12s\n", "host", "role", "compute", "comm", "idle", "util",
                "sent", "received");
    int shown = 0;
    for (const HostStats& h : r.hosts) {
        if (h.elapsed == 0 && h.bytesSent == 0)
            continue; // e.g. federated clients never sampled
        if (++shown > 24 && &h != &r.hosts.back()) {
            if (shown == 25)
                std::printf("  ... (%zu hosts in all; `dmlsim run --json` lists every one)\n", r.hosts.size());
            continue;
        }
        std::printf("  %-12s %-7s %10s %10s %10s %7.1f%% %12s %12s\n", h.name.c_str(), h.role.c_str(),
                    formatSeconds(h.compute).c_str(), formatSeconds(h.communication).c_str(),
                    formatSeconds(h.idle).c_str(), h.elapsed > 0 ? 100 * h.compute / h.elapsed : 0.0,
                    formatBytes(h.bytesSent).c_str(), formatBytes(h.bytesReceived).c_str());
    }
    // The busiest links (README "Traffic per link").
    if (!r.links.empty()) {
        std::printf("\n  %-24s %12s %14s %8s\n", "busiest links", "bytes", "bandwidth", "load");
        for (std::size_t i = 0; i < r.links.size() && i < 5; ++i) {
            const LinkStats& l = r.links[i];
            std::printf("  %-24s %12s %12s/s %7.1f%%\n", l.name.c_str(), formatBytes(l.bytes).c_str(),
                        formatBytes(l.bandwidth).c_str(), 100 * l.utilization);
        }
        if (r.links.size() > 5)
            std::printf("  ... (%zu links carried traffic; `dmlsim run --json` lists every one)\n", r.links.size());
    }
}

namespace {

/// Reports an input error on stderr (and as an error event when streaming).
int inputError(bool stream, const std::string& message, const std::string& path = {},
               const std::string& file = {})
{
    std::fprintf(stderr, "dmlsim run: %s\n", message.c_str());
    if (stream)
        writeEvent(stdout, "error",
                   {{"message", QString::fromStdString(message)},
                    {"path", QString::fromStdString(path)},
                    {"file", QString::fromStdString(file)}});
    return BadInput;
}

} // namespace

std::optional<int> parseCommandLine(QCommandLineParser& p, const QString& name, const QStringList& args)
{
    p.setSingleDashWordOptionMode(QCommandLineParser::ParseAsLongOptions);
    const QCommandLineOption help({"h", "help"}, "Show this help.");
    p.addOption(help);
    if (!p.parse(QStringList{"dmlsim " + name} + args)) {
        std::fprintf(stderr, "dmlsim %s: %s\nTry 'dmlsim %s --help'.\n", qPrintable(name),
                     qPrintable(p.errorText()), qPrintable(name));
        return BadInput;
    }
    if (p.isSet(help)) {
        // Without a QCoreApplication, Qt names the program "<executable_name>".
        std::printf("%s", qPrintable(p.helpText().replace("<executable_name>", "dmlsim " + name)));
        return Ok;
    }
    return std::nullopt;
}

QString usage()
{
    return "dmlsim " + QString(kVersion) +
           " - simulator and workbench for distributed machine learning\n\n"
           "Usage: dmlsim <command> [options]\n\n"
           "Commands:\n"
           "  run SCENARIO.json   simulate one scenario, train its model, store the run\n"
           "  runs                list the runs in the store\n"
           "  compare SCENARIO    run a scenario under several strategies side by side\n"
           "  platform SCENARIO   describe the simulated platform (text, JSON, Graphviz DOT)\n"
           "  sweep SWEEP.json    run a grid of scenario variants with repetitions, N at a time (or a shard)\n"
           "  report              compare stored runs or a sweep: HTML, PDF or CSV with tables and charts\n"
           "  merge A B --into C  combine run stores (e.g. the shards of a sweep)\n"
           "  trace RUN_ID        export a run's per-host timeline as Chrome trace-event JSON (Perfetto)\n\n"
           "Run 'dmlsim <command> --help' for the options of a command.\n";
}

int cmdRun(const QStringList& args)
{
    QCommandLineParser p;
    p.addPositionalArgument("scenario", "Scenario file (JSON).");
    const QCommandLineOption db("db", "Run store (SQLite). Default: ./dmlsim.sqlite.", "file", kDefaultDb);
    const QCommandLineOption stream("stream", "Print JSON-lines events (started, sample, host_stats, summary, "
                                              "error) on stdout, as the GUI reads them.");
    const QCommandLineOption json("json", "Print the summary as one JSON object on stdout.");
    const QCommandLineOption tag("tag", "Tag the run as part of a sweep: sweep=ID,point=N,rep=R (set by "
                                        "'dmlsim sweep').", "tag");
    const QCommandLineOption threads = threadsOption("the cores available");
    p.addOptions({db, stream, json, tag, threads});
    if (auto rc = parseArgs(p, "run",
                            "Simulate a scenario: train its model under its strategy on its simulated platform, "
                            "print a summary and store the run.",
                            args))
        return *rc;
    const bool streaming = p.isSet(stream);
    const std::optional<int> nThreads = threadsValue(p, threads, "run", parallel::availableCores());
    if (!nThreads)
        return BadInput;
    parallel::setThreads(*nThreads);
    if (p.positionalArguments().size() != 1)
        return inputError(streaming, "expected one scenario file; try 'dmlsim run --help'");
    const std::string file = p.positionalArguments().front().toStdString();
    std::optional<SweepTag> sweepTag;
    if (p.isSet(tag) && !(sweepTag = parseSweepTag(p.value(tag))))
        return inputError(streaming, "--tag: expected sweep=ID,point=N,rep=R, got '" + p.value(tag).toStdString() + "'");

    // Everything that can be checked is checked before the store is touched: bad input leaves no run behind.
    Scenario sc;
    TrainTest data;
    try {
        sc = loadScenario(file);
        if (!sc.jobs.empty()) { // several jobs on one platform (scenario_jobs.h)
            if (streaming || sweepTag)
                return inputError(streaming, file + ": jobs: --stream and --tag do not take a scenario with jobs yet "
                                                    "(README \"Several jobs on one platform\")", "jobs", file);
            return runJobs(sc, p.value(db).toStdString(), p.isSet(json));
        }
        data = loadDataset(sc);
        preparePlatform(sc, checkAgainstData(sc, data));
    } catch (const ScenarioError& e) {
        const auto& first = e.issues().front();
        return inputError(streaming, e.what(), first.path, e.file());
    } catch (const DatasetError& e) {
        return inputError(streaming, std::string("dataset: ") + e.what(), "workload.dataset", e.file());
    }

    std::optional<RunStore> store;
    long long runId = 0;
    try {
        store.emplace(p.value(db).toStdString());
        runId = store->beginRun(sc, toString(sc.sim.strategy.kind), kVersion, buildString());
        if (sweepTag)
            store->tagRun(runId, sweepTag->sweep, sweepTag->point, sweepTag->rep);
    } catch (const StoreError& e) {
        return inputError(streaming, e.what(), "", p.value(db).toStdString());
    }
    if (streaming)
        writeEvent(stdout, "started",
                   {{"run_id", double(runId)},
                    {"name", QString::fromStdString(sc.name)},
                    {"description", QString::fromStdString(sc.description)},
                    {"strategy", toString(sc.sim.strategy.kind)},
                    {"workers", sc.sim.strategy.workers},
                    {"network_model", sim::toString(sc.sim.platform.network)},
                    {"seed", double(sc.sim.training.seed)},
                    {"version", kVersion},
                    {"build", buildString()}});

    // A run outlives whoever reads its output: when a sweep's parent or the workbench dies, writing a progress line
    // or an event to the closed pipe must not kill the run (SIGPIPE's default); the write fails quietly, and the run
    // goes on to its end and is stored (README "Running a sweep").
    std::signal(SIGPIPE, SIG_IGN);
    StreamSink streamSink(stdout);
    ProgressSink progress(isatty(STDERR_FILENO) == 1);
    // With --stream, stdin carries run-control commands (app/runcontrol.h); their state changes are events.
    RunControl control([](const char* state, long step, double time) {
        writeEvent(stdout, "state", {{"state", state}, {"step", double(step)}, {"time", time}});
    });
    SinkList sinks;
    sinks.add(&progress);
    if (streaming) {
        sinks.add(&streamSink);
        sinks.add(&control);
        control.listen(std::cin);
    }
    const double t0 = wallClock();
    try {
        const sim::SimulationResult result =
            sim::simulate(sc.sim, data, sinks);
        const double wall = wallClock() - t0;
        progress.finish();
        store->finishRun(runId, result, wall);
        if (p.isSet(json)) {
            QJsonObject o = toJson(result.summary);
            o.insert("run_id", double(runId));
            o.insert("name", QString::fromStdString(sc.name));
            o.insert("wall_time", wall);
            o.insert("build", buildString());
            QJsonArray hosts;
            for (const auto& h : result.hosts)
                hosts.append(toJson(h));
            o.insert("hosts", hosts);
            o.insert("links", toJson(result.links));
            const Bottleneck b = findBottleneck(result.hosts, result.links);
            QJsonArray saturated;
            for (const LinkStats& l : saturatedSharedLinks(result.hosts, result.links))
                saturated.append(QString::fromStdString(saturationWarning(l, result.hosts)));
            o.insert("bottleneck", QJsonObject{{"text", QString::fromStdString(b.text())},
                                               {"name", QString::fromStdString(b.name)},
                                               {"load", b.load},
                                               {"shared", b.shared},
                                               {"warnings", saturated}});
            std::printf("%s\n", QJsonDocument(o).toJson(QJsonDocument::Compact).constData());
        } else if (!streaming) {
            printSummaryTable(runId, sc, result, wall);
        }
        return Ok;
    } catch (const ConfigError& e) {
        // A setting the platform or the strategy cannot run, found once the platform was built (a fault that names
        // no host, or stops a rank the strategy cannot lose): bad input, as `dmlsim platform` says (exit 2), and no
        // run is left behind.
        progress.finish();
        try {
            store->deleteRun(runId);
        } catch (const StoreError& se) {
            std::fprintf(stderr, "dmlsim run: could not remove run %lld: %s\n", runId, se.what());
        }
        return inputError(streaming, sc.file + ": " + e.what(), e.path(), sc.file);
    } catch (const std::exception& e) {
        progress.finish();
        const std::string msg = std::string("simulation failed: ") + e.what();
        std::fprintf(stderr, "dmlsim run: %s\n", msg.c_str());
        if (streaming)
            writeEvent(stdout, "error", {{"message", QString::fromStdString(msg)}});
        try {
            store->failRun(runId, msg, wallClock() - t0);
        } catch (const StoreError& se) {
            std::fprintf(stderr, "dmlsim run: could not record the failure: %s\n", se.what());
        }
        return SimulationFailed;
    }
}

int cmdRuns(const QStringList& args)
{
    QCommandLineParser p;
    const QCommandLineOption db("db", "Run store (SQLite). Default: ./dmlsim.sqlite.", "file", kDefaultDb);
    const QCommandLineOption json("json", "Print the runs as a JSON array.");
    p.addOptions({db, json});
    if (auto rc = parseArgs(p, "runs", "List the runs in the store.", args))
        return *rc;
    try {
        RunStore store(p.value(db).toStdString());
        const auto runs = store.runs();
        if (p.isSet(json)) {
            QJsonArray a;
            for (const auto& r : runs) {
                QJsonObject o = toJson(r.summary);
                o.insert("id", double(r.id));
                o.insert("name", QString::fromStdString(r.name));
                o.insert("status", QString::fromStdString(r.interrupted ? "interrupted" : r.status));
                o.insert("strategy", QString::fromStdString(r.strategy));
                o.insert("workers", r.workers);
                o.insert("seed", double(r.seed));
                o.insert("created", QString::fromStdString(r.created));
                o.insert("error", QString::fromStdString(r.error));
                o.insert("wall_time", r.wallTime);
                o.insert("version", QString::fromStdString(r.version));
                o.insert("build", QString::fromStdString(r.build));
                a.append(o);
            }
            std::printf("%s\n", QJsonDocument(a).toJson(QJsonDocument::Compact).constData());
            return Ok;
        }
        // Columns as wide as their widest cell; "-" where there is no figure (accuracy of a proxy model, a run
        // that did not finish).
        std::vector<std::vector<std::string>> rows{
            {"id", "created", "status", "strategy", "workers", "accuracy", "simulated", "wall", "name"}};
        std::vector<std::string> errors{""};
        for (const auto& r : runs) {
            const bool done = r.status == "finished";
            rows.push_back({std::to_string(r.id), r.created, r.interrupted ? "interrupted" : r.status, r.strategy,
                            std::to_string(r.workers),
                            done && r.summary.accuracySimulated
                                ? QString::asprintf("%.2f %%", 100 * r.summary.finalAccuracy).toStdString()
                                : "-",
                            done ? formatSeconds(r.summary.simulatedTime) : "-",
                            r.wallTime > 0 ? formatSeconds(r.wallTime) : "-", r.name});
            errors.push_back(r.status == "failed" ? r.error : "");
        }
        std::vector<std::size_t> width(rows.front().size(), 0);
        for (const auto& row : rows)
            for (std::size_t c = 0; c < row.size(); ++c)
                width[c] = std::max(width[c], std::size_t(QString::fromStdString(row[c]).size()));
        const std::set<std::size_t> right{0, 4, 5, 6, 7}; // numbers
        for (std::size_t i = 0; i < rows.size(); ++i) {
            std::string line;
            for (std::size_t c = 0; c < rows[i].size(); ++c) {
                const std::string& cell = rows[i][c];
                const std::string pad(width[c] - std::size_t(QString::fromStdString(cell).size()), ' ');
                const bool last = c + 1 == rows[i].size();
                line += (c ? "  " : "") + (right.count(c) ? pad + cell : last ? cell : cell + pad);
            }
            std::printf("%s\n", line.c_str());
            if (!errors[i].empty())
                std::printf("%s  error: %s\n", std::string(width[0], ' ').c_str(), errors[i].c_str());
        }
        return Ok;
    } catch (const StoreError& e) {
        std::fprintf(stderr, "dmlsim runs: %s\n", e.what());
        return BadInput;
    }
}

} // namespace dml::app
