// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Internal to simcore: builds the SimGrid platform. Include only from simcore .cpp files.
#include "platform.h"

#include <simgrid/s4u/Host.hpp>
#include <simgrid/s4u/Link.hpp>

namespace dml::sim {

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

} // namespace dml::sim
