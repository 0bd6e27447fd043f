// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
#include "data/partition.h"
#include "evaluator.h"
#include "models/workload.h"
#include "strategy.h"
#include "vectorpool.h"

#include <functional>
#include <memory>
#include <vector>

namespace dml {

/// Hierarchical federated averaging, HierFAVG (Liu, Zhang, Song and Letaief 2020, "Client-edge-cloud hierarchical
/// federated learning", ICC 2020, Sec. III, Algorithm 1).
///
/// Ranks 0..K-1 are clients (K = StrategySpec::workers), ranks K..K+S-1 the S edge servers (role "edge-server"),
/// rank K+S the cloud server (role "server"). Client k belongs to edge server k mod S; on the edge platform that is
/// the edge server of its own site (devices are placed round-robin over the sites, and edge server s runs on site
/// s's edge host). Each cloud round t:
///  1. the cloud sends the global model w_t to every edge server (one model over each site's WAN link);
///  2. each edge server runs kappa2 edge rounds: it launches all its clients (Transport::launch; only the clients
///     of running rounds are simulated) and sends them its edge model; client k runs kappa1 local SGD steps from it
///     (kappa1 = 0: one local epoch, floor(|P_k| / b_k) steps, as FedAvg with E = 1), with a fresh optimizer, its
///     persistent BatchSampler (seeded workerSeed(seed, k)), b_k = min(B, |P_k|), and sends back its model w^k and
///     n_k = |P_k|; the edge server sets its model to sum_k (n_k / n) w^k over its clients that reported, in
///     client-rank order (the paper's edge aggregation, Eq. 5), charged 2 r N flops for r reports;
///  3. each edge server sends its model and its data size D_s = sum of |P_k| over its clients to the cloud, which
///     sets w_{t+1} = sum_s (D_s / D) w^s in edge-server order (the cloud aggregation, Eq. 6), charged 2 S N flops.
/// So the WAN carries one model per edge server per cloud round each way, and the access network kappa2 models per
/// client each way. One Evaluator step = one cloud round (the model is evaluated at the cloud).
///
/// Every client takes part in every edge round, as in the paper (no client sampling). Drop-outs (dynamic
/// platforms): a client whose device goes off during an edge round drops out of it; its edge server checks every
/// `failureDetection` seconds while it waits (as FedAvg without a deadline) and averages the clients that reported
/// (none: its model stays); a client is launched again in the next edge round if its device is back on. The edge
/// servers and the cloud may not fail (failureTolerantRoles() is {"client"}).
///
/// With one edge server, kappa2 = 1 and kappa1 = 0, the global models are those of FedAvg with C = 1 and E = 1 bit
/// for bit (the same clients, samplers, partition and averaging order; the cloud's average of one model is that
/// model).
///
/// Rounds: StrategySpec::rounds if > 0 (stop reason "rounds"), otherwise enough cloud rounds for run.epochs passes
/// over the data: a cloud round is kappa2 edge rounds of kappa1 steps per client, so with kappa1 = 0 a pass takes
/// 1 / kappa2 cloud rounds, and otherwise (n / K) / (kappa1 kappa2 B) for n training samples.
class HierarchicalFedAvg final : public Strategy {
public:
    enum Tag { ToClient = 1, ToEdge = 2, ToCloud = 3, FromCloud = 4 };
    enum Kind { Model = 1, Stop = 2 };

    /// `clients` = K >= 1, `edgeServers` = S in [1, K], `edgeInterval` = kappa1 >= 0 (local steps; 0 = one local
    /// epoch), `cloudInterval` = kappa2 >= 1 (edge rounds per cloud round), `rounds` >= 0 (0 = from cfg.epochs),
    /// `failureDetection` > 0 s. Throws ConfigError naming the field ("strategy.edge_servers",
    /// "strategy.edge_interval", "strategy.cloud_interval", "strategy.rounds", "strategy.failure_detection",
    /// "workload.batch_size", and what makePartition throws).
    HierarchicalFedAvg(int clients, int edgeServers, int edgeInterval, int cloudInterval, int rounds,
                       double failureDetection, const TrainingConfig& cfg, const TrainTest& data, MetricsSink& sink);
    int numRanks() const override { return m_clients + m_edges + 1; }
    std::string roleOf(int rank) const override;
    bool launchedAtStart(int rank) const override { return rank >= m_clients; }
    std::vector<std::string> failureTolerantRoles() const override { return {"client"}; }
    void run(int rank, Transport& t) override;
    std::string stopReason() const override { return m_evaluator.stopReason(); }
    void completeSummary(Summary& s) const override { m_evaluator.completeSummary(s); }
    const Eigen::VectorXf& finalModel() const override { return m_final; }
    const std::vector<std::vector<int>>* shards() const override { return &m_partition; }

    /// The edge server (0..S-1) of client k.
    int edgeOf(int client) const { return client % m_edges; }
    /// Cloud rounds the run plans (before run.max_steps caps them).
    long plannedRounds() const { return m_plannedRounds; }
    /// Called after each cloud aggregation with the cloud round and the new global model. No simulated time.
    using RoundObserver = std::function<void(long round, const Eigen::VectorXf& params)>;
    void setRoundObserver(RoundObserver f) { m_roundObserver = std::move(f); }

private:
    void runCloud(Transport& t);
    void runEdge(int edge, Transport& t);
    void runClient(int rank, Transport& t);
    int m_clients, m_edges, m_edgeInterval, m_cloudInterval;
    double m_failureDetection;
    TrainingConfig m_cfg;
    const TrainTest& m_data;
    Workload m_workload;
    Partition m_partition;
    double m_roundsPerEpoch; ///< cloud rounds per pass over the training set
    long m_plannedRounds;
    Evaluator m_evaluator;
    VectorPool m_pool;
    std::vector<std::unique_ptr<BatchSampler>> m_samplers; ///< per client, created when first launched
    Eigen::VectorXf m_final;
    RoundObserver m_roundObserver;
};

} // namespace dml
