// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
#include "evaluator.h"
#include "models/model.h"
#include "optim/optimizer.h"
#include "data/partition.h"
#include "strategy.h"
#include "vectorpool.h"
#include "models/workload.h"

#include <functional>
#include <memory>
#include <vector>

namespace dml {

/// Buffered asynchronous federated learning, FedBuff (Nguyen et al. 2022, "Federated learning with buffered
/// asynchronous aggregation", AISTATS 2022, Sec. 3 and Algorithm 1; staleness scaling as in their experiments,
/// Sec. 5).
///
/// Ranks 0..N-1 are clients (the population, StrategySpec::workers), rank N the server. The server keeps
/// `concurrency` clients training: it samples them uniformly among the clients that are not training and whose
/// device is on, launches them (Transport::launch: only the active clients are simulated) and sends each the
/// current global model x^t with its version t. Client k trains as a FedAvg client does (the same client-side
/// code, copied from FederatedAveraging): E local epochs of mini-batch SGD on its part P_k of makePartition,
/// batch b_k = min(B, |P_k|), a fresh optimizer of TrainingConfig::optimizer per task, its BatchSampler (seeded
/// workerSeed(seed, k)) persisting across its tasks; it then sends back its update Delta_k = y_0 - y_Q (the model
/// it received minus its trained model: the paper's sign, a pseudo-gradient) tagged with the version it trained
/// on. The server folds each update into its buffer as it arrives, weighted by the staleness function
/// s(tau) = 1 / sqrt(1 + tau), tau = (the server's version now) - (the version the client trained on):
/// Delta_bar += s(tau) Delta_k. After every K = `bufferSize` updates it takes the server step
/// x^{t+1} = x^t - eta_g Delta_bar / K (eta_g = `serverLearningRate`), clears the buffer and increments the version.
///
/// Refill. Paper (default): a freed slot is refilled as soon as its client's update has been folded in (after
/// the aggregation, if that update completed the buffer), so `concurrency` clients train at all times. Variant
/// `refillOnAggregation`: slots freed by reports are refilled only after each aggregation, so that every launched
/// client starts from the newest model; with K = concurrency every client then trains on the version it is
/// reported against (staleness 0), and with identical clients, C = concurrency / N of FedAvg and eta_g = 1 the run
/// is synchronous FedAvg up to float rounding (FedAvg forms sum_k (n_k / n) w^k, FedBuff x - sum_k (x - w^k) / K).
///
/// Sampling. Each refill is one sampling event e = 1, 2, ... (the initial fill is e = 1): a partial Fisher-Yates
/// shuffle, seeded Rng(deriveSeed(seed, 0xFEDA, e)), of the clients not training (in rank order) gives the next
/// candidates; they are launched in rank order, a candidate whose device is off (Transport::peerFailed right after
/// launch) is skipped and the shuffle continues, until the free slots are filled or the candidates run out (they
/// are tried again at the next refill). A client whose update arrived at the very simulated instant of the refill
/// is not a candidate in it (its body may not have ended yet; the server's flops for the update make time pass, so
/// this only happens for a model of a few hundred parameters). With every client idle this is FederatedAveraging::sampleClients(e), so
/// under refillOnAggregation (e = the round) FedBuff launches FedAvg's clients of each round.
///
/// Drop-outs: the server waits for updates at most `failureDetection` simulated seconds at a time and then checks
/// its active clients (Transport::peerFailed); a client whose device went off is out (its update, if it still
/// arrives, is discarded: reports carry the sender's incarnation), is counted as the series "failed_clients" (one
/// point of 1 per failure, at its detection), and its slot is refilled at once. If no client can be launched
/// (every idle device off), the server retries at every check; the run ends with stop reason
/// "clients_unavailable" after 100,000 simulated seconds without any client training (or at
/// run.max_simulated_time, "max_simulated_time").
///
/// Staleness, as async-ps records it: tau of each update folded into the buffer, as the series "staleness" (one
/// point per update, at its arrival) and Summary::stalenessMean / stalenessMax over the run.
///
/// Steps and stop: one Evaluator step = one server aggregation. An aggregation processes K updates of E epochs
/// over a part of n / N samples on average, i.e. K E / N epochs; the run plans `aggregations` (stop reason
/// "rounds") or ceil(epochs N / (K E)) aggregations (stop reason "epochs"). When the run stops, the clients still
/// training are told to stop: they end at their next local step (modelled as instantaneous, no message) and send
/// nothing, so the simulated time ends with the last aggregation, plus at most one local step and the messages
/// already in flight (models to just-launched clients, updates being uploaded; delivered, ignored).
///
/// Costs: a client is charged b_k x trainFlopsPerSample + the optimizer's flops per local step, plus N_p flops for
/// Delta_k (N_p = parameters); the server 2 N_p flops per update folded in and 2 N_p per aggregation. Messages:
/// 4 bytes x N_p each way. Proxy workloads: the same charges and sizes, no arithmetic.
///
/// Deviations from the paper: the server step is plain SGD with eta_g (the paper allows any server optimizer, e.g.
/// FedAvgM's momentum); updates are weighted by staleness only, not by the clients' sample counts (as the paper;
/// FedAvg weights by n_k); local training is E epochs of the scenario's optimizer (the paper: Q steps of SGD);
/// updates are sent dense, in the clear (no compression, secure aggregation or differential privacy); the
/// refillOnAggregation variant above; the stop of the clients still training at the end is instantaneous.
class FedBuff final : public Strategy {
public:
    enum Tag { ToClient = 1, ToServer = 2 };
    enum Kind { Model = 1, Update = 2 };

    struct Settings {
        int concurrency = 10;           ///< clients training at once, in [1, N]
        int bufferSize = 10;            ///< K >= 1 updates per aggregation (<= concurrency with refillOnAggregation)
        double serverLearningRate = 1;  ///< eta_g > 0
        int localEpochs = 1;            ///< E >= 1
        int aggregations = 0;           ///< >= 0; 0 = from TrainingConfig::epochs
        double failureDetection = 1;    ///< s between checks for clients whose device went off (> 0)
        bool refillOnAggregation = false;
    };

    /// `clients` = N >= 1. Throws ConfigError with the scenario path of a bad value ("strategy.concurrency",
    /// "strategy.buffer_size", "strategy.server_learning_rate", "strategy.local_epochs", "strategy.rounds",
    /// "strategy.failure_detection", "workload.batch_size", and what makePartition throws).
    FedBuff(int clients, const Settings& settings, const TrainingConfig& cfg, const TrainTest& data, MetricsSink& sink);
    int numRanks() const override { return m_clients + 1; }
    std::string roleOf(int rank) const override { return rank == m_clients ? "server" : "client"; }
    bool launchedAtStart(int rank) const override { return rank == m_clients; }
    std::vector<std::string> failureTolerantRoles() const override { return {"client"}; }
    void run(int rank, Transport& t) override;
    std::string stopReason() const override { return m_evaluator.stopReason(); }
    void completeSummary(Summary& s) const override;
    const Eigen::VectorXf& finalModel() const override { return m_final; }
    const std::vector<std::vector<int>>* shards() const override { return &m_partition; }
    const Partition& partition() const { return m_partition; }
    const Settings& settings() const { return m_settings; }

    /// The aggregations the run plans (before run.max_steps caps them).
    long plannedAggregations() const { return m_planned; }
    /// s(tau) = 1 / sqrt(1 + tau), tau >= 0.
    static double stalenessWeight(long tau);

    /// One update folded into an aggregation's buffer, in arrival order.
    struct Contribution {
        int client = -1;
        long version = 0;   ///< the model version it trained on
        long staleness = 0; ///< tau
        std::shared_ptr<const Eigen::VectorXf> update; ///< Delta_k as received (null for a proxy)
    };
    /// Called after each aggregation with the new version (>= 1), its K contributions and the new global model
    /// (empty for a proxy). For tests and tools; no simulated time.
    using AggregationObserver =
        std::function<void(long version, const std::vector<Contribution>&, const Eigen::VectorXf& params)>;
    void setAggregationObserver(AggregationObserver f) { m_observer = std::move(f); }
    /// Called at each launch of a client whose device is on, with the client and the version it is sent.
    using LaunchObserver = std::function<void(int client, long version, double time)>;
    void setLaunchObserver(LaunchObserver f) { m_launchObserver = std::move(f); }
    /// Clients whose device went off while they trained (replaced), over the run.
    long failedClients() const { return m_failed; }

private:
    void runServer(Transport& t);
    void runClient(int rank, Transport& t);
    VectorPool m_pool;
    int m_clients;
    Settings m_settings;
    TrainingConfig m_cfg;
    const TrainTest& m_data;
    Workload m_workload;
    Partition m_partition;
    long m_planned;
    Evaluator m_evaluator;
    std::vector<std::unique_ptr<BatchSampler>> m_samplers; ///< per client, created when first launched
    Eigen::VectorXf m_final;
    MetricsSink& m_sink;
    bool m_stopping = false; ///< the run ended: clients still training stop at their next local step
    double m_stalenessSum = 0;
    long m_stalenessCount = 0;
    long m_stalenessMax = -1;
    long m_failed = 0;
    AggregationObserver m_observer;
    LaunchObserver m_launchObserver;
};

} // namespace dml
