// SPDX-License-Identifier: GPL-3.0-or-later
#include "ringallreduce.h"

#include "compression/powersgd.h"
#include "error.h"
#include "privacy/dp.h"
#include "rng.h"

#include <cmath>
#include <functional>
#include <stdexcept>
#include <limits>
#include <optional>

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
      m_evaluator(data.test, m_workload.mlp(), cfg, double(m_stepsPerEpoch), long(cfg.epochs) * m_stepsPerEpoch,
                  "epochs", sink)
{
    checkBatchFits(m_partition, cfg.batchSize);
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

void RingAllReduceStrategy::run(int rank, Transport& t)
{
    using Kind = compression::CompressionSpec::Kind;
    const Mlp* arch = m_workload.mlp(); // nullptr for a proxy: no vectors, no arithmetic on data
    const Eigen::Index n = arch ? m_workload.numParams() : 0;
    const double nf = double(m_workload.numParams());
    const int P = m_workers;
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
    const double lot = double(P) * double(m_cfg.batchSize);
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
        powerSgd.emplace(compression::PowerSgd::mlpShapes(arch->layerSizes()), m_compression.rank, m_cfg.seed,
                         m_compression.errorFeedback);
    BatchSampler sampler(m_partition[std::size_t(rank)], m_cfg.batchSize, workerSeed(m_cfg.seed, rank));
    const float scale = 1.0f / float(P);
    constexpr long StopFlag = 1;
    bool stopRequested = false; // rank 0 only: the Evaluator said stop after the previous step
    // What this rank would send in a dense fp32 ring all-reduce of the same vector: 2(P-1)/P x 4n.
    const double denseBytes = 2.0 * double(P - 1) / double(P) * m_workload.modelBytes();
    std::vector<SharedEncoding> encodings;
    std::vector<float> weights(std::size_t(P), scale);
    Eigen::VectorXf pFactors, qFactors, chunk;

    // v (this rank's gradient, or its local SGD update) becomes the mean over the ranks, the same bits on every
    // rank, or the sum when `divides` (the caller divides). `round`: the optimizer steps done before (the same on
    // every rank; seeds the encodings). Returns false if the stop flag came back: the step is discarded.
    auto allReduce = [&](Eigen::VectorXf& v, long round, RingScalars& scalars) -> bool {
        if (power) { // Vogels et al. 2019, Alg. 1: all-reduce P, orthogonalize, Q = M^T P^, all-reduce Q
            powerSgd->computeP(v, pFactors);
            m_counters.compute(t, powerSgd->computePFlops());
            double sent = denseRing(t, rank, P, &pFactors, powerSgd->pBytes(), Ring, &scalars);
            if (scalars.flags & StopFlag) {
                m_counters.sent(denseBytes, sent);
                return false;
            }
            pFactors *= scale;
            m_counters.compute(t, double(pFactors.size()));
            powerSgd->computeQ(pFactors, qFactors);
            m_counters.compute(t, powerSgd->computeQFlops());
            sent += denseRing(t, rank, P, &qFactors, powerSgd->qBytes(), Ring, nullptr);
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
            const double sent = ringAllReduceEncoded(t, rank, P, *codec, arch ? &encodings : nullptr,
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
                encodings[std::size_t(rank)] = std::move(own);
            } else {
                m_counters.compute(t, encoder->encodeFlops(nf));
            }
            const double sent = ringAllGather(t, rank, P, arch ? &encodings : nullptr, bytes, Ring, &scalars);
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
        ringAllReduce(t, rank, P, arch ? &v : nullptr, m_workload.modelBytes(), Ring, &scalars);
        return !(scalars.flags & StopFlag);
    };

    if (rank == 0)
        m_evaluator.initial(t.now(), arch ? params.data() : nullptr);
    long done = 0; // optimizer steps taken (local SGD: h per averaging)
    for (;;) {
        const long h = local ? std::min<long>(m_localSteps, m_evaluator.totalSteps() - done) : 1;
        double loss = std::numeric_limits<double>::quiet_NaN();
        if (dpSgd) {
            if (arch)
                loss = m_workload.clippedGradientSum(params.data(), sampler, dp.clip, grad.data());
            t.compute(m_workload.clippedGradientFlops(m_cfg.batchSize));
        } else if (!local) {
            if (arch)
                loss = m_workload.gradient(params.data(), sampler, grad.data());
            t.compute(workerFlopsPerStep());
        } else {
            if (arch) {
                double sum = 0;
                for (long i = 0; i < h; ++i) {
                    sum += m_workload.gradient(params.data(), sampler, grad.data());
                    localOpt->step(params.data(), grad.data());
                }
                loss = sum / double(h);
                grad = anchor - params; // the update Delta = w_anchor - w_local
            }
            t.compute(double(h) * (workerFlopsPerStep() + Optimizer::stepFlops(m_cfg.optimizer, nf)) + nf);
        }
        RingScalars scalars{.sum = loss, .flags = stopRequested ? StopFlag : 0};
        if (!allReduce(grad, done, scalars)) {
            // rank 0 stopped the run after the previous step: this one is discarded on every rank (with local
            // SGD each rank returns to the last average, the model rank 0 evaluated)
            if (local && arch)
                params = anchor;
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
            if (arch)
                opt.step(params.data(), grad.data());
            t.compute(!codec && !power ? updateFlopsPerStep()
                                       : (divides ? nf : 0.0) + Optimizer::stepFlops(applySpec, nf));
        }
        done += h;
        if (m_observer)
            m_observer(rank, done, params);
        if (rank == 0) {
            if (dpSgd && m_privacy.step(lot / double(m_data.train.numSamples()), t.now(), m_sink))
                m_evaluator.requestStop("privacy_budget"); // the next step would exceed the budget
            m_evaluator.addTrainLoss(scalars.sum / double(m_workers));
            stopRequested = m_evaluator.afterStep(t.now(), done, arch ? params.data() : nullptr);
        }
        if (done >= m_evaluator.totalSteps()) // the planned end: every rank knows it, no announcement needed
            break;
    }
    if (rank == 0)
        m_final = params;
}

} // namespace dml
