// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// What a run reports, and the sink it reports through (JSON lines, SQLite, tests all implement MetricsSink).
#include <cstdint>
#include <string>
#include <vector>

namespace dml {

/// One evaluation of the global model. Times are simulated seconds.
struct Sample {
    double time = 0;          ///< simulated time of the evaluation, s
    long step = 0;            ///< global optimizer steps applied so far
    double epoch = 0;         ///< passes over the training set so far (fractional)
    double trainLoss = 0;     ///< mean mini-batch cross-entropy since the previous sample (NaN at step 0)
    double testLoss = 0;      ///< mean cross-entropy on the whole test set
    double testAccuracy = 0;  ///< fraction of test samples classified correctly, in [0, 1]
};

/// Time accounting of one simulated host over the run (README "Glossary"). Each of compute, communication and
/// idle is measured on its own; they partition the rank's participation window, so
/// compute + communication + idle = elapsed up to rounding (checked by tests, not imposed).
struct HostStats {
    std::string name;
    std::string role;            ///< "worker", "client" (fedavg) or "server"
    double speed = 0;            ///< flops/s
    double elapsed = 0;          ///< its participation windows, summed: from joining the training to leaving it, s
                                 ///< (a federated client: from each round's model broadcast to that round's
                                 ///< aggregation)
    double finish = 0;           ///< simulated time when its last participation window ended, s
    double compute = 0;          ///< time spent computing, s
    double communication = 0;    ///< time not computing while at least one of its own messages was in flight, s
    double idle = 0;             ///< time blocked (in a receive, a send's completion or a round's end) with none
                                 ///< of its own messages in flight: waiting for others, s
    double bytesSent = 0;        ///< payload bytes of its messages that were delivered
    double bytesReceived = 0;    ///< payload bytes delivered to it
    double bytesLost = 0;        ///< payload bytes of its messages that never arrived (a host or link failed)
    double flops = 0;
};

/// Traffic through one link over the run.
struct LinkStats {
    std::string name;         ///< SimGrid's name; a full-duplex link is two: NAME_UP and NAME_DOWN
    double bandwidth = 0;     ///< nominal, bytes/s
    double latency = 0;       ///< s
    double bytes = 0;         ///< payload bytes that crossed it
    double averageLoad = 0;   ///< bytes / simulated time of the run, bytes/s
    double utilization = 0;   ///< averageLoad / bandwidth, in [0, 1]
};

struct Summary {
    double finalAccuracy = 0;        ///< test accuracy of the last sample
    double finalTestLoss = 0;
    double bestAccuracy = 0;
    double simulatedTime = 0;        ///< s, until the last host finished
    double targetAccuracy = 0;       ///< 0 when the scenario sets none
    double timeToTarget = -1;        ///< simulated s of the first sample at or above the target; -1 if never
    double communicationOverhead = 0;///< sum of workers' (or clients') communication time / their summed elapsed time
    double utilization = 0;          ///< sum of workers' (or clients') compute time / their summed elapsed time
    double idleFraction = 0;         ///< sum of workers' (or clients') idle time / their summed elapsed time
    double bytesOnWire = 0;          ///< payload bytes of every delivered message
    double bytesLost = 0;            ///< payload bytes of messages whose transfer failed (not in bytesOnWire)
    bool accuracySimulated = true;   ///< false for proxy workloads: no real arithmetic, no accuracy
    double stalenessMean = -1;       ///< asynchronous strategies: mean staleness of the applied updates; -1 n/a
    double stalenessMax = -1;        ///< maximum staleness; -1 n/a
    long steps = 0;
    double epochs = 0;
    /// Evaluation grid (README "Evaluation"): the model is evaluated at the first step (or round) at which the
    /// epochs of data processed reach k x evalIntervalEpochs, k = 1, 2, ..., and at the end.
    double evalIntervalEpochs = 0;   ///< the grid's spacing, epochs of data processed
    double epochsPerStep = 0;        ///< training progress of one step (or round), epochs
    /// Non-empty when one step covers more than one grid interval, so evaluations are coarser than asked
    /// (e.g. "one round covers 1.00 epochs > the 0.25-epoch evaluation interval: evaluated every round").
    std::string evalNote;
    /// How the training set is split over the workers or clients (from the label histogram; parts = 0 when the
    /// strategy has none or the workload is a proxy).
    int partitionParts = 0;
    double partitionSizeMin = 0, partitionSizeMax = 0; ///< samples per part
    /// Mean over parts of the total-variation distance between the part's label distribution and the whole
    /// training set's, in [0, 1]: 0 = IID labels.
    double partitionLabelSkew = 0;
    double partitionLargestClassShare = 0; ///< mean over parts of the largest class's share of the part, in (0, 1]
    /// Gradient compression and local SGD (README "Communication-efficient training"): the messages the workers
    /// (or clients) send their gradients or model updates in. Counted as sent, before any loss.
    std::string compressor = "none"; ///< e.g. "topk 1% + EF", "qsgd 8-bit", "none"
    double uncompressedBytes = 0;    ///< fp32 size of the compressed messages (0 when compressor is "none")
    double compressedBytes = 0;      ///< their encoded size
    double codecSeconds = 0;         ///< simulated s spent encoding, decoding and aggregating, summed over hosts
    int localSteps = 1;              ///< local SGD: optimizer steps between two averagings (1 = every step)
    /// Differential privacy (README "Differential privacy"): the guarantee of the trained model, from the RDP
    /// accountant over the steps (or rounds) taken.
    std::string privacy = "none";    ///< e.g. "dp-fedavg z=1 C=0.5", "none"
    double epsilon = -1;             ///< epsilon of (epsilon, delta)-DP; -1 without privacy
    double delta = 0;                ///< delta of (epsilon, delta)-DP; 0 without privacy
    /// Secure aggregation (fedavg, strategy.secure_aggregation; Bonawitz et al. 2017): what the protocol cost.
    std::string secureAggregation = "none"; ///< e.g. "secagg 32-bit t=7", "none"
    double secAggSeconds = 0;        ///< simulated s the server spent in the protocol's extra rounds (AdvertiseKeys,
                                     ///< ShareKeys, Unmasking and the unmasking arithmetic), summed over rounds
    double secAggBytes = 0;          ///< payload bytes of its key, share, list, unmasking and abort messages, sent
                                     ///< by clients and server (the masked inputs, which replace the model uploads,
                                     ///< are not included)
    long secAggFailedRounds = 0;     ///< rounds that had fewer than t clients at some phase: nothing aggregated
    /// Failures and recovery (README "Failures"). Counted by the simulation (failures, restarts, lost work) and by
    /// the strategy (checkpoints).
    int failures = 0;                ///< rank failures (host crashes, ranks cut off by a link failure)
    int restarts = 0;                ///< checkpoint-restart: relaunches of every rank
    long lostSteps = 0;              ///< checkpoint-restart: global steps discarded by roll-backs, summed
    double lostComputeSeconds = 0;   ///< compute time (summed over ranks) spent on discarded work, s
    double recoverySeconds = 0;      ///< checkpoint-restart: time from each failure to the relaunch, summed, s
    int checkpoints = 0;             ///< checkpoints completed
    double checkpointSeconds = 0;    ///< simulated s spent writing them (the writer's time), summed
    /// Useful compute over available capacity: (compute time - lostComputeSeconds) summed over ranks, divided by
    /// ranks x simulatedTime; -1 when the run had no failure and no checkpoint.
    double goodput = -1;
    std::string stopReason;          ///< "epochs", "rounds" (fedavg with strategy.rounds), "max_steps",
                                     ///< "target_accuracy", "max_simulated_time"
};

/// One activity of one host, for timelines (the workbench's Gantt chart, Chrome trace export).
/// A gap between a host's spans is time it was blocked with nothing of its own in flight (idle) or, for a
/// federated client, outside the rounds it took part in.
struct Span {
    enum Kind : std::uint8_t { Compute = 0, Send = 1, Receive = 2 };
    int rank = 0;        ///< the host's rank
    Kind kind = Compute;
    int peer = -1;       ///< Send/Receive: the other rank
    double start = 0;    ///< simulated s
    double end = 0;      ///< simulated s
    double amount = 0;   ///< Compute: flops; Send/Receive: bytes
};

/// Receives a run's reports as they happen. Every method has an empty default.
class MetricsSink {
public:
    virtual ~MetricsSink() = default;
    virtual void sample(const Sample&) {}
    /// Called after every global step; cheap implementations only (throttle output yourself). It may block
    /// (a paused run waits here: the whole simulation waits, since SimGrid runs actors one at a time).
    virtual void progress(long /*step*/, long /*totalSteps*/, double /*time*/) {}
    /// Whether the user asked the run to end; checked after every global step. The run then ends gracefully
    /// with stop reason "stopped".
    virtual bool stopRequested() const { return false; }
    /// One point of a named series (e.g. "staleness": one point per applied update, value = staleness).
    virtual void point(const std::string& /*series*/, double /*time*/, double /*value*/) {}
    virtual void hostStats(const std::vector<HostStats>&) {}
    /// Every link that carried traffic, most bytes first; after hostStats, before summary.
    virtual void linkStats(const std::vector<LinkStats>&) {}
    /// Label histogram of the training data per worker or client, reported once before training:
    /// counts[rank][class] = samples of that class in that rank's shard (ranks in order, workers/clients only).
    virtual void labelHistogram(const std::vector<std::vector<int>>& /*counts*/) {}
    /// A batch of finished activities, in the order they ended (sent about every 50 ms of wall time).
    virtual void spans(const std::vector<Span>&) {}
    virtual void summary(const Summary&) {}
};

/// Fans reports out to several sinks.
class SinkList : public MetricsSink {
public:
    void add(MetricsSink* s) { m_sinks.push_back(s); }
    void sample(const Sample& s) override { for (auto* k : m_sinks) k->sample(s); }
    void progress(long a, long b, double t) override { for (auto* k : m_sinks) k->progress(a, b, t); }
    bool stopRequested() const override
    {
        for (auto* k : m_sinks)
            if (k->stopRequested())
                return true;
        return false;
    }
    void point(const std::string& n, double t, double v) override { for (auto* k : m_sinks) k->point(n, t, v); }
    void hostStats(const std::vector<HostStats>& h) override { for (auto* k : m_sinks) k->hostStats(h); }
    void linkStats(const std::vector<LinkStats>& l) override { for (auto* k : m_sinks) k->linkStats(l); }
    void spans(const std::vector<Span>& s) override { for (auto* k : m_sinks) k->spans(s); }
    void labelHistogram(const std::vector<std::vector<int>>& c) override { for (auto* k : m_sinks) k->labelHistogram(c); }
    void summary(const Summary& s) override { for (auto* k : m_sinks) k->summary(s); }

private:
    std::vector<MetricsSink*> m_sinks;
};

/// Builds the summary from the samples and host statistics (definitions in README.md, "Glossary").
/// Only hosts with role "worker" or "client" enter communicationOverhead and utilization, as sums over those hosts
/// of communication (or compute) divided by the sum of their elapsed times: a federated client contributes the
/// windows of the rounds it took part in (model broadcast to aggregation), a worker the whole run.
Summary summarize(const std::vector<Sample>& samples, const std::vector<HostStats>& hosts, double targetAccuracy);

} // namespace dml
