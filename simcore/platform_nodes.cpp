// SPDX-License-Identifier: GPL-3.0-or-later
// Multi-accelerator nodes (NodeSpec, issue 17): a zone per node with its accelerators around a switch, joined to
// the star or cluster fabric through one gateway. The shape of SimGrid's examples/cpp/clusters-multicpu, with a
// router as the gateway so that every accelerator reaches the fabric over its own link and the node's interface.
#include "platform_impl.h"

#include "error.h"

#include <simgrid/s4u/Engine.hpp>
#include <simgrid/s4u/NetZone.hpp>

#include <string>

namespace sg4 = simgrid::s4u;
using LinkDir = sg4::LinkInRoute::Direction;

namespace dml::sim {

sg4::SplitDuplexLink* duplexLink(sg4::NetZone* zone, const std::string& name, double bandwidth, double latency,
                                 const LinkHook& hook)
{
    sg4::SplitDuplexLink* link = zone->create_split_duplex_link(name, bandwidth);
    link->set_latency(latency);
    if (hook)
        hook(link);
    link->seal();
    return link;
}

std::vector<NodeLeaf> nodeLeaves(const NodeSpec& node, const std::vector<std::string>& roles)
{
    std::vector<NodeLeaf> leaves;
    int devices = 0;
    int open = -1; // the leaf of the node being filled
    for (int r = 0; r < int(roles.size()); ++r) {
        if (isAggregator(roles[std::size_t(r)])) {
            leaves.push_back({{r}, false});
            continue;
        }
        if (devices % node.gpus == 0) {
            open = int(leaves.size());
            leaves.push_back({{}, true});
        }
        leaves[std::size_t(open)].ranks.push_back(r);
        ++devices;
    }
    return leaves;
}

std::pair<simgrid::kernel::routing::NetPoint*, simgrid::kernel::routing::NetPoint*>
buildNode(const sg4::NetZone* parent, int index, const NodeLeaf& leaf, const NodeSpec& node,
          const std::vector<std::string>& names, const std::vector<double>& speeds, sg4::Link* exit,
          std::vector<sg4::Host*>& hosts, const LinkHook& hook)
{
    const std::string name = "node-" + std::to_string(index);
    auto* zone = sg4::create_star_zone(name);
    zone->set_parent(parent);
    simgrid::kernel::routing::NetPoint* router = zone->create_router(name + "_router");
    // The gateway's route is the way out of the node: every accelerator's traffic to another node crosses it.
    zone->add_route(router, nullptr, nullptr, nullptr, {sg4::LinkInRoute(exit, LinkDir::UP)}, true);
    for (int r : leaf.ranks) {
        const std::string& host = names[std::size_t(r)];
        sg4::Host* h = zone->create_host(host, speeds[std::size_t(r)])->seal();
        sg4::SplitDuplexLink* link = duplexLink(zone, host + "_node-link", node.bandwidth, node.latency, hook);
        zone->add_route(h->get_netpoint(), nullptr, nullptr, nullptr, {sg4::LinkInRoute(link, LinkDir::UP)}, true);
        hosts[std::size_t(r)] = h;
    }
    zone->seal();
    return {zone->get_netpoint(), router};
}

std::vector<sg4::Host*> buildStarOfNodes(const PlatformSpec& p, const std::vector<std::string>& names,
                                         const std::vector<std::string>& roles, const std::vector<double>& speeds,
                                         const LinkHook& hook)
{
    auto* zone = sg4::create_star_zone("cluster");
    sg4::Link* backbone = zone->create_link("backbone", p.backboneBandwidth)
                              ->set_latency(p.backboneLatency)
                              ->set_sharing_policy(sg4::Link::SharingPolicy::SHARED);
    if (hook)
        hook(backbone);
    backbone->seal();
    std::vector<sg4::Host*> hosts(names.size(), nullptr);
    // Every leaf is a zone, an aggregator's too (a node of one host): SimGrid 3.32 routes a host of a nested zone to
    // a host directly in the star with the wrong zone's route table (it looks the nested host's id up in the star).
    const std::vector<NodeLeaf> leaves = nodeLeaves(p.node, roles);
    for (std::size_t k = 0; k < leaves.size(); ++k) {
        const NodeLeaf& leaf = leaves[k];
        // The node's interface ("node-<k>_link"; an aggregator's keeps the star's name, "<host>_link"): the way out
        // of the node zone, then the backbone.
        const std::string nicName =
            leaf.node ? "node-" + std::to_string(k) + "_link" : names[std::size_t(leaf.ranks.front())] + "_link";
        sg4::SplitDuplexLink* nic = duplexLink(zone, nicName, p.linkBandwidth, p.linkLatency, hook);
        const auto [netpoint, gateway] = buildNode(zone, int(k), leaf, p.node, names, speeds, nic, hosts, hook);
        zone->add_route(netpoint, nullptr, gateway, nullptr, {sg4::LinkInRoute(backbone)}, true);
    }
    zone->seal();
    return hosts;
}

} // namespace dml::sim
