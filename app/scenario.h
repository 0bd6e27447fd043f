// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Scenario files: JSON describing platform + workload + strategy + run settings (README.md, "Scenario files").
#include "cost.h"
#include "data/dataset.h"
#include "simulation.h"

#include <stdexcept>
#include <string>
#include <vector>

namespace dml::app {

struct DatasetSpec {
    enum class Kind {
        FashionMnist,
        Synthetic,
        SizesOnly, ///< "none": only sample counts, for proxy models (no features, no real data)
    };
    Kind kind = Kind::FashionMnist;
    std::string path = "/usr/share/datasets/fashion-mnist";
    int trainSamples = 0; ///< Fashion-MNIST: keep only the first N (0 = all 60,000)
    int testSamples = 0;  ///< Fashion-MNIST: keep only the first N (0 = all 10,000)
    SyntheticSpec synthetic;
    int sizesOnlyClasses = 10; ///< SizesOnly: label count (labels are all 0)
};

/// One entry of a scenario's "compare" list: a label and a JSON merge patch (RFC 7396) on the scenario.
struct CompareEntry {
    std::string label;
    std::string patch; ///< compact JSON object
};

/// How the workbench plays a lesson (scenario "presentation"; the CLI ignores it): the pace in simulated seconds per
/// wall-clock second (0 = as fast as possible), which chart tab to show, which panels besides the charts, the hosts
/// and links the topology highlights and the one series the Series tab charts.
struct PresentationHints {
    bool given = false;
    double pace = 1;
    std::string tab = "Hosts";                            ///< "Hosts", "Host table", "Links", "Series" or "Labels"
    std::vector<std::string> panels{"topology", "lesson"}; ///< of "topology", "lesson", "timeline", "history"
    /// Host names (e.g. "server") and link names of the platform graph (`dmlsim platform --json`, e.g.
    /// "server_link") the topology draws with a halo; at most 64.
    std::vector<std::string> highlight;
    std::string series; ///< the named series the Series tab shows alone (e.g. "staleness"); "" = all of them
};

struct ScenarioJob;

struct Scenario {
    std::string name;
    std::string description;
    std::string file; ///< where it was read from ("" for text)
    std::string text; ///< the JSON as written, stored with every run
    DatasetSpec dataset;
    sim::SimulationSpec sim;
    std::vector<CompareEntry> compare; ///< what `dmlsim compare` runs (empty: --strategies decides)
    PresentationHints presentation;    ///< for the workbench's Play lesson
    CostSpec cost;                     ///< prices for reports (optional "cost" section; the simulation ignores it)
    /// Several jobs on one platform (optional "jobs" array; README "Several jobs on one platform"): empty for a
    /// single job. Then `sim` is the defaults the jobs patch, and only its platform runs.
    std::vector<ScenarioJob> jobs;
};

/// One job of a scenario's "jobs" array (app/scenario_jobs.cpp): the scenario it amounts to on its own (the
/// top-level scenario with the job's workload, strategy, run and workers merged in, without "jobs"; its text is what
/// the run store keeps, so a job can be run alone), its name and its start.
struct ScenarioJob {
    std::string name;  ///< 1 to 40 of [A-Za-z0-9_.-], unique in the scenario
    double start = 0;  ///< simulated s, in [0, 1e9]
    /// Fat-tree, torus, dragonfly: the hosts (leaves, 0-based) its ranks take in rank order, "first-last" inclusive;
    /// -1 (no "hosts"): the lowest hosts no other job takes, in job order.
    int firstHost = -1, lastHost = -1;
    Scenario scenario; ///< name "<scenario> / <job>"
};

/// One problem in a scenario: the JSON path of the field ("platform.link_bandwidth", "" for the document)
/// and what was expected.
struct ScenarioIssue {
    std::string path;
    std::string message;
};

/// A scenario that cannot run. what() lists every issue as "file: path: message", one per line.
class ScenarioError : public std::runtime_error {
public:
    ScenarioError(std::string file, std::vector<ScenarioIssue> issues);
    const std::string& file() const { return m_file; }
    const std::vector<ScenarioIssue>& issues() const { return m_issues; }

private:
    std::string m_file;
    std::vector<ScenarioIssue> m_issues;
};

/// Parses and validates scenario JSON. Unknown keys are errors. `file` only labels the errors.
/// Throws ScenarioError listing every issue found.
Scenario parseScenario(const std::string& text, const std::string& file = "");

/// Reads and parses a scenario file. Throws ScenarioError (also for a missing or unreadable file).
Scenario loadScenario(const std::string& file);

/// Loads the scenario's dataset. Throws DatasetError naming the file.
TrainTest loadDataset(const Scenario& s);

/// Checks the settings that depend on the dataset's size (workers, batch size). Throws ScenarioError.
/// Returns the strategy's role of every rank, in rank order (what preparePlatform maps onto hosts).
std::vector<std::string> checkAgainstData(const Scenario& s, const TrainTest& data);

/// Human-readable strategy name ("synchronous parameter server", ...).
const char* strategyTitle(StrategyKind k);

/// RFC 7396 JSON merge patch of `patch` onto `target` (both JSON object texts); returns indented JSON.
/// Throws ScenarioError if either is not a JSON object.
std::string mergePatch(const std::string& target, const std::string& patch);

/// SHA-256 of the scenario text, hex.
std::string scenarioHash(const std::string& text);

} // namespace dml::app
