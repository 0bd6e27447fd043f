// SPDX-License-Identifier: GPL-3.0-or-later
#include "chartspanel.h"

#include "platform.h"
#include "runtables.h"

#include <qcustomplot.h>

#include <QGridLayout>
#include <QPushButton>
#include <QRegularExpression>
#include <QScrollBar>
#include <QTabWidget>
#include <QToolTip>
#include <QVBoxLayout>

#include <algorithm>
#include <map>
#include <cmath>

namespace dml::ui {
namespace {

const QColor kCompute(46, 160, 67), kComm(31, 119, 180), kIdle(215, 215, 215);
/// The timeline adds one summary row per role when more than this many workers or clients have rows.
constexpr int kSummariseAbove = 16;

/// Title and value-axis label of a named series (MetricsSink::point); an unknown name is its own title and label.
std::pair<QString, QString> seriesLabels(const QString& name)
{
    static const std::map<QString, std::pair<QString, QString>> known{
        {"staleness", {"Staleness of each applied update (async-ps, fedbuff)", "staleness (model versions)"}},
        {"failed_clients", {"Training clients whose device went off (fedbuff: replaced)", "failed clients"}},
        {"secagg_seconds", {"Secure aggregation: the protocol's extra time per round", "seconds"}},
        {"rejoined_workers", {"Workers that re-joined after a failure (elastic)", "re-joined workers"}},
        {"clock_gap", {"Clock gap: updates ahead of the slowest worker (SSP)", "clock gap (clocks)"}},
        {"dropped_clients", {"Sampled clients not averaged per round (off, failed or abandoned)", "dropped clients"}},
        {"reporting_clients", {"Client reports averaged per round", "reporting clients"}},
        {"dropped_gradients", {"Gradients dropped per step (backup workers)", "dropped gradients"}},
        {"epsilon", {"Privacy spent (epsilon at the run's delta)", "epsilon"}},
        {"rank_failed", {"Rank failures (value: the rank that failed)", "rank"}},
        {"restart", {"Restarts from the last checkpoint (value: steps lost)", "steps lost"}},
        {"checkpoint", {"Checkpoints written (value: the step saved)", "step"}},
        {"failed_workers", {"Workers found failed (elastic or asynchronous)", "failed workers"}},
        {"live_workers", {"Workers in each step (elastic)", "live workers"}},
    };
    const auto it = known.find(name);
    return it != known.end() ? it->second : std::pair{name, name};
}

/// Fonts that read from the back of a lecture room, times `scale` (presentation mode: 1.6).
void setPlotFonts(QCustomPlot* p, double scale)
{
    QFont tick = p->font();
    tick.setPointSizeF(10 * scale);
    QFont label = tick;
    label.setPointSizeF(11 * scale);
    QFont titleFont = label;
    titleFont.setBold(true);
    titleFont.setPointSizeF(12 * scale);
    if (auto* title = qobject_cast<QCPTextElement*>(p->plotLayout()->element(0, 0)))
        title->setFont(titleFont);
    for (QCPAxis* a : {p->xAxis, p->yAxis}) {
        a->setTickLabelFont(tick);
        a->setLabelFont(label);
    }
    p->legend->setFont(tick);
}

/// A titled plot whose legend sits in its own row below the axes, outside the data, in up to two columns.
/// The texts a plot shows in full when there is room (set them with setTitle() / setValueLabel()).
void setTitle(QCustomPlot* p, const QString& title)
{
    if (auto* t = qobject_cast<QCPTextElement*>(p->plotLayout()->element(0, 0))) {
        t->setProperty("full", title);
        t->setText(title);
    }
}

/// `shortLabel` is used when the full label is longer than the axis.
void setValueLabel(QCustomPlot* p, const QString& label, const QString& shortLabel = {})
{
    p->yAxis->setProperty("full", label);
    p->yAxis->setProperty("short", shortLabel);
    p->yAxis->setLabel(label);
}

/// `text` on at most two lines of `width` px (split at the space nearest the middle), else elided.
QString fitLines(const QString& text, const QFontMetricsF& fm, double width)
{
    if (fm.horizontalAdvance(text) <= width)
        return text;
    int best = -1;
    for (int i = 0; i < text.size(); ++i)
        if (text[i] == ' ' && (best < 0 || std::abs(i - text.size() / 2) < std::abs(best - text.size() / 2)))
            best = i;
    if (best > 0) {
        const QString a = text.left(best), b = text.mid(best + 1);
        if (fm.horizontalAdvance(a) <= width && fm.horizontalAdvance(b) <= width)
            return a + "\n" + b;
    }
    return fm.elidedText(text, Qt::ElideRight, width);
}

/// Keeps a plot's texts inside it whatever its size and font scale (a 1280x720 projector in presentation mode):
/// a title too wide for the plot goes on two lines or is elided, a value-axis label longer than the axis takes its
/// short form or is elided, a time axis gets fewer ticks when its labels would touch, and a host axis labels every
/// k-th host. Runs before every replot, with the sizes of the previous layout (a resize replots again).
void fitTexts(QCustomPlot* p)
{
    if (auto* t = qobject_cast<QCPTextElement*>(p->plotLayout()->element(0, 0))) {
        const QString full = t->property("full").toString();
        if (!full.isEmpty())
            t->setText(fitLines(full, QFontMetricsF(t->font()), p->width() - 12));
    }
    const double axisH = p->axisRect()->height(), axisW = p->axisRect()->width();
    if (axisH <= 0 || axisW <= 0)
        return;
    const QString full = p->yAxis->property("full").toString(), brief = p->yAxis->property("short").toString();
    if (!full.isEmpty()) {
        const QFontMetricsF fm(p->yAxis->labelFont());
        QString text = full;
        if (fm.horizontalAdvance(text) > axisH && !brief.isEmpty())
            text = brief;
        p->yAxis->setLabel(fm.elidedText(text, Qt::ElideRight, axisH));
    }
    const QFontMetricsF tick(p->xAxis->tickLabelFont());
    const QVariant names = p->property("hostNames");
    if (names.isValid()) {
        // One label per host while they fit side by side, else every k-th (never rotated: rotated labels would
        // take the height a short plot needs for its bars).
        const QStringList list = names.toStringList();
        double widest = 0;
        for (const QString& n : list)
            widest = std::max(widest, tick.horizontalAdvance(n));
        const int k = std::max(1, int(std::ceil(list.size() * (widest + 8) / std::max(1.0, axisW))));
        auto ticker = QSharedPointer<QCPAxisTickerText>::create();
        for (int i = 0; i < list.size(); i += k)
            ticker->addTick(i, list[i]);
        p->xAxis->setTicker(ticker);
        p->xAxis->setTickLabelRotation(0);
        return;
    }
    if (p->xAxis->ticker().dynamicCast<QCPAxisTickerText>().isNull() &&
        p->xAxis->scaleType() == QCPAxis::stLinear) {
        const double label = tick.horizontalAdvance("0.0000") * 1.5;
        p->xAxis->ticker()->setTickCount(std::clamp(int(axisW / label), 2, 5));
    }
}

void stylePlot(QCustomPlot* p, const QString& title, const QString& xLabel, const QString& yLabel)
{
    p->plotLayout()->insertRow(0);
    p->plotLayout()->addElement(0, 0, new QCPTextElement(p, title));
    setTitle(p, title);
    p->xAxis->setLabel(xLabel);
    setValueLabel(p, yLabel);
    QObject::connect(p, &QCustomPlot::beforeReplot, p, [p] { fitTexts(p); });
    p->axisRect()->insetLayout()->take(p->legend); // out of the axis rect: below it
    p->plotLayout()->addElement(2, 0, p->legend);
    p->plotLayout()->setRowStretchFactor(2, 0.001);
    p->legend->setFillOrder(QCPLegend::foColumnsFirst);
    p->legend->setWrap(2);
    p->legend->setVisible(true);
    p->legend->setBorderPen(Qt::NoPen);
    p->legend->setBrush(Qt::NoBrush);
    p->legend->setRowSpacing(0);
    p->legend->setMargins(QMargins(4, 0, 4, 2));
    setPlotFonts(p, 1.0);
    p->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    p->setNoAntialiasingOnDrag(true);
    p->setMinimumSize(220, 150);
}

/// A legend's entries carry shortened run names; hovering one shows the run's full name (and each graph's
/// "fullName" property, set by rebuildRunGraphs).
void showFullNamesOnHover(QCustomPlot* p)
{
    p->setMouseTracking(true);
    QObject::connect(p, &QCustomPlot::mouseMove, p, [p](QMouseEvent* e) {
        for (int i = 0; i < p->legend->itemCount(); ++i) {
            auto* item = qobject_cast<QCPPlottableLegendItem*>(p->legend->item(i));
            if (item && item->visible() && item->rect().contains(e->pos())) {
                const QString full = item->plottable()->property("fullName").toString();
                QToolTip::showText(e->globalPosition().toPoint(), full.isEmpty() ? item->plottable()->name() : full, p);
                return;
            }
        }
        QToolTip::hideText();
    });
}

QString shortLabel(const RunData& r)
{
    QString name = displayName(r.name);
    if (name.size() > 24)
        name = name.left(22) + "…";
    return r.id > 0 ? QString("#%1 %2").arg(r.id).arg(name) : name;
}

bool finite(double v)
{
    return std::isfinite(v);
}

} // namespace

/// Draws each host's compute (upper half of its row) and communication (lower half) intervals, coalescing
/// intervals that fall within one pixel, and only those in the visible time range.
class GanttPlottable : public QCPAbstractPlottable {
public:
    GanttPlottable(QCPAxis* key, QCPAxis* value) : QCPAbstractPlottable(key, value) {}
    void setRun(RunDataPtr run) { m_run = std::move(run); }
    /// Row r shows rank order[r] (servers first); empty: rank order. An entry -(g + 1) is a summary row: the mean
    /// activity of the ranks groups[g], per time bin.
    void setOrder(std::vector<int> order, std::vector<std::vector<int>> groups = {})
    {
        m_order = std::move(order);
        m_groups = std::move(groups);
    }

    double selectTest(const QPointF&, bool, QVariant*) const override { return -1; }
    QCPRange getKeyRange(bool& found, QCP::SignDomain) const override
    {
        found = m_run && m_run->now() > 0;
        return QCPRange(0, m_run ? std::max(m_run->now(), 1e-9) : 1);
    }
    QCPRange getValueRange(bool& found, QCP::SignDomain, const QCPRange&) const override
    {
        found = m_run && rowCount() > 0;
        return QCPRange(-0.5, m_run ? rowCount() - 0.5 : 0.5);
    }

protected:
    void draw(QCPPainter* painter) override
    {
        if (!m_run)
            return;
        const QCPRange keys = mKeyAxis->range(), rows = mValueAxis->range();
        const int first = std::max(0, int(std::floor(rows.lower)));
        const int last = std::min(rowCount() - 1, int(std::ceil(rows.upper)));
        painter->setPen(Qt::NoPen);
        for (int r = first; r <= last; ++r) {
            const double yTop = mValueAxis->coordToPixel(r - 0.42), yMid = mValueAxis->coordToPixel(r),
                         yBottom = mValueAxis->coordToPixel(r + 0.42);
            const double top = std::min(yTop, yBottom), bottom = std::max(yTop, yBottom);
            const double mid = yMid;
            // Idle: the row's background up to now.
            const double x0 = mKeyAxis->coordToPixel(0), xNow = mKeyAxis->coordToPixel(m_run->now());
            painter->fillRect(QRectF(QPointF(x0, top), QPointF(xNow, bottom)), kIdle);
            const int rank = r < int(m_order.size()) ? m_order[std::size_t(r)] : r;
            if (rank < 0 && std::size_t(-rank - 1) < m_groups.size()) {
                drawSummary(painter, m_groups[std::size_t(-rank - 1)], keys, top, mid, bottom);
                continue;
            }
            if (rank >= m_run->rankCount()) // a host no rank runs on, or an order not yet updated for this run
                continue;
            drawSet(painter, m_run->computeOf(rank), keys, top, mid, kCompute);
            drawSet(painter, m_run->communicationOf(rank), keys, mid, bottom, kComm);
        }
    }
    void drawLegendIcon(QCPPainter* painter, const QRectF& rect) const override
    {
        painter->fillRect(rect, kCompute);
    }

private:
    /// A summary row: per time bin, a green bar up from the middle as tall as the group's mean compute share and a
    /// blue one down as deep as its mean communication share.
    void drawSummary(QCPPainter* painter, const std::vector<int>& ranks, const QCPRange& keys, double top, double mid,
                     double bottom) const
    {
        const double w = m_run->binWidth();
        for (int i = 0; i < TimeBins::kBins; ++i) {
            const double t0 = i * w, t1 = std::min((i + 1) * w, m_run->now());
            if (t1 <= keys.lower || t0 >= keys.upper || t1 <= t0)
                continue;
            const auto [c, m] = m_run->meanBinActivity(ranks, i);
            const double x0 = mKeyAxis->coordToPixel(t0), x1 = std::max(mKeyAxis->coordToPixel(t1), x0 + 1);
            painter->fillRect(QRectF(QPointF(x0, mid - c * (mid - top)), QPointF(x1, mid)), kCompute);
            painter->fillRect(QRectF(QPointF(x0, mid), QPointF(x1, mid + m * (bottom - mid))), kComm);
        }
    }

    int rowCount() const { return std::max(m_run->rankCount(), int(m_order.size())); }

    void drawSet(QCPPainter* painter, const IntervalSet& set, const QCPRange& keys, double top, double bottom,
                 const QColor& colour) const
    {
        const auto& m = set.intervals();
        auto it = m.upper_bound(keys.lower);
        if (it != m.begin())
            --it;
        double a = 0, z = -1;
        for (; it != m.end() && it->first <= keys.upper; ++it) {
            const double p0 = mKeyAxis->coordToPixel(it->first), p1 = mKeyAxis->coordToPixel(it->second);
            if (z >= a && p0 <= z + 1) {
                z = std::max(z, p1);
                continue;
            }
            if (z >= a)
                painter->fillRect(QRectF(QPointF(a, top), QPointF(std::max(z, a + 1), bottom)), colour);
            a = p0;
            z = p1;
        }
        if (z >= a)
            painter->fillRect(QRectF(QPointF(a, top), QPointF(std::max(z, a + 1), bottom)), colour);
    }

    RunDataPtr m_run;
    std::vector<int> m_order;
    std::vector<std::vector<int>> m_groups;
};

QColor ChartsPanel::runColour(long long id)
{
    static const QColor palette[] = {QColor(31, 119, 180), QColor(214, 39, 40),  QColor(44, 160, 44),
                                     QColor(255, 127, 14), QColor(148, 103, 189), QColor(140, 86, 75),
                                     QColor(227, 119, 194), QColor(23, 190, 207), QColor(188, 189, 34),
                                     QColor(50, 50, 50)};
    return palette[std::size_t(std::max(0LL, id)) % std::size(palette)];
}

ChartsPanel::ChartsPanel(QWidget* parent) : QWidget(parent)
{
    auto* grid = new QGridLayout(this);
    grid->setContentsMargins(2, 2, 2, 2);
    grid->setSpacing(4);
    m_accuracy = new QCustomPlot;
    m_accuracy->setObjectName("accuracyPlot");
    stylePlot(m_accuracy, "Test accuracy", "simulated time (s)", "test accuracy (%)");
    setValueLabel(m_accuracy, "test accuracy (%)", "accuracy (%)");
    m_loss = new QCustomPlot;
    m_loss->setObjectName("lossPlot");
    stylePlot(m_loss, "Loss: test (solid), train (dashed)", "simulated time (s)", "cross-entropy loss (nats)");
    setValueLabel(m_loss, "cross-entropy loss (nats)", "loss (nats)");
    m_overhead = new QCustomPlot;
    m_overhead->setObjectName("overheadPlot");
    stylePlot(m_overhead, "Workers' time, cumulative", "simulated time (s)",
          "share of workers' time (%)");
    setValueLabel(m_overhead, "share of workers' time (%)", "share (%)");
    m_hosts = new QCustomPlot;
    m_hosts->setObjectName("hostPlot");
    stylePlot(m_hosts, "Per-host utilization", "host", "share of elapsed time (%)");
    setValueLabel(m_hosts, "share of elapsed time (%)", "share (%)");
    m_hosts->setInteractions({});
    grid->addWidget(m_accuracy, 0, 0);
    grid->addWidget(m_loss, 0, 1);
    grid->addWidget(m_overhead, 1, 0);
    m_series = new QCustomPlot;
    m_series->setObjectName("seriesPlot");
    stylePlot(m_series, "Named series of the runs shown", "simulated time (s)", "value");
    auto* tabs = new QTabWidget;
    m_labels = new QCustomPlot;
    m_labels->setObjectName("labelsPlot");
    stylePlot(m_labels, "Labels per worker or client", "class", "worker / client");
    m_labels->legend->setVisible(false);
    m_labels->yAxis->setRangeReversed(true);
    m_hostTable = new RunTable(RunTable::Hosts);
    m_linkTable = new RunTable(RunTable::Links);
    tabs->addTab(m_hosts, "Hosts");
    tabs->addTab(m_hostTable, "Host table");
    tabs->addTab(m_linkTable, "Links");
    tabs->addTab(m_series, "Series");
    tabs->addTab(m_labels, "Labels");
    grid->addWidget(tabs, 1, 1);
    grid->setRowStretch(0, 1);
    grid->setRowStretch(1, 1);
    grid->setColumnStretch(0, 1);
    grid->setColumnStretch(1, 1);
    for (QCustomPlot* p : {m_accuracy, m_loss, m_overhead, m_series})
        showFullNamesOnHover(p);
    m_accuracy->yAxis->setRange(0, 100);
    m_overhead->yAxis->setRange(0, 100);
    m_hosts->yAxis->setRange(0, 100);
}

void ChartsPanel::setFontScale(double scale)
{
    m_fontScale = scale;
    for (QCustomPlot* p : {m_accuracy, m_loss, m_overhead, m_hosts, m_series}) {
        setPlotFonts(p, scale);
        p->replot(QCustomPlot::rpQueuedReplot);
    }
    m_hostTable->setFontScale(scale);
    m_linkTable->setFontScale(scale);
}

void ChartsPanel::setSeriesFilter(const QString& name)
{
    if (name == m_seriesFilter)
        return;
    m_seriesFilter = name;
    m_runsDirty = true;
}

void ChartsPanel::showTab(const QString& name)
{
    for (auto* tabs : findChildren<QTabWidget*>())
        for (int i = 0; i < tabs->count(); ++i)
            if (tabs->tabText(i) == name)
                tabs->setCurrentIndex(i);
}

void ChartsPanel::setRuns(std::vector<RunDataPtr> runs)
{
    m_runs = std::move(runs);
    m_runsDirty = true;
}

void ChartsPanel::setFocusRun(RunDataPtr run)
{
    m_focus = std::move(run);
    m_focusSeen = -1;
}

int ChartsPanel::accuracyPoints(long long runId) const
{
    for (int i = 0; i < m_accuracy->graphCount(); ++i)
        if (m_accuracy->graph(i)->property("runId").toLongLong() == runId)
            return m_accuracy->graph(i)->dataCount();
    return -1;
}

bool ChartsPanel::refresh()
{
    bool changed = m_runsDirty;
    for (const RunDataPtr& r : m_runs) {
        auto it = m_seen.find(r.get());
        if (it == m_seen.end() || it->second != r->revision)
            changed = true;
    }
    const bool focusChanged = m_focus ? m_focus->revision != m_focusSeen : m_focusSeen != -1;
    if (changed) {
        rebuildRunGraphs();
        m_runsDirty = false;
        m_seen.clear();
        for (const RunDataPtr& r : m_runs)
            m_seen[r.get()] = r->revision;
        for (QCustomPlot* p : {m_accuracy, m_loss, m_overhead})
            p->replot(QCustomPlot::rpQueuedReplot);
    }
    if (focusChanged) {
        rebuildHostBars();
        m_hostTable->setRun(m_focus);
        m_linkTable->setRun(m_focus);
        // The histogram arrives once per run: redraw the heat map only when it (or the run) changed.
        const std::pair<const RunData*, std::size_t> labels{m_focus.get(), m_focus ? m_focus->labelHistogram.size() : 0};
        if (labels != m_labelsShown) {
            m_labelsShown = labels;
            rebuildLabels();
        }
        m_focusSeen = m_focus ? m_focus->revision : -1;
        m_hosts->replot(QCustomPlot::rpQueuedReplot);
        m_labels->replot(QCustomPlot::rpQueuedReplot);
    }
    if (changed || focusChanged)
        ++m_replots;
    return changed || focusChanged;
}

void ChartsPanel::rebuildRunGraphs()
{
    for (QCustomPlot* p : {m_accuracy, m_loss, m_overhead, m_series}) {
        p->clearGraphs();
        p->clearItems();
    }
    // Failures (red) and restarts from a checkpoint (green), marked on the time axis of every time chart.
    auto mark = [this](double time, const QColor& colour, const QString& text, double height) {
        for (QCustomPlot* p : {m_accuracy, m_loss, m_overhead, m_series}) {
            auto* line = new QCPItemStraightLine(p);
            line->point1->setCoords(time, 0);
            line->point2->setCoords(time, 1);
            line->setPen(QPen(colour, 1.5, Qt::DashLine));
            line->setSelectable(false);
            auto* label = new QCPItemText(p);
            label->position->setTypeY(QCPItemPosition::ptAxisRectRatio);
            label->position->setCoords(time, height); // failures and restarts at different heights
            label->setPositionAlignment(Qt::AlignLeft | Qt::AlignTop);
            label->setText(" " + text);
            QFont f = label->font();
            f.setPointSize(9);
            label->setFont(f);
            label->setColor(colour);
            label->setSelectable(false);
        }
    };
    double maxSeries = 0;
    QStringList seriesNames;
    double maxTime = 0, maxLoss = 0;
    for (const RunDataPtr& r : m_runs) {
        const QColor c = runColour(r->id);
        const QString label = shortLabel(*r);
        const QString fullName = r->label();
        const int firstGraph[] = {m_accuracy->graphCount(), m_loss->graphCount(), m_overhead->graphCount(),
                                  m_series->graphCount()};
        QVector<double> t, acc, tt, train, test;
        for (const Sample& s : r->samples) {
            if (finite(s.testAccuracy)) {
                t << s.time;
                acc << 100 * s.testAccuracy;
            }
            if (finite(s.testLoss)) {
                tt << s.time;
                test << s.testLoss;
                maxLoss = std::max(maxLoss, s.testLoss);
            }
            maxTime = std::max(maxTime, s.time);
        }
        QVector<double> trainT;
        for (const Sample& s : r->samples)
            if (finite(s.trainLoss)) {
                trainT << s.time;
                train << s.trainLoss;
                maxLoss = std::max(maxLoss, s.trainLoss);
            }
        maxTime = std::max(maxTime, r->now());

        QCPGraph* g = m_accuracy->addGraph();
        g->setProperty("runId", r->id);
        g->setName(label);
        g->setPen(QPen(c, 2.5));
        g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 5));
        g->setData(t, acc, true);

        g = m_loss->addGraph();
        g->setName(label + " test");
        g->setPen(QPen(c, 2.5));
        g->setData(tt, test, true);
        g = m_loss->addGraph();
        g->setName(label + " train");
        g->setPen(QPen(c, 2, Qt::DashLine));
        g->setData(trainT, train, true);

        std::vector<double> bt, over, util;
        r->workerCurves(bt, over, util);
        QVector<double> k(bt.begin(), bt.end()), o, u;
        for (double v : over)
            o << 100 * v;
        for (double v : util)
            u << 100 * v;
        g = m_overhead->addGraph();
        g->setName(label + " comm.");
        g->setPen(QPen(c, 2.5));
        g->setData(k, o, true);
        g = m_overhead->addGraph();
        g->setName(label + " compute");
        g->setPen(QPen(c, 2, Qt::DashLine));
        g->setData(k, u, true);

        if (const auto f = r->series.find("rank_failed"); f != r->series.end())
            for (const auto& [time, rank] : f->second)
                mark(time, QColor(214, 39, 40),
                     (rank >= 0 && rank < double(r->hosts.size()) ? r->hosts[std::size_t(rank)].name
                                                                  : QString("rank %1").arg(rank)) + " failed",
                     0.02);
        if (const auto f = r->series.find("restart"); f != r->series.end())
            for (const auto& [time, lost] : f->second)
                mark(time, QColor(44, 160, 44), QString("restart, %1 steps lost").arg(lost), 0.12);
        for (const auto& [name, points] : r->series) {
            if (!m_seriesFilter.isEmpty() && name != m_seriesFilter)
                continue;
            QVector<double> x, y;
            for (const auto& [time, value] : points) {
                x << time;
                y << value;
                maxSeries = std::max(maxSeries, value);
            }
            // One marker shape per series name, so two series of one run (staleness and clock gap) stay apart.
            const QString& qname = name;
            if (!seriesNames.contains(qname))
                seriesNames << qname;
            static const QCPScatterStyle::ScatterShape shapes[] = {QCPScatterStyle::ssDisc, QCPScatterStyle::ssCross,
                                                                   QCPScatterStyle::ssTriangle, QCPScatterStyle::ssSquare};
            g = m_series->addGraph();
            g->setName(label + " " + qname);
            g->setPen(QPen(c, 1.5));
            g->setLineStyle(QCPGraph::lsNone);
            g->setScatterStyle(QCPScatterStyle(shapes[seriesNames.indexOf(qname) % 4], c, 4));
            g->setData(x, y, true);
        }
        int plotIndex = 0;
        for (QCustomPlot* p : {m_accuracy, m_loss, m_overhead, m_series}) {
            for (int i = firstGraph[plotIndex]; i < p->graphCount(); ++i) {
                const QString suffix = p->graph(i)->name().mid(label.size()); // " test", " staleness", ...
                p->graph(i)->setProperty("fullName", fullName + suffix);
            }
            ++plotIndex;
        }
    }
    // Title and value axis from the series shown.
    if (seriesNames.isEmpty() && !m_seriesFilter.isEmpty()) // a lesson's series, before its first point
        seriesNames << m_seriesFilter;
    setTitle(m_series, seriesNames.isEmpty() ? QString("Named series of the runs shown")
                                             : seriesNames.size() == 1 ? seriesLabels(seriesNames.front()).first
                                                                       : "Series: " + seriesNames.join(", "));
    setValueLabel(m_series, seriesNames.size() == 1 ? seriesLabels(seriesNames.front()).second : QString("value"));
    m_series->xAxis->setRange(0, maxTime > 0 ? maxTime * 1.02 : 1);
    m_series->yAxis->setRange(0, maxSeries > 0 ? maxSeries * 1.1 : 1);
    m_series->legend->setVisible(m_series->graphCount() > 0);
    m_series->replot(QCustomPlot::rpQueuedReplot);
    const double xMax = maxTime > 0 ? maxTime * 1.02 : 1;
    for (QCustomPlot* p : {m_accuracy, m_loss, m_overhead})
        p->xAxis->setRange(0, xMax);
    m_accuracy->yAxis->setRange(0, 100);
    m_overhead->yAxis->setRange(0, 100);
    m_loss->yAxis->setRange(0, maxLoss > 0 ? maxLoss * 1.05 : 1);
    for (QCustomPlot* p : {m_accuracy, m_loss, m_overhead})
        p->legend->setVisible(p->graphCount() > 0);
}

void ChartsPanel::rebuildLabels()
{
    m_labels->clearPlottables();
    for (int i = m_labels->plotLayout()->elementCount() - 1; i >= 0; --i)
        if (auto* scale = qobject_cast<QCPColorScale*>(m_labels->plotLayout()->elementAt(i)))
            m_labels->plotLayout()->remove(scale);
    m_labels->plotLayout()->simplify();
    if (!m_focus || m_focus->labelHistogram.empty())
        return;
    const auto& h = m_focus->labelHistogram;
    const int parts = int(h.size()), classes = int(h.front().size());
    if (classes == 0)
        return;
    auto* map = new QCPColorMap(m_labels->xAxis, m_labels->yAxis);
    map->data()->setSize(classes, parts);
    map->data()->setRange(QCPRange(0, classes - 1), QCPRange(0, std::max(1, parts - 1)));
    for (int p = 0; p < parts; ++p) {
        double total = 0;
        for (int c : h[std::size_t(p)])
            total += c;
        for (int c = 0; c < classes && c < int(h[std::size_t(p)].size()); ++c)
            map->data()->setCell(c, p, total > 0 ? h[std::size_t(p)][std::size_t(c)] / total : 0);
    }
    map->setGradient(QCPColorGradient(QCPColorGradient::gpHot).inverted());
    map->setDataRange(QCPRange(0, 1));
    map->setInterpolate(false);
    auto* scale = new QCPColorScale(m_labels);
    scale->setType(QCPAxis::atRight);
    scale->setDataRange(QCPRange(0, 1));
    scale->setGradient(map->gradient());
    scale->axis()->setLabel("share of its samples");
    scale->setBarWidth(6);
    m_labels->plotLayout()->addElement(1, 1, scale);
    map->setColorScale(scale);
    m_labels->xAxis->setRange(-0.5, classes - 0.5);
    m_labels->yAxis->setRange(-0.5, parts - 0.5);
}

void ChartsPanel::rebuildHostBars()
{
    m_hosts->clearPlottables();
    if (!m_focus)
        return;
    const RunData& r = *m_focus;
    const int n = std::min<int>(64, std::max<int>(r.rankCount(), int(r.hostStats.size())));
    QVector<double> keys, compute, comm, idle;
    QStringList names;
    for (int i = 0; i < n; ++i) {
        double c = 0, m = 0;
        if (i < int(r.hostStats.size()) && r.hostStats[std::size_t(i)].elapsed > 0) {
            const HostStats& h = r.hostStats[std::size_t(i)];
            c = h.compute / h.elapsed;
            m = h.communication / h.elapsed;
        } else if (i < r.rankCount() && r.now() > 0) {
            c = r.computeOf(i).total() / r.now();
            m = r.communicationOf(i).total() / r.now();
        }
        c = std::clamp(c, 0.0, 1.0);
        m = std::clamp(m, 0.0, 1.0 - c);
        keys << i;
        compute << 100 * c;
        comm << 100 * m;
        idle << 100 * (1 - c - m);
        // Short names as in the topology: "worker-3" -> "w3", "client-12" -> "c12", "edge-server-1" -> "es1".
        static const QRegularExpression numbered("^(.*)-([0-9]+)$");
        QString name = i < int(r.hosts.size()) ? r.hosts[std::size_t(i)].name : QString("rank %1").arg(i);
        if (const auto m = numbered.match(name); m.hasMatch()) {
            QString initials;
            for (const QString& part : m.captured(1).split('-', Qt::SkipEmptyParts))
                initials += part.front();
            name = initials + m.captured(2);
        }
        names << name;
    }
    m_hosts->setProperty("hostNames", names); // fitTexts() labels every k-th when they do not fit
    m_hosts->xAxis->setRange(-0.7, std::max(1, n) - 0.3);
    QCPBars* prev = nullptr;
    for (const auto& [name, colour, values] : {std::tuple{"compute", kCompute, &compute},
                                               std::tuple{"communication", kComm, &comm},
                                               std::tuple{"idle", kIdle, &idle}}) {
        auto* b = new QCPBars(m_hosts->xAxis, m_hosts->yAxis);
        b->setName(name);
        b->setBrush(colour);
        b->setPen(QPen(colour.darker(130)));
        b->setWidth(0.75);
        b->setData(keys, *values, true);
        if (prev)
            b->moveAbove(prev);
        prev = b;
    }
    m_hosts->yAxis->setRange(0, 100);
}

TimelineView::TimelineView(QWidget* parent) : QWidget(parent)
{
    auto* lay = new QVBoxLayout(this);
    lay->setContentsMargins(2, 2, 2, 2);
    m_plot = new QCustomPlot;
    m_plot->setObjectName("timelinePlot");
    stylePlot(m_plot, "Per-host timeline (drag to scroll, wheel to zoom)", "simulated time (s)", "");
    m_plot->axisRect()->setRangeZoom(Qt::Horizontal);
    m_plot->axisRect()->setRangeDrag(Qt::Horizontal | Qt::Vertical);
    // The legend to the right of the rows, one entry per line, so the rows keep the height.
    m_plot->plotLayout()->take(m_plot->legend);
    m_plot->plotLayout()->simplify();
    m_plot->plotLayout()->addElement(1, 1, m_plot->legend);
    m_plot->plotLayout()->setColumnStretchFactor(1, 0.001);
    m_plot->legend->setFillOrder(QCPLegend::foRowsFirst);
    m_plot->legend->setWrap(0);
    m_plot->yAxis->setRangeReversed(true);
    m_plot->yAxis->grid()->setVisible(false);
    m_gantt = new GanttPlottable(m_plot->xAxis, m_plot->yAxis);
    m_gantt->removeFromLegend();
    for (const auto& [name, colour] : {std::pair{"compute", kCompute}, std::pair{"communicate", kComm},
                                       std::pair{"idle", kIdle}}) {
        auto* key = new QCPBars(m_plot->xAxis, m_plot->yAxis); // legend entries only
        key->setName(name);
        key->setBrush(colour);
        key->setPen(Qt::NoPen);
    }
    lay->addWidget(m_plot, 1);
    auto* row = new QHBoxLayout;
    m_scroll = new QScrollBar(Qt::Horizontal);
    m_scroll->setRange(0, 0);
    auto* fit = new QPushButton("Follow / fit");
    row->addWidget(m_scroll, 1);
    row->addWidget(fit);
    lay->addLayout(row);
    connect(fit, &QPushButton::clicked, this, [this] {
        m_follow = true;
        m_seen = -1;
        refresh();
    });
    // The scroll bar moves the visible window (1000 steps over the run); zooming or dragging stops following.
    connect(m_scroll, &QScrollBar::valueChanged, this, [this](int v) {
        if (!m_run || m_run->now() <= 0)
            return;
        const double size = m_plot->xAxis->range().size();
        const double lower = v / 1000.0 * std::max(0.0, m_run->now() - size);
        if (std::abs(lower - m_plot->xAxis->range().lower) > size * 1e-3) {
            m_follow = false;
            m_plot->xAxis->setRange(lower, lower + size);
            m_plot->replot(QCustomPlot::rpQueuedReplot);
        }
    });
    connect(m_plot, &QCustomPlot::mouseWheel, this, [this] { m_follow = false; });
    connect(m_plot, &QCustomPlot::mousePress, this, [this] { m_follow = false; });
    connect(m_plot->xAxis, qOverload<const QCPRange&>(&QCPAxis::rangeChanged), this, [this] { syncScrollBar(); });
}

void TimelineView::setRun(RunDataPtr run)
{
    m_run = std::move(run);
    m_gantt->setRun(m_run);
    m_seen = -1;
    m_rows = -1;
    m_follow = true;
    refresh();
}

void TimelineView::syncScrollBar()
{
    if (!m_run)
        return;
    const double size = m_plot->xAxis->range().size(), span = m_run->now() - size;
    QSignalBlocker block(m_scroll);
    m_scroll->setRange(0, span > 0 ? 1000 : 0);
    m_scroll->setPageStep(span > 0 ? std::max(1, int(1000 * size / m_run->now())) : 1000);
    if (span > 0)
        m_scroll->setValue(int(1000 * std::clamp(m_plot->xAxis->range().lower / span, 0.0, 1.0)));
}

bool TimelineView::refresh()
{
    const int rev = m_run ? m_run->revision : -2;
    if (rev == m_seen)
        return false;
    m_seen = rev;
    const int rows = m_run ? std::max<int>(m_run->rankCount(), int(m_run->hosts.size())) : 0;
    const int named = m_run ? int(m_run->hosts.size()) : 0; // names and roles may arrive after the first spans
    if (rows != m_rows || named != m_named) {
        m_rows = rows;
        m_named = named;
        // Servers and edge servers first (the host a lesson is usually about); with more than kSummariseAbove others,
        // one summary row per role (their mean activity per time bin); then the others in rank order.
        m_order.clear();
        std::map<QString, std::vector<int>> byRole;
        for (int pass = 0; pass < 2; ++pass)
            for (int r = 0; r < rows; ++r) {
                const QString role = r < int(m_run->hosts.size()) ? m_run->hosts[std::size_t(r)].role : QString();
                if (sim::isAggregator(role.toStdString()) != (pass == 0))
                    continue;
                m_order.push_back(r);
                if (pass == 1)
                    byRole[role.isEmpty() ? QString("host") : role].push_back(r);
            }
        std::vector<std::vector<int>> groups;
        QStringList groupNames;
        int others = 0;
        for (const auto& [role, ranks] : byRole)
            others += int(ranks.size());
        if (others > kSummariseAbove) {
            const auto servers = std::find_if(m_order.begin(), m_order.end(), [&](int r) {
                const QString role = r < int(m_run->hosts.size()) ? m_run->hosts[std::size_t(r)].role : QString();
                return !sim::isAggregator(role.toStdString());
            });
            std::vector<int> summary;
            for (auto& [role, ranks] : byRole) {
                summary.push_back(-int(groups.size()) - 1);
                groupNames << QString("%1s (mean of %2)").arg(role).arg(ranks.size());
                groups.push_back(std::move(ranks));
            }
            m_order.insert(servers, summary.begin(), summary.end());
        }
        m_gantt->setOrder(m_order, groups);
        auto ticker = QSharedPointer<QCPAxisTickerText>::create();
        for (int i = 0; i < int(m_order.size()) && i < 4096; ++i) {
            const int r = m_order[std::size_t(i)];
            ticker->addTick(i, r < 0 ? groupNames[-r - 1]
                               : r < int(m_run->hosts.size()) ? m_run->hosts[std::size_t(r)].name
                                                              : QString("rank %1").arg(r));
        }
        m_plot->yAxis->setTicker(ticker);
        m_plot->yAxis->setRange(-0.5, std::min(int(m_order.size()), 6) - 0.5); // rows tall enough to read; scroll for more
    }
    // Failures: a red cross on the failed rank's row; restarts: a green line across every row.
    m_plot->clearItems();
    if (m_run) {
        if (const auto f = m_run->series.find("rank_failed"); f != m_run->series.end())
            for (const auto& [time, rank] : f->second) {
                auto* cross = new QCPItemText(m_plot);
                const auto row = std::find(m_order.begin(), m_order.end(), int(rank)) - m_order.begin();
                cross->position->setCoords(time, double(row));
                cross->setText(QString::fromUtf8("\u2716 failed"));
                cross->setColor(QColor(214, 39, 40));
                cross->setPositionAlignment(Qt::AlignLeft | Qt::AlignVCenter);
                QFont font = cross->font();
                font.setBold(true);
                cross->setFont(font);
            }
        if (const auto f = m_run->series.find("restart"); f != m_run->series.end())
            for (const auto& [time, lost] : f->second) {
                auto* line = new QCPItemStraightLine(m_plot);
                line->point1->setCoords(time, 0);
                line->point2->setCoords(time, 1);
                line->setPen(QPen(QColor(44, 160, 44), 2, Qt::DashLine));
            }
    }
    if (m_follow && m_run)
        m_plot->xAxis->setRange(0, std::max(m_run->now(), 1e-9) * 1.01);
    syncScrollBar();
    m_plot->replot(QCustomPlot::rpQueuedReplot);
    return true;
}

} // namespace dml::ui
