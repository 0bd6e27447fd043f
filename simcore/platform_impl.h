// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Internal to simcore: builds the SimGrid platform. Include only from simcore .cpp files.
#include "platform.h"

#include <simgrid/s4u/Host.hpp>
#include <simgrid/s4u/Link.hpp>

#include <functional>
#include <map>
#include <utility>
#include <vector>

namespace dml::sim {

/// Applies the bandwidth profiles whose pattern matches a link; called on each link before it is sealed (SimGrid
/// refuses profiles on sealed links).
using LinkHook = std::function<void(simgrid::s4u::Link*)>;

/// A full-duplex link `name` of `bandwidth` bytes/s and `latency` s in `zone`, passed to `hook` (may be empty), then
/// sealed.
simgrid::s4u::SplitDuplexLink* duplexLink(simgrid::s4u::NetZone* zone, const std::string& name, double bandwidth,
                                          double latency, const LinkHook& hook);

/// Applies the network model settings (model, cross-traffic, TCP-gamma); call before the platform is built.
void configureNetwork(const PlatformSpec& p);

/// The built platform: the host of every rank, and every host and link.
struct BuiltPlatform {
    std::vector<simgrid::s4u::Host*> rankHosts; ///< one per rank
    std::vector<std::string> rankNames;         ///< the rank hosts' names
};

/// Builds the platform of `p` for ranks with these roles and default names (hostNames()), sealing every zone,
/// then applies host speeds, stragglers, profiles and availability. `horizon` (s) bounds the random availability
/// model. Throws ConfigError (bad parameters, unknown hosts in an XML mapping or a trace) before SimGrid sees them
/// when it can.
BuiltPlatform buildPlatform(const PlatformSpec& p, const std::vector<std::string>& names,
                            const std::vector<std::string>& roles, double horizon);

/// A link's nominal bandwidth, bytes/s: for a wifi link (whose SimGrid bandwidth is a normalised 1), the
/// fastest station rate of the edge network; otherwise Link::get_bandwidth().
double nominalBandwidth(const PlatformSpec& p, const simgrid::s4u::Link* link);

/// Builds the star cluster and returns one host per rank, named `names[rank]`; ranks with role "server" get
/// serverSpeed, the others their worker speed. Seals every zone.
std::vector<simgrid::s4u::Host*> buildStar(const PlatformSpec& spec, const std::vector<std::string>& names,
                                           const std::vector<std::string>& roles);

/// State points (time s, 1 on / 0 off), sorted by time, per host or link.
using HostStates = std::map<simgrid::s4u::Host*, std::vector<std::pair<double, double>>>;
using LinkStates = std::map<simgrid::s4u::Link*, std::vector<std::pair<double, double>>>;

/// Adds p.faults (scheduled events, random failures up to `horizon` s) to the state points of the hosts and links
/// (faults.cpp). Throws ConfigError with the fault's JSON path when a glob or role matches nothing, when a host
/// already has availability changes, or when a fault would stop a rank the strategy cannot lose (its role is not in
/// p.failureTolerantRoles: a crash of its host, or a link failure that cuts it off).
void applyFaults(const PlatformSpec& p, const std::vector<simgrid::s4u::Host*>& rankHosts,
                 const std::vector<std::string>& roles, double horizon, HostStates& hosts, LinkStates& links);

/// The ranks that a failure of `link` cuts off (with every other link up): a rank whose route to the server rank
/// (the last rank with role "server") crosses the link; the server itself, or every rank when there is no server,
/// when its routes to every other rank's host cross it.
std::vector<int> ranksCutOff(const std::vector<simgrid::s4u::Host*>& rankHosts, const std::vector<std::string>& roles,
                             const simgrid::s4u::Link* link);

/// One leaf of a platform with multi-accelerator nodes (NodeSpec): a node holding `ranks` (consecutive workers),
/// or one aggregator rank on a host of its own. In rank order of each leaf's first rank.
struct NodeLeaf {
    std::vector<int> ranks;
    bool node = false;
};

/// The leaves of p.node for ranks with these roles (platform_nodes.cpp).
std::vector<NodeLeaf> nodeLeaves(const NodeSpec& node, const std::vector<std::string>& roles);

/// Builds node `index` (NodeSpec) as a star zone "node-<index>" inside `parent`: the hosts of leaf.ranks (named
/// names[rank], speeds[rank]), each with a full-duplex link "<host>_node-link" to the node's router
/// "node-<index>", whose own route is `exit` (the node's network interface on a star, a switch link in a cluster).
/// Sets hosts[rank] for its ranks; returns the zone and its gateway, as SimGrid's cluster callbacks want them.
std::pair<simgrid::kernel::routing::NetPoint*, simgrid::kernel::routing::NetPoint*>
buildNode(const simgrid::s4u::NetZone* parent, int index, const NodeLeaf& leaf, const NodeSpec& node,
          const std::vector<std::string>& names, const std::vector<double>& speeds, simgrid::s4u::Link* exit,
          std::vector<simgrid::s4u::Host*>& hosts, const LinkHook& hook);

/// The star of PlatformSpec with p.node enabled: leaf k of nodeLeaves() a zone "node-<k>" joined to the backbone by
/// its network interface "node-<k>_link" (link_bandwidth, link_latency); an aggregator's leaf a node of one host
/// whose interface keeps the plain star's name, "<host>_link".
std::vector<simgrid::s4u::Host*> buildStarOfNodes(const PlatformSpec& p, const std::vector<std::string>& names,
                                                  const std::vector<std::string>& roles,
                                                  const std::vector<double>& speeds, const LinkHook& hook);

} // namespace dml::sim
