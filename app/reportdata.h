// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Internal to dml_report: the runs of a report, grouped into configurations.
#include "runstore.h"

#include <QImage>
#include <QString>

#include <map>
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

/// The charts that the runs call for: accuracy against simulated time (always, when accuracy is simulated),
/// speed-up and scaling efficiency against workers (when platform.workers varies), communication overhead
/// against bandwidth (for each varying *bandwidth field). Needs a QApplication.
std::vector<Chart> makeCharts(const Data& d);

} // namespace dml::app::report
