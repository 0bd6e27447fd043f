// SPDX-License-Identifier: GPL-3.0-or-later
#include "platform_impl.h"

#include "error.h"
#include "rng.h"

#include <simgrid/Exception.hpp>
#include <simgrid/kernel/ProfileBuilder.hpp>
#include <simgrid/kernel/Timer.hpp>
#include <simgrid/s4u/Engine.hpp>
#include <simgrid/s4u/Link.hpp>
#include <simgrid/s4u/NetZone.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <cstdio>
#include <map>
#include <numeric>
#include <set>
#include <sstream>
#include <stdexcept>

namespace sg4 = simgrid::s4u;
using LinkDir = sg4::LinkInRoute::Direction;

namespace dml::sim {

const char* toString(NetworkModel m)
{
    switch (m) {
    case NetworkModel::Ideal: return "ideal";
    case NetworkModel::Tcp: return "tcp";
    case NetworkModel::Smpi: return "smpi";
    }
    return "?";
}

const char* toString(Topology t)
{
    switch (t) {
    case Topology::Star: return "star";
    case Topology::FatTree: return "fat-tree";
    case Topology::Torus: return "torus";
    case Topology::Dragonfly: return "dragonfly";
    case Topology::Edge: return "edge";
    case Topology::Xml: return "xml";
    }
    return "?";
}

bool globMatch(const std::string& pattern, const std::string& name)
{
    // Iterative wildcard matching with one backtrack point (linear in practice).
    std::size_t p = 0, n = 0, star = std::string::npos, mark = 0;
    while (n < name.size()) {
        if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
            ++p;
            ++n;
        } else if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            mark = n;
        } else if (star != std::string::npos) {
            p = star + 1;
            n = ++mark;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*')
        ++p;
    return p == pattern.size();
}

namespace {

const char* kParams = "platform.topology_parameters";

/// "2;32,32;1,32;1,1" -> {{2}, {32, 32}, {1, 32}, {1, 1}}; every number an integer >= 1.
std::vector<std::vector<unsigned>> parseGroups(const std::string& text, const std::string& expected)
{
    std::vector<std::vector<unsigned>> groups;
    std::stringstream all(text);
    std::string group;
    while (std::getline(all, group, ';')) {
        std::vector<unsigned> numbers;
        std::stringstream gs(group);
        std::string item;
        while (std::getline(gs, item, ',')) {
            char* end = nullptr;
            const long v = std::strtol(item.c_str(), &end, 10);
            if (item.empty() || *end != 0 || v < 1 || v > 1000000)
                throw ConfigError(kParams, "expected " + expected + ", with integers >= 1; got \"" + text + "\"");
            numbers.push_back(unsigned(v));
        }
        if (numbers.empty())
            throw ConfigError(kParams, "expected " + expected + "; got \"" + text + "\" (an empty group)");
        groups.push_back(std::move(numbers));
    }
    if (groups.empty())
        throw ConfigError(kParams, "missing; expected " + expected);
    return groups;
}

const char* kFatTreeSyntax = "\"levels;down;up;count\" such as \"2;4,4;1,2;1,2\" (SimGrid's fat-tree topo_parameters)";
const char* kTorusSyntax = "dimensions such as \"16,8,8\"";
const char* kDragonflySyntax =
    "\"groups,links;chassis,links;routers,links;nodes\" such as \"4,2;4,2;8,1;8\" (SimGrid's dragonfly topo_parameters)";

sg4::FatTreeParams fatTreeParams(const std::string& text)
{
    const auto g = parseGroups(text, kFatTreeSyntax);
    if (g.size() != 4 || g[0].size() != 1)
        throw ConfigError(kParams, std::string("expected ") + kFatTreeSyntax + "; got \"" + text + "\"");
    const unsigned levels = g[0][0];
    for (std::size_t i = 1; i < 4; ++i)
        if (g[i].size() != levels)
            throw ConfigError(kParams, "a fat-tree of " + std::to_string(levels) + " levels needs " +
                                           std::to_string(levels) + " numbers in each of down, up and count; got \"" +
                                           text + "\"");
    return sg4::FatTreeParams(levels, g[1], g[2], g[3]);
}

std::vector<unsigned long> torusDims(const std::string& text)
{
    const auto g = parseGroups(text, kTorusSyntax);
    if (g.size() != 1)
        throw ConfigError(kParams, std::string("expected ") + kTorusSyntax + "; got \"" + text + "\"");
    // SimGrid 3.32 names a dimension's wrap-around link after its two ends; in a dimension of size 1 both ends are
    // the host itself, so a second such dimension declares the same link again and SimGrid aborts (TorusZone.cpp,
    // create_torus_links). Measured: every shape with two 1s aborts, every other one builds and routes.
    if (std::count(g[0].begin(), g[0].end(), 1u) > 1)
        throw ConfigError(kParams, "\"" + text + "\": at most one dimension of size 1 (SimGrid 3.32 aborts on two: "
                                   "their wrap-around links get the same name); leave the 1s out");
    return {g[0].begin(), g[0].end()};
}

sg4::DragonflyParams dragonflyParams(const std::string& text)
{
    const auto g = parseGroups(text, kDragonflySyntax);
    if (g.size() != 4 || g[0].size() != 2 || g[1].size() != 2 || g[2].size() != 2 || g[3].size() != 1)
        throw ConfigError(kParams, std::string("expected ") + kDragonflySyntax + "; got \"" + text + "\"");
    // SimGrid 3.32's DragonflyZone joins group i to group j through router j of group i's first chassis
    // (generate_links: routers_[i * chassis * routers + j]) and routes towards group j over the green link to
    // router j of the source's chassis (get_local_route: green_links_[target group], a vector of one entry per
    // router of the chassis). With fewer routers per chassis than groups both index past their vectors: the
    // zone corrupts memory as it is built and crashes on the first route ("8,1;1,1;1,1;8", issue 18). Measured
    // on every shape up to 5 groups, 3 chassis, 6 routers, 2 nodes: exactly these crash.
    const unsigned groups = g[0][0], routers = g[2][0];
    if (groups > 1 && routers < groups)
        throw ConfigError(kParams, "\"" + text + "\": a dragonfly of " + std::to_string(groups) +
                                       " groups needs at least " + std::to_string(groups) +
                                       " routers per chassis (the third part's first number, here " +
                                       std::to_string(routers) +
                                       "): SimGrid 3.32 reaches group j through router j of a chassis "
                                       "and crashes without it");
    return sg4::DragonflyParams({g[0][0], g[0][1]}, {g[1][0], g[1][1]}, {g[2][0], g[2][1]}, g[3][0]);
}

} // namespace

double deviceBandwidth(const PlatformSpec& p, int device, double fallback)
{
    const BandwidthSpec& b = p.deviceBandwidth;
    if (!b.list.empty())
        return b.list[std::size_t(device) % b.list.size()];
    if (b.max > 0) {
        Rng rng(deriveSeed(p.seed, 0xBA4D, std::uint64_t(device)));
        return b.min + (b.max - b.min) * rng.uniform();
    }
    return fallback;
}

namespace {

bool isServer(const std::string& role)
{
    return role == "server";
}

/// HierFAVG's edge servers: on the edge platform they run on the sites' edge hosts.
bool isEdgeServer(const std::string& role)
{
    return role == "edge-server";
}

} // namespace

bool isAggregator(const std::string& role)
{
    return isServer(role) || isEdgeServer(role);
}

namespace {

/// Indices (among the non-server ranks) of the stragglers: a seeded choice of round(fraction x n).
std::vector<int> stragglerIndices(const PlatformSpec& p, int n)
{
    const int count = int(std::lround(p.stragglers.fraction * n));
    if (count <= 0 || p.stragglers.factor <= 1)
        return {};
    std::vector<int> all(std::size_t(n), 0);
    std::iota(all.begin(), all.end(), 0);
    Rng rng(deriveSeed(p.seed, 0x57A6));
    for (int i = 0; i < count; ++i)
        std::swap(all[std::size_t(i)], all[std::size_t(i) + rng.below(std::uint64_t(n - i))]);
    all.resize(std::size_t(count));
    std::sort(all.begin(), all.end());
    return all;
}

/// Nominal speed of every rank's host: servers serverSpeed; the others (index i among them) list[i % size], a
/// seeded uniform draw in [min, max], or workerSpeed.
std::vector<double> rankSpeeds(const PlatformSpec& p, const std::vector<std::string>& roles)
{
    std::vector<double> speeds;
    int i = 0;
    for (const auto& role : roles) {
        if (isAggregator(role)) {
            speeds.push_back(isEdgeServer(role) && p.topology == Topology::Edge ? p.edge.edgeServerSpeed
                                                                                : p.serverSpeed);
            continue;
        }
        double s = p.workerSpeed;
        if (!p.capacity.empty()) {
            if (!(p.capacity.referenceFlops > 0))
                throw std::logic_error("rankSpeeds: the capacity trace's reference flops were not resolved");
            s = p.capacity.referenceFlops * 1000.0 / p.capacity.msPerSample[std::size_t(i) % p.capacity.msPerSample.size()];
        } else if (!p.speeds.list.empty()) {
            s = p.speeds.list[std::size_t(i) % p.speeds.list.size()];
        } else if (p.speeds.max > 0) {
            Rng rng(deriveSeed(p.seed, 0x5BEED, std::uint64_t(i)));
            s = p.speeds.min + (p.speeds.max - p.speeds.min) * rng.uniform();
        }
        speeds.push_back(s);
        ++i;
    }
    return speeds;
}

/// Bandwidth of every rank's private star link: the servers' link_bandwidth, device i's deviceBandwidth.
std::vector<double> rankLinkBandwidths(const PlatformSpec& p, const std::vector<std::string>& roles)
{
    std::vector<double> out;
    int i = 0;
    for (const auto& role : roles)
        out.push_back(isAggregator(role) ? p.linkBandwidth : deviceBandwidth(p, i++, p.linkBandwidth));
    return out;
}

std::vector<sg4::Host*> buildStarWith(const PlatformSpec& spec, const std::vector<std::string>& names,
                                      const std::vector<double>& speeds, const std::vector<double>& bandwidths,
                                      const LinkHook& hook)
{
    auto* zone = sg4::create_star_zone("cluster");
    sg4::Link* backbone = zone->create_link("backbone", spec.backboneBandwidth)
                              ->set_latency(spec.backboneLatency)
                              ->set_sharing_policy(sg4::Link::SharingPolicy::SHARED);
    if (hook)
        hook(backbone);
    backbone->seal();
    std::vector<sg4::Host*> hosts;
    for (std::size_t r = 0; r < names.size(); ++r) {
        sg4::Host* host = zone->create_host(names[r], speeds[r])->seal();
        sg4::SplitDuplexLink* link = duplexLink(zone, names[r] + "_link", bandwidths[r], spec.linkLatency, hook);
        zone->add_route(host->get_netpoint(), nullptr, nullptr, nullptr,
                        {sg4::LinkInRoute(link, LinkDir::UP), sg4::LinkInRoute(backbone)}, true);
        hosts.push_back(host);
    }
    zone->seal();
    return hosts;
}

/// The switch inside a node on a fat-tree, torus or dragonfly leaf: a fat pipe that never limits (the accelerators'
/// links and the leaf's links do), bytes/s.
constexpr double kSwitchBandwidth = 1e15;

/// Fat-tree, torus or dragonfly: rank r on leaf r (with p.node, leaf i holds nodeLeaves()[i]); the leaves no rank
/// uses are hosts "node-<leaf>".
std::vector<sg4::Host*> buildCluster(const PlatformSpec& p, const std::vector<std::string>& names,
                                     const std::vector<std::string>& roles, const std::vector<double>& speeds)
{
    std::vector<sg4::Host*> hosts(names.size(), nullptr);
    // With multi-accelerator nodes, leaf i holds nodeLeaves()[i] as a zone "node-<i>" behind a switch link of its
    // own (the leaf's links are the node's interface); an aggregator's leaf too, as a node of one host (SimGrid
    // 3.32's torus finds no route between a host leaf and a zone leaf).
    const std::vector<NodeLeaf> leaves = p.node.enabled() ? nodeLeaves(p.node, roles) : std::vector<NodeLeaf>{};
    std::map<unsigned long, std::size_t> rankAt; // leaf -> rank, with an explicit placement (p.rankLeaf)
    for (std::size_t r = 0; r < p.rankLeaf.size() && r < names.size(); ++r)
        rankAt[(unsigned long)p.rankLeaf[r]] = r;
    auto leaf = [&](sg4::NetZone* zone, const std::vector<unsigned long>&, unsigned long id)
        -> std::pair<simgrid::kernel::routing::NetPoint*, simgrid::kernel::routing::NetPoint*> {
        if (id < leaves.size()) {
            sg4::Link* sw = zone->create_link("node-" + std::to_string(id) + "_switch", kSwitchBandwidth)
                                ->set_sharing_policy(sg4::Link::SharingPolicy::FATPIPE)
                                ->seal();
            return buildNode(zone, int(id), leaves[id], p.node, names, speeds, sw, hosts, {});
        }
        std::size_t r = id; // the rank on this leaf, if any
        if (!p.rankLeaf.empty()) {
            const auto it = rankAt.find(id);
            r = it == rankAt.end() ? names.size() : it->second;
        }
        const bool rank = !p.node.enabled() && r < names.size(); // else a leaf no rank uses
        sg4::Host* h = zone->create_host(rank ? names[r] : "node-" + std::to_string(id),
                                         rank ? speeds[r] : p.workerSpeed)
                           ->seal();
        if (rank)
            hosts[r] = h;
        return {h->get_netpoint(), nullptr};
    };
    const sg4::ClusterCallbacks callbacks(leaf);
    const auto sharing = sg4::Link::SharingPolicy::SPLITDUPLEX;
    sg4::NetZone* zone = nullptr;
    try {
        switch (p.topology) {
        case Topology::FatTree:
            zone = sg4::create_fatTree_zone("cluster", nullptr, fatTreeParams(p.topologyParameters), callbacks,
                                            p.linkBandwidth, p.linkLatency, sharing);
            break;
        case Topology::Torus:
            zone = sg4::create_torus_zone("cluster", nullptr, torusDims(p.topologyParameters), callbacks,
                                          p.linkBandwidth, p.linkLatency, sharing);
            break;
        case Topology::Dragonfly:
            zone = sg4::create_dragonfly_zone("cluster", nullptr, dragonflyParams(p.topologyParameters), callbacks,
                                              p.linkBandwidth, p.linkLatency, sharing);
            break;
        default: throw std::logic_error("buildCluster: not a cluster topology");
        }
    } catch (const std::invalid_argument& e) { // SimGrid's own parameter checks
        throw ConfigError(kParams, e.what());
    }
    zone->seal();
    return hosts;
}

/// The edge network of EdgeSpec. Zones: one per site's access network (wifi or cellular), one per edge server, one
/// for the cloud, all in a full root zone whose zone-to-zone routes carry the LAN and WAN links.
std::vector<sg4::Host*> buildEdge(const PlatformSpec& p, const std::vector<std::string>& names,
                                  const std::vector<std::string>& roles, const std::vector<double>& speeds,
                                  const LinkHook& hook)
{
    auto sealed = [&](sg4::Link* l) {
        if (hook)
            hook(l);
        return l->seal();
    };
    const EdgeSpec& e = p.edge;
    auto* root = sg4::create_full_zone("edge-network");
    std::vector<sg4::Host*> hosts(names.size(), nullptr);
    int server = -1;
    std::vector<std::vector<int>> siteRanks(std::size_t(e.sites)); // device slot -> rank (or -1)
    for (auto& v : siteRanks)
        v.assign(std::size_t(e.devicesPerSite), -1);
    std::vector<int> edgeRank(std::size_t(e.sites), -1); // site -> the rank of its edge server (HierFAVG), or -1
    int device = 0, edges = 0;
    for (std::size_t r = 0; r < roles.size(); ++r) {
        if (isServer(roles[r])) {
            server = int(r);
            continue;
        }
        if (isEdgeServer(roles[r])) {
            edgeRank[std::size_t(edges++)] = int(r); // checkPlatform: at most one per site
            continue;
        }
        siteRanks[std::size_t(device % e.sites)][std::size_t(device / e.sites)] = int(r);
        ++device;
    }
    const bool serverOnEdge = e.serverAt == "edge";

    // The cloud.
    auto* cloudZone = sg4::create_full_zone("cloud");
    cloudZone->set_parent(root);
    const std::string cloudName = server >= 0 && !serverOnEdge ? names[std::size_t(server)] : "cloud";
    sg4::Host* cloud = cloudZone->create_host(cloudName, p.serverSpeed)->seal();
    if (server >= 0 && !serverOnEdge)
        hosts[std::size_t(server)] = cloud;
    cloudZone->seal();

    struct Site {
        sg4::NetZone* access = nullptr;
        simgrid::kernel::routing::NetPoint* gateway = nullptr;
        sg4::NetZone* edgeZone = nullptr;
        sg4::Host* edgeServer = nullptr;
        sg4::Link* lan = nullptr;
        sg4::Link* wan = nullptr;
    };
    std::vector<Site> sites(std::size_t(e.sites));
    for (int s = 0; s < e.sites; ++s) {
        Site& site = sites[std::size_t(s)];
        const std::string prefix = "site" + std::to_string(s);
        // Edge server.
        site.edgeZone = sg4::create_full_zone(prefix + "-edge");
        site.edgeZone->set_parent(root);
        const bool hostsServer = serverOnEdge && s == 0 && server >= 0;
        const int edgeServer = edgeRank[std::size_t(s)];
        site.edgeServer = site.edgeZone
                              ->create_host(hostsServer       ? names[std::size_t(server)]
                                            : edgeServer >= 0 ? names[std::size_t(edgeServer)]
                                                              : "edge-" + std::to_string(s),
                                            hostsServer ? p.serverSpeed : e.edgeServerSpeed)
                              ->seal();
        if (hostsServer)
            hosts[std::size_t(server)] = site.edgeServer;
        if (edgeServer >= 0) // with the server on site 0's edge host, both ranks share it
            hosts[std::size_t(edgeServer)] = site.edgeServer;
        site.edgeZone->seal();

        // Devices.
        auto deviceName = [&](int j) {
            const int r = siteRanks[std::size_t(s)][std::size_t(j)];
            return r >= 0 ? names[std::size_t(r)] : "device-" + std::to_string(s) + "-" + std::to_string(j);
        };
        auto deviceSpeed = [&](int j) {
            const int r = siteRanks[std::size_t(s)][std::size_t(j)];
            return r >= 0 ? speeds[std::size_t(r)] : p.workerSpeed;
        };
        // The device index of slot j (rank order among the devices: slot j of site s is device j x sites + s).
        auto deviceIndex = [&](int j) { return j * e.sites + s; };
        if (e.access == EdgeSpec::Access::Wifi) {
            site.access = sg4::create_wifi_zone(prefix + "-wifi");
            site.access->set_parent(root);
            site.access->set_property("access_point", prefix + "-ap");
            site.gateway = site.access->create_router(prefix + "-ap");
            // A wifi zone's create_link makes its (single) wifi link; its latency cannot be set.
            // Rate levels: the scenario's wifi_rates, or with per-device bandwidths one level per device.
            std::vector<double> levels = e.wifiRates;
            if (!p.deviceBandwidth.empty()) {
                levels.clear();
                for (int j = 0; j < e.devicesPerSite; ++j)
                    levels.push_back(deviceBandwidth(p, deviceIndex(j), 0));
            }
            sg4::Link* air = sealed(site.access->create_link(prefix + "-wifi", levels));
            for (int j = 0; j < e.devicesPerSite; ++j) {
                sg4::Host* h = site.access->create_host(deviceName(j), deviceSpeed(j))->seal();
                air->set_host_wifi_rate(h, p.deviceBandwidth.empty()
                                               ? int(std::size_t(s * e.devicesPerSite + j) % e.wifiRates.size())
                                               : j);
                const int r = siteRanks[std::size_t(s)][std::size_t(j)];
                if (r >= 0)
                    hosts[std::size_t(r)] = h;
            }
        } else {
            site.access = sg4::create_star_zone(prefix + "-cell");
            site.access->set_parent(root);
            site.gateway = site.access->create_router(prefix + "-bs");
            sg4::Link* bs = site.access->create_link(prefix + "-bs_link", 1e12)->set_latency(0)->seal();
            site.access->add_route(site.gateway, nullptr, nullptr, nullptr, {sg4::LinkInRoute(bs)}, true);
            for (int j = 0; j < e.devicesPerSite; ++j) {
                const std::string name = deviceName(j);
                sg4::Host* h = site.access->create_host(name, deviceSpeed(j))->seal();
                sg4::SplitDuplexLink* l = site.access->create_split_duplex_link(
                    name + "_cell", deviceBandwidth(p, deviceIndex(j), e.cellularBandwidth));
                sealed(l->set_latency(e.cellularLatency));
                site.access->add_route(h->get_netpoint(), nullptr, nullptr, nullptr, {sg4::LinkInRoute(l, LinkDir::UP)},
                                       true);
                const int r = siteRanks[std::size_t(s)][std::size_t(j)];
                if (r >= 0)
                    hosts[std::size_t(r)] = h;
            }
        }
        site.access->seal();
        auto* lan = root->create_split_duplex_link(prefix + "-lan", e.lanBandwidth);
        sealed(lan->set_latency(e.lanLatency));
        auto* wan = root->create_split_duplex_link(prefix + "-wan", e.wanBandwidth);
        sealed(wan->set_latency(e.wanLatency));
        site.lan = lan;
        site.wan = wan;
    }

    // Zone-to-zone routes ("up" = towards the cloud).
    using R = std::vector<sg4::LinkInRoute>;
    auto up = [](sg4::Link* l) { return sg4::LinkInRoute(l, LinkDir::UP); };
    auto down = [](sg4::Link* l) { return sg4::LinkInRoute(l, LinkDir::DOWN); };
    for (int s = 0; s < e.sites; ++s) {
        const Site& a = sites[std::size_t(s)];
        root->add_route(a.access->get_netpoint(), a.edgeZone->get_netpoint(), a.gateway, a.edgeServer->get_netpoint(),
                        R{up(a.lan)}, true);
        root->add_route(a.access->get_netpoint(), cloudZone->get_netpoint(), a.gateway, cloud->get_netpoint(),
                        R{up(a.lan), up(a.wan)}, true);
        root->add_route(a.edgeZone->get_netpoint(), cloudZone->get_netpoint(), a.edgeServer->get_netpoint(),
                        cloud->get_netpoint(), R{up(a.wan)}, true);
        for (int t = 0; t < e.sites; ++t) {
            if (t == s)
                continue;
            const Site& b = sites[std::size_t(t)];
            root->add_route(a.access->get_netpoint(), b.edgeZone->get_netpoint(), a.gateway,
                            b.edgeServer->get_netpoint(), R{up(a.lan), up(a.wan), down(b.wan)}, false);
            if (t > s) {
                root->add_route(a.access->get_netpoint(), b.access->get_netpoint(), a.gateway, b.gateway,
                                R{up(a.lan), up(a.wan), down(b.wan), down(b.lan)}, true);
                root->add_route(a.edgeZone->get_netpoint(), b.edgeZone->get_netpoint(), a.edgeServer->get_netpoint(),
                                b.edgeServer->get_netpoint(), R{up(a.wan), down(b.wan)}, true);
            }
        }
    }
    // Reverse of access(s) -> edge(t): edge(t) -> access(s).
    for (int s = 0; s < e.sites; ++s)
        for (int t = 0; t < e.sites; ++t)
            if (t != s) {
                const Site& a = sites[std::size_t(s)];
                const Site& b = sites[std::size_t(t)];
                root->add_route(b.edgeZone->get_netpoint(), a.access->get_netpoint(), b.edgeServer->get_netpoint(),
                                a.gateway, R{up(b.wan), down(a.wan), down(a.lan)}, false);
            }
    root->seal();
    return hosts;
}

/// Natural order: digit runs compare as numbers ("node-2" < "node-10").
bool naturalLess(const std::string& a, const std::string& b)
{
    std::size_t i = 0, j = 0;
    while (i < a.size() && j < b.size()) {
        if (std::isdigit((unsigned char)a[i]) && std::isdigit((unsigned char)b[j])) {
            std::size_t i2 = i, j2 = j;
            while (i2 < a.size() && std::isdigit((unsigned char)a[i2]))
                ++i2;
            while (j2 < b.size() && std::isdigit((unsigned char)b[j2]))
                ++j2;
            const std::string x = a.substr(i, i2 - i), y = b.substr(j, j2 - j);
            const std::string xs = x.substr(std::min(x.find_first_not_of('0'), x.size()));
            const std::string ys = y.substr(std::min(y.find_first_not_of('0'), y.size()));
            if (xs.size() != ys.size())
                return xs.size() < ys.size();
            if (xs != ys)
                return xs < ys;
            i = i2;
            j = j2;
        } else {
            if (a[i] != b[j])
                return a[i] < b[j];
            ++i;
            ++j;
        }
    }
    return a.size() - i < b.size() - j;
}

} // namespace

std::vector<std::string> mapRolesToHosts(const XmlSpec& xml, const std::vector<std::string>& roles,
                                         const std::vector<std::string>& hostNames)
{
    std::vector<std::string> sorted = hostNames;
    std::sort(sorted.begin(), sorted.end(), naturalLess);
    std::set<std::string> used;
    std::map<std::string, std::vector<std::string>> candidates;
    std::map<std::string, int> needed;
    for (const auto& role : roles)
        ++needed[role];
    for (const auto& [role, count] : needed) {
        const std::string& name = role; // clang 14 cannot capture a structured binding
        const auto it = std::find_if(xml.roles.begin(), xml.roles.end(), [&](const auto& m) { return m.first == name; });
        if (it == xml.roles.end())
            throw ConfigError("platform.xml.roles", "no hosts given for role \"" + role + "\" (the strategy has " +
                                                        std::to_string(count) + ")");
    }
    std::vector<std::string> out(roles.size());
    std::map<std::string, std::size_t> next;
    for (const auto& [role, patterns] : xml.roles) {
        if (!needed.count(role))
            continue;
        auto& list = candidates[role];
        for (const auto& h : sorted)
            for (const auto& pat : patterns)
                if (globMatch(pat, h)) {
                    list.push_back(h);
                    break;
                }
    }
    for (std::size_t r = 0; r < roles.size(); ++r) {
        auto& list = candidates[roles[r]];
        std::size_t& k = next[roles[r]];
        while (k < list.size() && used.count(list[k]))
            ++k;
        if (k >= list.size()) {
            std::string pats;
            for (const auto& m : xml.roles)
                if (m.first == roles[r])
                    for (const auto& p : m.second)
                        pats += (pats.empty() ? "\"" : ", \"") + p + "\"";
            throw ConfigError("platform.xml.roles." + roles[r],
                              pats + " match" + (list.empty() ? "es no host" : "es only " + std::to_string(list.size()) +
                                                                                  " free host(s)") +
                                  " of " + xml.file + "; the strategy needs " + std::to_string(needed[roles[r]]) +
                                  " for role \"" + roles[r] + "\"");
        }
        out[r] = list[k];
        used.insert(list[k]);
        ++k;
    }
    return out;
}

int clusterHostCount(Topology t, const std::string& parameters)
{
    // Saturating product (issue 18: "65536,65536,65536,65536" overflowed to 0 hosts): any count over the limit is
    // reported as such.
    constexpr long long kCap = 1LL << 40;
    long long n = 1;
    auto times = [&](unsigned long long d) { n = d != 0 && (unsigned long long)n > (unsigned long long)kCap / d ? kCap : n * (long long)d; };
    switch (t) {
    case Topology::FatTree: {
        const auto f = fatTreeParams(parameters);
        for (unsigned d : f.down)
            times(d);
        break;
    }
    case Topology::Torus:
        for (unsigned long d : torusDims(parameters))
            times(d);
        break;
    case Topology::Dragonfly: {
        const auto d = dragonflyParams(parameters);
        for (unsigned long long x : {(unsigned long long)d.groups.first, (unsigned long long)d.chassis.first,
                                     (unsigned long long)d.routers.first, (unsigned long long)d.nodes})
            times(x);
        break;
    }
    default: throw std::logic_error("clusterHostCount: not a cluster topology");
    }
    if (n > 1000000)
        throw ConfigError(kParams, "\"" + parameters + "\" has " + (n >= kCap ? std::string("more than 10^12") : std::to_string(n)) +
                                       " hosts; at most 1,000,000");
    return int(n);
}

void checkPlatform(const PlatformSpec& p, const std::vector<std::string>& roles)
{
    const int ranks = int(roles.size());
    const int servers = int(std::count_if(roles.begin(), roles.end(), isServer));
    const std::string need = std::to_string(ranks) + " (" + std::to_string(ranks - servers) + " workers" +
                             (servers ? " + " + std::to_string(servers) + " server" : std::string()) + ")";
    switch (p.topology) {
    case Topology::FatTree:
    case Topology::Torus:
    case Topology::Dragonfly: {
        const int n = clusterHostCount(p.topology, p.topologyParameters);
        if (p.node.enabled()) {
            const std::vector<NodeLeaf> leaves = nodeLeaves(p.node, roles);
            const long nodes = std::count_if(leaves.begin(), leaves.end(), [](const NodeLeaf& l) { return l.node; });
            if (n < int(leaves.size()))
                throw ConfigError(kParams, std::string("the ") + toString(p.topology) + " \"" + p.topologyParameters +
                                               "\" has " + std::to_string(n) + " hosts; the strategy needs " +
                                               std::to_string(leaves.size()) + " (" + std::to_string(nodes) +
                                               " nodes of " + std::to_string(p.node.gpus) + " accelerators" +
                                               (servers ? " + " + std::to_string(servers) + " server" : std::string()) +
                                               ")");
        } else if (n < ranks) {
            throw ConfigError(kParams, std::string("the ") + toString(p.topology) + " \"" + p.topologyParameters +
                                           "\" has " + std::to_string(n) + " hosts; the strategy needs " + need);
        }
        if (!p.rankLeaf.empty()) { // an explicit placement (several jobs' hosts; the scenario reader checked them)
            std::set<int> taken;
            if (p.rankLeaf.size() != roles.size() || p.node.enabled())
                throw ConfigError("jobs", "a placement of " + std::to_string(p.rankLeaf.size()) + " ranks for " +
                                              std::to_string(ranks) + (p.node.enabled() ? ", with platform.node" : ""));
            for (int leaf : p.rankLeaf)
                if (leaf < 0 || leaf >= n || !taken.insert(leaf).second)
                    throw ConfigError("jobs", "host " + std::to_string(leaf) + " is outside the " +
                                                  std::to_string(n) + " hosts of the " + toString(p.topology) +
                                                  " or taken twice");
        }
        break;
    }
    case Topology::Edge: {
        const long devices = long(p.edge.sites) * p.edge.devicesPerSite;
        const int edgeServers = int(std::count_if(roles.begin(), roles.end(), isEdgeServer));
        if (edgeServers > p.edge.sites)
            throw ConfigError("strategy.edge_servers", std::to_string(edgeServers) + " edge servers on " +
                                                           std::to_string(p.edge.sites) +
                                                           " sites; at most one per site (platform.edge.sites)");
        if (devices < ranks - servers - edgeServers)
            throw ConfigError("platform.edge.devices_per_site",
                              std::to_string(p.edge.sites) + " sites x " + std::to_string(p.edge.devicesPerSite) +
                                  " devices hold " + std::to_string(devices) + " workers/clients; the strategy needs " +
                                  std::to_string(ranks - servers - edgeServers));
        if (p.edge.access == EdgeSpec::Access::Wifi && p.edge.wifiRates.empty())
            throw ConfigError("platform.edge.wifi_rates", "expected at least one rate");
        break;
    }
    case Topology::Star:
    case Topology::Xml: break;
    }
    if (p.node.enabled()) {
        if (p.node.gpus > kMaxGpusPerNode)
            throw ConfigError("platform.node.gpus", "at most " + std::to_string(kMaxGpusPerNode) + ", got " +
                                                        std::to_string(p.node.gpus));
        if (p.topology == Topology::Edge || p.topology == Topology::Xml)
            throw ConfigError("platform.node", "only for the star, fat-tree, torus and dragonfly topologies (an "
                                               "XML platform describes its own nodes)");
        if (!p.deviceBandwidth.empty())
            throw ConfigError("platform.device_bandwidth",
                              "not with platform.node: the accelerators of a node share its network interface");
    }
    for (const ProfileSpec& prof : p.profiles)
        if (prof.target == ProfileSpec::Target::LinkBandwidth && p.topology != Topology::Star &&
            p.topology != Topology::Edge)
            throw ConfigError(prof.path + ".links",
                              std::string("bandwidth profiles apply to the star and edge platforms: SimGrid seals the "
                                          "links of a ") + toString(p.topology) +
                                  " as it builds them (in a platform XML, give the link a bandwidth_file instead)");
    auto tolerated = [&](const std::string& role) {
        return std::count(p.failureTolerantRoles.begin(), p.failureTolerantRoles.end(), role) > 0 ||
               std::count(roles.begin(), roles.end(), role) == 0;
    };
    const char* howToRecover = " would stall this strategy: set strategy.recovery (\"elastic\" or "
                               "\"checkpoint-restart\" where the strategy has it; README \"Failures\")";
    if (p.faults.random.enabled)
        for (const auto& role : p.faults.random.roles)
            if (!tolerated(role))
                throw ConfigError("faults.random.roles", "\"" + role + "\" hosts failing" + howToRecover);
    for (const FaultEvent& ev : p.faults.events)
        if (ev.type == FaultEvent::Type::Crash && !ev.role.empty() && !tolerated(ev.role))
            throw ConfigError(ev.path + ".role", "\"" + ev.role + "\" hosts crashing" + howToRecover);
    if (p.availability.model == AvailabilitySpec::Model::Random) {
        for (const auto& role : p.availability.roles) {
            if (std::count(p.failureTolerantRoles.begin(), p.failureTolerantRoles.end(), role) > 0)
                continue;
            if (std::count(roles.begin(), roles.end(), role) > 0)
                throw ConfigError("platform.availability.roles",
                                  "only federated averaging's clients (they drop out of a round), the "
                                  "asynchronous server's workers (they stop pushing) and, with strategy.recovery "
                                  "\"elastic\", sync-ps and ring-allreduce workers tolerate hosts going off; \"" +
                                      role + "\" hosts going off would stall this strategy");
        }
    }
}

void configureNetwork(const PlatformSpec& p)
{
    switch (p.network) {
    case NetworkModel::Ideal:
        // See ../shared/SIMGRID-NOTES.md: exact alpha-beta times need CM02, no cross-traffic and no TCP-gamma cap.
        sg4::Engine::set_config("network/model:CM02");
        sg4::Engine::set_config("network/crosstraffic:0");
        sg4::Engine::set_config("network/TCP-gamma:0");
        return;
    case NetworkModel::Tcp: sg4::Engine::set_config("network/model:LV08"); break;
    case NetworkModel::Smpi: sg4::Engine::set_config("network/model:SMPI"); break;
    }
    if (p.tcpWindow >= 0)
        sg4::Engine::set_config("network/TCP-gamma:" + std::to_string(p.tcpWindow));
    // SimGrid 3.32 aborts ("Variable penalty should not be negative", lmm/System.cpp) when a bandwidth profile raises
    // a link's bandwidth under a model whose flows carry a weight-S penalty (LV08, SMPI). With bandwidth profiles,
    // drop that term: flows then share links max-min fairly regardless of their route's latency.
    const bool linkProfiles = std::any_of(p.profiles.begin(), p.profiles.end(), [](const ProfileSpec& x) {
        return x.target == ProfileSpec::Target::LinkBandwidth;
    });
    if (linkProfiles)
        sg4::Engine::set_config("network/weight-S:0");
}

double nominalBandwidth(const PlatformSpec& p, const sg4::Link* link)
{
    if (link->get_sharing_policy() == sg4::Link::SharingPolicy::WIFI && p.topology == Topology::Edge &&
        !p.deviceBandwidth.empty()) { // "site<s>-wifi": its devices' fastest rate
        const int site = std::atoi(link->get_cname() + 4);
        double best = 0;
        for (int j = 0; j < p.edge.devicesPerSite; ++j)
            best = std::max(best, deviceBandwidth(p, j * p.edge.sites + site, 0));
        return best;
    }
    if (link->get_sharing_policy() == sg4::Link::SharingPolicy::WIFI && p.topology == Topology::Edge &&
        !p.edge.wifiRates.empty())
        return *std::max_element(p.edge.wifiRates.begin(), p.edge.wifiRates.end());
    return link->get_bandwidth();
}

std::vector<sg4::Host*> buildStar(const PlatformSpec& spec, const std::vector<std::string>& names,
                                  const std::vector<std::string>& roles)
{
    return buildStarWith(spec, names, rankSpeeds(spec, roles), rankLinkBandwidths(spec, roles), {});
}

namespace {

/// "t1 v1\nt2 v2\n..." for ProfileBuilder::from_string (absolute times, not repeated).
std::string profileText(const std::vector<std::pair<double, double>>& points)
{
    std::string s;
    char line[64];
    for (const auto& [t, v] : points) {
        std::snprintf(line, sizeof line, "%.17g %.17g\n", t, v);
        s += line;
    }
    return s;
}

/// Repeats (time, value) points every `period` seconds up to `horizon` (period <= 0: once).
std::vector<std::pair<double, double>> expand(const std::vector<std::pair<double, double>>& points, double period,
                                              double horizon)
{
    if (period <= 0)
        return points;
    std::vector<std::pair<double, double>> out;
    for (double base = 0; base < horizon; base += period)
        for (const auto& [t, v] : points)
            if (t < period)
                out.emplace_back(base + t, v);
    return out;
}

void applyDynamics(const PlatformSpec& p, const std::vector<sg4::Host*>& rankHosts,
                   const std::vector<std::string>& roles, double horizon)
{
    using simgrid::kernel::profile::ProfileBuilder;
    auto* engine = sg4::Engine::get_instance();
    std::map<sg4::Host*, std::vector<std::pair<double, double>>> speedProfiles;

    // Stragglers.
    std::vector<sg4::Host*> workers;
    for (std::size_t r = 0; r < roles.size(); ++r)
        if (!isAggregator(roles[r]))
            workers.push_back(rankHosts[r]);
    const StragglerSpec& st = p.stragglers;
    for (int i : stragglerIndices(p, int(workers.size()))) {
        const double slow = 1.0 / st.factor;
        std::vector<std::pair<double, double>> pts;
        if (st.duration <= 0) {
            pts = {{0.0, slow}};
        } else {
            std::vector<std::pair<double, double>> one;
            if (st.start > 0)
                one.emplace_back(0.0, 1.0);
            one.emplace_back(st.start, slow);
            one.emplace_back(st.start + st.duration, 1.0);
            pts = expand(one, st.period, horizon);
        }
        speedProfiles[workers[std::size_t(i)]] = pts;
    }

    // Profiles over time (a profile on a straggler's host replaces its straggler periods).
    for (const ProfileSpec& prof : p.profiles) {
        const auto pts = expand(prof.points, prof.period, horizon);
        int matched = 0;
        if (prof.target == ProfileSpec::Target::HostSpeed) {
            for (sg4::Host* h : engine->get_all_hosts())
                if (globMatch(prof.pattern, h->get_name())) {
                    speedProfiles[h] = pts;
                    ++matched;
                }
        } else {
            continue; // applied as the links were built (linkProfiler)
        }
        if (matched == 0)
            throw ConfigError(prof.path + ".hosts", "\"" + prof.pattern + "\" matches no host");
    }
    for (auto& [host, pts] : speedProfiles)
        host->set_speed_profile(ProfileBuilder::from_string("speed:" + host->get_name(), profileText(pts), -1));

    // Availability.
    std::map<sg4::Host*, std::vector<std::pair<double, double>>> hostStates;
    const AvailabilitySpec& av = p.availability;
    if (av.model == AvailabilitySpec::Model::Random) {
        for (std::size_t r = 0; r < roles.size(); ++r) {
            if (std::find(av.roles.begin(), av.roles.end(), roles[r]) == av.roles.end())
                continue;
            // Alternating renewal process: on for Exp(meanUp), off for Exp(meanDown), seeded per rank.
            Rng rng(deriveSeed(p.seed, 0xA7A1, r));
            std::vector<std::pair<double, double>> pts;
            double t = 0;
            bool on = true;
            for (;;) {
                const double mean = on ? av.meanUp : av.meanDown;
                t += -mean * std::log(1.0 - rng.uniform());
                if (t >= horizon)
                    break;
                on = !on;
                pts.emplace_back(t, on ? 1.0 : 0.0);
            }
            if (!pts.empty())
                hostStates[rankHosts[r]] = std::move(pts);
        }
    } else if (av.model == AvailabilitySpec::Model::Trace) {
        std::map<std::string, std::vector<std::pair<double, double>>> byHost;
        for (const AvailabilityEvent& ev : av.events) {
            sg4::Host* h = sg4::Host::by_name_or_null(ev.host);
            if (!h)
                throw ConfigError("platform.availability.trace", av.traceFile + ":" + std::to_string(ev.line) +
                                                                     ": no host \"" + ev.host + "\" on this platform");
            const auto r = std::find(rankHosts.begin(), rankHosts.end(), h) - rankHosts.begin();
            if (r < long(roles.size()) &&
                std::count(p.failureTolerantRoles.begin(), p.failureTolerantRoles.end(), roles[std::size_t(r)]) == 0)
                throw ConfigError("platform.availability.trace",
                                  av.traceFile + ":" + std::to_string(ev.line) + ": host \"" + ev.host + "\" runs a " +
                                      roles[std::size_t(r)] +
                                      "; only federated clients (they drop out of a round), asynchronous workers "
                                      "(they stop pushing) and, with strategy.recovery \"elastic\", sync-ps and "
                                      "ring-allreduce workers may go off");
            byHost[ev.host].emplace_back(ev.time, ev.on ? 1.0 : 0.0);
        }
        const std::map<std::string, double> periodOf(av.periods.begin(), av.periods.end());
        for (auto& [name, pts] : byHost) {
            std::stable_sort(pts.begin(), pts.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
            if (const auto it = periodOf.find(name); it != periodOf.end()) // FedScale: repeats every finish_time
                pts = expand(pts, it->second, horizon);
            hostStates[sg4::Host::by_name(name)] = std::move(pts);
        }
    }
    // Faults, then one state profile per host and link.
    std::map<sg4::Link*, std::vector<std::pair<double, double>>> linkStates;
    applyFaults(p, rankHosts, roles, horizon, hostStates, linkStates);
    for (auto& [host, pts] : hostStates)
        host->set_state_profile(ProfileBuilder::from_string("state:" + host->get_name(), profileText(pts), -1));
    // Links are sealed by now (SimGrid takes a link's state profile only before): kernel timers turn them off and on.
    for (auto& [link, pts] : linkStates)
        for (const auto& [t, on] : pts)
            simgrid::kernel::timer::Timer::set(t, [l = link, up = on > 0] {
                if (up)
                    l->turn_on();
                else
                    l->turn_off();
            });
}

} // namespace

bool peersCanFail(const PlatformSpec& p)
{
    return p.availability.model != AvailabilitySpec::Model::None || !p.faults.empty() || p.topology == Topology::Xml;
}

BuiltPlatform buildPlatform(const PlatformSpec& p, const std::vector<std::string>& names,
                            const std::vector<std::string>& roles, double horizon)
{
    checkPlatform(p, roles);
    BuiltPlatform b;
    const std::vector<double> speeds = rankSpeeds(p, roles);
    // Bandwidth profiles, applied to each matching link before it is sealed.
    std::vector<int> linkMatches(p.profiles.size(), 0);
    const LinkHook hook = [&](sg4::Link* l) {
        for (std::size_t i = 0; i < p.profiles.size(); ++i) {
            const ProfileSpec& prof = p.profiles[i];
            if (prof.target != ProfileSpec::Target::LinkBandwidth || !globMatch(prof.pattern, l->get_name()))
                continue;
            ++linkMatches[i];
            // SimGrid 3.32 applies a bandwidth profile's values as absolute bandwidths (bytes/s), whatever
            // Link.hpp says about percentages: scale our factors by the link's nominal bandwidth.
            auto pts = expand(prof.points, prof.period, horizon);
            const double nominal = l->get_bandwidth();
            for (auto& pt : pts)
                pt.second *= nominal;
            // An event at date 0 on a link profile stalls SimGrid 3.32's network model (measured: every transfer
            // through the link deadlocks): set the starting bandwidth directly instead.
            if (!pts.empty() && pts.front().first <= 0) {
                l->set_bandwidth(pts.front().second);
                pts.erase(pts.begin());
            }
            if (pts.empty())
                continue;
            l->set_bandwidth_profile(
                simgrid::kernel::profile::ProfileBuilder::from_string("bw:" + l->get_name(), profileText(pts), -1));
        }
    };
    switch (p.topology) {
    case Topology::Star:
        b.rankHosts = p.node.enabled() ? buildStarOfNodes(p, names, roles, speeds, hook)
                                       : buildStarWith(p, names, speeds, rankLinkBandwidths(p, roles), hook);
        break;
    case Topology::FatTree:
    case Topology::Torus:
    case Topology::Dragonfly: b.rankHosts = buildCluster(p, names, roles, speeds); break;
    case Topology::Edge: b.rankHosts = buildEdge(p, names, roles, speeds, hook); break;
    case Topology::Xml: {
        // The scenario reader checked the file with SimGrid's own parser in a child process (validatePlatformXml);
        // an error here means the file changed since, or a caller that skipped the check.
        try {
            sg4::Engine::get_instance()->load_platform(p.xml.file);
        } catch (const std::exception& e) {
            throw ConfigError("platform.xml.file", p.xml.file + ": SimGrid cannot load it: " + e.what());
        }
        std::vector<std::string> all;
        for (sg4::Host* h : sg4::Engine::get_instance()->get_all_hosts())
            all.push_back(h->get_name());
        for (const std::string& name : mapRolesToHosts(p.xml, roles, all))
            b.rankHosts.push_back(sg4::Host::by_name(name));
        break;
    }
    }
    for (std::size_t i = 0; i < p.profiles.size(); ++i)
        if (p.profiles[i].target == ProfileSpec::Target::LinkBandwidth && linkMatches[i] == 0)
            throw ConfigError(p.profiles[i].path + ".links", "\"" + p.profiles[i].pattern + "\" matches no link");
    for (sg4::Host* h : b.rankHosts)
        b.rankNames.push_back(h->get_name());
    applyDynamics(p, b.rankHosts, roles, horizon);
    return b;
}

} // namespace dml::sim
