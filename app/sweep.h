// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Sweeps (`dmlsim sweep`, README "Sweeps, reports, shards and traces"): a base scenario, a grid over scenario fields named by JSON path, and
// repetitions with derived seeds. Every run is a child `dmlsim run`; the store tags it with (sweep, point, rep).
#include <QString>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dml::app {

/// What `dmlsim run --tag sweep=ID,point=N,rep=R` carries.
struct SweepTag {
    std::string sweep;
    int point = 0;
    int rep = 0;
};

/// Parses "sweep=ID,point=N,rep=R" (keys in any order, all three required); nullopt if malformed.
std::optional<SweepTag> parseSweepTag(const QString& text);

/// One grid point: a value for every axis, in axis order.
struct SweepPoint {
    std::vector<std::string> values; ///< compact JSON of each axis's value
    std::string label;               ///< "platform.workers=4, strategy.type=ring-allreduce" ("base" if no axes)
};

/// One run of a sweep: repetition `rep` of grid point `point`.
struct SweepRun {
    int point = 0, rep = 0;
    std::uint64_t seed = 0; ///< the point's seed + rep
    std::string name;       ///< the run's scenario name
    std::string text;       ///< the complete scenario JSON the child runs
};

struct Sweep {
    std::string id; ///< first 12 hex digits of the SHA-256 of the canonical {base, grid, repetitions}
    std::string name, description, file;
    std::vector<std::string> axes; ///< JSON paths, sorted
    std::vector<SweepPoint> points; ///< the Cartesian product, the last axis varying fastest
    int repetitions = 1;
    std::vector<SweepRun> runs; ///< point-major: runs[point * repetitions + rep]
    std::string spec;           ///< the sweep JSON with the base scenario inlined (stored with the sweep)
};

/// Reads and validates a sweep file: every run's scenario is built and validated before anything runs.
/// A string "base" is a scenario file path relative to the sweep file; "patch" (a JSON merge patch, RFC 7396)
/// is applied to the base before the grid. Throws ScenarioError naming the
/// field ("grid.platform.workers[2]: ...").
Sweep loadSweep(const std::string& file);

/// This process's share of a sweep: the runs with index % count == index (round-robin over runs[]).
struct Shard {
    int index = 0, count = 1;
    std::string source; ///< "--shard", "Slurm array", "Open MPI", "PMI" or "" (no sharding)
};

/// Reads "I/K" (0 <= I < K). nullopt if malformed.
std::optional<Shard> parseShard(const QString& text);

/// The shard given by a scheduler's environment: Slurm job arrays (SLURM_ARRAY_TASK_ID minus
/// SLURM_ARRAY_TASK_MIN, of SLURM_ARRAY_TASK_COUNT), Open MPI (OMPI_COMM_WORLD_RANK of OMPI_COMM_WORLD_SIZE),
/// or PMI (PMI_RANK of PMI_SIZE, MPICH and Intel MPI). nullopt if none is set. Throws std::runtime_error for
/// inconsistent values.
std::optional<Shard> shardFromEnvironment();

/// The store file of shard I of K: "runs.sqlite" -> "runs.shard-I-of-K.sqlite"; unchanged when K == 1.
std::string shardStoreFile(const std::string& db, const Shard& shard);

/// Counts of mergeStores().
struct MergeStats {
    int runs = 0;       ///< runs copied
    int duplicates = 0; ///< runs skipped because the target already held them
    int sweeps = 0;     ///< sweeps added
    /// One line per configuration of the target whose finished runs were made by different builds of dmlsim
    /// (runs.build): a sweep's grid point, or for runs outside sweeps the same scenario (hash). Their figures may
    /// differ in the last bits (README "Reproducibility").
    std::vector<std::string> mixedBuilds;
};

/// Copies every run of each source store, with the rows of every table keyed by run_id (samples, host
/// statistics, series, spans, sweep tags, and any table a newer program added), into `into` (created if
/// needed). Runs get new ids. A run already in the target (same creation time, host, process id and scenario
/// hash) is skipped, so merging twice changes nothing; sweeps are de-duplicated by id. Reports configurations
/// whose runs come from different builds in MergeStats::mixedBuilds. Throws StoreError.
MergeStats mergeStores(const std::vector<std::string>& sources, const std::string& into);

} // namespace dml::app
