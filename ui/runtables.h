// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The focused run's per-host table and busiest-links table (the tables `dmlsim run` prints), for the chart tabs
// "Host table" and "Links". While a run is live they are estimated from the activity reported so far; once it has
// ended they show the run's final host and link statistics.
#include "rundata.h"
#include <QWidget>
class QLabel;
class QTableWidget;
namespace dml::ui {
class RunTable : public QWidget {
    Q_OBJECT
public:
    enum Kind { Hosts, Links };
    /// Rows shown at most; a note under the title says how many there are in all.
    static constexpr int kMaxRows = 500;
    explicit RunTable(Kind kind, QWidget* parent = nullptr);
    /// Refills the table from `run` (null clears it). Cheap enough for the replot timer: it does nothing while
    /// hidden, and the caller passes only runs whose revision moved.
    void setRun(const RunDataPtr& run);
    /// Multiplies the table's font by `scale` (presentation mode).
    void setFontScale(double scale);
    QTableWidget* table() const { return m_table; }
    /// The line above the table ("busiest: ..." or how many hosts), for tests and screenshots.
    QString headline() const;
protected:
    void showEvent(QShowEvent* e) override;
private:
    void fill();
    void fillHosts();
    void fillLinks();
    Kind m_kind;
    QLabel* m_headline;
    QTableWidget* m_table;
    RunDataPtr m_run;
    int m_filled = -1; ///< revision of m_run shown
    const RunData* m_filledRun = nullptr;
    double m_baseFont = 0;
};
} // namespace dml::ui
