// SPDX-License-Identifier: GPL-3.0-or-later
// A scenario's "jobs" array (README "Several jobs on one platform"): each job is the top-level scenario with the
// job's own sections merged in (RFC 7396, as "compare" patches are), parsed and validated as a scenario of its own;
// its issues are reported under "jobs[i]".
#include "jsonreader.h"
#include "scenario_jobs.h"

#include <QJsonDocument>
#include <QRegularExpression>

#include <set>

namespace dml::app::detail {

namespace {

/// The most jobs one scenario may hold.
constexpr int kMaxJobs = 64;

/// The job's keys that patch the top-level scenario's sections of the same name.
const char* const kSections[] = {"workload", "strategy", "run"};

/// First segment of a JSON path: "strategy" of "strategy.compression.ratio", "platform" of "platform.workers".
std::string head(const std::string& path)
{
    const std::size_t end = path.find_first_of(".[");
    return path.substr(0, end);
}

} // namespace

void readJobs(const QJsonValue& v, const std::string& baseText, Scenario& s, std::vector<ScenarioIssue>& issues)
{
    if (!v.isArray() || v.toArray().isEmpty() || v.toArray().size() > kMaxJobs) {
        issues.push_back({"jobs", "expected an array of 1 to " + std::to_string(kMaxJobs) +
                                      " jobs such as [{\"name\": \"a\"}, {\"name\": \"b\", \"start\": \"10s\"}], got " +
                                      (v.isArray() ? std::to_string(v.toArray().size()) + " entries" : show(v))});
        return;
    }
    // What several jobs cannot do yet (README "Several jobs on one platform", "Not done").
    const sim::PlatformSpec& p = s.sim.platform;
    if (p.topology == sim::Topology::Edge || p.topology == sim::Topology::Xml)
        issues.push_back({"platform.topology", std::string("jobs run on the star, fat-tree, torus and dragonfly "
                                                           "platforms, not yet on the ") + sim::toString(p.topology) +
                                                   " platform"});
    if (p.node.enabled())
        issues.push_back({"platform.node", "not with jobs yet: a node would hold ranks of two jobs"});
    if (!p.faults.empty())
        issues.push_back({"faults", "not with jobs yet: failures and recovery are per job"});
    if (p.availability.model != sim::AvailabilitySpec::Model::None)
        issues.push_back({"platform.availability", "not with jobs yet: hosts going off are failures of a job"});
    if (!s.compare.empty())
        issues.push_back({"compare", "not with jobs: `dmlsim run` runs the jobs together; compare them with `dmlsim "
                                     "report --sweep` (README \"Several jobs on one platform\")"});
    const std::vector<ScenarioIssue> baseIssues = issues;
    static const QRegularExpression namePattern("^[A-Za-z0-9_.-]{1,40}$");
    std::set<std::string> names;
    const QJsonArray a = v.toArray();
    for (qsizetype i = 0; i < a.size(); ++i) {
        const std::string at = "jobs[" + std::to_string(i) + "]";
        if (!a[i].isObject()) {
            issues.push_back({at, "expected an object such as {\"name\": \"a\", \"start\": \"10s\"}, got " + show(a[i])});
            continue;
        }
        ScenarioJob job;
        QJsonObject patch;
        std::set<std::string> patched; // the first segments of the paths the job decides
        {
            ObjectReader r(a[i].toObject(), at, issues);
            job.name = r.string("name", "", true);
            if (r.has("name") && r.value("name").isString()) {
                if (!namePattern.match(QString::fromStdString(job.name)).hasMatch())
                    r.fail("name", "expected 1 to 40 letters, digits, '-', '_' or '.', got \"" + job.name + "\"");
                else if (!names.insert(job.name).second)
                    r.fail("name", "duplicate job name \"" + job.name + "\"");
            }
            job.start = r.unit("start", UnitKind::Time, 0, false);
            if (r.has("hosts")) {
                static const QRegularExpression range("^([0-9]{1,7})-([0-9]{1,7})$");
                const QJsonValue h = r.value("hosts");
                const QRegularExpressionMatch m = range.match(h.toString());
                const bool cluster = p.topology == sim::Topology::FatTree || p.topology == sim::Topology::Torus ||
                                     p.topology == sim::Topology::Dragonfly;
                if (!h.isString() || !m.hasMatch() || m.captured(1).toInt() > m.captured(2).toInt())
                    r.fail("hosts", "expected a range of host indices \"first-last\" such as \"0-7\" (first <= last), "
                                    "got " + show(h));
                else if (!cluster)
                    r.fail("hosts", std::string("only on the fat-tree, torus and dragonfly platforms (on the ") +
                                        sim::toString(p.topology) + " platform every rank has a host of its own)");
                else {
                    job.firstHost = m.captured(1).toInt();
                    job.lastHost = m.captured(2).toInt();
                }
            }
            if (r.has("workers")) {
                const long workers = r.integer("workers", p.workers, 1, 1000000);
                patch.insert("platform", QJsonObject{{"workers", double(workers)}});
                patched.insert("platform.workers");
            }
            for (const char* key : kSections)
                if (r.has(key)) {
                    patch.insert(key, r.object(key));
                    patched.insert(key);
                }
        }
        // The job's own name in its text too: the run store keeps the text, and reports tell runs apart by it.
        if (!job.name.empty())
            patch.insert("name", QString::fromStdString(s.name + " / " + job.name));
        const std::size_t before = issues.size();
        try {
            job.scenario = parseScenario(mergePatch(baseText, QJsonDocument(patch).toJson(QJsonDocument::Compact)
                                                                   .toStdString()),
                                         s.file);
        } catch (const ScenarioError& e) {
            for (const ScenarioIssue& is : e.issues()) {
                if (is.path == "platform.workers" && patched.count("platform.workers"))
                    issues.push_back({at + ".workers", is.message});
                else if (patched.count(head(is.path)) && head(is.path) != "platform")
                    issues.push_back({at + "." + is.path, is.message});
                else if (std::none_of(baseIssues.begin(), baseIssues.end(), [&](const ScenarioIssue& b) {
                             return b.path == is.path && b.message == is.message;
                         })) // a rule that joins the job's fields with the top level's
                    issues.push_back({at, (is.path.empty() ? "" : is.path + ": ") + is.message});
            }
        }
        if (issues.size() != before)
            continue;
        if (job.scenario.sim.strategy.recovery == StrategySpec::Recovery::CheckpointRestart) {
            issues.push_back({at + (patched.count("strategy") ? ".strategy.recovery" : ""),
                              std::string(patched.count("strategy") ? "" : "strategy.recovery: ") +
                                  "\"checkpoint-restart\" is not available with jobs yet"});
            continue;
        }
        s.jobs.push_back(std::move(job));
    }
}

} // namespace dml::app::detail
