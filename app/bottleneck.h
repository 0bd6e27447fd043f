// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// A run's bottleneck (issue 15): its most loaded link or host, and the shared links that are near saturation.
// Used by `dmlsim run`, `dmlsim compare`, reports and the workbench (from the store: storedBottleneck()).
#include "metrics.h"

#include <string>
#include <vector>

namespace dml::app {

class RunStore;

/// What a link is in the platform, from SimGrid's link names (README "Traffic per link"):
/// - "backbone": a star's shared backbone ("backbone");
/// - "WAN": an edge site's link to the cloud ("SITE-wan_UP", "SITE-wan_DOWN");
/// - "site uplink": an edge site's LAN link from access point to edge server ("SITE-lan_UP", ...);
/// - "Wi-Fi cell": an edge site's shared Wi-Fi ("SITE-wifi");
/// - "host link": one host's own link ("HOST_link_UP", "HOST_link_DOWN", a device's "HOST_cell_UP", ...);
/// - "network link": any other (the switches' links of fat-trees, tori and dragonflies, SimGrid XML platforms).
/// Every class but "host link" is shared: it carries the traffic of several hosts.
struct LinkClass {
    std::string kind;
    bool shared = false;
};
/// `hostNames`: the run's hosts (HostStats::name), to recognise their own links.
LinkClass classifyLink(const std::string& link, const std::vector<std::string>& hostNames);

/// Load above which a shared link is reported as saturated (80 %).
constexpr double kSaturatedLoad = 0.8;

struct Bottleneck {
    enum class Kind { None, Link, Host };
    Kind kind = Kind::None;
    std::string name;    ///< SimGrid's link name, or the host name
    std::string what;    ///< the link's class (LinkClass::kind), or the host's role
    bool shared = false; ///< a shared link (LinkClass::shared)
    /// Link: utilization = bytes / simulated time / nominal bandwidth; host: compute time / elapsed time. In [0, 1].
    double load = 0;
    /// "link backbone (backbone, shared) 83.1 %", "host worker-0 (worker, compute) 97.0 %", or "none" (no traffic
    /// and no compute recorded).
    std::string text() const;
};

/// The most loaded resource of a run: the link of highest utilization or the host of highest compute share,
/// whichever is higher (a link wins a tie; among links, the one with most bytes; among hosts, the lowest rank).
/// Hosts with no elapsed time are left out. Kind::None when there is neither.
Bottleneck findBottleneck(const std::vector<HostStats>& hosts, const std::vector<LinkStats>& links);

/// The shared links loaded above `threshold`, most loaded first.
std::vector<LinkStats> saturatedSharedLinks(const std::vector<HostStats>& hosts, const std::vector<LinkStats>& links,
                                            double threshold = kSaturatedLoad);

/// "shared link backbone (backbone) at 83.1 % load (above 80 %): it limits every configuration that crosses it",
/// one line for one saturated link.
std::string saturationWarning(const LinkStats& link, const std::vector<HostStats>& hosts);

/// findBottleneck() of a stored run, from its host_stats and link_stats rows. Throws StoreError.
Bottleneck storedBottleneck(RunStore& store, long long runId);

} // namespace dml::app
