// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// What the workbench knows about one run, live (fed from `dmlsim run --stream` events) or loaded from the store:
// samples, per-host activity as interval sets and time bins, link traffic, the platform graph.
#include "metrics.h"

#include <QJsonObject>
#include <QString>
#include <deque>

#include <map>
#include <memory>
#include <utility>
#include <vector>

namespace dml::ui {

/// Disjoint half-open intervals [start, end) of simulated time (s), merged on insertion.
class IntervalSet {
public:
    /// Adds [s, e); calls onAdded(a, b) for every piece that was not covered before.
    template <class F>
    void insert(double s, double e, F&& onAdded);
    const std::map<double, double>& intervals() const { return m_set; }
    double total() const { return m_total; } ///< covered length, s

private:
    std::map<double, double> m_set; // start -> end
    double m_total = 0;
};

/// Per-bin accumulators over simulated time: kBins bins of equal width; the width doubles (pairs of bins merge)
/// whenever an activity ends beyond the last bin, so any run length fits.
class TimeBins {
public:
    static constexpr int kBins = 200;
    TimeBins() : m_v(kBins, 0.0) {}
    /// Adds `rate` x (overlap of [s, e) with each bin). E.g. rate 1 accumulates busy seconds, bytes/s gives bytes.
    void add(double s, double e, double rate, double width);
    void doubleWidth();
    double at(int i) const { return m_v[std::size_t(i)]; }

private:
    std::vector<double> m_v;
};

struct HostInfo {
    QString name;
    QString role; ///< "worker", "server", "client"
};

/// A run's name as shown: a job of a scenario with several jobs (stored as "SCENARIO / JOB") shows its job first,
/// "JOB (SCENARIO)", so that a short label (a legend, a table cell) still tells the jobs apart.
QString displayName(const QString& stored);

class RunData {
public:
    long long id = 0;          ///< store id, 0 until the run started
    QString name;              ///< scenario name
    QString status;            ///< "starting", "running", "paused", "finished", "failed"
    QString error;             ///< failed runs: what went wrong
    QString errorPath;         ///< scenario errors: the JSON path at fault
    bool live = false;         ///< fed by a child process of this workbench
    std::vector<Sample> samples;
    std::vector<HostInfo> hosts; ///< by rank (from the platform graph or the final host statistics)
    std::vector<HostStats> hostStats; ///< final, empty until the run ends
    std::vector<LinkStats> linkStats; ///< final traffic per SimGrid link (busiest first), empty until the run ends
    std::map<QString, std::vector<std::pair<double, double>>> series;
    /// Training samples per class (columns) held by each worker or client (rows), from the partitioning.
    std::vector<std::vector<int>> labelHistogram;
    Summary summary;
    bool hasSummary = false;
    int revision = 0; ///< bumped on every change; views redraw when it moved

    QString label() const; ///< "#12 name"

    /// Applies one stream event (README.md, "Stream protocol"). Returns its "event" name.
    QString applyEvent(const QJsonObject& e);
    void addSpans(const std::vector<Span>& spans);
    /// The platform graph of `dmlsim platform --json` (nodes with kind host/link, edges source/target).
    void setPlatform(const QJsonObject& graph);
    const QJsonObject& platform() const { return m_platform; }

    /// Latest simulated time seen (end of the last span or sample), s.
    double now() const { return m_now; }
    double binWidth() const { return m_binWidth; }
    int rankCount() const { return int(m_compute.size()); }
    const IntervalSet& computeOf(int rank) const { return m_compute[std::size_t(rank)]; }
    const IntervalSet& communicationOf(int rank) const { return m_comm[std::size_t(rank)]; }
    bool isWorker(int rank) const; ///< role worker or client (what the summary's overhead and utilization count)

    /// Workers' (clients') communication overhead and utilization from the start to the end of each time bin
    /// (cumulative, so the last point is the run's summary figure): (bin end s, fraction). While the run is live,
    /// the last two bins are left out: activities still in flight there are reported only when they end.
    void workerCurves(std::vector<double>& t, std::vector<double>& overhead, std::vector<double>& utilization) const;
    /// Fractions of [t0, now) a host spent computing and communicating.
    std::pair<double, double> hostActivity(int rank, double t0) const;
    /// Mean shares of time bin `bin` (0 <= bin < TimeBins::kBins, each binWidth() s long) that `ranks` spent computing
    /// and communicating: the timeline's summary rows for large host sets. A rank with no activity reported yet counts
    /// as idle. (0, 0) for an empty set.
    std::pair<double, double> meanBinActivity(const std::vector<int>& ranks, int bin) const;
    /// Utilization of a link (platform node id) over [t0, now): bytes / (bandwidth x duration), the busier
    /// direction of a full-duplex link. 0 when unknown.
    double linkUtilization(const QString& link, double t0) const;

    /// One link's load for the workbench's link table.
    struct LinkLoad {
        QString name;           ///< SimGrid's link name (final) or the platform graph's link id (live)
        double bandwidth = 0;   ///< nominal, bytes/s
        double bytes = 0;       ///< payload bytes that crossed it so far
        double utilization = 0; ///< bytes / (bandwidth x elapsed simulated time), in [0, 1]
    };
    /// The links by load, busiest first: the run's final link statistics once it has ended, otherwise estimated
    /// live from the messages reported so far, routed over the platform graph. Links that carried nothing are left
    /// out.
    std::vector<LinkLoad> linkLoads() const;
    /// One message that has arrived: from rank, to rank, its transfer's start and end (simulated s), bytes.
    struct Transfer {
        int from = -1, to = -1;
        double start = 0, end = 0, bytes = 0;
    };
    /// The most recent messages (at most kRecentTransfers, oldest first), in the order they were reported. The
    /// topology view draws them travelling along their routes at slow paces.
    static constexpr std::size_t kRecentTransfers = 4096;
    const std::deque<Transfer>& recentTransfers() const { return m_recent; }
    /// The links a message from `from` to `to` crosses, in order (platform graph link ids; each with the direction
    /// it is crossed, 0 or 1). Empty when the platform graph is unknown or the ranks are not on it.
    const std::vector<std::pair<QString, int>>& route(int from, int to) const;
private:
    void ensureRank(int rank);
    void fitTime(double t);
    void routeSend(const Span& s);

    QJsonObject m_platform;
    double m_now = 0;
    double m_binWidth = 1e-3;
    std::vector<IntervalSet> m_compute, m_comm;
    std::vector<TimeBins> m_computeBins, m_commBins;
    struct LinkTraffic {
        double bandwidth = 0; // bytes/s
        bool shared = false;  // both directions share the bandwidth
        TimeBins dir[2];
    };
    std::map<QString, LinkTraffic> m_links;
    std::map<QString, std::vector<QString>> m_adjacent;
    mutable std::map<std::pair<int, int>, std::vector<std::pair<QString, int>>> m_routes; // (link id, direction)
    std::deque<Transfer> m_recent;
    std::vector<Span> m_pendingSends; // sends seen before the platform graph arrived
};

using RunDataPtr = std::shared_ptr<RunData>;

template <class F>
void IntervalSet::insert(double s, double e, F&& onAdded)
{
    if (!(e > s))
        return;
    auto it = m_set.upper_bound(s);
    if (it != m_set.begin()) {
        auto prev = std::prev(it);
        if (prev->second >= s)
            it = prev;
    }
    double cur = s, ns = s, ne = e;
    while (it != m_set.end() && it->first <= e) {
        if (it->first > cur) {
            onAdded(cur, it->first);
            m_total += it->first - cur;
        }
        cur = std::max(cur, it->second);
        ns = std::min(ns, it->first);
        ne = std::max(ne, it->second);
        it = m_set.erase(it);
    }
    if (e > cur) {
        onAdded(cur, e);
        m_total += e - cur;
    }
    m_set.emplace(ns, ne);
}

} // namespace dml::ui
