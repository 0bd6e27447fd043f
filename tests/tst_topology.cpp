// SPDX-License-Identifier: GPL-3.0-or-later
// The topology view on the offscreen platform, fed the platform graphs `dmlsim platform --json` gives for small
// scenarios: the strategy's logical pattern drawn over the platform (the ring of a ring all-reduce, the star of a
// parameter server, the two levels of hierarchical FedAvg), host boxes that never overlap, names legible.
#include "topologyview.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <set>

using namespace dml::ui;

namespace {

/// The platform graph of a scenario with this platform and strategy, on a small synthetic dataset.
QJsonObject platformOf(const QString& platform, const QString& strategy)
{
    QTemporaryDir dir;
    const QString file = dir.filePath("s.json");
    QFile f(file);
    if (!f.open(QIODevice::WriteOnly))
        qFatal("cannot write %s", qPrintable(file));
    f.write(QString(R"({"name": "t", "platform": %1, "workload": {"dataset": {"name": "synthetic", "classes": 4,
        "features": 8, "train_samples": 2000, "test_samples": 60}, "batch_size": 10}, "strategy": %2})")
                .arg(platform, strategy)
                .toUtf8());
    f.close();
    QProcess p;
    p.start(DMLSIM_EXE, {"platform", file, "--json", "-"});
    if (!p.waitForFinished(60000) || p.exitCode() != 0)
        qFatal("dmlsim platform failed: %s", p.readAllStandardError().constData());
    return QJsonDocument::fromJson(p.readAllStandardOutput()).object();
}

RunDataPtr runWith(const QJsonObject& graph)
{
    auto run = std::make_shared<RunData>();
    run->name = "t";
    run->status = "finished";
    run->setPlatform(graph);
    return run;
}

const QString kStar8 = R"({"topology": "star", "workers": 8})";
const QString kEdge30 = R"({"topology": "edge", "workers": 30, "edge": {"sites": 3, "devices_per_site": 10,
    "server_at": "cloud"}})";

/// A view of the size of the workbench's topology dock.
struct View {
    TopologyView v;
    explicit View(const QJsonObject& graph)
    {
        v.resize(420, 340);
        v.show();
        if (!QTest::qWaitForWindowExposed(&v))
            qFatal("the view was not exposed");
        v.setRun(runWith(graph));
        v.fit();
        qInfo("names %.1f px on screen, %s", v.hostLabelScreenPixels(), v.hostLabelsShown() ? "shown" : "grouped");
    }
};

bool noOverlap(const TopologyView& v)
{
    const auto rects = v.hostSceneRects();
    for (std::size_t a = 0; a < rects.size(); ++a)
        for (std::size_t b = a + 1; b < rects.size(); ++b)
            if (rects[a].intersects(rects[b])) {
                qWarning("host %zu %s overlaps host %zu", a, qPrintable(QString("(%1, %2)").arg(rects[a].x()).arg(rects[a].y())), b);
                return false;
            }
    return true;
}

} // namespace

class TestTopology : public QObject {
    Q_OBJECT
private slots:
    void ringAllReduceDrawsTheRing()
    {
        View view(platformOf(kStar8, R"({"type": "ring-allreduce"})"));
        const TopologyView& v = view.v;
        QCOMPARE(v.hostItemCount(), 8);
        QCOMPARE(v.logicalPattern().kind, CommPattern::Ring);
        // Exactly 8 directed edges, rank i -> rank (i + 1) mod 8, each once.
        QCOMPARE(v.logicalEdgeCount(), 8);
        std::set<std::pair<int, int>> edges;
        for (const auto& e : v.logicalEdges())
            edges.insert(e);
        QCOMPARE(int(edges.size()), 8);
        for (int i = 0; i < 8; ++i)
            QVERIFY2(edges.count({i, (i + 1) % 8}), qPrintable(QString("no edge %1 -> %2").arg(i).arg((i + 1) % 8)));
        QVERIFY(noOverlap(v));
        // The names are legible at the default fit of a dock-sized view (about 10 pt on screen or more).
        QVERIFY2(v.hostLabelsShown(), qPrintable(QString::number(v.hostLabelScreenPixels())));
        QVERIFY(v.hostLabelScreenPixels() >= 13);
    }

    void parameterServerDrawsAStar()
    {
        View view(platformOf(kStar8, R"({"type": "sync-ps"})"));
        const TopologyView& v = view.v;
        QCOMPARE(v.hostItemCount(), 9); // 8 workers and the server (rank 8)
        QCOMPARE(v.logicalPattern().kind, CommPattern::ParameterServer);
        QCOMPARE(v.logicalEdgeCount(), 8);
        std::set<int> from;
        for (const auto& [a, b] : v.logicalEdges()) {
            QCOMPARE(b, 8);
            from.insert(a);
        }
        QCOMPARE(from, (std::set<int>{0, 1, 2, 3, 4, 5, 6, 7}));
        QVERIFY(noOverlap(v));
        QVERIFY(v.hostLabelsShown());
    }

    void edgePlatformHostsDoNotOverlap()
    {
        View view(platformOf(kEdge30, R"({"type": "fedavg", "client_fraction": 0.5})"));
        const TopologyView& v = view.v;
        QCOMPARE(v.hostItemCount(), 34); // 30 clients, the cloud server, 3 (idle) edge hosts
        QVERIFY(noOverlap(v));
        // FedAvg: a star from every client to the cloud server.
        QCOMPARE(v.logicalPattern().kind, CommPattern::Federated);
        QCOMPARE(v.logicalEdgeCount(), 30);
        for (const auto& [a, b] : v.logicalEdges()) {
            QVERIFY(a < 30);
            QCOMPARE(b, 30);
        }
        // Too many names to read in a dock: the sites are labelled instead.
        if (!v.hostLabelsShown())
            QVERIFY(v.groupLabelCount() >= 3);
    }

    void hierarchicalFedAvgDrawsTwoLevels()
    {
        View view(platformOf(kEdge30, R"({"type": "hierfavg", "edge_servers": 3})"));
        const TopologyView& v = view.v;
        QCOMPARE(v.hostItemCount(), 34); // clients 0-29, edge servers 30-32, the cloud server 33
        QVERIFY(noOverlap(v));
        QCOMPARE(v.logicalPattern().kind, CommPattern::Hierarchical);
        QCOMPARE(v.logicalEdgeCount(), 33);
        std::set<std::pair<int, int>> edges;
        for (const auto& e : v.logicalEdges())
            edges.insert(e);
        for (int k = 0; k < 30; ++k)
            QVERIFY2(edges.count({k, 30 + k % 3}), qPrintable(QString("no edge client-%1 -> edge-server-%2").arg(k).arg(k % 3)));
        for (int s = 30; s < 33; ++s)
            QVERIFY(edges.count({s, 33}));
        QCOMPARE(int(edges.size()), 33);
    }

    void messagesTravelAlongTheirRoutes()
    {
        const QJsonObject graph = platformOf(kStar8, R"({"type": "sync-ps"})");
        View view(graph);
        TopologyView& v = view.v;
        RunDataPtr run = runWith(graph);
        run->status = "running";
        // worker-0 (rank 0) sends to the server (rank 8) over [1, 2) s; worker-1 to the server over [1.5, 3) s.
        run->addSpans({{0, dml::Span::Send, 8, 1.0, 2.0, 4e5}, {1, dml::Span::Send, 8, 1.5, 3.0, 4e5}});
        v.setRun(run);
        v.fit();
        const auto rects = v.hostSceneRects();
        const QPointF w0 = rects[0].center(), w1 = rects[1].center(), server = rects[8].center();
        auto near = [](QPointF a, QPointF b) { return QLineF(a, b).length() < 1.0; };
        QCOMPARE(v.drawMessagesAt(0.5), 0); // nothing in flight yet
        QCOMPARE(v.drawMessagesAt(1.0 + 1e-9), 1);
        QVERIFY(near(v.messageDots()[0], w0)); // just left worker-0
        QCOMPARE(v.drawMessagesAt(1.75), 2);
        // worker-0's message is three quarters of the way, worker-1's one sixth: the first is nearer the server.
        std::vector<QPointF> dots = v.messageDots();
        QCOMPARE(int(dots.size()), 2);
        const double d0 = QLineF(dots[1], server).length(), d1 = QLineF(dots[0], server).length(); // newest first
        QVERIFY2(d0 < d1, qPrintable(QString("%1 %2").arg(d0).arg(d1)));
        QVERIFY(!near(dots[0], w1) && !near(dots[1], server));
        QCOMPARE(v.activeLogicalEdges(), 2); // worker-0's and worker-1's arms of the star
        QCOMPARE(v.drawMessagesAt(3.0 - 1e-9), 1);
        QCOMPARE(v.activeLogicalEdges(), 1);
        QVERIFY(near(v.messageDots()[0], server)); // worker-1's message arriving
        QCOMPARE(v.drawMessagesAt(3.5), 0);
        // At a fast pace, or once the run has ended, refresh() draws no dots.
        v.setPace(1);
        v.drawMessagesAt(1.75);
        run->status = "finished";
        ++run->revision;
        v.refresh();
        QCOMPARE(int(v.messageDots().size()), 0);
    }

    void ringShowsItsCurrentStep()
    {
        const QJsonObject graph = platformOf(kStar8, R"({"type": "ring-allreduce"})");
        View view(graph);
        TopologyView& v = view.v;
        RunDataPtr run = runWith(graph);
        run->status = "running";
        // Step 1 of a ring all-reduce: every worker sends to the next one at once.
        std::vector<dml::Span> step;
        for (int r = 0; r < 8; ++r)
            step.push_back({r, dml::Span::Send, (r + 1) % 8, 1.0, 1.1, 1e5});
        step.push_back({3, dml::Span::Send, 4, 1.1, 1.2, 1e5}); // a late message of step 2
        run->addSpans(step);
        v.setRun(run);
        QCOMPARE(v.drawMessagesAt(1.05), 8);
        QCOMPARE(v.activeLogicalEdges(), 8);
        QCOMPARE(v.drawMessagesAt(1.15), 1);
        QCOMPARE(v.activeLogicalEdges(), 1);
        QCOMPARE(v.drawMessagesAt(2.0), 0);
        QCOMPARE(v.activeLogicalEdges(), 0);
    }

    void highlightMarksNamedHostsAndLinks()
    {
        const QJsonObject graph = platformOf(kStar8, R"({"type": "sync-ps"})");
        View view(graph);
        TopologyView& v = view.v;
        QCOMPARE(v.highlightedCount(), 0);
        v.setHighlight({"server", "no-such-host"});
        QCOMPARE(v.highlightedCount(), 1);
        QString link;
        for (const QJsonValue& n : graph["nodes"].toArray())
            if (n["kind"].toString() == "link" && n["id"].toString().contains("server"))
                link = n["id"].toString();
        QVERIFY2(!link.isEmpty(), "the star has no server link");
        v.setHighlight({"server", link});
        QVERIFY(v.highlightedCount() >= 3); // the host, the link's marker and its edges
        // A new run on the same view keeps the highlight (it belongs to the lesson, not to the run).
        v.setRun(runWith(graph));
        QVERIFY(v.highlightedCount() >= 3);
        v.setHighlight({});
        QCOMPARE(v.highlightedCount(), 0);
    }

    void hundredsOfHostsAreGrouped()
    {
        // 300 phones on 3 sites: one box per site's phones, beside the cloud server and the 3 edge hosts.
        View view(platformOf(R"({"topology": "edge", "workers": 300, "edge": {"sites": 3, "devices_per_site": 100,
            "server_at": "cloud"}})", R"({"type": "fedavg", "client_fraction": 0.1})"));
        TopologyView& v = view.v;
        QCOMPARE(v.hostItemCount(), 7);
        QVERIFY(noOverlap(v));
        QCOMPARE(v.logicalEdgeCount(), 3); // one arrow per group box to the server, standing for 100 clients each
        QCOMPARE(int(v.logicalEdges().size()), 3);
        // A live run: the group box takes its members' mean colour, and a member's message leaves from its box.
        const QJsonObject graph = platformOf(R"({"topology": "star", "workers": 200})", R"({"type": "sync-ps"})");
        View star(graph);
        QCOMPARE(star.v.hostItemCount(), 2); // "200 workers" and the server
        RunDataPtr run = runWith(graph);
        run->status = "running";
        run->addSpans({{17, dml::Span::Compute, -1, 0.0, 1.0, 1e9}, {17, dml::Span::Send, 200, 1.0, 2.0, 4e5}});
        star.v.setRun(run);
        star.v.refresh();
        QCOMPARE(star.v.colouredHostCount(), 1); // the group box (one member of 200 computed); the server idle
        // The message leaves from one box and arrives at the other.
        const auto rects = star.v.hostSceneRects();
        auto boxAt = [&](QPointF p) {
            for (std::size_t i = 0; i < rects.size(); ++i)
                if (QLineF(p, rects[i].center()).length() < 1)
                    return int(i);
            return -1;
        };
        QCOMPARE(star.v.drawMessagesAt(1.0 + 1e-9), 1);
        const int from = boxAt(star.v.messageDots()[0]);
        QCOMPARE(star.v.activeLogicalEdges(), 1);
        QCOMPARE(star.v.drawMessagesAt(2.0 - 1e-9), 1);
        const int to = boxAt(star.v.messageDots()[0]);
        QVERIFY2(from >= 0 && to >= 0 && from != to, qPrintable(QString("%1 %2").arg(from).arg(to)));
    }

    void largeStarStillSeparatesHosts()
    {
        // 64 workers: the boxes stay apart, and the names give way to a group label when too small to read.
        View view(platformOf(R"({"topology": "star", "workers": 64})", R"({"type": "ring-allreduce"})"));
        const TopologyView& v = view.v;
        QCOMPARE(v.hostItemCount(), 64);
        QVERIFY(noOverlap(v));
        QCOMPARE(v.logicalEdgeCount(), 64);
        QVERIFY(v.hostLabelScreenPixels() < 13);
        QVERIFY(!v.hostLabelsShown());
        QVERIFY(v.groupLabelCount() >= 1);
    }
};

QTEST_MAIN(TestTopology)
#include "tst_topology.moc"
