// SPDX-License-Identifier: GPL-3.0-or-later
// Portable builds (CMake DMLSIM_PORTABLE, README "Reproducibility") give the same numbers whatever instruction set
// they were compiled for: two portable builds of the CLI for different -march values (built by tests/CMakeLists.txt
// beside the main build) run the same scenarios, and every sample, per-host and per-link statistic, series point,
// timeline span and the summary must be equal bit for bit. Each store must record the build that made the run.
// The main build (native by default) runs them too, for information: it may differ, and then shows that the
// comparison can tell builds apart.
#include "runstore.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include "testutil.h"

using namespace dml::app;
using namespace dml::test;

namespace {

/// The build line of `exe --version`.
QString buildOf(const QString& exe)
{
    QProcess p;
    p.start(exe, {"--version"});
    if (!p.waitForFinished(30000) || p.exitCode() != 0)
        qFatal("%s --version failed", qPrintable(exe));
    for (const QString& line : QString::fromUtf8(p.readAllStandardOutput()).split('\n'))
        if (line.startsWith("build: "))
            return line.mid(7);
    qFatal("%s --version printed no build line", qPrintable(exe));
}

/// A scenario file from the source tree with `run` (and `patch`'s other top-level keys) replaced.
QByteArray shortened(const char* file, const QJsonObject& patch)
{
    QFile f(QString(DMLSIM_SOURCE_DIR "/") + file);
    if (!f.open(QIODevice::ReadOnly))
        qFatal("cannot read %s", qPrintable(f.fileName()));
    QJsonObject o = QJsonDocument::fromJson(f.readAll()).object();
    for (auto it = patch.begin(); it != patch.end(); ++it) {
        if (it.value().isObject() && o[it.key()].isObject() && it.key() != "run") {
            QJsonObject inner = o[it.key()].toObject();
            const QJsonObject p = it.value().toObject();
            for (auto jt = p.begin(); jt != p.end(); ++jt)
                inner[jt.key()] = jt.value();
            o[it.key()] = inner;
        } else {
            o[it.key()] = it.value();
        }
    }
    return QJsonDocument(o).toJson();
}

/// What a run computed, from its `--stream` events: everything but the started event (run id, build) and the
/// batching of spans (by wall time), which legitimately differ.
struct Outcome {
    QList<QJsonObject> events;
    QJsonArray spans;
};

Outcome run(const QString& exe, const QString& scenario, const QString& db)
{
    QProcess p;
    p.start(exe, {"run", scenario, "--db", db, "--stream"});
    p.closeWriteChannel();
    if (!p.waitForFinished(180000))
        qFatal("%s run %s did not finish", qPrintable(exe), qPrintable(scenario));
    if (p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0)
        qFatal("%s run %s failed: %s", qPrintable(exe), qPrintable(scenario), p.readAllStandardError().constData());
    Outcome out;
    for (const QByteArray& line : p.readAllStandardOutput().split('\n')) {
        if (line.isEmpty())
            continue;
        const QJsonObject o = QJsonDocument::fromJson(line).object();
        const QString event = o["event"].toString();
        if (event == "spans")
            for (const auto& row : o["spans"].toArray())
                out.spans.append(row);
        else if (event != "started" && event != "state")
            out.events.append(o);
    }
    return out;
}

} // namespace

class TestPortable : public QObject {
    Q_OBJECT
    QStringList m_exes;
    QStringList m_builds;

private slots:
    void initTestCase()
    {
        m_exes = {DMLSIM_PORTABLE_EXE_A, DMLSIM_PORTABLE_EXE_B};
        for (const QString& exe : m_exes) {
            m_builds << buildOf(exe);
            QVERIFY2(m_builds.back().contains("; portable=yes;"), qPrintable(m_builds.back()));
        }
        // Two builds for different instruction sets, else the test proves nothing.
        QVERIFY2(m_builds[0] != m_builds[1], qPrintable(m_builds[0]));
        qInfo("build A: %s", qPrintable(m_builds[0]));
        qInfo("build B: %s", qPrintable(m_builds[1]));
    }

    void sameNumbers_data()
    {
        QTest::addColumn<QByteArray>("scenario");
        // The quickstart (Fashion-MNIST, Adam, 8 workers) for 40 steps, evaluated every 10.
        QTest::newRow("quickstart") << shortened("scenarios/quickstart.json",
                                                 {{"run", QJsonObject{{"max_steps", 40}, {"eval_interval", 10}}}});
        // Federated averaging on an edge network with random drop-outs (exponential up/down times), stragglers,
        // a Dirichlet partition (gamma variates) and Adam: 3 rounds on 4000 images.
        QTest::newRow("edge-dropouts")
            << shortened("scenarios/lessons/7-edge-dropouts.json",
                         {{"workload",
                           QJsonObject{{"dataset", QJsonObject{{"name", "fashion-mnist"},
                                                               {"path", "/usr/share/datasets/fashion-mnist"},
                                                               {"train_samples", 4000}}},
                                       {"partitioning", QJsonObject{{"type", "dirichlet"}, {"alpha", 0.3}}},
                                       {"optimizer", QJsonObject{{"type", "adam"}, {"learning_rate", 0.001}}}}},
                          {"strategy", QJsonObject{{"rounds", 3}}}});
    }

    void sameNumbers()
    {
        QFETCH(QByteArray, scenario);
        QTemporaryDir dir;
        const QString file = writeFile(dir, "scenario.json", scenario);
        Outcome out[2];
        for (int i = 0; i < 2; ++i) {
            const QString db = dir.filePath(QString("run%1.sqlite").arg(i));
            out[i] = run(m_exes[i], file, db);
            // The store records the build that made the run.
            const auto runs = RunStore(db.toStdString()).runs();
            QCOMPARE(int(runs.size()), 1);
            QCOMPARE(QString::fromStdString(runs[0].build), m_builds[i]);
        }
        QVERIFY(out[0].events.size() > 5);
        QVERIFY(!out[0].spans.isEmpty());
        QCOMPARE(out[0].events.back()["event"].toString(), QString("summary"));
        QCOMPARE(out[1].events.size(), out[0].events.size());
        for (qsizetype k = 0; k < out[0].events.size(); ++k)
            QVERIFY2(out[0].events[k] == out[1].events[k],
                     qPrintable(QString("event %1 differs:\nA %2\nB %3")
                                    .arg(k)
                                    .arg(QString::fromUtf8(QJsonDocument(out[0].events[k]).toJson(QJsonDocument::Compact)).left(600),
                                         QString::fromUtf8(QJsonDocument(out[1].events[k]).toJson(QJsonDocument::Compact)).left(600))));
        QVERIFY2(out[0].spans == out[1].spans, "the timelines differ");
        const Outcome main = run(DMLSIM_EXE, file, dir.filePath("main.sqlite"));
        qInfo("%s: the main build (%s) gives %s numbers", QTest::currentDataTag(), qPrintable(buildOf(DMLSIM_EXE)),
              main.events == out[0].events && main.spans == out[0].spans ? "the same" : "other");
        qInfo("%s: %lld events and %lld spans identical; final test loss %.17g",
              QTest::currentDataTag(), (long long)out[0].events.size(), (long long)out[0].spans.size(),
              out[0].events.back()["final_test_loss"].toDouble());
    }
};

QTEST_GUILESS_MAIN(TestPortable)
#include "tst_portable.moc"
