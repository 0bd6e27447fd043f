// SPDX-License-Identifier: GPL-3.0-or-later
// The "platform" section of scenario files.
#include "jsonreader.h"

namespace dml::app::detail {

void readPlatform(ObjectReader&& r, sim::PlatformSpec& p)
{
    r.choice("topology", {"star"}, "star");
    p.workers = int(r.integer("workers", 0, 1, 100000));
    if (!r.has("workers"))
        r.fail("workers", "missing; expected the number of worker hosts (an integer >= 1)");
    p.workerSpeed = r.unit("worker_speed", UnitKind::Speed, p.workerSpeed, true);
    p.serverSpeed = r.unit("server_speed", UnitKind::Speed, p.workerSpeed, true);
    p.linkBandwidth = r.unit("link_bandwidth", UnitKind::Bandwidth, p.linkBandwidth, true);
    p.linkLatency = r.unit("link_latency", UnitKind::Time, p.linkLatency, false);
    p.backboneBandwidth = r.unit("backbone_bandwidth", UnitKind::Bandwidth, p.backboneBandwidth, true);
    p.backboneLatency = r.unit("backbone_latency", UnitKind::Time, p.backboneLatency, false);
    p.network = r.choice("network_model", {"tcp", "ideal"}, "tcp") == "ideal" ? sim::NetworkModel::Ideal
                                                                               : sim::NetworkModel::Tcp;
}

} // namespace dml::app::detail
