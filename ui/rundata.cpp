// SPDX-License-Identifier: GPL-3.0-or-later
#include "rundata.h"

#include <QJsonArray>

#include <algorithm>
#include <cmath>
#include <deque>

namespace dml::ui {
namespace {

constexpr int kMaxRanks = 4096; // per-host activity is tracked for the first ranks only (views cannot show more)

double numberOr(const QJsonValue& v, double def)
{
    return v.isDouble() ? v.toDouble() : def;
}

/// Sum of bins weighted by their overlap with [t0, t1), assuming activity is uniform within a bin.
double binsSum(const TimeBins& b, double width, double t0, double t1)
{
    if (!(t1 > t0))
        return 0;
    const int first = std::max(0, int(std::floor(t0 / width)));
    const int last = std::min(TimeBins::kBins - 1, int(std::floor(t1 / width)));
    double sum = 0;
    for (int i = first; i <= last; ++i) {
        const double a = std::max(t0, i * width), z = std::min(t1, (i + 1) * width);
        if (z > a)
            sum += b.at(i) * (z - a) / width;
    }
    return sum;
}

double coveredIn(const IntervalSet& s, double t0, double t1)
{
    const auto& m = s.intervals();
    auto it = m.upper_bound(t0);
    if (it != m.begin())
        --it;
    double sum = 0;
    for (; it != m.end() && it->first < t1; ++it)
        sum += std::max(0.0, std::min(t1, it->second) - std::max(t0, it->first));
    return sum;
}

} // namespace

void TimeBins::add(double s, double e, double rate, double width)
{
    const int first = std::max(0, int(std::floor(s / width)));
    const int last = std::min(kBins - 1, int(std::floor(e / width)));
    for (int i = first; i <= last; ++i) {
        const double a = std::max(s, i * width), z = std::min(e, (i + 1) * width);
        if (z > a)
            m_v[std::size_t(i)] += rate * (z - a);
    }
}

void TimeBins::doubleWidth()
{
    for (int i = 0; i < kBins / 2; ++i)
        m_v[std::size_t(i)] = m_v[std::size_t(2 * i)] + m_v[std::size_t(2 * i + 1)];
    std::fill(m_v.begin() + kBins / 2, m_v.end(), 0.0);
}

QString displayName(const QString& stored)
{
    const qsizetype cut = stored.lastIndexOf(" / ");
    return cut > 0 ? stored.mid(cut + 3) + " (" + stored.left(cut) + ")" : stored;
}

QString RunData::label() const
{
    return id > 0 ? QString("#%1 %2").arg(id).arg(displayName(name)) : displayName(name);
}

bool RunData::isWorker(int rank) const
{
    if (rank < int(hosts.size()))
        return hosts[std::size_t(rank)].role == "worker" || hosts[std::size_t(rank)].role == "client";
    return false;
}

void RunData::ensureRank(int rank)
{
    if (rank < int(m_compute.size()))
        return;
    const auto n = std::size_t(rank + 1);
    m_compute.resize(n);
    m_comm.resize(n);
    m_computeBins.resize(n);
    m_commBins.resize(n);
}

void RunData::fitTime(double t)
{
    m_now = std::max(m_now, t);
    while (t > m_binWidth * TimeBins::kBins) {
        for (auto& b : m_computeBins)
            b.doubleWidth();
        for (auto& b : m_commBins)
            b.doubleWidth();
        for (auto& [id, l] : m_links) {
            l.dir[0].doubleWidth();
            l.dir[1].doubleWidth();
        }
        m_binWidth *= 2;
    }
}

void RunData::addSpans(const std::vector<Span>& spans)
{
    for (const Span& s : spans) {
        if (s.rank < 0 || s.rank >= kMaxRanks || !(s.end >= s.start))
            continue;
        fitTime(s.end);
        ensureRank(s.rank);
        const auto r = std::size_t(s.rank);
        if (s.kind == Span::Compute) {
            m_compute[r].insert(s.start, s.end, [&](double a, double z) { m_computeBins[r].add(a, z, 1, m_binWidth); });
        } else {
            m_comm[r].insert(s.start, s.end, [&](double a, double z) { m_commBins[r].add(a, z, 1, m_binWidth); });
            if (s.kind == Span::Send) {
                if (m_platform.isEmpty())
                    m_pendingSends.push_back(s);
                else
                    routeSend(s);
            }
        }
    }
    ++revision;
}

void RunData::setPlatform(const QJsonObject& graph)
{
    m_platform = graph;
    hosts.clear();
    m_links.clear();
    m_adjacent.clear();
    m_routes.clear();
    for (const QJsonValue& v : graph["nodes"].toArray()) {
        const QJsonObject n = v.toObject();
        if (n["kind"].toString() == "host")
            hosts.push_back({n["id"].toString(), n["role"].toString()});
        else {
            LinkTraffic& l = m_links[n["id"].toString()];
            l.bandwidth = numberOr(n["bandwidth"], 0);
            l.shared = n["sharing"].toString() == "shared" || n["sharing"].toString() == "wifi";
        }
    }
    for (const QJsonValue& v : graph["edges"].toArray()) {
        const QString a = v["source"].toString(), b = v["target"].toString();
        m_adjacent[a].push_back(b);
        m_adjacent[b].push_back(a);
    }
    for (const Span& s : m_pendingSends)
        routeSend(s);
    m_pendingSends.clear();
    ++revision;
}

const std::vector<std::pair<QString, int>>& RunData::route(int from, int to) const
{
    const auto key = std::make_pair(from, to);
    auto found = m_routes.find(key);
    if (found != m_routes.end())
        return found->second;
    std::vector<std::pair<QString, int>>& out = m_routes[key];
    if (from >= int(hosts.size()) || to >= int(hosts.size()))
        return out;
    // Breadth-first search over the platform graph; the links on the path, each with the direction it is crossed.
    const QString src = hosts[std::size_t(from)].name, dst = hosts[std::size_t(to)].name;
    std::map<QString, QString> parent{{src, src}};
    std::deque<QString> queue{src};
    while (!queue.empty() && !parent.count(dst)) {
        const QString n = queue.front();
        queue.pop_front();
        const auto adj = m_adjacent.find(n);
        if (adj == m_adjacent.end())
            continue;
        for (const QString& m : adj->second)
            if (!parent.count(m)) {
                parent[m] = n;
                // Hosts relay nothing: only links are crossed.
                if (m == dst || m_links.count(m))
                    queue.push_back(m);
            }
    }
    if (!parent.count(dst))
        return out;
    std::vector<QString> path{dst};
    while (path.back() != src)
        path.push_back(parent[path.back()]);
    std::reverse(path.begin(), path.end());
    for (std::size_t i = 1; i + 1 < path.size(); ++i)
        if (m_links.count(path[i]))
            out.emplace_back(path[i], path[i - 1] < path[i + 1] ? 0 : 1);
    return out;
}

void RunData::routeSend(const Span& s)
{
    if (s.peer < 0 || !(s.end > s.start) || s.amount <= 0)
        return;
    const double rate = s.amount / (s.end - s.start);
    for (const auto& [link, dir] : route(s.rank, s.peer))
        m_links[link].dir[dir].add(s.start, s.end, rate, m_binWidth);
    m_recent.push_back({s.rank, s.peer, s.start, s.end, s.amount});
    if (m_recent.size() > kRecentTransfers)
        m_recent.pop_front();
}

std::vector<RunData::LinkLoad> RunData::linkLoads() const
{
    std::vector<LinkLoad> out;
    if (!linkStats.empty()) {
        for (const LinkStats& l : linkStats)
            if (l.bytes > 0)
                out.push_back({QString::fromStdString(l.name), l.bandwidth, l.bytes, l.utilization});
    } else if (m_now > 0) {
        for (const auto& [id, l] : m_links) {
            const double a = binsSum(l.dir[0], m_binWidth, 0, m_now), b = binsSum(l.dir[1], m_binWidth, 0, m_now);
            if (a + b <= 0)
                continue;
            out.push_back({id, l.bandwidth, a + b, linkUtilization(id, 0)});
        }
    }
    std::stable_sort(out.begin(), out.end(), [](const LinkLoad& x, const LinkLoad& y) {
        return x.utilization > y.utilization || (x.utilization == y.utilization && x.bytes > y.bytes);
    });
    return out;
}

QString RunData::applyEvent(const QJsonObject& e)
{
    const QString event = e["event"].toString();
    if (event == "started") {
        id = (long long)e["run_id"].toDouble();
        name = e["name"].toString();
        status = "running";
    } else if (event == "sample") {
        Sample s;
        s.time = numberOr(e["time"], 0);
        s.step = long(numberOr(e["step"], 0));
        s.epoch = numberOr(e["epoch"], 0);
        s.trainLoss = numberOr(e["train_loss"], std::nan(""));
        s.testLoss = numberOr(e["test_loss"], std::nan(""));
        s.testAccuracy = numberOr(e["test_accuracy"], std::nan(""));
        samples.push_back(s);
        fitTime(s.time);
    } else if (event == "spans") {
        std::vector<Span> spans;
        const QJsonArray rows = e["spans"].toArray();
        spans.reserve(std::size_t(rows.size()));
        for (const QJsonValue& v : rows) {
            const QJsonArray r = v.toArray();
            if (r.size() < 6)
                continue;
            spans.push_back({r[0].toInt(), Span::Kind(r[1].toInt()), r[2].toInt(), r[3].toDouble(), r[4].toDouble(),
                             r[5].toDouble()});
        }
        addSpans(spans);
    } else if (event == "label_histogram") {
        labelHistogram.clear();
        for (const QJsonValue& row : e["counts"].toArray()) {
            std::vector<int> counts;
            for (const QJsonValue& c : row.toArray())
                counts.push_back(c.toInt());
            labelHistogram.push_back(std::move(counts));
        }
    } else if (event == "point") {
        series[e["series"].toString()].emplace_back(e["time"].toDouble(), e["value"].toDouble());
    } else if (event == "host_stats") {
        hostStats.clear();
        for (const QJsonValue& v : e["hosts"].toArray()) {
            const QJsonObject h = v.toObject();
            hostStats.push_back({h["name"].toString().toStdString(), h["role"].toString().toStdString(),
                                 h["speed"].toDouble(), h["elapsed"].toDouble(), h["finish"].toDouble(),
                                 h["compute"].toDouble(), h["communication"].toDouble(), h["idle"].toDouble(),
                                 h["bytes_sent"].toDouble(), h["bytes_received"].toDouble(), h["bytes_lost"].toDouble(),
                                 h["flops"].toDouble()});
        }
        if (hosts.empty())
            for (const HostStats& h : hostStats)
                hosts.push_back({QString::fromStdString(h.name), QString::fromStdString(h.role)});
    } else if (event == "link_stats") {
        linkStats.clear();
        for (const QJsonValue& v : e["links"].toArray()) {
            const QJsonObject l = v.toObject();
            linkStats.push_back({l["name"].toString().toStdString(), l["bandwidth"].toDouble(),
                                 l["latency"].toDouble(), l["bytes"].toDouble(), l["average_load"].toDouble(),
                                 l["utilization"].toDouble()});
        }
    } else if (event == "summary") {
        Summary& s = summary;
        s.finalAccuracy = numberOr(e["final_accuracy"], 0);
        s.bestAccuracy = numberOr(e["best_accuracy"], 0);
        s.simulatedTime = numberOr(e["simulated_time"], 0);
        s.targetAccuracy = numberOr(e["target_accuracy"], 0);
        s.timeToTarget = numberOr(e["time_to_target"], -1);
        s.communicationOverhead = numberOr(e["communication_overhead"], 0);
        s.utilization = numberOr(e["utilization"], 0);
        s.bytesOnWire = numberOr(e["bytes_on_wire"], 0);
        s.steps = long(numberOr(e["steps"], 0));
        s.epochs = numberOr(e["epochs"], 0);
        s.stopReason = e["stop_reason"].toString().toStdString();
        hasSummary = true;
        fitTime(s.simulatedTime);
    } else if (event == "error") {
        error = e["message"].toString();
        errorPath = e["path"].toString();
        status = "failed";
    } else if (event == "state" || e.contains("state")) {
        // Run control acknowledgements ("paused" / "running") from the child.
        const QString st = e["state"].toString();
        if (st == "paused" || st == "running")
            status = st;
    }
    ++revision;
    return event;
}

void RunData::workerCurves(std::vector<double>& t, std::vector<double>& overhead,
                           std::vector<double>& utilization) const
{
    t.clear();
    overhead.clear();
    utilization.clear();
    int workers = 0;
    for (int r = 0; r < rankCount(); ++r)
        workers += isWorker(r);
    if (workers == 0 || m_now <= 0)
        return;
    int bins = std::min(TimeBins::kBins, int(std::ceil(m_now / m_binWidth)));
    if (!hasSummary)
        bins -= 2;
    double c = 0, m = 0;
    for (int i = 0; i < bins; ++i) {
        const double end = std::min((i + 1) * m_binWidth, m_now);
        for (int r = 0; r < rankCount(); ++r)
            if (isWorker(r)) {
                c += m_computeBins[std::size_t(r)].at(i);
                m += m_commBins[std::size_t(r)].at(i);
            }
        if (end <= 0)
            continue;
        t.push_back(end);
        overhead.push_back(std::min(1.0, m / (workers * end)));
        utilization.push_back(std::min(1.0, c / (workers * end)));
    }
}

std::pair<double, double> RunData::hostActivity(int rank, double t0) const
{
    if (rank >= rankCount() || !(m_now > t0))
        return {0, 0};
    const double d = m_now - t0;
    return {coveredIn(m_compute[std::size_t(rank)], t0, m_now) / d, coveredIn(m_comm[std::size_t(rank)], t0, m_now) / d};
}

std::pair<double, double> RunData::meanBinActivity(const std::vector<int>& ranks, int bin) const
{
    double c = 0, m = 0;
    int n = 0;
    for (int r : ranks) { // a rank with no activity reported yet counts as idle
        if (r >= 0 && r < rankCount()) {
            c += m_computeBins[std::size_t(r)].at(bin);
            m += m_commBins[std::size_t(r)].at(bin);
        }
        ++n;
    }
    if (n == 0 || m_binWidth <= 0)
        return {0, 0};
    return {std::min(1.0, c / (n * m_binWidth)), std::min(1.0, m / (n * m_binWidth))};
}

double RunData::linkUtilization(const QString& link, double t0) const
{
    const auto it = m_links.find(link);
    if (it == m_links.end() || it->second.bandwidth <= 0 || !(m_now > t0))
        return 0;
    const double d = m_now - t0;
    const double a = binsSum(it->second.dir[0], m_binWidth, t0, m_now), b = binsSum(it->second.dir[1], m_binWidth, t0, m_now);
    const double bytes = it->second.shared ? a + b : std::max(a, b);
    return std::min(1.0, bytes / (it->second.bandwidth * d));
}

} // namespace dml::ui
