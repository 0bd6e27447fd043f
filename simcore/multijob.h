// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Several training jobs on one platform, in one simulation (issue 17 item 5; README "Several jobs on one platform").
#include "simulation.h"

#include <string>
#include <vector>

namespace dml::sim {

/// One job: its strategy and workload (as a single scenario's), its data, its name and when it starts.
struct JobSpec {
    std::string name;             ///< unique, non-empty; its hosts are "<name>/worker-0", ...
    StrategySpec strategy;
    TrainingConfig training;      ///< training.seed seeds the job's model, shards and batches
    const TrainTest* data = nullptr; ///< non-null; must outlive simulateJobs
    double start = 0;             ///< simulated s (finite, >= 0): when its ranks begin
};

/// The jobs share `platform`, whose hosts their ranks take in job order (job 0's ranks on the first hosts or leaves).
struct JobsSpec {
    PlatformSpec platform;
    std::vector<JobSpec> jobs;    ///< at least one
};

struct JobsResult {
    /// Per job, in its own terms: ranks renumbered from 0, times counted from the job's start (samples, series,
    /// host finish times, timeline), its summary (simulatedTime = its last host's finish - its start), its label
    /// histogram and partition figures, and the links its own messages crossed (SimulationResult::linksByJob).
    std::vector<SimulationResult> jobs;
    /// The whole platform: every rank's host statistics and timeline in absolute simulated time (global ranks, job
    /// 0's first), every link's traffic, and a summary whose simulatedTime is the makespan (the last host's
    /// finish), bytesOnWire the jobs' total and communicationOverhead / utilization / idleFraction over the workers
    /// (and clients) of every job. Samples are empty (each job has its own).
    SimulationResult combined;
};

/// Runs every job in ONE simulation (one per process, like simulate()): their messages contend on the links they
/// share. Job j's samples, series, label histogram and host statistics go to `jobSinks[j]` (may be null) as they
/// happen, with its summary at the end; `combined` (may be null) gets the span batches of the whole platform, its
/// host and link statistics and the combined summary. Throws ConfigError (path "jobs[j]....", or the platform's) for
/// settings a job or the platform cannot run, std::invalid_argument for a malformed spec (no jobs, a null data
/// pointer, jobSinks of another size), SimulationError if an actor fails.
JobsResult simulateJobs(const JobsSpec& spec, const std::vector<MetricsSink*>& jobSinks, MetricsSink* combined);

} // namespace dml::sim
