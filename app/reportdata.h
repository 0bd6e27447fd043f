// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Internal to dml_report: the runs of a report, grouped into configurations.
#include "bottleneck.h"
#include "cost.h"
#include "runstore.h"

#include <QImage>
#include <QJsonObject>
#include <QJsonValue>
#include <QString>

#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dml::app::report {

/// The value at a dotted path of a JSON object ("workload.dataset.name"); undefined if absent.
QJsonValue jsonAt(QJsonObject o, const QString& path);

struct Run {
    RunRecord record;
    std::map<std::string, std::string> fields; ///< scenario leaf JSON path -> compact JSON value
    std::vector<Sample> samples;
    std::map<std::string, std::vector<std::pair<double, double>>> series;
    std::vector<HostStats> hosts;
    std::vector<LinkStats> links;
};

/// Runs whose scenarios differ only in name, description and seed: the repetitions of one configuration.
struct Group {
    std::vector<std::string> key; ///< plain values of Data::differing, in that order ("" = not set)
    QString label;                ///< "workers=4, strategy.type=ring-allreduce" (or the scenario name)
    std::vector<std::size_t> runs; ///< indexes into Data::runs
};

/// Mean and sample standard deviation (0 for one value) of the values.
struct Stat {
    double mean = 0, sd = 0;
    int n = 0;
};
Stat stat(const std::vector<double>& v);

/// Student's t quantile t_{0.975, dof} (boost::math), dof >= 1: the 95 % two-sided critical value.
double studentT975(int dof);

/// A mean with its 95 % confidence interval over repetitions: mean +- half, half = t_{0.975, n-1} s / sqrt(n)
/// (s the sample standard deviation). half = 0 when n < 2 or when the values are all equal (varies = false): a
/// quantity that the seed does not change has no spread. n = 0: no value (mean NaN).
struct Estimate {
    double mean = std::numeric_limits<double>::quiet_NaN();
    double half = 0;
    int n = 0;
    bool varies = false;
    double lower() const { return mean - half; }
    double upper() const { return mean + half; }
};
Estimate estimate(const std::vector<double>& v);

/// Where the best of several curves y(x) (lower is better) changes between two neighbouring grid points.
struct Crossover {
    double x = 0;              ///< where the two curves meet: linear interpolation of their difference between
                               ///< x0 and x1 (in log x when logX); NaN when a value is missing (e.g. "not reached")
    double x0 = 0, x1 = 0;     ///< the grid points around it
    bool interpolated = true;  ///< false when x is a grid point itself (the difference is 0 there) or unknown
    std::string from, to;      ///< the best curve at x0, at x1
};
/// `xs` ascending; `curves`: (name, y at each x; NaN or +inf where the curve has no finite value). At each x the
/// best curve is the one of least finite y (the first on ties). Returns one Crossover per change of the best.
std::vector<Crossover> findCrossovers(const std::vector<double>& xs,
                                      const std::vector<std::pair<std::string, std::vector<double>>>& curves,
                                      bool logX);

/// Which of the points (time, cost) are Pareto-optimal when both are minimised: no other point is at least as
/// good in both and better in one. Points with a NaN coordinate are never on the front.
std::vector<bool> paretoFront(const std::vector<std::pair<double, double>>& points);

/// What a report ranks configurations by (`dmlsim report --objective`).
enum class Objective {
    TimeToTarget,  ///< simulated time to the target accuracy (default); falls back to SimulatedTime when the runs
                   ///< have no target or no accuracy (proxy models)
    SimulatedTime, ///< simulated time of the whole run
    Cost,          ///< cost to the target accuracy, or of the whole run without a target (needs prices)
};
/// "tta", "time", "cost" -> Objective; nullopt for anything else.
std::optional<Objective> parseObjective(const std::string& name);

/// The figures of one configuration over its repetitions.
struct Figures {
    bool accuracySimulated = true;
    double target = 0;       ///< target accuracy, fraction (0: none)
    Estimate accuracy;       ///< final test accuracy, fraction
    Estimate timeToTarget;   ///< s, over the runs that reached the target
    int reached = 0;         ///< runs that reached the target
    Estimate simulatedTime;  ///< s
    Estimate throughput;     ///< training samples processed per simulated second (epochs x training set / time)
    Estimate comm, util;     ///< fractions
    Estimate bytes;          ///< bytes on the wire
    Estimate wall;           ///< s
    Estimate cost;           ///< of the whole run, in Data::cost's currency (n = 0 without prices)
    Estimate costToTarget;   ///< cost x time to target / simulated time (prorated), over the runs that reached it
    Bottleneck bottleneck;   ///< the first repetition's
    Estimate bottleneckLoad; ///< that resource's load over the repetitions (fraction)
    /// Shared links above 80 % load in any repetition: (link, highest load), most loaded first.
    std::vector<std::pair<std::string, double>> saturated;
    std::vector<std::string> saturatedKind; ///< their LinkClass::kind, same order
};

/// A report's answer: the best configuration for the objective, the runner-up, the crossovers.
struct Answer {
    Objective objective = Objective::TimeToTarget; ///< the one used (after any fallback)
    std::string objectiveText;                      ///< "time to 75 % accuracy", "simulated time", "cost to ..."
    std::string note;                               ///< why the objective fell back, or ""
    int best = -1, runnerUp = -1;                   ///< group indexes; -1 none
    double bestValue = 0, runnerUpValue = 0;        ///< of the objective (s or currency)
    bool overlap = false; ///< the two 95 % intervals overlap: the ranking may not hold for other seeds
    struct AxisCrossovers {
        std::size_t axis = 0;     ///< index in Data::differing
        std::string slice;        ///< the other numeric fields' values, "" if none
        std::vector<std::string> curves; ///< the competitors' labels
        std::vector<Crossover> crossovers;
        double lo = 0, hi = 0;    ///< the axis's range, base units
        bool logX = false;
        std::string bestEverywhere; ///< when there is no crossover: the curve best at every x ("" if none)
    };
    std::vector<AxisCrossovers> axes;
    std::vector<std::string> lines; ///< the answer in plain text, one sentence a line (for the CLI)
};

/// A varied field that takes numbers (or unit strings) at every configuration: an x axis.
struct NumericAxis {
    std::size_t index = 0;      ///< in Data::differing
    std::vector<double> values; ///< per group, in base units (bytes/s, s, ...)
    double scale = 1;           ///< display unit = base / scale (Gb/s for bandwidths)
    std::string unit;           ///< display unit ("Gb/s", "s", "")
    bool logX = false;          ///< the values span a decade or more
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
    std::string sweepId, sweepName, sweepDescription; ///< when every run belongs to one sweep
    CostSpec cost;                    ///< the first run's prices (README "Cost")
    std::vector<Figures> figures;     ///< one per group
    std::vector<NumericAxis> numeric; ///< the varied fields that are x axes
    std::vector<std::size_t> categorical; ///< the other varied fields (strategy.type, ...), indexes in differing
    double target = 0;                ///< the runs' target accuracy (the largest), fraction; 0 none
    bool accuracySimulated = true;    ///< every run simulates accuracy
};

/// The figures of every group, the axes (Data::figures, numeric, categorical, target). Called by load().
void computeFigures(Data& d);

/// The objective's value of group `g` (+inf when it has none, e.g. the target not reached by every repetition).
double objectiveValue(const Data& d, std::size_t g, Objective o);

/// The answer for `wanted` (falling back as Objective says). Throws std::runtime_error for Objective::Cost
/// without prices.
Answer answer(const Data& d, Objective wanted);

/// The display form of x on an axis: "14.2 Gb/s".
std::string formatAxisValue(const NumericAxis& a, double baseValue);


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

/// The charts that the runs call for: accuracy against simulated time (always, when accuracy is simulated);
/// against each numeric varied field, one line per other configuration (e.g. per strategy), log x when the
/// values span a decade: time to target, simulated time and throughput (with 95 % intervals), communication
/// overhead for bandwidths; speed-up and scaling efficiency against workers (when platform.workers varies), each
/// with a panel of the final accuracy beneath; simulated time against the checkpoint interval (with
/// checkpointPlan's optima); time against cost with the Pareto front (when priced). Needs a QApplication.
std::vector<Chart> makeCharts(const Data& d, const Answer& a);

} // namespace dml::app::report
