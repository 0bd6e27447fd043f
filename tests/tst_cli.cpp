// SPDX-License-Identifier: GPL-3.0-or-later
// `dmlsim run` / `dmlsim runs` as a user (and the GUI) drive them: child processes, exit codes, the store.
#include "buildinfo.h"
#include "runstore.h"
#include "scenario.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <sqlite3.h>

#include "testutil.h"

#include <algorithm>
#include <csignal>
#include <numeric>

using namespace dml::app;

using namespace dml::test;

namespace {

QByteArray replaced(QByteArray text, const QByteArray& from, const QByteArray& to)
{
    if (!text.contains(from))
        qFatal("'%s' not found", from.constData());
    return text.replace(from, to);
}

} // namespace

class TestCli : public QObject {
    Q_OBJECT
private slots:
    void sameSeedSameSummary()
    {
        // The shipped quickstart, twice: everything but the run id and the wall time is bit-identical.
        QTemporaryDir dir;
        const QString db = dir.filePath("runs.sqlite");
        QJsonObject summaries[2];
        for (auto& s : summaries) {
            const Result r = dmlsim({"run", DMLSIM_SOURCE_DIR "/scenarios/quickstart.json", "--db", db, "--json"});
            QVERIFY2(r.exitCode == 0, r.err.constData());
            s = QJsonDocument::fromJson(r.out).object();
            QVERIFY(s.contains("final_accuracy"));
            s.remove("run_id");
            s.remove("wall_time");
        }
        QCOMPARE(summaries[0], summaries[1]);
        QVERIFY(summaries[0]["final_accuracy"].toDouble() >= 0.85);
        QCOMPARE(summaries[0]["hosts"].toArray().size(), 9);

        RunStore store(db.toStdString());
        const auto runs = store.runs();
        QCOMPARE(int(runs.size()), 2);
        QCOMPARE(store.samples(runs[0].id).size(), store.samples(runs[1].id).size());
        QCOMPARE(runs[1].status, std::string("finished"));
        QCOMPARE(runs[1].seed, std::uint64_t(42));
        QVERIFY(runs[1].scenarioText.find("\"quickstart") != std::string::npos ||
                runs[1].scenarioText.find("Quickstart") != std::string::npos);
    }

    void badInputLeavesNothingInTheStore_data()
    {
        QTest::addColumn<QByteArray>("from");
        QTest::addColumn<QByteArray>("to");
        QTest::addColumn<QString>("expected");
        QTest::addColumn<QString>("path");
        QTest::newRow("bad field") << QByteArray("\"batch_size\"") << QByteArray("\"batchsize\"")
                                   << "workload.batchsize: unknown key; did you mean \"batch_size\"?"
                                   << "workload.batchsize";
        QTest::newRow("negative bandwidth")
            << QByteArray("\"1Gbps\"") << QByteArray("\"-5Gbps\"")
            << "platform.link_bandwidth: expected a bandwidth such as \"10Gbps\" (greater than zero), got \"-5Gbps\""
            << "platform.link_bandwidth";
        QTest::newRow("missing dataset file")
            << QByteArray("{ \"name\": \"synthetic\", \"classes\": 3, \"features\": 8, \"train_samples\": 300, "
                          "\"test_samples\": 60 }")
            << QByteArray("{ \"name\": \"fashion-mnist\", \"path\": \"/nonexistent/fmnist\" }")
            << "dataset: /nonexistent/fmnist/train-images-idx3-ubyte.gz: file not found" << "workload.dataset";
        // Found once the platform is built (issue 18: `run` agrees with `dmlsim platform` that this is bad input).
        QTest::newRow("fault on no host")
            << QByteArray("\"seed\": 5,")
            << QByteArray("\"seed\": 5, \"faults\": {\"events\": [{\"time\": \"1s\", \"type\": \"crash\", "
                          "\"host\": \"nohost\"}]},")
            << "faults.events[0].host: \"nohost\" matches no host of the platform" << "faults.events[0].host";
        QTest::newRow("fault the strategy cannot survive")
            << QByteArray("\"seed\": 5,")
            << QByteArray("\"seed\": 5, \"faults\": {\"events\": [{\"time\": \"1s\", \"type\": \"crash\", "
                          "\"host\": \"server\"}]},")
            << "faults.events[0]: crashing host \"server\" stops a server" << "faults.events[0]";
    }
    void badInputLeavesNothingInTheStore()
    {
        QFETCH(QByteArray, from);
        QFETCH(QByteArray, to);
        QFETCH(QString, expected);
        QFETCH(QString, path);
        QTemporaryDir dir;
        const QString db = dir.filePath("runs.sqlite");
        const QString scenario = writeFile(dir, "bad.json", replaced(kTiny, from, to));
        const Result r = dmlsim({"run", scenario, "--db", db});
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(QString(r.err).contains(expected), r.err.constData());
        QVERIFY(!QFile::exists(db) || RunStore(db.toStdString()).runs().empty());

        // The same through the GUI's protocol: one error event naming the path.
        const Result s = dmlsim({"run", scenario, "--db", db, "--stream"});
        QCOMPARE(s.exitCode, 2);
        // (after a "started" event when the platform had to be built to find the error)
        const QJsonObject event = QJsonDocument::fromJson(s.out.trimmed().split('\n').last()).object();
        QCOMPARE(event["event"].toString(), QString("error"));
        QCOMPARE(event["path"].toString(), path);
        QVERIFY(event["message"].toString().contains(expected));
        QVERIFY(!QFile::exists(db) || RunStore(db.toStdString()).runs().empty());
    }

    void streamProtocol()
    {
        QTemporaryDir dir;
        const Result r = dmlsim({"run", writeFile(dir, "tiny.json", kTiny), "--db", dir.filePath("r.sqlite"),
                                 "--stream"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const QList<QByteArray> lines = r.out.trimmed().split('\n');
        QStringList events;
        QJsonObject sample;
        int spans = 0;
        for (const QByteArray& line : lines) {
            QJsonParseError e;
            const QJsonObject o = QJsonDocument::fromJson(line, &e).object();
            QVERIFY2(e.error == QJsonParseError::NoError, line.constData());
            events << o["event"].toString();
            if (events.back() == "sample" && events.count("sample") == 2)
                sample = o;
            if (events.back() == "spans")
                spans += int(o["spans"].toArray().size());
            if (events.back() == "label_histogram") { // 3 IID shards of 100 samples over 3 classes
                const QJsonArray counts = o["counts"].toArray();
                QCOMPARE(counts.size(), 3);
                int total = 0;
                for (const auto& row : counts)
                    for (const auto& c : row.toArray())
                        total += c.toInt();
                QCOMPARE(total, 300);
            }
        }
        QCOMPARE(events.first(), QString("started"));
        QCOMPARE(events.count("label_histogram"), 1);
        // 300 samples / 3 workers / batch 10 = 10 steps per epoch, 20 in all: samples at steps 0, 5, 10, 15, 20.
        QCOMPARE(events.count("sample"), 5);
        QCOMPARE(events.last(), QString("summary"));
        QVERIFY(events.indexOf("host_stats") > events.lastIndexOf("sample")); // statistics come after training
        for (const char* key : {"time", "step", "epoch", "train_loss", "test_loss", "test_accuracy"})
            QVERIFY2(sample.contains(key), key);
        // Timeline: per step, each of 3 workers computes, sends and receives (9); the server receives 3, computes
        // and sends 3 (7). Before the first step the server sends the initial model: 3 sends, 3 receives.
        QCOMPARE(spans, 20 * (9 + 7) + 3 + 3);
    }

    void runsListsStatus()
    {
        QTemporaryDir dir;
        const QString db = dir.filePath("r.sqlite");
        QCOMPARE(dmlsim({"run", writeFile(dir, "tiny.json", kTiny), "--db", db}).exitCode, 0);
        const Result r = dmlsim({"runs", "--db", db, "--json"});
        QCOMPARE(r.exitCode, 0);
        const QJsonArray runs = QJsonDocument::fromJson(r.out).array();
        QCOMPARE(runs.size(), 1);
        QCOMPARE(runs[0]["status"].toString(), QString("finished"));
        QCOMPARE(runs[0]["name"].toString(), QString("tiny"));
        const Result table = dmlsim({"runs", "--db", db});
        QVERIFY(table.out.contains("finished"));
    }

    void storeRecordsTheBuild()
    {
        // The build string (version, compiler, instruction set, build type, portable or not) goes with every
        // run: into the store, `runs --json`, `run --json`, the stream's started event and `--version`.
        const std::string build = buildString();
        for (const char* field : {"version=", "; compiler=", "; isa=", "; build_type=", "; portable=", "; eigen="})
            QVERIFY2(build.find(field) != std::string::npos, field);
        const Result version = dmlsim({"--version"});
        QCOMPARE(version.exitCode, 0);
        QVERIFY2(version.out.contains(QByteArray("\nbuild: ") + build.c_str() + "\n"), version.out.constData());

        QTemporaryDir dir;
        const QString db = dir.filePath("r.sqlite"), tiny = writeFile(dir, "tiny.json", kTiny);
        const Result stream = dmlsim({"run", tiny, "--db", db, "--stream"});
        QCOMPARE(stream.exitCode, 0);
        const QJsonObject started = QJsonDocument::fromJson(stream.out.left(stream.out.indexOf('\n'))).object();
        QCOMPARE(started["event"].toString(), QString("started"));
        QCOMPARE(started["build"].toString().toStdString(), build);
        const Result json = dmlsim({"run", tiny, "--db", db, "--json"});
        QCOMPARE(json.exitCode, 0);
        QCOMPARE(QJsonDocument::fromJson(json.out).object()["build"].toString().toStdString(), build);

        for (const RunRecord& r : RunStore(db.toStdString()).runs())
            QCOMPARE(r.build, build);
        const QJsonArray runs = QJsonDocument::fromJson(dmlsim({"runs", "--db", db, "--json"}).out).array();
        QCOMPARE(runs.size(), 2);
        QCOMPARE(runs[1]["build"].toString().toStdString(), build);
    }

    void storeKeepsEveryField()
    {
        // Every Summary and HostStats field, written by finishRun and read back, with values that tell the
        // columns apart.
        QTemporaryDir dir;
        RunStore store(dir.filePath("r.sqlite").toStdString());
        Scenario sc;
        sc.name = "fields";
        sc.text = "{}";
        const long long id = store.beginRun(sc, "sync-ps", "0.0.0", "a build");
        dml::sim::SimulationResult r;
        dml::Summary& s = r.summary;
        s.finalAccuracy = 0.5;
        s.finalTestLoss = 1.5;
        s.bestAccuracy = 0.625;
        s.simulatedTime = 12.25;
        s.targetAccuracy = 0.4;
        s.timeToTarget = 3.5;
        s.communicationOverhead = 0.25;
        s.utilization = 0.75;
        s.bytesOnWire = 1e9;
        s.bytesLost = 2048;
        s.accuracySimulated = true;
        s.stalenessMean = 1.5;
        s.stalenessMax = 4;
        s.steps = 77;
        s.epochs = 2.5;
        s.evalIntervalEpochs = 0.25;
        s.epochsPerStep = 0.0125;
        s.evalNote = "one round covers 1.00 epochs";
        s.partitionParts = 8;
        s.partitionSizeMin = 7000;
        s.partitionSizeMax = 8000;
        s.partitionLabelSkew = 0.375;
        s.partitionLargestClassShare = 0.875;
        s.stopReason = "max_steps";
        s.compressor = "topk 1% + EF";
        s.uncompressedBytes = 4e9;
        s.compressedBytes = 8e7;
        s.codecSeconds = 0.125;
        s.localSteps = 8;
        s.privacy = "dp-fedavg z=1 C=0.5";
        s.epsilon = 3.25;
        s.delta = 1e-5;
        dml::HostStats h;
        h.name = "worker-0";
        h.role = "worker";
        h.speed = 1e10;
        h.elapsed = 11;
        h.finish = 12;
        h.compute = 4;
        h.communication = 5;
        h.idle = 2;
        h.bytesSent = 100;
        h.bytesReceived = 200;
        h.bytesLost = 300;
        h.flops = 4e10;
        r.hosts = {h};
        store.finishRun(id, r, 0.5);

        const RunRecord rec = store.run(id);
        QCOMPARE(rec.build, std::string("a build"));
        QCOMPARE(rec.version, std::string("0.0.0"));
        QCOMPARE(rec.wallTime, 0.5);
        const dml::Summary& t = rec.summary;
        QCOMPARE(t.finalAccuracy, s.finalAccuracy);
        QCOMPARE(t.finalTestLoss, s.finalTestLoss);
        QCOMPARE(t.bestAccuracy, s.bestAccuracy);
        QCOMPARE(t.simulatedTime, s.simulatedTime);
        QCOMPARE(t.targetAccuracy, s.targetAccuracy);
        QCOMPARE(t.timeToTarget, s.timeToTarget);
        QCOMPARE(t.communicationOverhead, s.communicationOverhead);
        QCOMPARE(t.utilization, s.utilization);
        QCOMPARE(t.bytesOnWire, s.bytesOnWire);
        QCOMPARE(t.bytesLost, s.bytesLost);
        QCOMPARE(t.accuracySimulated, s.accuracySimulated);
        QCOMPARE(t.stalenessMean, s.stalenessMean);
        QCOMPARE(t.stalenessMax, s.stalenessMax);
        QCOMPARE(t.steps, s.steps);
        QCOMPARE(t.epochs, s.epochs);
        QCOMPARE(t.evalIntervalEpochs, s.evalIntervalEpochs);
        QCOMPARE(t.epochsPerStep, s.epochsPerStep);
        QCOMPARE(t.evalNote, s.evalNote);
        QCOMPARE(t.partitionParts, s.partitionParts);
        QCOMPARE(t.partitionSizeMin, s.partitionSizeMin);
        QCOMPARE(t.partitionSizeMax, s.partitionSizeMax);
        QCOMPARE(t.partitionLabelSkew, s.partitionLabelSkew);
        QCOMPARE(t.partitionLargestClassShare, s.partitionLargestClassShare);
        QCOMPARE(t.stopReason, s.stopReason);
        QCOMPARE(t.compressor, s.compressor);
        QCOMPARE(t.uncompressedBytes, s.uncompressedBytes);
        QCOMPARE(t.compressedBytes, s.compressedBytes);
        QCOMPARE(t.codecSeconds, s.codecSeconds);
        QCOMPARE(t.localSteps, s.localSteps);
        QCOMPARE(t.privacy, s.privacy);
        QCOMPARE(t.epsilon, s.epsilon);
        QCOMPARE(t.delta, s.delta);

        const std::vector<dml::HostStats> hosts = store.hostStats(id);
        QCOMPARE(int(hosts.size()), 1);
        const dml::HostStats& g = hosts[0];
        QCOMPARE(g.name, h.name);
        QCOMPARE(g.role, h.role);
        QCOMPARE(g.speed, h.speed);
        QCOMPARE(g.elapsed, h.elapsed);
        QCOMPARE(g.finish, h.finish);
        QCOMPARE(g.compute, h.compute);
        QCOMPARE(g.communication, h.communication);
        QCOMPARE(g.idle, h.idle);
        QCOMPARE(g.bytesSent, h.bytesSent);
        QCOMPARE(g.bytesReceived, h.bytesReceived);
        QCOMPARE(g.bytesLost, h.bytesLost);
        QCOMPARE(g.flops, h.flops);
    }

    void storeUpgradesSchemaTwo()
    {
        // A store written by the previous schema (version 2: no compression columns) is upgraded in place when
        // opened; its runs read as uncompressed and new runs keep their compression figures.
        QTemporaryDir dir;
        const std::string file = dir.filePath("v2.sqlite").toStdString();
        long long old = 0;
        {
            RunStore store(file);
            Scenario sc;
            sc.name = "old";
            sc.text = "{}";
            old = store.beginRun(sc, "sync-ps", "0.0.0", "a build");
            store.finishRun(old, dml::sim::SimulationResult{}, 0.5);
        }
        sqlite3* h = nullptr;
        QCOMPARE(sqlite3_open(file.c_str(), &h), SQLITE_OK);
        for (const char* col : {"compressor", "uncompressed_bytes", "compressed_bytes", "codec_seconds", "local_steps", "privacy",
                                "epsilon", "delta", "failures", "restarts", "lost_steps", "lost_compute_seconds",
                                "recovery_seconds", "checkpoints", "checkpoint_seconds", "goodput", "secure_aggregation",
                                "secagg_seconds", "secagg_bytes", "secagg_failed_rounds"})
            QCOMPARE(sqlite3_exec(h, (std::string("ALTER TABLE runs DROP COLUMN ") + col).c_str(), nullptr, nullptr,
                                  nullptr), SQLITE_OK);
        QCOMPARE(sqlite3_exec(h, "UPDATE meta SET value = '2' WHERE key = 'schema_version'", nullptr, nullptr, nullptr),
                 SQLITE_OK);
        sqlite3_close(h);

        RunStore store(file);
        const RunRecord before = store.run(old);
        QCOMPARE(before.name, std::string("old"));
        QCOMPARE(before.summary.compressor, std::string("none"));
        QCOMPARE(before.summary.localSteps, 1);
        QCOMPARE(before.summary.privacy, std::string("none"));
        QCOMPARE(before.summary.epsilon, -1.0);
        QCOMPARE(before.summary.failures, 0); // version 3 -> 4 (issue 11) too
        QCOMPARE(before.summary.goodput, -1.0);
        QCOMPARE(before.summary.secureAggregation, std::string("none")); // version 4 -> 5 (issue 12)
        Scenario sc;
        sc.name = "new";
        sc.text = "{}";
        const long long id = store.beginRun(sc, "sync-ps", "0.0.0", "a build");
        dml::sim::SimulationResult r;
        r.summary.compressor = "qsgd 8-bit";
        r.summary.compressedBytes = 1e6;
        r.summary.failures = 2;
        r.summary.lostSteps = 17;
        r.summary.goodput = 0.25;
        r.summary.secureAggregation = "secagg 32-bit t=7";
        r.summary.secAggSeconds = 1.5;
        r.summary.secAggFailedRounds = 3;
        store.finishRun(id, r, 0.5);
        QCOMPARE(store.run(id).summary.secureAggregation, std::string("secagg 32-bit t=7"));
        QCOMPARE(store.run(id).summary.secAggSeconds, 1.5);
        QCOMPARE(store.run(id).summary.secAggFailedRounds, 3L);
        QCOMPARE(store.run(id).summary.failures, 2);
        QCOMPARE(store.run(id).summary.lostSteps, 17L);
        QCOMPARE(store.run(id).summary.goodput, 0.25);
        QCOMPARE(store.run(id).summary.compressor, std::string("qsgd 8-bit"));
        QCOMPARE(store.run(id).summary.compressedBytes, 1e6);
        // A version this program does not know is refused, naming both versions.
        QCOMPARE(sqlite3_open(file.c_str(), &h), SQLITE_OK);
        sqlite3_exec(h, "UPDATE meta SET value = '9' WHERE key = 'schema_version'", nullptr, nullptr, nullptr);
        sqlite3_close(h);
        try {
            RunStore again(file);
            QFAIL("a version-9 store was opened");
        } catch (const StoreError& e) {
            QVERIFY2(QString(e.what()).contains("schema version 9, this program reads version 5"), e.what());
        }
    }

    void killedRunLeavesStoreConsistent()
    {
        QTemporaryDir dir;
        const QString db = dir.filePath("r.sqlite");
        QProcess p;
        p.start(DMLSIM_EXE, {"run", DMLSIM_SOURCE_DIR "/scenarios/quickstart.json", "--db", db, "--stream"});
        // Wait for the first sample: the run row exists and the simulation is under way.
        QByteArray seen;
        while (!seen.contains("\"sample\"") && p.waitForReadyRead(30000))
            seen += p.readAllStandardOutput();
        QVERIFY(seen.contains("\"sample\""));
        ::kill(pid_t(p.processId()), SIGKILL);
        p.waitForFinished();

        RunStore store(db.toStdString());
        const auto runs = store.runs();
        QCOMPARE(int(runs.size()), 1);
        QCOMPARE(runs[0].status, std::string("running"));
        QVERIFY(runs[0].interrupted);
        QVERIFY(store.samples(runs[0].id).empty()); // nothing half-written
        const Result list = dmlsim({"runs", "--db", db});
        QVERIFY(list.out.contains("interrupted"));
    }

    void runControlOnStdin()
    {
        // pause, step, pace and stop, as the workbench sends them to its child runs.
        QTemporaryDir dir;
        const QString db = dir.filePath("r.sqlite");
        QProcess p;
        p.start(DMLSIM_EXE, {"run", DMLSIM_SOURCE_DIR "/scenarios/quickstart.json", "--db", db, "--stream"});
        QByteArray out;
        auto waitFor = [&](const QByteArray& what) {
            while (!out.contains(what) && p.waitForReadyRead(30000))
                out += p.readAllStandardOutput();
            return out.contains(what);
        };
        auto pausedSteps = [&] {
            QList<long> steps;
            for (const QByteArray& line : out.split('\n')) {
                const QJsonObject o = QJsonDocument::fromJson(line).object();
                if (o["event"] == "state" && o["state"] == "paused")
                    steps << long(o["step"].toDouble());
            }
            return steps;
        };
        QVERIFY(waitFor("\"sample\""));
        p.write("pause\n");
        QVERIFY(waitFor("\"paused\""));
        const long first = pausedSteps().first();
        QTest::qWait(300);
        out += p.readAllStandardOutput();
        QCOMPARE(pausedSteps().size(), 1); // paused means paused: no progress without a command
        p.write("step\n");
        while (pausedSteps().size() < 2 && p.waitForReadyRead(30000))
            out += p.readAllStandardOutput();
        QCOMPARE(pausedSteps().value(1), first + 1); // exactly one more global step
        p.write("pace 0.5\nresume\n");              // half a simulated second per wall second: slow
        QTest::qWait(400);
        p.write("stop\n");
        QVERIFY(p.waitForFinished(30000));
        out += p.readAllStandardOutput();
        QCOMPARE(p.exitCode(), 0);
        const QJsonObject summary = QJsonDocument::fromJson(out.trimmed().split('\n').last()).object();
        QCOMPARE(summary["event"].toString(), QString("summary"));
        QCOMPARE(summary["stop_reason"].toString(), QString("stopped"));
        // Paced at 0.5 for ~0.4 s wall: well under a simulated second more than where it paused.
        QVERIFY2(summary["simulated_time"].toDouble() < 1.5, qPrintable(QString::number(summary["simulated_time"].toDouble())));
        RunStore store(db.toStdString());
        QCOMPARE(store.runs().at(0).status, std::string("finished"));
        QCOMPARE(store.runs().at(0).summary.stopReason, std::string("stopped"));
    }

    void compareStrategiesScenario()
    {
        // Issue acceptance: on the shipped comparison (IID Fashion-MNIST) every strategy reaches 0.84, and
        // federated averaging on Dirichlet(0.1) data visibly loses accuracy.
        QTemporaryDir dir;
        const QString db = dir.filePath("c.sqlite");
        // Five full trainings (45 s on a loaded 2-core machine in Release, over 8 minutes under ASan): 10 minutes,
        // x DMLSIM_TEST_TIME_SCALE.
        const Result r = dmlsim({"compare", DMLSIM_SOURCE_DIR "/scenarios/compare-strategies.json", "--db", db,
                                 "--jobs", "2", "--json"},
                                {}, {}, 600);
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const QJsonArray runs = QJsonDocument::fromJson(r.out).array();
        QCOMPARE(runs.size(), 5);
        QMap<QString, QJsonObject> by;
        for (const auto& v : runs)
            by[v.toObject()["label"].toString()] = v.toObject();
        for (const char* label : {"sync-ps", "async-ps", "ring-allreduce", "fedavg"})
            QVERIFY2(by[label]["final_accuracy"].toDouble() >= 0.84,
                     qPrintable(QString("%1: %2").arg(label).arg(by[label]["final_accuracy"].toDouble())));
        QVERIFY(by["fedavg-dirichlet-0.1"]["final_accuracy"].toDouble() <
                by["fedavg"]["final_accuracy"].toDouble() - 0.05);
        QVERIFY(by["async-ps"]["staleness_mean"].toDouble() > 0);         // only the asynchronous server
        QVERIFY(by["sync-ps"]["staleness_mean"].isNull());
        QVERIFY(by["fedavg"]["bytes_on_wire"].toDouble() < by["sync-ps"]["bytes_on_wire"].toDouble() / 50);
        RunStore store(db.toStdString());
        QCOMPARE(int(store.runs().size()), 5);
        // The stored label histograms show the skew: the mean share of each client's most common class.
        auto topShare = [&](long long id) {
            const auto h = store.labelHistogram(id);
            double sum = 0;
            for (const auto& row : h) {
                const double n = std::accumulate(row.begin(), row.end(), 0.0);
                sum += n > 0 ? *std::max_element(row.begin(), row.end()) / n : 0;
            }
            return h.empty() ? -1.0 : sum / double(h.size());
        };
        for (const auto& run : store.runs()) {
            QCOMPARE(run.status, std::string("finished"));
            QVERIFY2(run.name.find(" [") != std::string::npos, run.name.c_str()); // named after the variant
            QCOMPARE(int(store.labelHistogram(run.id).size()), 8);
            if (run.name.find("[fedavg-dirichlet-0.1]") != std::string::npos)
                QVERIFY2(topShare(run.id) > 0.5, qPrintable(QString::number(topShare(run.id))));
            else
                QVERIFY2(topShare(run.id) < 0.15, qPrintable(QString::number(topShare(run.id))));
        }

        // A bad patch is reported with its label and path before anything runs.
        QFile f(DMLSIM_SOURCE_DIR "/scenarios/compare-strategies.json");
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QByteArray text = f.readAll().replace("\"local_epochs\": 1 } } },", "\"local_epochs\": 0 } } },");
        const QString bad = writeFile(dir, "bad.json", text);
        const Result b = dmlsim({"compare", bad, "--db", dir.filePath("b.sqlite")});
        QCOMPARE(b.exitCode, 2);
        QVERIFY2(b.err.contains("[fedavg]: strategy.local_epochs: expected an integer"), b.err.constData());
        QVERIFY(!QFile::exists(dir.filePath("b.sqlite")));
    }

    /// Issue 17: a scenario with two jobs runs them together, stores each as a run of its own and the two as a group,
    /// places a job on its hosts, and refuses overlapping hosts (nothing stored) and --stream.
    void jobsRunTogether()
    {
        const QByteArray text = R"json({"name": "two", "seed": 3,
          "platform": {"topology": "fat-tree", "topology_parameters": "2;4,2;1,2;1,1", "workers": 3,
                       "worker_speed": "1Gf", "network_model": "ideal"},
          "workload": {"dataset": {"name": "synthetic", "classes": 3, "features": 8, "train_samples": 240,
                                   "test_samples": 60},
                       "model": {"type": "mlp", "hidden": [8]}, "batch_size": 10},
          "strategy": {"type": "sync-ps"}, "run": {"epochs": 1},
          "jobs": [{"name": "a", "hosts": "4-7"},
                   {"name": "b", "start": "2s", "strategy": {"type": "ring-allreduce"}}]})json";
        QTemporaryDir dir;
        const QString db = dir.filePath("runs.sqlite"), file = writeFile(dir, "jobs.json", text);
        const Result r = dmlsim({"run", file, "--db", db, "--json"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const QJsonObject o = QJsonDocument::fromJson(r.out).object();
        const QJsonArray jobs = o["jobs"].toArray();
        QCOMPARE(jobs.size(), 2);
        QCOMPARE(jobs[0].toObject()["job"].toString(), QString("a"));
        QCOMPARE(jobs[1].toObject()["start"].toDouble(), 2.0);
        QCOMPARE(jobs[1].toObject()["strategy"].toString(), QString("ring-allreduce"));
        const double b = jobs[1].toObject()["simulated_time"].toDouble();
        QVERIFY(b > 0);
        QVERIFY2(o["combined"].toObject()["makespan"].toDouble() >= 2 + b - 1e-9, r.out.constData());
        QCOMPARE(o["group"].toString(), QString("jobs-1"));

        RunStore store(db.toStdString());
        const auto runs = store.runs();
        QCOMPARE(int(runs.size()), 2);
        QCOMPARE(runs[0].name, std::string("two / a"));
        QCOMPARE(runs[1].name, std::string("two / b"));
        QCOMPARE(runs[1].status, std::string("finished"));
        QCOMPARE(int(store.sweepRuns("jobs-1").size()), 2);
        // The report compares the jobs without ranking them: they are not alternatives.
        const Result rep = dmlsim({"report", "--db", db, "--sweep", "jobs-1", "--out", dir.filePath("jobs.html")});
        QVERIFY2(rep.exitCode == 0, rep.err.constData());
        const QByteArray said = rep.out + rep.err;
        QVERIFY2(said.contains("nothing is ranked") && !said.contains("Best:"), said.constData());
        const auto hosts = store.hostStats(runs[0].id);
        QCOMPARE(int(hosts.size()), 4);
        QCOMPARE(hosts.front().name, std::string("a/worker-0"));
        QVERIFY(!store.samples(runs[1].id).empty());
        QCOMPARE(store.samples(runs[1].id).front().time, 0.0); // b's own time starts at its start
        // A job's stored scenario runs on its own.
        QVERIFY(parseScenario(runs[1].scenarioText).jobs.empty());

        // Job a on hosts 4-7, job b on the first free ones: the platform's routes say so.
        const Result p = dmlsim({"platform", file, "--json", "-"});
        QVERIFY2(p.exitCode == 0, p.err.constData());
        QVERIFY2(p.out.contains("\"a/worker-0\"") && p.out.contains("\"node-3\""), p.out.left(2000).constData());

        // Overlapping hosts: refused before anything is stored.
        const QString bad = writeFile(dir, "bad.json", replaced(text, R"("name": "b", )", R"("name": "b", "hosts": "2-4", )"));
        const Result e = dmlsim({"run", bad, "--db", db});
        QCOMPARE(e.exitCode, 2);
        QVERIFY2(QString(e.err).contains("jobs[1].hosts: host 4 is job \"a\"'s too; jobs do not share hosts"),
                 e.err.constData());
        QCOMPARE(int(RunStore(db.toStdString()).runs().size()), 2);
        const Result st = dmlsim({"run", file, "--db", db, "--stream"});
        QCOMPARE(st.exitCode, 2);
        QVERIFY2(QString(st.err).contains("--stream and --tag do not take a scenario with jobs"), st.err.constData());
    }

    void platformGraph()
    {
        QTemporaryDir dir;
        const Result r = dmlsim({"platform", writeFile(dir, "tiny.json", kTiny), "--json", "-"});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const QJsonObject g = QJsonDocument::fromJson(r.out).object();
        int hosts = 0, links = 0;
        for (const auto& n : g["nodes"].toArray())
            (n.toObject()["kind"] == "host" ? hosts : links)++;
        QCOMPARE(hosts, 4);     // 3 workers + the server
        QCOMPARE(links, 5);     // a private link each + the backbone
        QCOMPARE(g["edges"].toArray().size(), 8); // host - its link - backbone
        const QJsonObject route = g["sample_routes"].toArray().first().toObject();
        QCOMPARE(route["links"].toArray().size(), 3);
        QCOMPARE(route["bandwidth"].toDouble(), 1.25e8); // 1 Gbps
        const Result dot = dmlsim({"platform", writeFile(dir, "tiny.json", kTiny), "--dot", "-"});
        QVERIFY(dot.out.startsWith("graph platform {"));
        QVERIFY(dot.out.contains("\"worker-0\" -- \"worker-0_link\""));
    }

    void helpNamesTheCommand()
    {
        // Issue 15: every subcommand's help shows "Usage: dmlsim <command>", never Qt's "<executable_name>", and the
        // sweep's help points at a real README section.
        for (const char* cmd : {"run", "runs", "compare", "platform", "sweep", "report", "merge", "trace"}) {
            const Result h = dmlsim({cmd, "--help"});
            QCOMPARE(h.exitCode, 0);
            QVERIFY2(h.out.contains(QByteArray("Usage: dmlsim ") + cmd + " "), h.out.constData());
            QVERIFY2(!h.out.contains("executable_name"), h.out.constData());
        }
        const Result sweep = dmlsim({"sweep", "--help"});
        QVERIFY(!sweep.out.contains("README-sweep.md"));
        QVERIFY2(sweep.out.contains("README \"The sweep file\""), sweep.out.constData());
        QVERIFY(dmlsim({"report", "--help"}).out.contains("--objective <name>"));
    }

    void bottleneckAndRunsTable()
    {
        // A ResNet-50-sized proxy on 4 workers of a star whose backbone (4 Gb/s) is slower than their links: ring
        // all-reduce saturates it. `run` names the bottleneck and warns; `runs` shows "-" for the proxy's accuracy
        // and aligns its columns.
        QTemporaryDir dir;
        const QString db = dir.filePath("b.sqlite");
        const QByteArray proxy = R"json({
          "name": "proxy", "seed": 1,
          "platform": {"workers": 4, "worker_speed": "100Tf", "link_bandwidth": "10Gbps", "link_latency": "5us",
                       "backbone_bandwidth": "4Gbps"},
          "workload": {"dataset": {"name": "none", "train_samples": 1000},
                       "model": {"type": "proxy", "parameters": 1000000, "forward_flops": "1Gf"}},
          "strategy": {"type": "ring-allreduce"},
          "run": {"epochs": 1, "max_steps": 3}
        })json";
        const Result r = dmlsim({"run", writeFile(dir, "proxy.json", proxy), "--db", db});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QVERIFY2(r.out.contains("  bottleneck                 link backbone (backbone, shared) "), r.out.constData());
        QVERIFY2(r.out.contains("  warning: shared link backbone (backbone) at "), r.out.constData());
        const Result j = dmlsim({"run", dir.filePath("proxy.json"), "--db", db, "--json"});
        const QJsonObject b = QJsonDocument::fromJson(j.out).object()["bottleneck"].toObject();
        QCOMPARE(b["name"].toString(), QString("backbone"));
        QVERIFY(b["shared"].toBool());
        QVERIFY(b["load"].toDouble() > 0.8);
        QCOMPARE(b["warnings"].toArray().size(), 1);
        QVERIFY(dmlsim({"run", writeFile(dir, "tiny.json", kTiny), "--db", db}).out.contains("final test accuracy"));

        const QList<QByteArray> lines = dmlsim({"runs", "--db", db}).out.trimmed().split('\n');
        QCOMPARE(lines.size(), 4);
        const qsizetype accEnd = lines[0].indexOf("accuracy") + 8, simEnd = lines[0].indexOf("simulated") + 9;
        for (int i = 1; i < 4; ++i) { // right-aligned numbers end under their headings
            QCOMPARE(lines[i].at(accEnd - 1) != ' ', true);
            QCOMPARE(lines[i].at(accEnd), ' ');
            QCOMPARE(lines[i].at(simEnd - 1) != ' ', true);
            QCOMPARE(lines[i].at(simEnd), ' ');
        }
        QCOMPARE(lines[1].mid(accEnd - 1, 1), QByteArray("-")); // the proxy: not simulated
        QVERIFY(lines[3].mid(0, accEnd).endsWith(" %"));        // tiny: a percentage
    }

    void unknownCommandAndHelp()
    {
        QCOMPARE(dmlsim({"frobnicate"}).exitCode, 2);
        const Result h = dmlsim({"run", "--help"});
        QCOMPARE(h.exitCode, 0);
        QVERIFY(h.out.contains("--stream"));
        QCOMPARE(dmlsim({"runs", "--help"}).exitCode, 0);
        QCOMPARE(dmlsim({"run"}).exitCode, 2);
    }
};

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"
