// SPDX-License-Identifier: GPL-3.0-or-later
#include "commpattern.h"

namespace dml::ui {

CommPattern commPattern(const std::vector<HostInfo>& hosts)
{
    std::vector<int> workers, clients, edgeServers, servers;
    for (int r = 0; r < int(hosts.size()); ++r) {
        const QString& role = hosts[std::size_t(r)].role;
        if (role == "worker")
            workers.push_back(r);
        else if (role == "client")
            clients.push_back(r);
        else if (role == "edge-server")
            edgeServers.push_back(r);
        else if (role == "server")
            servers.push_back(r);
    }
    CommPattern p;
    if (servers.size() == 1 && !edgeServers.empty() && !clients.empty() && workers.empty()) {
        p.kind = CommPattern::Hierarchical;
        p.caption = "hierarchical FL: client \u21c4 edge server \u21c4 cloud";
        p.bothWays = true;
        for (std::size_t k = 0; k < clients.size(); ++k)
            p.edges.emplace_back(clients[k], edgeServers[k % edgeServers.size()]);
        for (int e : edgeServers)
            p.edges.emplace_back(e, servers.front());
    } else if (servers.size() == 1 && edgeServers.empty() && (workers.empty() != clients.empty())) {
        const bool fl = !clients.empty();
        p.kind = fl ? CommPattern::Federated : CommPattern::ParameterServer;
        p.caption = fl ? "federated: clients \u21c4 server" : "parameter server: workers \u21c4 server";
        p.bothWays = true;
        for (int w : fl ? clients : workers)
            p.edges.emplace_back(w, servers.front());
    } else if (servers.empty() && edgeServers.empty() && clients.empty() && workers.size() >= 2) {
        p.kind = CommPattern::Ring;
        p.caption = "ring all-reduce: rank i \u2192 i+1";
        for (std::size_t i = 0; i < workers.size(); ++i)
            p.edges.emplace_back(workers[i], workers[(i + 1) % workers.size()]);
    }
    return p;
}

} // namespace dml::ui
