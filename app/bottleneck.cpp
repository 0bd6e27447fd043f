// SPDX-License-Identifier: GPL-3.0-or-later
#include "bottleneck.h"

#include "runstore.h"

#include <algorithm>
#include <cstdio>

namespace dml::app {
namespace {

bool endsWith(const std::string& s, const std::string& tail)
{
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

std::string percent(double load)
{
    char b[32];
    std::snprintf(b, sizeof b, "%.1f %%", 100 * load);
    return b;
}

std::vector<std::string> names(const std::vector<HostStats>& hosts)
{
    std::vector<std::string> out;
    for (const HostStats& h : hosts)
        out.push_back(h.name);
    return out;
}

} // namespace

LinkClass classifyLink(const std::string& link, const std::vector<std::string>& hostNames)
{
    for (const std::string& h : hostNames)
        if (link.size() > h.size() && link.compare(0, h.size(), h) == 0) {
            const std::string rest = link.substr(h.size());
            if (rest == "_link" || rest == "_link_UP" || rest == "_link_DOWN" || rest == "_cell_UP" ||
                rest == "_cell_DOWN")
                return {"host link", false};
        }
    if (link == "backbone")
        return {"backbone", true};
    if (endsWith(link, "-wan_UP") || endsWith(link, "-wan_DOWN") || endsWith(link, "-wan"))
        return {"WAN", true};
    if (endsWith(link, "-lan_UP") || endsWith(link, "-lan_DOWN") || endsWith(link, "-lan"))
        return {"site uplink", true};
    if (endsWith(link, "-wifi"))
        return {"Wi-Fi cell", true};
    return {"network link", true};
}

std::string Bottleneck::text() const
{
    switch (kind) {
    case Kind::None: return "none";
    case Kind::Link: return "link " + name + " (" + what + (shared ? ", shared" : "") + ") " + percent(load);
    case Kind::Host: return "host " + name + " (" + what + ", compute) " + percent(load);
    }
    return "none";
}

Bottleneck findBottleneck(const std::vector<HostStats>& hosts, const std::vector<LinkStats>& links)
{
    Bottleneck b;
    const std::vector<std::string> hostNames = names(hosts);
    // Links: highest utilization; ties go to the one with most bytes, then by name (deterministic).
    const LinkStats* link = nullptr;
    for (const LinkStats& l : links)
        if (!link || l.utilization > link->utilization ||
            (l.utilization == link->utilization &&
             (l.bytes > link->bytes || (l.bytes == link->bytes && l.name < link->name))))
            link = &l;
    const HostStats* host = nullptr;
    double hostLoad = 0;
    for (const HostStats& h : hosts) {
        if (!(h.elapsed > 0))
            continue;
        const double load = h.compute / h.elapsed;
        if (!host || load > hostLoad) {
            host = &h;
            hostLoad = load;
        }
    }
    if (link && (!host || link->utilization >= hostLoad) && (link->utilization > 0 || !host)) {
        const LinkClass c = classifyLink(link->name, hostNames);
        b.kind = Bottleneck::Kind::Link;
        b.name = link->name;
        b.what = c.kind;
        b.shared = c.shared;
        b.load = link->utilization;
    } else if (host) {
        b.kind = Bottleneck::Kind::Host;
        b.name = host->name;
        b.what = host->role;
        b.load = hostLoad;
    }
    return b;
}

std::vector<LinkStats> saturatedSharedLinks(const std::vector<HostStats>& hosts, const std::vector<LinkStats>& links,
                                            double threshold)
{
    const std::vector<std::string> hostNames = names(hosts);
    std::vector<LinkStats> out;
    for (const LinkStats& l : links)
        if (l.utilization > threshold && classifyLink(l.name, hostNames).shared)
            out.push_back(l);
    std::stable_sort(out.begin(), out.end(),
                     [](const LinkStats& a, const LinkStats& b) { return a.utilization > b.utilization; });
    return out;
}

std::string saturationWarning(const LinkStats& link, const std::vector<HostStats>& hosts)
{
    return "shared link " + link.name + " (" + classifyLink(link.name, names(hosts)).kind + ") at " +
           percent(link.utilization) + " load, above " + percent(kSaturatedLoad) +
           ": it limits the run whatever the hosts' own links";
}

Bottleneck storedBottleneck(RunStore& store, long long runId)
{
    return findBottleneck(store.hostStats(runId), store.linkStats(runId));
}

} // namespace dml::app
