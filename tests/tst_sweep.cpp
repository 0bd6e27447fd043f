// SPDX-License-Identifier: GPL-3.0-or-later
// `dmlsim sweep` and `dmlsim merge` as users and schedulers drive them: validation, a 12-run grid with two jobs,
// resuming a killed sweep, shards from Slurm's environment, and an mpirun sweep merged back into one store.
#include "runstore.h"
#include "scenario.h"
#include "sweep.h"

#include <QDir>
#include <QElapsedTimer>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include <sqlite3.h>

#include "testutil.h"

#include <csignal>
#include <thread>
#include <atomic>
#include <map>
#include <set>
#include <tuple>
#include <unistd.h>

using namespace dml::app;

using namespace dml::test;

namespace {

// About 0.25 s of wall time per run: slow enough to kill a sweep between two runs.
const char* kSlow = R"json({
  "name": "slow",
  "seed": 5,
  "platform": { "workers": 3, "worker_speed": "1Gf", "link_bandwidth": "1Gbps", "link_latency": "10us" },
  "workload": {
    "dataset": { "name": "synthetic", "classes": 3, "features": 256, "train_samples": 20000, "test_samples": 60 },
    "model": { "type": "mlp", "hidden": [256] },
    "batch_size": 10,
    "optimizer": { "type": "sgd", "learning_rate": 0.1 }
  },
  "strategy": { "type": "sync-ps" },
  "run": { "epochs": 1 }
})json";

/// The only sweep in the store.
std::string onlySweep(RunStore& store)
{
    const auto sweeps = store.sweeps();
    if (sweeps.size() != 1)
        qFatal("expected one sweep, found %zu", sweeps.size());
    return sweeps.front().id;
}

/// (point, rep) -> what a run produced, for the finished runs of the store's sweep.
using Outcome = std::tuple<std::string, double, double, double, long, std::size_t>;
std::map<std::pair<int, int>, Outcome> outcomes(const QString& db)
{
    RunStore store(db.toStdString());
    std::map<std::pair<int, int>, Outcome> out;
    for (const SweepRunTag& t : store.sweepRuns(onlySweep(store))) {
        if (t.status != "finished")
            continue;
        const RunRecord r = store.run(t.runId);
        const bool fresh = out.emplace(std::pair{t.point, t.rep},
                                       Outcome{r.scenarioHash, r.summary.finalAccuracy, r.summary.simulatedTime,
                                               r.summary.bytesOnWire, r.summary.steps, store.samples(t.runId).size()})
                               .second;
        if (!fresh)
            qFatal("point %d rep %d finished twice", t.point, t.rep);
    }
    return out;
}

/// Sets the build string of every run of store `db`, as if another build of dmlsim had made them.
void setBuild(const QString& db, const char* build)
{
    sqlite3* h = nullptr;
    const std::string sql = std::string("UPDATE runs SET build = '") + build + "'";
    if (sqlite3_open(db.toUtf8().constData(), &h) != SQLITE_OK ||
        sqlite3_exec(h, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK)
        qFatal("%s: %s", qPrintable(db), sqlite3_errmsg(h));
    sqlite3_close(h);
}

} // namespace

class TestSweep : public QObject {
    Q_OBJECT
private slots:
    void validationNamesTheField_data()
    {
        QTest::addColumn<QByteArray>("sweep");
        QTest::addColumn<QString>("expected");
        QTest::newRow("bad value") << QByteArray(R"({"name": "s", "base": "tiny.json", "grid": {"platform.workers": [2, -1]}})")
                                   << "grid.platform.workers[1]: -1 gives an invalid scenario: platform.workers: "
                                      "expected an integer";
        QTest::newRow("unknown field")
            << QByteArray(R"({"name": "s", "base": "tiny.json", "grid": {"platform.wrokers": [2]}})")
            << "grid.platform.wrokers[0]: 2 gives an invalid scenario: platform.wrokers: unknown key; did you mean "
               "\"workers\"?";
        QTest::newRow("not a list") << QByteArray(R"({"name": "s", "base": "tiny.json", "grid": {"platform.workers": 4}})")
                                    << "grid.platform.workers: expected a non-empty array of values, got 4";
        QTest::newRow("duplicate value")
            << QByteArray(R"({"name": "s", "base": "tiny.json", "grid": {"strategy.type": ["sync-ps", "sync-ps"]}})")
            << "grid.strategy.type[1]: duplicate value \"sync-ps\"";
        QTest::newRow("missing base") << QByteArray(R"({"name": "s", "base": "nothere.json"})")
                                      << "base: the scenario";
        QTest::newRow("typo at the top") << QByteArray(R"({"name": "s", "base": "tiny.json", "repetition": 3})")
                                         << "repetition: unknown key; did you mean \"repetitions\"?";
        QTest::newRow("zero repetitions") << QByteArray(R"({"name": "s", "base": "tiny.json", "repetitions": 0})")
                                          << "repetitions: expected an integer in [1, 10000], got 0";
    }
    void validationNamesTheField()
    {
        QFETCH(QByteArray, sweep);
        QFETCH(QString, expected);
        QTemporaryDir dir;
        writeFile(dir, "tiny.json", kTiny);
        const QString db = dir.filePath("s.sqlite");
        const Result r = dmlsim({"sweep", writeFile(dir, "sweep.json", sweep), "--db", db});
        QCOMPARE(r.exitCode, 2);
        QVERIFY2(QString(r.err).contains("sweep.json: " + expected), r.err.constData());
        QVERIFY(!QFile::exists(db)); // checked before the store is opened
    }

    void runTagIsCheckedAndStored()
    {
        QTemporaryDir dir;
        const QString scenario = writeFile(dir, "tiny.json", kTiny), db = dir.filePath("s.sqlite");
        for (const char* bad : {"sweep=abc", "sweep=abc,point=1,rep=x", "sweep=abc,point=1,rep=0,extra=2"}) {
            const Result r = dmlsim({"run", scenario, "--db", db, "--tag", bad});
            QCOMPARE(r.exitCode, 2);
            QVERIFY2(r.err.contains("--tag: expected sweep=ID,point=N,rep=R"), r.err.constData());
        }
        QVERIFY(!QFile::exists(db));
        QCOMPARE(dmlsim({"run", scenario, "--db", db, "--tag", "rep=2,sweep=abc,point=7"}).exitCode, 0);
        RunStore store(db.toStdString());
        const auto tags = store.sweepRuns("abc");
        QCOMPARE(int(tags.size()), 1);
        QCOMPARE(tags[0].point, 7);
        QCOMPARE(tags[0].rep, 2);
        QCOMPARE(tags[0].status, std::string("finished"));
    }

    void twelveRunGridWithTwoJobs()
    {
        // workers x strategies, 3 x 4 = 12 runs, two at a time.
        QTemporaryDir dir;
        writeFile(dir, "tiny.json", kTiny);
        const QString sweep = writeFile(dir, "sweep.json", R"({
            "name": "workers x strategies", "base": "tiny.json",
            "grid": { "platform.workers": [2, 3, 4],
                      "strategy.type": ["sync-ps", "async-ps", "ring-allreduce", "fedavg"] } })");
        const QString db = dir.filePath("s.sqlite");
        const Result r = dmlsim({"sweep", sweep, "--jobs", "2", "--db", db});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QVERIFY2(r.err.contains("12 runs") && r.err.contains("12 to run, 2 at a time"), r.err.constData());
        QVERIFY2(r.err.contains("[12/12]"), r.err.constData()); // one progress line per run off a terminal

        RunStore store(db.toStdString());
        const std::string id = onlySweep(store);
        const auto tags = store.sweepRuns(id);
        QCOMPARE(int(tags.size()), 12);
        std::set<std::pair<int, int>> cells;
        std::set<std::pair<int, std::string>> seen;
        for (const SweepRunTag& t : tags) {
            QCOMPARE(t.status, std::string("finished"));
            QCOMPARE(t.rep, 0);
            cells.insert({t.point, t.rep});
            const RunRecord run = store.run(t.runId);
            // Points enumerate the axes in sorted path order, the last one fastest.
            static const char* kStrategies[] = {"sync-ps", "async-ps", "ring-allreduce", "fedavg"};
            QCOMPARE(run.workers, 2 + t.point / 4);
            QCOMPARE(run.strategy, std::string(kStrategies[t.point % 4]));
            QCOMPARE(run.seed, std::uint64_t(5));
            seen.insert({run.workers, run.strategy});
            const QJsonObject sc = QJsonDocument::fromJson(QByteArray::fromStdString(run.scenarioText)).object();
            QCOMPARE(sc["platform"].toObject()["workers"].toInt(), run.workers);
            QCOMPARE(sc["platform"].toObject()["link_bandwidth"].toString(), QString("1Gbps")); // base kept
        }
        QCOMPARE(int(cells.size()), 12);
        QCOMPARE(int(seen.size()), 12);

        // Again: nothing is missing, nothing runs.
        const Result again = dmlsim({"sweep", sweep, "--jobs", "2", "--db", db});
        QCOMPARE(again.exitCode, 0);
        QVERIFY2(again.err.contains("12 already finished, 0 to run"), again.err.constData());
        QCOMPARE(int(store.runs().size()), 12);
    }

    void repetitionSeedsAndSweepId()
    {
        QTemporaryDir dir;
        writeFile(dir, "tiny.json", kTiny);
        const QString a = writeFile(dir, "a.json", R"({"name": "a", "base": "tiny.json", "repetitions": 3,
                                                        "grid": {"platform.workers": [2, 3]}})");
        const Result r = dmlsim({"sweep", a, "--dry-run", "--db", dir.filePath("s.sqlite")});
        QCOMPARE(r.exitCode, 0);
        // point, rep, seed (base seed 5 + rep), status, label
        const QList<QByteArray> lines = r.out.trimmed().split('\n');
        QCOMPARE(lines.size(), 6);
        QCOMPARE(lines[0], QByteArray("0\t0\t5\tto run\tplatform.workers=2"));
        QCOMPARE(lines[2], QByteArray("0\t2\t7\tto run\tplatform.workers=2"));
        QCOMPARE(lines[4], QByteArray("1\t1\t6\tto run\tplatform.workers=3"));

        // The id follows the content: the same sweep written differently keeps it, another grid changes it.
        const Sweep s1 = loadSweep(a.toStdString());
        const Sweep s2 = loadSweep(writeFile(dir, "b.json", R"({"repetitions": 3, "name": "renamed",
            "grid": {"platform.workers": [2, 3]}, "base": "tiny.json"})").toStdString());
        const Sweep s3 = loadSweep(writeFile(dir, "c.json", R"({"name": "a", "base": "tiny.json", "repetitions": 3,
            "grid": {"platform.workers": [2, 4]}})").toStdString());
        QCOMPARE(s1.id, s2.id);
        QVERIFY(s1.id != s3.id);
        QCOMPARE(s1.id.size(), std::size_t(12));
        QCOMPARE(s1.runs[5].name, std::string("tiny [platform.workers=3, rep 2]"));
        QVERIFY(s1.runs[5].text.find("\"seed\": 7") != std::string::npos);
    }

    void killedSweepRunsOnlyWhatIsMissing()
    {
        QTemporaryDir dir;
        writeFile(dir, "slow.json", kSlow);
        const QString sweep = writeFile(dir, "sweep.json", R"({"name": "k", "base": "slow.json", "repetitions": 3,
                                                               "grid": {"platform.workers": [2, 3]}})");
        const QString db = dir.filePath("s.sqlite");
        // The sweep and its children in their own process group, killed together as Ctrl-C would.
        QProcess p;
        p.setChildProcessModifier([] { ::setpgid(0, 0); });
        p.setReadChannel(QProcess::StandardError); // progress goes to stderr
        p.start(DMLSIM_EXE, {"sweep", sweep, "--jobs", "1", "--db", db});
        QByteArray err;
        while (!err.contains("[2/6]") && p.waitForReadyRead(30000))
            err += p.readAllStandardError();
        QVERIFY2(err.contains("[2/6]"), err.constData());
        ::kill(-pid_t(p.processId()), SIGKILL);
        p.waitForFinished();

        const auto before = outcomes(db);
        QVERIFY2(before.size() >= 2 && before.size() < 6, QByteArray::number(qulonglong(before.size())));
        std::set<long long> finishedIds;
        {
            RunStore store(db.toStdString());
            for (const SweepRunTag& t : store.sweepRuns(onlySweep(store)))
                if (t.status == "finished")
                    finishedIds.insert(t.runId);
        }
        const Result r = dmlsim({"sweep", sweep, "--jobs", "1", "--db", db});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        const QByteArray plan = QByteArray::number(qulonglong(before.size())) + " already finished, " +
                                QByteArray::number(qulonglong(6 - before.size())) + " to run";
        QVERIFY2(r.err.contains(plan), r.err.constData());

        const auto after = outcomes(db); // fails if any (point, rep) finished twice
        QCOMPARE(int(after.size()), 6);
        RunStore store(db.toStdString());
        int finished = 0;
        for (const RunRecord& run : store.runs())
            finished += run.status == "finished";
        QCOMPARE(finished, 6); // the runs finished before the kill were not run again
        for (const SweepRunTag& t : store.sweepRuns(onlySweep(store)))
            if (before.count({t.point, t.rep}) && t.status == "finished")
                QVERIFY(finishedIds.count(t.runId));
    }

    /// Issue 18: killing only the sweep process (SIGKILL to its pid, not its group) leaves its children running;
    /// their progress lines then go to a closed pipe, which must not kill them: both runs finish and are stored.
    void killingOnlyTheSweepLetsItsRunsFinish()
    {
        QTemporaryDir dir;
        QString slow = kSlow;
        slow.replace(R"("run": { "epochs": 1 })", R"("run": { "epochs": 4, "eval_interval_epochs": 0.1 })");
        QVERIFY(slow.contains("\"epochs\": 4"));
        writeFile(dir, "slow.json", slow.toUtf8());
        const QString sweep = writeFile(dir, "sweep.json", R"({"name": "orphans", "base": "slow.json",
                                                               "grid": {"platform.workers": [2, 3]}})");
        const QString db = dir.filePath("s.sqlite");
        QProcess p;
        p.start(DMLSIM_EXE, {"sweep", sweep, "--jobs", "2", "--db", db});
        QVERIFY(p.waitForStarted());
        // Wait until both children have their runs in the store, then kill the parent alone.
        auto statuses = [&] {
            std::vector<std::string> out;
            if (QFile::exists(db))
                for (const RunRecord& r : RunStore(db.toStdString()).runs())
                    out.push_back(r.status);
            return out;
        };
        QElapsedTimer clock;
        clock.start();
        while (statuses().size() < 2 && clock.elapsed() < 30000 * timeScale())
            QTest::qWait(20);
        QCOMPARE(int(statuses().size()), 2);
        QCOMPARE(statuses(), (std::vector<std::string>{"running", "running"}));
        ::kill(pid_t(p.processId()), SIGKILL);
        p.waitForFinished();
        // The orphans go on to their end: both runs finished, none left interrupted.
        while (statuses() != std::vector<std::string>{"finished", "finished"} &&
               clock.elapsed() < 60000 * timeScale())
            QTest::qWait(50);
        QCOMPARE(statuses(), (std::vector<std::string>{"finished", "finished"}));
        for (const RunRecord& r : RunStore(db.toStdString()).runs())
            QVERIFY(!r.interrupted);
    }

    /// Issue 18: a run with a long timeline (3 million spans here; a 1,024-host torus writes 15.7 million) must not
    /// hold the store's write lock for seconds: another process starting a run meanwhile waits at most for one
    /// batch of spans, never for the whole commit.
    void secondWriterDuringALargeCommit()
    {
        QTemporaryDir dir;
        const std::string db = dir.filePath("big.sqlite").toStdString();
        const Scenario sc = parseScenario(kSlow);
        dml::sim::SimulationResult big;
        big.timeline.resize(3000000);
        for (std::size_t i = 0; i < big.timeline.size(); ++i)
            big.timeline[i] = {int(i % 64), dml::Span::Compute, -1, double(i), double(i) + 0.5, 1e6};
        RunStore writer(db), other(db);
        const long long id = writer.beginRun(sc, "sync-ps", "test", "test");
        std::atomic<bool> done{false};
        double commitSeconds = 0;
        std::thread commit([&] {
            QElapsedTimer t;
            t.start();
            writer.finishRun(id, big, 1.0);
            commitSeconds = double(t.elapsed()) / 1000.0;
            done = true;
        });
        double longestWait = 0;
        int starts = 0;
        while (!done) {
            QElapsedTimer t;
            t.start();
            other.beginRun(sc, "sync-ps", "test", "test"); // throws "database is locked" after the busy timeout
            longestWait = std::max(longestWait, double(t.elapsed()) / 1000.0);
            ++starts;
        }
        commit.join();
        qInfo("commit of 3M spans %.2f s; %d runs started meanwhile, longest wait %.3f s", commitSeconds, starts,
              longestWait);
        QCOMPARE(int(writer.timeline(id).size()), 3000000);
        QCOMPARE(writer.run(id).status, std::string("finished"));
        QVERIFY(starts >= 2);
        QVERIFY2(longestWait < 0.5 * commitSeconds, qPrintable(QString::number(longestWait)));
    }

    void shardFromSlurmArray()
    {
        QTemporaryDir dir;
        writeFile(dir, "tiny.json", kTiny);
        const QString sweep = writeFile(dir, "sweep.json", R"({"name": "s", "base": "tiny.json",
            "grid": {"platform.workers": [2, 3, 4, 5, 6]}})");
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        for (const char* k : {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "PMI_RANK", "PMI_SIZE"})
            env.remove(k);
        env.insert("SLURM_ARRAY_TASK_ID", "3"); // sbatch --array=1-3: tasks 1, 2, 3
        env.insert("SLURM_ARRAY_TASK_MIN", "1");
        env.insert("SLURM_ARRAY_TASK_COUNT", "3");
        const Result r = dmlsim({"sweep", sweep, "--dry-run", "--db", "runs.sqlite"}, dir.path(), env);
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QVERIFY2(r.err.contains("shard 2/3 (Slurm array): 1 runs") && r.err.contains("store runs.shard-2-of-3.sqlite"),
                 r.err.constData());
        QCOMPARE(r.out.trimmed(), QByteArray("2\t0\t5\tto run\tplatform.workers=4"));
        // --shard wins over the environment; a bad one is refused.
        const Result s = dmlsim({"sweep", sweep, "--dry-run", "--shard", "0/2", "--db", "runs.sqlite"}, dir.path(), env);
        QCOMPARE(s.out.trimmed().split('\n').size(), 3); // runs 0, 2, 4
        QCOMPARE(dmlsim({"sweep", sweep, "--shard", "2/2"}, dir.path()).exitCode, 2);
        env.insert("SLURM_ARRAY_TASK_ID", "9");
        const Result bad = dmlsim({"sweep", sweep, "--dry-run"}, dir.path(), env);
        QCOMPARE(bad.exitCode, 2);
        QVERIFY2(bad.err.contains("Slurm array: task 8 of 3 is out of range"), bad.err.constData());

        QCOMPARE(shardStoreFile("a/b.c/runs.sqlite", {1, 4, ""}), std::string("a/b.c/runs.shard-1-of-4.sqlite"));
        QCOMPARE(shardStoreFile("a/b.c/runs", {1, 4, ""}), std::string("a/b.c/runs.shard-1-of-4"));
        QCOMPARE(shardStoreFile("runs.sqlite", {0, 1, ""}), std::string("runs.sqlite"));
    }

    void mpirunShardsMergeToTheSameResults()
    {
        const QString mpirun = QStandardPaths::findExecutable("mpirun");
        if (mpirun.isEmpty())
            QFAIL("mpirun not found: install Debian's openmpi-bin (./setup.sh does)");
        QTemporaryDir dir;
        writeFile(dir, "tiny.json", kTiny);
        const QString sweep = writeFile(dir, "sweep.json", R"({"name": "m", "base": "tiny.json", "repetitions": 2,
            "grid": {"platform.workers": [2, 3], "strategy.type": ["sync-ps", "ring-allreduce"]}})");
        // One machine.
        const Result one = dmlsim({"sweep", sweep, "--jobs", "2", "--db", dir.filePath("one.sqlite")});
        QVERIFY2(one.exitCode == 0, one.err.constData());
        // Two MPI ranks, each with its own store, then merged.
        QProcess p;
        p.setWorkingDirectory(dir.path());
        p.start(mpirun, {"--allow-run-as-root", "--oversubscribe", "-np", "2", DMLSIM_EXE, "sweep", sweep, "--jobs",
                         "1", "--db", "mpi.sqlite"});
        QVERIFY(p.waitForFinished(120000));
        const QByteArray err = p.readAllStandardError();
        QVERIFY2(p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0, err.constData());
        QVERIFY2(err.contains("shard 0/2 (Open MPI): 4 runs") && err.contains("shard 1/2 (Open MPI): 4 runs"),
                 err.constData());
        const QStringList shards = {dir.filePath("mpi.shard-0-of-2.sqlite"), dir.filePath("mpi.shard-1-of-2.sqlite")};
        for (const QString& s : shards)
            QCOMPARE(int(outcomes(s).size()), 4);
        const QString merged = dir.filePath("merged.sqlite");
        const Result m = dmlsim({"merge", shards[0], shards[1], "--into", merged});
        QVERIFY2(m.exitCode == 0, m.err.constData());
        QVERIFY2(m.out.contains("8 runs copied, 0 already there, 1 sweeps added"), m.out.constData());

        const auto expected = outcomes(dir.filePath("one.sqlite"));
        QCOMPARE(int(expected.size()), 8);
        QVERIFY(outcomes(merged) == expected); // same runs, same figures, same number of samples
        {
            RunStore store(merged.toStdString());
            QCOMPARE(int(store.sweeps().size()), 1); // de-duplicated
            for (const RunRecord& r : store.runs())
                QVERIFY(!store.timeline(r.id).empty() && !store.hostStats(r.id).empty());
        }
        // Merging again changes nothing.
        const Result again = dmlsim({"merge", shards[0], shards[1], "--into", merged});
        QVERIFY2(again.out.contains("0 runs copied, 8 already there, 0 sweeps added"), again.out.constData());
        QCOMPARE(int(RunStore(merged.toStdString()).runs().size()), 8);
        QCOMPARE(dmlsim({"merge", dir.filePath("nothere.sqlite"), "--into", merged}).exitCode, 2);
    }

    void mergeWarnsOfMixedBuilds()
    {
        // Two repetitions of a sweep point and two runs of one scenario, one of each made by "another build":
        // the merged store holds configurations whose figures may differ in the last bits.
        QTemporaryDir dir;
        const QString tiny = writeFile(dir, "tiny.json", kTiny);
        const QString a = dir.filePath("a.sqlite"), b = dir.filePath("b.sqlite"), c = dir.filePath("c.sqlite");
        for (const auto& [db, rep] : {std::pair{a, "0"}, std::pair{b, "1"}}) {
            QCOMPARE(dmlsim({"run", tiny, "--db", db, "--tag", QString("sweep=s1,point=0,rep=") + rep}).exitCode, 0);
            QCOMPARE(dmlsim({"run", tiny, "--db", db}).exitCode, 0);
        }
        // One build: no warning.
        const Result same = dmlsim({"merge", a, b, "--into", c});
        QVERIFY2(same.exitCode == 0, same.err.constData());
        QVERIFY2(!same.err.contains("warning"), same.err.constData());

        setBuild(b, "version=0.0.1; compiler=another");
        const Result mixed = dmlsim({"merge", a, b, "--into", dir.filePath("d.sqlite")});
        QVERIFY2(mixed.exitCode == 0, mixed.err.constData()); // a warning, not an error
        QVERIFY2(mixed.out.contains("4 runs copied"), mixed.out.constData());
        QCOMPARE(mixed.err.count("dmlsim merge: warning: "), 2);
        QVERIFY2(mixed.err.contains("sweep s1 point 0: runs of 2 builds:"), mixed.err.constData());
        QVERIFY2(mixed.err.contains("scenario ") && mixed.err.contains(" (tiny): runs of 2 builds:"),
                 mixed.err.constData());
        QVERIFY2(mixed.err.contains("from \"version=0.0.1; compiler=another\""), mixed.err.constData());
        QVERIFY2(mixed.err.contains("may differ in the last bits"), mixed.err.constData());
    }
};

QTEST_GUILESS_MAIN(TestSweep)
#include "tst_sweep.moc"
