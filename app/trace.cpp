// SPDX-License-Identifier: GPL-3.0-or-later
#include "trace.h"

#include "commands.h"
#include "runstore.h"

#include <QCommandLineParser>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QSaveFile>

#include <algorithm>
#include <functional>
#include <cstdio>

namespace dml::app {
namespace {

constexpr int kComputeTid = 1, kSendTid = 100, kReceiveTid = 200;

QJsonObject meta(const char* name, int pid, int tid, const QJsonObject& args)
{
    return {{"name", name}, {"ph", "M"}, {"pid", pid}, {"tid", tid}, {"args", args}};
}

} // namespace

QJsonObject chromeTrace(const std::vector<Span>& spans, const std::vector<HostStats>& hosts,
                        const std::string& runName,
                        const std::map<std::string, std::vector<std::pair<double, double>>>* series)
{
    auto hostName = [&](int rank) {
        return rank >= 0 && rank < int(hosts.size()) ? QString::fromStdString(hosts[std::size_t(rank)].name)
                                                     : QString("rank %1").arg(rank);
    };
    int ranks = int(hosts.size());
    for (const Span& s : spans)
        ranks = std::max(ranks, s.rank + 1);

    // Per host and direction, lanes by greedy interval partitioning over spans sorted by start.
    std::vector<std::size_t> order(spans.size());
    for (std::size_t i = 0; i < order.size(); ++i)
        order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return spans[a].start < spans[b].start || (spans[a].start == spans[b].start && spans[a].end < spans[b].end);
    });
    // [rank*3 + (0 send, 1 receive, 2 compute)] -> lane ends. A second compute lane holds what a rank's background
    // actor computes while the rank computes (overlap: the all-reduce's additions beside the backward pass).
    std::vector<std::vector<double>> laneEnds(std::size_t(ranks) * 3);
    std::vector<int> laneCount(std::size_t(ranks) * 3, 0);
    auto laneOf = [&](const Span& s, int kind) {
        auto& ends = laneEnds[std::size_t(s.rank) * 3 + std::size_t(kind)];
        std::size_t lane = 0;
        while (lane < ends.size() && ends[lane] > s.start)
            ++lane;
        if (lane == ends.size())
            ends.push_back(s.end);
        else
            ends[lane] = s.end;
        laneCount[std::size_t(s.rank) * 3 + std::size_t(kind)] = int(ends.size());
        return int(lane);
    };
    QJsonArray events;
    for (std::size_t i : order) {
        const Span& s = spans[i];
        const QString peer = hostName(s.peer);
        int tid = kComputeTid;
        QJsonObject args;
        QString name;
        const char* cat = "compute";
        if (s.kind == Span::Compute) {
            name = "compute";
            args.insert("flops", s.amount);
            tid = kComputeTid + laneOf(s, 2);
        } else {
            const bool recv = s.kind == Span::Receive;
            tid = (recv ? kReceiveTid : kSendTid) + laneOf(s, recv ? 1 : 0);
            name = recv ? "receive from " + peer : "send to " + peer;
            cat = recv ? "receive" : "send";
            args.insert("bytes", s.amount);
            args.insert("peer", peer);
        }
        events.append(QJsonObject{{"name", name},
                                  {"cat", cat},
                                  {"ph", "X"},
                                  {"ts", s.start * 1e6},
                                  {"dur", std::max(0.0, s.end - s.start) * 1e6},
                                  {"pid", s.rank + 1},
                                  {"tid", tid},
                                  {"args", args}});
    }
    QJsonArray all;
    for (int r = 0; r < ranks; ++r) {
        const int pid = r + 1;
        const QString role = r < int(hosts.size()) ? QString::fromStdString(hosts[std::size_t(r)].role) : "";
        all.append(meta("process_name", pid, 0,
                        {{"name", QString("rank %1: %2%3").arg(r).arg(hostName(r), role.isEmpty() ? "" : " (" + role + ")")}}));
        all.append(meta("process_sort_index", pid, 0, {{"sort_index", r}}));
        all.append(meta("thread_name", pid, kComputeTid, {{"name", "compute"}}));
        all.append(meta("thread_sort_index", pid, kComputeTid, {{"sort_index", 0}}));
        for (int k = 1; k < laneCount[std::size_t(r) * 3 + 2]; ++k) {
            all.append(meta("thread_name", pid, kComputeTid + k, {{"name", QString("compute %1").arg(k)}}));
            all.append(meta("thread_sort_index", pid, kComputeTid + k, {{"sort_index", k}}));
        }
        for (int dir = 0; dir < 2; ++dir)
            for (int k = 0; k < laneCount[std::size_t(r) * 3 + std::size_t(dir)]; ++k) {
                const int tid = (dir ? kReceiveTid : kSendTid) + k;
                all.append(meta("thread_name", pid, tid, {{"name", QString(dir ? "receive %1" : "send %1").arg(k)}}));
                all.append(meta("thread_sort_index", pid, tid, {{"sort_index", tid}}));
            }
    }
    for (const auto& e : events)
        all.append(e);
    if (series) { // failures, restarts and checkpoints as instant events
        auto instants = [&](const char* key, const std::function<QJsonObject(double, double)>& make) {
            const auto it = series->find(key);
            if (it != series->end())
                for (const auto& [t, v] : it->second)
                    all.append(make(t, v));
        };
        instants("rank_failed", [&](double t, double r) {
            return QJsonObject{{"name", hostName(int(r)) + " failed"}, {"cat", "failure"}, {"ph", "i"}, {"s", "p"},
                               {"ts", t * 1e6}, {"pid", int(r) + 1}, {"tid", kComputeTid}};
        });
        instants("restart", [&](double t, double lost) {
            return QJsonObject{{"name", QString("restart from the last checkpoint (%1 steps lost)").arg(lost)},
                               {"cat", "failure"}, {"ph", "i"}, {"s", "g"}, {"ts", t * 1e6}, {"pid", 1},
                               {"tid", kComputeTid}};
        });
        instants("checkpoint", [&](double t, double step) {
            return QJsonObject{{"name", QString("checkpoint of step %1").arg(step)}, {"cat", "checkpoint"},
                               {"ph", "i"}, {"s", "g"}, {"ts", t * 1e6}, {"pid", 1}, {"tid", kComputeTid}};
        });
    }
    return {{"traceEvents", all},
            {"displayTimeUnit", "ms"},
            {"otherData", QJsonObject{{"run", QString::fromStdString(runName)},
                                      {"time", "simulated microseconds"},
                                      {"producer", "dmlsim " DMLSIM_VERSION}}}};
}

void writeChromeTrace(RunStore& store, long long runId, const QString& file)
{
    const RunRecord run = store.run(runId);
    const std::vector<Span> spans = store.timeline(runId);
    if (spans.empty())
        throw std::runtime_error("run " + std::to_string(runId) + " has no timeline (status " + run.status +
                                 "; only finished runs have one)");
    const auto series = store.series(runId);
    const QJsonObject trace = chromeTrace(spans, store.hostStats(runId), run.name, &series);
    QSaveFile f(file);
    if (!f.open(QIODevice::WriteOnly) || f.write(QJsonDocument(trace).toJson(QJsonDocument::Compact)) < 0 ||
        !f.commit())
        throw std::runtime_error(file.toStdString() + ": cannot write: " + f.errorString().toStdString());
}

int cmdTrace(const QStringList& args)
{
    QCommandLineParser p;
    p.setApplicationDescription(
        "Export a run's per-host timeline as Chrome trace-event JSON: open it in Perfetto (ui.perfetto.dev) or "
        "chrome://tracing. One process per host; compute, send and receive on separate tracks; simulated time "
        "in microseconds.");
    p.addPositionalArgument("run", "Run id (see 'dmlsim runs').");
    const QCommandLineOption db("db", "Run store (SQLite). Default: ./dmlsim.sqlite.", "file", "dmlsim.sqlite");
    const QCommandLineOption out("out", "The trace file to write (JSON).", "file");
    p.addOptions({db, out});
    if (auto rc = parseCommandLine(p, "trace", args))
        return *rc;
    bool ok = false;
    const long long id = p.positionalArguments().size() == 1 ? p.positionalArguments()[0].toLongLong(&ok) : 0;
    if (!ok || !p.isSet(out)) {
        std::fprintf(stderr, "dmlsim trace: expected RUN_ID and --out FILE; try 'dmlsim trace --help'\n");
        return BadInput;
    }
    if (!QFile::exists(p.value(db))) {
        std::fprintf(stderr, "dmlsim trace: %s: no such run store\n", qPrintable(p.value(db)));
        return BadInput;
    }
    try {
        RunStore store(p.value(db).toStdString());
        writeChromeTrace(store, id, p.value(out));
        std::printf("wrote %s: open it in Perfetto (ui.perfetto.dev) or chrome://tracing\n", qPrintable(p.value(out)));
        return Ok;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "dmlsim trace: %s\n", e.what());
        return BadInput;
    }
}

} // namespace dml::app
