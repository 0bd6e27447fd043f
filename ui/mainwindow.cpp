// SPDX-License-Identifier: GPL-3.0-or-later
#include "mainwindow.h"

#include "chartspanel.h"
#include "historymodel.h"
#include "report.h"
#include "runprocess.h"
#include "runstore.h"
#include "scenario.h"
#include "scenarioeditor.h"
#include "topologyview.h"

#include <QAction>
#include <QApplication>
#include <QCloseEvent>
#include <QComboBox>
#include <QDockWidget>
#include <QElapsedTimer>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QHeaderView>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QProcess>
#include <QScreen>
#include <QStatusBar>
#include <QTableView>
#include <QTemporaryDir>
#include <QTextBrowser>
#include <QTimer>
#include <QToolBar>
#include <QVBoxLayout>

#include <algorithm>
#include <map>

namespace dml::ui {

struct MainWindow::Private {
    MainWindow* q;
    WorkbenchOptions options;
    std::unique_ptr<app::RunStore> store;
    QString storeError;

    ScenarioEditor* editor = nullptr;
    ChartsPanel* charts = nullptr;
    TimelineView* timeline = nullptr;
    TopologyView* topology = nullptr;
    HistoryModel* history = nullptr;
    QTableView* historyView = nullptr;
    QTextBrowser* lesson = nullptr;
    QLabel* banner = nullptr;
    QPlainTextEdit* log = nullptr;
    QComboBox* pace = nullptr;
    QComboBox* target = nullptr; // which live run the controls act on
    QLabel* storeLabel = nullptr;
    QLabel* runLabel = nullptr;

    QAction *run = nullptr, *pause = nullptr, *step = nullptr, *stop = nullptr;
    QAction *deleteRuns = nullptr, *reopen = nullptr;

    std::vector<RunProcess*> procs;          // children still running
    std::map<long long, RunDataPtr> runs;    // by run id: live runs and runs loaded from the store
    std::vector<RunDataPtr> pending;         // live runs without an id yet (shown on the charts all the same)
    RunDataPtr focus;
    QTemporaryDir tmp;
    int tmpCount = 0;
    QTimer* replot = nullptr;
    double fontScale = 1.0;              // lesson text and charts: 1.6 in presentation mode
    QAction* presentation = nullptr;
    QAction* saveAction = nullptr;
    QByteArray normalState, normalGeometry; // the layout to return to after presentation mode
    QDockWidget *editorDock = nullptr, *topoDock = nullptr, *lessonDock = nullptr, *timelineDock = nullptr,
                *historyDock = nullptr, *logDock = nullptr;

    void log_(const QString& line)
    {
        log->appendPlainText(line);
    }

    void showBanner(const QString& text)
    {
        banner->setText(text);
        banner->setVisible(!text.isEmpty());
    }

    RunProcess* current() const
    {
        const auto p = reinterpret_cast<RunProcess*>(target->currentData().value<quintptr>());
        for (RunProcess* r : procs)
            if (r == p)
                return r;
        return procs.empty() ? nullptr : procs.back();
    }

    void updateControls()
    {
        RunProcess* c = current();
        const bool live = c != nullptr;
        pause->setEnabled(live);
        step->setEnabled(live);
        stop->setEnabled(live);
        pause->setText(live && c->data()->status == "paused" ? "Resume" : "Pause");
        runLabel->setText(procs.empty() ? QString("No simulation running")
                                        : QString("%1 simulation%2 running").arg(procs.size()).arg(procs.size() > 1 ? "s" : ""));
        // The run selector lists the live children.
        const QSignalBlocker block(target);
        const auto keep = target->currentData();
        target->clear();
        for (RunProcess* p : procs)
            target->addItem(p->data()->label() + " (" + p->data()->status + ")", QVariant::fromValue(quintptr(p)));
        const int i = target->findData(keep);
        target->setCurrentIndex(i >= 0 ? i : target->count() - 1);
        target->setEnabled(!procs.empty());
    }

    void showLesson() { showLessonOf(editor->scenarioName(), editor->description()); }

    /// A scenario with several jobs (README "Several jobs on one platform"): one `dmlsim run FILE --json` child
    /// runs them all in one simulation. The stream protocol carries one run, so there is no live view; when the
    /// child ends, every job's stored run is listed in the history and overlaid in the charts, side by side, and
    /// the first job's is shown in the timeline and topology.
    QProcess* jobs = nullptr;
    bool startJobs(const QString& file, int count)
    {
        if (jobs) {
            showBanner("A scenario with several jobs is already running; wait for it to end");
            return false;
        }
        jobs = new QProcess(q);
        jobs->setProgram(options.executable);
        jobs->setArguments({"run", file, "--db", options.database, "--json"});
        QObject::connect(jobs, &QProcess::finished, q, [this](int code, QProcess::ExitStatus status) {
            const QByteArray out = jobs->readAllStandardOutput();
            const QList<QByteArray> err = jobs->readAllStandardError().trimmed().split('\n');
            jobs->deleteLater();
            jobs = nullptr;
            runLabel->setText(procs.empty() ? QString("No simulation running") : runLabel->text());
            reloadHistory();
            const QJsonObject o = QJsonDocument::fromJson(out.trimmed().split('\n').last()).object();
            if (status != QProcess::NormalExit || code != 0 || !o["jobs"].isArray()) {
                const QString why = err.isEmpty() ? QString("exit %1").arg(code) : QString::fromUtf8(err.last());
                showBanner("The jobs did not run: " + why);
                log_("Jobs failed: " + why);
                return;
            }
            // The jobs' runs replace the finished runs in the charts (pinned ones stay), as a new run does.
            for (int row = 0; row < history->rowCount(); ++row) {
                const long long id = history->runId(row);
                if (history->isOverlaid(id) && !history->isPinned(id))
                    history->setOverlaid(id, false);
            }
            QStringList lines;
            RunDataPtr first;
            for (const QJsonValue& j : o["jobs"].toArray()) {
                const long long id = (long long)j["run_id"].toDouble();
                history->setOverlaid(id, true);
                if (!first)
                    first = loadRun(id);
                lines << QString("#%1 %2").arg(id).arg(j["job"].toString());
            }
            if (first)
                setFocus(first);
            updateShownRuns();
            log_(QString("%1 jobs finished, side by side in the charts (makespan %2 s): %3")
                     .arg(lines.size())
                     .arg(o["combined"].toObject()["makespan"].toDouble(), 0, 'g', 6)
                     .arg(lines.join(", ")));
        });
        jobs->start();
        runLabel->setText(QString("%1 jobs running in one simulation (their runs appear when it ends)").arg(count));
        log_("Started " + QFileInfo(file).fileName() + ": " + editor->scenarioName() + QString(", %1 jobs").arg(count));
        return true;
    }

    /// Applies a lesson's "presentation" hints that do not change the layout: its pace, chart tab, the series the
    /// Series tab charts and the hosts and links the topology highlights. Without hints, every series is charted
    /// and nothing is highlighted.
    void applyHints(const app::PresentationHints& hints)
    {
        QStringList highlight;
        for (const std::string& h : hints.highlight)
            highlight << QString::fromStdString(h);
        topology->setHighlight(highlight);
        charts->setSeriesFilter(QString::fromStdString(hints.series));
        if (!hints.given)
            return;
        const int preset = pace->findData(hints.pace);
        if (preset >= 0)
            pace->setCurrentIndex(preset);
        charts->showTab(QString::fromStdString(hints.tab));
    }

    /// The editor's scenario's hints (defaults when it does not parse).
    app::PresentationHints editorHints() const
    {
        try {
            return app::parseScenario(editor->text().toStdString()).presentation;
        } catch (const std::exception&) {
            return {};
        }
    }

    /// The lesson panel shows this scenario's name and description (the editor's, or a selected stored run's).
    void showLessonOf(const QString& scenarioName, const QString& description)
    {
        const QString name = scenarioName.toHtmlEscaped();
        const QString desc = description.toHtmlEscaped();
        lesson->setHtml(QString("<h2 style='font-size:%3pt'>%1</h2><p style='font-size:%4pt; line-height:130%'>%2</p>")
                            .arg(name.isEmpty() ? QString("(unnamed scenario)") : name,
                                 desc.isEmpty() ? QString("<i>This scenario has no description.</i>") : desc)
                            .arg(17 * fontScale)
                            .arg(13 * fontScale));
    }

    bool ensureStore()
    {
        if (store)
            return true;
        try {
            store = std::make_unique<app::RunStore>(options.database.toStdString());
            storeError.clear();
        } catch (const std::exception& e) {
            storeError = QString::fromUtf8(e.what());
        }
        storeLabel->setText(store ? "Run store: " + options.database : "Run store: " + storeError);
        return bool(store);
    }

    void reloadHistory()
    {
        history->reload(store.get());
        if (!history->lastError().isEmpty())
            log_(history->lastError());
    }

    /// The charts show every overlaid run and every live run.
    void updateShownRuns()
    {
        std::vector<RunDataPtr> shown;
        for (int row = 0; row < history->rowCount(); ++row) {
            const long long id = history->runId(row);
            if (history->isOverlaid(id) && runs.count(id))
                shown.push_back(runs[id]);
        }
        for (const RunDataPtr& p : pending)
            shown.push_back(p);
        charts->setRuns(shown);
    }

    /// Reads a stored run (samples, host statistics, timeline, series) into a RunData.
    RunDataPtr loadRun(long long id)
    {
        auto found = runs.find(id);
        if (found != runs.end())
            return found->second;
        if (!store)
            return {};
        auto data = std::make_shared<RunData>();
        try {
            const app::RunRecord rec = store->run(id);
            data->id = id;
            data->name = QString::fromStdString(rec.name);
            data->status = QString::fromStdString(rec.interrupted ? "interrupted" : rec.status);
            data->error = QString::fromStdString(rec.error);
            data->samples = store->samples(id);
            data->hostStats = store->hostStats(id);
            data->linkStats = store->linkStats(id);
            for (const HostStats& h : data->hostStats)
                data->hosts.push_back({QString::fromStdString(h.name), QString::fromStdString(h.role)});
            data->addSpans(store->timeline(id));
            for (auto& [name, points] : store->series(id))
                data->series[QString::fromStdString(name)] = points;
            data->labelHistogram = store->labelHistogram(id);
            data->summary = rec.summary;
            data->hasSummary = rec.status == "finished";
            // The platform for the topology view, from the stored scenario text.
            const QString file = tmp.filePath(QString("run-%1.json").arg(id));
            QFile f(file);
            if (f.open(QIODevice::WriteOnly)) {
                f.write(QByteArray::fromStdString(rec.scenarioText));
                f.close();
                std::weak_ptr<RunData> weak = data;
                queryPlatform(options.executable, file, q, [weak](const QJsonObject& graph) {
                    if (auto d = weak.lock(); d && !graph.isEmpty())
                        d->setPlatform(graph);
                });
            }
        } catch (const std::exception& e) {
            log_(QString::fromUtf8(e.what()));
            return {};
        }
        runs[id] = data;
        return data;
    }

    void setFocus(const RunDataPtr& run)
    {
        focus = run;
        charts->setFocusRun(run);
        timeline->setRun(run);
        topology->setRun(run);
    }

    void onStarted(RunProcess* p)
    {
        const RunDataPtr& data = p->data();
        std::erase(pending, data);
        runs[data->id] = data;
        reloadHistory();
        // The new run is ticked and the finished ones are unticked unless pinned (tick them again to compare): the
        // charts' axes then fit the run being watched instead of squeezing it beside a longer old one.
        for (int row = 0; row < history->rowCount(); ++row) {
            const long long id = history->runId(row);
            const bool live = std::any_of(procs.begin(), procs.end(),
                                          [id](RunProcess* r) { return r->data()->id == id; });
            if (id != data->id && !live && history->isOverlaid(id) && !history->isPinned(id))
                history->setOverlaid(id, false);
        }
        history->setOverlaid(data->id, true);
        log_(QString("Run #%1 started: %2").arg(data->id).arg(data->name));
        updateControls();
    }

    void onFinished(RunProcess* p)
    {
        const RunDataPtr data = p->data();
        std::erase(procs, p);
        std::erase(pending, data);
        if (data->status == "failed") {
            if (p->crashed() && data->id > 0 && store) {
                try {
                    store->failRun(data->id, data->error.toStdString(), p->wallSeconds());
                } catch (const std::exception& e) {
                    log_(QString::fromUtf8(e.what()));
                }
            }
            const QString where = data->errorPath.isEmpty() ? QString() : " [" + data->errorPath + "]";
            const QString what = QString("%1 failed%2: %3")
                                     .arg(data->id > 0 ? QString("Run #%1").arg(data->id) : QString("The run"))
                                     .arg(where, data->error);
            showBanner(what);
            log_(what);
        } else {
            log_(QString("Run #%1 finished (%2)").arg(data->id).arg(QString::fromStdString(data->summary.stopReason)));
        }
        reloadHistory();
        updateShownRuns();
        updateControls();
        p->deleteLater();
        emit q->runEnded(data->id, data->status);
    }
};

MainWindow::MainWindow(const WorkbenchOptions& options, QWidget* parent)
    : QMainWindow(parent), d(std::make_unique<Private>())
{
    d->q = this;
    d->options = options;
    setWindowTitle("dmlsim — distributed machine learning, simulated");
    setDockNestingEnabled(true);

    // Central: the error banner over the charts.
    auto* central = new QWidget;
    auto* cl = new QVBoxLayout(central);
    cl->setContentsMargins(2, 2, 2, 2);
    d->banner = new QLabel;
    d->banner->setObjectName("banner");
    d->banner->setWordWrap(true);
    d->banner->setTextInteractionFlags(Qt::TextSelectableByMouse);
    d->banner->setStyleSheet("background: #fde2e2; color: #8a1111; border: 1px solid #d88; padding: 6px; "
                             "font-weight: bold");
    d->banner->hide();
    cl->addWidget(d->banner);
    d->charts = new ChartsPanel;
    cl->addWidget(d->charts, 1);
    setCentralWidget(central);

    auto dock = [this](const QString& title, const QString& name, QWidget* w, Qt::DockWidgetArea area) {
        auto* dw = new QDockWidget(title, this);
        dw->setObjectName(name);
        dw->setWidget(w);
        addDockWidget(area, dw);
        return dw;
    };
    d->editor = new ScenarioEditor;
    d->editor->setScenarioDirs(options.scenarioDirs);
    QDockWidget* editorDock = dock("Scenario", "scenarioDock", d->editor, Qt::LeftDockWidgetArea);
    d->topology = new TopologyView;
    QDockWidget* topoDock = dock("Topology", "topologyDock", d->topology, Qt::RightDockWidgetArea);
    d->lesson = new QTextBrowser;
    d->lesson->setObjectName("lesson");
    d->lesson->setOpenExternalLinks(true);
    QDockWidget* lessonDock = dock("Lesson", "lessonDock", d->lesson, Qt::RightDockWidgetArea);
    d->timeline = new TimelineView;
    QDockWidget* timelineDock = dock("Timeline", "timelineDock", d->timeline, Qt::BottomDockWidgetArea);

    d->history = new HistoryModel(this);
    d->historyView = new QTableView;
    d->historyView->setObjectName("historyView");
    d->historyView->setModel(d->history);
    d->historyView->setSelectionBehavior(QAbstractItemView::SelectRows);
    d->historyView->setSelectionMode(QAbstractItemView::ExtendedSelection);
    d->historyView->verticalHeader()->hide();
    d->historyView->horizontalHeader()->setStretchLastSection(true);
    d->historyView->setAlternatingRowColors(true);
    d->historyView->setContextMenuPolicy(Qt::ActionsContextMenu);
    auto* historyPage = new QWidget;
    auto* hl = new QVBoxLayout(historyPage);
    hl->setContentsMargins(2, 2, 2, 2);
    auto* hint = new QLabel("Tick runs to overlay them on the charts; select one to see its hosts and timeline.");
    hint->setWordWrap(true);
    hl->addWidget(hint);
    hl->addWidget(d->historyView);
    QDockWidget* historyDock = dock("Run history", "historyDock", historyPage, Qt::BottomDockWidgetArea);

    d->log = new QPlainTextEdit;
    d->log->setObjectName("messages");
    d->log->setReadOnly(true);
    d->log->setMaximumBlockCount(2000);
    QDockWidget* logDock = dock("Messages", "messagesDock", d->log, Qt::BottomDockWidgetArea);

    d->editorDock = editorDock;
    d->topoDock = topoDock;
    d->lessonDock = lessonDock;
    d->timelineDock = timelineDock;
    d->historyDock = historyDock;
    d->logDock = logDock;
    splitDockWidget(topoDock, lessonDock, Qt::Vertical);
    splitDockWidget(timelineDock, historyDock, Qt::Horizontal);
    tabifyDockWidget(historyDock, logDock);
    historyDock->raise();
    resizeDocks({editorDock, topoDock}, {400, 500}, Qt::Horizontal);
    resizeDocks({topoDock, lessonDock}, {560, 300}, Qt::Vertical);
    resizeDocks({timelineDock}, {280}, Qt::Vertical);
    resizeDocks({timelineDock, historyDock}, {900, 700}, Qt::Horizontal);
    d->historyView->setColumnWidth(HistoryModel::Id, 70);
    d->historyView->setColumnWidth(HistoryModel::Name, 260);

    // Actions, menus and the run tool bar.
    QMenu* file = menuBar()->addMenu("&File");
    QAction* open = file->addAction("&Open scenario...", QKeySequence::Open, this, [this] {
        const QString f = QFileDialog::getOpenFileName(this, "Open scenario", {}, "Scenarios (*.json)");
        if (!f.isEmpty())
            d->editor->openFile(f);
    });
    QAction* save = d->saveAction = file->addAction("&Save scenario", QKeySequence::Save, this, [this] {
        if (d->editor->fileName().isEmpty() || !d->editor->save()) {
            const QString f = QFileDialog::getSaveFileName(this, "Save scenario", {}, "Scenarios (*.json)");
            if (!f.isEmpty() && !d->editor->saveAs(f))
                d->showBanner("Cannot write " + f);
        }
    });
    file->addAction("Save scenario &as...", QKeySequence::SaveAs, this, [this] {
        const QString f = QFileDialog::getSaveFileName(this, "Save scenario", {}, "Scenarios (*.json)");
        if (!f.isEmpty() && !d->editor->saveAs(f))
            d->showBanner("Cannot write " + f);
    });
    file->addSeparator();
    file->addAction("Open run &store...", this, [this] {
        const QString f = QFileDialog::getSaveFileName(this, "Open or create a run store", d->options.database,
                                                       "Run stores (*.sqlite)", nullptr,
                                                       QFileDialog::DontConfirmOverwrite);
        if (!f.isEmpty())
            openStore(f);
    });
    file->addSeparator();
    file->addAction("&Quit", QKeySequence::Quit, this, [this] {
        if (confirmDiscard())
            close();
    });

    QMenu* runMenu = menuBar()->addMenu("&Run");
    d->run = runMenu->addAction("▶ Run", QKeySequence(Qt::Key_F5), this, [this] { startRun(); });
    QAction* play = runMenu->addAction("Play &lesson", QKeySequence(Qt::CTRL | Qt::Key_L), this, [this] { playLesson(); });
    play->setToolTip("Presentation mode at the lesson's pace, then run (the scenario's \"presentation\" hints)");
    d->run->setToolTip("Run the scenario in the editor (F5); several runs may go at once");
    d->pause = runMenu->addAction("Pause", QKeySequence(Qt::Key_F6), this, [this] {
        if (RunProcess* p = d->current()) {
            const bool paused = p->data()->status == "paused";
            p->command(paused ? "resume" : "pause");
            // The child acknowledges with a state event; show the request at once all the same.
            p->data()->status = paused ? "running" : "paused";
            d->updateControls();
        }
    });
    d->step = runMenu->addAction("Step", QKeySequence(Qt::Key_F7), this, [this] {
        if (RunProcess* p = d->current()) {
            p->command("step");
            p->data()->status = "paused";
            d->updateControls();
        }
    });
    d->step->setToolTip("Run one more global step, then pause");
    d->stop = runMenu->addAction("■ Stop", QKeySequence(Qt::Key_F8), this, [this] {
        if (RunProcess* p = d->current())
            p->command("stop");
    });
    d->stop->setToolTip("End the run: it is stored as finished, stop reason \"stopped\"");

    QMenu* historyMenu = menuBar()->addMenu("&History");
    d->reopen = historyMenu->addAction("Re-open the run's &scenario", this, [this] {
        const QModelIndex i = d->historyView->currentIndex();
        if (!i.isValid())
            return;
        const app::RunRecord& r = d->history->record(i.row());
        d->editor->setText(QString::fromStdString(r.scenarioText));
        d->log_(QString("Scenario of run #%1 loaded into the editor (unsaved).").arg(r.id));
    });
    d->deleteRuns = historyMenu->addAction("&Delete selected runs", QKeySequence::Delete, this, [this] {
        if (!d->store)
            return;
        QList<long long> ids;
        for (const QModelIndex& i : d->historyView->selectionModel()->selectedRows())
            ids << d->history->runId(i.row());
        for (long long id : ids) {
            bool live = false;
            for (RunProcess* p : d->procs)
                live = live || p->data()->id == id;
            if (live) {
                d->log_(QString("Run #%1 is still running: stop it before deleting it.").arg(id));
                continue;
            }
            try {
                d->store->deleteRun(id);
            } catch (const std::exception& e) {
                d->log_(QString::fromUtf8(e.what()));
            }
            d->history->setOverlaid(id, false);
            if (d->focus && d->focus->id == id)
                d->setFocus({});
            d->runs.erase(id);
        }
        d->reloadHistory();
        d->updateShownRuns();
    });
    QAction* exportReport = historyMenu->addAction("&Export report...", this, [this] {
        // The selected runs, or the overlaid ones if none is selected.
        std::vector<long long> ids;
        for (const QModelIndex& i : d->historyView->selectionModel()->selectedRows())
            ids.push_back(d->history->runId(i.row()));
        if (ids.empty())
            for (long long id : d->history->overlaid())
                ids.push_back(id);
        std::sort(ids.begin(), ids.end());
        if (ids.empty() || !d->store) {
            d->showBanner("Select the runs to report on in the run history first.");
            return;
        }
        const QString f = QFileDialog::getSaveFileName(this, "Export report", "report.html",
                                                       "HTML (*.html);;PDF (*.pdf);;CSV (*.csv)");
        if (f.isEmpty())
            return;
        try {
            app::writeReport(*d->store, ids, f);
            d->log_(QString("Report on %1 run%2 written to %3").arg(ids.size()).arg(ids.size() > 1 ? "s" : "").arg(f));
        } catch (const std::exception& e) {
            d->showBanner("Cannot export the report: " + QString::fromUtf8(e.what()));
        }
    });
    exportReport->setToolTip("Write an HTML, PDF or CSV report comparing the selected runs");
    d->deleteRuns->setShortcutContext(Qt::WidgetWithChildrenShortcut);
    d->historyView->addAction(d->reopen);
    d->historyView->addAction(d->deleteRuns);
    d->historyView->addAction(exportReport);

    QMenu* view = menuBar()->addMenu("&View");
    d->presentation = view->addAction("&Presentation mode", QKeySequence(Qt::Key_F11), this,
                                      [this](bool on) { setPresentationMode(on); });
    d->presentation->setCheckable(true);
    d->presentation->setToolTip("Full screen, large fonts, only the charts, the topology and the lesson (F11)");
    addAction(d->presentation); // F11 works with the menu bar hidden too
    view->addAction("Fit the topology", this, [this] { d->topology->fit(); });
    view->addSeparator();
    for (QDockWidget* w : {editorDock, topoDock, lessonDock, timelineDock, historyDock, logDock})
        view->addAction(w->toggleViewAction());

    QToolBar* bar = addToolBar("Run controls");
    bar->setObjectName("runControls");
    bar->setToolButtonStyle(Qt::ToolButtonTextOnly);
    QFont big = bar->font();
    big.setPointSize(big.pointSize() + 1);
    big.setBold(true);
    bar->setFont(big);
    bar->addAction(open);
    bar->addAction(save);
    bar->addSeparator();
    bar->addAction(d->run);
    bar->addAction(d->pause);
    bar->addAction(d->step);
    bar->addAction(d->stop);
    bar->addSeparator();
    bar->addWidget(new QLabel(" Pace: "));
    d->pace = new QComboBox;
    d->pace->setObjectName("pace");
    d->pace->addItem("as fast as possible", 0.0);
    d->pace->addItem("10 simulated s per s", 10.0);
    d->pace->addItem("1 simulated s per s", 1.0);
    d->pace->addItem("0.1 simulated s per s", 0.1);
    d->pace->addItem("0.01 simulated s per s", 0.01);
    d->pace->addItem("0.001 simulated s per s", 0.001);
    d->pace->setToolTip("Simulated seconds per wall-clock second: slow runs down for teaching");
    bar->addWidget(d->pace);
    connect(d->pace, &QComboBox::activated, this, [this] {
        const double pace = d->pace->currentData().toDouble();
        for (RunProcess* p : d->procs)
            p->command(QString("pace %1").arg(pace));
    });
    // At slow paces the topology draws the messages travelling.
    connect(d->pace, &QComboBox::currentIndexChanged, this,
            [this] { d->topology->setPace(d->pace->currentData().toDouble()); });
    bar->addSeparator();
    bar->addWidget(new QLabel(" Controls act on: "));
    d->target = new QComboBox;
    d->target->setMinimumContentsLength(24);
    d->target->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    bar->addWidget(d->target);
    connect(d->target, &QComboBox::activated, this, [this] { d->updateControls(); });

    d->storeLabel = new QLabel;
    d->runLabel = new QLabel;
    statusBar()->addWidget(d->runLabel);
    statusBar()->addPermanentWidget(d->storeLabel);

    // Opening a lesson applies its presentation hints (pace, tab, series, highlights).
    connect(d->editor, &ScenarioEditor::fileChanged, this, [this] { d->applyHints(d->editorHints()); });
    connect(d->editor, &ScenarioEditor::scenarioChanged, this, [this] {
        d->showLesson();
        // A "cannot run" banner goes once the scenario it complained about is valid again.
        if (d->banner->text().startsWith("The scenario cannot run") && d->editor->issues().isEmpty())
            d->showBanner({});
    });
    auto* leave = new QAction(this); // Esc leaves presentation mode
    leave->setShortcut(Qt::Key_Escape);
    connect(leave, &QAction::triggered, this, [this] { setPresentationMode(false); });
    addAction(leave);
    connect(d->history, &HistoryModel::overlayToggled, this, [this](long long id, bool on) {
        if (on && !d->loadRun(id))
            return;
        if (!on) {
            auto it = d->runs.find(id);
            if (it != d->runs.end() && !it->second->live && it->second != d->focus)
                d->runs.erase(it); // loaded from the store: read again when needed
        }
        d->updateShownRuns();
    });
    connect(d->historyView->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
            [this](const QModelIndex& i) {
                if (!i.isValid())
                    return;
                if (RunDataPtr r = d->loadRun(d->history->runId(i.row()))) {
                    d->setFocus(r);
                    // The lesson panel follows the selected run: its own scenario's name and description.
                    const QJsonObject sc =
                        QJsonDocument::fromJson(QByteArray::fromStdString(d->history->record(i.row()).scenarioText)).object();
                    d->showLessonOf(sc["name"].toString(), sc["description"].toString());
                }
            });

    // One timer folds every change into at most 25 redraws per second.
    d->replot = new QTimer(this);
    d->replot->setInterval(40);
    connect(d->replot, &QTimer::timeout, this, [this] {
        d->charts->refresh();
        d->timeline->refresh();
        d->topology->refresh();
    });
    d->replot->start();

    d->ensureStore();
    d->reloadHistory();
    d->updateControls();
    d->showLesson();
    // Start with the quickstart (or the first shipped scenario) in the editor.
    for (const QString& dir : options.scenarioDirs)
        if (QFile::exists(dir + "/quickstart.json")) {
            d->editor->openFile(dir + "/quickstart.json");
            break;
        }
    // 1680 x 1020 where it fits; on a smaller screen (a 1280 x 720 projector) the screen's available area, with the
    // timeline tabbed beside the run history so that the charts keep their height.
    QSize size(1680, 1020);
    if (const QScreen* s = screen())
        size = size.boundedTo(s->availableGeometry().size());
    if (size.height() < 900) {
        tabifyDockWidget(timelineDock, historyDock);
        tabifyDockWidget(historyDock, logDock);
        timelineDock->raise();
    }
    resize(size);
    // The side docks take fixed shares of the width, the bottom ones of the height, whatever the screen.
    resizeDocks({editorDock, topoDock}, {size.width() * 22 / 100, size.width() * 26 / 100}, Qt::Horizontal);
    resizeDocks({timelineDock}, {size.height() * 27 / 100}, Qt::Vertical);
    resizeDocks({topoDock, lessonDock}, {size.height() * 55 / 100, size.height() * 45 / 100}, Qt::Vertical);
}

void MainWindow::setPresentationMode(bool on, const QStringList& panels)
{
    if (on == presentationMode())
        return;
    d->presentation->setChecked(on);
    if (on) {
        d->normalState = saveState();
        d->normalGeometry = saveGeometry();
        const std::pair<QString, QDockWidget*> named[] = {{"topology", d->topoDock}, {"lesson", d->lessonDock},
                                                          {"timeline", d->timelineDock}, {"history", d->historyDock}};
        for (QDockWidget* w : {d->editorDock, d->logDock})
            w->hide();
        for (const auto& [name, w] : named)
            w->setVisible(panels.contains(name));
        d->fontScale = 1.6;
        menuBar()->hide();
        showFullScreen();
        // A bottom panel (timeline, history) keeps to a quarter of the screen: the charts are the lesson's subject.
        const int h = screen() ? screen()->geometry().height() : height();
        for (QDockWidget* w : {d->timelineDock, d->historyDock})
            if (w->isVisible())
                resizeDocks({w}, {h / 4}, Qt::Vertical);
        const int wd = screen() ? screen()->geometry().width() : width();
        resizeDocks({d->topoDock}, {wd * 28 / 100}, Qt::Horizontal);
    } else {
        d->fontScale = 1.0;
        menuBar()->show();
        showNormal();
        restoreState(d->normalState);
        restoreGeometry(d->normalGeometry);
    }
    d->charts->setFontScale(d->fontScale);
    d->showLesson();
}

bool MainWindow::playLesson()
{
    if (!d->editor->issues().isEmpty())
        return startRun(); // startRun shows what is wrong
    const app::PresentationHints hints = d->editorHints();
    QStringList panels;
    for (const std::string& p : hints.panels)
        panels << QString::fromStdString(p);
    setPresentationMode(false);
    setPresentationMode(true, panels);
    d->applyHints(hints);
    return startRun();
}

double MainWindow::pace() const
{
    return d->pace->currentData().toDouble();
}

bool MainWindow::presentationMode() const
{
    return d->fontScale > 1.0;
}

QTextBrowser* MainWindow::lessonView() const
{
    return d->lesson;
}

MainWindow::~MainWindow()
{
    for (RunProcess* p : d->procs) {
        p->disconnect(this);
        p->terminate(500);
    }
    for (QProcess* p : findChildren<QProcess*>(Qt::FindDirectChildrenOnly)) // platform queries
        if (p->state() != QProcess::NotRunning) {
            p->disconnect();
            p->kill();
            p->waitForFinished(2000);
        }
}

RunDataPtr MainWindow::focusRun() const
{
    return d->focus;
}

bool MainWindow::startRun()
{
    if (!d->editor->validate()) {
        const QStringList issues = d->editor->issues();
        d->showBanner(QString("The scenario cannot run: %1").arg(issues.join("; ")));
        return false;
    }
    if (!d->ensureStore()) {
        d->showBanner(d->storeError);
        return false;
    }
    // The child reads the scenario from a file: the editor's own file if unmodified, else a snapshot.
    QString file = d->editor->fileName();
    if (file.isEmpty() || d->editor->isModified()) {
        file = d->tmp.filePath(QString("scenario-%1.json").arg(++d->tmpCount));
        QFile f(file);
        if (!f.open(QIODevice::WriteOnly) || f.write(d->editor->text().toUtf8()) < 0) {
            d->showBanner("Cannot write " + file);
            return false;
        }
    }
    d->showBanner({});
    const QJsonValue jobs = QJsonDocument::fromJson(d->editor->text().toUtf8()).object()["jobs"];
    if (jobs.isArray())
        return d->startJobs(file, int(jobs.toArray().size()));
    auto* p = new RunProcess(d->options.executable, file, d->options.database, this);
    p->data()->name = d->editor->scenarioName();
    connect(p, &RunProcess::started, this, [this, p] { d->onStarted(p); });
    connect(p, &RunProcess::finished, this, [this, p] { d->onFinished(p); });
    connect(p, &RunProcess::stateChanged, this, [this] { d->updateControls(); });
    d->procs.push_back(p);
    d->pending.push_back(p->data());
    d->setFocus(p->data());
    d->updateShownRuns();
    p->start(d->pace->currentData().toDouble());
    d->target->addItem(p->data()->label(), QVariant::fromValue(quintptr(p)));
    d->target->setCurrentIndex(d->target->count() - 1);
    d->updateControls();
    d->log_("Started " + QFileInfo(file).fileName() + ": " + d->editor->scenarioName());
    return true;
}

int MainWindow::activeRuns() const
{
    return int(d->procs.size()) + (d->jobs ? 1 : 0);
}

bool MainWindow::openStore(const QString& file)
{
    for (auto& [id, data] : d->runs)
        d->history->setOverlaid(id, false);
    d->store.reset();
    d->options.database = file;
    const bool ok = d->ensureStore();
    d->runs.clear();
    d->setFocus({});
    d->reloadHistory();
    d->updateShownRuns();
    if (!ok)
        d->showBanner(d->storeError);
    return ok;
}

bool MainWindow::confirmDiscard()
{
    if (!d->editor->isModified())
        return true;
    QMessageBox box(QMessageBox::Question, "Unsaved scenario",
                    "The scenario in the editor has changes that are not saved in a file.",
                    QMessageBox::Save | QMessageBox::Discard | QMessageBox::Cancel, this);
    box.setObjectName("unsavedPrompt");
    box.setDefaultButton(QMessageBox::Save);
    switch (box.exec()) {
    case QMessageBox::Save:
        d->saveAction->trigger();
        return !d->editor->isModified();
    case QMessageBox::Discard: return true;
    default: return false;
    }
}

void MainWindow::closeEvent(QCloseEvent* e)
{
    // The user closing the window (not a program calling close()) is asked about unsaved edits first.
    if (e->spontaneous() && !confirmDiscard()) {
        e->ignore();
        return;
    }
    // Closing the window stops the children: ask them to stop, then end those that do not within a second.
    for (RunProcess* p : d->procs)
        p->command("stop");
    QElapsedTimer t;
    t.start();
    while (!d->procs.empty() && t.elapsed() < 1000)
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 50);
    const std::vector<RunProcess*> left = d->procs;
    for (RunProcess* p : left)
        p->terminate(1000); // its finished() marks the run failed in the store
    QCoreApplication::processEvents();
    e->accept();
}

ScenarioEditor* MainWindow::editor() const { return d->editor; }
ChartsPanel* MainWindow::charts() const { return d->charts; }
TimelineView* MainWindow::timeline() const { return d->timeline; }
TopologyView* MainWindow::topology() const { return d->topology; }
HistoryModel* MainWindow::history() const { return d->history; }
QTableView* MainWindow::historyView() const { return d->historyView; }
QAction* MainWindow::runAction() const { return d->run; }
QAction* MainWindow::pauseAction() const { return d->pause; }
QAction* MainWindow::stepAction() const { return d->step; }
QAction* MainWindow::stopAction() const { return d->stop; }
QLabel* MainWindow::banner() const { return d->banner; }

} // namespace dml::ui
