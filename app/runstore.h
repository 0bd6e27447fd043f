// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The SQLite run store (default ./dmlsim.sqlite). Layout after OMNeT++'s result files: one row per run with
// its scenario text and seed, time series and per-host statistics in their own tables. WAL mode; every write
// is one transaction, so a run killed mid-way leaves the file consistent and its row in status "running".
#include "metrics.h"
#include "simulation.h"

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

struct sqlite3;

namespace dml::app {

struct Scenario;

class StoreError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// One run as listed by `dmlsim runs`.
struct RunRecord {
    long long id = 0;
    std::string created, finished; ///< ISO 8601, UTC
    std::string name, strategy, status, error, version, scenarioHash, scenarioFile, scenarioText;
    std::string build; ///< the build string of the program that made it (buildinfo.h)
    std::uint64_t seed = 0;
    int workers = 0;
    long long pid = 0;
    Summary summary;
    double wallTime = 0;
    /// status "running" but its process is gone (killed): the run is unfinished.
    bool interrupted = false;
};

/// One sweep (`dmlsim sweep`, README "Sweeps, reports, shards and traces"). Its id is derived from its content, so the same sweep run
/// again, or run in shards on several machines, has the same id.
struct SweepRecord {
    std::string id, name, description, created, version;
    int points = 0;      ///< grid points
    int repetitions = 0; ///< runs per point (seeds base + 0, 1, ...)
    std::string spec;    ///< the sweep JSON with its base scenario inlined
};

/// A run's place in a sweep, with the run's status.
struct SweepRunTag {
    long long runId = 0;
    int point = 0, rep = 0;
    std::string status;
};

class RunStore {
public:
    /// Opens (creating if needed) the store. Throws StoreError naming the file.
    explicit RunStore(const std::string& file);
    ~RunStore();
    RunStore(const RunStore&) = delete;
    RunStore& operator=(const RunStore&) = delete;

    /// Inserts the run in status "running" and returns its id. `build`: the program's build string (buildinfo.h).
    long long beginRun(const Scenario& s, const std::string& strategy, const std::string& version,
                       const std::string& build);
    /// Stores samples, host statistics, link statistics, series, the timeline and the summary and marks the run
    /// "finished", in one transaction, except that a timeline of more than kSpanBatch spans is written first in
    /// transactions of kSpanBatch rows (so that no transaction holds the write lock for seconds).
    void finishRun(long long id, const sim::SimulationResult& r, double wallTime);
    static constexpr std::size_t kSpanBatch = 200000;
    /// Marks the run "failed" with the error text.
    void failRun(long long id, const std::string& error, double wallTime);

    /// Deletes the run and its samples, host statistics, series and spans (one transaction). No-op if absent.
    void deleteRun(long long id);

    std::vector<RunRecord> runs();
    RunRecord run(long long id); ///< throws StoreError if there is no such run
    std::vector<Sample> samples(long long id);
    std::vector<HostStats> hostStats(long long id);
    /// The links that carried traffic (table link_stats), most bytes first; empty for runs stored before
    /// link statistics were kept.
    std::vector<LinkStats> linkStats(long long id);
    std::vector<Span> timeline(long long id);
    /// counts[rank][class] of the run's shards (rows may be shorter than the class count: trailing zeros)
    std::vector<std::vector<int>> labelHistogram(long long id);
    std::map<std::string, std::vector<std::pair<double, double>>> series(long long id);

    /// Records a sweep; a sweep with the same id is kept as it is.
    void addSweep(const SweepRecord& s);
    std::vector<SweepRecord> sweeps();
    /// Tags run `runId` as repetition `rep` of grid point `point` of sweep `sweepId`.
    void tagRun(long long runId, const std::string& sweepId, int point, int rep);
    /// Every run tagged with `sweepId`, ordered by point, repetition and run id.
    std::vector<SweepRunTag> sweepRuns(const std::string& sweepId);
    const std::string& file() const { return m_file; }

private:
    void exec(const char* sql);
    void insertSpans(long long id, const std::vector<Span>& spans, std::size_t begin, std::size_t end);
    void migrate(); ///< upgrades an older schema in place (2 -> 3)
    std::string m_file;
    sqlite3* m_db = nullptr;
};

} // namespace dml::app
