// SPDX-License-Identifier: GPL-3.0-or-later
#include "runtables.h"

#include "bottleneck.h"
#include "units.h"

#include <QHeaderView>
#include <QLabel>
#include <QTableWidget>
#include <QVBoxLayout>

#include <algorithm>

namespace dml::ui {
namespace {

using app::formatBytes;

/// A read-only text cell.
QTableWidgetItem* cell(const QString& text)
{
    auto* it = new QTableWidgetItem(text);
    it->setFlags(Qt::ItemIsEnabled | Qt::ItemIsSelectable);
    return it;
}

QString percent(double fraction) { return QString::number(100 * fraction, 'f', 1) + " %"; }
QString qs(const std::string& s) { return QString::fromStdString(s); }

/// A read-only number, right-aligned; numeric columns sort by their value (the text "1.2 MB" would sort before "900 kB").
class NumericItem : public QTableWidgetItem {
public:
    using QTableWidgetItem::QTableWidgetItem;
    bool operator<(const QTableWidgetItem& o) const override
    {
        const QVariant a = data(Qt::UserRole), b = o.data(Qt::UserRole);
        if (a.isValid() && b.isValid())
            return a.toDouble() < b.toDouble();
        return QTableWidgetItem::operator<(o);
    }
};

/// `text` shows `value`, which orders the column.
QTableWidgetItem* number(const QString& text, double value)
{
    auto* it = new NumericItem(text);
    it->setFlags(Qt::ItemIsEnabled | Qt::ItemIsSelectable);
    it->setData(Qt::UserRole, value);
    it->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    return it;
}

} // namespace

RunTable::RunTable(Kind kind, QWidget* parent) : QWidget(parent), m_kind(kind)
{
    setObjectName(kind == Hosts ? "hostTable" : "linkTable");
    auto* l = new QVBoxLayout(this);
    l->setContentsMargins(4, 4, 4, 4);
    l->setSpacing(4);
    m_headline = new QLabel;
    m_headline->setWordWrap(true);
    m_headline->setTextFormat(Qt::RichText);
    l->addWidget(m_headline);
    m_table = new QTableWidget;
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->verticalHeader()->setVisible(false);
    m_table->setAlternatingRowColors(true);
    m_table->setWordWrap(false);
    const QStringList headers = kind == Hosts
        ? QStringList{"host", "role", "compute %", "compute (s)", "communication (s)", "idle (s)", "GFLOP/s", "sent",
                      "received"}
        : QStringList{"link", "load", "bytes", "bandwidth"};
    m_table->setColumnCount(int(headers.size()));
    m_table->setHorizontalHeaderLabels(headers);
    m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_table->horizontalHeader()->setStretchLastSection(true);
    l->addWidget(m_table, 1);
    m_baseFont = m_table->font().pointSizeF();
    setRun(nullptr);
}

void RunTable::setRun(const RunDataPtr& run)
{
    m_run = run;
    if (isVisible())
        fill();
}

void RunTable::showEvent(QShowEvent* e)
{
    QWidget::showEvent(e);
    fill();
}

void RunTable::setFontScale(double scale)
{
    QFont f = m_table->font();
    f.setPointSizeF(m_baseFont * scale);
    m_table->setFont(f);
    m_table->horizontalHeader()->setFont(f);
    m_headline->setFont(f);
    m_table->resizeRowsToContents();
}

QString RunTable::headline() const { return m_headline->text(); }

void RunTable::fill()
{
    if (m_run.get() == m_filledRun && (!m_run || m_run->revision == m_filled))
        return;
    m_filledRun = m_run.get();
    m_filled = m_run ? m_run->revision : -1;
    m_table->setSortingEnabled(false);
    m_table->setRowCount(0);
    if (!m_run) {
        m_headline->setText("No run selected: start one or pick one in the run history.");
        return;
    }
    if (m_kind == Hosts)
        fillHosts();
    else
        fillLinks();
    m_table->setSortingEnabled(true);
}

void RunTable::fillHosts()
{
    const RunData& r = *m_run;
    if (!r.hostStats.empty()) {
        // Final statistics: the hosts that took part (federated clients never sampled are left out).
        std::vector<const HostStats*> rows;
        for (const HostStats& h : r.hostStats)
            if (h.elapsed > 0 || h.compute > 0 || h.bytesSent > 0)
                rows.push_back(&h);
        const int all = int(rows.size());
        if (all > kMaxRows) {
            std::stable_sort(rows.begin(), rows.end(), [](auto* a, auto* b) { return a->compute > b->compute; });
            rows.resize(kMaxRows);
        }
        m_table->setRowCount(int(rows.size()));
        for (int i = 0; i < int(rows.size()); ++i) {
            const HostStats& h = *rows[std::size_t(i)];
            m_table->setItem(i, 0, cell(qs(h.name)));
            m_table->setItem(i, 1, cell(qs(h.role)));
            m_table->setItem(i, 6, number(QString::number(h.speed / 1e9, 'g', 3), h.speed));
            m_table->setItem(i, 3, number(QString::number(h.compute, 'f', 3), h.compute));
            m_table->setItem(i, 4, number(QString::number(h.communication, 'f', 3), h.communication));
            m_table->setItem(i, 5, number(QString::number(h.idle, 'f', 3), h.idle));
            const double share = h.elapsed > 0 ? h.compute / h.elapsed : 0;
            m_table->setItem(i, 2, number(percent(share), share));
            m_table->setItem(i, 7, number(qs(formatBytes(h.bytesSent)), h.bytesSent));
            m_table->setItem(i, 8, number(qs(formatBytes(h.bytesReceived)), h.bytesReceived));
        }
        // The slowest-to-finish worker, the one a synchronous step waits for, leads the headline.
        const HostStats* busiest = nullptr;
        for (const HostStats* h : rows)
            if (h->role != "server" && h->role != "edge-server" && (!busiest || h->compute > busiest->compute))
                busiest = h;
        QString text = QString("<b>Final statistics</b> of %1: %2 hosts took part%3.")
                           .arg(r.label().toHtmlEscaped())
                           .arg(all)
                           .arg(all > kMaxRows ? QString(" (the %1 that computed longest are listed)").arg(kMaxRows)
                                               : QString());
        if (busiest)
            text += QString(" Longest compute: <b>%1</b>, %2 s.").arg(qs(busiest->name).toHtmlEscaped())
                        .arg(busiest->compute, 0, 'f', 3);
        m_headline->setText(text);
        return;
    }
    // Live: shares of the time so far, from the activity reported (final seconds arrive when the run ends).
    const int n = std::min(int(r.hosts.size()), r.rankCount());
    std::vector<int> ranks;
    for (int k = 0; k < n; ++k) {
        const auto [c, m] = r.hostActivity(k, 0);
        if (c > 0 || m > 0)
            ranks.push_back(k);
    }
    const int all = int(ranks.size());
    if (all > kMaxRows)
        ranks.resize(kMaxRows);
    m_table->setRowCount(int(ranks.size()));
    for (int i = 0; i < int(ranks.size()); ++i) {
        const int k = ranks[std::size_t(i)];
        const auto [c, m] = r.hostActivity(k, 0);
        const double t = r.now();
        m_table->setItem(i, 0, cell(r.hosts[std::size_t(k)].name));
        m_table->setItem(i, 1, cell(r.hosts[std::size_t(k)].role));
        m_table->setItem(i, 6, cell("–"));
        m_table->setItem(i, 3, number(QString::number(c * t, 'f', 3), c * t));
        m_table->setItem(i, 4, number(QString::number(m * t, 'f', 3), m * t));
        m_table->setItem(i, 5, cell("–"));
        m_table->setItem(i, 2, number(percent(c), c));
        m_table->setItem(i, 7, cell("–"));
        m_table->setItem(i, 8, cell("–"));
    }
    m_headline->setText(QString("<b>Live</b>, %1 s of simulated time so far: %2 hosts active (compute and "
                                "communication since the start; idle time and bytes arrive when the run ends).")
                            .arg(r.now(), 0, 'f', 3)
                            .arg(all));
}

void RunTable::fillLinks()
{
    const RunData& r = *m_run;
    const std::vector<RunData::LinkLoad> links = r.linkLoads();
    std::vector<std::string> hostNames;
    for (const HostInfo& h : r.hosts)
        hostNames.push_back(h.name.toStdString());
    const int shown = std::min(int(links.size()), kMaxRows);
    m_table->setRowCount(shown);
    for (int i = 0; i < shown; ++i) {
        const RunData::LinkLoad& l = links[std::size_t(i)];
        m_table->setItem(i, 0, cell(l.name));
        m_table->setItem(i, 3, number(qs(formatBytes(l.bandwidth)) + "/s", l.bandwidth));
        m_table->setItem(i, 2, number(qs(formatBytes(l.bytes)), l.bytes));
        auto* load = number(percent(l.utilization), l.utilization);
        if (l.utilization >= app::kSaturatedLoad &&
            app::classifyLink(l.name.toStdString(), hostNames).shared)
            load->setForeground(QColor(180, 20, 20)); // a shared link near saturation
        m_table->setItem(i, 1, load);
    }
    const bool final = !r.linkStats.empty();
    QString text;
    if (final) {
        // The run's bottleneck as `dmlsim run` names it: the most loaded link or host (app/bottleneck.h).
        const app::Bottleneck b = app::findBottleneck(r.hostStats, r.linkStats);
        text = QString("<b>Final</b>: bottleneck <b>%1</b>.").arg(qs(b.text()).toHtmlEscaped());
        for (const LinkStats& l : app::saturatedSharedLinks(r.hostStats, r.linkStats))
            text += QString(" <span style='color:#b41414'><b>%1</b></span>")
                        .arg(qs(app::saturationWarning(l, r.hostStats)).toHtmlEscaped());
        text += QString(" %1 links carried traffic (full-duplex links are two: _UP and _DOWN).").arg(links.size());
    } else if (links.empty()) {
        text = r.platform().isEmpty() ? "No link traffic yet (the platform graph has not arrived)."
                                      : "No link has carried traffic yet.";
    } else {
        const RunData::LinkLoad& b = links.front();
        const app::LinkClass c = app::classifyLink(b.name.toStdString(), hostNames);
        text = QString("<b>Live</b>, so far: busiest link <b>%1</b> (%2), %3 load (%4 over %5/s).")
                   .arg(b.name.toHtmlEscaped(), qs(c.kind), percent(b.utilization), qs(formatBytes(b.bytes)),
                        qs(formatBytes(b.bandwidth)));
        if (c.shared && b.utilization >= app::kSaturatedLoad)
            text += " <span style='color:#b41414'><b>A shared link above 80 % so far.</b></span>";
        text += QString(" %1 links carried traffic.").arg(links.size());
    }
    m_headline->setText(text);
}

} // namespace dml::ui
