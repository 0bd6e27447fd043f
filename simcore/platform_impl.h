// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Internal to simcore: builds the SimGrid platform. Include only from simcore .cpp files.
#include "platform.h"

#include <simgrid/s4u/Host.hpp>

namespace dml::sim {

/// Applies the network model settings; call before the platform is built.
void configureNetwork(NetworkModel m);

/// Builds the star cluster and returns one host per rank, named `names[rank]`; ranks with role "server" get
/// serverSpeed, the others workerSpeed. Seals every zone.
std::vector<simgrid::s4u::Host*> buildStar(const PlatformSpec& spec, const std::vector<std::string>& names,
                                           const std::vector<std::string>& roles);

} // namespace dml::sim
