// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The live charts (QCustomPlot): test accuracy, train and test loss, communication overhead and utilization over
// simulated time and named series such as staleness for every shown run; per-host utilization bars and the per-host timeline (Gantt chart) for the
// focused run. Data is only copied into the plots by refresh(), which the main window calls from a timer, so
// the plots are redrawn at most that often however fast samples arrive.
#include "rundata.h"

#include <QWidget>

#include <map>
#include <vector>

class QCustomPlot;
class QScrollBar;

namespace dml::ui {

class ChartsPanel : public QWidget {
    Q_OBJECT
public:
    explicit ChartsPanel(QWidget* parent = nullptr);
    /// The runs drawn in the accuracy, loss and overhead charts (live and overlaid ones), in legend order.
    void setRuns(std::vector<RunDataPtr> runs);
    /// The run whose hosts the utilization bars show.
    void setFocusRun(RunDataPtr run);
    /// Copies new data into the plots and queues a replot if anything changed. Returns true if it replotted.
    bool refresh();

    QCustomPlot* accuracyPlot() const { return m_accuracy; }
    QCustomPlot* lossPlot() const { return m_loss; }
    QCustomPlot* overheadPlot() const { return m_overhead; }
    QCustomPlot* hostPlot() const { return m_hosts; }
    QCustomPlot* seriesPlot() const { return m_series; }
    /// The focused run's label histogram as a heat map: one row per worker or client, one column per class,
    /// coloured by the class's share of that part's samples.
    QCustomPlot* labelsPlot() const { return m_labels; }
    /// The focused run's per-host table and busiest links (tabs "Host table" and "Links").
    class RunTable* hostTable() const { return m_hostTable; }
    class RunTable* linkTable() const { return m_linkTable; }
    /// Multiplies every chart font (titles, axis labels, ticks, legends) by `scale` (1 = normal; presentation
    /// mode uses 1.6).
    void setFontScale(double scale);
    /// Brings the tab "Hosts", "Host table", "Links", "Series" or "Labels" of the lower right chart to the front.
    void showTab(const QString& name);
    double fontScale() const { return m_fontScale; }
    /// The Series tab charts only the series `name` (a lesson's "series" hint); "" charts every series.
    void setSeriesFilter(const QString& name);
    QString seriesFilter() const { return m_seriesFilter; }
    /// Points of a run's accuracy curve (-1 if the run is not shown).
    int accuracyPoints(long long runId) const;
    int replots() const { return m_replots; }

    static QColor runColour(long long id);

private:
    void rebuildRunGraphs();
    void rebuildHostBars();
    void rebuildLabels();

    QCustomPlot *m_accuracy, *m_loss, *m_overhead, *m_hosts, *m_series, *m_labels;
    class RunTable *m_hostTable, *m_linkTable;
    std::vector<RunDataPtr> m_runs;
    RunDataPtr m_focus;
    std::map<const RunData*, int> m_seen; // revision drawn
    int m_focusSeen = -1;
    bool m_runsDirty = true;
    int m_replots = 0;
    double m_fontScale = 1.0;
    QString m_seriesFilter;
    std::pair<const RunData*, std::size_t> m_labelsShown{nullptr, 0}; ///< the heat map drawn: run, rows
};

/// The per-host timeline of one run: compute and communication intervals per host against simulated time.
/// Drag to scroll, wheel to zoom the time axis, or use the scroll bar; follows a live run until you zoom.
class TimelineView : public QWidget {
    Q_OBJECT
public:
    explicit TimelineView(QWidget* parent = nullptr);
    void setRun(RunDataPtr run);
    bool refresh();
    QCustomPlot* plot() const { return m_plot; }

private:
    void syncScrollBar();

    QCustomPlot* m_plot;
    QScrollBar* m_scroll;
    class GanttPlottable* m_gantt = nullptr;
    RunDataPtr m_run;
    int m_seen = -1;
    int m_rows = -1;
    int m_named = -1; ///< hosts whose names the rows show
    std::vector<int> m_order; ///< row -> rank: servers first
    bool m_follow = true;
};

} // namespace dml::ui
