// SPDX-License-Identifier: GPL-3.0-or-later
// The workbench on the offscreen platform, driven as a user would: load a shipped scenario, press Run, watch the
// charts and the history fill; overlay runs; bad scenarios; crashed children; the event loop stays responsive.
#include "chartspanel.h"
#include "historymodel.h"
#include "mainwindow.h"
#include "rundata.h"
#include "runstore.h"
#include "runtables.h"
#include "scenario.h"
#include "scenarioeditor.h"
#include "testutil.h"
#include "topologyview.h"

#include <qcustomplot.h>

#include <QAction>
#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QApplication>
#include <QListWidget>
#include <QPlainTextEdit>
#include <QProcess>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTableView>
#include <QTextBlock>
#include <QTextBrowser>
#include <QTextDocument>
#include <QDockWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>
#include <QToolBar>

#include <cmath>
#include <csignal>

using namespace dml;
using namespace dml::ui;

namespace {

const QString kQuickstart = DMLSIM_SOURCE_DIR "/scenarios/quickstart.json";

/// A wait for the dmlsim children, `ms` x DMLSIM_TEST_TIME_SCALE (under ASan the quickstart takes over 30 s).
int waitMs(int ms)
{
    return ms * test::timeScale();
}

WorkbenchOptions options(const QTemporaryDir& dir)
{
    return {DMLSIM_EXE, dir.filePath("runs.sqlite"), {DMLSIM_SOURCE_DIR "/scenarios"}};
}

/// Clicks the tool bar button of `action`, as a user does.
void press(MainWindow& w, QAction* action)
{
    auto* bar = w.findChild<QToolBar*>("runControls");
    QVERIFY(bar);
    QWidget* button = bar->widgetForAction(action);
    QVERIFY(button);
    QTest::mouseClick(button, Qt::LeftButton);
}

QByteArray readFile(const QString& file)
{
    QFile f(file);
    if (!f.open(QIODevice::ReadOnly))
        qFatal("cannot read %s", qPrintable(file));
    return f.readAll();
}

/// Evaluations stored for run `id` (at least 2: step 0 and the end).
int samples(const QTemporaryDir& dir, long long id)
{
    const int n = int(app::RunStore(dir.filePath("runs.sqlite").toStdString()).samples(id).size());
    if (n < 2)
        qFatal("run %lld has %d samples", id, n);
    return n;
}

/// The child `dmlsim run` processes of the window.
QList<QProcess*> runChildren(MainWindow& w)
{
    QList<QProcess*> out;
    for (QProcess* p : w.findChildren<QProcess*>())
        if (p->arguments().value(0) == "run" && p->state() != QProcess::NotRunning)
            out << p;
    return out;
}

} // namespace

class TestGui : public QObject {
    Q_OBJECT
private slots:
    void runShippedScenario()
    {
        QTemporaryDir dir;
        MainWindow w(options(dir));
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));

        // The shipped list holds the quickstart and the lessons; open the quickstart as a user would.
        QListWidget* shipped = w.editor()->shippedList();
        QListWidgetItem* quickstart = nullptr;
        int lessons = 0;
        for (int i = 0; i < shipped->count(); ++i) {
            const QString file = shipped->item(i)->data(Qt::UserRole).toString();
            quickstart = file.endsWith("/quickstart.json") ? shipped->item(i) : quickstart;
            lessons += file.contains("/lessons/");
        }
        QVERIFY(quickstart);
        QVERIFY(lessons >= 5);
        emit shipped->itemActivated(quickstart);
        QCOMPARE(w.editor()->fileName(), QFileInfo(kQuickstart).absoluteFilePath());
        QVERIFY(w.editor()->issues().isEmpty());
        QVERIFY(w.findChild<QWidget*>("lesson")->property("plainText").toString().contains("Look at"));

        QSignalSpy ended(&w, &MainWindow::runEnded);
        press(w, w.runAction());
        QCOMPARE(w.activeRuns(), 1);
        // The run appears in the history as soon as the child reports its id, and is overlaid on the charts.
        QTRY_COMPARE_WITH_TIMEOUT(w.history()->rowCount(), 1, waitMs(30000));
        const long long id = w.history()->runId(0);
        QVERIFY(w.history()->isOverlaid(id));
        QTRY_VERIFY_WITH_TIMEOUT(w.charts()->accuracyPoints(id) >= 2, waitMs(30000));
        QVERIFY(ended.wait(waitMs(60000)) || !ended.isEmpty());
        QCOMPARE(ended.first().at(1).toString(), QString("finished"));
        QTRY_COMPARE(w.history()->data(w.history()->index(0, HistoryModel::Status), Qt::DisplayRole).toString(),
                     QString("finished"));
        // Every stored evaluation is on the chart.
        const int samples = int(app::RunStore(dir.filePath("runs.sqlite").toStdString()).samples(id).size());
        QVERIFY(samples >= 2);
        QTRY_COMPARE(w.charts()->accuracyPoints(id), samples);
        // The topology shows the 9 hosts, coloured by what they did.
        QTRY_COMPARE_WITH_TIMEOUT(w.topology()->hostItemCount(), 9, waitMs(20000));
        QTRY_VERIFY(w.topology()->colouredHostCount() >= 9);
        QVERIFY(!w.banner()->isVisible());
        // The history names the run's bottleneck (issue 15), as `dmlsim run` does.
        QTRY_VERIFY(w.history()->data(w.history()->index(0, HistoryModel::Bottleneck), Qt::DisplayRole).toString().contains(" %"));
        // The Host table and Links tabs hold the run's final statistics, as `dmlsim run` prints them.
        w.charts()->showTab("Links");
        QTRY_VERIFY(w.charts()->linkTable()->headline().contains("Final"));
        QVERIFY(w.charts()->linkTable()->table()->rowCount() >= 2);
        w.charts()->showTab("Host table");
        QTRY_COMPARE(w.charts()->hostTable()->table()->rowCount(), 9);

        // Issue 14: a new run unticks the finished ones, unless they are pinned.
        QVERIFY(w.history()->setData(w.history()->index(0, HistoryModel::Pin), Qt::Checked, Qt::CheckStateRole));
        QVERIFY(w.history()->isPinned(id));
        for (const bool pinned : {true, false}) {
            w.history()->setPinned(id, pinned);
            w.history()->setOverlaid(id, true);
            const int rows = w.history()->rowCount();
            QVERIFY(w.startRun());
            QTRY_COMPARE_WITH_TIMEOUT(w.history()->rowCount(), rows + 1, waitMs(30000));
            QCOMPARE(w.history()->isOverlaid(id), pinned);
            QVERIFY(w.history()->isOverlaid(w.history()->runId(rows))); // the new run
            w.stopAction()->trigger();
            QTRY_COMPARE_WITH_TIMEOUT(w.activeRuns(), 0, waitMs(30000));
        }
    }

    void lessonsAreValid()
    {
        // Every lesson parses and says what to look at.
        const QStringList files = QDir(DMLSIM_SOURCE_DIR "/scenarios/lessons").entryList({"*.json"}, QDir::Files);
        QVERIFY(files.size() >= 5);
        for (const QString& f : files) {
            const app::Scenario s = app::loadScenario((DMLSIM_SOURCE_DIR "/scenarios/lessons/" + f).toStdString());
            QVERIFY2(s.description.size() > 200, qPrintable(f));
            QVERIFY2(QString::fromStdString(s.description).contains("look", Qt::CaseInsensitive) ||
                         QString::fromStdString(s.description).contains("watch", Qt::CaseInsensitive),
                     qPrintable(f));
        }
    }

    void asyncRunShowsStaleness()
    {
        QTemporaryDir dir;
        MainWindow w(options(dir));
        w.show();
        QVERIFY(w.editor()->openFile(DMLSIM_SOURCE_DIR "/scenarios/lessons/3-async-staleness.json"));
        QSignalSpy ended(&w, &MainWindow::runEnded);
        QVERIFY(w.startRun());
        QTRY_COMPARE_WITH_TIMEOUT(ended.size(), 1, waitMs(60000));
        QCOMPARE(ended.first().at(1).toString(), QString("finished"));
        // One staleness point per applied update, all of them on the Series chart; 16 workers: about 15.
        const long long id = ended.first().at(0).toLongLong();
        const auto stored = app::RunStore(dir.filePath("runs.sqlite").toStdString()).series(id);
        QVERIFY(stored.count("staleness"));
        QCustomPlot* plot = w.charts()->seriesPlot();
        // Two series: staleness and the stale-synchronous clock gap.
        QVERIFY(stored.count("clock_gap"));
        QTRY_COMPARE(plot->graphCount(), 2);
        QCPGraph* staleness = nullptr;
        for (int i = 0; i < plot->graphCount(); ++i)
            if (plot->graph(i)->name().endsWith("staleness"))
                staleness = plot->graph(i);
        QVERIFY(staleness);
        QCOMPARE(staleness->dataCount(), int(stored.at("staleness").size()));
        double sum = 0;
        for (const auto& [t, v] : stored.at("staleness"))
            sum += v;
        QVERIFY(std::abs(sum / double(stored.at("staleness").size()) - 15) < 1);
    }

    /// Issue 14: the Series tab is titled and labelled by the series it shows (dropped clients are not staleness).
    void seriesTabTitledBySeries()
    {
        ChartsPanel charts;
        auto run = std::make_shared<RunData>();
        run->id = 7;
        run->name = "fedavg with drop-outs";
        run->series["dropped_clients"] = {{1.0, 2.0}, {2.0, 0.0}, {3.0, 1.0}};
        ++run->revision;
        charts.setRuns({run});
        charts.refresh();
        auto* title = qobject_cast<QCPTextElement*>(charts.seriesPlot()->plotLayout()->element(0, 0));
        QVERIFY(title);
        QVERIFY2(title->text().startsWith("Sampled clients not averaged"), qPrintable(title->text()));
        QCOMPARE(charts.seriesPlot()->yAxis->label(), QString("dropped clients"));
        run->series.clear();
        run->series["staleness"] = {{1.0, 3.0}};
        ++run->revision;
        charts.refresh();
        QVERIFY2(title->text().startsWith("Staleness of each applied update"), qPrintable(title->text()));
        // The Labels tab: the focused run's label histogram as shares of each part's samples.
        run->labelHistogram = {{30, 10, 0}, {0, 0, 40}};
        ++run->revision;
        charts.setFocusRun(run);
        charts.refresh();
        QCOMPARE(charts.labelsPlot()->plottableCount(), 1);
        auto* map = qobject_cast<QCPColorMap*>(charts.labelsPlot()->plottable(0));
        QVERIFY(map);
        QCOMPARE(map->data()->keySize(), 3);
        QCOMPARE(map->data()->valueSize(), 2);
        QCOMPARE(map->data()->cell(0, 0), 0.75);
        QCOMPARE(map->data()->cell(2, 1), 1.0);
        // Legends shorten run names; each graph keeps the full one for the hover tip.
        run->name = "a scenario name much longer than a legend has room for";
        ++run->revision;
        charts.refresh();
        QCOMPARE(charts.seriesPlot()->graph(0)->property("fullName").toString(),
                 QString("#7 a scenario name much longer than a legend has room for staleness"));
        // The legend sits below the axes, outside the data.
        QCustomPlot* acc = charts.accuracyPlot();
        QVERIFY(acc->legend->outerRect().top() >= acc->axisRect()->outerRect().bottom() - 1);
    }

    /// Issue 14: at 1280x720 the window fits and every dock on screen shows its content; presentation mode makes
    /// chart and lesson fonts at least 1.5 times larger and shows only the charts, the topology and the lesson.
    void fitsA1280x720ScreenAndPresents()
    {
        QTemporaryDir dir;
        MainWindow w(options(dir));
        w.resize(1280, 720);
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        const QSize hint = w.minimumSizeHint();
        qInfo("minimum size hint %dx%d", hint.width(), hint.height());
        QVERIFY2(hint.width() <= 1280 && hint.height() <= 720, qPrintable(QString("%1x%2").arg(hint.width()).arg(hint.height())));
        QTRY_VERIFY(w.width() <= 1280 && w.height() <= 720);
        int shown = 0;
        for (QDockWidget* dock : w.findChildren<QDockWidget*>()) {
            if (!dock->isVisible() || !dock->geometry().intersects(w.rect()))
                continue; // closed, or a tab behind another (Qt parks those outside the window)
            const QRect r = dock->widget()->visibleRegion().boundingRect();
            qInfo("%s: %dx%d visible of %dx%d", qPrintable(dock->windowTitle()), r.width(), r.height(),
                  dock->widget()->width(), dock->widget()->height());
            QVERIFY2(r.width() >= 200 && r.height() >= 150, qPrintable(dock->windowTitle()));
            ++shown;
        }
        QVERIFY(shown >= 4);

        QVERIFY(w.editor()->openFile(DMLSIM_SOURCE_DIR "/scenarios/lessons/11-hierarchical-fl.json"));
        auto lessonPointSize = [&] {
            double most = 0;
            for (QTextBlock b = w.lessonView()->document()->begin(); b.isValid(); b = b.next())
                for (auto it = b.begin(); !it.atEnd(); ++it)
                    most = std::max(most, it.fragment().charFormat().font().pointSizeF());
            return most;
        };
        const double lessonBefore = lessonPointSize();
        const double axisBefore = w.charts()->accuracyPlot()->xAxis->labelFont().pointSizeF();
        w.setPresentationMode(true);
        QVERIFY(w.presentationMode());
        QVERIFY(lessonPointSize() >= 1.5 * lessonBefore);
        QVERIFY(w.charts()->accuracyPlot()->xAxis->labelFont().pointSizeF() >= 1.5 * axisBefore);
        QVERIFY(w.charts()->accuracyPlot()->xAxis->tickLabelFont().pointSizeF() >= 15);
        QTRY_VERIFY(w.topology()->isVisible() && w.lessonView()->isVisible());
        QVERIFY(!w.editor()->isVisible() && !w.timeline()->isVisible() && !w.historyView()->isVisible());
        w.setPresentationMode(false);
        QTRY_VERIFY(w.editor()->isVisible());
        QCOMPARE(w.charts()->accuracyPlot()->xAxis->labelFont().pointSizeF(), axisBefore);
    }

    /// Issue 14: Play lesson applies the lesson's presentation hints (panels, pace, chart tab) and starts it.
    void playLessonAppliesHints()
    {
        QTemporaryDir dir;
        MainWindow w(options(dir));
        w.show();
        QVERIFY(w.editor()->openFile(DMLSIM_SOURCE_DIR "/scenarios/lessons/3-async-staleness.json"));
        QSignalSpy ended(&w, &MainWindow::runEnded);
        QVERIFY(w.playLesson());
        QVERIFY(w.presentationMode());
        QCOMPARE(w.pace(), 0.1); // the lesson's "pace"
        QTRY_VERIFY(w.topology()->isVisible() && w.lessonView()->isVisible());
        QVERIFY(!w.timeline()->isVisible() && !w.editor()->isVisible());
        QVERIFY(w.charts()->seriesPlot()->isVisible()); // its "tab": "Series"
        QCOMPARE(w.activeRuns(), 1);
        w.stopAction()->trigger();
        QTRY_COMPARE_WITH_TIMEOUT(ended.size(), 1, waitMs(30000));
        w.setPresentationMode(false);
        QTRY_VERIFY(w.editor()->isVisible());
    }

    /// Issue 14: opening a lesson applies its hints (pace, tab, series, highlights) without playing it; a scenario
    /// without hints charts every series again.
    void openingALessonAppliesItsHints()
    {
        QTemporaryDir dir;
        MainWindow w(options(dir));
        w.show();
        QVERIFY(w.editor()->openFile(DMLSIM_SOURCE_DIR "/scenarios/lessons/7-edge-dropouts.json"));
        QCOMPARE(w.charts()->seriesFilter(), QString("dropped_clients"));
        QCOMPARE(w.pace(), 1.0);
        QTRY_VERIFY(w.charts()->seriesPlot()->isVisible()); // "tab": "Series"
        QVERIFY(w.editor()->openFile(DMLSIM_SOURCE_DIR "/scenarios/lessons/11-hierarchical-fl.json"));
        QCOMPARE(w.charts()->seriesFilter(), QString());
        QTRY_VERIFY(w.charts()->linkTable()->isVisible()); // "tab": "Links"
        QCOMPARE(w.activeRuns(), 0);
        QVERIFY(w.editor()->openFile(kQuickstart));
        QCOMPARE(w.charts()->seriesFilter(), QString());
    }

    /// Issue 14: File > Quit with unsaved edits asks; Cancel keeps the window, Discard closes it.
    void quitAsksAboutUnsavedEdits()
    {
        QTemporaryDir dir;
        MainWindow w(options(dir));
        w.show();
        QVERIFY(w.editor()->openFile(kQuickstart));
        QAction* quit = nullptr;
        for (QAction* a : w.findChildren<QAction*>())
            if (a->text() == "&Quit")
                quit = a;
        QVERIFY(quit);
        auto answer = [](QMessageBox::StandardButton b) {
            QTimer::singleShot(50, [b] {
                if (auto* box = qobject_cast<QMessageBox*>(QApplication::activeModalWidget()))
                    box->button(b)->click();
            });
        };
        quit->trigger(); // nothing changed: no question, the window closes
        QVERIFY(!w.isVisible());
        w.show();
        w.editor()->setText(w.editor()->text() + " ", kQuickstart);
        QVERIFY(w.editor()->isModified());
        answer(QMessageBox::Cancel);
        quit->trigger();
        QVERIFY(w.isVisible());
        answer(QMessageBox::Discard);
        quit->trigger();
        QVERIFY(!w.isVisible());
    }

    void overlayTwoRuns()
    {
        QTemporaryDir dir;
        long long ids[2] = {};
        {
            MainWindow w(options(dir));
            w.show();
            w.editor()->openFile(kQuickstart);
            QSignalSpy ended(&w, &MainWindow::runEnded);
            // Two at once: each is its own child process.
            QVERIFY(w.startRun());
            QVERIFY(w.startRun());
            QCOMPARE(w.activeRuns(), 2);
            QTRY_COMPARE_WITH_TIMEOUT(ended.size(), 2, waitMs(90000));
            QCOMPARE(w.history()->rowCount(), 2);
            for (int i = 0; i < 2; ++i) {
                ids[i] = w.history()->runId(i);
                QTRY_COMPARE(w.charts()->accuracyPoints(ids[i]), samples(dir, ids[i]));
            }
            // Unticking a run takes it off the charts; ticking it again brings it back.
            QVERIFY(w.history()->setData(w.history()->index(0, HistoryModel::Id), Qt::Unchecked, Qt::CheckStateRole));
            QTRY_COMPARE(w.charts()->accuracyPoints(ids[0]), -1);
            QCOMPARE(w.charts()->accuracyPoints(ids[1]), samples(dir, ids[1]));
        }
        // A new window on the same store: overlay both stored runs.
        MainWindow w(options(dir));
        w.show();
        QCOMPARE(w.history()->rowCount(), 2);
        for (int i = 0; i < 2; ++i) {
            QCOMPARE(w.charts()->accuracyPoints(ids[i]), -1);
            QVERIFY(w.history()->setData(w.history()->index(i, HistoryModel::Id), Qt::Checked, Qt::CheckStateRole));
        }
        for (long long id : ids)
            QTRY_COMPARE(w.charts()->accuracyPoints(id), samples(dir, id));
        // Selecting a stored run shows its hosts: bars, timeline and (from its stored scenario) its topology, and
        // its own scenario's name in the lesson panel, whatever the editor holds.
        w.editor()->setText("{\"name\": \"something else\"}");
        w.historyView()->setCurrentIndex(w.history()->index(1, HistoryModel::Name));
        QVERIFY2(w.lessonView()->toPlainText().startsWith(QString::fromStdString(w.history()->record(1).name)),
                 qPrintable(w.lessonView()->toPlainText().left(80)));
        QTRY_COMPARE_WITH_TIMEOUT(w.topology()->hostItemCount(), 9, waitMs(20000));

        // Re-open the selected run's scenario, then delete the first run, through the history's actions.
        const auto action = [&](const QString& prefix) -> QAction* {
            for (QAction* a : w.historyView()->actions())
                if (a->text().remove('&').startsWith(prefix))
                    return a;
            return nullptr;
        };
        QVERIFY(action("Re-open") && action("Delete") && action("Export report"));
        w.editor()->setText("{}");
        action("Re-open")->trigger();
        const app::RunRecord rec = w.history()->record(1);
        QCOMPARE(w.editor()->text(), QString::fromStdString(rec.scenarioText));
        QVERIFY(w.editor()->issues().isEmpty());
        w.historyView()->selectRow(0);
        action("Delete")->trigger();
        QCOMPARE(w.history()->rowCount(), 1);
        QCOMPARE(w.history()->runId(0), ids[1]);
        QTRY_COMPARE(w.charts()->accuracyPoints(ids[0]), -1);
        const auto left = app::RunStore(dir.filePath("runs.sqlite").toStdString()).runs();
        QCOMPARE(int(left.size()), 1);
        QCOMPARE(left[0].id, ids[1]);
        QVERIFY(app::RunStore(dir.filePath("runs.sqlite").toStdString()).samples(ids[0]).empty());
    }

    void badFieldShowsPathAndDoesNotStart()
    {
        QTemporaryDir dir;
        MainWindow w(options(dir));
        w.show();
        w.editor()->setText(QString::fromUtf8(readFile(kQuickstart)).replace("\"batch_size\"", "\"batchsize\""));
        QVERIFY(w.editor()->issues().join('\n').contains(
            "workload.batchsize: unknown key; did you mean \"batch_size\"?"));
        auto* issues = w.editor()->findChild<QListWidget*>("issues");
        QVERIFY(issues && issues->count() >= 1);
        QVERIFY(issues->item(0)->text().startsWith("workload.batchsize"));

        press(w, w.runAction());
        QCOMPARE(w.activeRuns(), 0);
        QVERIFY(w.banner()->isVisible());
        QVERIFY(w.banner()->text().contains("workload.batchsize"));
        QTest::qWait(300);
        QCOMPARE(w.history()->rowCount(), 0);
        QVERIFY(app::RunStore(dir.filePath("runs.sqlite").toStdString()).runs().empty());

        // As you type: make epochs too large in the JSON tab; the issue appears with its path.
        w.editor()->openFile(kQuickstart);
        QVERIFY(w.editor()->issues().isEmpty());
        auto* json = w.editor()->findChild<QPlainTextEdit*>("scenarioJson");
        QVERIFY(json);
        QTextCursor c(json->document());
        c = json->document()->find("\"epochs\": 4");
        QVERIFY(!c.isNull());
        c.clearSelection();
        json->setTextCursor(c);
        QTest::keyClicks(json, "0000000");
        QTRY_VERIFY(w.editor()->issues().join('\n').contains("run.epochs"));
        QVERIFY(!w.startRun());
        QCOMPARE(w.activeRuns(), 0);

        // The form writes the JSON: 4 workers.
        w.editor()->openFile(kQuickstart);
        auto* workers = w.editor()->findChild<QSpinBox*>("platform.workers");
        QVERIFY(workers);
        QCOMPARE(workers->value(), 8);
        workers->setValue(4);
        const app::Scenario s = app::parseScenario(w.editor()->text().toStdString());
        QCOMPARE(s.sim.platform.workers, 4);
        QCOMPARE(s.name, std::string("Quickstart: synchronous parameter server, 8 workers, Fashion-MNIST"));

        // Compression in the form: lesson 9's top-k with DGC reads back; the tri-state error feedback box leaves
        // the key out in its middle state and writes false when unchecked; privacy fields write the JSON.
        w.editor()->openFile(DMLSIM_SOURCE_DIR "/scenarios/lessons/9-compression.json");
        auto* comp = w.editor()->findChild<QComboBox*>("strategy.compression.type");
        auto* dgc = w.editor()->findChild<QCheckBox*>("strategy.compression.momentum_correction");
        auto* ef = w.editor()->findChild<QCheckBox*>("strategy.compression.error_feedback");
        QVERIFY(comp && dgc && ef);
        QCOMPARE(comp->currentText(), QString("topk"));
        QVERIFY(dgc->isChecked());
        QCOMPARE(ef->checkState(), Qt::PartiallyChecked);
        ef->setCheckState(Qt::Checked);
        dgc->setChecked(false);
        app::Scenario sc = app::parseScenario(w.editor()->text().toStdString());
        QVERIFY(sc.sim.strategy.compression.errorFeedback);
        QVERIFY(!sc.sim.strategy.compression.momentumCorrection);
        comp->setCurrentText("powersgd");
        QMetaObject::invokeMethod(comp, "activated", Q_ARG(int, comp->currentIndex()));
        ef->setCheckState(Qt::Unchecked);
        sc = app::parseScenario(w.editor()->text().toStdString());
        QVERIFY(sc.sim.strategy.compression.kind == dml::compression::CompressionSpec::Kind::PowerSgd);
        QVERIFY(!sc.sim.strategy.compression.errorFeedback); // written as false, not left to powersgd's default
        w.editor()->openFile(DMLSIM_SOURCE_DIR "/scenarios/lessons/10-privacy-costs-accuracy.json");
        auto* noise = w.editor()->findChild<QLineEdit*>("strategy.privacy.noise_multiplier");
        QVERIFY(noise);
        QCOMPARE(noise->text(), QString("1"));
        noise->setText("4");
        emit noise->textEdited("4");
        QCOMPARE(app::parseScenario(w.editor()->text().toStdString()).sim.strategy.privacy.noiseMultiplier, 4.0);
    }

    void eventLoopNeverBlocked()
    {
        QTemporaryDir dir;
        MainWindow w(options(dir));
        w.show();
        QVERIFY(QTest::qWaitForWindowExposed(&w));
        w.editor()->openFile(kQuickstart);
        QSignalSpy ended(&w, &MainWindow::runEnded);

        QElapsedTimer clock;
        qint64 last = 0, worst = 0, ticks = 0;
        QTimer timer;
        timer.setTimerType(Qt::PreciseTimer);
        timer.setInterval(10);
        connect(&timer, &QTimer::timeout, [&] {
            const qint64 now = clock.elapsed();
            worst = std::max(worst, now - last);
            last = now;
            ++ticks;
        });
        clock.start();
        timer.start();
        QVERIFY(w.startRun());
        QTRY_COMPARE_WITH_TIMEOUT(ended.size(), 1, waitMs(60000));
        QTest::qWait(500); // the final redraws and the topology of the finished run
        timer.stop();
        qInfo("event loop: %lld ticks in %lld ms, longest gap %lld ms; %d chart redraws", ticks, clock.elapsed(),
              worst, w.charts()->replots());
        QCOMPARE(ended.first().at(1).toString(), QString("finished"));
        QVERIFY(w.charts()->replots() >= 2);
        // A wall-clock bound on the optimised build. Under DMLSIM_TEST_TIME_SCALE (./setup.sh asan: every Qt and
        // chart call instrumented, at nice 19 on a shared machine) the gap is only reported above: 814 ms there.
        if (test::timeScale() == 1)
            QVERIFY2(worst <= 100, qPrintable(QString("the event loop was blocked for %1 ms").arg(worst)));
    }

    void jobsSideBySide()
    {
        // Issue 17: a scenario with several jobs runs in one child; its jobs' runs appear side by side.
        QTemporaryDir dir;
        MainWindow w(options(dir));
        w.show();
        QString text = QString::fromUtf8(test::kTiny).trimmed();
        text.chop(1); // the closing brace
        text += ", \"jobs\": [{\"name\": \"a\"}, {\"name\": \"b\", \"start\": \"50ms\"}]}";
        QFile f(dir.filePath("jobs.json"));
        QVERIFY(f.open(QIODevice::WriteOnly) && f.write(text.toUtf8()) > 0);
        f.close();
        QVERIFY(w.editor()->openFile(f.fileName()));
        QVERIFY2(w.editor()->issues().isEmpty(), qPrintable(w.editor()->issues().join("; ")));
        QVERIFY(w.startRun());
        QCOMPARE(w.activeRuns(), 1);
        QTRY_COMPARE_WITH_TIMEOUT(w.activeRuns(), 0, 60000 * test::timeScale());
        QCOMPARE(w.history()->rowCount(), 2);
        for (int row = 0; row < 2; ++row) {
            const long long id = w.history()->runId(row);
            QVERIFY(w.history()->isOverlaid(id));
            QTRY_VERIFY_WITH_TIMEOUT(w.charts()->accuracyPoints(id) >= 2, 10000);
        }
        QVERIFY(!w.banner()->isVisible());
    }

    void crashedChildMarksRunFailed()
    {
        QTemporaryDir dir;
        MainWindow w(options(dir));
        w.show();
        w.editor()->openFile(kQuickstart);
        // Slow the run down (1 simulated second per second) so that it is surely still running when killed.
        w.findChild<QComboBox*>("pace")->setCurrentIndex(2);
        QSignalSpy ended(&w, &MainWindow::runEnded);
        QVERIFY(w.startRun());
        QTRY_COMPARE_WITH_TIMEOUT(w.history()->rowCount(), 1, waitMs(30000));
        const QList<QProcess*> children = runChildren(w);
        QCOMPARE(children.size(), 1);
        ::kill(pid_t(children.first()->processId()), SIGKILL);
        QTRY_COMPARE_WITH_TIMEOUT(ended.size(), 1, waitMs(30000));
        QCOMPARE(ended.first().at(1).toString(), QString("failed"));
        QVERIFY(w.banner()->isVisible());
        QVERIFY2(w.banner()->text().contains("crashed"), qPrintable(w.banner()->text()));
        QTRY_COMPARE(w.history()->data(w.history()->index(0, HistoryModel::Status), Qt::DisplayRole).toString(),
                     QString("failed"));
        const auto runs = app::RunStore(dir.filePath("runs.sqlite").toStdString()).runs();
        QCOMPARE(runs.at(0).status, std::string("failed"));
    }

    void pauseStepAndClose()
    {
        QTemporaryDir dir;
        long long id = 0;
        {
            MainWindow w(options(dir));
            w.show();
            w.editor()->openFile(kQuickstart);
            w.findChild<QComboBox*>("pace")->setCurrentIndex(2); // 1 simulated s per s: the run lasts ~15 s
            QVERIFY(w.startRun());
            QTRY_COMPARE_WITH_TIMEOUT(w.history()->rowCount(), 1, waitMs(30000));
            id = w.history()->runId(0);
            const RunDataPtr run = w.focusRun();
            QVERIFY(run && run->id == id);
            QTRY_VERIFY_WITH_TIMEOUT(run->now() > 0, waitMs(20000));
            press(w, w.pauseAction());
            QCOMPARE(w.pauseAction()->text(), QString("Resume"));
            // Paused at the next step boundary: simulated time stops moving (the child may take longer than 400 ms
            // to get there under ASan: it did one more step in the next 600 ms).
            QTest::qWait(waitMs(400));
            const double pausedAt = run->now();
            QTest::qWait(600);
            QCOMPARE(run->now(), pausedAt);
            QCOMPARE(run->status, QString("paused"));
            QCOMPARE(w.activeRuns(), 1);
            // One more step, then paused again.
            press(w, w.stepAction());
            QTRY_VERIFY_WITH_TIMEOUT(run->now() > pausedAt, waitMs(10000));
            QTest::qWait(waitMs(300));
            const double stepped = run->now();
            QVERIFY(stepped - pausedAt < 0.1); // one quickstart step takes ~16 ms of simulated time
            QTest::qWait(400);
            QCOMPARE(run->now(), stepped);
            QCOMPARE(w.activeRuns(), 1);
            // Closing the window stops the child; the run does not stay "running".
            QVERIFY(w.close());
            QCOMPARE(w.activeRuns(), 0);
            QVERIFY(runChildren(w).isEmpty());
        }
        const app::RunRecord r = app::RunStore(dir.filePath("runs.sqlite").toStdString()).run(id);
        QVERIFY2(r.status != "running", r.status.c_str());
        QVERIFY(r.status == "failed" || r.summary.stopReason == "stopped");
    }
};

QTEST_MAIN(TestGui)
#include "tst_gui.moc"
