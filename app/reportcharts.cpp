// SPDX-License-Identifier: GPL-3.0-or-later
// The report's charts, drawn off screen with QCustomPlot.
#include "reportdata.h"

#include "units.h"

#include <qcustomplot.h>

#include <QJsonArray>
#include <QJsonDocument>

#include <algorithm>
#include <cmath>
#include <map>

namespace dml::app::report {
namespace {

constexpr int kWidth = 800, kHeight = 420;

QColor color(std::size_t i)
{
    static const QColor palette[] = {QColor(31, 119, 180), QColor(255, 127, 14), QColor(44, 160, 44),
                                     QColor(214, 39, 40),  QColor(148, 103, 189), QColor(140, 86, 75),
                                     QColor(227, 119, 194), QColor(127, 127, 127), QColor(188, 189, 34),
                                     QColor(23, 190, 207)};
    return palette[i % (sizeof palette / sizeof palette[0])];
}

/// A plot with a white background, a title, axis labels and a legend.
std::unique_ptr<QCustomPlot> newPlot(const QString& title, const QString& x, const QString& y)
{
    auto plot = std::make_unique<QCustomPlot>();
    plot->resize(kWidth, kHeight);
    plot->plotLayout()->insertRow(0);
    auto* t = new QCPTextElement(plot.get(), title, QFont("DejaVu Sans", 11, QFont::Bold));
    plot->plotLayout()->addElement(0, 0, t);
    plot->xAxis->setLabel(x);
    plot->yAxis->setLabel(y);
    plot->legend->setVisible(true);
    QFont lf("DejaVu Sans", 8);
    plot->legend->setFont(lf);
    plot->legend->setBrush(QColor(255, 255, 255, 220));
    return plot;
}

void addGraph(QCustomPlot& plot, const QString& name, const QVector<double>& x, const QVector<double>& y,
              std::size_t colorIndex, bool markers, Qt::PenStyle style = Qt::SolidLine)
{
    QCPGraph* g = plot.addGraph();
    g->setName(name);
    g->setData(x, y, true);
    g->setPen(QPen(color(colorIndex), 2, colorIndex >= 10 && style == Qt::SolidLine ? Qt::DashDotLine : style));
    if (markers)
        g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 6));
}

QImage render(QCustomPlot& plot)
{
    // The legend goes under the axes, in columns, so it never hides data.
    int entries = 0;
    for (int i = 0; i < plot.graphCount(); ++i)
        entries += plot.graph(i)->name().isEmpty() ? 0 : 1;
    int longest = 0;
    for (int i = 0; i < plot.graphCount(); ++i)
        longest = std::max(longest, int(plot.graph(i)->name().size()));
    const int columns = entries > 8 && longest <= 48 ? 2 : 1;
    const int height = kHeight + ((entries + columns - 1) / columns) * 16;
    if (plot.legend->visible()) {
        plot.axisRect()->insetLayout()->take(plot.legend);
        plot.plotLayout()->addElement(plot.plotLayout()->rowCount(), 0, plot.legend);
        plot.plotLayout()->setRowStretchFactor(plot.plotLayout()->rowCount() - 1, 0.001);
        plot.legend->setWrap(columns);
        plot.legend->setFillOrder(QCPLayoutGrid::foColumnsFirst, true);
        plot.legend->setMargins(QMargins(6, 3, 6, 3));
    }
    plot.resize(kWidth, height);
    plot.rescaleAxes();
    // A little room around the data.
    for (QCPAxis* a : {plot.xAxis, plot.yAxis}) {
        const QCPRange r = a->range();
        if (a->scaleType() == QCPAxis::stLogarithmic)
            a->setRange(r.lower / 1.3, r.upper * 1.3);
        else {
            const double pad = r.size() > 0 ? r.size() * 0.05 : std::max(1e-9, std::abs(r.lower) * 0.1);
            a->setRange(r.lower - pad, r.upper + pad);
        }
    }
    plot.replot();
    return plot.toPixmap(kWidth, height, 2.0).toImage();
}

double meanSimulatedTime(const Data& d, const Group& g)
{
    std::vector<double> v;
    for (std::size_t i : g.runs)
        v.push_back(d.runs[i].record.summary.simulatedTime);
    return stat(v).mean;
}

double meanOverhead(const Data& d, const Group& g)
{
    std::vector<double> v;
    for (std::size_t i : g.runs)
        v.push_back(d.runs[i].record.summary.communicationOverhead);
    return stat(v).mean;
}

/// Groups split by every differing field but `axis`: series label -> (group index, ...).
std::map<QString, std::vector<std::size_t>> seriesWithout(const Data& d, std::size_t axis)
{
    std::map<QString, std::vector<std::size_t>> out;
    for (std::size_t gi = 0; gi < d.groups.size(); ++gi) {
        QStringList parts;
        for (std::size_t k = 0; k < d.differing.size(); ++k)
            if (k != axis)
                parts << QString::fromStdString(d.shortNames[k] + "=" + d.groups[gi].key[k]);
        out[parts.isEmpty() ? QString("all runs") : parts.join(", ")].push_back(gi);
    }
    return out;
}

} // namespace

std::vector<Chart> makeCharts(const Data& d)
{
    std::vector<Chart> charts;

    // Accuracy against simulated time: the first repetition of every configuration.
    bool anyAccuracy = false;
    for (const Run& r : d.runs)
        anyAccuracy = anyAccuracy || r.record.summary.accuracySimulated;
    if (anyAccuracy) {
        auto plot = newPlot("Test accuracy against simulated time", "simulated time (s)", "test accuracy");
        for (std::size_t gi = 0; gi < d.groups.size(); ++gi) {
            const Run& r = d.runs[d.groups[gi].runs.front()];
            if (!r.record.summary.accuracySimulated)
                continue;
            QVector<double> x, y;
            for (const Sample& s : r.samples)
                if (!std::isnan(s.testAccuracy)) {
                    x << s.time;
                    y << s.testAccuracy;
                }
            addGraph(*plot, d.groups[gi].label, x, y, gi, x.size() < 40);
        }
        plot->legend->setVisible(d.groups.size() <= 40);
        charts.push_back({"Accuracy against simulated time", d.groups.size() > 1
                                                                  ? "The first repetition of each configuration."
                                                                  : QString(),
                          render(*plot)});
    }

    // Scaling with the number of workers.
    const auto workersAxis = std::find(d.differing.begin(), d.differing.end(), "platform.workers");
    if (workersAxis != d.differing.end()) {
        const std::size_t axis = std::size_t(workersAxis - d.differing.begin());
        auto speedup = newPlot("Speed-up against workers", "workers", "speed-up T(P0) / T(P)");
        auto efficiency = newPlot("Scaling efficiency against workers", "workers", "efficiency (%)");
        std::size_t si = 0;
        double maxP = 0, minP = 1e300;
        for (const auto& [label, groups] : seriesWithout(d, axis)) {
            std::vector<std::pair<double, double>> pts; // (workers, mean simulated time)
            for (std::size_t gi : groups)
                pts.push_back({std::atof(d.groups[gi].key[axis].c_str()), meanSimulatedTime(d, d.groups[gi])});
            std::sort(pts.begin(), pts.end());
            if (pts.empty() || pts.front().first <= 0)
                continue;
            const double p0 = pts.front().first, t0 = pts.front().second;
            QVector<double> x, s, e;
            for (const auto& [p, t] : pts) {
                x << p;
                s << (t > 0 ? t0 / t : 0);
                e << (t > 0 ? 100.0 * t0 / t * p0 / p : 0);
                maxP = std::max(maxP, p / p0);
                minP = std::min(minP, p);
            }
            addGraph(*speedup, label, x, s, si, true);
            addGraph(*efficiency, label, x, e, si, true);
            ++si;
        }
        if (si > 0) {
            // Ideal linear speed-up from the smallest worker count.
            QVector<double> ix{minP, minP * maxP}, iy{1, maxP};
            addGraph(*speedup, "ideal (linear)", ix, iy, 7, false, Qt::DashLine);
            charts.push_back({"Speed-up against workers",
                              "Speed-up = simulated training time with the fewest workers P0 / time with P workers, "
                              "same workload (strong scaling; means over repetitions).",
                              render(*speedup)});
            charts.push_back({"Scaling efficiency against workers",
                              "Efficiency = speed-up x P0 / P; 100 % is linear scaling.", render(*efficiency)});
        }
    }

    // Communication overhead against each varying bandwidth.
    for (std::size_t axis = 0; axis < d.differing.size(); ++axis) {
        const std::string& path = d.differing[axis];
        if (path.size() < 9 || path.compare(path.size() - 9, 9, "bandwidth") != 0)
            continue;
        auto plot = newPlot("Communication overhead against " + QString::fromStdString(d.shortNames[axis]),
                            QString::fromStdString(d.shortNames[axis]) + " (Gb/s, log scale)",
                            "communication overhead (%)");
        plot->xAxis->setScaleType(QCPAxis::stLogarithmic);
        plot->xAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
        std::size_t si = 0;
        for (const auto& [label, groups] : seriesWithout(d, axis)) {
            std::vector<std::pair<double, double>> pts;
            for (std::size_t gi : groups)
                if (const auto bw = parseUnit(d.groups[gi].key[axis], UnitKind::Bandwidth))
                    pts.push_back({*bw * 8 / 1e9, 100 * meanOverhead(d, d.groups[gi])});
            std::sort(pts.begin(), pts.end());
            QVector<double> x, y;
            for (const auto& [b, o] : pts) {
                x << b;
                y << o;
            }
            if (!x.isEmpty())
                addGraph(*plot, label, x, y, si++, true);
        }
        if (si > 0)
            charts.push_back({"Communication overhead against " + QString::fromStdString(path),
                              "Workers' communication time / elapsed time (means over repetitions).", render(*plot)});
    }
    // Checkpoint planning: simulated time against the interval, with the measured and the formulas' optima.
    if (const auto plan = checkpointPlan(d)) {
        auto plot = newPlot("Simulated time against the checkpoint interval", "checkpoint interval (s, log scale)",
                            "simulated time (s)");
        plot->xAxis->setScaleType(QCPAxis::stLogarithmic);
        plot->xAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
        QVector<double> x, y, lo, hi;
        double top = 0, bottom = 1e300;
        for (const auto& pt : plan->points) {
            x << pt.interval;
            y << pt.time.mean;
            top = std::max(top, pt.time.mean + pt.time.sd);
            bottom = std::min(bottom, pt.time.mean - pt.time.sd);
        }
        addGraph(*plot, "mean simulated time (error bars: 1 sd)", x, y, 0, true);
        auto* bars = new QCPErrorBars(plot->xAxis, plot->yAxis);
        bars->removeFromLegend();
        bars->setDataPlottable(plot->graph(0));
        QVector<double> err;
        for (const auto& pt : plan->points)
            err << pt.time.sd;
        bars->setData(err);
        const double y0 = std::max(0.0, bottom - 0.1 * (top - bottom)), y1 = top + 0.1 * (top - bottom);
        auto vline = [&](double at, const QString& name, std::size_t c, Qt::PenStyle style) {
            addGraph(*plot, name, QVector<double>{at, at}, QVector<double>{y0, y1}, c, false, style);
        };
        vline(plan->best, "measured optimum " + QString::fromStdString(formatSeconds(plan->best)), 2, Qt::SolidLine);
        vline(plan->young, "Young sqrt(2 delta M) " + QString::fromStdString(formatSeconds(plan->young)), 3,
              Qt::DashLine);
        vline(plan->daly, "Daly " + QString::fromStdString(formatSeconds(plan->daly)), 4, Qt::DotLine);
        plot->xAxis->setRange(std::min(x.front(), plan->young) / 1.3, std::max(x.back(), plan->young) * 1.3);
        plot->yAxis->setRange(y0, y1);
        charts.push_back({"Simulated time against the checkpoint interval",
                          QString("delta = %1 (measured checkpoint write), M = %2 (system MTBF).")
                              .arg(QString::fromStdString(formatSeconds(plan->delta)),
                                   QString::fromStdString(formatSeconds(plan->mtbf))),
                          render(*plot)});
    }
    return charts;
}

} // namespace dml::app::report
