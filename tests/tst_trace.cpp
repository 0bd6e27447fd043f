// SPDX-License-Identifier: GPL-3.0-or-later
// `dmlsim trace`: a run's timeline as Chrome trace-event JSON (the structure Perfetto and chrome://tracing load).
#include "runstore.h"
#include "trace.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include "testutil.h"

#include <algorithm>
#include <map>
#include <set>

using namespace dml;
using namespace dml::app;

using namespace dml::test;

namespace {

/// Checks the Trace Event Format's rules that viewers rely on; returns the complete ("X") events.
QList<QJsonObject> checkStructure(const QJsonObject& trace)
{
    QList<QJsonObject> complete;
    if (!trace["traceEvents"].isArray())
        qFatal("no traceEvents array");
    for (const QJsonValue& v : trace["traceEvents"].toArray()) {
        const QJsonObject e = v.toObject();
        const QString ph = e["ph"].toString();
        if (!e["name"].isString() || !e["pid"].isDouble() || !e["tid"].isDouble() || (ph != "X" && ph != "M"))
            qFatal("malformed event %s", QJsonDocument(e).toJson(QJsonDocument::Compact).constData());
        if (ph == "X") {
            if (!e["ts"].isDouble() || !e["dur"].isDouble() || e["ts"].toDouble() < 0 || e["dur"].toDouble() < 0 ||
                !e["cat"].isString() || !e["args"].isObject())
                qFatal("malformed complete event %s", QJsonDocument(e).toJson(QJsonDocument::Compact).constData());
            complete << e;
        } else if (!e["args"].isObject()) {
            qFatal("metadata event without args");
        }
    }
    return complete;
}

} // namespace

class TestTrace : public QObject {
    Q_OBJECT
private slots:
    void lanesKeepCommunicationFromOverlapping()
    {
        // Rank 0 sends to ranks 1 and 2 at once, then to 1 again after the first send ended; it computes meanwhile.
        const std::vector<HostStats> hosts = {{"server", "server"}, {"worker-0", "worker"}, {"worker-1", "worker"}};
        const std::vector<Span> spans = {{0, Span::Send, 1, 0.0, 2e-3, 100},
                                         {0, Span::Send, 2, 0.5e-3, 3e-3, 100},
                                         {0, Span::Send, 1, 2e-3, 4e-3, 100},
                                         {0, Span::Compute, -1, 1e-3, 1.5e-3, 5e6},
                                         {1, Span::Receive, 0, 0.0, 2e-3, 100}};
        const QList<QJsonObject> x = checkStructure(chromeTrace(spans, hosts, "t"));
        QCOMPARE(x.size(), 5);
        std::map<double, QJsonObject> byStart; // rank 0's events by start (us)
        for (const QJsonObject& e : x)
            if (e["pid"].toInt() == 1)
                byStart[e["ts"].toDouble() + (e["cat"] == "compute" ? 0.1 : 0)] = e;
        QCOMPARE(byStart.at(0)["tid"].toInt(), 100);    // first send: lane 0
        QCOMPARE(byStart.at(500)["tid"].toInt(), 101);  // overlapping send: lane 1
        QCOMPARE(byStart.at(2000)["tid"].toInt(), 100); // lane 0 is free again at 2 ms
        QCOMPARE(byStart.at(1000.1)["tid"].toInt(), 1); // compute on its own track
        QCOMPARE(byStart.at(500)["dur"].toDouble(), 2500.0);
        QCOMPARE(byStart.at(500)["name"].toString(), QString("send to worker-1"));
        QCOMPARE(byStart.at(500)["args"].toObject()["bytes"].toDouble(), 100.0);
    }

    void overlappedComputeGetsASecondLane()
    {
        // Overlap (issue 17): the background actor's additions run while the rank's backward pass computes.
        const std::vector<HostStats> hosts = {{"worker-0", "worker"}};
        const std::vector<Span> spans = {{0, Span::Compute, -1, 0.0, 4e-3, 4e9},
                                         {0, Span::Compute, -1, 1e-3, 1.2e-3, 1e6},
                                         {0, Span::Compute, -1, 5e-3, 6e-3, 1e9}};
        const QJsonObject trace = chromeTrace(spans, hosts, "t");
        const QList<QJsonObject> x = checkStructure(trace);
        const QByteArray json = QJsonDocument(trace).toJson(QJsonDocument::Compact);
        std::map<double, int> tidByStart;
        for (const QJsonObject& e : x)
            tidByStart[e["ts"].toDouble()] = e["tid"].toInt();
        QCOMPARE(tidByStart.at(0), 1);
        QCOMPARE(tidByStart.at(1000), 2); // inside the first: a second compute lane
        QCOMPARE(tidByStart.at(5000), 1);
        QVERIFY(json.contains("\"compute 1\""));
    }

    void exportedRunLoadsAsTraceEventJson()
    {
        QTemporaryDir dir;
        const QString db = dir.filePath("r.sqlite"), scenario = dir.filePath("tiny.json");
        QFile f(scenario);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(kTiny);
        f.close();
        QCOMPARE(dmlsim({"run", scenario, "--db", db}).exitCode, 0);
        const QString out = dir.filePath("trace.json");
        const Result r = dmlsim({"trace", "1", "--db", db, "--out", out});
        QVERIFY2(r.exitCode == 0, r.err.constData());

        QFile t(out);
        QVERIFY(t.open(QIODevice::ReadOnly));
        QJsonParseError perr;
        const QJsonDocument doc = QJsonDocument::fromJson(t.readAll(), &perr);
        QVERIFY2(perr.error == QJsonParseError::NoError, qPrintable(perr.errorString()));
        const QList<QJsonObject> x = checkStructure(doc.object());

        RunStore store(db.toStdString());
        const std::vector<Span> spans = store.timeline(1);
        const std::vector<HostStats> hosts = store.hostStats(1);
        QCOMPARE(x.size(), qsizetype(spans.size()));
        QCOMPARE(int(hosts.size()), 4); // 3 workers and the server

        // One named process per host, in rank order.
        std::map<int, QString> processNames;
        for (const QJsonValue& v : doc.object()["traceEvents"].toArray())
            if (v["ph"] == "M" && v["name"] == "process_name")
                processNames[v["pid"].toInt()] = v["args"]["name"].toString();
        QCOMPARE(int(processNames.size()), 4);
        for (std::size_t rank = 0; rank < hosts.size(); ++rank)
            QVERIFY(processNames[int(rank) + 1].contains(QString::fromStdString(hosts[rank].name)));

        // Every span appears once, in microseconds, on its host and on a track of its kind.
        std::multiset<std::tuple<int, int, long long, long long>> want, got;
        for (const Span& s : spans)
            want.insert({s.rank + 1, int(s.kind), std::llround(s.start * 1e9), std::llround((s.end - s.start) * 1e9)});
        std::map<std::pair<int, int>, std::vector<std::pair<double, double>>> tracks;
        for (const QJsonObject& e : x) {
            const QString cat = e["cat"].toString();
            const int kind = cat == "compute" ? 0 : cat == "send" ? 1 : 2;
            const int tid = e["tid"].toInt();
            QVERIFY(kind == 0 ? (tid >= 1 && tid < 100) : kind == 1 ? (tid >= 100 && tid < 200) : tid >= 200);
            got.insert({e["pid"].toInt(), kind, std::llround(e["ts"].toDouble() * 1e3),
                        std::llround(e["dur"].toDouble() * 1e3)});
            tracks[{e["pid"].toInt(), tid}].push_back({e["ts"].toDouble(), e["ts"].toDouble() + e["dur"].toDouble()});
        }
        QVERIFY(want == got);
        // No two events of one track overlap (viewers draw overlapping complete events wrongly).
        for (auto& [track, events] : tracks) {
            std::sort(events.begin(), events.end());
            for (std::size_t i = 1; i < events.size(); ++i)
                QVERIFY2(events[i].first >= events[i - 1].second - 1e-6,
                         qPrintable(QString("pid %1 tid %2").arg(track.first).arg(track.second)));
        }
        // The server's sends overlap (it sends the model to all three workers at once): several send lanes.
        const int serverPid = int(std::find_if(hosts.begin(), hosts.end(), [](const HostStats& h) {
                                      return h.role == "server";
                                  }) - hosts.begin()) + 1;
        int serverSendLanes = 0;
        for (const auto& [track, events] : tracks)
            serverSendLanes += track.first == serverPid && track.second >= 100 && track.second < 200;
        QVERIFY(serverSendLanes >= 2);
    }

    void errors()
    {
        QTemporaryDir dir;
        const QString db = dir.filePath("r.sqlite");
        QCOMPARE(dmlsim({"trace", "1", "--db", db, "--out", dir.filePath("t.json")}).exitCode, 2); // no store
        { RunStore create(db.toStdString()); }
        const Result r = dmlsim({"trace", "7", "--db", db, "--out", dir.filePath("t.json")});
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(r.err.contains("no run with id 7"), r.err.constData());
        QCOMPARE(dmlsim({"trace", "x", "--db", db, "--out", dir.filePath("t.json")}).exitCode, 2);
        QVERIFY(!QFile::exists(dir.filePath("t.json")));
    }
};

QTEST_GUILESS_MAIN(TestTrace)
#include "tst_trace.moc"
