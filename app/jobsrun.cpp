// SPDX-License-Identifier: GPL-3.0-or-later
// `dmlsim run` of a scenario with several jobs (README "Several jobs on one platform").
#include "bottleneck.h"
#include "buildinfo.h"
#include "commands.h"
#include "error.h"
#include "events.h"
#include "multijob.h"
#include "runstore.h"
#include "scenario_jobs.h"
#include "scenario_platform.h"
#include "units.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <algorithm>

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>

namespace dml::app {

namespace {

double wallNow()
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int badInput(const std::string& message)
{
    std::fprintf(stderr, "dmlsim run: %s\n", message.c_str());
    return BadInput;
}

/// What identifies a job's dataset: jobs that read the same one share it (it is loaded once).
std::string datasetKey(const Scenario& s)
{
    const DatasetSpec& d = s.dataset;
    const SyntheticSpec& y = d.synthetic;
    char b[512];
    std::snprintf(b, sizeof b, "%d|%d|%d|%d|%d|%d|%d|%.17g|%d|%llu", int(d.kind), d.trainSamples, d.testSamples,
                  y.classes, y.features, y.trainSamples, y.testSamples, y.separation, d.sizesOnlyClasses,
                  (unsigned long long)s.sim.training.seed);
    return b + d.path;
}

/// Simulated time per step (or round), s; 0 without steps.
double perStep(const Summary& s)
{
    return s.steps > 0 ? s.simulatedTime / double(s.steps) : 0;
}

/// The leaf of every rank on a fat-tree, torus or dragonfly when a job gives its "hosts" (empty otherwise: rank r on
/// leaf r): a job with hosts takes them in rank order; the others take the lowest free leaves, in job order. Throws
/// ScenarioError at "jobs[j].hosts" for a range that does not hold the job's ranks, lies beyond the platform or
/// overlaps another job's.
std::vector<int> placement(const Scenario& s, const std::vector<int>& ranks)
{
    if (std::all_of(s.jobs.begin(), s.jobs.end(), [](const ScenarioJob& j) { return j.firstHost < 0; }))
        return {};
    const sim::PlatformSpec& p = s.sim.platform;
    const int n = sim::clusterHostCount(p.topology, p.topologyParameters);
    std::vector<int> owner(std::size_t(n), -1); // leaf -> job
    std::vector<ScenarioIssue> issues;
    for (std::size_t j = 0; j < s.jobs.size(); ++j) {
        const ScenarioJob& job = s.jobs[j];
        if (job.firstHost < 0)
            continue;
        const std::string at = "jobs[" + std::to_string(j) + "].hosts";
        const std::string range = std::to_string(job.firstHost) + "-" + std::to_string(job.lastHost);
        if (job.lastHost >= n) {
            issues.push_back({at, "hosts " + range + ": the " + std::string(sim::toString(p.topology)) + " \"" +
                                      p.topologyParameters + "\" has hosts 0-" + std::to_string(n - 1)});
            continue;
        }
        if (job.lastHost - job.firstHost + 1 < ranks[j]) {
            issues.push_back({at, "hosts " + range + " are " + std::to_string(job.lastHost - job.firstHost + 1) +
                                      "; the job has " + std::to_string(ranks[j]) + " ranks"});
            continue;
        }
        for (int leaf = job.firstHost; leaf <= job.lastHost; ++leaf) { // the whole range is the job's
            int& o = owner[std::size_t(leaf)];
            if (o >= 0) {
                issues.push_back({at, "host " + std::to_string(leaf) + " is job \"" + s.jobs[std::size_t(o)].name +
                                          "\"'s too; jobs do not share hosts"});
                break;
            }
            o = int(j);
        }
    }
    std::vector<int> leafOf;
    int next = 0; // the lowest leaf not yet examined for the jobs without hosts
    for (std::size_t j = 0; j < s.jobs.size() && issues.empty(); ++j) {
        const ScenarioJob& job = s.jobs[j];
        for (int r = 0; r < ranks[j]; ++r) {
            if (job.firstHost >= 0) {
                leafOf.push_back(job.firstHost + r);
                continue;
            }
            while (next < n && owner[std::size_t(next)] >= 0)
                ++next;
            if (next >= n) {
                issues.push_back({"jobs[" + std::to_string(j) + "]", "no free hosts left on the " +
                                                                        std::string(sim::toString(p.topology)) + " \"" +
                                                                        p.topologyParameters + "\" for its ranks"});
                break;
            }
            owner[std::size_t(next)] = int(j);
            leafOf.push_back(next);
        }
    }
    if (!issues.empty())
        throw ScenarioError(s.file, std::move(issues));
    return leafOf;
}

} // namespace

PreparedJobs prepareJobs(const Scenario& s)
{
    PreparedJobs out;
    std::map<std::string, std::shared_ptr<TrainTest>> datasets;
    std::vector<std::string> roles;
    std::vector<int> ranks; // per job
    for (std::size_t j = 0; j < s.jobs.size(); ++j) {
        const Scenario& js = s.jobs[j].scenario;
        const std::size_t before = roles.size();
        std::shared_ptr<TrainTest>& d = datasets[datasetKey(js)];
        if (!d)
            d = std::make_shared<TrainTest>(loadDataset(js));
        out.data.push_back(d);
        try {
            for (const std::string& role : checkAgainstData(js, *d))
                roles.push_back(role);
        } catch (const ScenarioError& e) { // the job's own field
            std::vector<ScenarioIssue> issues;
            for (const ScenarioIssue& is : e.issues())
                issues.push_back({"jobs[" + std::to_string(j) + "]." + is.path, is.message});
            throw ScenarioError(s.file, std::move(issues));
        }
        ranks.push_back(int(roles.size() - before));
    }
    Scenario platform = s; // preparePlatform resolves the platform's files in place
    preparePlatform(platform, roles);
    platform.sim.platform.rankLeaf = placement(s, ranks);
    out.spec.platform = platform.sim.platform;
    out.spec.platform.seed = s.sim.training.seed;
    for (std::size_t j = 0; j < s.jobs.size(); ++j) {
        const ScenarioJob& job = s.jobs[j];
        out.spec.jobs.push_back(
            {job.name, job.scenario.sim.strategy, job.scenario.sim.training, out.data[j].get(), job.start});
    }
    return out;
}

int runJobs(const Scenario& s, const std::string& db, bool json)
{
    // Every job's data, ranks and the platform are checked before the store is touched (bad input leaves no run).
    PreparedJobs prepared;
    try {
        prepared = prepareJobs(s);
    } catch (const ScenarioError& e) {
        return badInput(e.what());
    } catch (const DatasetError& e) {
        return badInput(std::string("dataset: ") + e.what());
    }
    const sim::JobsSpec& spec = prepared.spec;

    std::optional<RunStore> store;
    std::vector<long long> ids;
    std::string group;
    try {
        store.emplace(db);
        for (const ScenarioJob& job : s.jobs)
            ids.push_back(store->beginRun(job.scenario, toString(job.scenario.sim.strategy.kind), DMLSIM_VERSION,
                                          buildString()));
        // The jobs as one group: a sweep record with a point per job, so `dmlsim report --sweep` compares them.
        group = "jobs-" + std::to_string(ids.front());
        SweepRecord sw;
        sw.id = group;
        sw.name = s.name + " (jobs, runs " + std::to_string(ids.front()) + "-" + std::to_string(ids.back()) + ")";
        sw.description = s.description;
        sw.version = DMLSIM_VERSION;
        sw.points = int(s.jobs.size());
        sw.repetitions = 1;
        sw.spec = s.text;
        store->addSweep(sw);
        for (std::size_t j = 0; j < ids.size(); ++j)
            store->tagRun(ids[j], group, int(j), 0);
    } catch (const StoreError& e) {
        return badInput(db + ": " + e.what());
    }

    std::fprintf(stderr, "dmlsim run: %zu jobs on one platform (runs %lld-%lld)...\n", s.jobs.size(), ids.front(),
                 ids.back());
    const double t0 = wallNow();
    sim::JobsResult result;
    try {
        result = sim::simulateJobs(spec, std::vector<MetricsSink*>(s.jobs.size(), nullptr), nullptr);
    } catch (const std::exception& e) {
        const std::string msg = std::string("simulation failed: ") + e.what();
        std::fprintf(stderr, "dmlsim run: %s\n", msg.c_str());
        for (long long id : ids)
            try {
                store->failRun(id, msg, wallNow() - t0);
            } catch (const StoreError& se) {
                std::fprintf(stderr, "dmlsim run: could not record the failure: %s\n", se.what());
            }
        return SimulationFailed;
    }
    const double wall = wallNow() - t0;
    try {
        for (std::size_t j = 0; j < ids.size(); ++j)
            store->finishRun(ids[j], result.jobs[j], wall);
    } catch (const StoreError& e) {
        std::fprintf(stderr, "dmlsim run: %s\n", e.what());
        return SimulationFailed;
    }

    const sim::SimulationResult& c = result.combined;
    const Bottleneck b = findBottleneck(c.hosts, c.links);
    if (json) {
        QJsonArray jobs;
        for (std::size_t j = 0; j < ids.size(); ++j) {
            QJsonObject o = toJson(result.jobs[j].summary);
            o.insert("run_id", double(ids[j]));
            o.insert("job", QString::fromStdString(s.jobs[j].name));
            o.insert("name", QString::fromStdString(s.jobs[j].scenario.name));
            o.insert("start", s.jobs[j].start);
            o.insert("strategy", toString(s.jobs[j].scenario.sim.strategy.kind));
            o.insert("workers", s.jobs[j].scenario.sim.strategy.workers);
            o.insert("time_per_step", perStep(result.jobs[j].summary));
            QJsonArray hosts;
            for (const auto& h : result.jobs[j].hosts)
                hosts.append(toJson(h));
            o.insert("hosts", hosts);
            o.insert("links", toJson(result.jobs[j].links));
            jobs.append(o);
        }
        QJsonObject combined{{"makespan", c.summary.simulatedTime},
                             {"bytes_on_wire", c.summary.bytesOnWire},
                             {"communication_overhead", c.summary.communicationOverhead},
                             {"utilization", c.summary.utilization},
                             {"idle_fraction", c.summary.idleFraction},
                             {"links", toJson(c.links)},
                             {"bottleneck", QJsonObject{{"text", QString::fromStdString(b.text())},
                                                        {"name", QString::fromStdString(b.name)},
                                                        {"load", b.load},
                                                        {"shared", b.shared}}}};
        const QJsonObject o{{"name", QString::fromStdString(s.name)}, {"group", QString::fromStdString(group)},
                            {"wall_time", wall},
                            {"build", buildString()},
                            {"jobs", jobs},
                            {"combined", combined}};
        std::printf("%s\n", QJsonDocument(o).toJson(QJsonDocument::Compact).constData());
        return Ok;
    }
    for (std::size_t j = 0; j < ids.size(); ++j) {
        std::printf("\n=== job %s (starts at %s) ===", s.jobs[j].name.c_str(), formatSeconds(s.jobs[j].start).c_str());
        printSummaryTable(ids[j], s.jobs[j].scenario, result.jobs[j], wall);
    }
    std::printf("\n%zu job%s on one platform: %s   (group %s)\n", ids.size(), ids.size() == 1 ? "" : "s",
                s.name.c_str(), group.c_str());
    std::printf("  %-12s %-15s %7s %10s %10s %10s %9s %7s %6s %11s\n", "job", "strategy", "workers", "start", "time",
                "per step", "accuracy", "comm", "util", "bytes");
    for (std::size_t j = 0; j < ids.size(); ++j) {
        const Summary& x = result.jobs[j].summary;
        const Scenario& js = s.jobs[j].scenario;
        std::printf("  %-12s %-15s %7d %10s %10s %10s %9s %6.1f%% %5.1f%% %11s\n", s.jobs[j].name.c_str(),
                    toString(js.sim.strategy.kind), js.sim.strategy.workers, formatSeconds(s.jobs[j].start).c_str(),
                    formatSeconds(x.simulatedTime).c_str(), formatSeconds(perStep(x)).c_str(),
                    x.accuracySimulated ? QString::asprintf("%.2f %%", 100 * x.finalAccuracy).toUtf8().constData()
                                        : "-",
                    100 * x.communicationOverhead, 100 * x.utilization, formatBytes(x.bytesOnWire).c_str());
    }
    std::printf("  makespan                   %s   (simulated: the last job's end)\n",
                formatSeconds(c.summary.simulatedTime).c_str());
    std::printf("  bytes on the wire          %s   (every job)\n", formatBytes(c.summary.bytesOnWire).c_str());
    std::printf("  bottleneck                 %s   (most loaded link or host)\n", b.text().c_str());
    for (const LinkStats& l : saturatedSharedLinks(c.hosts, c.links))
        std::printf("  warning: %s\n", saturationWarning(l, c.hosts).c_str());
    if (!c.links.empty()) {
        std::printf("\n  %-24s %12s %14s %8s", "busiest links", "bytes", "bandwidth", "load");
        for (const ScenarioJob& job : s.jobs)
            std::printf(" %12s", job.name.c_str());
        std::printf("\n");
        for (std::size_t i = 0; i < c.links.size() && i < 5; ++i) {
            const LinkStats& l = c.links[i];
            std::printf("  %-24s %12s %12s/s %7.1f%%", l.name.c_str(), formatBytes(l.bytes).c_str(),
                        formatBytes(l.bandwidth).c_str(), 100 * l.utilization);
            for (std::size_t j = 0; j < result.jobs.size(); ++j) {
                double bytes = 0;
                for (const LinkStats& jl : result.jobs[j].links)
                    if (jl.name == l.name)
                        bytes = jl.bytes;
                std::printf(" %12s", formatBytes(bytes).c_str());
            }
            std::printf("\n");
        }
    }
    std::printf("\n  compare them: dmlsim report --sweep %s --db %s --out jobs.html\n\n", group.c_str(), db.c_str());
    return Ok;
}

} // namespace dml::app
