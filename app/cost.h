// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Prices (issue 15): the optional "cost" section of a scenario, and what a run costs under it.
//   "cost": {"currency": "USD", "host_hour": {"worker": 2.5, "server": 0.8}, "per_gb": {"*-wan_UP": 0.09}}
// README "Cost".
#include "metrics.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace dml::app {

struct CostSpec {
    bool given = false;
    std::string currency = "USD"; ///< a label only: no conversion
    /// Price of one host-hour by role ("worker", "server", "client", "edge-server"); roles without a price cost
    /// nothing.
    std::map<std::string, double> hostHour;
    /// Price of one GB (10^9 bytes) that crosses a link, by glob over SimGrid link names ("*-wan_UP": the edge
    /// sites' uplinks to the cloud; "backbone"). A link that several globs match is charged once, at the highest
    /// of their prices.
    std::vector<std::pair<std::string, double>> perGb;
};

/// The roles that host_hour accepts.
const std::vector<std::string>& pricedRoles();

/// The "cost" section of stored scenario JSON (given = false when there is none or it cannot be read).
CostSpec costOf(const std::string& scenarioText);

/// What a run cost, in the spec's currency.
struct RunCost {
    double hosts = 0;   ///< sum over hosts of host_hour[role] x simulated time / 3600 s
    double traffic = 0; ///< sum over links of bytes / 10^9 x the link's per_gb price
    double total() const { return hosts + traffic; }
};
/// Every host is held for the whole simulated time (a job rents its machines until it ends).
RunCost runCost(const CostSpec& spec, const std::vector<HostStats>& hosts, const std::vector<LinkStats>& links,
                double simulatedTime);

} // namespace dml::app
