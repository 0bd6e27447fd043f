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

/// "mean ± sd" with `fmt` applied to value * scale; "mean" alone for one run.
QString cell(const Stat& s, const char* fmt, double scale = 1)
{
    if (s.n == 0)
        return "-";
    QString m = QString::asprintf(fmt, s.mean * scale);
    if (s.n > 1)
        m += " ± " + QString::asprintf(fmt, s.sd * scale);
    return m;
}

QString cellWith(const Stat& s, const std::function<std::string(double)>& f)
{
    if (s.n == 0)
        return "-";
    QString m = QString::fromStdString(f(s.mean));
    if (s.n > 1)
        m += " ± " + QString::fromStdString(f(s.sd));
    return m;
}

/// The report as HTML; `image(i)` gives the src of chart i.
QString html(const Data& d, const std::vector<Chart>& charts, const std::function<QString(std::size_t)>& image,
             bool forPdf)
{
    QString h;
    h += "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>dmlsim report</title>\n";
    if (!forPdf)
        h += "<style>body{font-family:sans-serif;margin:2em} table{border-collapse:collapse;"
             "font-size:90%} td,th{border:1px solid #999;padding:3px 6px;text-align:right;white-space:nowrap} th{background:#eee} "
             "td.l,th.l{text-align:left} img{max-width:100%;border:1px solid #ddd;margin:4px 0} "
             "code{background:#f4f4f4}</style>\n";
    h += "</head><body>\n<h1>dmlsim report: " + QString::number(d.runs.size()) + " runs in " +
         QString::number(d.groups.size()) + (d.groups.size() == 1 ? " configuration" : " configurations") + "</h1>\n";
    // The base scenario's name: a sweep names its runs "BASE [point, rep]".
    std::string name = d.runs.front().record.name;
    if (d.runs.size() > 1 && !name.empty() && name.back() == ']' && name.rfind(" [") != std::string::npos)
        name = name.substr(0, name.rfind(" ["));
    h += "<p>Scenario: <b>" + esc(name) + "</b>" + (d.runs.size() > 1 ? " and its variants" : QString()) +
         ". Store: <code>" + esc(d.storeFile) + "</code>.</p>\n";
    if (!d.mixedBuilds.empty()) {
        h += "<p style=\"color:#a00000\"><b>Warning: runs of one configuration come from different builds of "
             "dmlsim.</b> Their figures may differ in the last bits, so the spread over repetitions mixes in the "
             "builds' differences. Use one build, or a portable build (CMake option DMLSIM_PORTABLE) on every "
             "machine; the builds are listed under \"How to reproduce\".</p>\n<ul>\n";
        for (const std::string& m : d.mixedBuilds)
            h += "<li style=\"color:#a00000\">" + esc(m) + "</li>\n";
        h += "</ul>\n";
    }

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

    h += "<h2>Results</h2>\n<p>Mean ± sample standard deviation over the repetitions (n). Time to target: over "
         "the runs that reached it (reached/n). Communication overhead and utilization: the workers' "
         "communication and compute time over their elapsed time. Simulated times are SimGrid's; wall time is "
         "this machine's.</p>\n";
    h += "<table border=\"1\" cellspacing=\"0\" cellpadding=\"2\" width=\"100%\">\n<tr>";
    for (const auto& s : d.shortNames)
        h += "<th class=\"l\">" + esc(s) + "</th>";
    if (d.differing.empty())
        h += "<th class=\"l\">configuration</th>";
    // Compression and privacy columns appear when a run uses them (issues 12-13).
    bool anyCompressed = false, anyPrivate = false, anyFaults = false;
    for (const Run& r : d.runs) {
        anyCompressed = anyCompressed || r.record.summary.compressedBytes > 0;
        anyPrivate = anyPrivate || r.record.summary.epsilon >= 0;
        anyFaults = anyFaults || r.record.summary.failures > 0 || r.record.summary.checkpoints > 0;
    }
    for (const char* c : {"n", "final accuracy", "time to target", "simulated time", "comm. overhead",
                          "utilization", "bytes on the wire", "wall time"})
        h += QString("<th>") + c + "</th>";
    if (anyCompressed)
        h += "<th>sent / fp32</th>";
    if (anyPrivate)
        h += "<th>epsilon (delta)</th>";
    if (anyFaults)
        h += "<th>failures</th><th>steps lost</th><th>goodput</th>";
    h += "</tr>\n";
    for (const Group& g : d.groups) {
        std::vector<double> acc, ttt, sim, comm, util, bytes, wall;
        double target = 0;
        bool accuracy = true;
        for (std::size_t i : g.runs) {
            const Summary& s = d.runs[i].record.summary;
            accuracy = accuracy && s.accuracySimulated;
            acc.push_back(s.finalAccuracy);
            if (s.timeToTarget >= 0)
                ttt.push_back(s.timeToTarget);
            target = std::max(target, s.targetAccuracy);
            sim.push_back(s.simulatedTime);
            comm.push_back(s.communicationOverhead);
            util.push_back(s.utilization);
            bytes.push_back(s.bytesOnWire);
            wall.push_back(d.runs[i].record.wallTime);
        }
        h += "<tr>";
        for (const auto& k : g.key)
            h += "<td class=\"l\">" + esc(k.empty() ? "(default)" : k) + "</td>";
        if (d.differing.empty())
            h += "<td class=\"l\">" + g.label.toHtmlEscaped() + "</td>";
        h += "<td>" + QString::number(g.runs.size()) + "</td>";
        h += "<td>" + (accuracy ? cell(stat(acc), "%.4f") : QString("n/a (proxy)")) + "</td>";
        QString t = "-";
        if (target > 0 && accuracy)
            t = ttt.empty() ? QString("not reached")
                            : cellWith(stat(ttt), formatSeconds) +
                                  QString(" (%1/%2)").arg(ttt.size()).arg(g.runs.size());
        h += "<td>" + t.toHtmlEscaped() + "</td>";
        h += "<td>" + cellWith(stat(sim), formatSeconds).toHtmlEscaped() + "</td>";
        h += "<td>" + cell(stat(comm), "%.1f %%", 100) + "</td>";
        h += "<td>" + cell(stat(util), "%.1f %%", 100) + "</td>";
        h += "<td>" + cellWith(stat(bytes), formatBytes).toHtmlEscaped() + "</td>";
        h += "<td>" + cellWith(stat(wall), formatSeconds).toHtmlEscaped() + "</td>";
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
                                       : cell(stat(eps), "%.3g") + QString::asprintf(" (%.3g)", first.delta)) +
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
            h += "<td>" + cell(stat(failures), "%.1f") + "</td><td>" + cell(stat(lost), "%.0f") + "</td><td>" +
                 (goodput.empty() ? QString("-") : cell(stat(goodput), "%.1f %%", 100)) + "</td>";
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
                 "</td><td>" + cellWith(pt.time, formatSeconds).toHtmlEscaped() + "</td><td>" +
                 QString::asprintf("%.1f", pt.failures) + "</td><td>" + QString::asprintf("%.0f", pt.checkpoints) +
                 "</td></tr>\n";
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
        // In the PDF every chart starts a page, so that a heading never stays behind at the foot of one.
        const QString newPage = forPdf ? " style=\"page-break-before: always\"" : "";
        h += "<h2" + newPage + ">Charts</h2>\n";
        for (std::size_t i = 0; i < charts.size(); ++i) {
            h += "<h3" + (i ? newPage : QString()) + ">" + charts[i].title.toHtmlEscaped() + "</h3>\n";
            h += "<p><img src=\"" + image(i) + "\" width=\"" + QString::number(forPdf ? 640 : 800) + "\" alt=\"" +
                 charts[i].title.toHtmlEscaped() + "\"></p>\n";
            if (!charts[i].caption.isEmpty())
                h += "<p><i>" + charts[i].caption.toHtmlEscaped() + "</i></p>\n";
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
            h += "<tr><td>" + QString::number(r.id) + "</td><td class=\"l\">" + g.label.toHtmlEscaped() + "</td><td>" +
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

QByteArray csv(const Data& d)
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

std::vector<std::string> writeReport(RunStore& store, const std::vector<long long>& runIds, const QString& outFile)
{
    using namespace report;
    const QString ext = QFileInfo(outFile).suffix().toLower();
    if (ext != "html" && ext != "htm" && ext != "pdf" && ext != "csv")
        throw std::runtime_error(outFile.toStdString() + ": unknown report format \"" + ext.toStdString() +
                                 "\": expected a file ending in .html, .pdf or .csv");
    const Data d = load(store, runIds);
    if (ext == "csv") {
        save(outFile, csv(d));
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
    const std::vector<Chart> charts = makeCharts(d);
    if (ext == "pdf") {
        QTextDocument doc;
        for (std::size_t i = 0; i < charts.size(); ++i)
            doc.addResource(QTextDocument::ImageResource, QUrl(QString("chart%1.png").arg(i)), charts[i].image);
        QFont font = doc.defaultFont();
        font.setPointSizeF(8);
        doc.setDefaultFont(font);
        doc.setHtml(html(d, charts, [](std::size_t i) { return QString("chart%1.png").arg(i); }, true));
        QPdfWriter pdf(outFile);
        pdf.setPageSize(QPageSize(QPageSize::A4));
        pdf.setPageOrientation(QPageLayout::Landscape); // room for the table's columns
        pdf.setPageMargins(QMarginsF(15, 15, 15, 15), QPageLayout::Millimeter);
        pdf.setTitle("dmlsim report");
        pdf.setCreator("dmlsim " DMLSIM_VERSION);
        doc.print(&pdf);
        if (!QFileInfo(outFile).isFile() || QFileInfo(outFile).size() == 0)
            throw std::runtime_error(outFile.toStdString() + ": cannot write the PDF");
        return buildWarnings(d);
    }
    std::vector<QByteArray> images;
    for (const Chart& c : charts)
        images.push_back("data:image/png;base64," + png(c.image).toBase64());
    save(outFile, html(d, charts, [&](std::size_t i) { return QString::fromLatin1(images[i]); }, false).toUtf8());
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
