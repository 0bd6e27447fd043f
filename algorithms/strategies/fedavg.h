// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
#include "compression/codec.h"
#include "evaluator.h"
#include "privacy/ledger.h"
#include "privacy/secagg.h"
#include "models/model.h"
#include "optim/optimizer.h"
#include "data/partition.h"
#include "strategy.h"
#include "vectorpool.h"
#include "models/workload.h"

#include <functional>
#include <map>
#include <memory>
#include <vector>

namespace dml {

/// Federated averaging (McMahan et al. 2017, "Communication-efficient learning of deep networks from
/// decentralized data", Algorithm 1 FederatedAveraging), optionally with the FedProx proximal term (Li et al.
/// 2020, "Federated optimization in heterogeneous networks", Sec. 3, Eq. 2).
///
/// Ranks 0..K-1 are clients (the population, K = StrategySpec::workers), rank K the server. Each round t the
/// server samples m = max(1, round(C K)) clients without replacement (seeded: deriveSeed(seed, 0xFEDA, t)),
/// launches them (Transport::launch: only the clients active in a round are simulated, so K = 10,000 is cheap)
/// and sends each the global model w_t. Client k runs E local epochs of mini-batch SGD on its part P_k of
/// makePartition, with batch b_k = min(B, |P_k|) (a part smaller than B is one batch), a fresh optimizer of
/// TrainingConfig::optimizer, and, if mu > 0, the gradient of the proximal objective
/// F_k(w) + mu/2 ||w - w_t||^2, i.e. grad += mu (w - w_t). It sends back its model w^k, its sample count
/// n_k = |P_k| (in Message::version) and its mean local loss. The server sets
/// w_{t+1} = sum_k (n_k / n) w^k over the sampled clients, n = sum of their n_k, accumulated in client-rank
/// order, and is charged 2 m N flops for it.
///
/// Round rules (setRoundRules; Bonawitz et al. 2019, "Towards federated learning at scale: system design",
/// Sec. 2-3, selection and reporting phases). A round closes as soon as `targetClients` reports arrived (0 = every
/// sampled client), or when `deadline` simulated seconds have passed since the model broadcast (0 = no deadline),
/// whichever comes first. Over-selection: the server samples m clients as above; a scenario that wants some
/// margin sets C so that m exceeds the target (the paper over-selects by 30 %). Sampled devices that are off
/// (Transport::peerFailed right after launch) take no part in the round and are not replaced: the over-selection
/// margin covers them (variant: Bonawitz et al. select only among devices that checked in). A sampled client
/// still training for an earlier round that abandoned it is also left out (a device trains one task at a time).
/// Clients still training when the round closes are abandoned: their late reports are discarded when they arrive,
/// never averaged into a later round (a report from a client not launched for the current round is stale; a client
/// is not launched again before its late report arrived or its device went off). Their participation windows end
/// when their bodies return; the clients that reported wait (idle) until the aggregation.
///
/// Drop-outs (dynamic platforms): a sampled client whose device goes off during the round (Transport::peerFailed)
/// drops out of it. With a deadline the server simply waits for reports until the deadline (no polling: a client
/// that went off never reports, so the deadline bounds the wait). Without a deadline it checks for failed clients
/// every `failureDetection` seconds while it waits (scenario strategy.failure_detection, default 1 s; the only
/// polling left), stops waiting for them, and averages over the clients that replied (n = the sum of their n_k;
/// charged 2 m' N flops for m' replies); if none replied, w_{t+1} = w_t. The sampled clients not averaged in a
/// round (off, busy, dropped out or abandoned) are reported as the series "dropped_clients" and the clients
/// averaged as "reporting_clients", one point each per round at the aggregation (from the first round with a
/// drop-out on, or from the first round when round rules are set). With the default rules (no deadline, target 0,
/// detection 1 s) the results are those of plain FedAvg with a 1 s failure check, bit for bit.
///
/// Local epochs follow BatchSampler: floor(|P_k| / b_k) batches per epoch (the tail dropped), a fresh seeded
/// shuffle per epoch; each client's sampler (seeded workerSeed(seed, k)) persists across the rounds it is
/// sampled in. Clients are charged b_k x trainFlopsPerSample per local step, plus 3N for the proximal term,
/// plus the optimizer's flops. Messages: 4 bytes x N each way.
///
/// Rounds: StrategySpec::rounds if > 0 (stop reason "rounds"); otherwise enough rounds for run.epochs passes
/// over the data in expectation: a round processes m E n/K samples on average, so one pass takes K / (m E)
/// rounds and the run plans ceil(epochs K / (m E)) rounds (stop reason "epochs"). One Evaluator step = one
/// round; Sample::epoch = rounds x m E / K; the default evaluation interval is round(K / (m E)) rounds.
class FederatedAveraging final : public Strategy {
public:
    enum Tag { ToClient = 1, ToServer = 2 };
    /// Model: the global model (to a client) or a client's report. The others are secure aggregation's messages
    /// (setSecureAggregation): the four rounds' uploads and downloads, an abort, and a client's goodbye after one.
    enum Kind {
        Model = 1,
        AdvertiseKeys = 3,
        KeyList = 4,
        ShareKeys = 5,
        SharesForYou = 6,
        MaskedInput = 7,
        UnmaskRequest = 8,
        UnmaskShares = 9,
        Abort = 10,
        Bye = 11,
    };

    /// `clients` = K, `clientFraction` = C in (0, 1], `localEpochs` = E >= 1, `proxMu` = mu >= 0,
    /// `rounds` >= 0 (0 = from cfg.epochs). Throws ConfigError with the scenario path of a bad value
    /// ("strategy.client_fraction", "strategy.local_epochs", "strategy.prox_mu", "strategy.rounds",
    /// "workload.batch_size", and what makePartition throws).
    FederatedAveraging(int clients, double clientFraction, int localEpochs, double proxMu, int rounds,
                       const TrainingConfig& cfg, const TrainTest& data, MetricsSink& sink);
    int numRanks() const override { return m_clients + 1; }
    std::string roleOf(int rank) const override { return rank == m_clients ? "server" : "client"; }
    bool launchedAtStart(int rank) const override { return rank == m_clients; }
    std::vector<std::string> failureTolerantRoles() const override { return {"client"}; }
    void run(int rank, Transport& t) override;
    std::string stopReason() const override { return m_evaluator.stopReason(); }
    void completeSummary(Summary& s) const override;
    const Eigen::VectorXf& finalModel() const override { return m_final; }
    /// Starts the initial model's evaluation (Evaluator::prestartInitial) and, where no client can drop out of round 1
    /// (no peer can fail, no round rules, no observer), its clients' training (the plain average,
    /// strategies/reportsum.h) before the simulation: both depend only on the initial model and the clients' samplers.
    void prepare(bool peersCanFail) override;

    /// m, the clients sampled per round.
    int clientsPerRound() const { return m_perRound; }
    /// Rounds the run plans (before run.max_steps caps them).
    long plannedRounds() const { return m_plannedRounds; }
    /// The clients sampled in round `round` (>= 1), in increasing rank order.
    std::vector<int> sampleClients(long round) const;
    /// The partition of the training set over the K clients.
    const Partition& partition() const { return m_partition; }
    const std::vector<std::vector<int>>* shards() const override { return &m_partition; }
    /// When a round closes (see the class comment). Units: simulated seconds.
    struct RoundRules {
        double deadline = 0;         ///< s after the model broadcast; 0 = none (>= 0)
        int targetClients = 0;       ///< reports that close the round; 0 = all sampled clients (in [0, m])
        double failureDetection = 1; ///< without a deadline: s between checks for clients that went off (> 0)
    };
    /// Throws ConfigError "strategy.round_deadline", "strategy.target_clients" (more than m =
    /// clientsPerRound()) or "strategy.failure_detection" for a bad value.
    void setRoundRules(const RoundRules& rules);
    const RoundRules& roundRules() const { return m_rules; }
    /// Called after each round's average with the round, its sampled clients, the replies that were averaged
    /// (client-rank order; Message::version = n_k) and the new global model. For tests and tools; no simulated time.
    using RoundObserver = std::function<void(long round, const std::vector<int>& selected,
                                             const std::vector<const Message*>& counted,
                                             const Eigen::VectorXf& params)>;
    void setRoundObserver(RoundObserver f) { m_roundObserver = std::move(f); }
    /// Compression of the clients' model updates (Konecny et al. 2016, "Federated learning: strategies for
    /// improving communication efficiency", sketched updates): a client sends its update Delta_k = w_k - w_t
    /// encoded; the server forms w_{t+1} = w_t + sum_k (n_k / n) decode(Delta_k). With error feedback each client
    /// keeps its residual across the rounds it is sampled in (allocated when it is first sampled: n floats per
    /// client that ever took part). makeStrategy validated the spec (checkCompression).
    void setCompression(const compression::CompressionSpec& spec);
    /// User-level differential privacy, DP-FedAvg (McMahan et al. 2018, "Learning differentially private
    /// recurrent language models", Algorithm 1): each client clips its update Delta_k = w_k - w_t to L2 norm C
    /// (privacy::clipToNorm; charged 3N flops); the server forms w_{t+1} = w_t + (sum_k Delta_k + N(0, (z C)^2 I))
    /// / m over the clients that reported, with the fixed denominator m = the clients sampled per round (the
    /// paper's estimator f~_f with uniform weights w_k = 1, so qW = m; a dropped client only lowers the sum), and
    /// noise seeded deriveSeed(seed, 0xD9, round). Accounting (privacy/rdp.h): one sampled Gaussian mechanism per
    /// round with q = m / K and noise multiplier z; epsilon at delta is reported per round as the series
    /// "epsilon" and in the summary. Deviation: clients are sampled as a fixed-size subset without replacement and
    /// accounted as Poisson sampling with q = m / K, as TensorFlow Federated's and Opacus's users commonly do; the
    /// paper samples each client independently with probability q. With target_epsilon > 0 the run stops (reason
    /// "privacy_budget") after the last round whose epsilon stays within it. With compression, the clipped update
    /// is what is encoded. makeStrategy validated the spec (checkPrivacy).
    void setPrivacy(const privacy::PrivacySpec& spec);
    /// Secure aggregation (Bonawitz et al. 2017, "Practical secure aggregation for privacy-preserving machine
    /// learning", CCS'17; privacy/secagg.h), the honest-but-curious protocol around each round's sum, with its
    /// four rounds as real messages and its computation charged by secAggCost() (privacy::SecAggConstants):
    ///  - AdvertiseKeys and ShareKeys right after the model broadcast (they do not depend on the input; Bonawitz et
    ///    al. 2019, Sec. 6, also run them before the devices commit their updates): each launched client sends two
    ///    public keys, the server sends each of them the list U1; each client of U1 sends |U1| - 1 encrypted Shamir
    ///    shares of s_u^SK and b_u, the server forwards to each client of U2 the shares addressed to it. A round
    ///    deadline bounds these waits as well; clients that go off (Transport::peerFailed) are left out.
    ///  - The client trains, then (MaskedInputCollection) sends y_u = x_u + PRG(b_u) + sum_v p_{u,v} mod R: N
    ///    elements of `bits` bits (plus one for the weight, see below), instead of its model. The round rules apply
    ///    here as to plain reports (deadline, target_clients, failure detection); the clients of U2 that did not
    ///    report by the close are the paper's drop-outs after ShareKeys, abandoned as in plain FedAvg.
    ///  - Unmasking: the server sends each client of U3 the survivor list; each answers with its shares (b_v of
    ///    the survivors, s_v^SK of the drop-outs); the server waits for them (failure detection as usual),
    ///    reconstructs from the first t answers and removes the masks.
    /// If fewer than t clients are left at any phase (t = spec.threshold, default floor(2m/3) + 1), the round
    /// fails: nothing is aggregated, the global model stays, and Summary::secAggFailedRounds counts it. Clients
    /// that are still alive and not done get an Abort and answer it with a goodbye (Bye); until then they are busy
    /// (not launched again).
    /// Input: with DP-FedAvg the client's clipped update Delta_k, every coordinate within [-C, C], encoded with
    /// range C (FixedPoint, summed unweighted); the server adds the noise to the decoded sum and divides by m as
    /// DP-FedAvg does. Without DP (variant of TensorFlow Federated's weighted mean under secure aggregation): the
    /// client clamps Delta_k to [-range, range] and sends n_k clamp(Delta_k) and n_k (one more element), both
    /// secure-summed; w_{t+1} = w_t + sum_k n_k Delta_k / sum_k n_k. The weight bound is the largest client part
    /// (public here, since the server made the partition). The scale is the largest power of two whose sum cannot
    /// wrap (makeFixedPoint, which refuses an absurd step naming "strategy.secure_aggregation.bits").
    /// Proxy workloads do no arithmetic and charge the same costs. Series "secagg_seconds" per round; Summary
    /// secureAggregation, secAggSeconds, secAggBytes, secAggFailedRounds. The round observer's `counted` are the
    /// masked inputs of U3 (Message::data null, version = the round, not n_k). Call after setPrivacy.
    void setSecureAggregation(const privacy::SecAggSpec& spec);
    /// The fixed point in use (valid when secure aggregation is on, for a real or a proxy workload).
    const privacy::FixedPoint& secAggFixedPoint() const { return m_fixed; }
    /// t, the Shamir threshold of every round (0 when secure aggregation is off).
    int secAggThreshold() const { return m_secThreshold; }
    /// The cost constants charged (a test may replace them before the run).
    void setSecAggConstants(const privacy::SecAggConstants& c) { m_secCosts = c; }
    /// Sampled clients that dropped out, over the whole run (valid after the run).
    long droppedClients() const { return m_droppedTotal; }
    /// Rounds whose plain average was summed while the clients finished (strategies/reportsum.h), and of those the
    /// rounds whose clients sent no model (no peer could fail, no round rules, no observer). Valid after the run.
    long streamedRounds() const { return m_streamedRounds; }
    long roundsWithoutModels() const { return m_roundsWithoutModels; }

private:
    VectorPool m_pool; ///< models and gradients, reused across steps and clients
    void runServer(Transport& t);
    void runClient(int rank, Transport& t);
    /// Without secure aggregation: waits for the reports of the round's launched clients (done[i] 0 = waiting,
    /// 1 = out, 2 = reported, into replies[i]) until the round rules close it; marks the clients still training
    /// busy (abandoned). Returns the sampled clients that will not be averaged.
    int collectReports(Transport& t, const std::vector<int>& selected, std::vector<char>& done,
                       std::size_t outstanding, std::vector<Message>& replies);
    /// The round's aggregation of the reports `counted` into `params` (plain, compressed or DP-FedAvg), charged.
    void averageReports(Transport& t, long round, const std::vector<const Message*>& counted, Eigen::VectorXf& params);
    // The plain average, summed as the clients finish (strategies/reportsum.h): real workloads without
    // compression, DP-FedAvg or secure aggregation.
    struct StreamedRound; ///< one round's sum in progress, shared with its client bodies' training jobs
    bool streamsReports() const;
    /// The streamed round `round`, if it is the current one; nullptr otherwise.
    StreamedRound* streamedRound(long round) const;
    /// Whether a streamed round's clients send their models too: when the round may close without one of them
    /// (round rules, a peer that can fail) or the round observer wants them.
    bool keepsReports(bool peersCanFail) const;
    /// Starts round `round`'s sum over the clients launched (done[i] == 0) from the model `global`.
    void beginStreamedRound(bool keep, long round, const std::vector<int>& selected, const std::vector<char>& done,
                            const std::shared_ptr<const Eigen::VectorXf>& global);
    /// Submits the training of the client at position `pos` of the round, from `global`, into the round's sum.
    void submitStreamedTraining(StreamedRound& round, int pos, std::shared_ptr<const Eigen::VectorXf> global);
    /// Waits for the round's training jobs; if its sum holds exactly the clients that reported (done[i] == 2),
    /// swaps it into `params` and gives the replies of a round without models their losses.
    bool takeStreamedAverage(long round, const std::vector<char>& done, std::vector<Message>& replies,
                             Eigen::VectorXf& params);
    /// A client of a round whose models go into the sum only: its training job runs on while it reports.
    void runStreamedClient(int rank, Transport& t);
    int m_clients, m_perRound, m_localEpochs;
    double m_mu;
    TrainingConfig m_cfg;
    const TrainTest& m_data;
    Workload m_workload;
    Partition m_partition;
    long m_plannedRounds;
    Evaluator m_evaluator;
    std::vector<std::unique_ptr<BatchSampler>> m_samplers; ///< per client, created when first sampled
    Eigen::VectorXf m_final;
    MetricsSink& m_sink;
    RoundRules m_rules;
    std::vector<char> m_busy; ///< per client: abandoned by a round and maybe still training
    bool m_dropOutsReported = false;
    long m_droppedTotal = 0;
    RoundObserver m_roundObserver;
    compression::CompressionSpec m_compression;
    std::unique_ptr<compression::Compressor> m_compressor; ///< nullptr: none
    std::vector<std::unique_ptr<compression::GradientEncoder>> m_encoders; ///< per client, when first sampled
    compression::CompressionCounters m_counters;
    privacy::PrivacyLedger m_privacy;
    // Secure aggregation
    struct SecAggRound; ///< one round's protocol instance and announced sets, shared with its client bodies
    void secAggServerRound(Transport& t, long round, const std::vector<int>& selected, std::vector<char>& done,
                           std::vector<Message>& replies, Eigen::VectorXf& params, bool& failed);
    void secAggSend(Transport& t, int dst, int tag, Message m);
    privacy::SecAggSpec m_secAgg;
    privacy::FixedPoint m_fixed;
    privacy::SecAggConstants m_secCosts;
    int m_secThreshold = 0;
    long m_secMaxWeight = 1;
    std::map<long, std::shared_ptr<SecAggRound>> m_secRounds; ///< the current round's
    double m_secSeconds = 0, m_secBytes = 0;
    long m_secFailed = 0;
    Eigen::VectorXf m_sumStorage;              ///< the buffer of the next round's sum (the model before last)
    Eigen::VectorXf m_initialParams;           ///< made early (its evaluation prestarted) and taken by the server
    long m_streamedRounds = 0, m_roundsWithoutModels = 0;
    std::shared_ptr<StreamedRound> m_streamed; ///< the current round's; last, so its jobs end first
};

} // namespace dml
