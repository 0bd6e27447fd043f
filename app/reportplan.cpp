// SPDX-License-Identifier: GPL-3.0-or-later
// A report's answer (issue 15): confidence intervals, the best configuration for an objective, crossovers along
// the varied fields, bottlenecks and costs.
#include "reportdata.h"

#include "scenario.h"
#include "units.h"

#include <boost/math/distributions/students_t.hpp>

#include <QJsonDocument>
#include <QJsonObject>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <stdexcept>

namespace dml::app::report {

double studentT975(int dof)
{
    if (dof < 1)
        throw std::invalid_argument("studentT975: degrees of freedom must be >= 1");
    return boost::math::quantile(boost::math::students_t(double(dof)), 0.975);
}

Estimate estimate(const std::vector<double>& v)
{
    Estimate e;
    e.n = int(v.size());
    if (v.empty())
        return e;
    const Stat s = stat(v);
    e.mean = s.mean;
    const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    e.varies = *hi != *lo;
    if (e.n > 1 && e.varies)
        e.half = studentT975(e.n - 1) * s.sd / std::sqrt(double(e.n));
    return e;
}

std::vector<Crossover> findCrossovers(const std::vector<double>& xs,
                                      const std::vector<std::pair<std::string, std::vector<double>>>& curves,
                                      bool logX)
{
    auto bestAt = [&](std::size_t i) {
        int best = -1;
        for (std::size_t c = 0; c < curves.size(); ++c) {
            const double y = curves[c].second[i];
            if (std::isfinite(y) && (best < 0 || y < curves[std::size_t(best)].second[i]))
                best = int(c);
        }
        return best;
    };
    std::vector<Crossover> out;
    int prev = -1;
    std::size_t prevIndex = 0;
    for (std::size_t i = 0; i < xs.size(); ++i) {
        const int b = bestAt(i);
        if (b < 0)
            continue; // no curve has a value here
        if (prev >= 0 && b != prev) {
            Crossover c;
            c.x0 = xs[prevIndex];
            c.x1 = xs[i];
            c.from = curves[std::size_t(prev)].first;
            c.to = curves[std::size_t(b)].first;
            const auto& ya = curves[std::size_t(prev)].second;
            const auto& yb = curves[std::size_t(b)].second;
            const double d0 = ya[prevIndex] - yb[prevIndex], d1 = ya[i] - yb[i]; // d0 <= 0 <= d1
            if (!std::isfinite(d0) || !std::isfinite(d1) || d1 == d0) {
                c.x = std::nan("");
                c.interpolated = false;
            } else {
                const double t = d0 / (d0 - d1);
                if (logX && c.x0 > 0 && c.x1 > 0)
                    c.x = std::exp(std::log(c.x0) + t * (std::log(c.x1) - std::log(c.x0)));
                else
                    c.x = c.x0 + t * (c.x1 - c.x0);
                c.interpolated = t > 0 && t < 1;
                if (t <= 0)
                    c.x = c.x0;
                if (t >= 1)
                    c.x = c.x1;
            }
            out.push_back(std::move(c));
        }
        prev = b;
        prevIndex = i;
    }
    return out;
}

std::vector<bool> paretoFront(const std::vector<std::pair<double, double>>& p)
{
    std::vector<bool> front(p.size(), false);
    for (std::size_t i = 0; i < p.size(); ++i) {
        if (std::isnan(p[i].first) || std::isnan(p[i].second))
            continue;
        bool dominated = false;
        for (std::size_t j = 0; j < p.size() && !dominated; ++j)
            dominated = j != i && p[j].first <= p[i].first && p[j].second <= p[i].second &&
                        (p[j].first < p[i].first || p[j].second < p[i].second);
        front[i] = !dominated;
    }
    return front;
}

std::optional<Objective> parseObjective(const std::string& name)
{
    if (name == "tta" || name == "time-to-target")
        return Objective::TimeToTarget;
    if (name == "time" || name == "simulated-time")
        return Objective::SimulatedTime;
    if (name == "cost")
        return Objective::Cost;
    return std::nullopt;
}

namespace {


/// The training set's size as the scenario gives it (the defaults of DatasetSpec), or NaN if unreadable.
double trainingSamples(const std::string& scenarioText)
{
    const QJsonObject sc = QJsonDocument::fromJson(QByteArray::fromStdString(scenarioText)).object();
    const QString name = jsonAt(sc, "workload.dataset.name").toString("fashion-mnist");
    const QJsonValue n = jsonAt(sc, "workload.dataset.train_samples");
    if (name == "fashion-mnist")
        return n.toDouble(0) > 0 ? n.toDouble() : 60000.0;
    if (name == "synthetic")
        return n.isDouble() ? n.toDouble() : double(SyntheticSpec{}.trainSamples);
    if (name == "none")
        return n.isDouble() ? n.toDouble() : 60000.0;
    return std::nan("");
}

/// The path's unit kind, for values given as strings.
std::optional<UnitKind> kindOf(const std::string& path)
{
    auto ends = [&](const char* t) {
        const std::string tail(t);
        return path.size() >= tail.size() && path.compare(path.size() - tail.size(), tail.size(), tail) == 0;
    };
    if (ends("bandwidth"))
        return UnitKind::Bandwidth;
    if (ends("latency") || ends("every") || ends("time") || ends("deadline") || ends("mtbf") || ends("mttr") ||
        ends("detection") || ends("delay"))
        return UnitKind::Time;
    if (ends("speed"))
        return UnitKind::Speed;
    if (ends("flops"))
        return UnitKind::Flops;
    if (ends("size") || ends("bytes"))
        return UnitKind::Size;
    return std::nullopt;
}

std::string percentText(double fraction)
{
    char b[32];
    std::snprintf(b, sizeof b, "%.4g %%", 100 * fraction);
    return b;
}

/// A load, one decimal: "91.3 %".
std::string loadText(double fraction)
{
    char b[32];
    std::snprintf(b, sizeof b, "%.1f %%", 100 * fraction);
    return b;
}

std::string objectiveFigure(const Data& d, Objective o, double v)
{
    if (o == Objective::Cost) {
        char b[64];
        std::snprintf(b, sizeof b, "%.4g %s", v, d.cost.currency.c_str());
        return b;
    }
    return formatSeconds(v);
}

} // namespace

std::string formatAxisValue(const NumericAxis& a, double baseValue)
{
    char b[64];
    std::snprintf(b, sizeof b, "%.3g", baseValue / a.scale);
    return a.unit.empty() ? std::string(b) : std::string(b) + " " + a.unit;
}

void computeFigures(Data& d)
{
    d.figures.clear();
    d.numeric.clear();
    d.categorical.clear();
    d.target = 0;
    d.accuracySimulated = true;
    if (!d.runs.empty())
        d.cost = costOf(d.runs.front().record.scenarioText);
    for (const Run& r : d.runs) {
        d.target = std::max(d.target, r.record.summary.targetAccuracy);
        d.accuracySimulated = d.accuracySimulated && r.record.summary.accuracySimulated;
    }
    for (const Group& g : d.groups) {
        Figures f;
        std::vector<double> acc, ttt, sim, thr, comm, util, bytes, wall, cost, ctt, load;
        std::map<std::string, std::pair<double, std::string>> saturated;
        for (std::size_t i : g.runs) {
            const Run& r = d.runs[i];
            const bool first = i == g.runs.front();
            const Summary& s = r.record.summary;
            f.accuracySimulated = f.accuracySimulated && s.accuracySimulated;
            f.target = std::max(f.target, s.targetAccuracy);
            if (s.accuracySimulated)
                acc.push_back(s.finalAccuracy);
            if (s.timeToTarget >= 0)
                ttt.push_back(s.timeToTarget);
            sim.push_back(s.simulatedTime);
            const double n = trainingSamples(r.record.scenarioText);
            if (std::isfinite(n) && s.simulatedTime > 0)
                thr.push_back(s.epochs * n / s.simulatedTime);
            comm.push_back(s.communicationOverhead);
            util.push_back(s.utilization);
            bytes.push_back(s.bytesOnWire);
            wall.push_back(r.record.wallTime);
            if (d.cost.given) {
                const double c = runCost(d.cost, r.hosts, r.links, s.simulatedTime).total();
                cost.push_back(c);
                if (s.timeToTarget >= 0 && s.simulatedTime > 0)
                    ctt.push_back(c * s.timeToTarget / s.simulatedTime);
            }
            const Bottleneck b = findBottleneck(r.hosts, r.links);
            if (first)
                f.bottleneck = b;
            // The first repetition's resource, measured in every repetition.
            if (f.bottleneck.kind == Bottleneck::Kind::Link) {
                for (const LinkStats& l : r.links)
                    if (l.name == f.bottleneck.name)
                        load.push_back(l.utilization);
            } else if (f.bottleneck.kind == Bottleneck::Kind::Host) {
                for (const HostStats& h : r.hosts)
                    if (h.name == f.bottleneck.name && h.elapsed > 0)
                        load.push_back(h.compute / h.elapsed);
            }
            for (const LinkStats& l : saturatedSharedLinks(r.hosts, r.links)) {
                auto& [u, kind] = saturated[l.name];
                u = std::max(u, l.utilization);
                std::vector<std::string> names;
                for (const HostStats& h : r.hosts)
                    names.push_back(h.name);
                kind = classifyLink(l.name, names).kind;
            }
        }
        f.accuracy = estimate(acc);
        f.timeToTarget = estimate(ttt);
        f.reached = int(ttt.size());
        f.simulatedTime = estimate(sim);
        f.throughput = estimate(thr);
        f.comm = estimate(comm);
        f.util = estimate(util);
        f.bytes = estimate(bytes);
        f.wall = estimate(wall);
        f.cost = estimate(cost);
        f.costToTarget = estimate(ctt);
        f.bottleneckLoad = estimate(load);
        std::vector<std::pair<std::string, std::pair<double, std::string>>> sorted(saturated.begin(), saturated.end());
        std::stable_sort(sorted.begin(), sorted.end(),
                         [](const auto& a, const auto& b) { return a.second.first > b.second.first; });
        for (const auto& [name, v] : sorted) {
            f.saturated.emplace_back(name, v.first);
            f.saturatedKind.push_back(v.second);
        }
        d.figures.push_back(std::move(f));
    }
    // Axes: a varied field is numeric when every configuration's value reads as a number (or a unit string).
    for (std::size_t k = 0; k < d.differing.size(); ++k) {
        NumericAxis a;
        a.index = k;
        const auto kind = kindOf(d.differing[k]);
        bool numeric = !d.groups.empty();
        for (const Group& g : d.groups) {
            const std::string& v = g.key[k];
            bool ok = false;
            double x = QString::fromStdString(v).toDouble(&ok);
            if (!ok && kind)
                if (const auto u = parseUnit(v, *kind)) {
                    x = *u;
                    ok = true;
                }
            if (!ok || !std::isfinite(x)) {
                numeric = false;
                break;
            }
            a.values.push_back(x);
        }
        if (!numeric) {
            d.categorical.push_back(k);
            continue;
        }
        if (kind == UnitKind::Bandwidth) {
            a.scale = 1e9 / 8;
            a.unit = "Gb/s";
        } else if (kind == UnitKind::Time) {
            a.unit = "s";
        } else if (kind == UnitKind::Size) {
            a.unit = "B";
        } else if (kind == UnitKind::Speed) {
            a.scale = 1e9;
            a.unit = "Gflop/s";
        }
        const auto [lo, hi] = std::minmax_element(a.values.begin(), a.values.end());
        a.logX = *lo > 0 && *hi / *lo >= 10;
        d.numeric.push_back(std::move(a));
    }
}

double objectiveValue(const Data& d, std::size_t g, Objective o)
{
    const Figures& f = d.figures[g];
    const double inf = std::numeric_limits<double>::infinity();
    const int n = int(d.groups[g].runs.size());
    switch (o) {
    case Objective::TimeToTarget: return f.reached == n && n > 0 ? f.timeToTarget.mean : inf;
    case Objective::SimulatedTime: return f.simulatedTime.n > 0 ? f.simulatedTime.mean : inf;
    case Objective::Cost:
        if (d.target > 0 && d.accuracySimulated)
            return f.reached == n && f.costToTarget.n > 0 ? f.costToTarget.mean : inf;
        return f.cost.n > 0 ? f.cost.mean : inf;
    }
    return inf;
}

Answer answer(const Data& d, Objective wanted)
{
    Answer a;
    a.objective = wanted;
    const std::string target = percentText(d.target);
    if (wanted == Objective::Cost && !d.cost.given)
        throw std::runtime_error("--objective cost: the runs' scenarios have no prices; add a \"cost\" section "
                                 "(README \"Cost\"), e.g. \"cost\": {\"host_hour\": {\"worker\": 2.5}}");
    if (wanted == Objective::TimeToTarget && (d.target <= 0 || !d.accuracySimulated)) {
        a.objective = Objective::SimulatedTime;
        a.note = !d.accuracySimulated
                     ? "accuracy is not simulated (proxy model), so the configurations are ranked by simulated time "
                       "for the same work"
                     : "the runs set no target accuracy (run.target_accuracy), so the configurations are ranked by "
                       "simulated time";
    }
    switch (a.objective) {
    case Objective::TimeToTarget: a.objectiveText = "time to " + target + " accuracy"; break;
    case Objective::SimulatedTime: a.objectiveText = "simulated time"; break;
    case Objective::Cost:
        a.objectiveText = d.target > 0 && d.accuracySimulated ? "cost to " + target + " accuracy" : "cost per run";
        break;
    }
    if (d.sweepId.rfind("jobs-", 0) == 0) {
        // The jobs of one simulation (README "Several jobs on one platform") ran together on shared links: they are
        // not alternatives, and ranking them (job b "beating" job a because it ran fewer steps) would mislead.
        a.lines.push_back("These runs are the jobs of one simulation, which shared one platform (README \"Several "
                          "jobs on one platform\"): they ran together, not as alternatives, so nothing is ranked and "
                          "no crossover is sought. Compare their figures in the table.");
        return a;
    }
    std::vector<std::pair<double, std::size_t>> ranked;
    for (std::size_t g = 0; g < d.groups.size(); ++g)
        ranked.emplace_back(objectiveValue(d, g, a.objective), g);
    std::stable_sort(ranked.begin(), ranked.end());
    auto interval = [&](std::size_t g) -> Estimate {
        const Figures& f = d.figures[g];
        return a.objective == Objective::TimeToTarget ? f.timeToTarget
               : a.objective == Objective::SimulatedTime ? f.simulatedTime
               : d.target > 0 && d.accuracySimulated     ? f.costToTarget
                                                         : f.cost;
    };
    if (!ranked.empty() && std::isfinite(ranked[0].first)) {
        a.best = int(ranked[0].second);
        a.bestValue = ranked[0].first;
        if (ranked.size() > 1 && std::isfinite(ranked[1].first)) {
            a.runnerUp = int(ranked[1].second);
            a.runnerUpValue = ranked[1].first;
            const Estimate x = interval(ranked[0].second), y = interval(ranked[1].second);
            a.overlap = x.upper() >= y.lower();
        }
    }

    // Crossovers: along each numeric field, within each slice of the other numeric fields, between the
    // configurations that differ in the categorical fields (the strategies, ...).
    for (const NumericAxis& ax : d.numeric) {
        std::map<std::string, std::vector<std::size_t>> slices; // other numeric values -> groups
        for (std::size_t g = 0; g < d.groups.size(); ++g) {
            std::string slice;
            for (const NumericAxis& other : d.numeric)
                if (other.index != ax.index)
                    slice += (slice.empty() ? "" : ", ") + d.shortNames[other.index] + "=" + d.groups[g].key[other.index];
            slices[slice].push_back(g);
        }
        for (const auto& [slice, groups] : slices) {
            std::set<double> xset;
            std::map<std::string, std::map<double, double>> curves;
            for (std::size_t g : groups) {
                std::string label;
                for (std::size_t k : d.categorical)
                    label += (label.empty() ? "" : ", ") + d.groups[g].key[k];
                curves[label.empty() ? "all" : label][ax.values[g]] = objectiveValue(d, g, a.objective);
                xset.insert(ax.values[g]);
            }
            if (xset.size() < 2)
                continue;
            Answer::AxisCrossovers ac;
            ac.axis = ax.index;
            ac.slice = slice;
            ac.logX = ax.logX;
            ac.lo = *xset.begin();
            ac.hi = *xset.rbegin();
            const std::vector<double> xs(xset.begin(), xset.end());
            std::vector<std::pair<std::string, std::vector<double>>> ys;
            for (const auto& [label, points] : curves) {
                std::vector<double> y;
                for (double x : xs)
                    y.push_back(points.count(x) ? points.at(x) : std::nan(""));
                ys.emplace_back(label, std::move(y));
                ac.curves.push_back(label);
            }
            if (ys.size() < 2)
                continue; // nothing to cross
            ac.crossovers = findCrossovers(xs, ys, ax.logX);
            if (ac.crossovers.empty()) {
                // The best at every x, if one curve is.
                std::set<std::string> bests;
                for (std::size_t i = 0; i < xs.size(); ++i) {
                    int b = -1;
                    for (std::size_t c = 0; c < ys.size(); ++c)
                        if (std::isfinite(ys[c].second[i]) && (b < 0 || ys[c].second[i] < ys[std::size_t(b)].second[i]))
                            b = int(c);
                    if (b >= 0)
                        bests.insert(ys[std::size_t(b)].first);
                }
                if (bests.size() == 1)
                    ac.bestEverywhere = *bests.begin();
            }
            a.axes.push_back(std::move(ac));
        }
    }

    // The answer in sentences.
    auto& L = a.lines;
    if (!a.note.empty())
        L.push_back("Objective: " + a.objectiveText + " (" + a.note + ").");
    else
        L.push_back("Objective: " + a.objectiveText + ".");
    if (a.best < 0) {
        L.push_back(a.objective == Objective::TimeToTarget
                        ? "No configuration reached the target accuracy of " + target + " in every repetition."
                        : "No configuration has a value for the objective.");
    } else {
        const std::string bestLabel = d.groups[std::size_t(a.best)].label.toStdString();
        std::string s = "Best: " + bestLabel + ", " + objectiveFigure(d, a.objective, a.bestValue);
        if (a.runnerUp >= 0) {
            const double margin = a.runnerUpValue > 0 ? (a.runnerUpValue - a.bestValue) / a.runnerUpValue : 0;
            char b[64];
            std::snprintf(b, sizeof b, "%.1f %%", 100 * margin);
            s += "; " + std::string(b) + " less than the runner-up, " +
                 d.groups[std::size_t(a.runnerUp)].label.toStdString() + " (" +
                 objectiveFigure(d, a.objective, a.runnerUpValue) + ")";
            if (a.overlap)
                s += "; their 95 % intervals overlap, so the ranking may not hold for other seeds";
        }
        L.push_back(s + ".");
    }
    for (const Answer::AxisCrossovers& ac : a.axes) {
        const NumericAxis* ax = nullptr;
        for (const NumericAxis& n : d.numeric)
            if (n.index == ac.axis)
                ax = &n;
        const std::string field = d.shortNames[ac.axis];
        const std::string where = ac.slice.empty() ? "" : " (" + ac.slice + ")";
        if (ac.crossovers.empty()) {
            if (!ac.bestEverywhere.empty())
                L.push_back("Along " + field + where + ": " + ac.bestEverywhere + " is best at every value from " +
                            formatAxisValue(*ax, ac.lo) + " to " + formatAxisValue(*ax, ac.hi) + "; no crossover.");
            continue;
        }
        for (const Crossover& c : ac.crossovers) {
            std::string s = "Along " + field + where + ": " + c.from + " is best up to " + formatAxisValue(*ax, c.x0) +
                            ", " + c.to + " from " + formatAxisValue(*ax, c.x1) + " (of the grid points); ";
            if (std::isnan(c.x))
                s += "the crossover lies between these grid points (a value is missing at one of them).";
            else if (c.interpolated)
                s += "they cross at about " + formatAxisValue(*ax, c.x) + " (interpolated" +
                     (ac.logX ? " on a log axis" : "") + " between the grid points).";
            else
                s += "they are equal at " + formatAxisValue(*ax, c.x) + " (a grid point).";
            L.push_back(s);
        }
    }
    // Plateaus: a curve that does not improve over at least a doubling of the field is limited by something else
    // (a saturated backbone made ring all-reduce take the same time at 10, 25 and 100 Gb/s: issue 15).
    for (const Answer::AxisCrossovers& ac : a.axes) {
        const NumericAxis* ax = nullptr;
        for (const NumericAxis& n : d.numeric)
            if (n.index == ac.axis)
                ax = &n;
        for (const std::string& curve : ac.curves) {
            std::vector<std::pair<double, std::size_t>> pts; // (x, group) of this curve in this slice
            for (std::size_t g = 0; g < d.groups.size(); ++g) {
                std::string label, slice;
                for (std::size_t k : d.categorical)
                    label += (label.empty() ? "" : ", ") + d.groups[g].key[k];
                for (const NumericAxis& other : d.numeric)
                    if (other.index != ax->index)
                        slice += (slice.empty() ? "" : ", ") + d.shortNames[other.index] + "=" + d.groups[g].key[other.index];
                if ((label.empty() ? "all" : label) == curve && slice == ac.slice)
                    pts.emplace_back(ax->values[g], g);
            }
            std::sort(pts.begin(), pts.end());
            // The longest run of points from the first whose objective stays within 1 % of it.
            for (std::size_t i = 0; i + 1 < pts.size(); ++i) {
                const double y0 = objectiveValue(d, pts[i].second, a.objective);
                std::size_t j = i;
                while (j + 1 < pts.size() && std::isfinite(y0) &&
                       std::fabs(objectiveValue(d, pts[j + 1].second, a.objective) - y0) <= 0.01 * y0)
                    ++j;
                if (j > i && pts[i].first > 0 && pts[j].first / pts[i].first >= 2) {
                    const Bottleneck& b = d.figures[pts[j].second].bottleneck;
                    L.push_back("Plateau: " + curve + (ac.slice.empty() ? "" : " (" + ac.slice + ")") + " takes the " +
                                "same " + a.objectiveText + " (within 1 %) from " + formatAxisValue(*ax, pts[i].first) +
                                " to " + formatAxisValue(*ax, pts[j].first) + " of " + d.shortNames[ax->index] +
                                ": something else limits it there; bottleneck at " + formatAxisValue(*ax, pts[j].first) +
                                ": " + b.text() + ".");
                    break;
                }
            }
        }
    }
    for (std::size_t g = 0; g < d.groups.size(); ++g) {
        const Figures& f = d.figures[g];
        std::string s = "Bottleneck of " + d.groups[g].label.toStdString() + ": " + f.bottleneck.text();
        if (f.bottleneckLoad.varies)
            s += " (" + loadText(f.bottleneckLoad.mean) + " mean over the repetitions)";
        if (f.bottleneck.kind != Bottleneck::Kind::None && f.bottleneck.load < 0.5)
            s += "; nothing is loaded above 50 %: latency, synchronisation or waiting bounds it";
        L.push_back(s + ".");
        for (std::size_t k = 0; k < f.saturated.size(); ++k)
            L.push_back("Warning: " + d.groups[g].label.toStdString() + ": shared link " + f.saturated[k].first +
                        " (" + f.saturatedKind[k] + ") at " + loadText(f.saturated[k].second) +
                        " load, above 80 %: it limits this configuration whatever the hosts' own links.");
    }
    return a;
}

} // namespace dml::app::report
