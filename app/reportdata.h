// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Internal to dml_report: the runs of a report, grouped into configurations.
#include "runstore.h"

#include <QImage>
#include <QString>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dml::app::report {

struct Run {
    RunRecord record;
    std::map<std::string, std::string> fields; ///< scenario leaf JSON path -> compact JSON value
    std::vector<Sample> samples;
    std::map<std::string, std::vector<std::pair<double, double>>> series;
};

/// Runs whose scenarios differ only in name, description and seed: the repetitions of one configuration.
struct Group {
    std::vector<std::string> key; ///< plain values of Data::differing, in that order ("" = not set)
    QString label;                ///< "workers=4, strategy.type=ring-allreduce" (or the scenario name)
    std::vector<std::size_t> runs; ///< indexes into Data::runs
};

struct Data {
    std::vector<Run> runs;                ///< finished runs, in the order asked for
    std::vector<RunRecord> skipped;       ///< runs that did not finish
    std::vector<std::string> differing;   ///< paths whose values differ, without name, description and seed
    std::vector<std::string> shortNames;  ///< column headings for `differing`
    bool seedsDiffer = false;
    std::vector<Group> groups;
    std::string storeFile;
    std::vector<std::string> builds;   ///< the runs' distinct build strings, in order of first appearance
    /// One per configuration whose runs come from more than one build: "configuration LABEL: runs 1, 2 from
    /// build 1, run 5 from build 2" (builds numbered as in `builds`, from 1).
    std::vector<std::string> mixedBuilds;
};

/// Mean and sample standard deviation (0 for one value) of the values.
struct Stat {
    double mean = 0, sd = 0;
    int n = 0;
};
Stat stat(const std::vector<double>& v);

struct Chart {
    QString title;
    QString caption;
    QImage image;
};

/// Checkpoint planning (issue 11): when the runs vary strategy.checkpoint.every under random failures, the
/// measured simulated time per interval next to the first-order optimum of Young (1974, "A first order
/// approximation to the optimum checkpoint interval", CACM 17(9)): sqrt(2 delta M), and Daly's higher-order one
/// (2006, "A higher order estimate of the optimum checkpoint interval for restart dumps", FGCS 22(3), eq. 37):
/// sqrt(2 delta M) [1 + sqrt(delta / 2M) / 3 + delta / 18M] - delta for delta < 2M (else M). delta is the
/// checkpoint's write time as measured in the runs (checkpoint seconds / checkpoints); M the system's mean time
/// between failures, faults.random.mtbf / the number of hosts that fail (exact for exponential failures; the
/// superposition's mean for Weibull ones).
struct CheckpointPlan {
    std::size_t axis = 0;  ///< index in Data::differing of strategy.checkpoint.every
    struct Point {
        double interval = 0; ///< s
        Stat time;           ///< simulated time over the repetitions, s
        double failures = 0; ///< mean rank failures per run
        double checkpoints = 0;
    };
    std::vector<Point> points; ///< by interval, one series (the other differing fields fixed) only
    double best = 0;           ///< the interval of the smallest mean simulated time, s
    double delta = 0;          ///< mean checkpoint write time, s
    double mtbf = 0;           ///< system MTBF M, s
    int failingHosts = 0;
    double young = 0, daly = 0; ///< s
};
/// The plan, if the runs call for one (see CheckpointPlan); nullopt otherwise.
std::optional<CheckpointPlan> checkpointPlan(const Data& d);

/// The charts that the runs call for: accuracy against simulated time (always, when accuracy is simulated),
/// speed-up and scaling efficiency against workers (when platform.workers varies), communication overhead
/// against bandwidth (for each varying *bandwidth field), simulated time against the checkpoint interval (with
/// checkpointPlan's optima). Needs a QApplication.
std::vector<Chart> makeCharts(const Data& d);

} // namespace dml::app::report
