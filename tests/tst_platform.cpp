// SPDX-License-Identifier: GPL-3.0-or-later
// The platform section of scenarios (README-platforms.md): what it reads, and every error naming its place (a JSON
// path, a file and line, a host) before SimGrid sees anything. No simulation runs here.
#include "clustercheck.h"
#include "error.h"
#include "runstore.h"
#include "scenario.h"
#include "scenario_platform.h"
#include "xmlcheck.h"

#include <QDir>
#include <QFile>
#include <QJsonDocument>
#include <QJsonArray>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QElapsedTimer>
#include <QTest>

#include <sys/stat.h>

#include <cmath>

using namespace dml;
using namespace dml::app;

namespace {

/// A scenario with this platform object on a small synthetic dataset (so preparePlatform can build the strategy).
std::string scenarioWith(const std::string& platform, const std::string& strategy = R"({"type": "sync-ps"})")
{
    return R"({"name": "t", "platform": )" + platform +
           R"(, "workload": {"dataset": {"name": "synthetic", "classes": 4, "features": 8, "train_samples": 2000,
              "test_samples": 100}, "batch_size": 10}, "strategy": )" +
           strategy + "}";
}

/// The first issue of preparing (parse + checkAgainstData + preparePlatform) `text` as file `file`, or "" if none.
std::string firstError(const std::string& text, const std::string& file = "s.json", std::string* path = nullptr)
{
    try {
        Scenario s = parseScenario(text, file);
        const TrainTest data = loadDataset(s);
        preparePlatform(s, checkAgainstData(s, data));
    } catch (const ScenarioError& e) {
        if (path)
            *path = e.issues().front().path;
        return e.what();
    }
    return "";
}

void writeFile(const QString& path, const char* text)
{
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(text);
}

/// The runs in the store `db` (0 when the file does not exist: nothing touched it).
int runsIn(const QString& db)
{
    if (!QFile::exists(db))
        return 0;
    app::RunStore store(db.toStdString());
    return int(store.runs().size());
}

struct CliResult {
    int exitCode = -1;
    QString err;
    QString out;
};

/// `dmlsim run SCENARIO --db DB` or `dmlsim platform SCENARIO`.
CliResult runCli(const QString& cmd, const QString& scenario, const QString& db)
{
    QProcess p;
    QStringList args{cmd, scenario};
    if (cmd == "run")
        args << "--db" << db;
    p.start(DMLSIM_EXE, args);
    if (!p.waitForFinished(60000) || p.exitStatus() != QProcess::NormalExit)
        return {-1, "crashed or timed out: " + p.readAllStandardError(), {}};
    const QString err = p.readAllStandardError();
    return {p.exitCode(), err, p.readAllStandardOutput()};
}

const char* kDoctype = "<?xml version='1.0'?>\n<!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">\n";

/// A scenario on the platform XML `file` with 2 workers on "node-*" and the server on `server`.
std::string xmlScenario(const std::string& file, const std::string& server = "node-3")
{
    std::string text = scenarioWith(R"({"topology": "xml", "workers": 2, "network_model": "ideal", "xml": {"file": ")" +
                                    file + R"(", "roles": {"worker": ["node-0", "node-1"], "server": ")" + server +
                                    R"("}}})");
    return text.substr(0, text.size() - 1) + R"(, "run": {"max_steps": 2}})";
}

} // namespace

class TestPlatform : public QObject {
    Q_OBJECT
private slots:
    void readsEveryTopology()
    {
        const Scenario s = parseScenario(scenarioWith(R"({"topology": "fat-tree", "topology_parameters": "2;4,4;1,2;1,2",
            "workers": 8, "worker_speed": ["1Gf", "2Gf"], "network_model": "smpi", "tcp_window": "none",
            "stragglers": {"fraction": 0.25, "factor": 3, "start": "10s", "duration": "5s", "period": "60s"},
            "profiles": [{"links": "backbone", "factors": [["0s", 1.0], ["30s", 0.5]], "period": "60s"}]})"));
        const sim::PlatformSpec& p = s.sim.platform;
        QCOMPARE(int(p.topology), int(sim::Topology::FatTree));
        QCOMPARE(p.speeds.list, (std::vector<double>{1e9, 2e9}));
        QCOMPARE(int(p.network), int(sim::NetworkModel::Smpi));
        QCOMPARE(p.tcpWindow, 0.0);
        QCOMPARE(p.stragglers.factor, 3.0);
        QCOMPARE(p.stragglers.period, 60.0);
        QCOMPARE(int(p.profiles.size()), 1);
        QCOMPARE(p.profiles[0].points.back(), (std::pair<double, double>{30.0, 0.5}));
        QCOMPARE(sim::clusterHostCount(sim::Topology::FatTree, "2;4,4;1,2;1,2"), 16);
        QCOMPARE(sim::clusterHostCount(sim::Topology::Torus, "16,8,8"), 1024);
        QCOMPARE(sim::clusterHostCount(sim::Topology::Dragonfly, "4,2;4,2;8,1;8"), 1024);
        // Issue 18: a product that overflowed 64 bits read as "0 hosts"; it is now refused as too large.
        try {
            sim::clusterHostCount(sim::Topology::Torus, "65536,65536,65536,65536");
            QFAIL("an overflowing torus was accepted");
        } catch (const dml::ConfigError& e) {
            QVERIFY2(QString(e.what()).contains("more than 10^12 hosts; at most 1,000,000"), e.what());
        }

        const Scenario e = parseScenario(scenarioWith(R"({"topology": "edge", "workers": 6,
            "worker_speed": {"min": "1Gf", "max": "4Gf"},
            "edge": {"sites": 2, "devices_per_site": 3, "access": "cellular", "wan_latency": "20ms"}})",
                                                      R"({"type": "fedavg"})"));
        QCOMPARE(e.sim.platform.edge.sites, 2);
        QCOMPARE(int(e.sim.platform.edge.access), int(sim::EdgeSpec::Access::Cellular));
        QCOMPARE(e.sim.platform.edge.wanLatency, 0.02);
        QCOMPARE(e.sim.platform.speeds.max, 4e9);
        QCOMPARE(firstError(scenarioWith(R"({"topology": "edge", "workers": 6,
            "edge": {"sites": 2, "devices_per_site": 3}})", R"({"type": "fedavg"})")), std::string());
    }

    void topologyErrors_data()
    {
        QTest::addColumn<QString>("platform");
        QTest::addColumn<QString>("path");
        QTest::addColumn<QString>("message");
        QTest::newRow("fat-tree syntax") << R"({"topology": "fat-tree", "topology_parameters": "2;4;1,2;1,2", "workers": 4})"
                                         << "platform.topology_parameters" << "a fat-tree of 2 levels needs 2 numbers";
        QTest::newRow("zero") << R"({"topology": "torus", "topology_parameters": "4,0,4", "workers": 4})"
                              << "platform.topology_parameters" << "integers >= 1";
        QTest::newRow("too few hosts") << R"({"topology": "torus", "topology_parameters": "2,2", "workers": 4})"
                                       << "platform.topology_parameters" << "has 4 hosts; the strategy needs 5";
        QTest::newRow("nodes need leaves")
            << R"({"topology": "torus", "topology_parameters": "2,2", "workers": 16, "node": {"gpus": 4}})"
            << "platform.topology_parameters" << "has 4 hosts; the strategy needs 5 (4 nodes of 4 accelerators + 1 server)";
        QTest::newRow("dragonfly") << R"({"topology": "dragonfly", "topology_parameters": "4,2;4", "workers": 4})"
                                   << "platform.topology_parameters" << "groups,links;chassis,links";
        QTest::newRow("missing parameters") << R"({"topology": "torus", "workers": 4})"
                                            << "platform.topology_parameters" << "missing";
        QTest::newRow("devices") << R"({"topology": "edge", "workers": 7, "edge": {"sites": 2, "devices_per_site": 3}})"
                                 << "platform.edge.devices_per_site" << "hold 6 workers/clients; the strategy needs 7";
        QTest::newRow("availability for workers")
            << R"({"workers": 4, "availability": {"model": "random", "roles": ["worker"]}})"
            << "platform.availability.roles" << "only federated averaging";
        QTest::newRow("profile factor") << R"({"workers": 4, "profiles": [{"hosts": "worker-*", "factors": [["0s", 2]]}]})"
                                        << "platform.profiles[0].factors[0]" << "factor in (0, 1]";
        QTest::newRow("straggler factor") << R"({"workers": 4, "stragglers": {"fraction": 0.5, "factor": 0.5}})"
                                          << "platform.stragglers.factor" << "expected a number in [1";
        QTest::newRow("speed list") << R"({"workers": 4, "worker_speed": ["1Gf", "fast"]})"
                                    << "platform.worker_speed[1]" << "expected a speed";
        QTest::newRow("window on ideal") << R"({"workers": 4, "network_model": "ideal", "tcp_window": "4MiB"})"
                                         << "platform.tcp_window" << "no TCP window";
    }
    void topologyErrors()
    {
        QFETCH(QString, platform);
        QFETCH(QString, path);
        QFETCH(QString, message);
        std::string got;
        const std::string err = firstError(scenarioWith(platform.toStdString()), "s.json", &got);
        QVERIFY2(!err.empty(), "no error");
        QCOMPARE(QString::fromStdString(got), path);
        QVERIFY2(err.find(message.toStdString()) != std::string::npos, err.c_str());
    }

    void xmlErrorsNameFileAndLine()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        writeFile(dir.filePath("good.xml"),
                  "<?xml version='1.0'?>\n<!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">\n"
                  "<platform version=\"4.1\"><zone id=\"world\" routing=\"Full\">\n"
                  "  <cluster id=\"c\" prefix=\"node-\" radical=\"0-3,8\" suffix=\".lan\" speed=\"1Gf\" bw=\"1Gbps\" "
                  "lat=\"10us\"/>\n  <zone id=\"z\" routing=\"Full\"><host id=\"boss\" speed=\"1Gf\"/></zone>\n"
                  "</zone></platform>\n");
        writeFile(dir.filePath("broken.xml"), "<?xml version='1.0'?>\n<platform version=\"4.1\">\n  <host id=\"a\" "
                                              "speed=\"1Gf\">\n</platform>\n");
        writeFile(dir.filePath("old.xml"), "<?xml version='1.0'?>\n<platform version=\"3\">\n</platform>\n");
        QCOMPARE(platformXmlHosts(dir.filePath("good.xml").toStdString()),
                 (std::vector<std::string>{"node-0.lan", "node-1.lan", "node-2.lan", "node-3.lan", "node-8.lan", "boss"}));

        const std::string file = dir.filePath("s.json").toStdString();
        auto xmlScenario = [](const std::string& xml, const std::string& workers, const std::string& server) {
            return scenarioWith(R"({"topology": "xml", "workers": 4, "xml": {"file": ")" + xml +
                                R"(", "roles": {"worker": )" + workers + R"(, "server": ")" + server + R"("}}})");
        };
        // Relative to the scenario's directory; mapped hosts exist.
        QCOMPARE(firstError(xmlScenario("good.xml", R"("node-*")", "boss"), file), std::string());
        std::string path;
        std::string err = firstError(
            xmlScenario("good.xml", R"(["node-0.lan", "node-1*", "node-[23]*", "node-8*"])", "boss"), file, &path);
        QCOMPARE(path, std::string("platform.xml.roles.worker"));
        QVERIFY2(err.find("matches only 3 free host(s) of") != std::string::npos &&
                     err.find("the strategy needs 4 for role \"worker\"") != std::string::npos,
                 err.c_str());
        err = firstError(xmlScenario("good.xml", R"("node-*")", "chief"), file, &path);
        QCOMPARE(path, std::string("platform.xml.roles.server"));
        QVERIFY2(err.find("\"chief\" matches no host") != std::string::npos, err.c_str());

        err = firstError(xmlScenario("broken.xml", R"("*")", "a"), file, &path);
        QCOMPARE(path, std::string("platform.xml.file"));
        QVERIFY2(err.find("broken.xml:4:") != std::string::npos && err.find("malformed XML") != std::string::npos,
                 err.c_str());
        err = firstError(xmlScenario("old.xml", R"("*")", "a"), file, &path);
        QVERIFY2(err.find("old.xml:2:") != std::string::npos && err.find("version 4.1") != std::string::npos, err.c_str());
        err = firstError(xmlScenario("missing.xml", R"("*")", "a"), file, &path);
        QVERIFY2(err.find("missing.xml: file not found") != std::string::npos, err.c_str());
    }

    void traceErrorsNameFileAndLine()
    {
        QTemporaryDir dir;
        writeFile(dir.filePath("bad.trace"), "# host time state\nclient-1 10s off\nclient-1 soon on\n");
        const std::string file = dir.filePath("s.json").toStdString();
        std::string path;
        const std::string err = firstError(
            scenarioWith(R"({"workers": 4, "availability": {"model": "trace", "trace": "bad.trace"}})",
                         R"({"type": "fedavg"})"),
            file, &path);
        QCOMPARE(path, std::string("platform.availability.trace"));
        QVERIFY2(err.find("bad.trace:3: expected a time") != std::string::npos, err.c_str());

        writeFile(dir.filePath("server.trace"), "client-1 10s off\nserver 20 off\n");
        const std::string err2 = firstError(
            scenarioWith(R"({"workers": 4, "availability": {"model": "trace", "trace": "server.trace"}})",
                         R"({"type": "fedavg"})"),
            file, &path);
        QVERIFY2(err2.find("server.trace:2: host \"server\" runs a server") != std::string::npos, err2.c_str());

        // Workers may go off under the strategies that tolerate it: async-ps, and sync-ps and ring-allreduce with
        // elastic recovery (issue 11); without it a ring worker going off is refused, naming the line.
        writeFile(dir.filePath("worker.trace"), "worker-2 10s off\nworker-2 30s on\n");
        const std::string platform = R"({"workers": 4, "availability": {"model": "trace", "trace": "worker.trace"}})";
        for (const char* tolerant : {R"({"type": "ring-allreduce", "recovery": "elastic"})",
                                     R"({"type": "sync-ps", "recovery": "elastic"})", R"({"type": "async-ps"})"})
            QCOMPARE(firstError(scenarioWith(platform, tolerant), file), std::string());
        const std::string err3 = firstError(scenarioWith(platform, R"({"type": "ring-allreduce"})"), file, &path);
        QCOMPARE(path, std::string("platform.availability.trace"));
        QVERIFY2(err3.find("worker.trace:1: host \"worker-2\" runs a worker; only federated clients") !=
                     std::string::npos,
                 err3.c_str());
    }

    /// FedScale traces (client_device_capacity and client_behave_trace, converted to JSON): a bad file, entry or key
    /// is named with the file and the client id; devices that may not go off are refused.
    void fedscaleTraceErrorsNameFileAndClient()
    {
        QTemporaryDir dir;
        const std::string file = dir.filePath("s.json").toStdString();
        std::string path;
        auto capacity = [&](const char* text) {
            writeFile(dir.filePath("cap.json"), text);
            return firstError(scenarioWith(R"({"workers": 4, "device_capacity": {"file": "cap.json"}})",
                                           R"({"type": "fedavg"})"),
                              file, &path);
        };
        QCOMPARE(capacity(R"({"1": {"computation": 2, "communication": 8000}})"), std::string());
        std::string err = capacity("{\"1\": ");
        QCOMPARE(path, std::string("platform.device_capacity.file"));
        QVERIFY2(err.find("cap.json: not JSON") != std::string::npos, err.c_str());
        err = capacity(R"({"1": {"computation": 2, "communication": 8000}, "7": {"computation": -3, "communication": 1}})");
        QVERIFY2(err.find("cap.json: client \"7\": \"computation\": expected a positive number, got -3") !=
                     std::string::npos,
                 err.c_str());
        err = capacity(R"({"1": {"computation": 2}})");
        QVERIFY2(err.find("client \"1\": \"communication\"") != std::string::npos, err.c_str());
        err = capacity("[1, 2]");
        QVERIFY2(err.find("expected an object keyed by client id") != std::string::npos, err.c_str());
        QVERIFY(firstError(scenarioWith(R"({"workers": 4, "device_capacity": {"file": "missing.json"}})"), file, &path)
                    .find("missing.json: file not found") != std::string::npos);

        auto behave = [&](const char* text, const char* strategy = R"({"type": "fedavg"})") {
            writeFile(dir.filePath("behave.json"), text);
            return firstError(scenarioWith(R"({"workers": 4, "availability": {"model": "fedscale", "file": "behave.json"}})",
                                           strategy),
                              file, &path);
        };
        QCOMPARE(behave(R"({"1": {"active": [0, 50], "inactive": [20, 90], "finish_time": 100, "duration": 60}})"),
                 std::string());
        err = behave(R"({"1": {"active": [0, 50], "inactive": [60, 90], "finish_time": 100}})");
        QCOMPARE(path, std::string("platform.availability.file"));
        QVERIFY2(err.find("behave.json: client \"1\": interval 1: expected active <= inactive <= finish_time") !=
                     std::string::npos,
                 err.c_str());
        err = behave(R"({"1": {"active": [0], "inactive": [20, 30], "finish_time": 100}})");
        QVERIFY2(err.find("two lists of times of the same non-zero length") != std::string::npos, err.c_str());
        err = behave(R"({"1": {"active": [0], "inactive": [20], "finish_time": 100}})", R"({"type": "sync-ps"})");
        QVERIFY2(err.find("this strategy's workers may not go off") != std::string::npos, err.c_str());
        // device_bandwidth: per-device access links, star and edge only.
        QVERIFY(firstError(scenarioWith(R"({"topology": "torus", "topology_parameters": "4,2", "workers": 4,
                                           "device_bandwidth": "10Mbps"})"),
                           file, &path)
                    .find("only for the star and edge platforms") != std::string::npos);
        QCOMPARE(path, std::string("platform.device_bandwidth"));
    }

    /// The traces drive a run: a device's training time per sample is 3 x its "computation" ms (FedScale's formula)
    /// when the trace is taken as measured on this model, its link runs at its "communication" kbit/s, and a device
    /// whose behaviour trace has it off never trains.
    void fedscaleTracesDriveTheRun()
    {
        QTemporaryDir dir;
        writeFile(dir.filePath("cap.json"), R"({"10": {"computation": 8, "communication": 2000},
                                                "2": {"computation": 2, "communication": 8000}})");
        writeFile(dir.filePath("behave.json"), R"({"1": {"active": [0], "inactive": [1000], "finish_time": 1000},
                                                   "2": {"active": [500], "inactive": [600], "finish_time": 1000}})");
        auto run = [&](bool behaviour) {
            const std::string platform =
                std::string(R"({"workers": 4, "network_model": "ideal", "device_capacity": {"file": "cap.json"})") +
                (behaviour ? R"(, "availability": {"model": "fedscale", "file": "behave.json"}})" : "}");
            QFile f(dir.filePath("s.json"));
            if (!f.open(QIODevice::WriteOnly))
                return QJsonObject();
            f.write(scenarioWith(platform, R"({"type": "fedavg", "client_fraction": 1, "rounds": 1})").c_str());
            f.close();
            QProcess p;
            p.start(DMLSIM_EXE, {"run", dir.filePath("s.json"), "--db", dir.filePath("x.sqlite"), "--json"});
            if (!p.waitForFinished(60000) || p.exitCode() != 0) {
                qWarning("%s", p.readAllStandardError().constData());
                return QJsonObject();
            }
            return QJsonDocument::fromJson(p.readAllStandardOutput()).object();
        };
        auto field = [](const QJsonObject& o, const char* list, const QString& name, const char* key) {
            for (const QJsonValue& v : o[list].toArray())
                if (v["name"].toString() == name)
                    return v[key].toDouble();
            return -1.0;
        };
        const QJsonObject plain = run(false);
        QVERIFY(!plain.isEmpty());
        // Client ids in numeric order: "2" (2 ms, 8000 kbit/s) is device 0, "10" (8 ms, 2000 kbit/s) device 1.
        const double c0 = field(plain, "hosts", "client-0", "compute"), c1 = field(plain, "hosts", "client-1", "compute");
        QVERIFY(c0 > 0);
        QVERIFY2(std::fabs(c1 / c0 - 4.0) < 1e-9, qPrintable(QString::number(c1 / c0, 'g', 12)));
        QCOMPARE(field(plain, "hosts", "client-2", "compute"), c0);
        QCOMPARE(field(plain, "links", "client-0_link_UP", "bandwidth"), 1e6);
        QCOMPARE(field(plain, "links", "client-1_link_DOWN", "bandwidth"), 2.5e5);
        // 500 samples per client, batch 10, one local epoch: 500 x 3 x 2 ms of the model's training flops, plus the
        // optimizer's steps at the same speed.
        QVERIFY2(c0 >= 3.0 && c0 < 3.0 * 1.05, qPrintable(QString::number(c0, 'g', 12)));

        const QJsonObject churn = run(true);
        QVERIFY(!churn.isEmpty());
        QCOMPARE(field(churn, "hosts", "client-0", "compute"), c0);
        QCOMPARE(field(churn, "hosts", "client-1", "compute"), 0.0); // off from 0 s to 500 s: out of the round
        QCOMPARE(field(churn, "hosts", "client-3", "compute"), 0.0);
    }

    /// The CLI turns the same errors into exit code 2 and a message, never a crash inside SimGrid.
    void cliReportsXmlErrors()
    {
        QTemporaryDir dir;
        writeFile(dir.filePath("broken.xml"), "<platform version=\"4.1\">\n<host id=\"a\"\n</platform>\n");
        writeFile(dir.filePath("s.json"),
                  scenarioWith(R"({"topology": "xml", "workers": 1, "xml": {"file": "broken.xml",
                      "roles": {"worker": "a", "server": "a"}}})")
                      .c_str());
        for (const QString cmd : {"run", "platform"}) {
            QProcess p;
            QStringList args{cmd, dir.filePath("s.json")};
            if (cmd == "run")
                args << "--db" << dir.filePath("x.sqlite");
            p.start(DMLSIM_EXE, args);
            QVERIFY(p.waitForFinished(30000));
            QCOMPARE(p.exitStatus(), QProcess::NormalExit);
            QCOMPARE(p.exitCode(), 2);
            const QString err = p.readAllStandardError();
            QVERIFY2(err.contains("platform.xml.file") && err.contains("broken.xml:3:"), qPrintable(err));
        }
    }

    /// Issue 18: the dragonfly and torus rules against SimGrid itself. Each shape is refused by dmlsim exactly when
    /// SimGrid 3.32, asked directly in a forked child, crashes or aborts building it or routing between its hosts.
    void clusterRulesMatchSimGrid_data()
    {
        QTest::addColumn<int>("topology");
        QTest::addColumn<QString>("parameters");
        QTest::addColumn<QString>("refusal"); // "" = accepted
        const int df = int(sim::Topology::Dragonfly), torus = int(sim::Topology::Torus);
        const QString routers = "routers per chassis";
        QTest::newRow("issue 18 reproducer") << df << "8,1;1,1;1,1;8" << "8 groups needs at least 8 " + routers;
        QTest::newRow("2 groups, 1 router") << df << "2,1;1,1;1,1;2" << "needs at least 2 " + routers;
        // Enough routers per group (2 chassis x 2) but not per chassis: still crashes.
        QTest::newRow("3 groups, 2x2 routers") << df << "3,1;2,1;2,1;1" << "needs at least 3 " + routers;
        QTest::newRow("3 groups, 3 routers") << df << "3,1;2,1;3,1;1" << "";
        QTest::newRow("2 groups, 2 routers") << df << "2,1;1,1;2,1;2" << "";
        QTest::newRow("1 group, 1 router") << df << "1,1;1,1;1,1;8" << "";
        QTest::newRow("4 groups, 4 routers") << df << "4,2;2,1;4,1;2" << "";
        QTest::newRow("torus 1,1") << torus << "1,1" << "at most one dimension of size 1";
        QTest::newRow("torus 3,1,1") << torus << "3,1,1" << "at most one dimension of size 1";
        QTest::newRow("torus 1,4") << torus << "1,4" << "";
        QTest::newRow("torus 4,4,4") << torus << "4,4,4" << "";
    }
    void clusterRulesMatchSimGrid()
    {
        QFETCH(int, topology);
        QFETCH(QString, parameters);
        QFETCH(QString, refusal);
        const auto t = sim::Topology(topology);
        std::string refused;
        try {
            sim::clusterHostCount(t, parameters.toStdString());
        } catch (const ConfigError& e) {
            QCOMPARE(QString::fromStdString(e.path()), QString("platform.topology_parameters"));
            refused = e.what();
        }
        QVERIFY2(refusal.isEmpty() ? refused.empty() : refused.find(refusal.toStdString()) != std::string::npos,
                 refused.c_str());
        QCOMPARE(test::simgridBuildsAndRoutes(t, parameters.toStdString()), refusal.isEmpty());
        // The scenario reader gives the same refusal at the same place.
        std::string path;
        const std::string err = firstError(
            scenarioWith(R"({"topology": ")" + std::string(sim::toString(t)) + R"(", "topology_parameters": ")" +
                         parameters.toStdString() + R"(", "workers": 1})"),
            "s.json", &path);
        if (refusal.isEmpty()) {
            QCOMPARE(err, std::string());
        } else {
            QCOMPARE(path, std::string("platform.topology_parameters"));
            QVERIFY2(err.find(refusal.toStdString()) != std::string::npos, err.c_str());
        }
    }

    /// Every small dragonfly and torus: dmlsim accepts exactly the shapes SimGrid builds and routes.
    void clusterRulesSweep()
    {
        int accepted = 0, refused = 0;
        auto check = [&](sim::Topology t, const std::string& params) {
            bool ok = true;
            try {
                sim::clusterHostCount(t, params);
            } catch (const ConfigError&) {
                ok = false;
            }
            (ok ? accepted : refused)++;
            QVERIFY2(test::simgridBuildsAndRoutes(t, params) == ok,
                     qPrintable(QString("%1 \"%2\": dmlsim %3 it, SimGrid %4")
                                    .arg(sim::toString(t), QString::fromStdString(params), ok ? "accepts" : "refuses",
                                         ok ? "fails on it" : "builds and routes it")));
        };
        for (int g = 1; g <= 4; ++g)
            for (int c = 1; c <= 2; ++c)
                for (int r = 1; r <= 4; ++r)
                    for (int n = 1; n <= 2; ++n)
                        check(sim::Topology::Dragonfly, std::to_string(g) + ",2;" + std::to_string(c) + ",1;" +
                                                            std::to_string(r) + ",1;" + std::to_string(n));
        for (int a = 1; a <= 3; ++a)
            for (int b = 0; b <= 3; ++b)
                for (int c = 0; c <= (b ? 3 : 0); ++c)
                    check(sim::Topology::Torus, std::to_string(a) + (b ? "," + std::to_string(b) : "") +
                                                    (c ? "," + std::to_string(c) : ""));
        QVERIFY(accepted > 20 && refused > 20); // both sides reached
    }

    /// Platform XML that SimGrid refuses (or accepts but cannot simulate): refused before anything runs, at
    /// platform.xml.file, naming file:line and SimGrid's message (issue 18).
    void simgridXmlErrors_data()
    {
        QTest::addColumn<QString>("body"); // inside <platform version="4.1">, from line 4
        QTest::addColumn<QString>("where");
        QTest::addColumn<QString>("message");
        const QString cluster = R"(<cluster id="c" prefix="node-" radical="0-3" suffix="" speed="1Gf" lat="10us" )";
        QTest::newRow("bad unit") << cluster + R"(bw="10Gbpz"/>)" << "bad.xml:4:" << "unknown unit: Gbpz";
        QTest::newRow("negative bandwidth") << cluster + R"(bw="-10Gbps"/>)" << "bad.xml:4:"
                                            << "bandwidth -1.25e+09 bytes/s; expected a positive finite bandwidth";
        QTest::newRow("duplicate hosts")
            << R"(<zone id="w" routing="Full">)"
                   "\n" + cluster + R"(bw="1Gbps"/>)" + "\n" + QString(cluster).replace("id=\"c\"", "id=\"d\"") +
                   R"(bw="1Gbps"/>)" + "\n</zone>"
            << "bad.xml:6:" << "second host named 'node-0'";
        QTest::newRow("zero speed") << R"(<zone id="z" routing="Full"><host id="node-0" speed="0f"/></zone>)"
                                    << "bad.xml:4:" << "host \"node-0\": speed 0 flops/s";
        QTest::newRow("negative latency")
            << R"(<zone id="z" routing="Full"><host id="node-0" speed="1Gf"/>)"
               "\n" R"(<link id="l" bandwidth="1Gbps" latency="-1us"/></zone>)"
            << "bad.xml:5:" << "link \"l\": latency -1e-06 s; expected a finite latency >= 0";
        QTest::newRow("infinite bandwidth")
            << R"(<zone id="z" routing="Full"><host id="node-0" speed="1Gf"/><link id="l" bandwidth="infBps" latency="1us"/></zone>)"
            << "bad.xml:4:" << "bandwidth inf bytes/s";
        QTest::newRow("route to an unknown link")
            << R"(<zone id="z" routing="Full"><host id="node-0" speed="1Gf"/><host id="node-1" speed="1Gf"/><route src="node-0" dst="node-1"><link_ctn id="nope"/></route></zone>)"
            << "bad.xml:4:" << "Link not found: nope";
        QTest::newRow("removed tag (SimGrid aborts)") << R"(<include file="other.xml"/>)" << "bad.xml:4:"
                                                      << "<include> tag was removed";
        QTest::newRow("unknown attribute") << R"(<zone id="z" routing="Full"><host id="node-0" speed="1Gf" colour="red"/></zone>)"
                                           << "bad.xml:4:" << "invalid XML: Bad attribute `colour'";
        QTest::newRow("unknown routing (SimGrid aborts)") << R"(<zone id="z" routing="Fool"><host id="node-0" speed="1Gf"/></zone>)"
                                                          << "bad.xml:4:" << "Not a valid model";
        QTest::newRow("crashing dragonfly cluster")
            << cluster + R"(bw="1Gbps" topology="DRAGONFLY" topo_parameters="4,1;1,1;1,1;1"/>)" << "bad.xml:4:"
            << "a dragonfly of 4 groups needs at least 4 routers per chassis";
    }
    void simgridXmlErrors()
    {
        QFETCH(QString, body);
        QFETCH(QString, where);
        QFETCH(QString, message);
        QTemporaryDir dir;
        const QString text = QString(kDoctype) + "<platform version=\"4.1\">\n" + body + "\n</platform>\n";
        writeFile(dir.filePath("bad.xml"), text.toUtf8().constData());
        writeFile(dir.filePath("good.xml"), (QString(kDoctype) + "<platform version=\"4.1\">\n" +
                                             R"(<cluster id="c" prefix="node-" radical="0-3" suffix="" speed="1Gf" )"
                                             R"(bw="10Gbps" lat="10us"/>)" + "\n</platform>\n")
                                                .toUtf8()
                                                .constData());
        const std::string file = dir.filePath("s.json").toStdString();
        QCOMPARE(firstError(xmlScenario("good.xml"), file), std::string()); // the control: the same roles load
        std::string path;
        const std::string err = firstError(xmlScenario("bad.xml", "node-0"), file, &path);
        QCOMPARE(path, std::string("platform.xml.file"));
        QVERIFY2(err.find(where.toStdString()) != std::string::npos && err.find(message.toStdString()) != std::string::npos,
                 err.c_str());
    }

    /// The whole file on one line, with the error at its end; and a file without <!DOCTYPE>, which SimGrid's
    /// parser needs (Qt's reader does not).
    void simgridXmlErrorsOneLineAndDoctype()
    {
        QTemporaryDir dir;
        writeFile(dir.filePath("one.xml"),
                  "<?xml version='1.0'?><!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">" R"(<platform version="4.1"><zone id="z" routing="Full"><host id="node-0" speed="1Gf"/><host id="node-1" speed="1Gf"/><host id="node-3" speed="1Gf"/><link id="l" bandwidth="1Gbps" latency="1us"/><route src="node-0" dst="node-1"><link_ctn id="l2"/></route></zone></platform>)");
        auto err = sim::validatePlatformXml(dir.filePath("one.xml").toStdString());
        QVERIFY(err.has_value());
        QVERIFY2(err->find("one.xml:1: SimGrid cannot load it: Link not found: l2") != std::string::npos, err->c_str());
        writeFile(dir.filePath("nodoctype.xml"), "<?xml version='1.0'?>\n<platform version=\"4.1\">\n"
                                                 "<zone id=\"z\" routing=\"Full\"><host id=\"a\" speed=\"1Gf\"/></zone>\n"
                                                 "</platform>\n");
        err = sim::validatePlatformXml(dir.filePath("nodoctype.xml").toStdString());
        QVERIFY(err.has_value());
        QVERIFY2(err->find("nodoctype.xml:2:") != std::string::npos && err->find("<!DOCTYPE platform") != std::string::npos,
                 err->c_str());
        QCOMPARE(sim::validatePlatformXml(DMLSIM_SOURCE_DIR "/scenarios/platforms/cluster-8.xml"), std::nullopt);
        // A file nobody writes to (a FIFO) would block SimGrid's parser for ever: the child is killed at the timeout.
        const QString fifo = dir.filePath("stuck.xml");
        QCOMPARE(mkfifo(fifo.toLocal8Bit().constData(), 0600), 0);
        QElapsedTimer clock;
        clock.start();
        err = sim::validatePlatformXml(fifo.toStdString(), 1);
        QVERIFY(err.has_value());
        QVERIFY2(err->find("stuck.xml: SimGrid took more than 1 s to load it") != std::string::npos, err->c_str());
        QVERIFY(clock.elapsed() < 10000);
    }

    /// Multi-accelerator nodes (platform.node) on every topology that takes them, under the parameter server (its
    /// server a leaf of its own) and the hierarchical all-reduce: `platform` lists the node links, `run` finishes and
    /// is stored. SimGrid 3.32's torus once found no route from a host leaf to a node zone (platform.cpp).
    void nodesRunOnEveryTopology()
    {
        QTemporaryDir dir;
        const QString db = dir.filePath("runs.sqlite");
        const std::vector<std::string> platforms = {
            R"("topology": "star")", R"("topology": "fat-tree", "topology_parameters": "2;4,4;1,2;1,2")",
            R"("topology": "torus", "topology_parameters": "3,3")",
            R"("topology": "dragonfly", "topology_parameters": "2,1;2,1;2,1;2")"};
        int runs = 0;
        for (const std::string& topo : platforms)
            for (const char* strategy : {R"({"type": "sync-ps"})",
                                         R"({"type": "ring-allreduce", "collective": "hierarchical"})"}) {
                writeFile(dir.filePath("n.json"),
                          scenarioWith("{" + topo + R"(, "workers": 8, "worker_speed": "a100", "node": {"gpus": 4}})",
                                       strategy)
                              .c_str());
                const CliResult p = runCli("platform", dir.filePath("n.json"), db);
                QVERIFY2(p.exitCode == 0, qPrintable(QString::fromStdString(topo) + ": " + p.err));
                QVERIFY2(p.out.contains("worker-7_node-link") && p.out.contains("300.00 GB/s"),
                         qPrintable(p.out));
                if (topo == platforms.front() && std::string(strategy).find("sync-ps") != std::string::npos) {
                    // Inside a node over the two accelerators' links; to the server over the node's interface,
                    // the backbone and the server's (once a host of a nested zone took the star's route table).
                    QVERIFY2(p.out.contains("worker-0 -> worker-1: worker-0_node-link, worker-1_node-link  "),
                             qPrintable(p.out));
                    QVERIFY2(p.out.contains("worker-1 -> server: worker-1_node-link, node-0_link, backbone, "
                                            "server_link, server_node-link  "),
                             qPrintable(p.out));
                }
                const CliResult r = runCli("run", dir.filePath("n.json"), db);
                QVERIFY2(r.exitCode == 0, qPrintable(QString::fromStdString(topo) + " " + strategy + ": " + r.err));
                QCOMPARE(runsIn(db), ++runs);
            }
    }

    /// Issue 18's reproducers through the CLI: exit code 2 with the field (and the file and line), for run and
    /// platform, and no run left in the store. The control scenario runs and is stored, so the checks can fail.
    void cliRefusesCrashingShapesAndBadXml()
    {
        QTemporaryDir dir;
        const QString db = dir.filePath("runs.sqlite");
        writeFile(dir.filePath("good.xml"), (std::string(kDoctype) + "<platform version=\"4.1\">\n"
                                             R"(<cluster id="c" prefix="node-" radical="0-3" suffix="" speed="1Gf" )"
                                             R"(bw="10Gbps" lat="10us"/>)" "\n</platform>\n").c_str());
        writeFile(dir.filePath("good.json"), xmlScenario("good.xml").c_str());
        for (const QString cmd : {"platform", "run"}) {
            const CliResult r = runCli(cmd, dir.filePath("good.json"), db);
            QVERIFY2(r.exitCode == 0, qPrintable(cmd + ": " + r.err));
        }
        QCOMPARE(runsIn(db), 1);
        QFile::remove(db);

        struct Case {
            const char* name;
            const char* xml; // written to bad.xml when not null
            std::string scenario;
            const char* field;
            const char* message;
        };
        const std::string cluster = std::string(kDoctype) + "<platform version=\"4.1\">\n"
                                    R"(<cluster id="c" prefix="node-" radical="0-3" suffix="" speed="1Gf" lat="10us" )";
        const std::string bwz = cluster + "bw=\"10Gbpz\"/>\n</platform>\n";
        const std::string negative = cluster + "bw=\"-10Gbps\"/>\n</platform>\n";
        const std::string duplicate = std::string(kDoctype) + "<platform version=\"4.1\"><zone id=\"w\" routing=\"Full\">\n"
            R"(<cluster id="c" prefix="node-" radical="0-3" suffix="" speed="1Gf" bw="1Gbps" lat="10us"/>)" "\n"
            R"(<cluster id="d" prefix="node-" radical="0-3" suffix="" speed="1Gf" bw="1Gbps" lat="10us"/>)" "\n"
            "</zone></platform>\n";
        const std::string oneLine =
            "<?xml version='1.0'?><!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">"
            R"(<platform version="4.1"><cluster id="c" prefix="node-" radical="0-3" suffix="" speed="1Gf" bw="1Gbps" lat="10us" loopback_bw="1Gbpz"/></platform>)";
        const std::vector<Case> cases = {
            {"dragonfly", nullptr,
             scenarioWith(R"({"topology": "dragonfly", "topology_parameters": "8,1;1,1;1,1;8", "workers": 8})"),
             "platform.topology_parameters", "needs at least 8 routers per chassis"},
            {"bad unit", bwz.c_str(), xmlScenario("bad.xml"), "platform.xml.file", "bad.xml:4: SimGrid cannot load it: unknown unit: Gbpz"},
            {"negative bandwidth", negative.c_str(), xmlScenario("bad.xml"), "platform.xml.file",
             "bad.xml:4: link \"c_link_0\": bandwidth -1.25e+09 bytes/s"},
            {"duplicate hosts", duplicate.c_str(), xmlScenario("bad.xml"), "platform.xml.file",
             "bad.xml:5: SimGrid cannot load it: Refusing to create a second host named 'node-0'"},
            {"one line", oneLine.c_str(), xmlScenario("bad.xml"), "platform.xml.file",
             "bad.xml:1: SimGrid cannot load it: unknown unit: Gbpz"},
        };
        for (const Case& c : cases) {
            if (c.xml)
                writeFile(dir.filePath("bad.xml"), c.xml);
            writeFile(dir.filePath("s.json"), c.scenario.c_str());
            for (const QString cmd : {"platform", "run"}) {
                const CliResult r = runCli(cmd, dir.filePath("s.json"), db);
                const QString what = QString("%1, %2: exit %3: %4").arg(c.name, cmd).arg(r.exitCode).arg(r.err);
                QVERIFY2(r.exitCode == 2, qPrintable(what));
                QVERIFY2(r.err.contains(c.field) && r.err.contains(c.message), qPrintable(what));
            }
            QVERIFY2(runsIn(db) == 0, c.name);
        }
    }
};

QTEST_GUILESS_MAIN(TestPlatform)
#include "tst_platform.moc"
