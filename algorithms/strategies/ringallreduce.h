// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
#include "compression/codec.h"
#include "evaluator.h"
#include "privacy/ledger.h"
#include "recovery/checkpoint.h"
#include "models/model.h"
#include "optim/optimizer.h"
#include "data/partition.h"
#include "strategy.h"
#include "models/workload.h"

#include <functional>
#include <map>
#include <memory>
#include <vector>

namespace dml {

/// Two scalars that ride along a ringAllReduce at no extra bytes, in the messages that carry chunk 0: a sum
/// (e.g. the workers' mini-batch losses) and a bitwise OR of flags (e.g. "stop after this step").
struct RingScalars {
    double sum = 0; ///< in: this rank's term; out: the sum over ranks, added in rank order 0, 1, ..., P-1
    long flags = 0; ///< in: this rank's bits; out: the OR over ranks
};

/// Bandwidth-optimal ring all-reduce (Patarasuk & Yuan 2009, "Bandwidth optimal all-reduce algorithms for
/// clusters of workstations", Sec. 3; as in Horovod, Sergeev & Del Balso 2018): a reduce-scatter of P-1 steps
/// followed by an all-gather of P-1 steps. The vector is cut into P chunks of near-equal length (lengths differ
/// by at most one: the first N mod P chunks hold one more element). In every step each rank sends one chunk to
/// (rank+1) mod P and receives one from (rank-1+P) mod P (isend, recv, waitAll).
///  - Reduce-scatter step s = 0..P-2: send chunk (rank-s) mod P, receive chunk (rank-s-1) mod P and add it into
///    the local copy (charged 1 flop per element added). Afterwards rank r holds the full sum of chunk (r+1) mod P.
///  - All-gather step s = 0..P-2: send chunk (rank+1-s) mod P, receive chunk (rank-s) mod P and overwrite it.
///
/// Result: `*data` becomes the element-wise SUM over the P ranks (not the mean: callers divide). Chunk c is summed
/// in the fixed ring order c, c+1, ..., c+P-1 (mod P), never in arrival order, and then copied to every rank, so
/// all ranks end with bit-identical vectors.
///
/// Must be called by all P ranks with the same P, N, totalBytes and tagBase; uses channel `tagBase` only.
/// `data`: N floats (the same N on every rank), or nullptr for a proxy workload, in which case N =
/// round(totalBytes / 4) is used for the chunk lengths and the additions are charged but not done. A chunk of
/// len elements is sent as totalBytes x len / N bytes. Simulated time under the alpha-beta model with P ranks on
/// private links of bandwidth B: 2(P-1)(alpha + totalBytes/(P B)) plus the additions.
/// `scalars` (optional): see RingScalars. P == 1 leaves everything unchanged.
void ringAllReduce(Transport& t, int rank, int P, Eigen::VectorXf* data, double totalBytes, int tagBase,
                   RingScalars* scalars = nullptr);

/// Chunk c's [begin, end) when N elements are cut into P near-equal chunks (as ringAllReduce does).
std::pair<Eigen::Index, Eigen::Index> ringChunk(Eigen::Index N, int P, int c);

/// An encoding shared between ranks (immutable once sent, so the transport never copies it).
using SharedEncoding = std::shared_ptr<const compression::Encoded>;

/// ringAllReduce's schedule over encoded chunks of a SUMMABLE format (Compressor::summable(): fp16, bf16, none,
/// random-k with a seed shared by the ranks), for compressed all-reduce as Horovod's fp16 compression and NCCL's
/// half-precision sum do it: the reduction itself runs in the encoded format.
///  - `chunks` (in): this rank's P chunk encodings, chunk c encoding elements ringChunk(n, P, c) of its vector;
///    (out): the P encodings of the reduced chunks, the same objects on every rank (the caller decodes them).
///  - Reduce-scatter step: the received partial encoding of chunk c and this rank's own are summed with
///    Compressor::sum({received, own}) (in the fixed ring order c, c+1, ..., c+P-1, as ringAllReduce adds, so
///    every rank ends with the same encodings); c.sumFlops(len, 2) per hop is charged as codec time in `counters`.
///    A 16-bit format therefore rounds each partial sum to 16 bits (P-1 roundings), as a 16-bit all-reduce does.
///  - All-gather step: the reduced encodings are forwarded as they are.
/// Each hop sends one chunk encoding: its Encoded::bytes(), or c.encodedBytes(len) when `chunks` is nullptr (a
/// proxy workload: nothing encoded, the flops still charged). Returns the bytes this rank sent,
/// sum over its 2(P-1) hops of the chunk encodings' sizes (= 2(P-1)/P x encodedBytes(n) when P divides n and the
/// format's size is linear in n). `scalars` ride with chunk 0 as in ringAllReduce. P == 1: nothing sent, 0.
double ringAllReduceEncoded(Transport& t, int rank, int P, const compression::Compressor& c,
                            std::vector<SharedEncoding>* chunks, Eigen::Index n, int tagBase,
                            compression::CompressionCounters& counters, RingScalars* scalars = nullptr);

/// Ring all-gather of one encoding per rank (for formats that cannot be summed: top-k, QSGD, sign; as Deep
/// Gradient Compression, Lin et al. 2018, and Horovod's sparse all-gather exchange sparse gradients): P-1 steps;
/// in step s each rank forwards to (rank+1) mod P the encoding of rank (rank-s) mod P (its own at s = 0) and
/// receives that of rank (rank-s-1) mod P. `parts` (in): parts[rank] is this rank's; (out): parts[r] is rank r's,
/// the sender's own object, so every rank holds the same P encodings. Every hop carries `bytes` bytes (the
/// encodings of every format here have a size fixed by n), so a rank sends (P-1) x bytes: unlike a reduction, the
/// traffic grows with P. `parts` nullptr: a proxy workload, bytes only. `scalars`: each message carries its
/// origin rank's terms; out, the sum is added in rank order 0..P-1 and the flags OR-ed, the same on every rank.
/// Returns the bytes this rank sent. P == 1: nothing sent, 0.
double ringAllGather(Transport& t, int rank, int P, std::vector<SharedEncoding>* parts, double bytes, int tagBase,
                     RingScalars* scalars = nullptr);

/// Data-parallel SGD with ring all-reduce, no server (Horovod: Sergeev & Del Balso 2018, Sec. 3; the
/// all-reduce of Patarasuk & Yuan 2009). Ranks 0..P-1 are workers, each with its own replica of the model and
/// its own copy of the optimizer, started from the same seeded initial parameters. Each step every worker
/// computes the gradient of its next mini-batch (from its part of makePartition), all-reduces it, divides the
/// sum by P and applies the optimizer: every replica applies the same averaged gradient, so the replicas stay
/// bit-identical. Workers are charged batch x trainFlopsPerSample per gradient, the chunk additions, and
/// N (the division) + the optimizer's flops per step.
///
/// Steps per epoch: stepsPerEpoch(samples, P, batch), as in SyncParameterServer. Rank 0 reports to the Evaluator;
/// the train loss is the mean of the P workers' mini-batch losses, summed along the all-reduce (RingScalars).
/// Stop: the planned last step is known to every rank. An early stop (target accuracy, simulated-time limit) is
/// decided by rank 0 after step k and announced in the flags of step k+1's all-reduce; every rank then discards
/// that step's reduced gradient, so the final model is the one evaluated at step k.
/// finalModel() = rank 0's replica.
///
/// Compression (setCompression; Summary::compressor, uncompressedBytes, compressedBytes, codecSeconds). Every
/// rank counts per all-reduce sent(2(P-1)/P x 4n, the bytes it actually sent): the first term is what it would have
/// sent in the dense fp32 ring all-reduce of the same vector. Nothing is counted without compression ("none").
///  - Summable formats (fp16, bf16, random-k; makeCompressor(spec, allReduce = true)): the rank's vector is
///    encoded chunk by chunk (ring chunks) and reduced IN the encoded format along ringAllReduceEncoded, as
///    Horovod's fp16 compression and NCCL's half-precision all-reduce do (each partial sum is rounded to 16 bits;
///    Horovod compresses, all-reduces in fp16 and decompresses). Random-k: the indices of chunk c come from
///    deriveSeed(deriveSeed(seed, tag, step), c), the same on every rank (not per rank), so the ranks' value arrays
///    add up; each chunk keeps `ratio` of its own elements. That shared-index variant is dmlsim's (Stich et al.
///    2018 draw independently per worker). Bytes per rank and step: sum over its 2(P-1) hops of the encoded chunk
///    sizes, e.g. 2(P-1)/P x 2n for fp16 and about 2(P-1)/P x 4 ratio n for random-k. Error feedback (Stich et al.
///    2018; Karimireddy et al. 2019) or DGC's momentum correction keep one memory over the whole vector: p = g + e,
///    the chunks of p encoded, e = p - (the decodings of the rank's own chunk encodings).
///  - Other formats (top-k, QSGD, sign): each rank encodes its whole (compensated) vector once (GradientEncoder:
///    error feedback or DGC memory) and the P encodings are all-gathered round the ring (ringAllGather; P-1 hops
///    of one encoding each, as DGC, Lin et al. 2018, and Horovod's sparse all-gather exchange sparse gradients:
///    the bytes grow with P, (P-1) x encodedBytes(n) per rank and step, e.g. (P-1) x 8k for top-k); every rank
///    then aggregates the P encodings in rank order (compression::aggregate, weights 1/P, or signSGD's majority
///    vote, Bernstein et al. 2018), so the replicas stay bit-identical. QSGD's seed is per rank and step.
///  - PowerSGD (Vogels et al. 2019, Alg. 1 with their error feedback): computeP, a ring all-reduce of the P
///    factors (fp32, summed then divided by P), computeQ, a ring all-reduce of the Q factors, decompress: every
///    rank applies the same rank-r approximation of the mean gradient. Bytes per rank and step: about
///    2(P-1)/P x (pBytes + qBytes).
///  - DGC momentum correction (Lin et al. 2018, Alg. 1): the ranks keep the momentum in their encoders and every
///    replica applies the aggregate with plain SGD of the same learning rate (no warm-up, no gradient clipping,
///    exact top-k instead of the sampled threshold: see dgc.h).
/// Local SGD (local_steps H > 1; Stich 2019, "Local SGD converges fast and communicates little"; Lin et al.
/// 2020, "Don't use large mini-batches, use local SGD"): each rank takes h = min(H, totalSteps - done) optimizer
/// steps on its own replica with its own optimizer (state kept across averagings), then the ranks all-reduce the
/// updates Delta = w_avg - w_local (dense, or compressed by any format above but PowerSGD, with its memory over
/// the updates) and set w_avg -= mean Delta, the average of their models (up to float rounding). The Evaluator's
/// step counts optimizer steps (done += h), so epochs compare with H = 1; the observer sees each averaging. An early
/// stop announced during a round discards it: every rank returns to the last average, the model rank 0 evaluated.
/// Codec time (CompressionCounters::compute): encodes, memories, the encoded reductions (c.sumFlops per hop),
/// decodes, aggregation, PowerSGD's three steps and its divisions by P. Proxy workloads carry no vectors: the
/// bytes come from encodedBytes() and the flops from the same formulas.
///
/// Elastic recovery (setRecovery; strategy.recovery "elastic"): see setRecovery.
class RingAllReduceStrategy final : public Strategy {
public:
    /// Channels: ring chunks; elastic recovery's join requests (to the leader) and decisions (from it).
    enum Tag { Ring = 1, Join = 2, Decision = 3 };
    /// Called by every worker after it applied step `step`, with its replica (numParams floats; empty for a
    /// proxy). For tests and tools, e.g. checking that replicas agree; charges no simulated time. With elastic
    /// recovery a step may be reported again: when it is redone, and when a survivor adopts the leader's state
    /// after a failure (its replica of the leader's step); the last report of a step counts.
    using ReplicaObserver = std::function<void(int rank, long step, const Eigen::VectorXf& params)>;

    RingAllReduceStrategy(int workers, const TrainingConfig& cfg, const TrainTest& data, MetricsSink& sink);
    int numRanks() const override { return m_workers; }
    std::string roleOf(int) const override { return "worker"; }
    void run(int rank, Transport& t) override;
    /// The Evaluator's reason; with elastic recovery "workers_failed" when every worker failed before the end.
    std::string stopReason() const override
    {
        return m_elastic && !m_finished && m_evaluator.stopReason().empty() ? "workers_failed"
                                                                            : m_evaluator.stopReason();
    }
    void completeSummary(Summary& s) const override
    {
        m_evaluator.completeSummary(s);
        m_counters.fill(m_compression, m_localSteps, s);
        m_privacy.fill(s);
    }
    const Eigen::VectorXf& finalModel() const override { return m_final; }
    const std::vector<std::vector<int>>* shards() const override { return &m_partition; }

    /// Compression of the all-reduced gradients and local SGD (makeStrategy validated them: checkCompression).
    void setCompression(const compression::CompressionSpec& spec, int localSteps = 1);
    /// Example-level DP-SGD (Abadi et al. 2016, Algorithm 1): each rank clips every example's gradient to C and
    /// all-reduces the sum over its batch (Workload::clippedGradientSum); every rank adds the same noise
    /// N(0, (z C)^2 I), drawn from deriveSeed(seed, 0xD95, step) (one draw of the mechanism, replicated so the
    /// replicas stay identical), and divides by the lot P x B. Accounting on rank 0, q = P B / (training samples),
    /// as SyncParameterServer::setPrivacy says (same deviation: shuffled lots accounted as Poisson).
    void setPrivacy(const privacy::PrivacySpec& spec) { m_privacy.setSpec(spec); }
    /// Elastic recovery, as Horovod Elastic does it (Sergeev & Del Balso 2018; Horovod's "Elastic Horovod"
    /// documentation: on a failure the survivors roll back to the last committed state, re-form the ring and go
    /// on; hosts that are discovered again are added back; hvd.elastic.State's restore(), reset and sync()).
    /// `failureDetection` (s, finite, > 0; ConfigError "strategy.failure_detection" otherwise) is a heartbeat
    /// timeout, as elastic sync PS and checkpoint-restart charge it: a worker's failure (its host going off, or a
    /// link failure cutting it off) is known to every rank exactly failureDetection after it happened
    /// (Transport::peerFailed and peerFailedAt), where Horovod learns of it from the collective's error or the
    /// driver's host discovery. Every wait for a ring chunk waits at most failureDetection at a time, or until the
    /// next failure becomes known, and then looks whether a member of the ring is known to have failed.
    ///  - Membership and generations. The ring is the live members in rank order. Its leader is the first live one
    ///    by seniority: the workers of the start in rank order, then re-joined ones in the order they were admitted
    ///    (so every rank names the same leader, whichever decisions it has seen). Each membership is a generation;
    ///    every ring message carries it (Message::generation) and a chunk of another generation (an aborted ring's,
    ///    still queued or in flight) is dropped.
    ///  - Abort and rendezvous. A rank that finds a failed member abandons the step's all-reduce and sends a join
    ///    request (its generation, step count and incarnation) to the leader. The leader waits for a request from
    ///    every live member (leaving out those that fail meanwhile; a request of an earlier body of a relaunched
    ///    worker is dropped: Transport::incarnation), then sends each a decision: the new generation, the members,
    ///    its own step count and, after a failure, its parameters and optimizer state (Horovod's state.sync()
    ///    broadcast from the new rank 0; sent to each survivor in turn, 4n bytes plus the optimizer's state). Every
    ///    survivor adopts them. The outcome is thus the leader's: if the leader had completed the step, the step
    ///    stands on every survivor; if not, it is redone over the survivors from the committed state, the state at
    ///    the start of the step. Either way the replicas stay bit-identical. A leader that fails during the
    ///    rendezvous is replaced by the next live one; a decision from a failed leader is dropped. The same
    ///    rendezvous, without a state transfer when no failure occurred, ends the run: no worker leaves while
    ///    another may still need it (so an elastic run without failures trains the same bits as recovery none and
    ///    ends one small message exchange later); a worker still waiting when a leader has ended the run (that
    ///    leader failed before its decision reached it) stops. A failure thus costs failure_detection (until it is
    ///    known), the rendezvous, the state transfer and the redone part of the step.
    ///  - Re-joining. At each step boundary the leader relaunches every failed worker whose host is on again
    ///    (Transport::launch; a host still off stays failed) and announces it in the next step's all-reduce (a flag
    ///    with the scalars); after that step every member joins a rendezvous, and so do the relaunched workers,
    ///    which are admitted with the leader's parameters and optimizer state (the transfer is charged) and enter
    ///    the ring at the next step. A relaunched worker whose leader fails asks the next one; one that finds no
    ///    live member gives up.
    ///  - Data. The failed workers' shards (of the partition over all P) are dealt round-robin over the survivors
    ///    (the j-th of their samples, in rank order, goes to the (j mod P_live)-th survivor), each survivor keeping
    ///    its own shard (a re-joined worker gets its own back); samplers restart from
    ///    deriveSeed(workerSeed(seed, rank), 0xE1A5, generation). An epoch becomes stepsPerEpoch(samples, P_live,
    ///    batch) steps (Evaluator::changeStepsPerEpoch): the remaining epochs are planned at that rate. The
    ///    gradient and loss are means over the P_live members (scale 1/P_live). shards() stays the partition over
    ///    all P.
    ///  - Reports. The leader reports to the Evaluator; series "live_workers" (one point per step),
    ///    "failed_workers" (one point per failure at its first detection by a survivor) and "rejoined_workers" (one
    ///    point per admission). If every worker fails, the run ends with stop reason "workers_failed" and
    ///    finalModel() is the last model reported.
    /// Deviations: the state travels leader -> each survivor (Horovod broadcasts along a tree or ring); a rank's
    /// compression memory (error feedback, DGC's momentum) is not rolled back when a step is redone, and a
    /// re-joined worker's starts empty; the Evaluator (an observer), the stop decision and the end of the run are
    /// known to every rank (Horovod's driver knows them). With several failures in one step a new leader may be one
    /// step behind the last one reported: that step is then redone and reported again. A link failure that cuts a
    /// route between live workers without cutting off either (possible on fat-tree, torus and dragonfly
    /// platforms) is no failure the ring can detect: a rank that waits longer than a collective timeout (as
    /// torch.distributed's; here 100 x its longest step so far, at least 60 s and 100 x failureDetection, or
    /// before the first step 1000 x its gradient's time, at least 3600 s) fails the run with a message that says
    /// so. Not with powersgd, local SGD or dp-sgd (checkRecovery). Off: the plain ring, bit for bit.
    void setRecovery(bool elastic, double failureDetection);
    /// The all-reduce of the gradients (strategy.collective; makeStrategy checked it: checkCollective): "ring"
    /// (default) is ringAllReduce; the others are collectives::allReduce's algorithms (collectives/collectives.h),
    /// used for the dense all-reduce only (no compression, no elastic recovery); "auto" is resolved here, once, by
    /// collectives::chooseAllReduce for P workers and modelBytes() (collective()). The scalars (losses, stop flag)
    /// ride along as with the ring.
    void setCollective(const collectives::AllReduceSpec& spec);
    /// Overlap (strategy.overlap; makeStrategy checked it: checkOverlap, dense all-reduce only, no recovery): each
    /// worker charges its backward pass layer by layer (Workload::layers(), last layer first) and a background
    /// actor all-reduces the gradient buckets (makeBuckets: DDP's bucket_cap_mb) one after the other as they become
    /// ready, with the collective of setCollective ("auto" chooses per bucket, by its size, as NCCL chooses per
    /// call); the worker applies the optimizer once every bucket is reduced (Li et al. 2020, "PyTorch Distributed",
    /// Sec. 3.2.3). The scalars (losses, stop flag) ride with the first bucket. The arithmetic is that of the
    /// all-reduce on each bucket's range of the vector, so the sums are added in the same fixed orders per range
    /// (not bit-identical to the run without overlap, whose ring chunks differ). Off: the step as before, bit for
    /// bit.
    void setOverlap(const OverlapSpec& spec) { m_overlap = spec; }
    /// The all-reduce algorithm the workers run ("auto" resolved).
    collectives::Algorithm collective() const { return m_collective; }
    std::vector<std::string> failureTolerantRoles() const override
    {
        return m_elastic || m_clock ? std::vector<std::string>{"worker"} : std::vector<std::string>{};
    }
    /// Checkpoint-restart (README "Failures"), as PyTorch DDP under TorchElastic does it: after every K steps
    /// (every_steps; a time interval is refused, the ranks must agree on the step) rank 0 writes
    /// recovery::checkpointBytes of its replica and optimizer state (torch.save on rank 0) while the others go on
    /// to the next step and wait for it in its all-reduce; every rank leaves its batch sampler's state with the
    /// checkpoint at the step boundary, and the checkpoint counts once rank 0's write completed and every rank's
    /// sampler is in. After a failure the supervisor restarts every rank (restoreCheckpoint); each rank reads the
    /// checkpoint from its storage (Transport::readCheckpoint) and goes on from its step, so the lost steps are
    /// redone on the same batches bit for bit. Not with compression, local SGD or privacy (checkRecovery).
    void setCheckpointing(const CheckpointSpec& spec);
    const CheckpointSpec* checkpointing() const override { return m_clock ? &m_clock->spec() : nullptr; }
    long progress() const override { return m_done; }
    CheckpointRef restoreCheckpoint() override;
    void setReplicaObserver(ReplicaObserver f) { m_observer = std::move(f); }
    /// Flops a worker is charged per step for its gradient: one forward+backward pass over its mini-batch.
    double workerFlopsPerStep() const { return double(m_cfg.batchSize) * m_workload.trainFlopsPerSample(); }
    /// Flops a worker is charged per step after the all-reduce: N divisions + the optimizer step.
    double updateFlopsPerStep() const;

private:
    int m_workers;
    MetricsSink& m_sink;
    TrainingConfig m_cfg;
    const TrainTest& m_data;
    Workload m_workload;
    Partition m_partition;
    long m_stepsPerEpoch;
    Evaluator m_evaluator;
    Eigen::VectorXf m_final;
    ReplicaObserver m_observer;
    compression::CompressionSpec m_compression;
    int m_localSteps = 1;
    std::unique_ptr<const compression::Compressor> m_compressor; ///< nullptr: none or powersgd
    compression::CompressionCounters m_counters;
    privacy::PrivacyLedger m_privacy;
    bool m_elastic = false;
    double m_failureDetection = 1.0;
    collectives::Algorithm m_collective = collectives::Algorithm::Ring;
    collectives::AllReduceSpec m_collectiveSpec{}; ///< as given ("auto" unresolved)
    int m_ranksPerNode = 1;
    OverlapSpec m_overlap{};
    // Elastic recovery's bookkeeping for the reports (the Evaluator's side, shared by the ranks).
    bool m_finished = false;           ///< a leader ended the run
    /// What a leader hands a failed worker it relaunches (the arguments of the new body, read at its start).
    struct Rejoin {
        long generation = 0;    ///< the leader's
        std::vector<int> order; ///< its members by seniority
    };
    std::map<int, Rejoin> m_rejoin;
    long m_lastReported = 0;           ///< the last step reported to the Evaluator
    std::vector<char> m_failureNoted;  ///< per rank: its failure is in the series "failed_workers"

    // Checkpoint-restart (setCheckpointing).
    struct Snapshot {
        long step = 0;
        double time = 0;
        recovery::ModelState model;        ///< rank 0's replica and optimizer
        std::vector<BatchSampler> samplers; ///< per rank, at the step boundary
        Evaluator::State evaluator;
        int samplersIn = 0;                ///< a pending checkpoint: ranks whose sampler is in
        bool written = false;              ///< a pending checkpoint: rank 0's write completed
    };
    std::optional<recovery::CheckpointClock> m_clock;
    Snapshot m_committed, m_pending;
    bool m_resumed = false; ///< bodies start from m_committed (after a restart)
    long m_done = 0;        ///< rank 0's steps (progress())
    /// Rank `rank` leaves its part of the checkpoint of step `step` (rank 0 also writes it); commits when complete.
    void checkpointPart(int rank, long step, const BatchSampler& sampler, const Eigen::VectorXf& params,
                        const Optimizer& opt, Transport& t);
};

} // namespace dml
