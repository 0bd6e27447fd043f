// SPDX-License-Identifier: GPL-3.0-or-later
#include "multijob.h"

#include "recorder.h"

#include "data/partition.h"
#include "error.h"
#include "strategies/jobs.h"

#include <algorithm>
#include <memory>
#include <stdexcept>

namespace dml::sim {

JobsResult simulateJobs(const JobsSpec& spec, const std::vector<MetricsSink*>& jobSinks, MetricsSink* combined)
{
    if (spec.jobs.empty())
        throw std::invalid_argument("simulateJobs: no jobs");
    if (jobSinks.size() != spec.jobs.size())
        throw std::invalid_argument("simulateJobs: " + std::to_string(jobSinks.size()) + " sinks for " +
                                    std::to_string(spec.jobs.size()) + " jobs");
    const std::size_t K = spec.jobs.size();
    std::vector<std::unique_ptr<Recorder>> recorders;
    std::vector<std::unique_ptr<SinkList>> sinks;
    std::vector<JobsStrategy::Job> parts;
    std::vector<std::vector<std::vector<int>>> histograms(K);
    bool anyReal = false;
    double horizon = 0; // the latest end a time limit allows; 0 (the default horizon) when a job has none
    bool allLimited = true;
    for (std::size_t j = 0; j < K; ++j) {
        const JobSpec& job = spec.jobs[j];
        if (!job.data)
            throw std::invalid_argument("simulateJobs: job \"" + job.name + "\" has no data");
        recorders.push_back(std::make_unique<Recorder>());
        sinks.push_back(std::make_unique<SinkList>());
        sinks.back()->add(recorders.back().get());
        if (jobSinks[j])
            sinks.back()->add(jobSinks[j]);
        std::unique_ptr<Strategy> strategy;
        try {
            strategy = makeStrategy(job.strategy, job.training, *job.data, *sinks.back());
        } catch (const ConfigError& e) { // the job's own field: "jobs[1].workload.batch_size"
            const std::string what = e.what(), prefix = e.path() + ": ";
            throw ConfigError("jobs[" + std::to_string(j) + "]." + e.path(),
                              what.rfind(prefix, 0) == 0 ? what.substr(prefix.size()) : what);
        }
        const bool real = job.training.proxy.parameters <= 0;
        anyReal = anyReal || real;
        if (strategy->shards() && real) { // proxies have no labels to count
            histograms[j] = dml::labelHistogram(*strategy->shards(), job.data->train);
            if (jobSinks[j])
                jobSinks[j]->labelHistogram(histograms[j]);
        }
        allLimited = allLimited && job.training.maxSimulatedTime > 0;
        horizon = std::max(horizon, job.start + job.training.maxSimulatedTime);
        parts.push_back({job.name, std::move(strategy), job.start});
    }
    JobsStrategy all(std::move(parts)); // checks names and start times
    PlatformSpec platform = spec.platform;
    resolveCapacity(platform, spec.jobs.front().training, spec.jobs.front().data->train);

    JobsResult out;
    out.combined = simulateStrategy(platform, all, 0, anyReal, combined, allLimited ? horizon : 0);
    SimulationResult& c = out.combined;
    for (std::size_t j = 0; j < K; ++j) {
        const JobSpec& job = spec.jobs[j];
        const Strategy& strategy = *all.job(int(j)).strategy;
        const int first = all.offset(int(j)), last = all.offset(int(j) + 1);
        const double start = job.start;
        SimulationResult r;
        for (int g = first; g < last; ++g) {
            HostStats h = c.hosts[std::size_t(g)];
            h.finish = h.finish > start ? h.finish - start : 0; // 0: a rank that never ran (an unsampled client)
            r.hosts.push_back(std::move(h));
        }
        for (const Span& s : c.timeline)
            if (s.rank >= first && s.rank < last) {
                Span local = s;
                local.rank -= first;
                if (local.peer >= 0)
                    local.peer -= first;
                local.start -= start;
                local.end -= start;
                r.timeline.push_back(local);
            }
        r.samples = std::move(recorders[j]->samples);
        r.series = std::move(recorders[j]->series);
        r.summary = summarize(r.samples, r.hosts, job.training.targetAccuracy);
        r.summary.stopReason = strategy.stopReason();
        r.summary.accuracySimulated = job.training.proxy.parameters <= 0;
        strategy.completeSummary(r.summary);
        const PartitionStats ps = partitionStats(histograms[j]); // all 0 without a histogram
        r.summary.partitionParts = ps.parts;
        r.summary.partitionSizeMin = ps.sizeMin;
        r.summary.partitionSizeMax = ps.sizeMax;
        r.summary.partitionLabelSkew = ps.labelSkew;
        r.summary.partitionLargestClassShare = ps.largestClassShare;
        r.labelHistogram = std::move(histograms[j]);
        r.finalModel = strategy.finalModel();
        if (j < c.linksByJob.size() || K == 1) { // the job's own bytes, loads over the job's own time
            r.links = K == 1 ? c.links : c.linksByJob[j]; // (one job: every byte is its own)
            for (LinkStats& l : r.links) {
                l.averageLoad = r.summary.simulatedTime > 0 ? l.bytes / r.summary.simulatedTime : 0;
                l.utilization = l.bandwidth > 0 ? l.averageLoad / l.bandwidth : 0;
            }
        }
        if (jobSinks[j]) {
            jobSinks[j]->hostStats(r.hosts);
            jobSinks[j]->linkStats(r.links);
            jobSinks[j]->summary(r.summary);
        }
        out.jobs.push_back(std::move(r));
    }
    c.summary.stopReason = all.stopReason();
    if (combined) {
        combined->hostStats(c.hosts);
        combined->linkStats(c.links);
        combined->summary(c.summary);
    }
    return out;
}

} // namespace dml::sim
