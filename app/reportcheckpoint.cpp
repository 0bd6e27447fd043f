// SPDX-License-Identifier: GPL-3.0-or-later
// Checkpoint planning in reports: the measured optimum interval against Young's and Daly's formulas (issue 11).
#include "reportdata.h"

#include "units.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <algorithm>
#include <cmath>

namespace dml::app::report {

QJsonValue jsonAt(QJsonObject o, const QString& path)
{
    const QStringList parts = path.split('.');
    for (int i = 0; i + 1 < parts.size(); ++i)
        o = o.value(parts[i]).toObject();
    return o.value(parts.back());
}

namespace {

/// Hosts that fail at random in this run's scenario: the ranks whose role is in faults.random.roles.
int failingHosts(const QJsonObject& sc)
{
    const QJsonValue roles = jsonAt(sc, "faults.random.roles");
    QStringList names;
    for (const QJsonValue& r : roles.isArray() ? roles.toArray() : QJsonArray{"worker"})
        names << r.toString();
    const int workers = jsonAt(sc, "platform.workers").toInt(1);
    const QString type = jsonAt(sc, "strategy.type").toString();
    const bool server = type == "sync-ps" || type == "async-ps" || type == "fedavg" || type == "fedbuff" ||
                        type == "hierfavg";
    return (names.contains(type == "fedavg" || type == "fedbuff" || type == "hierfavg" ? "client" : "worker") ? workers : 0) +
           (server && names.contains("server") ? 1 : 0);
}

} // namespace

std::optional<CheckpointPlan> checkpointPlan(const Data& d)
{
    const auto it = std::find(d.differing.begin(), d.differing.end(), "strategy.checkpoint.every");
    if (it == d.differing.end() || d.differing.size() != 1)
        return std::nullopt; // one varied field: the interval (repetitions over seeds allowed)
    CheckpointPlan p;
    p.axis = std::size_t(it - d.differing.begin());
    double writes = 0, written = 0;
    for (const Group& g : d.groups) {
        const auto interval = parseUnit(g.key[p.axis], UnitKind::Time);
        if (!interval)
            continue;
        CheckpointPlan::Point pt;
        pt.interval = *interval;
        std::vector<double> times;
        for (std::size_t i : g.runs) {
            const Summary& s = d.runs[i].record.summary;
            times.push_back(s.simulatedTime);
            pt.failures += double(s.failures) / double(g.runs.size());
            pt.checkpoints += double(s.checkpoints) / double(g.runs.size());
            writes += s.checkpointSeconds;
            written += s.checkpoints;
        }
        pt.time = stat(times);
        p.points.push_back(pt);
    }
    const QJsonObject sc = QJsonDocument::fromJson(QByteArray::fromStdString(d.runs.front().record.scenarioText)).object();
    const auto mtbf = parseUnit(jsonAt(sc, "faults.random.mtbf").toString().toStdString(), UnitKind::Time);
    p.failingHosts = failingHosts(sc);
    if (p.points.size() < 2 || written <= 0 || !mtbf || p.failingHosts <= 0)
        return std::nullopt;
    std::sort(p.points.begin(), p.points.end(), [](const auto& a, const auto& b) { return a.interval < b.interval; });
    p.best = std::min_element(p.points.begin(), p.points.end(), [](const auto& a, const auto& b) {
                 return a.time.mean < b.time.mean;
             })->interval;
    p.delta = writes / written;
    p.mtbf = *mtbf / p.failingHosts;
    p.young = std::sqrt(2 * p.delta * p.mtbf);
    const double r = p.delta / (2 * p.mtbf);
    p.daly = p.delta < 2 * p.mtbf ? p.young * (1 + std::sqrt(r) / 3 + r / 9) - p.delta : p.mtbf;
    return p;
}

} // namespace dml::app::report
