// SPDX-License-Identifier: GPL-3.0-or-later
// The report's charts, drawn off screen with QCustomPlot.
#include "reportdata.h"

#include "units.h"

#include <qcustomplot.h>

#include <QJsonArray>
#include <QJsonDocument>

#include <algorithm>
#include <cmath>
#include <functional>
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

/// A second axis rect under the plot's, sharing its x axis: the final accuracy reached, so that a speed-up is
/// never read without the accuracy it cost.
QCPAxisRect* addPanel(QCustomPlot& plot, const QString& yLabel)
{
    auto* rect = new QCPAxisRect(&plot);
    plot.plotLayout()->addElement(plot.plotLayout()->rowCount(), 0, rect);
    auto* group = new QCPMarginGroup(&plot);
    plot.axisRect(0)->setMarginGroup(QCP::msLeft | QCP::msRight, group);
    rect->setMarginGroup(QCP::msLeft | QCP::msRight, group);
    rect->axis(QCPAxis::atBottom)->setLabel(plot.xAxis->label());
    rect->axis(QCPAxis::atLeft)->setLabel(yLabel);
    rect->axis(QCPAxis::atBottom)->setScaleType(plot.xAxis->scaleType());
    rect->axis(QCPAxis::atBottom)->setTicker(plot.xAxis->ticker());
    plot.plotLayout()->setRowStretchFactor(plot.plotLayout()->rowCount() - 1, 0.45);
    return rect;
}

QImage render(QCustomPlot& plot, QCPAxisRect* panel = nullptr)
{
    // The legend goes under the axes, in columns, so it never hides data.
    int entries = 0;
    for (int i = 0; i < plot.graphCount(); ++i)
        entries += plot.graph(i)->name().isEmpty() ? 0 : 1;
    int longest = 0;
    for (int i = 0; i < plot.graphCount(); ++i)
        longest = std::max(longest, int(plot.graph(i)->name().size()));
    const int columns = entries > 8 && longest <= 64 ? 2 : 1;
    // 17 px per legend row at 8 pt, plus the legend's margins and frame (at 16 px the frame's foot was clipped).
    const int height = kHeight + (panel ? 200 : 0) + ((entries + columns - 1) / columns) * 17 + 12;
    if (plot.legend->visible()) {
        plot.axisRect()->insetLayout()->take(plot.legend);
        plot.plotLayout()->addElement(plot.plotLayout()->rowCount(), 0, plot.legend);
        plot.plotLayout()->setRowStretchFactor(plot.plotLayout()->rowCount() - 1, 0.001);
        plot.legend->setWrap(columns);
        plot.legend->setFillOrder(QCPLayoutGrid::foColumnsFirst, true);
        plot.legend->setMargins(QMargins(6, 3, 6, 3));
        // The legend's frame is drawn on its outer rect: keep that off the image's edges, or its foot is cut.
        plot.plotLayout()->setMargins(QMargins(0, 0, 2, 4));
    }
    plot.resize(kWidth, height);
    plot.rescaleAxes();
    // Log scales for positive data spanning a decade or more, when the chart asks for them (logIfDecades).
    for (QCPAxis* a : {plot.xAxis, plot.yAxis})
        if (a->property("logIfDecades").toBool() && a->range().lower > 0 && a->range().upper / a->range().lower >= 10) {
            a->setScaleType(QCPAxis::stLogarithmic);
            a->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
            a->setNumberFormat("gb");
            a->setLabel(a->label() + ", log scale");
        }
    // A little room around the data.
    std::vector<QCPAxis*> axes{plot.xAxis, plot.yAxis};
    if (panel)
        axes.push_back(panel->axis(QCPAxis::atLeft));
    for (QCPAxis* a : axes) {
        const QCPRange r = a->range();
        if (a->scaleType() == QCPAxis::stLogarithmic)
            a->setRange(r.lower / 1.3, r.upper * 1.3);
        else {
            const double pad = r.size() > 0 ? r.size() * 0.05 : std::max(1e-9, std::abs(r.lower) * 0.1);
            a->setRange(r.lower - pad, r.upper + pad);
        }
    }
    if (panel)
        panel->axis(QCPAxis::atBottom)->setRange(plot.xAxis->range());
    plot.replot();
    return plot.toPixmap(kWidth, height, 2.0).toImage();
}

std::string pct(double fraction)
{
    return QString::number(100 * fraction, 'g', 4).toStdString() + " %";
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

std::vector<Chart> makeCharts(const Data& d, const Answer& answer)
{
    std::vector<Chart> charts;

    // Accuracy against simulated time: the first repetition of every configuration.
    bool anyAccuracy = false;
    for (const Run& r : d.runs)
        anyAccuracy = anyAccuracy || r.record.summary.accuracySimulated;
    if (anyAccuracy) {
        auto plot = newPlot("Test accuracy against simulated time", "simulated time (s)", "test accuracy (%)");
        for (std::size_t gi = 0; gi < d.groups.size(); ++gi) {
            const Run& r = d.runs[d.groups[gi].runs.front()];
            if (!r.record.summary.accuracySimulated)
                continue;
            QVector<double> x, y;
            for (const Sample& s : r.samples)
                if (!std::isnan(s.testAccuracy)) {
                    x << s.time;
                    y << 100 * s.testAccuracy;
                }
            addGraph(*plot, d.groups[gi].label, x, y, gi, x.size() < 40);
        }
        plot->legend->setVisible(d.groups.size() <= 40);
        charts.push_back({"Accuracy against simulated time", d.groups.size() > 1
                                                                  ? "The first repetition of each configuration."
                                                                  : QString(),
                          render(*plot)});
    }

    // Against each numeric varied field: time to target, simulated time, throughput; speed-up and scaling
    // efficiency against workers. One line per configuration of the other fields (per strategy, ...).
    for (const NumericAxis& ax : d.numeric) {
        const std::string field = d.shortNames[ax.index];
        const QString xLabel = QString::fromStdString(field + (ax.unit.empty() ? "" : " (" + ax.unit + ")") +
                                                      (ax.logX ? ", log scale" : ""));
        const auto series = seriesWithout(d, ax.index);
        // (x in display units, group) per series, sorted by x.
        std::vector<std::pair<QString, std::vector<std::pair<double, std::size_t>>>> lines;
        for (const auto& [label, groups] : series) {
            std::vector<std::pair<double, std::size_t>> pts;
            for (std::size_t gi : groups)
                pts.emplace_back(ax.values[gi] / ax.scale, gi);
            std::sort(pts.begin(), pts.end());
            lines.emplace_back(label, std::move(pts));
        }
        auto logAxis = [&](QCustomPlot& plot) {
            if (!ax.logX)
                return;
            plot.xAxis->setScaleType(QCPAxis::stLogarithmic);
            plot.xAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
        };
        // The crossovers found along this field, as vertical lines.
        auto markCrossovers = [&](QCustomPlot& plot) {
            for (const Answer::AxisCrossovers& ac : answer.axes) {
                if (ac.axis != ax.index)
                    continue;
                for (const Crossover& c : ac.crossovers) {
                    if (std::isnan(c.x))
                        continue;
                    auto* line = new QCPItemStraightLine(&plot);
                    line->point1->setCoords(c.x / ax.scale, 0);
                    line->point2->setCoords(c.x / ax.scale, 1);
                    line->setPen(QPen(QColor(90, 90, 90), 1.5, Qt::DashLine));
                    QCPGraph* key = plot.addGraph(); // a legend entry for the line, with no data
                    key->setPen(line->pen());
                    key->setName(QString::fromStdString(
                        "crossover " + c.from + " / " + c.to + (ac.slice.empty() ? "" : " (" + ac.slice + ")") +
                        ": " + (c.interpolated ? "about " : "") + formatAxisValue(ax, c.x) +
                        (c.interpolated ? " (interpolated)" : " (grid point)")));
                }
            }
        };
        // One chart of a per-group figure, with 95 % intervals as error bars.
        auto chart = [&](const QString& title, const QString& yLabel, const QString& caption, double yScale,
                         const std::function<const Estimate&(const Figures&)>& get,
                         const std::function<bool(std::size_t)>& valid, bool crossovers) {
            auto plot = newPlot(title, xLabel, yLabel);
            logAxis(*plot);
            plot->yAxis->setProperty("logIfDecades", true);
            std::size_t si = 0, drawn = 0;
            for (const auto& [label, pts] : lines) {
                QVector<double> x, y, err;
                for (const auto& [xv, gi] : pts) {
                    const Estimate& e = get(d.figures[gi]);
                    if (!valid(gi) || e.n == 0 || !std::isfinite(e.mean))
                        continue;
                    x << xv;
                    y << e.mean / yScale;
                    err << e.half / yScale;
                }
                if (!x.isEmpty()) {
                    addGraph(*plot, label, x, y, si, true);
                    auto* bars = new QCPErrorBars(plot->xAxis, plot->yAxis);
                    bars->removeFromLegend();
                    bars->setDataPlottable(plot->graph(plot->graphCount() - 1));
                    bars->setData(err);
                    bars->setPen(QPen(color(si), 1));
                    ++drawn;
                }
                ++si;
            }
            if (drawn == 0)
                return;
            if (crossovers)
                markCrossovers(*plot);
            charts.push_back({title, caption, render(*plot)});
        };
        const bool objectiveTta = answer.objective == Objective::TimeToTarget;
        const QString fieldName = QString::fromStdString(d.differing[ax.index]);
        if (d.target > 0 && d.accuracySimulated)
            chart("Time to " + QString::fromStdString(pct(d.target)) + " accuracy against " + QString::fromStdString(field),
                  "time to target (s)",
                  "Simulated time until the test accuracy first reached the target; mean over the repetitions that "
                  "reached it, error bars the 95 % confidence interval. A configuration whose repetitions did not "
                  "all reach it is drawn only where some did" +
                      QString(objectiveTta ? "; dashed: the crossovers of the answer." : "."),
                  1, [](const Figures& f) -> const Estimate& { return f.timeToTarget; },
                  [&](std::size_t gi) { return d.figures[gi].reached > 0; }, objectiveTta);
        chart("Simulated time against " + QString::fromStdString(field), "simulated time (s)",
              "Simulated time of the whole run (mean, error bars the 95 % confidence interval)" +
                  QString(answer.objective == Objective::SimulatedTime ? "; dashed: the crossovers of the answer."
                                                                       : "."),
              1, [](const Figures& f) -> const Estimate& { return f.simulatedTime; },
              [](std::size_t) { return true; }, answer.objective == Objective::SimulatedTime);
        chart("Throughput against " + QString::fromStdString(field), "throughput (samples/s)",
              "Training samples processed per simulated second: epochs x training set / simulated time, the same "
              "measure under every strategy (mean, error bars the 95 % confidence interval).",
              1, [](const Figures& f) -> const Estimate& { return f.throughput; }, [](std::size_t) { return true; },
              false);
        (void)fieldName;

        if (d.differing[ax.index] != "platform.workers")
            continue;
        // Speed-up and scaling efficiency, from the throughput (the same work per sample under every strategy),
        // each with the final accuracy beneath: a faster run that trains a worse model must not look like a win.
        auto speedup = newPlot("Speed-up against workers", xLabel, "speed-up thr(P) / thr(P0)");
        auto efficiency = newPlot("Scaling efficiency against workers", xLabel, "efficiency (%)");
        logAxis(*speedup);
        logAxis(*efficiency);
        QCPAxisRect* accS = d.accuracySimulated ? addPanel(*speedup, "final accuracy (%)") : nullptr;
        QCPAxisRect* accE = d.accuracySimulated ? addPanel(*efficiency, "final accuracy (%)") : nullptr;
        std::size_t si = 0;
        double maxRatio = 0, minP = 1e300;
        for (const auto& [label, pts] : lines) {
            if (pts.empty() || !(pts.front().first > 0) || !(d.figures[pts.front().second].throughput.mean > 0)) {
                ++si;
                continue;
            }
            const double p0 = pts.front().first, t0 = d.figures[pts.front().second].throughput.mean;
            QVector<double> x, sp, ef, acc;
            for (const auto& [p, gi] : pts) {
                const double t = d.figures[gi].throughput.mean;
                x << p;
                sp << t / t0;
                ef << 100.0 * t / t0 * p0 / p;
                acc << 100 * d.figures[gi].accuracy.mean;
                maxRatio = std::max(maxRatio, p / p0);
                minP = std::min(minP, p);
            }
            addGraph(*speedup, label, x, sp, si, true);
            addGraph(*efficiency, label, x, ef, si, true);
            for (auto [plot, rect] : {std::pair{speedup.get(), accS}, std::pair{efficiency.get(), accE}})
                if (rect) {
                    QCPGraph* g = plot->addGraph(rect->axis(QCPAxis::atBottom), rect->axis(QCPAxis::atLeft));
                    g->setData(x, acc, true);
                    g->setPen(QPen(color(si), 2));
                    g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssSquare, 6));
                    g->removeFromLegend();
                }
            ++si;
        }
        if (maxRatio > 0) {
            QVector<double> ix{minP, minP * maxRatio}, iy{1, maxRatio};
            addGraph(*speedup, "ideal (linear)", ix, iy, 7, false, Qt::DashLine);
            const QString accNote = d.accuracySimulated
                                        ? " Lower panel: the final test accuracy each configuration reached (%): "
                                          "compare it before crediting a speed-up."
                                        : "";
            charts.push_back({"Speed-up against workers",
                              "Speed-up = throughput with P workers / throughput with the fewest, P0 (means over "
                              "repetitions)." + accNote,
                              render(*speedup, accS)});
            charts.push_back({"Scaling efficiency against workers",
                              "Efficiency = speed-up x P0 / P; 100 % is linear scaling." + accNote,
                              render(*efficiency, accE)});
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
    // Time against cost, with the Pareto front (issue 15): the configurations no other beats in both.
    if (d.cost.given && d.groups.size() > 1) {
        const bool toTarget = d.target > 0 && d.accuracySimulated;
        std::vector<std::pair<double, double>> pts;
        for (const Figures& f : d.figures)
            pts.emplace_back(toTarget ? f.timeToTarget.mean : f.simulatedTime.mean,
                             toTarget ? f.costToTarget.mean : f.cost.mean);
        const std::vector<bool> front = paretoFront(pts);
        const QString cur = QString::fromStdString(d.cost.currency);
        auto plot = newPlot(toTarget ? "Time to target against cost to target" : "Simulated time against cost",
                            toTarget ? "time to target (s)" : "simulated time (s)",
                            (toTarget ? "cost to target (" : "cost (") + cur + ")");
        plot->xAxis->setProperty("logIfDecades", true);
        plot->yAxis->setProperty("logIfDecades", true);
        QVector<double> fx, fy;
        std::vector<std::pair<double, std::size_t>> onFront;
        for (std::size_t g = 0; g < pts.size(); ++g) {
            if (std::isnan(pts[g].first) || std::isnan(pts[g].second))
                continue;
            QCPGraph* gr = plot->addGraph();
            gr->setName(d.groups[g].label + (front[g] ? " (Pareto front)" : ""));
            gr->setData(QVector<double>{pts[g].first}, QVector<double>{pts[g].second}, true);
            gr->setLineStyle(QCPGraph::lsNone);
            gr->setPen(QPen(color(g), 2));
            gr->setScatterStyle(QCPScatterStyle(front[g] ? QCPScatterStyle::ssDisc : QCPScatterStyle::ssCircle,
                                                front[g] ? 10 : 7));
            if (front[g])
                onFront.emplace_back(pts[g].first, g);
        }
        std::sort(onFront.begin(), onFront.end());
        for (const auto& [t, g] : onFront) {
            fx << pts[g].first;
            fy << pts[g].second;
        }
        if (fx.size() > 1)
            addGraph(*plot, "Pareto front", fx, fy, 7, false, Qt::DashLine);
        charts.push_back({plot->graphCount() ? QString(toTarget ? "Time to target against cost to target"
                                                                : "Simulated time against cost")
                                             : QString(),
                          "Each configuration's mean " + QString(toTarget ? "time and cost to the target" : "time and cost") +
                              "; filled: the Pareto front, where nothing is both faster and cheaper. Cost: hosts "
                              "priced by role for the simulated time, plus bytes over priced links (README \"Cost\").",
                          render(*plot)});
    }
    return charts;
}

} // namespace dml::app::report
