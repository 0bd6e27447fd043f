// SPDX-License-Identifier: GPL-3.0-or-later
#include "report.h"

#include "reportdata.h"
#include "runstore.h"
#include "units.h"

#include <QApplication>
#include <QBuffer>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QPdfWriter>
#include <QRegularExpression>
#include <QSaveFile>
#include <QTextDocument>
#include <QUrl>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <unistd.h>

namespace dml::app {
namespace report {

Stat stat(const std::vector<double>& v)
{
    Stat s;
    s.n = int(v.size());
    if (v.empty())
        return s;
    for (double x : v)
        s.mean += x;
    s.mean /= double(v.size());
    if (v.size() > 1) {
        double ss = 0;
        for (double x : v)
            ss += (x - s.mean) * (x - s.mean);
        s.sd = std::sqrt(ss / double(v.size() - 1));
    }
    return s;
}

namespace {

void flatten(const QJsonValue& v, const std::string& path, std::map<std::string, std::string>& out)
{
    if (v.isObject()) {
        const QJsonObject o = v.toObject();
        for (auto it = o.begin(); it != o.end(); ++it)
            flatten(it.value(), path.empty() ? it.key().toStdString() : path + "." + it.key().toStdString(), out);
        return;
    }
    const QByteArray a = QJsonDocument(QJsonArray{v}).toJson(QJsonDocument::Compact);
    out[path] = a.mid(1, a.size() - 2).toStdString();
}

/// A compact JSON value as a person reads it: strings without their quotes.
std::string plain(const std::string& json)
{
    if (json.size() >= 2 && json.front() == '"')
        return QJsonDocument::fromJson(QByteArray::fromStdString("[" + json + "]")).array()[0].toString().toStdString();
    return json;
}

Data load(RunStore& store, const std::vector<long long>& ids)
{
    if (ids.empty())
        throw std::runtime_error("no runs to report on");
    Data d;
    d.storeFile = store.file();
    std::set<long long> seen;
    for (long long id : ids) {
        if (!seen.insert(id).second)
            continue;
        RunRecord rec = store.run(id); // throws StoreError naming the id
        if (rec.status != "finished") {
            d.skipped.push_back(std::move(rec));
            continue;
        }
        Run r;
        flatten(QJsonDocument::fromJson(QByteArray::fromStdString(rec.scenarioText)).object(), "", r.fields);
        r.samples = store.samples(id);
        r.series = store.series(id);
        r.hosts = store.hostStats(id);
        r.links = store.linkStats(id);
        r.record = std::move(rec);
        d.runs.push_back(std::move(r));
    }
    if (d.runs.empty())
        throw std::runtime_error("none of the " + std::to_string(ids.size()) + " runs has finished");

    std::set<std::string> paths;
    for (const Run& r : d.runs)
        for (const auto& [k, v] : r.fields)
            paths.insert(k);
    for (const std::string& p : paths) {
        const auto value = [&](const Run& r) {
            const auto it = r.fields.find(p);
            return it == r.fields.end() ? std::string() : it->second;
        };
        bool differs = false;
        for (const Run& r : d.runs)
            differs = differs || value(r) != value(d.runs.front());
        if (!differs)
            continue;
        if (p == "seed")
            d.seedsDiffer = true;
        else if (p != "name" && p != "description")
            d.differing.push_back(p);
    }
    // Headings: the last path segment, or the last two when that is ambiguous or generic.
    for (const std::string& p : d.differing) {
        const std::size_t dot = p.rfind('.');
        std::string last = dot == std::string::npos ? p : p.substr(dot + 1);
        int same = 0;
        for (const std::string& q : d.differing)
            same += q == last || (q.size() > last.size() && q.compare(q.size() - last.size() - 1, std::string::npos,
                                                                      "." + last) == 0);
        if ((same > 1 || last == "type" || last == "name") && dot != std::string::npos) {
            const std::size_t dot2 = p.rfind('.', dot - 1);
            last = dot2 == std::string::npos ? p : p.substr(dot2 + 1);
        }
        d.shortNames.push_back(last);
    }
    std::map<std::vector<std::string>, std::size_t> index;
    for (std::size_t i = 0; i < d.runs.size(); ++i) {
        std::vector<std::string> key;
        for (const std::string& p : d.differing) {
            const auto it = d.runs[i].fields.find(p);
            key.push_back(it == d.runs[i].fields.end() ? std::string() : plain(it->second));
        }
        auto [it, fresh] = index.emplace(key, d.groups.size());
        if (fresh) {
            Group g;
            g.key = key;
            QStringList parts;
            for (std::size_t k = 0; k < key.size(); ++k)
                parts << QString::fromStdString(d.shortNames[k] + "=" + (key[k].empty() ? "(default)" : key[k]));
            g.label = parts.isEmpty() ? QString::fromStdString(d.runs[i].fields.count("name")
                                                                   ? plain(d.runs[i].fields.at("name"))
                                                                   : d.runs[i].record.name)
                                      : parts.join(", ");
            d.groups.push_back(std::move(g));
        }
        d.groups[it->second].runs.push_back(i);
    }
    // Which build made each run; repetitions of one configuration from different builds are not comparable bit
    // for bit (README "Reproducibility").
    std::map<std::string, std::size_t> buildIndex;
    for (const Run& r : d.runs)
        if (buildIndex.emplace(r.record.build, d.builds.size()).second)
            d.builds.push_back(r.record.build);
    for (const Group& g : d.groups) {
        std::map<std::size_t, std::vector<long long>> byBuild; // build index -> run ids
        for (std::size_t i : g.runs)
            byBuild[buildIndex.at(d.runs[i].record.build)].push_back(d.runs[i].record.id);
        if (byBuild.size() < 2)
            continue;
        std::string w = "configuration " + g.label.toStdString() + ":";
        for (const auto& [b, ids] : byBuild) {
            w += (b == byBuild.begin()->first ? " " : ", ") + std::string(ids.size() == 1 ? "run" : "runs");
            for (std::size_t k = 0; k < ids.size(); ++k)
                w += (k ? ", " : " ") + std::to_string(ids[k]);
            w += " from build " + std::to_string(b + 1);
        }
        d.mixedBuilds.push_back(w);
    }
    // The sweep, when every run belongs to one: its name and description head the report.
    std::set<long long> runIds;
    for (const Run& r : d.runs)
        runIds.insert(r.record.id);
    for (const SweepRecord& sw : store.sweeps()) {
        std::set<long long> tagged;
        for (const SweepRunTag& t : store.sweepRuns(sw.id))
            tagged.insert(t.runId);
        if (std::includes(tagged.begin(), tagged.end(), runIds.begin(), runIds.end())) {
            d.sweepId = sw.id;
            d.sweepName = sw.name;
            d.sweepDescription = sw.description;
            break;
        }
    }
    computeFigures(d);
    return d;
}

/// The warnings of writeReport(): one line per configuration that mixes builds, then the builds.
std::vector<std::string> buildWarnings(const Data& d)
{
    if (d.mixedBuilds.empty())
        return {};
    std::vector<std::string> out;
    for (const std::string& m : d.mixedBuilds)
        out.push_back("runs of one configuration come from different builds, so their figures may differ in the "
                      "last bits (README \"Reproducibility\"): " + m);
    for (std::size_t b = 0; b < d.builds.size(); ++b)
        out.push_back("build " + std::to_string(b + 1) + ": " + (d.builds[b].empty() ? "(not recorded)" : d.builds[b]));
    return out;
}

QString esc(const std::string& s)
{
    return QString::fromStdString(s).toHtmlEscaped();
}

/// A display unit for one column: every cell of the column in it, named in the heading.
struct ColumnUnit {
    double scale = 1; ///< display = value / scale
    std::string name; ///< "ms", "GB", ...
    int decimals = 2;
    bool fixed = false; ///< every cell with `decimals` (percentages); else about four significant digits each
};

/// Decimals that give about four significant digits to the column's largest magnitude.
int decimalsFor(double largest)
{
    if (!(largest > 0) || !std::isfinite(largest))
        return 2;
    return std::clamp(3 - int(std::floor(std::log10(largest))), 0, 6);
}

double largestMean(const std::vector<const Estimate*>& es)
{
    double m = 0;
    for (const Estimate* e : es)
        if (e->n > 0 && std::isfinite(e->mean))
            m = std::max(m, std::fabs(e->mean));
    return m;
}

ColumnUnit timeUnit(const std::vector<const Estimate*>& es)
{
    const double m = largestMean(es);
    ColumnUnit u;
    if (m >= 1 || m == 0)
        u = {1, "s"};
    else if (m >= 1e-3)
        u = {1e-3, "ms"};
    else
        u = {1e-6, "us"};
    u.decimals = decimalsFor(m / u.scale);
    return u;
}

ColumnUnit byteUnit(const std::vector<const Estimate*>& es)
{
    const double m = largestMean(es);
    static const char* names[] = {"B", "kB", "MB", "GB", "TB", "PB"};
    ColumnUnit u{1, "B"};
    for (int i = 5; i >= 0; --i)
        if (m >= std::pow(1000.0, i)) {
            u = {std::pow(1000.0, i), names[i]};
            break;
        }
    u.decimals = decimalsFor(m / u.scale);
    return u;
}

ColumnUnit plainUnit(const std::vector<const Estimate*>& es, double scale, const std::string& name)
{
    ColumnUnit u{scale, name};
    u.decimals = decimalsFor(largestMean(es) / scale);
    return u;
}

/// "mean ± half" in the column's unit (numbers only: the unit is in the heading); "mean" alone when the value
/// does not vary over the repetitions or n = 1; "-" without a value.
QString cellOf(const Estimate& e, const ColumnUnit& u)
{
    if (e.n == 0 || !std::isfinite(e.mean))
        return "-";
    // About four significant digits for each mean (the column's decimals at most two fewer: 1081 and 12.70 s in
    // one column), the interval's half-width to the same decimals.
    const int decimals = u.fixed ? u.decimals : std::max(u.decimals, decimalsFor(std::fabs(e.mean / u.scale)));
    QString m = QString::number(e.mean / u.scale, 'f', decimals);
    if (e.half > 0) {
        QString half = QString::number(e.half / u.scale, 'f', decimals);
        if (QString(half).remove('0').remove('.').isEmpty()) // it varies, less than the last digit shown
            half = QString::number(e.half / u.scale, 'g', 2);
        m += " ± " + half;
    }
    return m;
}

/// A heading that breaks between words, never inside a field name: a zero-width space after '_' and '.'.
QString heading(const std::string& text)
{
    QString h = QString::fromStdString(text).toHtmlEscaped();
    h.replace("_", QString("_") + QChar(0x200B));
    h.replace(QRegularExpression("\\.(?=\\S)"), QString(".") + QChar(0x200B)); // "strategy.type", not "comm. x"
    return h;
}

std::string pct(double fraction, int decimals = 1)
{
    return QString::number(100 * fraction, 'f', decimals).toStdString() + " %";
}

/// The summary table's columns: heading (with its unit) and cell per group.
struct Column {
    std::string heading;
    std::function<QString(std::size_t)> cell;
    bool left = false;
};

std::vector<Column> summaryColumns(const Data& d, bool forCsv)
{
    std::vector<const Estimate*> acc, ttt, sim, thr, comm, util, bytes, wall, cost, ctt;
    for (const Figures& f : d.figures) {
        acc.push_back(&f.accuracy);
        ttt.push_back(&f.timeToTarget);
        sim.push_back(&f.simulatedTime);
        thr.push_back(&f.throughput);
        comm.push_back(&f.comm);
        util.push_back(&f.util);
        bytes.push_back(&f.bytes);
        wall.push_back(&f.wall);
        cost.push_back(&f.cost);
        ctt.push_back(&f.costToTarget);
    }
    // CSV: base units and full precision; HTML/PDF: a readable unit per column.
    auto full = [](double scale, const std::string& name) { return ColumnUnit{scale, name, 17}; };
    const ColumnUnit uAcc = ColumnUnit{0.01, "%", 2, true};
    const ColumnUnit uPct = ColumnUnit{0.01, "%", 1, true};
    const ColumnUnit uTtt = forCsv ? full(1, "s") : timeUnit(ttt), uSim = forCsv ? full(1, "s") : timeUnit(sim);
    const ColumnUnit uThr = forCsv ? full(1, "samples/s") : plainUnit(thr, 1, "samples/s");
    const ColumnUnit uBytes = forCsv ? full(1, "B") : byteUnit(bytes), uWall = forCsv ? full(1, "s") : timeUnit(wall);
    const ColumnUnit uCost = forCsv ? full(1, d.cost.currency) : plainUnit(cost, 1, d.cost.currency);
    const ColumnUnit uCtt = forCsv ? full(1, d.cost.currency) : plainUnit(ctt, 1, d.cost.currency);
    auto csvPair = [&](std::vector<Column>& cols, const std::string& name, const ColumnUnit& u,
                       const std::function<const Estimate&(const Figures&)>& get) {
        const std::string unit = u.name == "%" ? "pct" : u.name == "samples/s" ? "samples_per_s" : u.name;
        cols.push_back({name + "_" + unit, [&, u, get](std::size_t g) {
                            const Estimate& e = get(d.figures[g]);
                            return e.n ? QString::number(e.mean / u.scale, 'g', 17) : QString();
                        }});
        cols.push_back({name + "_ci95_" + unit, [&, u, get](std::size_t g) {
                            const Estimate& e = get(d.figures[g]);
                            return e.n ? QString::number(e.half / u.scale, 'g', 17) : QString();
                        }});
    };
    std::vector<Column> cols;
    for (std::size_t k = 0; k < d.differing.size(); ++k)
        cols.push_back({forCsv ? d.differing[k] : d.shortNames[k], [&, k](std::size_t g) {
                            const std::string& v = d.groups[g].key[k];
                            return QString::fromStdString(v.empty() ? "(default)" : v);
                        }, true});
    if (d.differing.empty())
        cols.push_back({"configuration", [&](std::size_t g) { return d.groups[g].label; }, true});
    cols.push_back({"n", [&](std::size_t g) { return QString::number(d.groups[g].runs.size()); }});
    const bool target = d.target > 0;
    if (forCsv) {
        csvPair(cols, "final_accuracy", uAcc, [](const Figures& f) -> const Estimate& { return f.accuracy; });
        if (target) {
            csvPair(cols, "time_to_target", uTtt, [](const Figures& f) -> const Estimate& { return f.timeToTarget; });
            cols.push_back({"reached", [&](std::size_t g) { return QString::number(d.figures[g].reached); }});
        }
        csvPair(cols, "simulated_time", uSim, [](const Figures& f) -> const Estimate& { return f.simulatedTime; });
        csvPair(cols, "throughput", uThr, [](const Figures& f) -> const Estimate& { return f.throughput; });
        csvPair(cols, "comm_overhead", uPct, [](const Figures& f) -> const Estimate& { return f.comm; });
        csvPair(cols, "utilization", uPct, [](const Figures& f) -> const Estimate& { return f.util; });
        csvPair(cols, "bytes_on_wire", uBytes, [](const Figures& f) -> const Estimate& { return f.bytes; });
        if (d.cost.given) {
            csvPair(cols, "cost", uCost, [](const Figures& f) -> const Estimate& { return f.cost; });
            if (target)
                csvPair(cols, "cost_to_target", uCtt, [](const Figures& f) -> const Estimate& { return f.costToTarget; });
        }
        cols.push_back({"bottleneck", [&](std::size_t g) { return QString::fromStdString(d.figures[g].bottleneck.name); }});
        cols.push_back({"bottleneck_kind", [&](std::size_t g) { return QString::fromStdString(d.figures[g].bottleneck.what); }});
        csvPair(cols, "bottleneck_load", uPct, [](const Figures& f) -> const Estimate& { return f.bottleneckLoad; });
        cols.push_back({"shared_links_above_80pct", [&](std::size_t g) {
                            QStringList l;
                            for (const auto& [name, load] : d.figures[g].saturated)
                                l << QString::fromStdString(name);
                            return l.join(' ');
                        }});
        csvPair(cols, "wall_time", uWall, [](const Figures& f) -> const Estimate& { return f.wall; });
        return cols;
    }
    auto add = [&](const std::string& name, const ColumnUnit& u, const std::function<const Estimate&(const Figures&)>& get) {
        cols.push_back({name + " (" + u.name + ")", [&, u, get](std::size_t g) { return cellOf(get(d.figures[g]), u); }});
    };
    bool anyAccuracy = false;
    for (const Figures& f : d.figures)
        anyAccuracy = anyAccuracy || f.accuracySimulated;
    if (d.accuracySimulated)
        add("final accuracy", uAcc, [](const Figures& f) -> const Estimate& { return f.accuracy; });
    else if (anyAccuracy)
        cols.push_back({"final accuracy", [&, uAcc](std::size_t g) {
                            return d.figures[g].accuracySimulated ? cellOf(d.figures[g].accuracy, uAcc) + " %"
                                                                  : QString("not simulated (proxy)");
                        }});
    if (target && d.accuracySimulated)
        cols.push_back({"time to target (" + uTtt.name + ")", [&, uTtt](std::size_t g) {
                            const Figures& f = d.figures[g];
                            const int n = int(d.groups[g].runs.size());
                            if (f.reached == 0)
                                return QString("not reached");
                            return cellOf(f.timeToTarget, uTtt) +
                                   (f.reached < n ? QString(" (%1 of %2)").arg(f.reached).arg(n) : QString());
                        }});
    add("simulated time", uSim, [](const Figures& f) -> const Estimate& { return f.simulatedTime; });
    add("throughput", uThr, [](const Figures& f) -> const Estimate& { return f.throughput; });
    if (d.cost.given) {
        add("cost", uCost, [](const Figures& f) -> const Estimate& { return f.cost; });
        if (target && d.accuracySimulated)
            add("cost to target", uCtt, [](const Figures& f) -> const Estimate& { return f.costToTarget; });
    }
    add("comm. overhead", uPct, [](const Figures& f) -> const Estimate& { return f.comm; });
    add("utilization", uPct, [](const Figures& f) -> const Estimate& { return f.util; });
    add("bytes on the wire", uBytes, [](const Figures& f) -> const Estimate& { return f.bytes; });
    cols.push_back({"bottleneck (load %)", [&](std::size_t g) {
                        const Figures& f = d.figures[g];
                        if (f.bottleneck.kind == Bottleneck::Kind::None)
                            return QString("-");
                        QString t = QString::fromStdString(f.bottleneck.name) + " " +
                                    cellOf(f.bottleneckLoad, ColumnUnit{0.01, "%", 1, true});
                        if (!f.saturated.empty())
                            t += " (saturated)";
                        return t;
                    }, true});
    add("wall time", uWall, [](const Figures& f) -> const Estimate& { return f.wall; });
    return cols;
}

/// The report as HTML; `image(i)` gives the src of chart i, `imageWidth(i)` its display width in px.
QString html(const Data& d, const Answer& a, const std::vector<Chart>& charts,
             const std::function<QString(std::size_t)>& image, const std::function<int(std::size_t)>& imageWidth,
             bool forPdf)
{
    QString h;
    h += "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>dmlsim report</title>\n";
    if (!forPdf)
        h += "<style>body{font-family:sans-serif;margin:2em} table{border-collapse:collapse;"
             "font-size:90%} td,th{border:1px solid #999;padding:3px 6px;text-align:right} "
             "td{white-space:nowrap} th{background:#eee;vertical-align:bottom} "
             "td.l,th.l{text-align:left} img{max-width:100%;border:1px solid #ddd;margin:4px 0} "
             "code{background:#f4f4f4} .warn{color:#a00000} .answer{font-size:105%}</style>\n";
    const QString title = d.sweepName.empty() ? QString("dmlsim report") : "dmlsim report: " + esc(d.sweepName);
    h += "</head><body>\n<h1>" + title + "</h1>\n";
    h += "<p>" + QString::number(d.runs.size()) + " runs in " + QString::number(d.groups.size()) +
         (d.groups.size() == 1 ? " configuration" : " configurations");
    if (!d.sweepId.empty())
        h += " of sweep <code>" + esc(d.sweepId) + "</code>";
    h += ".</p>\n";
    if (!d.sweepDescription.empty())
        h += "<p><i>" + esc(d.sweepDescription) + "</i></p>\n";
    // The base scenario's name: a sweep names its runs "BASE [point, rep]".
    std::string name = d.runs.front().record.name;
    if (d.runs.size() > 1 && !name.empty() && name.back() == ']' && name.rfind(" [") != std::string::npos)
        name = name.substr(0, name.rfind(" ["));
    h += "<p>Scenario: <b>" + esc(name) + "</b>" + (d.runs.size() > 1 ? " and its variants" : QString()) +
         ". Target accuracy: <b>" +
         (d.target > 0 ? esc(pct(d.target, 1)) : QString("none set (run.target_accuracy)")) + "</b>" +
         (d.accuracySimulated ? QString() : QString(" (accuracy is not simulated for proxy models)")) +
         ". Store: <code>" + esc(d.storeFile) + "</code>.</p>\n";
    if (!d.mixedBuilds.empty()) {
        h += "<p class=\"warn\" style=\"color:#a00000\"><b>Warning: runs of one configuration come from different "
             "builds of dmlsim.</b> Their figures may differ in the last bits, so the spread over repetitions mixes "
             "in the builds' differences. Use one build, or a portable build (CMake option DMLSIM_PORTABLE) on every "
             "machine; the builds are listed under \"How to reproduce\".</p>\n<ul>\n";
        for (const std::string& m : d.mixedBuilds)
            h += "<li style=\"color:#a00000\">" + esc(m) + "</li>\n";
        h += "</ul>\n";
    }

    // The answer first (issue 15).
    h += "<h2>Answer</h2>\n<ul class=\"answer\">\n";
    for (const std::string& line : a.lines) {
        if (line.rfind("Bottleneck of ", 0) == 0 || line.rfind("Warning: ", 0) == 0)
            continue; // in the bottleneck table below
        const bool key = line.rfind("Best: ", 0) == 0 || line.rfind("Along ", 0) == 0 || line.rfind("Plateau: ", 0) == 0;
        h += "<li>" + (key ? "<b>" + esc(line) + "</b>" : esc(line)) + "</li>\n";
    }
    h += "</ul>\n";
    bool anySaturated = false;
    for (const Figures& f : d.figures)
        anySaturated = anySaturated || !f.saturated.empty();
    if (anySaturated) {
        h += "<p class=\"warn\" style=\"color:#a00000\"><b>Warning: a shared link is above 80 % load</b> (averaged over "
             "the run) in these configurations; it limits them whatever the hosts' own links, so a faster host "
             "link buys nothing there:</p>\n<ul>\n";
        for (std::size_t g = 0; g < d.groups.size(); ++g)
            for (std::size_t k = 0; k < d.figures[g].saturated.size(); ++k)
                h += "<li style=\"color:#a00000\">" + d.groups[g].label.toHtmlEscaped() + ": <b>" +
                     esc(d.figures[g].saturated[k].first) + "</b> (" + esc(d.figures[g].saturatedKind[k]) + ") at " +
                     esc(pct(d.figures[g].saturated[k].second)) + "</li>\n";
        h += "</ul>\n";
    }
    h += "<h3>Bottleneck of each configuration</h3>\n<p>The most loaded link (bytes carried / simulated time / "
         "nominal bandwidth) or host (compute time / elapsed time) of the first repetition; its load as the mean "
         "over the repetitions. Shared links: the star's backbone, the edge sites' WAN, uplinks and Wi-Fi cells, "
         "the switches' links of cluster topologies.</p>\n";
    h += "<table border=\"1\" cellspacing=\"0\" cellpadding=\"2\" width=\"100%\">\n<tr><th class=\"l\">configuration"
         "</th><th class=\"l\">bottleneck</th><th class=\"l\">kind</th><th>load (%)</th><th class=\"l\">shared links "
         "above 80 %</th></tr>\n";
    for (std::size_t g = 0; g < d.groups.size(); ++g) {
        const Figures& f = d.figures[g];
        QStringList sat;
        for (const auto& [link, load] : f.saturated)
            sat << esc(link) + " " + esc(pct(load));
        const std::string kind = f.bottleneck.kind == Bottleneck::Kind::Host
                                     ? "host, " + f.bottleneck.what
                                     : f.bottleneck.kind == Bottleneck::Kind::Link
                                           ? "link, " + f.bottleneck.what + (f.bottleneck.shared ? " (shared)" : "")
                                           : std::string("-");
        h += "<tr><td class=\"w\">" + d.groups[g].label.toHtmlEscaped() + "</td><td class=\"l\">" +
             esc(f.bottleneck.kind == Bottleneck::Kind::None ? "-" : f.bottleneck.name) + "</td><td class=\"l\">" +
             esc(kind) + "</td><td>" + cellOf(f.bottleneckLoad, ColumnUnit{0.01, "%", 1, true}) + "</td><td class=\"l\"" +
             (sat.isEmpty() ? QString() : QString(" style=\"color:#a00000\"")) + ">" +
             (sat.isEmpty() ? QString("none") : sat.join(", ")) + "</td></tr>\n";
    }
    h += "</table>\n";

    h += "<h2>What differs</h2>\n";
    if (d.differing.empty() && !d.seedsDiffer) {
        h += "<p>Nothing: the runs have the same scenario (apart from their names).</p>\n";
    } else {
        h += "<ul>\n";
        for (std::size_t k = 0; k < d.differing.size(); ++k) {
            QStringList vs; // in the order the configurations come (a sweep's grid order)
            for (const Group& g : d.groups)
                if (!vs.contains(esc(g.key[k].empty() ? "(default)" : g.key[k])))
                    vs << esc(g.key[k].empty() ? "(default)" : g.key[k]);
            h += "<li><code>" + esc(d.differing[k]) + "</code>: " + vs.join(", ") + "</li>\n";
        }
        if (d.seedsDiffer)
            h += "<li><code>seed</code>: differs between the repetitions of a configuration</li>\n";
        h += "</ul>\n";
    }

    h += "<h2>Results</h2>\n<p>Mean ± half-width of the 95 % confidence interval over the n repetitions (Student's "
         "t with n - 1 degrees of freedom); a value without ± did not vary between the repetitions (or n = 1). "
         "Each column has one unit, in its heading. Time to target: over the runs that reached it (\"k of n\" when "
         "not all did). Throughput: training samples processed per simulated second (epochs x training set / "
         "simulated time), the same measure under every strategy. Communication overhead and utilization: the "
         "workers' communication and compute time over their elapsed time. Simulated times are SimGrid's; wall "
         "time is this machine's.";
    if (d.cost.given)
        h += " Cost: every host priced by role for the whole simulated time, plus the bytes over the priced links "
             "(README \"Cost\"); cost to target prorates it to the time to target.";
    h += "</p>\n";
    const std::vector<Column> cols = summaryColumns(d, false);
    h += "<table border=\"1\" cellspacing=\"0\" cellpadding=\"2\" width=\"100%\">\n<tr>";
    for (const Column& c : cols)
        h += QString("<th") + (c.left ? " class=\"l\"" : "") + ">" + heading(c.heading) + "</th>";
    // Compression, privacy and failure columns appear when a run uses them (issues 11-13).
    bool anyCompressed = false, anyPrivate = false, anyFaults = false;
    for (const Run& r : d.runs) {
        anyCompressed = anyCompressed || r.record.summary.compressedBytes > 0;
        anyPrivate = anyPrivate || r.record.summary.epsilon >= 0;
        anyFaults = anyFaults || r.record.summary.failures > 0 || r.record.summary.checkpoints > 0;
    }
    if (anyCompressed)
        h += "<th>sent / fp32</th>";
    if (anyPrivate)
        h += "<th>epsilon (delta)</th>";
    if (anyFaults)
        h += "<th>failures</th><th>steps lost</th><th>goodput (%)</th>";
    h += "</tr>\n";
    for (std::size_t gi = 0; gi < d.groups.size(); ++gi) {
        const Group& g = d.groups[gi];
        h += "<tr>";
        for (const Column& c : cols)
            h += QString("<td") + (c.left ? " class=\"l\"" : "") + ">" + c.cell(gi).toHtmlEscaped() + "</td>";
        const Summary& first = d.runs[g.runs.front()].record.summary; // settings shared by the repetitions
        if (anyCompressed)
            h += "<td>" + (first.compressedBytes > 0
                               ? QString::asprintf("1/%.1f", first.uncompressedBytes / first.compressedBytes) + " (" +
                                     QString::fromStdString(first.compressor).toHtmlEscaped() + ")"
                               : QString("-")) + "</td>";
        if (anyPrivate) {
            std::vector<double> eps;
            for (std::size_t i : g.runs)
                if (d.runs[i].record.summary.epsilon >= 0)
                    eps.push_back(d.runs[i].record.summary.epsilon);
            h += "<td>" + (eps.empty() ? QString("-")
                                       : cellOf(estimate(eps), plainUnit({}, 1, "")) + QString::asprintf(" (%.3g)", first.delta)) +
                 "</td>";
        }
        if (anyFaults) {
            std::vector<double> failures, lost, goodput;
            for (std::size_t i : g.runs) {
                const Summary& x = d.runs[i].record.summary;
                failures.push_back(x.failures);
                lost.push_back(double(x.lostSteps));
                if (x.goodput >= 0)
                    goodput.push_back(x.goodput);
            }
            h += "<td>" + cellOf(estimate(failures), ColumnUnit{1, "", 1, true}) + "</td><td>" +
                 cellOf(estimate(lost), ColumnUnit{1, "", 0, true}) + "</td><td>" +
                 (goodput.empty() ? QString("-") : cellOf(estimate(goodput), ColumnUnit{0.01, "%", 1, true})) + "</td>";
        }
        h += "</tr>\n";
    }
    h += "</table>\n";

    if (const auto plan = checkpointPlan(d)) { // issue 11: the measured optimum next to Young's and Daly's
        h += "<h2>Checkpoint interval</h2>\n<p>Simulated time to finish the same training under random failures "
             "(means over the repetitions; the runs of one seed share their failure times).</p>\n";
        h += "<table border=\"1\" cellspacing=\"0\" cellpadding=\"2\"><tr><th>interval</th><th>simulated time</th>"
             "<th>failures per run</th><th>checkpoints per run</th></tr>\n";
        for (const auto& pt : plan->points)
            h += "<tr><td>" + esc(formatSeconds(pt.interval)) + (pt.interval == plan->best ? " (best)" : "") +
                 "</td><td>" + esc(formatSeconds(pt.time.mean)) +
                 (pt.time.n > 1 && pt.time.sd > 0 ? " ± " + esc(formatSeconds(pt.time.sd)) + " (sd)" : QString()) +
                 "</td><td>" + QString::asprintf("%.1f", pt.failures) + "</td><td>" +
                 QString::asprintf("%.0f", pt.checkpoints) + "</td></tr>\n";
        h += "</table>\n";
        h += "<p><b>Measured optimum: " + esc(formatSeconds(plan->best)) + ".</b> Young's first-order optimum "
             "sqrt(2 &delta; M) = <b>" + esc(formatSeconds(plan->young)) + "</b>; Daly's higher-order estimate <b>" +
             esc(formatSeconds(plan->daly)) + "</b> (Young 1974; Daly 2006), with &delta; = " +
             esc(formatSeconds(plan->delta)) + " (the checkpoint write time measured in these runs) and M = " +
             esc(formatSeconds(plan->mtbf)) + " (faults.random.mtbf over the " + QString::number(plan->failingHosts) +
             " hosts that fail). The measured optimum is " + QString::asprintf("%.2f", plan->best / plan->young) +
             " x Young's; between grid points the optimum is only known to the grid's resolution.</p>\n";
    }

    if (!charts.empty()) {
        // In the PDF every chart starts a page and is sized to fit on it with its heading and caption (above the
        // image), so that neither a heading nor a caption is left alone on a page.
        const QString newPage = forPdf ? " style=\"page-break-before: always\"" : "";
        h += "<h2" + newPage + ">Charts</h2>\n";
        for (std::size_t i = 0; i < charts.size(); ++i) {
            h += "<h3" + (i ? newPage : QString()) + ">" + charts[i].title.toHtmlEscaped() + "</h3>\n";
            if (!charts[i].caption.isEmpty())
                h += "<p><i>" + charts[i].caption.toHtmlEscaped() + "</i></p>\n";
            h += "<p><img src=\"" + image(i) + "\" width=\"" + QString::number(imageWidth(i)) + "\" alt=\"" +
                 charts[i].title.toHtmlEscaped() + "\"></p>\n";
        }
    }

    h += "<h2" + QString(forPdf ? " style=\"page-break-before: always\"" : "") + ">How to reproduce</h2>\n";
    std::set<std::string> versions;
    for (const Run& r : d.runs)
        versions.insert(r.record.version);
    QStringList vs;
    for (const auto& v : versions)
        vs << esc(v);
    h += "<p>Program version: dmlsim " + vs.join(", ") +
         ". Every run stores its complete scenario; the same scenario and seed give the same figures bit for "
         "bit (the wall time aside). To run one again:</p>\n<pre>sqlite3 " +
         esc(d.storeFile) +
         " \"SELECT scenario FROM runs WHERE id = RUN_ID\" &gt; scenario.json\ndmlsim run scenario.json</pre>\n";
    h += "<p>Bit for bit, that is, with a build of the same build string (<code>dmlsim --version</code>): on any "
         "x86-64 machine for a portable build (CMake option DMLSIM_PORTABLE), on the same CPU model otherwise. ";
    h += d.builds.size() == 1 ? QString("Build:") : QString("Builds:");
    h += "</p>\n<ol>\n";
    for (const std::string& b : d.builds)
        h += "<li><code>" + esc(b.empty() ? "(not recorded)" : b) + "</code></li>\n";
    h += "</ol>\n";
    h += "<table border=\"1\" cellspacing=\"0\" cellpadding=\"2\" width=\"100%\">\n<tr><th>run</th><th class=\"l\">configuration"
         "</th><th>seed</th><th class=\"l\">scenario SHA-256</th><th class=\"l\">created</th><th class=\"l\">"
         "version</th><th>build</th></tr>\n";
    for (const Group& g : d.groups)
        for (std::size_t i : g.runs) {
            const RunRecord& r = d.runs[i].record;
            h += "<tr><td>" + QString::number(r.id) + "</td><td class=\"w\">" + g.label.toHtmlEscaped() + "</td><td>" +
                 QString::number(r.seed) + "</td><td class=\"l\"><code>" + esc(r.scenarioHash.substr(0, 16)) +
                 "</code></td><td class=\"l\">" + esc(r.created) + "</td><td class=\"l\">" + esc(r.version) +
                 "</td><td>" +
                 QString::number(std::find(d.builds.begin(), d.builds.end(), r.build) - d.builds.begin() + 1) +
                 "</td></tr>\n";
        }
    h += "</table>\n";
    if (!d.skipped.empty()) {
        h += "<p>Left out (not finished): ";
        QStringList s;
        for (const RunRecord& r : d.skipped)
            s << QString("run %1 (%2%3)").arg(r.id).arg(esc(r.interrupted ? "interrupted" : r.status),
                                                        r.error.empty() ? QString() : ": " + esc(r.error));
        h += s.join("; ") + ".</p>\n";
    }
    h += "</body></html>\n";
    // Cells: numbers right-aligned, nothing broken inside a value (labels of configurations may wrap at spaces).
    // Qt's rich text (the PDF) reads these attributes; browsers read them too.
    h.replace("<td>", "<td align=\"right\" style=\"white-space:nowrap\">");
    h.replace("<td class=\"l\">", "<td class=\"l\" align=\"left\" style=\"white-space:nowrap\">");
    h.replace("<td class=\"w\">", "<td class=\"l\" align=\"left\">");
    h.replace("<th>", "<th align=\"right\">");
    h.replace("<th class=\"l\">", "<th class=\"l\" align=\"left\">");
    return h;
}

QByteArray png(const QImage& img)
{
    QByteArray bytes;
    QBuffer buf(&bytes);
    buf.open(QIODevice::WriteOnly);
    img.save(&buf, "PNG");
    return bytes;
}

void save(const QString& file, const QByteArray& content)
{
    QSaveFile f(file);
    if (!f.open(QIODevice::WriteOnly) || f.write(content) != content.size() || !f.commit())
        throw std::runtime_error(file.toStdString() + ": cannot write: " + f.errorString().toStdString());
}

QString csvField(const QString& s)
{
    if (!s.contains(',') && !s.contains('"') && !s.contains('\n'))
        return s;
    return "\"" + QString(s).replace("\"", "\"\"") + "\"";
}

/// The summary table: one row per configuration, one unit per column (in its name), base units.
QByteArray csvSummary(const Data& d)
{
    const std::vector<Column> cols = summaryColumns(d, true);
    QStringList head;
    for (const Column& c : cols)
        head << csvField(QString::fromStdString(c.heading));
    QString out = head.join(',') + "\n";
    for (std::size_t g = 0; g < d.groups.size(); ++g) {
        QStringList row;
        for (const Column& c : cols)
            row << csvField(c.cell(g));
        out += row.join(',') + "\n";
    }
    return out.toUtf8();
}

QByteArray csvSeries(const Data& d)
{
    QString out = "run_id,config,seed,series,time,step,epoch,value\n";
    auto num = [](double v) { return std::isnan(v) ? QString() : QString::number(v, 'g', 17); };
    for (const Group& g : d.groups)
        for (std::size_t i : g.runs) {
            const Run& r = d.runs[i];
            const QString head = QString::number(r.record.id) + "," + csvField(g.label) + "," +
                                 QString::number(r.record.seed) + ",";
            for (const char* series : {"test_accuracy", "test_loss", "train_loss"})
                for (const Sample& s : r.samples) {
                    const double v = series[5] == 'a' ? s.testAccuracy : series[5] == 'l' ? s.testLoss : s.trainLoss;
                    out += head + series + "," + num(s.time) + "," + QString::number(s.step) + "," + num(s.epoch) +
                           "," + num(v) + "\n";
                }
            for (const auto& [name, points] : r.series)
                for (const auto& [t, v] : points)
                    out += head + csvField(QString::fromStdString(name)) + "," + num(t) + ",,," + num(v) + "\n";
        }
    return out.toUtf8();
}

} // namespace
} // namespace report

QString seriesCsvFile(const QString& csvFile)
{
    const QFileInfo f(csvFile);
    const QString name = f.completeBaseName() + "-series." + f.suffix();
    const qsizetype slash = csvFile.lastIndexOf('/');
    return slash < 0 ? name : csvFile.left(slash + 1) + name;
}

std::vector<std::string> writeReport(RunStore& store, const std::vector<long long>& runIds, const QString& outFile,
                                     const ReportOptions& options)
{
    using namespace report;
    const QString ext = QFileInfo(outFile).suffix().toLower();
    if (ext != "html" && ext != "htm" && ext != "pdf" && ext != "csv")
        throw std::runtime_error(outFile.toStdString() + ": unknown report format \"" + ext.toStdString() +
                                 "\": expected a file ending in .html, .pdf or .csv");
    const auto objective = parseObjective(options.objective);
    if (!objective)
        throw std::runtime_error("unknown objective \"" + options.objective +
                                 "\": expected tta (time to the target accuracy), time (simulated time) or cost");
    const Data d = load(store, runIds);
    const Answer a = answer(d, *objective);
    if (options.answer)
        *options.answer = a.lines;
    if (ext == "csv") {
        save(outFile, csvSummary(d));
        save(seriesCsvFile(outFile), csvSeries(d));
        return buildWarnings(d);
    }

    static int argc = 1;
    static char arg0[] = "dmlsim";
    static char* argv[] = {arg0, nullptr};
    std::unique_ptr<QApplication> ownApp;
    if (!QCoreApplication::instance()) {
        if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
            qputenv("QT_QPA_PLATFORM", "offscreen");
        if (qEnvironmentVariableIsEmpty("XDG_RUNTIME_DIR")) { // what Qt would choose, without its warning
            const QString dir = QDir::tempPath() + "/runtime-" + QString::number(getuid());
            QDir().mkpath(dir);
            QFile::setPermissions(dir, QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner);
            qputenv("XDG_RUNTIME_DIR", dir.toLocal8Bit());
        }
        ownApp = std::make_unique<QApplication>(argc, argv);
    } else if (!qobject_cast<QApplication*>(QCoreApplication::instance())) {
        throw std::runtime_error("writing an HTML or PDF report needs a QApplication (charts are drawn with Qt "
                                 "Widgets); this program created a QCoreApplication");
    }
    const std::vector<Chart> charts = makeCharts(d, a);
    if (ext == "pdf") {
        // A4 landscape. QTextDocument::print() lays the text out at 96 dpi inside 2 cm margins of its own, within
        // the writer's margins (2 mm when they are 0): 297 - 44 = 253 mm by 210 - 44 = 166 mm, that is 956 x 627
        // px at 96 dpi. Each chart gets the page width, or less when its height would not leave room for its
        // headings and caption (up to about 160 px: the first chart follows the section heading) on the page.
        constexpr double kPageWidthPx = 940, kPageHeightPx = 500;
        QTextDocument doc;
        for (std::size_t i = 0; i < charts.size(); ++i)
            doc.addResource(QTextDocument::ImageResource, QUrl(QString("chart%1.png").arg(i)), charts[i].image);
        QFont font = doc.defaultFont();
        font.setPointSizeF(8);
        doc.setDefaultFont(font);
        doc.setHtml(html(
            d, a, charts, [](std::size_t i) { return QString("chart%1.png").arg(i); },
            [&](std::size_t i) {
                const double aspect = double(charts[i].image.height()) / std::max(1, charts[i].image.width());
                return int(std::min(kPageWidthPx, kPageHeightPx / aspect));
            },
            true));
        QPdfWriter pdf(outFile);
        pdf.setPageSize(QPageSize(QPageSize::A4));
        pdf.setPageOrientation(QPageLayout::Landscape); // room for the table's columns
        pdf.setPageMargins(QMarginsF(0, 0, 0, 0), QPageLayout::Millimeter);
        pdf.setTitle(d.sweepName.empty() ? "dmlsim report" : QString::fromStdString("dmlsim report: " + d.sweepName));
        pdf.setCreator("dmlsim " DMLSIM_VERSION);
        doc.print(&pdf);
        if (!QFileInfo(outFile).isFile() || QFileInfo(outFile).size() == 0)
            throw std::runtime_error(outFile.toStdString() + ": cannot write the PDF");
        return buildWarnings(d);
    }
    std::vector<QByteArray> images;
    for (const Chart& c : charts)
        images.push_back("data:image/png;base64," + png(c.image).toBase64());
    save(outFile, html(
                      d, a, charts, [&](std::size_t i) { return QString::fromLatin1(images[i]); },
                      [](std::size_t) { return 800; }, false)
                      .toUtf8());
    return buildWarnings(d);
}

std::vector<long long> sweepRunIds(RunStore& store, const std::string& sweep)
{
    std::vector<SweepRecord> match;
    for (const SweepRecord& s : store.sweeps())
        if (s.id == sweep || s.name == sweep || (sweep.size() >= 4 && s.id.rfind(sweep, 0) == 0))
            match.push_back(s);
    if (match.empty())
        throw std::runtime_error(store.file() + ": no sweep \"" + sweep + "\" (give its id, a prefix of at least 4 "
                                 "digits, or its name)");
    if (match.size() > 1)
        throw std::runtime_error(store.file() + ": \"" + sweep + "\" names " + std::to_string(match.size()) +
                                 " sweeps; give the id");
    std::map<std::pair<int, int>, long long> latest;
    for (const SweepRunTag& t : store.sweepRuns(match.front().id))
        if (t.status == "finished")
            latest[{t.point, t.rep}] = std::max(latest[{t.point, t.rep}], t.runId);
    if (latest.empty())
        throw std::runtime_error(store.file() + ": sweep " + match.front().id + " has no finished run");
    std::vector<long long> ids;
    for (const auto& [key, id] : latest)
        ids.push_back(id);
    return ids;
}

} // namespace dml::app
