// SPDX-License-Identifier: GPL-3.0-or-later
// The workbench's "Host table" and "Links" tabs (what `dmlsim run` prints as the per-host table and the busiest
// links), live and final, and the run data behind them: link loads routed over a hand-made platform graph.
#include "chartspanel.h"
#include "runtables.h"

#include <qcustomplot.h>

#include <QJsonArray>
#include <QJsonDocument>
#include <QTableWidget>
#include <QTest>

using namespace dml;
using namespace dml::ui;

namespace {

/// Two hosts joined by one link of 1000 bytes/s: worker "a" -- link "L" -- server "b".
QJsonObject twoHosts()
{
    return QJsonDocument::fromJson(R"({"nodes": [
        {"id": "a", "kind": "host", "role": "worker", "speed": 1e9},
        {"id": "b", "kind": "host", "role": "server", "speed": 1e9},
        {"id": "L", "kind": "link", "bandwidth": 1000, "latency": 0, "sharing": "splitduplex"}],
        "edges": [{"source": "a", "target": "L"}, {"source": "L", "target": "b"}]})")
        .object();
}

RunDataPtr liveRun()
{
    auto run = std::make_shared<RunData>();
    run->id = 7;
    run->name = "t";
    run->status = "running";
    run->setPlatform(twoHosts());
    // a sends 500 bytes to b over [0, 1) s, then computes until 2 s; b computes over [1, 1.5).
    run->addSpans({{0, Span::Send, 1, 0.0, 1.0, 500}, {0, Span::Compute, -1, 1.0, 2.0, 1e9},
                   {1, Span::Compute, -1, 1.0, 1.5, 5e8}});
    return run;
}

} // namespace

class TestRunTables : public QObject {
    Q_OBJECT
private slots:
    void liveLinkLoadIsRoutedOverThePlatform()
    {
        const RunDataPtr run = liveRun();
        const auto loads = run->linkLoads();
        QCOMPARE(int(loads.size()), 1);
        QCOMPARE(loads[0].name, QString("L"));
        QCOMPARE(loads[0].bytes, 500.0);
        // 500 bytes in the 2 s so far over a 1000 B/s link, one direction: 25 %.
        QVERIFY(std::abs(loads[0].utilization - 0.25) < 1e-9);
        // The message is kept for the topology's travelling dots.
        QCOMPARE(int(run->recentTransfers().size()), 1);
        QCOMPARE(run->recentTransfers().front().to, 1);
        QCOMPARE(int(run->route(0, 1).size()), 1);
    }

    void linkTableShowsTheBusiestFirstAndWarnsWhenSaturated()
    {
        const RunDataPtr run = liveRun();
        RunTable t(RunTable::Links);
        t.show();
        t.setRun(run);
        QCOMPARE(t.table()->rowCount(), 1);
        QCOMPARE(t.table()->item(0, 0)->text(), QString("L"));
        QVERIFY2(t.headline().contains("Live"), qPrintable(t.headline()));
        QVERIFY(!t.headline().contains("above 80"));
        // The run ends: the final link statistics replace the live estimate, busiest first.
        run->applyEvent(QJsonDocument::fromJson(R"({"event": "link_stats", "links": [
            {"name": "worker-link_UP", "bandwidth": 1.25e8, "latency": 1e-5, "bytes": 2e6, "average_load": 1e6,
             "utilization": 0.1},
            {"name": "backbone", "bandwidth": 1.25e9, "latency": 1e-5, "bytes": 9e9, "average_load": 1.1e9,
             "utilization": 0.88},
            {"name": "idle-link", "bandwidth": 1e9, "latency": 0, "bytes": 0, "average_load": 0, "utilization": 0}]})")
                            .object());
        run->status = "finished";
        t.setRun(run);
        QCOMPARE(t.table()->rowCount(), 2); // the idle link is left out
        QCOMPARE(t.table()->item(0, 0)->text(), QString("backbone"));
        QCOMPARE(t.table()->item(0, 1)->text(), QString("88.0 %"));
        // The headline names the bottleneck as `dmlsim run` does, and warns of the shared link above 80 %.
        QVERIFY2(t.headline().contains("bottleneck <b>link backbone (backbone, shared) 88.0 %"), qPrintable(t.headline()));
        QVERIFY2(t.headline().contains("at 88.0 % load, above 80.0 %"), qPrintable(t.headline()));
        // Sorting by bytes orders by value, not by text.
        t.table()->sortItems(2, Qt::AscendingOrder);
        QCOMPARE(t.table()->item(0, 0)->text(), QString("worker-link_UP"));
    }

    void hostTableLiveThenFinal()
    {
        const RunDataPtr run = liveRun();
        RunTable t(RunTable::Hosts);
        t.show();
        t.setRun(run);
        QCOMPARE(t.table()->rowCount(), 2);
        QCOMPARE(t.table()->item(0, 0)->text(), QString("a"));
        QCOMPARE(t.table()->item(0, 2)->text(), QString("50.0 %")); // computed 1 s of the 2 s so far
        QCOMPARE(t.table()->item(1, 2)->text(), QString("25.0 %"));
        run->applyEvent(QJsonDocument::fromJson(R"({"event": "host_stats", "hosts": [
            {"name": "a", "role": "worker", "speed": 2e9, "elapsed": 2, "finish": 2, "compute": 1.5,
             "communication": 0.25, "idle": 0.25, "bytes_sent": 500, "bytes_received": 0, "bytes_lost": 0, "flops": 3e9},
            {"name": "b", "role": "server", "speed": 1e9, "elapsed": 2, "finish": 2, "compute": 0.5,
             "communication": 0, "idle": 1.5, "bytes_sent": 0, "bytes_received": 500, "bytes_lost": 0, "flops": 5e8},
            {"name": "c", "role": "client", "speed": 1e9, "elapsed": 0, "finish": 0, "compute": 0,
             "communication": 0, "idle": 0, "bytes_sent": 0, "bytes_received": 0, "bytes_lost": 0, "flops": 0}]})")
                            .object());
        t.setRun(run);
        QCOMPARE(t.table()->rowCount(), 2); // c never took part
        QCOMPARE(t.table()->item(0, 6)->text(), QString("2"));     // GFLOP/s
        QCOMPARE(t.table()->item(0, 5)->text(), QString("0.250")); // idle s
        QCOMPARE(t.table()->item(0, 2)->text(), QString("75.0 %"));
        QVERIFY2(t.headline().contains("Longest compute: <b>a</b>"), qPrintable(t.headline()));
    }

    /// Issue 14: with more than 16 workers the timeline adds a summary row (their mean activity per time bin) under
    /// the server and above the workers' own rows.
    void timelineSummarisesLargeHostSets()
    {
        QJsonArray nodes, edges;
        nodes.append(QJsonObject{{"id", "backbone"}, {"kind", "link"}, {"bandwidth", 1e9}});
        for (int i = 0; i < 20; ++i) {
            nodes.append(QJsonObject{{"id", QString("worker-%1").arg(i)}, {"kind", "host"}, {"role", "worker"}});
            edges.append(QJsonObject{{"source", QString("worker-%1").arg(i)}, {"target", "backbone"}});
        }
        nodes.append(QJsonObject{{"id", "server"}, {"kind", "host"}, {"role", "server"}});
        edges.append(QJsonObject{{"source", "server"}, {"target", "backbone"}});
        auto run = std::make_shared<RunData>();
        run->status = "running";
        run->setPlatform(QJsonObject{{"nodes", nodes}, {"edges", edges}});
        std::vector<Span> spans;
        for (int i = 0; i < 20; i += 2) // half of the workers compute over [0, 1) s
            spans.push_back({i, Span::Compute, -1, 0.0, 1.0, 1e9});
        spans.push_back({20, Span::Compute, -1, 0.0, 0.5, 1e9});
        run->addSpans(spans);
        std::vector<int> workers(20);
        for (int i = 0; i < 20; ++i)
            workers[std::size_t(i)] = i;
        QCOMPARE(run->meanBinActivity(workers, 0).first, 0.5);
        QCOMPARE(run->meanBinActivity(workers, 0).second, 0.0);
        QCOMPARE(run->meanBinActivity({20}, 0).first, 1.0);
        QCOMPARE(run->meanBinActivity({20, 25}, 0).first, 0.5); // rank 25 has reported nothing: idle

        TimelineView tv;
        tv.resize(800, 300);
        tv.show();
        tv.setRun(run);
        tv.refresh();
        const auto ticker = tv.plot()->yAxis->ticker().dynamicCast<QCPAxisTickerText>();
        QVERIFY(ticker);
        const auto& ticks = ticker->ticks();
        QCOMPARE(ticks.value(0), QString("server"));
        QCOMPARE(ticks.value(1), QString("workers (mean of 20)"));
        QCOMPARE(ticks.value(2), QString("worker-0"));
        QCOMPARE(ticks.size(), 22);
    }

    void hiddenTableDoesNotRefill()
    {
        const RunDataPtr run = liveRun();
        RunTable t(RunTable::Links);
        t.setRun(run); // never shown: nothing filled yet
        QCOMPARE(t.table()->rowCount(), 0);
        t.show();
        QCOMPARE(t.table()->rowCount(), 1);
    }
};

QTEST_MAIN(TestRunTables)
#include "tst_runtables.moc"
