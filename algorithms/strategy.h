// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
#include "collectives/collectives.h"
#include "data/dataset.h"
#include "compression/spec.h"
#include "metrics.h"
#include "models/cnnspec.h"
#include "models/layercost.h"
#include "privacy/spec.h"
#include "strategies/overlap.h"
#include "optim/optimizer.h"
#include "transport.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace dml {

/// How the training set is split across workers or clients.
struct PartitionSpec {
    enum class Kind {
        Iid,               ///< seeded shuffle cut into equal shards
        Dirichlet,         ///< label skew, equal sizes: each part's class mix ~ Dir(alpha p) (Hsu, Qi & Brown 2019)
        DirichletPerClass, ///< each class split over the parts by Dir(alpha) weights (Yurochkin et al. 2019;
                           ///< NIID-Bench, Li et al. 2022): label skew plus quantity skew (sizes vary widely)
        Shards,            ///< McMahan et al. 2017's pathological split: sort by label, cut into shards,
                           ///< `shardsPerClient` each
    };
    Kind kind = Kind::Iid;
    double alpha = 0.5;      ///< Dirichlet and DirichletPerClass: concentration (> 0); small = more skew
    int shardsPerClient = 2; ///< Shards only
};

/// A model given only by its size and cost, for planning large models: the same compute charges and message
/// sizes as a real model, but no arithmetic on data and no accuracy. E.g. ResNet-50: 25.6M parameters,
/// 3 x 4.1 GFLOP per sample for forward+backward.
struct ProxyModel {
    long long parameters = 0;  ///< > 0 enables the proxy
    double trainFlopsPerSample = 0; ///< forward+backward, flops
    /// Optional, for overlap: the layers in forward order (their parameters add up to `parameters`, their forward
    /// + backward flops to trainFlopsPerSample). Empty: one layer, its backward pass 2/3 of trainFlopsPerSample.
    std::vector<LayerCost> layers;
};

/// The workload and run settings shared by every strategy.
struct TrainingConfig {
    std::vector<int> hidden;        ///< MLP hidden widths; empty = logistic regression
    CnnSpec cnn;                    ///< cnn.layers non-empty: this CNN instead of the MLP (hidden is ignored)
    OptimizerSpec optimizer;
    int batchSize = 32;             ///< per worker, samples
    int epochs = 1;                 ///< passes over the training set
    long maxSteps = 0;              ///< 0 = no limit
    int evalEverySteps = 0;         ///< evaluate every N steps; 0 = use evalEveryEpochs
    double evalEveryEpochs = 0;     ///< evaluate every x epochs (what a step is differs by strategy); 0 = 1 epoch
    double targetAccuracy = 0;      ///< for time-to-accuracy; 0 = none
    bool stopAtTarget = false;      ///< end the run when the target is reached
    double maxSimulatedTime = 0;    ///< s; 0 = no limit
    std::uint64_t seed = 1;
    PartitionSpec partition;
    ProxyModel proxy;               ///< proxy.parameters > 0: no real training (the dataset only gives sizes)
};

enum class StrategyKind { SyncPs, AsyncPs, RingAllReduce, FedAvg, HierFavg, FedBuff };

/// Checkpoint-restart (strategy.recovery "checkpoint-restart", README "Failures"), as TorchElastic does it: the
/// model and optimizer state are saved every K steps (or every T simulated seconds) to checkpoint storage; when a
/// rank fails, every rank is stopped once the failure is detected, and after the restart delay all of them start
/// again from the last completed checkpoint on replacement hosts (the same simulated hosts, turned back on).
struct CheckpointSpec {
    long everySteps = 0;        ///< save after every K global steps; 0 = by time only
    double everySeconds = 0;    ///< or at the first step boundary >= T simulated s after the previous save; 0 = off
    double writeBandwidth = 1e9;///< bytes/s of the checkpoint storage seen by each host (a SimGrid disk per host)
    double readBandwidth = 2e9; ///< bytes/s
    double restartDelay = 30;   ///< s from a failure's detection to the relaunch of every rank (scheduling,
                                ///< process start, rendezvous)
    int maxRestarts = 100;      ///< the run fails (stop reason "max_restarts") after this many restarts
    double failureDetection = 1;///< s from a failure to its detection (strategy.failure_detection; makeStrategy
                                ///< copies it here)
};

/// A completed checkpoint: the global step it saved and when its write completed (simulated s; 0 for the initial
/// state).
struct CheckpointRef {
    long step = 0;
    double time = 0;
};

struct StrategySpec {
    StrategyKind kind = StrategyKind::SyncPs;
    int workers = 1;            ///< workers (sync-ps, async-ps, ring-allreduce) or client population K (fedavg)
    int stalenessBound = -1;    ///< async-ps: stale-synchronous bound s in clocks (updates per worker; Ho et al.
                                ///< 2013); -1 = unbounded
    double clientFraction = 0.1;///< fedavg: C, fraction of clients sampled per round
    int localEpochs = 1;        ///< fedavg: E
    double proxMu = 0;          ///< fedavg: FedProx proximal term mu (Li et al. 2020); 0 = plain FedAvg
    int rounds = 0;             ///< fedavg: rounds to run (0 = derived from run.epochs)
    int backupWorkers = 0;      ///< sync-ps: b, backup workers whose gradients each step drops (Chen et al. 2016)
    double roundDeadline = 0;   ///< fedavg: s after the round's broadcast at which the round closes; 0 = none
    int targetClients = 0;      ///< fedavg: reports that close a round (over-selection, Bonawitz et al. 2019);
                                ///< 0 = all sampled clients
    double failureDetection = 1;///< s between checks for failed ranks: fedavg without a deadline, async-ps,
                                ///< sync-ps and ring-allreduce with recovery elastic, checkpoint-restart
    // fedbuff (Nguyen et al. 2022) also reads workers (the client population), localEpochs, rounds (server
    // aggregations) and failureDetection.
    int concurrency = 10;          ///< fedbuff: clients training at once, in [1, workers]
    int bufferSize = 10;           ///< fedbuff: K, client updates per server aggregation (>= 1)
    double serverLearningRate = 1; ///< fedbuff: eta_g, the server's step on the buffered mean update (> 0)
    bool refillOnAggregation = false; ///< fedbuff: start new clients at each aggregation, not at each report
    compression::CompressionSpec compression{}; ///< how workers' gradients (or clients' updates) travel
    int localSteps = 1;         ///< sync-ps, ring-allreduce: local SGD, H optimizer steps between averagings
    privacy::PrivacySpec privacy{}; ///< differential privacy (dp-fedavg for fedavg; dp-sgd for sync-ps, ring)
    privacy::SecAggSpec secureAggregation{}; ///< fedavg: secure aggregation (Bonawitz et al. 2017)
    enum class Recovery { None, Elastic, CheckpointRestart };
    Recovery recovery = Recovery::None; ///< what happens when a rank's host goes off (checkRecovery)
    CheckpointSpec checkpoint{};        ///< recovery CheckpointRestart: when and where state is saved
    int edgeServers = 1;        ///< hierfavg: S edge servers (on the edge platform, one per site)
    int edgeInterval = 0;       ///< hierfavg: kappa1, local steps per edge aggregation; 0 = one local epoch
    int cloudInterval = 1;      ///< hierfavg: kappa2, edge aggregations per cloud aggregation
    /// ring-allreduce: the all-reduce algorithm (strategy.collective), the node size of "hierarchical"
    /// (strategy.ranks_per_node) and the network "auto" chooses for (strategy.auto_latency, auto_bandwidth, or the
    /// platform's; see checkCollective)
    collectives::AllReduceSpec collective{};
    /// ring-allreduce and sync-ps: the backward pass overlapped with bucketed all-reduces or pushes
    /// (strategy.overlap, bucket_cap_mb; checkOverlap)
    OverlapSpec overlap{};
};

/// "sync-ps", "async-ps", "ring-allreduce", "fedavg", "hierfavg", "fedbuff".
const char* toString(StrategyKind k);

/// The rank roles whose hosts may go off without stalling the strategy: fedavg's "client"s (they drop out of a
/// round), async-ps's "worker"s (they stop pushing; the server goes on with the others), sync-ps's "worker"s with
/// recovery elastic (the barrier shrinks to the survivors), ring-allreduce's "worker"s with recovery elastic (the
/// survivors re-form the ring), and with checkpoint-restart every rank (all are restarted); fedbuff's "client"s
/// (each is replaced by another launch). Empty otherwise.
std::vector<std::string> failureTolerantRoles(const StrategySpec& spec);

/// A distributed training algorithm, as a set of ranks that each run a function over a Transport.
class Strategy {
public:
    virtual ~Strategy() = default;
    virtual int numRanks() const = 0;
    /// "worker", "server", ...
    virtual std::string roleOf(int rank) const = 0;
    /// The body of rank `rank`; returns when that rank is done.
    virtual void run(int rank, Transport& t) = 0;
    /// Whether rank `rank` starts with the simulation (true) or only when another rank launches it.
    virtual bool launchedAtStart(int /*rank*/) const { return true; }
    /// Called once before the platform is built, with what Transport::peersCanFail() will answer during the run:
    /// a strategy may start real arithmetic that depends on nothing the simulation decides, so that it runs on an
    /// idle core while SimGrid builds the platform (parallel.h). No simulated time exists yet. Default: nothing.
    virtual void prepare(bool /*peersCanFail*/) {}
    /// When a rank launched at the start begins, simulated s (>= 0, finite): its participation window opens then, and
    /// the time before counts as nothing (neither idle nor compute). 0 for every single strategy; several jobs on one
    /// platform (strategies/jobs.h) start a job's ranks at the job's start time.
    virtual double startTime(int /*rank*/) const { return 0; }
    /// The name of rank `rank`'s host, or "" for the default by role ("worker-3", "server"; sim::hostNames). Several
    /// jobs on one platform prefix their jobs' names ("a/worker-3").
    virtual std::string hostName(int /*rank*/) const { return {}; }
    /// Which job rank `rank` belongs to, in [0, jobs): 0 for every single strategy (strategies/jobs.h has several).
    /// The simulation counts each job's link traffic on its own (SimulationResult::linksByJob).
    virtual int jobOf(int /*rank*/) const { return 0; }
    /// Why the run ended (see Summary::stopReason); valid after every rank returned.
    virtual std::string stopReason() const = 0;
    /// The trained global model (numParams floats; empty for proxy workloads); valid after every rank returned.
    virtual const Eigen::VectorXf& finalModel() const = 0;
    /// How the training set is split over the workers or clients (one shard per worker/client rank, in rank
    /// order); nullptr if the strategy has none.
    virtual const std::vector<std::vector<int>>* shards() const { return nullptr; }
    /// The roles of ranks whose hosts may go off (see dml::failureTolerantRoles).
    virtual std::vector<std::string> failureTolerantRoles() const { return {}; }
    /// Fills the strategy-specific parts of the summary (e.g. staleness); valid after every rank returned.
    virtual void completeSummary(Summary&) const {}

    /// Checkpoint-restart: the policy when the strategy saves checkpoints, nullptr otherwise. The simulation's
    /// supervisor then restarts every rank after a failure (restoreCheckpoint, then launch of every rank whose
    /// launchedAtStart() is true).
    virtual const CheckpointSpec* checkpointing() const { return nullptr; }
    /// Checkpoint-restart: global steps applied so far (for the steps lost at a failure).
    virtual long progress() const { return 0; }
    /// Checkpoint-restart: called while no rank runs (the supervisor killed them all). Puts every rank's state back
    /// to the last completed checkpoint (the initial state if none was completed), so that the relaunched bodies
    /// continue from it and redo the lost steps bit for bit; returns that checkpoint.
    virtual CheckpointRef restoreCheckpoint() { return {}; }
};

/// Builds the strategy. `data` and `sink` must outlive it.
///  - SyncPs:        SyncParameterServer(spec.workers, ..., spec.backupWorkers)
///  - AsyncPs:       AsyncParameterServer(spec.workers, spec.stalenessBound, ...)
///  - RingAllReduce: RingAllReduceStrategy(spec.workers, ...) with setRecovery(spec.recovery == Elastic,
///                   spec.failureDetection)
///  - HierFavg:      HierarchicalFedAvg(spec.workers = K, spec.edgeServers, spec.edgeInterval, spec.cloudInterval,
///                                      spec.rounds, spec.failureDetection, ...)
///  - FedAvg:        FederatedAveraging(spec.workers = K, spec.clientFraction, spec.localEpochs, spec.proxMu,
///                                      spec.rounds, ...) with setRoundRules({spec.roundDeadline,
///                                      spec.targetClients, spec.failureDetection})
///  - FedBuff:       FedBuff(spec.workers = population, FedBuff::Settings from spec.concurrency, spec.bufferSize,
///                           spec.serverLearningRate, spec.localEpochs, spec.rounds, spec.failureDetection and
///                           spec.refillOnAggregation); no compression, privacy or recovery
/// Throws ConfigError (with the scenario path) for impossible settings: more workers than samples, a batch larger
/// than a worker's part (not for fedavg, whose small clients train on their whole part), a staleness bound below
/// -1, backup workers outside [0, workers) ("strategy.backup_workers"), C outside (0, 1], E < 1, mu < 0, rounds < 0,
/// a negative round deadline, a target outside [0, m], a failure detection interval <= 0, a non-IID partitioning of a proxy workload, bad partitioning
/// parameters, and compression or local SGD where it makes no sense (checkCompression).
/// Compression and local steps reach the strategies through their setCompression().
std::unique_ptr<Strategy> makeStrategy(const StrategySpec& spec, const TrainingConfig& cfg, const TrainTest& data,
                                       MetricsSink& sink);

/// Throws ConfigError naming the field ("strategy.compression.<field>", "strategy.local_steps") when the
/// compression or local SGD settings are out of range or make no sense for the strategy:
///  - ratio outside (0, 1], bits outside [2, 17], bucket < 0, rank < 1, local_steps < 1;
///  - powersgd anywhere but sync-ps and ring-allreduce (its factors must be averaged over all workers every
///    step), with backup workers, with local SGD, or on a proxy workload (it needs the layers' shapes);
///  - momentum_correction without topk or randomk, without the momentum optimizer, or outside sync-ps and
///    ring-allreduce, or with local SGD;
///  - signSGD by majority vote (sign without error feedback) with fedavg or local SGD: a vote of model updates
///    has no step size;
///  - local_steps > 1 anywhere but sync-ps and ring-allreduce (fedavg has local_epochs).
void checkCompression(const StrategySpec& spec, const TrainingConfig& cfg);

/// Throws ConfigError "strategy.recovery" for a recovery the strategy does not have (elastic is sync-ps's and
/// ring-allreduce's; async-ps and fedavg tolerate failures without it), elastic with powersgd (its two averagings
/// need the same workers), elastic ring-allreduce with local_steps > 1 (the local models and optimizers are not
/// rolled back) or dp-sgd (a redone step would release a second noisy average that the accountant does not count);
/// checkpoint-restart only for sync-ps (and ring-allreduce), without compression, local SGD or privacy (their
/// per-worker state is not saved yet), with a positive interval ("strategy.checkpoint.every_steps" or ".every"),
/// bandwidths, restart delay and failure detection.
void checkRecovery(const StrategySpec& spec);

/// Throws ConfigError naming the field when the all-reduce algorithm (spec.collective) does not fit:
///  - "strategy.collective": another algorithm than "ring" for a strategy without all-reduce (anything but
///    ring-allreduce), with compression (the compressed all-reduce runs the ring's chunk schedule) or with recovery
///    elastic (the survivors re-form a ring);
///  - "strategy.ranks_per_node": a node size other than 1 without "hierarchical", or one that does not divide the
///    workers;
///  - "strategy.auto_bandwidth" / "strategy.auto_latency": "auto" without a positive bandwidth or with a negative
///    latency in spec.collective.cost.
void checkCollective(const StrategySpec& spec);

/// Throws ConfigError naming the field when the overlap settings do not fit: "strategy.bucket_cap_mb" for a
/// bucket size that is not finite and > 0; "strategy.overlap" with a strategy other than ring-allreduce and
/// sync-ps, or with compression, local SGD, differential privacy, recovery or backup workers.
void checkOverlap(const StrategySpec& spec);

/// Throws ConfigError naming the field ("strategy.privacy.<field>") when the privacy settings are out of range or
/// do not fit the strategy: dp-fedavg only with fedavg, dp-sgd only with sync-ps and ring-allreduce (and without
/// local SGD or compression: its guarantee is for the noisy averaged gradient as the paper defines it); clip <= 0,
/// noise multiplier < 0, delta outside (0, 1), target epsilon < 0; a target epsilon with noise 0 (no finite
/// epsilon).
void checkPrivacy(const StrategySpec& spec, const TrainingConfig& cfg);

/// Throws ConfigError naming the field ("strategy.secure_aggregation.<field>") when secure aggregation is on and
/// does not fit: only for fedavg, not with compression (the masked sum needs every client's whole vector in Z_R),
/// at least 2 clients per round; bits outside [16, 32], a range that is not > 0, a threshold outside [0, m] or above
/// target_clients (every round would fail). The fixed point's step is checked by
/// FederatedAveraging::setSecureAggregation, which knows the clients' sample counts.
void checkSecureAggregation(const StrategySpec& spec, const TrainingConfig& cfg);

/// Steps per epoch when `workers` workers each draw batches of `batch` from IID shards of `samples`.
long stepsPerEpoch(int samples, int workers, int batch);

} // namespace dml
