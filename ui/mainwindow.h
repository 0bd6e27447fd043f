// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The workbench's main window: dockable scenario editor, topology, timeline, run history and lesson panels around
// the live charts; run controls in the tool bar. Simulations run as child processes (RunProcess).
#include "rundata.h"
#include "workbench.h"

#include <QMainWindow>

#include <memory>

class QAction;
class QCloseEvent;
class QTableView;
class QLabel;
class QTextBrowser;

namespace dml::ui {

class ChartsPanel;
class HistoryModel;
class ScenarioEditor;
class TimelineView;
class TopologyView;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    explicit MainWindow(const WorkbenchOptions& options, QWidget* parent = nullptr);
    ~MainWindow() override;

    /// Validates the editor's scenario and starts it in a child process. Returns false (showing why) if the
    /// scenario has problems or the store cannot be opened.
    bool startRun();
    /// Number of child simulations still running.
    int activeRuns() const;
    /// Opens another run store (the history shows its runs).
    bool openStore(const QString& file);

    ScenarioEditor* editor() const;
    ChartsPanel* charts() const;
    TimelineView* timeline() const;
    TopologyView* topology() const;
    HistoryModel* history() const;
    QTableView* historyView() const;
    QAction* runAction() const;
    QAction* pauseAction() const;
    QAction* stepAction() const;
    QAction* stopAction() const;
    /// The run the topology, timeline and host bars show (the latest started, or the one selected in the history).
    RunDataPtr focusRun() const;
    /// The error banner above the charts (hidden when there is nothing to report).
    QLabel* banner() const;
    /// Presentation mode (View menu, F11): full screen, chart and lesson fonts 1.6 times larger, and only the
    /// charts, the topology and the lesson; off restores the layout as it was.
    void setPresentationMode(bool on, const QStringList& panels = {"topology", "lesson"});
    /// Play lesson (Run menu, Ctrl+L): presentation mode with the panels the scenario's "presentation" hints name,
    /// its pace and chart tab, then starts the run. Returns startRun()'s answer.
    bool playLesson();
    /// If the editor holds changes not saved in a file, asks whether to save them, discard them or cancel. Returns
    /// true when closing may go on (saved, discarded, or nothing to save). File > Quit and closing the window ask.
    bool confirmDiscard();
    /// The pace the run controls send (simulated seconds per wall-clock second; 0 = as fast as possible).
    double pace() const;
    bool presentationMode() const;
    /// The lesson panel (the scenario's name and description).
    QTextBrowser* lessonView() const;

signals:
    /// A child simulation ended (finished or failed); `id` is its run id (0 if it never started).
    void runEnded(long long id, const QString& status);

protected:
    void closeEvent(QCloseEvent* e) override;

private:
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace dml::ui
