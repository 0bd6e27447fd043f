// SPDX-License-Identifier: GPL-3.0-or-later
// writeReport() as the workbench calls it (in a QApplication on the offscreen platform) and `dmlsim report` as a
// user runs it: HTML with embedded charts, PDF, CSV series, and the errors.
#include "report.h"
#include "runstore.h"

#include <QApplication>
#include <QBuffer>
#include <QImage>
#include <QJsonDocument>
#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTest>

#include <sqlite3.h>

#include "testutil.h"

#include <set>

using namespace dml::app;

using namespace dml::test;

namespace {

QByteArray readAll(const QString& file)
{
    QFile f(file);
    if (!f.open(QIODevice::ReadOnly))
        qFatal("cannot read %s", qPrintable(file));
    return f.readAll();
}

} // namespace

class TestReport : public QObject {
    Q_OBJECT
    QTemporaryDir m_dir;
    QString m_db;
    std::string m_sweep;

private slots:
    void initTestCase()
    {
        // workers x link bandwidth, 2 x 2 points, 2 repetitions each: 8 runs.
        QFile s(m_dir.filePath("tiny.json"));
        QVERIFY(s.open(QIODevice::WriteOnly));
        s.write(kTiny);
        s.close();
        QFile w(m_dir.filePath("sweep.json"));
        QVERIFY(w.open(QIODevice::WriteOnly));
        w.write(R"({"name": "r", "base": "tiny.json", "repetitions": 2,
                    "grid": {"platform.workers": [2, 4], "platform.link_bandwidth": ["100Mbps", "1Gbps"]}})");
        w.close();
        m_db = m_dir.filePath("runs.sqlite");
        const Result r = dmlsim({"sweep", w.fileName(), "--jobs", "2", "--db", m_db});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        RunStore store(m_db.toStdString());
        m_sweep = store.sweeps().at(0).id;
    }

    void htmlIsSelfContainedWithTableAndCharts()
    {
        RunStore store(m_db.toStdString());
        const std::vector<long long> ids = sweepRunIds(store, m_sweep.substr(0, 6)); // a prefix names it
        QCOMPARE(int(ids.size()), 8);
        const QString out = m_dir.filePath("report.html");
        writeReport(store, ids, out);
        const QString html = QString::fromUtf8(readAll(out));
        // What differs, without the seed as a configuration axis.
        QVERIFY(html.contains("<code>platform.workers</code>: 2, 4"));
        QVERIFY(html.contains("<code>platform.link_bandwidth</code>: 100Mbps, 1Gbps"));
        QVERIFY(html.contains("<code>seed</code>: differs between the repetitions"));
        // The table: 4 configurations of n = 2, with mean ± spread.
        // Columns in path order: link_bandwidth, workers.
        const QString left = "<td class=\"l\" align=\"left\" style=\"white-space:nowrap\">";
        QCOMPARE(html.count(QRegularExpression("<tr>" + QRegularExpression::escape(left) + "(100Mbps|1Gbps)</td>" +
                                               QRegularExpression::escape(left) + "(2|4)</td>")),
                 4);
        QVERIFY(html.contains("<td align=\"right\" style=\"white-space:nowrap\">2</td>")); // n
        QVERIFY(html.contains(" ± "));
        // One unit per column, in its heading; accuracy as a percentage; no target set, so no time-to-target column.
        for (const char* col : {"final accuracy (%)", "simulated time (", "throughput (samples/s)", "comm. overhead (%)",
                                "utilization (%)", "bytes on the wire (", "bottleneck (load %)", "wall time ("})
            QVERIFY2(html.contains(col), col);
        QVERIFY(!html.contains("time to target ("));
        QVERIFY(html.contains("Target accuracy: <b>none set (run.target_accuracy)</b>"));
        // The answer first, with the sweep's name.
        QVERIFY(html.contains("<h1>dmlsim report: r</h1>"));
        QVERIFY(html.indexOf("<h2>Answer</h2>") < html.indexOf("<h2>Results</h2>"));
        QVERIFY(html.contains("Objective: simulated time (the runs set no target accuracy"));
        QVERIFY(html.contains("<h3>Bottleneck of each configuration</h3>"));
        // Accuracy against time; simulated time and throughput against each field; communication overhead against
        // the bandwidth; speed-up and efficiency against workers: eight embedded PNGs, nothing external.
        const QRegularExpression img("<img src=\"data:image/png;base64,([A-Za-z0-9+/=]+)\"");
        QCOMPARE(html.count(img), 8);
        QVERIFY(!html.contains("src=\"http") && !html.contains("src=\"file"));
        for (const char* title : {"Accuracy against simulated time", "Speed-up against workers",
                                  "Scaling efficiency against workers", "Simulated time against workers",
                                  "Throughput against workers", "Simulated time against link_bandwidth",
                                  "Throughput against link_bandwidth",
                                  "Communication overhead against platform.link_bandwidth"})
            QVERIFY2(html.contains(title), title);
        // The speed-up and efficiency charts show the accuracy reached beneath.
        QCOMPARE(html.count("Lower panel: the final test accuracy each configuration reached"), 2);
        const QImage chart = QImage::fromData(QByteArray::fromBase64(img.match(html).captured(1).toLatin1()), "PNG");
        QVERIFY(!chart.isNull());
        QVERIFY(chart.width() >= 800);
        // Reproduction: every run's id, seed and scenario hash; the program version.
        for (long long id : ids) {
            const RunRecord r = store.run(id);
            QVERIFY(html.contains(QString::fromStdString(r.scenarioHash.substr(0, 16))));
            QVERIFY(html.contains(QString("<tr><td align=\"right\" style=\"white-space:nowrap\">%1</td>").arg(id)));
        }
        QVERIFY(html.contains("dmlsim " DMLSIM_VERSION_TEST));
    }

    void onlyRepetitionsGiveOneConfiguration()
    {
        RunStore store(m_db.toStdString());
        const auto tags = store.sweepRuns(m_sweep);
        std::vector<long long> ids;
        for (const auto& t : tags)
            if (t.point == 0)
                ids.push_back(t.runId);
        QCOMPARE(int(ids.size()), 2);
        const QString out = m_dir.filePath("reps.html");
        writeReport(store, ids, out);
        const QString html = QString::fromUtf8(readAll(out));
        QVERIFY(html.contains("2 runs in 1 configuration"));
        QCOMPARE(html.count("data:image/png;base64,"), 1); // no axis varies: accuracy only
    }

    void pdfHasPagesAndImages()
    {
        RunStore store(m_db.toStdString());
        const QString out = m_dir.filePath("report.pdf");
        writeReport(store, sweepRunIds(store, m_sweep), out);
        const QByteArray pdf = readAll(out);
        QVERIFY(pdf.startsWith("%PDF-"));
        QVERIFY(pdf.count("/Type /Page\n") + pdf.count("/Type /Page\r") + pdf.count("/Type /Page ") >= 2);
        QVERIFY(pdf.count("/Subtype /Image") >= 4);
    }

    void csvHoldsTheSummaryAndTheSeries()
    {
        RunStore store(m_db.toStdString());
        const std::vector<long long> ids = sweepRunIds(store, "r"); // by name
        const QString out = m_dir.filePath("summary.csv");
        writeReport(store, ids, out);
        // The summary: one row per configuration, the varied fields' paths and one unit per column.
        const QList<QByteArray> summary = readAll(out).trimmed().split('\n');
        QCOMPARE(summary.size(), 5);
        QVERIFY2(summary[0].startsWith("platform.link_bandwidth,platform.workers,n,final_accuracy_pct,"
                                       "final_accuracy_ci95_pct,simulated_time_s,simulated_time_ci95_s,"),
                 summary[0].constData());
        QVERIFY(summary[1].startsWith("100Mbps,2,2,"));
        // The series beside it, in long form.
        const QList<QByteArray> lines = readAll(m_dir.filePath("summary-series.csv")).trimmed().split('\n');
        QCOMPARE(lines[0], QByteArray("run_id,config,seed,series,time,step,epoch,value"));
        std::size_t expected = 0;
        std::set<QByteArray> runIds;
        for (long long id : ids)
            expected += 3 * store.samples(id).size();
        for (int i = 1; i < lines.size(); ++i)
            runIds.insert(lines[i].left(lines[i].indexOf(',')));
        QCOMPARE(std::size_t(lines.size() - 1), expected);
        QCOMPARE(int(runIds.size()), 8);
        QVERIFY(lines[1].contains(",test_accuracy,0,0,0,")); // step 0 at time 0
    }

    void errorsNameTheProblem()
    {
        RunStore store(m_db.toStdString());
        auto message = [&](const std::vector<long long>& ids, const QString& file) {
            try {
                writeReport(store, ids, file);
            } catch (const std::runtime_error& e) {
                return QString(e.what());
            }
            return QString();
        };
        QVERIFY(message({1}, m_dir.filePath("r.docx")).contains("unknown report format \"docx\""));
        QVERIFY(message({}, m_dir.filePath("r.html")).contains("no runs"));
        QVERIFY(message({999}, m_dir.filePath("r.html")).contains("no run with id 999"));
        QVERIFY(message({1}, "/nonexistent/dir/r.csv").contains("cannot write"));
        QVERIFY_THROWS_EXCEPTION(std::runtime_error, sweepRunIds(store, "nosuchsweep"));
    }

    void warnsOfMixedBuilds()
    {
        // One repetition of grid point 0 made by "another build": the report and `dmlsim report` say so.
        RunStore store(m_db.toStdString());
        std::vector<long long> ids;
        for (const SweepRunTag& t : store.sweepRuns(m_sweep))
            ids.push_back(t.runId);
        const QString same = m_dir.filePath("same.html");
        QVERIFY(writeReport(store, ids, same).empty());
        QVERIFY(!readAll(same).contains("different builds"));

        const QString db = m_dir.filePath("mixed.sqlite");
        QVERIFY(QFile::copy(m_db, db));
        const long long other = store.sweepRuns(m_sweep).at(1).runId; // point 0, rep 1
        QCOMPARE(store.sweepRuns(m_sweep).at(1).point, 0);
        {
            sqlite3* h = nullptr;
            QCOMPARE(sqlite3_open(db.toUtf8().constData(), &h), SQLITE_OK);
            const std::string sql = "UPDATE runs SET build = 'another build' WHERE id = " + std::to_string(other);
            QCOMPARE(sqlite3_exec(h, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
            sqlite3_close(h);
        }
        RunStore mixed(db.toStdString());
        const QString out = m_dir.filePath("mixed.html");
        const std::vector<std::string> warnings = writeReport(mixed, ids, out);
        QCOMPARE(int(warnings.size()), 3); // the configuration, then builds 1 and 2
        QVERIFY2(warnings[0].find("different builds") != std::string::npos, warnings[0].c_str());
        QVERIFY2(warnings[0].find("run " + std::to_string(other) + " from build 2") != std::string::npos,
                 warnings[0].c_str());
        QCOMPARE(warnings[2], std::string("build 2: another build"));
        const QString html = QString::fromUtf8(readAll(out));
        QVERIFY(html.contains("Warning: runs of one configuration come from different builds"));
        QVERIFY(html.contains("<li><code>another build</code></li>"));

        const Result cli = dmlsim({"report", "--runs", QString("%1,%2").arg(ids[0]).arg(other), "--db", db, "--out",
                                   m_dir.filePath("mixed.csv")});
        QVERIFY2(cli.exitCode == 0, cli.err.constData());
        QVERIFY2(cli.err.contains("dmlsim report: warning: runs of one configuration come from different builds"),
                 cli.err.constData());
    }

    void commandLine()
    {
        const QString out = m_dir.filePath("cli.html");
        const Result r = dmlsim({"report", "--sweep", QString::fromStdString(m_sweep), "--db", m_db, "--out", out});
        QVERIFY2(r.exitCode == 0, r.err.constData());
        QVERIFY(readAll(out).contains("data:image/png;base64,"));
        const Result runs = dmlsim({"report", "--runs", "1,2", "--db", m_db, "--out", m_dir.filePath("cli.csv")});
        QVERIFY2(runs.exitCode == 0, runs.err.constData());
        QCOMPARE(dmlsim({"report", "--runs", "1", "--sweep", "x", "--db", m_db, "--out", out}).exitCode, 2);
        const Result bad = dmlsim({"report", "--runs", "1", "--db", m_db, "--out", m_dir.filePath("r.txt")});
        QCOMPARE(bad.exitCode, 2);
        QVERIFY2(bad.err.contains("expected a file ending in .html, .pdf or .csv"), bad.err.constData());
    }
};

int main(int argc, char** argv)
{
    qputenv("QT_QPA_PLATFORM", "offscreen"); // as the workbench's tests run
    QApplication app(argc, argv);
    TestReport t;
    return QTest::qExec(&t, argc, argv);
}
#include "tst_report.moc"
