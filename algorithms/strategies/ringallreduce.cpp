// SPDX-License-Identifier: GPL-3.0-or-later
#include "strategies/ringallreduce.h"

#include "compression/powersgd.h"
#include "error.h"
#include "parallel.h"
#include "privacy/dp.h"
#include "rng.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <stdexcept>

namespace dml {

std::pair<Eigen::Index, Eigen::Index> ringChunk(Eigen::Index N, int P, int c)
{
    const Eigen::Index base = N / P, extra = N % P;
    const Eigen::Index begin = c * base + std::min<Eigen::Index>(c, extra);
    return {begin, begin + base + (c < extra ? 1 : 0)};
}

namespace {

/// What one ring pass does with a chunk: put chunk c in an outgoing message (payload and bytes), add a received
/// partial of chunk c into this rank's copy (reduce-scatter), store a received complete chunk c (all-gather).
struct RingOps {
    std::function<void(int c, Message& m)> fill;
    std::function<void(int c, const Message& m)> reduce;
    std::function<void(int c, const Message& m)> store;
};

/// The reduce-scatter + all-gather schedule of ringAllReduce (see there), whatever the chunks hold. Returns the
/// bytes this rank sent.
double ringSchedule(Transport& t, int rank, int P, int tagBase, RingScalars* scalars, const RingOps& ops)
{
    const int next = (rank + 1) % P; // and we receive from (rank - 1 + P) % P: the only sender on tagBase
    auto mod = [P](int i) { return ((i % P) + P) % P; };
    // The scalars ride with chunk 0: reduced along 0 -> 1 -> ... -> P-1 (rank order), then passed around.
    RingScalars acc = scalars ? *scalars : RingScalars{};
    double sent = 0;
    auto send = [&](int c) {
        Message m{.kind = c, .version = acc.flags, .value = acc.sum};
        ops.fill(c, m);
        sent += m.bytes;
        t.isend(next, tagBase, std::move(m));
    };

    // Reduce-scatter: after P-1 steps, rank r owns the complete sum of chunk (r+1) mod P.
    for (int s = 0; s < P - 1; ++s) {
        send(mod(rank - s));
        Message m = t.recv(tagBase);
        t.waitAll();
        const int c = mod(rank - s - 1);
        ops.reduce(c, m);
        if (c == 0) { // the partial scalars of ranks 0..rank-1, then this rank's term
            acc.sum = m.value + acc.sum;
            acc.flags = m.version | acc.flags;
        }
    }
    // All-gather: pass the complete chunks around the ring.
    for (int s = 0; s < P - 1; ++s) {
        send(mod(rank + 1 - s));
        Message m = t.recv(tagBase);
        t.waitAll();
        const int c = mod(rank - s);
        ops.store(c, m);
        if (c == 0) {
            acc.sum = m.value;
            acc.flags = m.version;
        }
    }
    if (scalars)
        *scalars = acc;
    return sent;
}

/// ringAllReduce, returning the bytes this rank sent.
double denseRing(Transport& t, int rank, int P, Eigen::VectorXf* data, double totalBytes, int tagBase,
                 RingScalars* scalars)
{
    if (P <= 1)
        return 0.0;
    const Eigen::Index N = data ? data->size() : Eigen::Index(std::llround(totalBytes / 4.0));
    auto chunkBytes = [&](int c) {
        const auto [b, e] = ringChunk(N, P, c);
        return N > 0 ? totalBytes * double(e - b) / double(N) : 0.0;
    };
    const RingOps ops{
        .fill =
            [&](int c, Message& m) {
                if (data) {
                    const auto [b, e] = ringChunk(N, P, c);
                    m.data = std::make_shared<const Eigen::VectorXf>(data->segment(b, e - b));
                }
                m.bytes = chunkBytes(c);
            },
        .reduce =
            [&](int c, const Message& m) {
                const auto [b, e] = ringChunk(N, P, c);
                if (data)
                    data->segment(b, e - b) += *m.data;
                if (e > b)
                    t.compute(double(e - b)); // one addition per element
            },
        .store =
            [&](int c, const Message& m) {
                const auto [b, e] = ringChunk(N, P, c);
                if (data)
                    data->segment(b, e - b) = *m.data;
            },
    };
    return ringSchedule(t, rank, P, tagBase, scalars, ops);
}

} // namespace

void ringAllReduce(Transport& t, int rank, int P, Eigen::VectorXf* data, double totalBytes, int tagBase,
                   RingScalars* scalars)
{
    denseRing(t, rank, P, data, totalBytes, tagBase, scalars);
}

double ringAllReduceEncoded(Transport& t, int rank, int P, const compression::Compressor& codec,
                            std::vector<SharedEncoding>* chunks, Eigen::Index n, int tagBase,
                            compression::CompressionCounters& counters, RingScalars* scalars)
{
    if (P <= 1)
        return 0.0;
    if (!codec.summable())
        throw std::logic_error(codec.name() + ": a ring reduction needs a summable format; all-gather instead");
    if (chunks && chunks->size() != std::size_t(P))
        throw std::invalid_argument("ringAllReduceEncoded: " + std::to_string(chunks->size()) + " chunks for " +
                                    std::to_string(P) + " ranks");
    auto len = [&](int c) {
        const auto [b, e] = ringChunk(n, P, c);
        return e - b;
    };
    const RingOps ops{
        .fill =
            [&](int c, Message& m) {
                if (chunks) {
                    m.encoded = (*chunks)[std::size_t(c)];
                    m.bytes = m.encoded->bytes();
                } else {
                    m.bytes = codec.encodedBytes(len(c));
                }
            },
        .reduce =
            [&](int c, const Message& m) {
                if (chunks) {
                    auto sum = std::make_shared<compression::Encoded>();
                    const compression::Encoded* parts[2] = {m.encoded.get(), (*chunks)[std::size_t(c)].get()};
                    codec.sum(parts, *sum);
                    (*chunks)[std::size_t(c)] = std::move(sum);
                }
                counters.compute(t, codec.sumFlops(double(len(c)), 2));
            },
        .store =
            [&](int c, const Message& m) {
                if (chunks)
                    (*chunks)[std::size_t(c)] = m.encoded;
            },
    };
    return ringSchedule(t, rank, P, tagBase, scalars, ops);
}

double ringAllGather(Transport& t, int rank, int P, std::vector<SharedEncoding>* parts, double bytes, int tagBase,
                     RingScalars* scalars)
{
    if (P <= 1)
        return 0.0;
    if (parts && parts->size() != std::size_t(P))
        throw std::invalid_argument("ringAllGather: " + std::to_string(parts->size()) + " parts for " +
                                    std::to_string(P) + " ranks");
    const int next = (rank + 1) % P;
    auto mod = [P](int i) { return ((i % P) + P) % P; };
    std::vector<RingScalars> terms(static_cast<std::size_t>(P));
    if (scalars)
        terms[std::size_t(rank)] = *scalars;
    double sent = 0;
    for (int s = 0; s < P - 1; ++s) {
        const int origin = mod(rank - s);
        const RingScalars& mine = terms[std::size_t(origin)];
        t.isend(next, tagBase, Message{.kind = origin, .bytes = bytes, .version = mine.flags, .value = mine.sum,
                                       .encoded = parts ? (*parts)[std::size_t(origin)] : nullptr});
        sent += bytes;
        Message m = t.recv(tagBase);
        t.waitAll();
        const int from = mod(rank - s - 1);
        terms[std::size_t(from)] = RingScalars{.sum = m.value, .flags = m.version};
        if (parts)
            (*parts)[std::size_t(from)] = std::move(m.encoded);
    }
    if (scalars) {
        RingScalars acc = terms[0];
        for (int r = 1; r < P; ++r) {
            acc.sum = acc.sum + terms[std::size_t(r)].sum;
            acc.flags |= terms[std::size_t(r)].flags;
        }
        *scalars = acc;
    }
    return sent;
}

RingAllReduceStrategy::RingAllReduceStrategy(int workers, const TrainingConfig& cfg, const TrainTest& data,
                                             MetricsSink& sink)
    : m_workers(workers), m_sink(sink), m_cfg(cfg), m_data(data), m_workload(cfg, data.train),
      m_partition(makePartition(cfg.partition, data.train, workers, cfg.seed)),
      m_stepsPerEpoch(stepsPerEpoch(data.train.numSamples(), workers, cfg.batchSize)),
      m_evaluator(data.test, m_workload.model(), cfg, double(m_stepsPerEpoch), long(cfg.epochs) * m_stepsPerEpoch,
                  "epochs", sink)
{
    checkBatchFits(m_partition, cfg.batchSize);
}

void RingAllReduceStrategy::setCollective(const collectives::AllReduceSpec& spec)
{
    using collectives::Algorithm;
    if (spec.algorithm != Algorithm::Ring && (m_elastic || m_compressor ||
                                              m_compression.kind != compression::CompressionSpec::Kind::None))
        throw ConfigError("strategy.collective", std::string("\"") + collectives::toString(spec.algorithm) +
                                                     "\" runs the dense all-reduce only: not with compression or "
                                                     "elastic recovery (use \"ring\")");
    if (spec.mayUseHierarchical() && (spec.ranksPerNode < 1 || m_workers % spec.ranksPerNode != 0))
        throw ConfigError("strategy.ranks_per_node", "expected a node size that divides the " +
                                                         std::to_string(m_workers) + " workers, got " +
                                                         std::to_string(spec.ranksPerNode));
    m_collective = spec.algorithm == Algorithm::Auto
                       ? collectives::chooseAllReduce(m_workers, m_workload.modelBytes(), spec.cost,
                                                      spec.candidates, spec.ranksPerNode)
                       : spec.algorithm;
    m_ranksPerNode = spec.ranksPerNode;
    m_collectiveSpec = spec;
}

void RingAllReduceStrategy::setCompression(const compression::CompressionSpec& spec, int localSteps)
{
    m_compression = spec;
    m_localSteps = localSteps;
    m_compressor = compression::makeCompressor(spec, /*allReduce=*/true); // random-k: one seed for all ranks
}

double RingAllReduceStrategy::updateFlopsPerStep() const
{
    const double n = double(m_workload.numParams());
    return n + Optimizer::stepFlops(m_cfg.optimizer, n);
}

void RingAllReduceStrategy::setRecovery(bool elastic, double failureDetection)
{
    if (!(failureDetection > 0) || !std::isfinite(failureDetection))
        throw ConfigError("strategy.failure_detection", "expected a finite time greater than zero, got " +
                                                            std::to_string(failureDetection));
    m_elastic = elastic;
    m_failureDetection = failureDetection;
    m_failureNoted.assign(std::size_t(m_workers), 0);
}

namespace {

/// Thrown by ElasticRing's receive when a member of the ring failed: the all-reduce is abandoned.
struct RingAborted {};

/// Elastic recovery's view of the transport (RingAllReduceStrategy::setRecovery): ranks are positions 0..P-1 in the
/// current generation's members (live workers in rank order), so the ring schedules above run on it unchanged.
/// Every message sent is stamped with the generation; a receive waits at most `timeout` seconds at a time, drops
/// the messages of another generation (an aborted ring's), and throws RingAborted once a member's failure is known.
/// A failure is known `timeout` seconds after it happened (Transport::peerFailedAt: a heartbeat timeout, as elastic
/// sync PS and checkpoint-restart charge it), the same moment for every rank.
class ElasticRing final : public Transport {
public:
    ElasticRing(Transport& base, double timeout, std::function<void(int)> noteFailure)
        : m_base(base), m_timeout(timeout), m_noteFailure(std::move(noteFailure))
    {
    }
    void reform(const std::vector<int>& members, int position, long generation)
    {
        m_members = members;
        m_pos = position;
        m_generation = generation;
    }
    /// Posts a receive on each channel at once, so that no transfer to this rank ever waits for its receiver: a
    /// send to a rank that failed before its first receive would otherwise never complete.
    void bind(std::initializer_list<int> tags)
    {
        for (int tag : tags)
            if (std::optional<Message> m = m_base.recv(tag, 0.0))
                m_stash[tag].push_back(std::move(*m));
    }
    /// True once rank `r`'s failure is known (real rank numbers).
    bool known(int r) const { return m_base.peerFailed(r) && m_base.now() >= m_base.peerFailedAt(r) + m_timeout; }
    /// How long to wait for a message: the detection interval, or until a failure among `ranks` becomes known.
    double patience(const std::vector<int>& ranks) const
    {
        double wait = m_timeout;
        for (int r : ranks)
            if (m_base.peerFailed(r) && !known(r))
                wait = std::min(wait, std::max(0.0, m_base.peerFailedAt(r) + m_timeout - m_base.now()));
        return wait;
    }
    /// A message on channel `tag` of any generation, waiting at most `timeout` s.
    std::optional<Message> receiveAny(int tag, double timeout)
    {
        if (auto it = m_stash.find(tag); it != m_stash.end() && !it->second.empty()) {
            Message m = std::move(it->second.front());
            it->second.pop_front();
            return m;
        }
        return m_base.recv(tag, timeout);
    }
    /// True if a member of the ring is known to have failed (each is passed to noteFailure).
    bool memberFailed() const
    {
        bool any = false;
        for (int r : m_members)
            if (known(r)) {
                m_noteFailure(r);
                any = true;
            }
        return any;
    }

    int rank() const override { return m_pos; }
    void isend(int dst, int tag, Message m) override
    {
        m.generation = m_generation;
        m_base.isend(m_members[std::size_t(dst)], tag, std::move(m));
    }
    void waitAll() override { m_base.waitAll(); }
    Message recv(int tag) override
    {
        const double since = m_base.now();
        for (;;) {
            if (std::optional<Message> m = receiveAny(tag, patience(m_members))) {
                if (m->generation == m_generation)
                    return std::move(*m);
                continue; // an aborted ring's chunk
            }
            if (memberFailed())
                throw RingAborted{};
            checkStall(since, "a chunk from worker " +
                                  std::to_string(m_members[std::size_t((m_pos + int(m_members.size()) - 1) %
                                                                       int(m_members.size()))]));
        }
    }
    /// The collective timeout (as torch.distributed's, whose default is 30 minutes): waiting longer than this for
    /// one message while no member is known to have failed means the ring cannot go on (a link failure that cuts
    /// a route between live workers without cutting off either); the run then fails instead of waiting forever.
    void setStallLimit(double seconds) { m_stallLimit = seconds; }
    /// Throws std::runtime_error if this rank has waited `m_stallLimit` since `since` for `what`.
    void checkStall(double since, const std::string& what) const
    {
        if (m_base.now() - since > m_stallLimit)
            throw std::runtime_error("elastic ring all-reduce: worker " + std::to_string(m_base.rank()) +
                                     " waited " + std::to_string(m_base.now() - since) + " s for " + what +
                                     " although no worker is known to have failed (a link failure that cuts a "
                                     "route between live workers?)");
    }
    std::optional<Message> recv(int, double) override
    {
        throw std::logic_error("ElasticRing: the ring schedules use blocking receives only");
    }
    bool peerFailed(int rank) const override { return known(m_members[std::size_t(rank)]); }
    double peerFailedAt(int rank) const override { return m_base.peerFailedAt(m_members[std::size_t(rank)]); }
    void compute(double flops) override { m_base.compute(flops); }
    double now() const override { return m_base.now(); }
    void launch(int) override { throw std::logic_error("ElasticRing: workers are not launched"); }

private:
    Transport& m_base;
    double m_timeout;
    std::function<void(int)> m_noteFailure;
    std::vector<int> m_members;
    int m_pos = 0;
    long m_generation = 0;
    double m_stallLimit = 3600;
    std::map<int, std::deque<Message>> m_stash;
};

/// Bytes of a join request or of a decision's header (a few integers).
constexpr double ControlBytes = 64;

/// Floats of optimizer state per parameter (Optimizer::stateSize() / n).
double optimizerStateFloats(const OptimizerSpec& spec)
{
    switch (spec.kind) {
    case OptimizerSpec::Kind::Sgd: return 0;
    case OptimizerSpec::Kind::Momentum: return 1;
    case OptimizerSpec::Kind::Adam: return 2;
    }
    return 0;
}

} // namespace

namespace {

/// The sending side of one rank for a summable format cut into ring chunks: one memory (error feedback or DGC's
/// momentum correction) over the whole vector, the compensated vector encoded chunk by chunk, and the residual
/// formed from the decodings of this rank's own chunk encodings (what it contributed to the sums).
class ChunkEncoder {
public:
    ChunkEncoder(const compression::Compressor& c, const compression::CompressionSpec& spec, float momentum)
        : m_c(c)
    {
        if (spec.momentumCorrection) {
            if (!dynamic_cast<const compression::Sparsifier*>(&c))
                throw std::invalid_argument("momentum correction needs a sparsifier, not " + c.name());
            m_dgc.emplace(momentum);
        } else if (spec.errorFeedback) {
            m_ef.emplace();
        }
    }

    /// The seed of chunk c in a step whose ranks share `stepSeed` (random-k: the same indices on every rank).
    static std::uint64_t chunkSeed(std::uint64_t stepSeed, int c) { return deriveSeed(stepSeed, std::uint64_t(c)); }

    /// Encodes g (n floats) as P chunk encodings; returns the flops to charge (flops(n, P)).
    double encode(const Eigen::VectorXf& g, int P, std::uint64_t stepSeed, std::vector<SharedEncoding>& chunks)
    {
        const Eigen::Index n = g.size();
        const Eigen::VectorXf* p = &g;
        if (m_dgc) {
            p = &m_dgc->accumulate(g);
        } else if (m_ef) {
            m_ef->compensate(g, m_p);
            p = &m_p;
        }
        const bool memory = m_dgc || m_ef;
        if (memory)
            m_decoded.resize(n);
        m_sent.clear();
        chunks.assign(std::size_t(P), nullptr);
        for (int c = 0; c < P; ++c) {
            const auto [b, e] = ringChunk(n, P, c);
            auto enc = std::make_shared<compression::Encoded>();
            m_c.encodeInto(p->segment(b, e - b), chunkSeed(stepSeed, c), *enc);
            if (memory) {
                m_c.decodeInto(*enc, m_tmp);
                m_decoded.segment(b, e - b) = m_tmp;
            }
            if (m_dgc) {
                static_cast<const compression::Sparsifier&>(m_c).indices(*enc, m_idx);
                for (std::uint32_t i : m_idx)
                    m_sent.push_back(std::uint32_t(b) + i);
            }
            chunks[std::size_t(c)] = std::move(enc);
        }
        if (m_ef)
            m_ef->update(m_p, m_decoded);
        if (m_dgc)
            m_dgc->mask(m_sent); // after the decode: p aliases the accumulation the mask clears
        return flops(double(n), P);
    }

    /// Flops of encode() over n floats in P chunks: the memory's arithmetic (2n error feedback, 3n DGC) plus each
    /// chunk's encode (and, with a memory, its decode for the residual).
    double flops(double n, int P) const
    {
        const bool memory = m_dgc || m_ef;
        double f = m_dgc ? compression::MomentumCorrection::flops(n) : m_ef ? compression::ErrorFeedback::flops(n) : 0.0;
        for (int c = 0; c < P; ++c) {
            const auto [b, e] = ringChunk(Eigen::Index(n), P, c);
            f += m_c.encodeFlops(double(e - b)) + (memory ? m_c.decodeFlops(double(e - b)) : 0.0);
        }
        return f;
    }

private:
    const compression::Compressor& m_c;
    std::optional<compression::ErrorFeedback> m_ef;
    std::optional<compression::MomentumCorrection> m_dgc;
    Eigen::VectorXf m_p, m_decoded, m_tmp;
    std::vector<std::uint32_t> m_idx, m_sent;
};

// Seed tags (deriveSeed's second argument): per-rank encodings as sync PS uses them, and the seed a step shares
// over the ranks (random-k's indices).
constexpr std::uint64_t RankSeedTag = 0xC0DE0000u;
constexpr std::uint64_t SharedSeedTag = 0xC0DE5EEDu;

} // namespace

void RingAllReduceStrategy::setCheckpointing(const CheckpointSpec& spec)
{
    m_clock.emplace(spec);
    m_committed = Snapshot{};
    for (int w = 0; w < m_workers; ++w)
        m_committed.samplers.emplace_back(m_partition[std::size_t(w)], m_cfg.batchSize, workerSeed(m_cfg.seed, w));
    m_committed.evaluator = m_evaluator.state();
}

CheckpointRef RingAllReduceStrategy::restoreCheckpoint()
{
    m_evaluator.restore(m_committed.evaluator);
    m_pending = Snapshot{};
    m_done = m_committed.step;
    m_resumed = true;
    return {m_committed.step, m_committed.time};
}

void RingAllReduceStrategy::checkpointPart(int rank, long step, const BatchSampler& sampler,
                                           const Eigen::VectorXf& params, const Optimizer& opt, Transport& t)
{
    if (m_pending.step != step || m_pending.samplers.empty()) { // the first part of this checkpoint
        m_pending = Snapshot{};
        m_pending.step = step;
        m_pending.samplers = m_committed.samplers;
    }
    m_pending.samplers[std::size_t(rank)] = sampler;
    ++m_pending.samplersIn;
    if (rank == 0) {
        m_pending.model = {params, opt};
        m_pending.evaluator = m_evaluator.state();
        const double start = t.now();
        t.writeCheckpoint(recovery::checkpointBytes(m_cfg.optimizer, double(m_workload.numParams())));
        m_clock->saved(step, start, t.now());
        m_pending.time = t.now();
        m_pending.written = true;
        m_sink.point("checkpoint", t.now(), double(step));
    }
    if (m_pending.written && m_pending.samplersIn == m_workers) {
        m_committed = std::move(m_pending);
        m_pending = Snapshot{};
    }
}

void RingAllReduceStrategy::run(int rank, Transport& t)
{
    using Kind = compression::CompressionSpec::Kind;
    const dml::Model* arch = m_workload.model(); // nullptr for a proxy: no vectors, no arithmetic on data
    const Eigen::Index n = arch ? m_workload.numParams() : 0;
    const double nf = double(m_workload.numParams());
    // The ring: every worker, or with elastic recovery the live workers of the current generation. P is its size
    // and `me` this rank's position in it (its rank without elastic recovery); `rt` is the transport it runs on.
    int P = m_workers;
    int me = rank;
    std::optional<ElasticRing> elastic;
    if (m_elastic)
        elastic.emplace(t, m_failureDetection, [this, &t](int r) {
            if (!m_failureNoted[std::size_t(r)]) { // at its first detection by any survivor
                m_failureNoted[std::size_t(r)] = 1;
                m_sink.point("failed_workers", t.now(), 1.0);
            }
        });
    Transport& rt = elastic ? static_cast<Transport&>(*elastic) : t;
    const bool local = m_localSteps > 1;
    const bool power = m_compression.kind == Kind::PowerSgd;
    const compression::Compressor* codec = m_compressor.get();
    const bool summable = codec && codec->summable();
    const bool gather = codec && !summable;
    const bool vote = compression::majorityVote(m_compression);
    // The dense path and the summable one end with the sum (divided here: n flops); all-gather and PowerSGD with
    // the mean.
    const bool divides = !gather && !power;
    const privacy::PrivacySpec& dp = m_privacy.spec();
    const bool dpSgd = dp.kind == privacy::PrivacySpec::Kind::DpSgd; // checkPrivacy: dense, H = 1
    if (m_elastic && (local || power || dpSgd)) // makeStrategy refused them already (checkRecovery)
        throw ConfigError("strategy.recovery", "elastic ring all-reduce is not for local SGD, powersgd or dp-sgd");
    double lot = double(P) * double(m_cfg.batchSize);
    Eigen::VectorXf params = arch ? m_workload.initialParams(m_cfg.seed) : Eigen::VectorXf(), grad(n);
    // DGC (Lin et al. 2018): the ranks keep the momentum in their encoders; the mean is applied with plain SGD.
    OptimizerSpec applySpec = m_cfg.optimizer;
    if (m_compression.momentumCorrection)
        applySpec = OptimizerSpec{.kind = OptimizerSpec::Kind::Sgd, .learningRate = m_cfg.optimizer.learningRate};
    Optimizer opt(applySpec, local ? 0 : n);
    // Local SGD: each rank's own optimizer, its state kept across averagings; `anchor` is the last average.
    std::optional<Optimizer> localOpt;
    Eigen::VectorXf anchor;
    if (local) {
        localOpt.emplace(m_cfg.optimizer, n);
        anchor = params;
    }
    std::optional<ChunkEncoder> chunkEncoder;
    std::optional<compression::GradientEncoder> encoder;
    if (summable)
        chunkEncoder.emplace(*codec, m_compression, m_cfg.optimizer.momentum);
    else if (gather)
        encoder.emplace(*codec, m_compression, m_cfg.optimizer.momentum);
    std::optional<compression::PowerSgd> powerSgd;
    if (power) // checkCompression rejects a proxy
        powerSgd.emplace(compression::PowerSgd::blockShapes(arch->parameterBlocks()), m_compression.rank, m_cfg.seed,
                         m_compression.errorFeedback);
    BatchSampler sampler = m_clock && m_resumed ? m_committed.samplers[std::size_t(rank)]
                           : BatchSampler(m_partition[std::size_t(rank)], m_cfg.batchSize, workerSeed(m_cfg.seed, rank));
    float scale = 1.0f / float(P);
    constexpr long StopFlag = 1;
    bool stopRequested = false; // rank 0 only: the Evaluator said stop after the previous step
    // What this rank would send in a dense fp32 ring all-reduce of the same vector: 2(P-1)/P x 4n.
    double denseBytes = 2.0 * double(P - 1) / double(P) * m_workload.modelBytes();
    std::vector<SharedEncoding> encodings;
    std::vector<float> weights(std::size_t(P), scale);
    Eigen::VectorXf pFactors, qFactors, chunk;
    collectives::Inbox inbox; // messages of the all-reduce that came early (setCollective's algorithms)

    // v (this rank's gradient, or its local SGD update) becomes the mean over the ranks, the same bits on every
    // rank, or the sum when `divides` (the caller divides). `round`: the optimizer steps done before (the same on
    // every rank; seeds the encodings). Returns false if the stop flag came back: the step is discarded.
    auto allReduce = [&](Eigen::VectorXf& v, long round, RingScalars& scalars) -> bool {
        if (power) { // Vogels et al. 2019, Alg. 1: all-reduce P, orthogonalize, Q = M^T P^, all-reduce Q
            powerSgd->computeP(v, pFactors);
            m_counters.compute(t, powerSgd->computePFlops());
            double sent = denseRing(rt, me, P, &pFactors, powerSgd->pBytes(), Ring, &scalars);
            if (scalars.flags & StopFlag) {
                m_counters.sent(denseBytes, sent);
                return false;
            }
            pFactors *= scale;
            m_counters.compute(t, double(pFactors.size()));
            powerSgd->computeQ(pFactors, qFactors);
            m_counters.compute(t, powerSgd->computeQFlops());
            sent += denseRing(rt, me, P, &qFactors, powerSgd->qBytes(), Ring, nullptr);
            m_counters.sent(denseBytes, sent);
            qFactors *= scale;
            m_counters.compute(t, double(qFactors.size()));
            powerSgd->decompress(pFactors, qFactors, v);
            m_counters.compute(t, powerSgd->decompressFlops());
            return true;
        }
        if (summable) { // chunk by chunk, reduced in the encoded format
            const std::uint64_t stepSeed = deriveSeed(m_cfg.seed, SharedSeedTag, std::uint64_t(round));
            m_counters.compute(t, arch ? chunkEncoder->encode(v, P, stepSeed, encodings) : chunkEncoder->flops(nf, P));
            const double sent = ringAllReduceEncoded(rt, me, P, *codec, arch ? &encodings : nullptr,
                                                     Eigen::Index(nf), Ring, m_counters, &scalars);
            m_counters.sent(denseBytes, sent);
            if (scalars.flags & StopFlag)
                return false;
            double flops = 0;
            for (int c = 0; c < P; ++c) {
                const auto [b, e] = ringChunk(Eigen::Index(nf), P, c);
                flops += codec->decodeFlops(double(e - b));
                if (arch) {
                    codec->decodeInto(*encodings[std::size_t(c)], chunk);
                    v.segment(b, e - b) = chunk;
                }
            }
            m_counters.compute(t, flops);
            return true;
        }
        if (gather) { // each rank's whole encoding, all-gathered, aggregated in rank order
            double bytes = codec->encodedBytes(Eigen::Index(nf));
            if (arch) {
                auto own = std::make_shared<compression::Encoded>();
                m_counters.compute(t, encoder->encode(v, deriveSeed(m_cfg.seed, RankSeedTag + unsigned(rank),
                                                                    std::uint64_t(round)), *own));
                bytes = own->bytes();
                encodings.assign(std::size_t(P), nullptr);
                encodings[std::size_t(me)] = std::move(own);
            } else {
                m_counters.compute(t, encoder->encodeFlops(nf));
            }
            const double sent = ringAllGather(rt, me, P, arch ? &encodings : nullptr, bytes, Ring, &scalars);
            m_counters.sent(denseBytes, sent);
            if (scalars.flags & StopFlag)
                return false;
            if (arch) {
                std::vector<const compression::Encoded*> parts;
                for (const SharedEncoding& e : encodings)
                    parts.push_back(e.get());
                m_counters.compute(t, compression::aggregate(*codec, vote, parts, weights, v));
            } else {
                m_counters.compute(t, compression::aggregateFlops(*codec, vote, nf, P));
            }
            return true;
        }
        if (m_collective == collectives::Algorithm::Ring)
            ringAllReduce(rt, me, P, arch ? &v : nullptr, m_workload.modelBytes(), Ring, &scalars);
        else // another algorithm (setCollective): not with elastic recovery, so rt is t and me is rank
            collectives::allReduce(m_collective, rt, me, P, arch ? &v : nullptr, m_workload.modelBytes(), Ring,
                                   inbox, &scalars, m_ranksPerNode);
        return !(scalars.flags & StopFlag);
    };

    // Overlap (setOverlap): the background actor all-reduces the buckets of `grad`; the first carries the scalars.
    RingScalars stepScalars;
    std::optional<BackwardOverlap> overlap;
    collectives::Inbox backgroundInbox;
    Eigen::VectorXf bucket;
    if (m_overlap.enabled) {
        overlap.emplace(m_workload.layers(), m_overlap, m_cfg.batchSize);
        overlap->start(t, [&](Transport& bt, const GradientBucket& b) {
            using collectives::Algorithm;
            const Algorithm a = m_collectiveSpec.algorithm == Algorithm::Auto
                                    ? collectives::chooseAllReduce(P, b.bytes(), m_collectiveSpec.cost,
                                                                   m_collectiveSpec.candidates, m_ranksPerNode)
                                    : m_collective;
            RingScalars* sc = b.index == 0 ? &stepScalars : nullptr;
            if (arch)
                bucket = grad.segment(Eigen::Index(b.begin), Eigen::Index(b.end - b.begin));
            if (a == Algorithm::Ring)
                ringAllReduce(bt, me, P, arch ? &bucket : nullptr, b.bytes(), Ring, sc);
            else
                collectives::allReduce(a, bt, me, P, arch ? &bucket : nullptr, b.bytes(), Ring, backgroundInbox, sc,
                                       m_ranksPerNode);
            if (arch)
                grad.segment(Eigen::Index(b.begin), Eigen::Index(b.end - b.begin)) = bucket;
        });
    }

    long done = 0; // optimizer steps taken (local SGD: h per averaging)
    // Rank 0, or the leader with elastic recovery: reports step `done`, whose mean mini-batch loss was `loss`.
    auto report = [&](double loss) {
        if (elastic)
            m_sink.point("live_workers", t.now(), double(P));
        if (dpSgd && m_privacy.step(lot / double(m_data.train.numSamples()), t.now(), m_sink))
            m_evaluator.requestStop("privacy_budget"); // the next step would exceed the budget
        m_evaluator.addTrainLoss(loss);
        stopRequested = m_evaluator.afterStep(t.now(), done, arch ? params.data() : nullptr);
        if (elastic) {
            m_lastReported = done;
            if (arch)
                m_final = params; // the model so far, should every worker fail
        }
    };

    // ---- Elastic recovery (setRecovery) ----
    // Join requests: why the sender is in the rendezvous.
    enum JoinKind { Finished = 0, Failed = 1, Rejoining = 2 };
    long generation = 0;      // of the current membership: counter x m_workers + its leader's rank
    std::vector<int> members; // the ring's ranks, in rank order
    std::vector<int> order;   // the same ranks by seniority: the workers of the start in rank order, then the re-joined
                              // ones as they were admitted; the leader is the first live one
    std::vector<int> launched;          // the leader: workers it relaunched that are not admitted yet
    std::vector<Message> early;         // the leader: join requests it read at a step boundary
    double meanLoss = std::numeric_limits<double>::quiet_NaN(); // of this rank's last completed step
    std::optional<Rejoin> rejoin;       // this body relaunches a failed worker (its launcher's arguments)
    if (elastic)
        if (auto it = m_rejoin.find(rank); it != m_rejoin.end()) {
            rejoin = std::move(it->second);
            m_rejoin.erase(it);
        }
    auto contains = [](const std::vector<int>& v, int r) { return std::find(v.begin(), v.end(), r) != v.end(); };
    // This rank's shard for `members`: its own shard, plus every j-th sample of the non-members' shards (taken in
    // rank order) with j mod P = its position.
    auto elasticShard = [&]() {
        std::vector<int> shard = m_partition[std::size_t(rank)];
        long j = 0;
        for (int r = 0; r < m_workers; ++r) {
            if (std::binary_search(members.begin(), members.end(), r))
                continue;
            for (int sample : m_partition[std::size_t(r)])
                if (j++ % P == me)
                    shard.push_back(sample);
        }
        return shard;
    };
    // Adopts a decided membership; when it changed, the ring's size, the mean's scale, the shards and samplers.
    auto adopt = [&](const std::vector<int>& nextOrder, long gen) {
        std::vector<int> next = nextOrder;
        std::sort(next.begin(), next.end());
        const bool changed = next != members;
        order = nextOrder;
        members = std::move(next);
        generation = gen;
        P = int(members.size());
        me = int(std::find(members.begin(), members.end(), rank) - members.begin());
        elastic->reform(members, me, generation);
        if (!changed)
            return;
        scale = 1.0f / float(P);
        lot = double(P) * double(m_cfg.batchSize);
        denseBytes = 2.0 * double(P - 1) / double(P) * m_workload.modelBytes();
        weights.assign(std::size_t(P), scale);
        sampler = BatchSampler(elasticShard(), m_cfg.batchSize,
                               deriveSeed(workerSeed(m_cfg.seed, rank), 0xE1A5, std::uint64_t(generation)));
    };
    // The first live rank of `order` (this rank counts as live), or -1.
    auto leaderOf = [&]() {
        for (int r : order)
            if (r == rank || !elastic->known(r))
                return r;
        return -1;
    };
    // The leader's side of the rendezvous: waits for a join request from every live member and from the workers
    // it relaunched (and any other relaunched worker that asks), then decides.
    auto lead = [&](int kind) -> bool {
        std::vector<char> joined(std::size_t(m_workers), 0);
        std::vector<long> joinDone(std::size_t(m_workers), -1);
        joined[std::size_t(rank)] = 1;
        joinDone[std::size_t(rank)] = done;
        bool anyFailure = kind == Failed;
        long newest = generation; // the newest generation a survivor was in
        std::vector<int> outsiders; // live workers not in `order` that asked to join
        std::vector<int> live, expected;
        const double since = t.now();
        auto take = [&](const Message& j) {
            const int src = j.source;
            if (elastic->known(src) || long(j.value) != t.incarnation(src))
                return; // from a body of that worker that has failed since (a relaunched one may be waiting)
            if (!contains(order, src) && !contains(outsiders, src))
                outsiders.push_back(src);
            joined[std::size_t(src)] = 1;
            joinDone[std::size_t(src)] = j.version;
            anyFailure = anyFailure || j.kind == Failed;
            newest = std::max(newest, j.generation);
        };
        for (const Message& j : early)
            take(j);
        early.clear();
        for (;;) {
            live.clear();
            for (int r : order)
                if (r == rank || !elastic->known(r))
                    live.push_back(r);
            expected = live;
            for (const std::vector<int>* v : {&launched, &outsiders})
                for (int r : *v)
                    if (!elastic->known(r) && !contains(expected, r))
                        expected.push_back(r);
            elastic->memberFailed(); // the series
            if (std::all_of(expected.begin(), expected.end(), [&](int r) { return joined[std::size_t(r)] != 0; }))
                break;
            if (std::optional<Message> j = elastic->receiveAny(Join, elastic->patience(expected)))
                take(*j);
            else
                elastic->checkStall(since, "the survivors' join requests");
        }
        if (done > m_lastReported) // the previous leader failed before reporting the step this one completed
            report(meanLoss);
        // The new membership: the live members by seniority, then the admitted workers in rank order.
        std::vector<int> nextOrder = live, admitted(expected.begin() + std::ptrdiff_t(live.size()), expected.end());
        std::sort(admitted.begin(), admitted.end());
        const long next = (newest / m_workers + 1) * m_workers + rank;
        nextOrder.insert(nextOrder.end(), admitted.begin(), admitted.end());
        std::vector<int> sorted = nextOrder;
        std::sort(sorted.begin(), sorted.end());
        if (sorted != members) // the remaining epochs at the new rate
            m_evaluator.changeStepsPerEpoch(
                done, double(stepsPerEpoch(m_data.train.numSamples(), int(sorted.size()), m_cfg.batchSize)));
        const bool finish = done >= m_evaluator.totalSteps() || !m_evaluator.stopReason().empty();
        // The decision: [P_live, the members by seniority, then for the workers that need it (all after a failure,
        // re-joining ones, any at another step) the parameters and the optimizer's state].
        const Eigen::Index head = 1 + Eigen::Index(nextOrder.size());
        Eigen::VectorXf plain(head);
        plain[0] = float(nextOrder.size());
        for (std::size_t i = 0; i < nextOrder.size(); ++i)
            plain[Eigen::Index(1 + i)] = float(nextOrder[i]);
        auto withState = std::make_shared<Eigen::VectorXf>(head + (arch ? n + opt.stateSize() : 0));
        withState->head(head) = plain;
        long optSteps = 0;
        if (arch) {
            withState->segment(head, n) = params;
            optSteps = opt.saveState(withState->data() + head + n);
        }
        const auto without = std::make_shared<const Eigen::VectorXf>(std::move(plain));
        const double stateBytes = m_workload.modelBytes() * (1.0 + optimizerStateFloats(applySpec));
        for (int r : nextOrder) {
            if (r == rank)
                continue;
            const bool state = anyFailure || contains(admitted, r) || joinDone[std::size_t(r)] != done;
            t.isend(r, Decision,
                    Message{.kind = (finish ? 1 : 0) | (state ? 2 : 0),
                            .bytes = ControlBytes + 4.0 * double(nextOrder.size()) + (state ? stateBytes : 0.0),
                            .data = state ? std::shared_ptr<const Eigen::VectorXf>(withState) : without,
                            .version = done,
                            .value = double(optSteps),
                            .generation = next});
        }
        t.waitAll();
        for (int r : admitted) { // back in the ring: a later failure is a new one
            m_failureNoted[std::size_t(r)] = 0;
            m_sink.point("rejoined_workers", t.now(), 1.0);
        }
        launched.clear();
        adopt(nextOrder, next);
        if (finish) {
            m_finished = true;
            if (arch)
                m_final = params;
        }
        return finish;
    };
    // A member's side: adopts the leader's decision. Returns true when the run is over.
    auto follow = [&](const Message& d) -> bool {
        const Eigen::VectorXf& v = *d.data;
        const Eigen::Index head = 1 + Eigen::Index(v[0]);
        std::vector<int> nextOrder;
        for (Eigen::Index i = 1; i < head; ++i)
            nextOrder.push_back(int(v[i]));
        if (d.kind & 2) { // the leader's state (Horovod's state.sync())
            done = d.version;
            if (arch) {
                params = v.segment(head, n);
                opt.loadState(v.data() + head + n, long(d.value));
            }
            if (m_observer && done > 0) // this rank's replica of step `done` is now the leader's
                m_observer(rank, done, params);
        }
        adopt(nextOrder, d.generation);
        return (d.kind & 1) != 0;
    };
    // The rendezvous after an abandoned all-reduce, at a change of membership, at the end of the run (see
    // setRecovery), or for a relaunched worker. Returns true when the run is over for this rank; otherwise it goes
    // on from the adopted state.
    auto rendezvous = [&](int kind) -> bool {
        t.waitAll(); // the abandoned ring's sends: delivered (to be dropped as stale) or lost with their destination
        for (;;) {
            const int leader = leaderOf();
            if (leader < 0) // a relaunched worker whose every known member failed: nobody to join
                return true;
            if (leader == rank)
                return lead(kind);
            t.send(leader, Join, Message{.kind = kind, .bytes = ControlBytes, .version = done,
                                         .value = double(t.incarnation(rank)), .generation = generation});
            const double since = t.now();
            for (;;) {
                if (std::optional<Message> d = elastic->receiveAny(Decision, elastic->patience({leader}))) {
                    if (!elastic->known(d->source) && d->generation > generation) // not a failed leader's, not stale
                        return follow(*d);
                    continue;
                }
                if (elastic->known(leader)) { // ask the next one
                    elastic->memberFailed();
                    break;
                }
                if (m_finished) // a leader ended the run (and failed before this rank heard): the job is over
                    return true;
                elastic->checkStall(since, "worker " + std::to_string(leader) + "'s decision");
            }
        }
    };
    // The leader at a step boundary: relaunches the failed workers whose hosts are on again (Horovod's host
    // discovery) and looks for join requests of relaunched workers; returns true if some want to join.
    auto discover = [&]() {
        std::erase_if(launched, [&](int r) { return t.peerFailed(r); });
        for (int r = 0; r < m_workers; ++r) {
            if (contains(order, r) || contains(launched, r) || !t.peerFailed(r))
                continue;
            m_rejoin[r] = Rejoin{.generation = generation, .order = order};
            t.launch(r);
            if (t.peerFailed(r)) // its host is still off, or cut off
                m_rejoin.erase(r);
            else
                launched.push_back(r);
        }
        while (std::optional<Message> j = elastic->receiveAny(Join, 0.0))
            early.push_back(std::move(*j));
        return !launched.empty() || !early.empty();
    };
    if (elastic) {
        if (rejoin) {
            order = rejoin->order;
            generation = rejoin->generation;
            members = order;
            std::sort(members.begin(), members.end());
            elastic->reform(members, 0, generation);
        } else {
            members.resize(std::size_t(P));
            std::iota(members.begin(), members.end(), 0);
            order = members;
            elastic->reform(members, me, generation);
        }
        elastic->bind({Ring, Join, Decision});
    }

    const bool resumed = m_clock && m_resumed; // relaunched by checkpoint-restart: on from the last checkpoint
    if (resumed) {
        done = m_committed.step;
        m_committed.model.load(params, opt, t,
                               recovery::checkpointBytes(m_cfg.optimizer, double(m_workload.numParams())));
        if (rank == 0)
            m_clock->restarted(t.now());
    }
    if (rank == 0 && !rejoin && !resumed)
        m_evaluator.initial(t.now(), arch ? params.data() : nullptr);
    double lastStep = t.now(), longestStep = 0; // elastic: between this rank's step completions, s
    constexpr long RejoinFlag = 2;              // elastic: the leader announces a change of membership
    bool rejoinPending = false;                 // the leader: announce it in the next step
    for (bool over = rejoin && rendezvous(Rejoining); !over;) {
        const long h = local ? std::min<long>(m_localSteps, m_evaluator.totalSteps() - done) : 1;
        double loss = std::numeric_limits<double>::quiet_NaN();
        const double computing = t.now();
        {
            // The arithmetic is a pool job while the compute time passes, beside the other ranks' (parallel.h). The
            // batches are drawn here, in simulation order. `job` is destroyed (finished) before anything it writes.
            std::vector<int> batches;
            parallel::Task job;
            const int B = sampler.batchSize();
            if (arch) {
                batches = drawBatches(sampler, local ? h : 1);
                if (dpSgd)
                    job = parallel::submit([&] {
                        loss = m_workload.clippedGradientSum(params.data(), batches.data(), B, dp.clip, grad.data());
                    });
                else if (!local)
                    job = parallel::submit(
                        [&] { loss = m_workload.gradient(params.data(), batches.data(), B, grad.data()); });
                else
                    job = parallel::submit([&] {
                        double sum = 0;
                        for (long i = 0; i < h; ++i) {
                            sum += m_workload.gradient(params.data(), batches.data() + i * B, B, grad.data());
                            localOpt->step(params.data(), grad.data());
                        }
                        loss = sum / double(h);
                        grad = anchor - params; // the update Delta = w_anchor - w_local
                    });
            }
            if (overlap) { // forward, then backward layer by layer while the background actor reduces the buckets
                overlap->step(t, [&] {
                    job.wait();
                    stepScalars = {.sum = loss, .flags = stopRequested ? StopFlag : 0};
                });
            } else {
                if (dpSgd)
                    t.compute(m_workload.clippedGradientFlops(m_cfg.batchSize));
                else if (!local)
                    t.compute(workerFlopsPerStep());
                else
                    t.compute(double(h) * (workerFlopsPerStep() + Optimizer::stepFlops(m_cfg.optimizer, nf)) + nf);
                job.wait();
            }
        }
        if (elastic) // a wait a hundred times this rank's longest step is no straggler's: the ring is cut
            elastic->setStallLimit(longestStep > 0
                                       ? std::max({60.0, 100 * m_failureDetection, 100 * longestStep})
                                       : std::max({3600.0, 1000 * m_failureDetection, 1000 * (t.now() - computing)}));
        RingScalars scalars{.sum = loss, .flags = (stopRequested ? StopFlag : 0) | (rejoinPending ? RejoinFlag : 0)};
        rejoinPending = false;
        bool reduced = false;
        if (overlap) { // already all-reduced, bucket by bucket
            scalars = stepScalars;
            reduced = !(scalars.flags & StopFlag);
        } else if (elastic) {
            try {
                reduced = allReduce(grad, done, scalars);
            } catch (const RingAborted&) { // a member failed: rendezvous, then on from the leader's state
                if (rendezvous(Failed))
                    break;
                continue;
            }
        } else {
            reduced = allReduce(grad, done, scalars);
        }
        if (!reduced) {
            // rank 0 stopped the run after the previous step: this one is discarded on every rank (with local
            // SGD each rank returns to the last average, the model rank 0 evaluated)
            if (local && arch)
                params = anchor;
            if (elastic && !rendezvous(Finished))
                continue;
            break;
        }
        if (dpSgd) { // the sum of the clipped sums, plus the mechanism's noise, over the lot
            if (arch) {
                privacy::addGaussianNoise(grad, dp.noiseMultiplier * dp.clip,
                                          deriveSeed(m_cfg.seed, 0xD95, std::uint64_t(done + 1)));
                grad *= float(1.0 / lot);
            }
            t.compute(privacy::noiseFlops(nf));
        } else if (arch && divides) {
            grad *= scale;
        }
        if (local) { // w = w_anchor - mean Delta: the average of the ranks' models
            if (arch) {
                params = anchor - grad;
                anchor = params;
            }
            t.compute((divides ? nf : 0.0) + nf);
        } else {
            // Every rank applies the mean: a pool job while the update's time passes, beside the other ranks'.
            parallel::Task update;
            if (arch)
                update = parallel::submit([&] { opt.step(params.data(), grad.data()); });
            t.compute(!codec && !power ? updateFlopsPerStep()
                                       : (divides ? nf : 0.0) + Optimizer::stepFlops(applySpec, nf));
            update.wait();
        }
        done += h;
        longestStep = std::max(longestStep, t.now() - lastStep);
        lastStep = t.now();
        if (m_observer)
            m_observer(rank, done, params);
        meanLoss = scalars.sum / double(P);
        const bool leading = elastic ? order.front() == rank : me == 0;
        if (leading)
            report(meanLoss);
        if (rank == 0)
            m_done = done;
        if (m_clock && !stopRequested && done < m_evaluator.totalSteps() && m_clock->due(done, t.now()))
            checkpointPart(rank, done, sampler, params, opt, t);
        if (done >= m_evaluator.totalSteps()) { // the planned end: every rank knows it, no announcement needed
            if (elastic && !rendezvous(Finished))
                continue;
            break;
        }
        if (elastic && (scalars.flags & RejoinFlag) && rendezvous(Finished)) // admit the relaunched workers
            break;
        if (elastic && order.front() == rank && !stopRequested)
            rejoinPending = discover();
    }
    if (overlap)
        overlap->stop(t);
    if (rank == 0 && !elastic)
        m_final = params;
}

} // namespace dml
