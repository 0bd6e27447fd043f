// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The strategy's logical communication pattern (who sends to whom), inferred from the ranks' roles, which are
// distinct for every strategy dmlsim has: only "worker" ranks = ring all-reduce; "worker" + "server" = a
// parameter server (sync-ps, async-ps); "client" + "server" = FedAvg / FedBuff; "client" + "edge-server" +
// "server" = hierarchical FedAvg (client k reports to edge server k mod S, every edge server to the server).
#include "rundata.h"

#include <QString>

#include <utility>
#include <vector>

namespace dml::ui {

struct CommPattern {
    enum Kind { None, Ring, ParameterServer, Federated, Hierarchical };
    Kind kind = None;
    QString caption;                       ///< for the legend, e.g. "ring all-reduce: worker i -> worker i+1"
    std::vector<std::pair<int, int>> edges; ///< (from rank, to rank); stars point at the server
    bool bothWays = false;                 ///< stars: the model also comes back along each edge
};

CommPattern commPattern(const std::vector<HostInfo>& hostsByRank);

} // namespace dml::ui
