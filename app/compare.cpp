// SPDX-License-Identifier: GPL-3.0-or-later
// `dmlsim compare`: the same platform and workload under several strategies, as parallel child runs.
#include "childpool.h"
#include "threadsoption.h"
#include "commands.h"
#include "runstore.h"
#include "scenario.h"
#include "units.h"

#include <QCommandLineParser>
#include <QDir>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QThread>

#include <cstdio>
#include <functional>

namespace dml::app {
namespace {

struct Variant {
    std::string label;
    std::string text; ///< the patched scenario
    Scenario scenario;
    QJsonObject summary;
};

/// `s` as a JSON string literal.
std::string quoted(const std::string& s)
{
    const std::string a = QJsonDocument(QJsonArray{QString::fromStdString(s)}).toJson(QJsonDocument::Compact).toStdString();
    return a.substr(1, a.size() - 2); // strip the array's brackets
}

QString cell(const QJsonValue& v, const char* fmt, double scale = 1)
{
    if (v.isNull() || v.isUndefined())
        return "-";
    return QString::asprintf(fmt, v.toDouble() * scale);
}

/// Among the runs that finished: the first that `plain` accepts (the baseline a side table compares with, or
/// nullptr) and whether any is not plain (the side table is printed only then).
std::pair<const Variant*, bool> baselineOf(const std::vector<Variant>& vs, const std::vector<ChildJob>& jobs,
                                           const std::function<bool(const QJsonObject&)>& plain)
{
    const Variant* baseline = nullptr;
    bool any = false;
    for (std::size_t i = 0; i < vs.size(); ++i) {
        if (jobs[i].exitCode != 0)
            continue;
        if (!plain(vs[i].summary))
            any = true;
        else if (!baseline)
            baseline = &vs[i];
    }
    return {baseline, any};
}

/// "baseline", or the run's final accuracy minus the baseline's in points ("" without a baseline or accuracy).
QString accuracyAgainst(const Variant& v, const Variant* baseline)
{
    if (!baseline || !v.summary["accuracy_simulated"].toBool(true))
        return {};
    if (&v == baseline)
        return "baseline";
    return QString::asprintf("%+.2f pt", 100 * (v.summary["final_accuracy"].toDouble() -
                                                baseline->summary["final_accuracy"].toDouble()));
}

/// The compression table, when a run compresses or uses local SGD: what each sent against fp32, and its accuracy
/// against the baseline (the first run that does neither).
void printCompression(const std::vector<Variant>& vs, const std::vector<ChildJob>& jobs)
{
    auto plain = [](const QJsonObject& s) {
        return s["compressor"].toString("none") == "none" && s["local_steps"].toInt(1) == 1;
    };
    const auto [baseline, any] = baselineOf(vs, jobs, plain);
    if (!any)
        return;
    std::printf("\n%-24s %-26s %6s %10s %10s %11s %10s\n", "run", "compression", "local", "sent/fp32", "saved",
                "codec time", baseline ? "accuracy" : "");
    for (std::size_t i = 0; i < vs.size(); ++i) {
        if (jobs[i].exitCode != 0)
            continue;
        const QJsonObject& s = vs[i].summary;
        const double sent = s["compressed_bytes"].toDouble(), fp32 = s["uncompressed_bytes"].toDouble();
        const QString delta = accuracyAgainst(vs[i], baseline);
        std::printf("%-24s %-26s %6d %10s %10s %11s %10s\n", vs[i].label.c_str(),
                    qPrintable(s["compressor"].toString("none")), s["local_steps"].toInt(1),
                    sent > 0 ? qPrintable(QString::asprintf("1/%.1f", fp32 / sent)) : "-",
                    sent > 0 ? formatBytes(fp32 - sent).c_str() : "-",
                    sent > 0 ? formatSeconds(s["codec_seconds"].toDouble()).c_str() : "-", qPrintable(delta));
    }
    std::printf("\nsent/fp32 = bytes of the workers' (clients') compressed gradients or updates / the same messages at "
                "fp32; codec time = simulated encode, decode and aggregation time summed over hosts; accuracy = final "
                "accuracy minus the baseline's, in points\n");
}

/// The privacy table, when a run is differentially private: its guarantee and its accuracy against the first run
/// that is not.
void printPrivacy(const std::vector<Variant>& vs, const std::vector<ChildJob>& jobs)
{
    const auto [baseline, any] =
        baselineOf(vs, jobs, [](const QJsonObject& s) { return s["privacy"].toString("none") == "none"; });
    if (!any)
        return;
    std::printf("\n%-24s %-26s %10s %9s %10s\n", "run", "privacy", "epsilon", "delta", baseline ? "accuracy" : "");
    for (std::size_t i = 0; i < vs.size(); ++i) {
        if (jobs[i].exitCode != 0)
            continue;
        const QJsonObject& s = vs[i].summary;
        const bool priv = s["privacy"].toString("none") != "none";
        const QString delta = accuracyAgainst(vs[i], baseline);
        std::printf("%-24s %-26s %10s %9s %10s\n", vs[i].label.c_str(), qPrintable(s["privacy"].toString("none")),
                    !priv ? "-" : s["epsilon"].isNull() ? "inf" : qPrintable(QString::asprintf("%.3g", s["epsilon"].toDouble())),
                    priv ? qPrintable(QString::asprintf("%.3g", s["delta"].toDouble())) : "-", qPrintable(delta));
    }
    std::printf("\nepsilon, delta = the (epsilon, delta)-DP guarantee of the final model from the RDP accountant (inf: "
                "no noise); accuracy = final accuracy minus the baseline's, in points\n");
}

/// The edge network's traffic by tier, when the runs are on the edge platform: bytes over the sites' WAN links to
/// the cloud, their LAN links (access point to edge server) and their access links (Wi-Fi cells or cellular links),
/// both directions summed. Hierarchical FL (hierfavg) shows its point here: one model per edge server per cloud
/// round on the WAN, instead of one per client.
void printEdgeTraffic(const std::vector<Variant>& vs, const std::vector<ChildJob>& jobs)
{
    bool any = false;
    for (std::size_t i = 0; i < vs.size(); ++i)
        any = any || (jobs[i].exitCode == 0 && vs[i].scenario.sim.platform.topology == sim::Topology::Edge);
    if (!any)
        return;
    std::printf("\n%-24s %12s %12s %12s\n", "run", "WAN bytes", "LAN bytes", "access bytes");
    for (std::size_t i = 0; i < vs.size(); ++i) {
        if (jobs[i].exitCode != 0 || vs[i].scenario.sim.platform.topology != sim::Topology::Edge)
            continue;
        double wan = 0, lan = 0, access = 0;
        for (const QJsonValue& l : vs[i].summary["links"].toArray()) {
            const QString name = l["name"].toString();
            const double b = l["bytes"].toDouble();
            if (name.contains("_cell_")) // a device's cellular link, "DEVICE_cell_UP" / "_DOWN"
                access += b;
            else if (!name.startsWith("site"))
                continue;
            else if (name.contains("-wan_"))
                wan += b;
            else if (name.contains("-lan_"))
                lan += b;
            else if (name.endsWith("-wifi"))
                access += b;
        }
        std::printf("%-24s %12s %12s %12s\n", vs[i].label.c_str(), formatBytes(wan).c_str(), formatBytes(lan).c_str(),
                    formatBytes(access).c_str());
    }
    std::printf("\nWAN = the sites' links to the cloud, LAN = access point to edge server, access = Wi-Fi cells or "
                "cellular links; bytes carried, both directions summed (`dmlsim run` lists every link)\n");
}

/// Each run's most loaded link or host (app/bottleneck.h), then a warning for each of its two most loaded shared
/// links above 80 % load and a count of the others.
void printBottlenecks(const std::vector<Variant>& vs, const std::vector<ChildJob>& jobs)
{
    std::printf("\n%-24s %s\n", "run", "bottleneck (most loaded link or host)");
    std::vector<std::string> warnings;
    for (std::size_t i = 0; i < vs.size(); ++i) {
        if (jobs[i].exitCode != 0)
            continue;
        const QJsonObject b = vs[i].summary["bottleneck"].toObject();
        std::printf("%-24s %s\n", vs[i].label.c_str(), qPrintable(b["text"].toString("-")));
        // The worst two per run: on multi-GPU nodes every node's interface, both ways, is often above the threshold.
        const QJsonArray ws = b["warnings"].toArray();
        for (qsizetype k = 0; k < ws.size() && k < 2; ++k)
            warnings.push_back(vs[i].label + ": " + ws[k].toString().toStdString());
        if (ws.size() > 2)
            warnings.push_back(vs[i].label + ": and " + std::to_string(ws.size() - 2) +
                               " more shared links above the threshold (`dmlsim run --json` lists every link)");
    }
    for (const std::string& w : warnings)
        std::printf("warning: %s\n", w.c_str());
}

void printTable(const std::vector<Variant>& vs, const std::vector<ChildJob>& jobs)
{
    std::printf("\n%-24s %9s %13s %12s %9s %8s %8s %11s %11s %8s\n", "run", "accuracy", "time-to-target",
                "simulated", "comm", "util", "idle", "bytes", "staleness", "wall");
    for (std::size_t i = 0; i < vs.size(); ++i) {
        const QJsonObject& s = vs[i].summary;
        if (jobs[i].exitCode != 0) {
            std::printf("%-24s failed (exit %d): see `dmlsim runs`\n", vs[i].label.c_str(), jobs[i].exitCode);
            continue;
        }
        const bool acc = s["accuracy_simulated"].toBool(true);
        const QString ttt = !acc ? "-"
                            : s["time_to_target"].isNull()
                                ? (s["target_accuracy"].toDouble() > 0 ? "not reached" : "-")
                                : QString::fromStdString(formatSeconds(s["time_to_target"].toDouble()));
        const QString stale = s["staleness_mean"].isNull()
                                  ? "-"
                                  : QString::asprintf("%.1f/%.0f", s["staleness_mean"].toDouble(),
                                                      s["staleness_max"].toDouble());
        std::printf("%-24s %9s %13s %12s %8s%% %7s%% %7s%% %11s %11s %7.1fs\n", vs[i].label.c_str(),
                    acc ? qPrintable(cell(s["final_accuracy"], "%.2f %%", 100)) : "-", qPrintable(ttt),
                    formatSeconds(s["simulated_time"].toDouble()).c_str(),
                    qPrintable(cell(s["communication_overhead"], "%.1f", 100)),
                    qPrintable(cell(s["utilization"], "%.1f", 100)), qPrintable(cell(s["idle_fraction"], "%.1f", 100)),
                    formatBytes(s["bytes_on_wire"].toDouble()).c_str(), qPrintable(stale), s["wall_time"].toDouble());
    }
    std::printf("\ncomm, util, idle = workers' (clients') communication, compute and idle time / their elapsed time "
                "(README Glossary); staleness = mean/max model versions between pull and push (asynchronous "
                "server)\n");
    printBottlenecks(vs, jobs);
    printCompression(vs, jobs);
    printPrivacy(vs, jobs);
    printEdgeTraffic(vs, jobs);
    for (std::size_t i = 0; i < vs.size(); ++i)
        if (jobs[i].exitCode == 0 && !vs[i].summary["eval_note"].toString().isEmpty())
            std::printf("%s: %s\n", vs[i].label.c_str(), qPrintable(vs[i].summary["eval_note"].toString()));
}

} // namespace

int cmdCompare(const QStringList& args)
{
    QCommandLineParser p;
    p.setApplicationDescription(
        "Run one scenario under several strategies on the same platform and workload, as parallel child "
        "processes; store every run and print a side-by-side table.\n\n"
        "The runs are the scenario's \"compare\" list (label + JSON merge patch), or, with --strategies, the "
        "scenario with only strategy.type replaced.");
    p.addPositionalArgument("scenario", "Scenario file (JSON).");
    const QCommandLineOption strategies("strategies", "Comma-separated strategy types "
                                                      "(sync-ps,async-ps,ring-allreduce,fedavg,fedbuff), or labels of "
                                                      "the scenario's compare list.", "list");
    const QCommandLineOption jobs("jobs", "Runs at the same time (default: the number of cores).", "n");
    const QCommandLineOption db("db", "Run store (SQLite). Default: ./dmlsim.sqlite.", "file", "dmlsim.sqlite");
    const QCommandLineOption json("json", "Print the summaries as a JSON array.");
    const QCommandLineOption threads = threadsOption("the cores divided among the runs at once");
    p.addOptions({strategies, jobs, db, json, threads});
    if (auto rc = parseCommandLine(p, "compare", args))
        return *rc;
    if (p.positionalArguments().size() != 1) {
        std::fprintf(stderr, "dmlsim compare: expected one scenario file; try 'dmlsim compare --help'\n");
        return BadInput;
    }
    const std::string file = p.positionalArguments().front().toStdString();
    int parallel = QThread::idealThreadCount();
    if (p.isSet(jobs)) {
        bool ok = false;
        parallel = p.value(jobs).toInt(&ok);
        if (!ok || parallel < 1) {
            std::fprintf(stderr, "dmlsim compare: --jobs: expected a whole number >= 1, got '%s'\n",
                         qPrintable(p.value(jobs)));
            return BadInput;
        }
    }
    const std::optional<int> childThreads = threadsValue(p, threads, "compare", 0); // 0: cores / runs at once
    if (!childThreads)
        return BadInput;
    if (*childThreads > 0 && !p.isSet(jobs)) // jobs x threads within the cores
        parallel = std::max(1, availableCores() / *childThreads);

    // Build and validate every variant before anything runs.
    std::vector<Variant> variants;
    try {
        const Scenario base = loadScenario(file);
        if (!base.jobs.empty())
            throw ScenarioError(file, {{"jobs", "`dmlsim compare` does not take a scenario with jobs: `dmlsim run` runs "
                                                "its jobs together and stores them as a group that `dmlsim report "
                                                "--sweep` compares (README \"Several jobs on one platform\")"}});
        // The base without its compare list: each variant is a scenario that runs on its own.
        const std::string baseText = mergePatch(base.text, R"({"compare": null})");
        QStringList wanted = p.isSet(strategies) ? p.value(strategies).split(',', Qt::SkipEmptyParts) : QStringList{};
        std::vector<CompareEntry> entries;
        if (!base.compare.empty()) {
            for (const auto& e : base.compare)
                if (wanted.isEmpty() || wanted.contains(QString::fromStdString(e.label)))
                    entries.push_back(e);
            for (const QString& w : wanted)
                if (std::none_of(entries.begin(), entries.end(), [&](const auto& e) { return e.label == w.toStdString(); }))
                    throw ScenarioError(file, {{"compare", "no entry labelled \"" + w.toStdString() +
                                                               "\" (given in --strategies)"}});
        } else {
            if (wanted.isEmpty())
                throw ScenarioError(file, {{"", "the scenario has no \"compare\" list: name the strategies with "
                                                "--strategies sync-ps,async-ps,ring-allreduce,fedavg,fedbuff"}});
            for (const QString& w : wanted)
                entries.push_back({w.toStdString(), R"({"strategy": {"type": )" + quoted(w.toStdString()) + "}}"});
        }
        for (const auto& e : entries) {
            Variant v;
            v.label = e.label;
            std::string text = mergePatch(baseText, e.patch);
            // Name each run after its variant unless the patch names it.
            if (e.patch.find("\"name\"") == std::string::npos)
                text = mergePatch(text, R"({"name": )" + quoted(base.name + " [" + e.label + "]") + "}");
            v.text = text;
            v.scenario = parseScenario(text, file + " [" + e.label + "]");
            variants.push_back(std::move(v));
        }
    } catch (const ScenarioError& e) {
        std::fprintf(stderr, "dmlsim compare: %s\n", e.what());
        return BadInput;
    }

    // The store is created (schema, WAL mode) here, once, before the children open it together: two processes
    // creating the same new SQLite file at once could fail one of them (seen twice, as a child's exit 2).
    try {
        RunStore store(p.value(db).toStdString());
    } catch (const StoreError& e) {
        std::fprintf(stderr, "dmlsim compare: %s\n", e.what());
        return BadInput;
    }
    QTemporaryDir tmp;
    std::vector<ChildJob> children;
    for (const Variant& v : variants) {
        const QString path = tmp.filePath(QString::fromStdString(v.label).replace('/', '_') + ".json");
        QFile f(path);
        if (!f.open(QIODevice::WriteOnly) || f.write(QByteArray::fromStdString(v.text)) < 0) {
            std::fprintf(stderr, "dmlsim compare: cannot write %s\n", qPrintable(path));
            return BadInput;
        }
        f.close();
        ChildJob job;
        job.args = {"run", path, "--db", p.value(db), "--json"};
        children.push_back(std::move(job));
    }
    for (ChildJob& c : children)
        c.args = withThreads(c.args, *childThreads > 0 ? *childThreads
                                                       : threadsPerChild(availableCores(), parallel, int(children.size())));
    std::fprintf(stderr, "dmlsim compare: %zu runs, %d at a time, store %s\n", children.size(), parallel,
                 qPrintable(p.value(db)));
    std::size_t finished = 0;
    runChildren(children, parallel, [&](std::size_t i) {
        ++finished;
        const ChildJob& j = children[i];
        if (j.exitCode == 0) {
            variants[i].summary = QJsonDocument::fromJson(j.out).object();
            std::fprintf(stderr, "[%zu/%zu] %s finished in %.1f s\n", finished, children.size(),
                         variants[i].label.c_str(), j.wallTime);
        } else {
            std::fprintf(stderr, "[%zu/%zu] %s FAILED (exit %d):\n%s\n", finished, children.size(),
                         variants[i].label.c_str(), j.exitCode, j.err.trimmed().constData());
        }
    });

    bool allOk = true;
    for (const auto& j : children)
        allOk = allOk && j.exitCode == 0;
    if (p.isSet(json)) {
        QJsonArray a;
        for (std::size_t i = 0; i < variants.size(); ++i) {
            QJsonObject o = variants[i].summary;
            o.insert("label", QString::fromStdString(variants[i].label));
            o.insert("strategy", toString(variants[i].scenario.sim.strategy.kind));
            o.insert("exit_code", children[i].exitCode);
            a.append(o);
        }
        std::printf("%s\n", QJsonDocument(a).toJson(QJsonDocument::Compact).constData());
    } else {
        printTable(variants, children);
    }
    return allOk ? Ok : SimulationFailed;
}

} // namespace dml::app
