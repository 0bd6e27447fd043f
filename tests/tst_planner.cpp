// SPDX-License-Identifier: GPL-3.0-or-later
// Issue 15, a planner's answer: on synthetic stored runs (no simulation: the store is written with figures chosen
// so that the right answer is known), the report finds the crossover of two known lines at the known x, the Pareto
// front, the 95 % interval of a hand computation, and warns of a saturated shared link; plus the bottleneck, link
// classes, the cost section's validation and arithmetic, and the summary CSV.
#include "bottleneck.h"
#include "cost.h"
#include "report.h"
#include "reportdata.h"
#include "runstore.h"
#include "scenario.h"
#include "simulation.h"

#include <QApplication>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>

using namespace dml;
using namespace dml::app;

namespace {

/// A valid scenario; `patch` (JSON merge patch) sets what differs between the synthetic runs.
std::string scenarioText(const std::string& patch)
{
    const std::string base = R"({
      "name": "plan", "seed": 1,
      "platform": {"workers": 4, "link_bandwidth": "1Gbps"},
      "workload": {"dataset": {"name": "synthetic", "train_samples": 1000, "test_samples": 100},
                   "model": {"type": "mlp", "hidden": [8]}},
      "strategy": {"type": "sync-ps"},
      "run": {"epochs": 1, "target_accuracy": 0.8}
    })";
    return mergePatch(base, patch);
}

/// A finished run with the given figures. Hosts: 4 workers and a server; links as given.
long long addRun(RunStore& store, const std::string& patch, double simulatedTime, double timeToTarget,
                 const std::vector<LinkStats>& links = {}, double accuracy = 0.85, double epochs = 1)
{
    const Scenario s = parseScenario(scenarioText(patch));
    const long long id = store.beginRun(s, "x", "0", "test build");
    sim::SimulationResult r;
    r.summary.simulatedTime = simulatedTime;
    r.summary.timeToTarget = timeToTarget;
    r.summary.targetAccuracy = 0.8;
    r.summary.finalAccuracy = accuracy;
    r.summary.epochs = epochs;
    r.samples.push_back({0, 0, 0, std::nan(""), 2.3, 0.1});
    r.samples.push_back({simulatedTime, 10, epochs, 0.5, 0.5, accuracy});
    for (int i = 0; i < 4; ++i) {
        HostStats h;
        h.name = "worker-" + std::to_string(i);
        h.role = "worker";
        h.elapsed = simulatedTime;
        h.compute = 0.5 * simulatedTime;
        r.hosts.push_back(h);
    }
    HostStats server;
    server.name = "server";
    server.role = "server";
    server.elapsed = simulatedTime;
    server.compute = 0.1 * simulatedTime;
    r.hosts.push_back(server);
    r.links = links;
    store.finishRun(id, r, 0.01);
    return id;
}

LinkStats link(const std::string& name, double utilization, double bytes = 1e9)
{
    LinkStats l;
    l.name = name;
    l.bandwidth = 1.25e8;
    l.bytes = bytes;
    l.utilization = utilization;
    return l;
}

QString readAll(const QString& file)
{
    QFile f(file);
    if (!f.open(QIODevice::ReadOnly))
        qFatal("cannot read %s", qPrintable(file));
    return QString::fromUtf8(f.readAll());
}

std::string joined(const std::vector<std::string>& lines)
{
    std::string s;
    for (const auto& l : lines)
        s += l + "\n";
    return s;
}

} // namespace

class TestPlanner : public QObject {
    Q_OBJECT
    QTemporaryDir m_dir;

private slots:
    void crossoverOfTwoKnownLines()
    {
        using report::findCrossovers;
        // y = x and y = 10 - x on a linear grid: they meet at x = 5, between the grid points 4 and 8.
        const std::vector<double> xs{0, 2, 4, 8, 16};
        std::vector<double> up, down;
        for (double x : xs) {
            up.push_back(x);
            down.push_back(10 - x);
        }
        auto c = findCrossovers(xs, {{"up", up}, {"down", down}}, false);
        QCOMPARE(int(c.size()), 1);
        QCOMPARE(c[0].from, std::string("up"));
        QCOMPARE(c[0].to, std::string("down"));
        QCOMPARE(c[0].x0, 4.0);
        QCOMPARE(c[0].x1, 8.0);
        QVERIFY(c[0].interpolated);
        QVERIFY2(std::fabs(c[0].x - 5) < 1e-12, qPrintable(QString::number(c[0].x, 'g', 17)));
        // Lines in log x (y = log10 x and y = 1 - log10 x) meet at sqrt(10): exact when interpolating in log x.
        const std::vector<double> lx{1, 2, 5, 10};
        std::vector<double> a, b;
        for (double x : lx) {
            a.push_back(std::log10(x));
            b.push_back(1 - std::log10(x));
        }
        c = findCrossovers(lx, {{"a", a}, {"b", b}}, true);
        QCOMPARE(int(c.size()), 1);
        QVERIFY2(std::fabs(c[0].x - std::sqrt(10.0)) < 1e-12, qPrintable(QString::number(c[0].x, 'g', 17)));
        // The same lines interpolated linearly in x miss it: the log axis matters.
        QVERIFY(std::fabs(findCrossovers(lx, {{"a", a}, {"b", b}}, false)[0].x - std::sqrt(10.0)) > 0.05);
        // Equal at a grid point: found there, not marked interpolated; a missing value: no x.
        c = findCrossovers({1, 2, 3}, {{"p", {1, 2, 3}}, {"q", {3, 2, 1}}}, false);
        QCOMPARE(int(c.size()), 1);
        QCOMPARE(c[0].x, 2.0);
        QVERIFY(!c[0].interpolated);
        const double inf = std::numeric_limits<double>::infinity();
        c = findCrossovers({1, 2}, {{"p", {1, inf}}, {"q", {2, 2}}}, false);
        QCOMPARE(int(c.size()), 1);
        QVERIFY(std::isnan(c[0].x));
        // No change of the best: no crossover.
        QVERIFY(findCrossovers({1, 2, 3}, {{"p", {1, 1, 1}}, {"q", {2, 2, 2}}}, false).empty());
    }

    void crossoverFromStoredRuns()
    {
        // sync-ps takes 8/bw s (8, 4, 2, 1 s at 1, 2, 4, 8 Gb/s), ring-allreduce 3 s everywhere: ring is best up to
        // 2 Gb/s, sync-ps from 4 Gb/s; the lines' difference is -1 s at 2 and +1 s at 4, so linear interpolation
        // (the values span less than a decade) puts the crossover at 3 Gb/s.
        RunStore store(m_dir.filePath("cross.sqlite").toStdString());
        std::vector<long long> ids;
        for (int bw : {1, 2, 4, 8}) {
            const std::string p = "{\"platform\": {\"link_bandwidth\": \"" + std::to_string(bw) + "Gbps\"}, ";
            ids.push_back(addRun(store, p + R"("strategy": {"type": "sync-ps"}})", 8.0 / bw, 0.5 * 8.0 / bw));
            ids.push_back(addRun(store, p + R"("strategy": {"type": "ring-allreduce"}})", 3, 1.5));
        }
        std::vector<std::string> answer;
        ReportOptions o;
        o.answer = &answer;
        o.objective = "time";
        writeReport(store, ids, m_dir.filePath("cross.html"), o);
        const std::string text = joined(answer);
        QVERIFY2(text.find("Along link_bandwidth: ring-allreduce is best up to 2 Gb/s, sync-ps from 4 Gb/s (of the "
                           "grid points); they cross at about 3 Gb/s (interpolated between the grid points).") !=
                     std::string::npos,
                 text.c_str());
        QVERIFY2(text.find("Best: link_bandwidth=8Gbps, strategy.type=sync-ps, 1.000 s; 50.0 % less than the "
                           "runner-up, link_bandwidth=4Gbps, strategy.type=sync-ps (2.000 s).") != std::string::npos,
                 text.c_str());
        // Time to target (the default objective) halves every figure: the same crossover.
        o.objective = "tta";
        writeReport(store, ids, m_dir.filePath("cross-tta.html"), o);
        QVERIFY2(joined(answer).find("Objective: time to 80 % accuracy.") != std::string::npos, joined(answer).c_str());
        QVERIFY(joined(answer).find("they cross at about 3 Gb/s") != std::string::npos);
        const QString html = readAll(m_dir.filePath("cross-tta.html"));
        QVERIFY(html.contains("<h2>Answer</h2>"));
        QVERIFY(html.contains("Time to 80 % accuracy against link_bandwidth"));
        QVERIFY(html.contains("Throughput against link_bandwidth"));
        QVERIFY(html.contains("Target accuracy: <b>80.0 %</b>"));
    }

    void paretoFront()
    {
        const double nan = std::nan("");
        const std::vector<bool> front =
            report::paretoFront({{1, 10}, {2, 5}, {3, 6}, {4, 1}, {5, 1}, {2, 5}, {nan, 0}, {0.5, nan}});
        const std::vector<bool> expected{true, true, false, true, false, true, false, false};
        QCOMPARE(front, expected);
        QVERIFY(report::paretoFront({}).empty());
    }

    void confidenceIntervalByHand()
    {
        // t_{0.975, 2} = 4.302653 (tables); n = 3 values 10, 12, 17: mean 13, s = sqrt(13), half-width
        // 4.302653 x sqrt(13) / sqrt(3) = 8.95656.
        QVERIFY(std::fabs(report::studentT975(2) - 4.302653) < 1e-6);
        QVERIFY(std::fabs(report::studentT975(1) - 12.706205) < 1e-6);
        QVERIFY(std::fabs(report::studentT975(30) - 2.042272) < 1e-6);
        const report::Estimate e = report::estimate({10, 12, 17});
        QCOMPARE(e.n, 3);
        QCOMPARE(e.mean, 13.0);
        const double hand = 4.302653 * std::sqrt(13.0) / std::sqrt(3.0);
        QVERIFY2(std::fabs(e.half - hand) < 1e-5, qPrintable(QString::number(e.half, 'g', 17)));
        QVERIFY(e.varies);
        // What the seed does not change has no spread.
        const report::Estimate same = report::estimate({0.68265, 0.68265, 0.68265});
        QCOMPARE(same.half, 0.0);
        QVERIFY(!same.varies);
        QCOMPARE(report::estimate({5}).half, 0.0);
        QCOMPARE(report::estimate({}).n, 0);

        // In the report: "13.00 ± 8.96" in the simulated time column (s), n = 3; the constant figure bare.
        RunStore store(m_dir.filePath("ci.sqlite").toStdString());
        std::vector<long long> ids;
        int seed = 1;
        for (double t : {10.0, 12.0, 17.0})
            ids.push_back(addRun(store, R"({"seed": )" + std::to_string(seed++) + "}", t, 0.68265));
        const QString out = m_dir.filePath("ci.html");
        writeReport(store, ids, out);
        const QString html = readAll(out);
        QVERIFY2(html.contains(">13.00 ± 8.96<"), qPrintable(html));
        QVERIFY(html.contains("simulated time (s)"));
        QVERIFY(html.contains(">682.6<") || html.contains(">682.7<")); // time to target: ms, no spread
        QVERIFY(!html.contains("± 0.00"));
        QVERIFY(html.contains("time to target (ms)"));
        QVERIFY(html.contains("final accuracy (%)"));
        QVERIFY(html.contains(">85.00<")); // accuracy as a percentage, equal in the three runs
    }

    void saturatedSharedLinkWarns()
    {
        // The backbone at 90 % (shared): warned; a worker's own link at 95 %: the bottleneck, but no warning;
        // the backbone at 79 %: no warning.
        RunStore store(m_dir.filePath("sat.sqlite").toStdString());
        const long long hot = addRun(store, R"({"platform": {"link_bandwidth": "10Gbps"}})", 2, 1,
                                     {link("backbone", 0.9, 5e9), link("worker-0_link_UP", 0.3)});
        const long long own = addRun(store, R"({"platform": {"link_bandwidth": "1Gbps"}})", 4, 2,
                                     {link("worker-0_link_UP", 0.95, 5e9), link("backbone", 0.79)});
        QCOMPARE(storedBottleneck(store, hot).name, std::string("backbone"));
        QVERIFY(storedBottleneck(store, hot).shared);
        QCOMPARE(storedBottleneck(store, own).name, std::string("worker-0_link_UP"));
        QVERIFY(!storedBottleneck(store, own).shared);
        QCOMPARE(storedBottleneck(store, own).text(), std::string("link worker-0_link_UP (host link) 95.0 %"));
        std::vector<std::string> answer;
        ReportOptions o;
        o.answer = &answer;
        const QString out = m_dir.filePath("sat.html");
        writeReport(store, {hot, own}, out, o);
        const std::string text = joined(answer);
        QVERIFY2(text.find("Warning: link_bandwidth=10Gbps: shared link backbone (backbone) at 90.0 % load, above 80 %") !=
                     std::string::npos,
                 text.c_str());
        QVERIFY2(text.find("Warning: link_bandwidth=1Gbps") == std::string::npos, text.c_str());
        QVERIFY(text.find("Bottleneck of link_bandwidth=1Gbps: link worker-0_link_UP (host link) 95.0 %.") !=
                std::string::npos);
        const QString html = readAll(out);
        QVERIFY(html.contains("Warning: a shared link is above 80 % load"));
        QVERIFY(html.contains("<b>backbone</b> (backbone) at 90.0 %"));
        // Without a saturated shared link, no warning at all.
        writeReport(store, {own}, m_dir.filePath("own.html"), o);
        QVERIFY(!readAll(m_dir.filePath("own.html")).contains("Warning: a shared link"));
        QVERIFY(joined(answer).find("Warning") == std::string::npos);
    }

    void linkClassesAndBottleneck()
    {
        const std::vector<std::string> hosts{"worker-0", "server", "site0-client-3"};
        QCOMPARE(classifyLink("backbone", hosts).kind, std::string("backbone"));
        QVERIFY(classifyLink("site2-wan_UP", hosts).shared);
        QCOMPARE(classifyLink("site2-wan_UP", hosts).kind, std::string("WAN"));
        QCOMPARE(classifyLink("site2-lan_DOWN", hosts).kind, std::string("site uplink"));
        QCOMPARE(classifyLink("site0-wifi", hosts).kind, std::string("Wi-Fi cell"));
        QVERIFY(!classifyLink("server_link_DOWN", hosts).shared);
        QVERIFY(!classifyLink("site0-client-3_cell_UP", hosts).shared);
        QCOMPARE(classifyLink("cluster_link_from_3_7_1", hosts).kind, std::string("network link"));
        // A host busier than any link is the bottleneck.
        HostStats h;
        h.name = "worker-0";
        h.role = "worker";
        h.elapsed = 10;
        h.compute = 9.7;
        const Bottleneck b = findBottleneck({h}, {link("backbone", 0.5)});
        QCOMPARE(b.kind, Bottleneck::Kind::Host);
        QCOMPARE(b.text(), std::string("host worker-0 (worker, compute) 97.0 %"));
        QCOMPARE(findBottleneck({}, {}).text(), std::string("none"));
    }

    void costSectionAndArithmetic()
    {
        // Validation names the field.
        auto issues = [](const std::string& cost) {
            try {
                parseScenario(scenarioText(R"({"cost": )" + cost + "}"));
            } catch (const ScenarioError& e) {
                return std::string(e.what());
            }
            return std::string();
        };
        QVERIFY(issues(R"({"host_hour": {"worker": 2.5}, "per_gb": {"*-wan_UP": 0.09}, "currency": "EUR"})").empty());
        QVERIFY2(issues(R"({"host_hour": {"gpu": 1}})").find("cost.host_hour.gpu: unknown role") != std::string::npos,
                 issues(R"({"host_hour": {"gpu": 1}})").c_str());
        QVERIFY(issues(R"({"host_hour": {"worker": -1}})").find("cost.host_hour.worker: expected a price per host-hour") !=
                std::string::npos);
        QVERIFY(issues(R"({"per_gb": {"backbone": "cheap"}})").find("cost.per_gb.backbone: expected a price per GB") !=
                std::string::npos);
        QVERIFY(issues(R"({"currency": "USD"})").find("cost.host_hour: missing") != std::string::npos);
        QVERIFY(issues(R"({"host_hour": {}, "dollars": 1})").find("cost.dollars: unknown key") != std::string::npos);
        QVERIFY(issues(R"("free")").find("cost: expected an object") != std::string::npos);

        // 4 workers at 3/h and a server at 1/h for 1800 s: 6.5; 2 GB over the WAN uplink at 0.09/GB and 1 GB over
        // the backbone (matched by "*" at 0.01 and by "backbone" at 0.02: the higher price): 0.18 + 0.02.
        CostSpec spec = costOf(scenarioText(
            R"({"cost": {"host_hour": {"worker": 3, "server": 1}, "per_gb": {"*-wan_UP": 0.09, "*": 0.01, "backbone": 0.02}}})"));
        QVERIFY(spec.given);
        std::vector<HostStats> hosts(5);
        for (int i = 0; i < 4; ++i)
            hosts[std::size_t(i)].role = "worker";
        hosts[4].role = "server";
        const RunCost c = runCost(spec, hosts, {link("site0-wan_UP", 0.1, 2e9), link("backbone", 0.1, 1e9)}, 1800);
        QVERIFY(std::fabs(c.hosts - 6.5) < 1e-12);
        QVERIFY(std::fabs(c.traffic - 0.20) < 1e-12);
        QVERIFY(!costOf(scenarioText("{}")).given);
    }

    void costObjectiveAndCsv()
    {
        // Two priced configurations; the objective ranks them by cost to the target.
        RunStore store(m_dir.filePath("cost.sqlite").toStdString());
        const std::string price = R"("cost": {"host_hour": {"worker": 3600, "server": 0}})"; // 1 per worker-second
        const long long a = addRun(store, R"({"platform": {"workers": 4}, )" + price + "}", 10, 5);
        const long long b = addRun(store, R"({"platform": {"workers": 2}, )" + price + "}", 40, 20);
        std::vector<std::string> answer;
        ReportOptions o;
        o.answer = &answer;
        o.objective = "cost";
        const QString csv = m_dir.filePath("cost.csv");
        writeReport(store, {a, b}, csv, o);
        // Every run has 4 worker hosts in this synthetic store: 4 x 10 s = 40 for a, 4 x 40 s = 160 for b; to the
        // target: 20 and 80.
        QVERIFY2(joined(answer).find("Objective: cost to 80 % accuracy.") != std::string::npos, joined(answer).c_str());
        QVERIFY2(joined(answer).find("Best: workers=4, 20 USD; 75.0 % less than the runner-up, workers=2 (80 USD).") !=
                     std::string::npos,
                 joined(answer).c_str());
        const QStringList lines = readAll(csv).trimmed().split('\n');
        QCOMPARE(lines.size(), 3);
        QVERIFY2(lines[0].startsWith("platform.workers,n,final_accuracy_pct,final_accuracy_ci95_pct,time_to_target_s,"),
                 qPrintable(lines[0]));
        QVERIFY(lines[0].contains(",cost_USD,cost_ci95_USD,cost_to_target_USD,"));
        QVERIFY(lines[0].contains(",bottleneck,bottleneck_kind,bottleneck_load_pct,"));
        const QStringList row = lines[1].split(',');
        const std::vector<double> expected{4, 1, 85, 0, 5, 0, 1, 10, 0}; // workers, n, accuracy %, its CI, tta, ...
        for (std::size_t i = 0; i < expected.size(); ++i)
            QVERIFY2(std::fabs(row[int(i)].toDouble() - expected[i]) < 1e-9, qPrintable(lines[1]));
        QVERIFY(QFile::exists(seriesCsvFile(csv)));
        QVERIFY(readAll(seriesCsvFile(csv)).startsWith("run_id,config,seed,series,time,step,epoch,value\n"));
        QCOMPARE(seriesCsvFile("a/b/report.csv"), QString("a/b/report-series.csv"));
        QCOMPARE(seriesCsvFile("report.csv"), QString("report-series.csv"));
        // The HTML has the time-against-cost chart; objective "cost" without prices is an error naming the fix.
        const QString html = m_dir.filePath("cost.html");
        writeReport(store, {a, b}, html, o);
        QVERIFY(readAll(html).contains("Time to target against cost to target"));
        RunStore plain(m_dir.filePath("cross.sqlite").toStdString());
        try {
            writeReport(plain, {1, 2}, m_dir.filePath("x.html"), o);
            QFAIL("no error for --objective cost without prices");
        } catch (const std::runtime_error& e) {
            QVERIFY2(std::string(e.what()).find("no prices; add a \"cost\" section") != std::string::npos, e.what());
        }
        o.objective = "fastest";
        QVERIFY_THROWS_EXCEPTION(std::runtime_error, writeReport(plain, {1, 2}, m_dir.filePath("x.html"), o));
    }
};

int main(int argc, char** argv)
{
    qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    TestPlanner t;
    return QTest::qExec(&t, argc, argv);
}
#include "tst_planner.moc"
