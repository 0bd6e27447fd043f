// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Several jobs on one platform: the scenario's "jobs" array and the `dmlsim run` of such a scenario (README "Several
// jobs on one platform").
#include "multijob.h"
#include "scenario.h"

#include <QJsonValue>

#include <memory>
#include <string>
#include <vector>

namespace dml::app {

namespace detail {
/// Reads the "jobs" value `v` of the scenario whose top level (without "jobs") is `baseText` and is already read into
/// `s`: fills s.jobs, one ScenarioJob per entry, each parsed as a scenario of its own from `baseText` with the job's
/// "workload", "strategy" and "run" merged in (RFC 7396) and "workers" as its platform.workers. Appends every problem
/// to `issues` with its path ("jobs[1].start", "jobs[0].strategy.type"; a rule that joins the job's fields with the
/// top level's: "jobs[1]" with the field in the message). Refuses, at the top level's paths, what jobs cannot do yet:
/// the edge and XML platforms, platform.node, faults, availability and compare. Never throws.
void readJobs(const QJsonValue& v, const std::string& baseText, Scenario& s, std::vector<ScenarioIssue>& issues);
} // namespace detail

/// A scenario's jobs ready to simulate: the platform (files resolved, checked against every job's ranks, seeded by
/// the scenario's seed) and each job's strategy, workload, data and start. `data` owns the datasets (jobs that read
/// the same dataset share one); spec.jobs[j].data points into it.
struct PreparedJobs {
    sim::JobsSpec spec;
    std::vector<std::shared_ptr<TrainTest>> data;
};

/// Loads every job's dataset and checks what depends on it (checkAgainstData, issues at "jobs[j]...") and the platform
/// against the ranks of all jobs together (preparePlatform). Throws ScenarioError or DatasetError.
PreparedJobs prepareJobs(const Scenario& s);

/// `dmlsim run` of a scenario with jobs (s.jobs non-empty): loads every job's dataset, checks the platform against all
/// of their ranks, stores each job as a run of its own (name "<scenario> / <job>", its own scenario text) and the
/// jobs as a group (a sweep record "jobs-<first run id>" with one point per job, for `dmlsim report --sweep`),
/// simulates them together and prints each job's summary and the combined figures (or, with `json`, one JSON object
/// {"jobs": [...], "combined": {...}}). Returns the exit code (commands.h's ExitCode). Bad input never leaves a run.
int runJobs(const Scenario& s, const std::string& db, bool json);

} // namespace dml::app
