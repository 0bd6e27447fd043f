// SPDX-License-Identifier: GPL-3.0-or-later
// `dmlsim platform`: what a scenario's platform looks like (hosts, links, sample routes), as text, JSON or DOT.
#include "commands.h"
#include "error.h"
#include "scenario.h"
#include "scenario_jobs.h"
#include "scenario_platform.h"
#include "strategies/jobs.h"
#include "units.h"

#include <QCommandLineParser>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <cstdio>

namespace dml::app {
namespace {

QJsonObject toJson(const sim::PlatformGraph& g)
{
    QJsonArray nodes, edges, routes;
    for (const auto& n : g.nodes) {
        QJsonObject o{{"id", QString::fromStdString(n.id)}, {"kind", QString::fromStdString(n.kind)}};
        if (n.kind == "host") {
            o.insert("role", QString::fromStdString(n.role));
            o.insert("speed", n.speed);
        } else {
            o.insert("bandwidth", n.bandwidth);
            o.insert("latency", n.latency);
            o.insert("sharing", QString::fromStdString(n.sharing));
        }
        nodes.append(o);
    }
    for (const auto& e : g.edges)
        edges.append(QJsonObject{{"source", QString::fromStdString(e.source)},
                                 {"target", QString::fromStdString(e.target)}});
    for (const auto& r : g.sampleRoutes) {
        QJsonArray links;
        for (const auto& l : r.links)
            links.append(QString::fromStdString(l));
        routes.append(QJsonObject{{"from", QString::fromStdString(r.from)},
                                  {"to", QString::fromStdString(r.to)},
                                  {"links", links},
                                  {"latency", r.latency},
                                  {"bandwidth", r.bandwidth}});
    }
    return {{"nodes", nodes}, {"edges", edges}, {"sample_routes", routes}};
}

std::string toDot(const sim::PlatformGraph& g)
{
    std::string s = "graph platform {\n  overlap=false;\n";
    for (const auto& n : g.nodes) {
        if (n.kind == "host")
            s += "  \"" + n.id + "\" [shape=box, label=\"" + n.id + "\\n" + n.role + "\"];\n";
        else
            s += "  \"" + n.id + "\" [shape=ellipse, fontsize=9, label=\"" + n.id + "\\n" +
                 formatBytes(n.bandwidth) + "/s\"];\n";
    }
    for (const auto& e : g.edges)
        s += "  \"" + e.source + "\" -- \"" + e.target + "\";\n";
    return s + "}\n";
}

bool writeText(const QString& file, const QByteArray& text)
{
    QFile f(file);
    if (!f.open(QIODevice::WriteOnly) || f.write(text) != text.size()) {
        std::fprintf(stderr, "dmlsim platform: cannot write %s: %s\n", qPrintable(file), qPrintable(f.errorString()));
        return false;
    }
    return true;
}

} // namespace

int cmdPlatform(const QStringList& args)
{
    QCommandLineParser p;
    p.setApplicationDescription("Describe a scenario's simulated platform: hosts, links and sample routes.");
    p.addPositionalArgument("scenario", "Scenario file (JSON).");
    const QCommandLineOption json("json", "Write the platform graph as JSON ('-' for stdout).", "file");
    const QCommandLineOption dot("dot", "Write the platform graph as Graphviz DOT ('-' for stdout).", "file");
    p.addOptions({json, dot});
    if (auto rc = parseCommandLine(p, "platform", args))
        return *rc;
    if (p.positionalArguments().size() != 1) {
        std::fprintf(stderr, "dmlsim platform: expected one scenario file; try 'dmlsim platform --help'\n");
        return BadInput;
    }
    sim::PlatformGraph g;
    try {
        Scenario sc = loadScenario(p.positionalArguments().front().toStdString());
        if (!sc.jobs.empty()) { // several jobs: their ranks end to end on the one platform ("a/worker-0", ...)
            const PreparedJobs jobs = prepareJobs(sc);
            std::vector<JobsStrategy::Job> parts;
            MetricsSink none;
            for (const sim::JobSpec& j : jobs.spec.jobs)
                parts.push_back({j.name, makeStrategy(j.strategy, j.training, *j.data, none), j.start});
            const JobsStrategy all(std::move(parts));
            sim::PlatformSpec platform = jobs.spec.platform;
            sim::resolveCapacity(platform, jobs.spec.jobs.front().training, jobs.spec.jobs.front().data->train);
            g = sim::describePlatform(platform, all);
        } else {
            const TrainTest data = loadDataset(sc);
            preparePlatform(sc, checkAgainstData(sc, data));
            sim::resolveCapacity(sc.sim.platform, sc.sim.training, data.train);
            MetricsSink none;
            const auto strategy = makeStrategy(sc.sim.strategy, sc.sim.training, data, none);
            g = sim::describePlatform(sc.sim.platform, *strategy);
        }
    } catch (const ScenarioError& e) {
        std::fprintf(stderr, "dmlsim platform: %s\n", e.what());
        return BadInput;
    } catch (const DatasetError& e) {
        std::fprintf(stderr, "dmlsim platform: dataset: %s\n", e.what());
        return BadInput;
    } catch (const ConfigError& e) { // what preparePlatform could not see (e.g. a trace naming an unknown host)
        std::fprintf(stderr, "dmlsim platform: %s\n", e.what());
        return BadInput;
    }
    const QByteArray jsonText = QJsonDocument(toJson(g)).toJson(QJsonDocument::Indented);
    const QByteArray dotText = QByteArray::fromStdString(toDot(g));
    bool ok = true;
    if (p.isSet(json))
        ok = p.value(json) == "-" ? std::fwrite(jsonText.constData(), 1, std::size_t(jsonText.size()), stdout) > 0
                                  : writeText(p.value(json), jsonText);
    if (p.isSet(dot))
        ok = (p.value(dot) == "-" ? std::fwrite(dotText.constData(), 1, std::size_t(dotText.size()), stdout) > 0
                                  : writeText(p.value(dot), dotText)) && ok;
    if (p.isSet(json) || p.isSet(dot))
        return ok ? Ok : BadInput;

    int hosts = 0, links = 0;
    for (const auto& n : g.nodes)
        (n.kind == "host" ? hosts : links)++;
    std::printf("%d hosts, %d links on sampled routes\n\n%-14s %-8s %12s\n", hosts, links, "host", "role", "speed");
    int shown = 0;
    for (const auto& n : g.nodes)
        if (n.kind == "host" && ++shown <= 16)
            std::printf("%-14s %-8s %10.3g f/s\n", n.id.c_str(), n.role.c_str(), n.speed);
    if (shown > 16)
        std::printf("... %d more hosts\n", shown - 16);
    std::printf("\n%-20s %-12s %14s %12s\n", "link", "sharing", "bandwidth", "latency");
    shown = 0;
    for (const auto& n : g.nodes)
        if (n.kind == "link" && ++shown <= 16)
            std::printf("%-20s %-12s %12s/s %12s\n", n.id.c_str(), n.sharing.c_str(), formatBytes(n.bandwidth).c_str(),
                        formatSeconds(n.latency).c_str());
    if (shown > 16)
        std::printf("... %d more links\n", shown - 16);
    std::printf("\nsample routes\n");
    for (const auto& r : g.sampleRoutes) {
        std::printf("  %s -> %s: ", r.from.c_str(), r.to.c_str());
        for (std::size_t i = 0; i < r.links.size(); ++i)
            std::printf("%s%s", i ? ", " : "", r.links[i].c_str());
        std::printf("  (latency %s, bottleneck %s/s)\n", formatSeconds(r.latency).c_str(),
                    formatBytes(r.bandwidth).c_str());
    }
    return Ok;
}

} // namespace dml::app
