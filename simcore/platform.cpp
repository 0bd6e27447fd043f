// SPDX-License-Identifier: GPL-3.0-or-later
#include "platform_impl.h"

#include <simgrid/s4u/Engine.hpp>
#include <simgrid/s4u/Link.hpp>
#include <simgrid/s4u/NetZone.hpp>

namespace sg4 = simgrid::s4u;

namespace dml::sim {

const char* toString(NetworkModel m)
{
    switch (m) {
    case NetworkModel::Ideal: return "ideal";
    case NetworkModel::Tcp: return "tcp";
    }
    return "?";
}

void configureNetwork(NetworkModel m)
{
    switch (m) {
    case NetworkModel::Ideal:
        // See ../shared/SIMGRID-NOTES.md: exact alpha-beta times need CM02, no cross-traffic and no TCP-gamma cap.
        sg4::Engine::set_config("network/model:CM02");
        sg4::Engine::set_config("network/crosstraffic:0");
        sg4::Engine::set_config("network/TCP-gamma:0");
        break;
    case NetworkModel::Tcp:
        sg4::Engine::set_config("network/model:LV08");
        break;
    }
}

std::vector<sg4::Host*> buildStar(const PlatformSpec& spec, const std::vector<std::string>& names,
                                  const std::vector<std::string>& roles)
{
    auto* zone = sg4::create_star_zone("cluster");
    sg4::Link* backbone = zone->create_link("backbone", spec.backboneBandwidth)
                              ->set_latency(spec.backboneLatency)
                              ->set_sharing_policy(sg4::Link::SharingPolicy::SHARED)
                              ->seal();
    std::vector<sg4::Host*> hosts;
    for (std::size_t r = 0; r < names.size(); ++r) {
        const double speed = roles[r] == "server" ? spec.serverSpeed : spec.workerSpeed;
        sg4::Host* host = zone->create_host(names[r], speed)->seal();
        sg4::SplitDuplexLink* link = zone->create_split_duplex_link(names[r] + "_link", spec.linkBandwidth);
        link->set_latency(spec.linkLatency);
        link->seal();
        zone->add_route(host->get_netpoint(), nullptr, nullptr, nullptr,
                        {sg4::LinkInRoute(link, sg4::LinkInRoute::Direction::UP), sg4::LinkInRoute(backbone)}, true);
        hosts.push_back(host);
    }
    zone->seal();
    return hosts;
}

} // namespace dml::sim
