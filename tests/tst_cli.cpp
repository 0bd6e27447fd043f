// SPDX-License-Identifier: GPL-3.0-or-later
// `dmlsim run` / `dmlsim runs` as a user (and the GUI) drive them: child processes, exit codes, the store.
#include "runstore.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <csignal>

using namespace dml::app;

namespace {

const char* kTiny = R"json({
  "name": "tiny",
  "seed": 5,
  "platform": { "workers": 3, "worker_speed": "1Gf", "link_bandwidth": "1Gbps", "link_latency": "10us" },
  "workload": {
    "dataset": { "name": "synthetic", "classes": 3, "features": 8, "train_samples": 300, "test_samples": 60 },
    "model": { "type": "mlp", "hidden": [8] },
    "batch_size": 10,
    "optimizer": { "type": "sgd", "learning_rate": 0.1 }
  },
  "strategy": { "type": "sync-ps" },
  "run": { "epochs": 2, "eval_interval": 5 }
})json";

struct Result {
    int exitCode = -1;
    QByteArray out, err;
};

Result dmlsim(const QStringList& args)
{
    QProcess p;
    p.start(DMLSIM_EXE, args);
    if (!p.waitForFinished(120000))
        qFatal("dmlsim %s did not finish", qPrintable(args.join(' ')));
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, p.readAllStandardOutput(),
            p.readAllStandardError()};
}

QString writeFile(const QTemporaryDir& dir, const QString& name, const QByteArray& text)
{
    QFile f(dir.filePath(name));
    if (!f.open(QIODevice::WriteOnly))
        qFatal("cannot write %s", qPrintable(f.fileName()));
    f.write(text);
    return f.fileName();
}

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
        const QJsonObject event = QJsonDocument::fromJson(s.out.trimmed()).object();
        QCOMPARE(event["event"].toString(), QString("error"));
        QCOMPARE(event["path"].toString(), path);
        QVERIFY(event["message"].toString().contains(expected));
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
        }
        QCOMPARE(events.first(), QString("started"));
        // 300 samples / 3 workers / batch 10 = 10 steps per epoch, 20 in all: samples at steps 0, 5, 10, 15, 20.
        QCOMPARE(events.count("sample"), 5);
        QCOMPARE(events.mid(events.size() - 2), (QStringList{"host_stats", "summary"}));
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
