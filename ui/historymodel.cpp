// SPDX-License-Identifier: GPL-3.0-or-later
#include "historymodel.h"

#include "bottleneck.h"
#include "rundata.h"
#include "runstore.h"

#include <QColor>
#include <QFont>

namespace dml::ui {
namespace {

QString seconds(double s)
{
    if (s <= 0)
        return "-";
    if (s < 1e-3)
        return QString::number(s * 1e6, 'f', 1) + " µs";
    if (s < 1)
        return QString::number(s * 1e3, 'f', 1) + " ms";
    if (s < 600)
        return QString::number(s, 'f', 2) + " s";
    return QString::number(s / 60, 'f', 1) + " min";
}

QString statusOf(const app::RunRecord& r)
{
    if (r.interrupted)
        return "interrupted";
    if (r.status == "finished" && r.summary.stopReason == "stopped")
        return "stopped";
    return QString::fromStdString(r.status);
}

bool sameRow(const app::RunRecord& a, const app::RunRecord& b)
{
    return a.status == b.status && a.interrupted == b.interrupted && a.finished == b.finished && a.error == b.error;
}

} // namespace

HistoryModel::HistoryModel(QObject* parent) : QAbstractTableModel(parent) {}
HistoryModel::~HistoryModel() = default;

void HistoryModel::reload(app::RunStore* store)
{
    std::vector<app::RunRecord> fresh;
    m_error.clear();
    if (store) {
        try {
            fresh = store->runs();
        } catch (const std::exception& e) {
            m_error = QString::fromUtf8(e.what());
            return;
        }
    }
    // A finished run's bottleneck (issue 15), read once: its host and link statistics never change.
    for (const app::RunRecord& r : fresh)
        if (r.status == "finished" && !m_bottleneck.count(r.id)) {
            try {
                const app::Bottleneck b = app::storedBottleneck(*store, r.id);
                m_bottleneck[r.id] = {QString::fromStdString(b.kind == app::Bottleneck::Kind::None ? "-" : b.text()),
                                      b.shared && b.load >= app::kSaturatedLoad};
            } catch (const std::exception& e) {
                m_error = QString::fromUtf8(e.what());
            }
        }
    // Both lists are ordered by id: merge them.
    int row = 0;
    std::size_t i = 0;
    while (row < int(m_rows.size()) || i < fresh.size()) {
        const bool haveOld = row < int(m_rows.size()), haveNew = i < fresh.size();
        if (haveOld && (!haveNew || m_rows[std::size_t(row)]->id < fresh[i].id)) {
            m_checked.remove(m_rows[std::size_t(row)]->id);
            beginRemoveRows({}, row, row);
            m_rows.erase(m_rows.begin() + row);
            endRemoveRows();
        } else if (haveNew && (!haveOld || fresh[i].id < m_rows[std::size_t(row)]->id)) {
            beginInsertRows({}, row, row);
            m_rows.insert(m_rows.begin() + row, std::make_unique<app::RunRecord>(std::move(fresh[i])));
            endInsertRows();
            ++row;
            ++i;
        } else {
            if (!sameRow(*m_rows[std::size_t(row)], fresh[i])) {
                *m_rows[std::size_t(row)] = std::move(fresh[i]);
                emit dataChanged(index(row, 0), index(row, ColumnCount - 1));
            }
            ++row;
            ++i;
        }
    }
}

int HistoryModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int HistoryModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

long long HistoryModel::runId(int row) const
{
    return row >= 0 && row < int(m_rows.size()) ? m_rows[std::size_t(row)]->id : 0;
}

int HistoryModel::rowOf(long long id) const
{
    for (std::size_t i = 0; i < m_rows.size(); ++i)
        if (m_rows[i]->id == id)
            return int(i);
    return -1;
}

const app::RunRecord& HistoryModel::record(int row) const
{
    return *m_rows.at(std::size_t(row));
}

QVariant HistoryModel::data(const QModelIndex& index, int role) const
{
    if (!index.isValid() || index.row() >= int(m_rows.size()))
        return {};
    const app::RunRecord& r = *m_rows[std::size_t(index.row())];
    const bool done = r.status == "finished";
    if (role == Qt::CheckStateRole && index.column() == Id)
        return m_checked.contains(r.id) ? Qt::Checked : Qt::Unchecked;
    if (role == Qt::CheckStateRole && index.column() == Pin)
        return m_pinned.contains(r.id) ? Qt::Checked : Qt::Unchecked;
    if (role == Qt::ToolTipRole && index.column() == Pin)
        return QString("Pinned runs stay on the charts when a new run starts");
    if (role == Qt::ForegroundRole && index.column() == Bottleneck) {
        const auto b = m_bottleneck.find(r.id);
        if (b != m_bottleneck.end() && b->second.saturated)
            return QColor(180, 20, 20);
    }
    if (role == Qt::ToolTipRole && index.column() == Bottleneck)
        return QString("The most loaded link (bytes / simulated time / bandwidth) or host (compute / elapsed time); red: "
                       "a shared link above 80 %");
    if (role == Qt::ForegroundRole && index.column() == Status) {
        const QString s = statusOf(r);
        if (s == "failed" || s == "interrupted")
            return QColor(190, 30, 30);
        if (s == "running")
            return QColor(20, 100, 190);
    }
    if (role == Qt::ToolTipRole) {
        if (!r.error.empty())
            return QString::fromStdString(r.error);
        return QString::fromStdString(r.scenarioFile);
    }
    if (role == Qt::TextAlignmentRole && index.column() != Name && index.column() != Strategy &&
        index.column() != Compression && index.column() != Status && index.column() != Bottleneck)
        return int(Qt::AlignRight | Qt::AlignVCenter);
    if (role != Qt::DisplayRole)
        return {};
    switch (Column(index.column())) {
    case Id: return QString("#%1").arg(r.id);
    case Pin: return QString();
    case Name: return displayName(QString::fromStdString(r.name));
    case Strategy: return QString::fromStdString(r.strategy);
    case Compression: {
        if (!done)
            return QString("-");
        QString c = QString::fromStdString(r.summary.compressor);
        if (r.summary.localSteps > 1)
            c = (c == "none" ? QString() : c + ", ") + QString("local SGD H=%1").arg(r.summary.localSteps);
        return c;
    }
    case Workers: return r.workers;
    case Status: return statusOf(r);
    case Accuracy:
        return done && r.summary.accuracySimulated ? QString::number(100 * r.summary.finalAccuracy, 'f', 2) + " %"
                                                   : QString("-");
    case SimulatedTime: return done ? seconds(r.summary.simulatedTime) : QString("-");
    case TimeToTarget:
        return done && r.summary.timeToTarget >= 0 ? seconds(r.summary.timeToTarget) : QString("-");
    case Overhead:
        return done ? QString::number(100 * r.summary.communicationOverhead, 'f', 1) + " %" : QString("-");
    case Bytes: {
        if (!done)
            return QString("-");
        const double b = r.summary.bytesOnWire;
        return b >= 1e9 ? QString::number(b / 1e9, 'f', 2) + " GB"
               : b >= 1e6 ? QString::number(b / 1e6, 'f', 1) + " MB" : QString::number(b / 1e3, 'f', 1) + " kB";
    }
    case Bottleneck: {
        const auto b = m_bottleneck.find(r.id);
        return b == m_bottleneck.end() ? QString("-") : b->second.text;
    }
    case Wall: return seconds(r.wallTime);
    case Created: return QString::fromStdString(r.created).replace('T', ' ').remove('Z');
    case ColumnCount: break;
    }
    return {};
}

QVariant HistoryModel::headerData(int section, Qt::Orientation o, int role) const
{
    if (o != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, o, role);
    static const char* names[] = {"Run",      "Pin",      "Name",           "Strategy",          "Compression", "Workers",
                                  "Status",   "Test accuracy",  "Simulated time",    "Time to target",
                                  "Comm. overhead", "Bytes on wire", "Bottleneck", "Wall time", "Created (UTC)"};
    return section >= 0 && section < ColumnCount ? QString(names[section]) : QVariant();
}

Qt::ItemFlags HistoryModel::flags(const QModelIndex& index) const
{
    Qt::ItemFlags f = QAbstractTableModel::flags(index);
    if (index.column() == Id || index.column() == Pin)
        f |= Qt::ItemIsUserCheckable;
    return f;
}

bool HistoryModel::setData(const QModelIndex& index, const QVariant& value, int role)
{
    if (role != Qt::CheckStateRole || (index.column() != Id && index.column() != Pin) || index.row() >= int(m_rows.size()))
        return false;
    const long long id = m_rows[std::size_t(index.row())]->id;
    if (index.column() == Pin)
        setPinned(id, value.toInt() == Qt::Checked);
    else
        setOverlaid(id, value.toInt() == Qt::Checked);
    return true;
}

void HistoryModel::setPinned(long long id, bool on)
{
    if (on == m_pinned.contains(id))
        return;
    if (on)
        m_pinned.insert(id);
    else
        m_pinned.remove(id);
    const int row = rowOf(id);
    if (row >= 0)
        emit dataChanged(index(row, Pin), index(row, Pin), {Qt::CheckStateRole});
    if (on)
        setOverlaid(id, true);
}

void HistoryModel::setOverlaid(long long id, bool on)
{
    if (on == m_checked.contains(id))
        return;
    if (on)
        m_checked.insert(id);
    else
        m_checked.remove(id);
    const int row = rowOf(id);
    if (row >= 0)
        emit dataChanged(index(row, Id), index(row, Id), {Qt::CheckStateRole});
    emit overlayToggled(id, on);
}

} // namespace dml::ui
