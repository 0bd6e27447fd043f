// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The run history: one row per run of the SQLite store, with a check box to overlay the run on the charts and one
// to pin it there.
#include <QAbstractTableModel>
#include <QSet>

#include <map>
#include <memory>
#include <vector>

namespace dml::app {
class RunStore;
struct RunRecord;
} // namespace dml::app

namespace dml::ui {

class HistoryModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column { Id, Pin, Name, Strategy, Compression, Workers, Status, Accuracy, SimulatedTime, TimeToTarget, Overhead, Bytes,
                  Bottleneck, Wall, Created,
                  ColumnCount };
    explicit HistoryModel(QObject* parent = nullptr);
    ~HistoryModel() override;

    /// Reads the store again; rows are updated, inserted and removed in place (selections survive).
    /// `store` may be null (no store open). Throws nothing: store errors end up in lastError().
    void reload(app::RunStore* store);
    QString lastError() const { return m_error; }

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QVariant headerData(int section, Qt::Orientation o, int role) const override;
    Qt::ItemFlags flags(const QModelIndex& index) const override;
    bool setData(const QModelIndex& index, const QVariant& value, int role) override;

    long long runId(int row) const;
    int rowOf(long long id) const; ///< -1 if absent
    const app::RunRecord& record(int row) const;
    bool isOverlaid(long long id) const { return m_checked.contains(id); }
    void setOverlaid(long long id, bool on);
    QList<long long> overlaid() const { return m_checked.values(); }
    /// A pinned run stays on the charts when a new run starts (the others are unticked); pinning ticks it.
    bool isPinned(long long id) const { return m_pinned.contains(id); }
    void setPinned(long long id, bool on);

signals:
    void overlayToggled(long long id, bool on);

private:
    std::vector<std::unique_ptr<app::RunRecord>> m_rows;
    QSet<long long> m_checked;
    QSet<long long> m_pinned;
    struct BottleneckCell {
        QString text;
        bool saturated = false; ///< a shared link above 80 %
    };
    std::map<long long, BottleneckCell> m_bottleneck; ///< finished runs' bottlenecks (they never change)
    QString m_error;
};

} // namespace dml::ui
