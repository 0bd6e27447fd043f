// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
#include <string>
#include <vector>

namespace dml::sim {

/// How SimGrid times messages.
enum class NetworkModel {
    Ideal, ///< exact alpha-beta: CM02 without cross-traffic and without the TCP window cap (time = latency + S/B)
    Tcp,   ///< SimGrid's default LV08, validated against real TCP: S/(0.97 B) + 13.01 latency, with cross-traffic
};

/// A star cluster: every host has a private full-duplex link to one shared backbone.
/// Units: speed in flops/s, bandwidth in bytes/s, latency in seconds.
struct PlatformSpec {
    int workers = 1;
    double workerSpeed = 1e11;
    double serverSpeed = 1e11;
    double linkBandwidth = 1.25e9;
    double linkLatency = 5e-5;
    double backboneBandwidth = 1.25e10;
    double backboneLatency = 1e-6;
    NetworkModel network = NetworkModel::Tcp;
};

const char* toString(NetworkModel m);

/// The simulated platform as a graph, for `dmlsim platform` and the workbench's topology view. Nodes are hosts
/// and links (a link joins the nodes before and after it on routes); a full-duplex link is one node.
struct PlatformGraph {
    struct Node {
        std::string id;
        std::string kind;      ///< "host" or "link"
        std::string role;      ///< hosts: "worker", "server", "client"
        double speed = 0;      ///< hosts: flops/s
        double bandwidth = 0;  ///< links: bytes/s
        double latency = 0;    ///< links: s
        std::string sharing;   ///< links: "shared", "full-duplex", "fatpipe", "wifi"
    };
    struct Edge {
        std::string source, target;
    };
    struct Route {
        std::string from, to;
        std::vector<std::string> links; ///< in order
        double latency = 0;             ///< sum of the links' latencies, s
        double bandwidth = 0;           ///< the narrowest link's bandwidth, bytes/s
    };
    std::vector<Node> nodes;
    std::vector<Edge> edges;
    std::vector<Route> sampleRoutes;
};

} // namespace dml::sim
