// SPDX-License-Identifier: GPL-3.0-or-later
#include "ringallreduce.h"

#include "error.h"

#include <cmath>
#include <limits>
#include <optional>

namespace dml {

std::pair<Eigen::Index, Eigen::Index> ringChunk(Eigen::Index N, int P, int c)
{
    const Eigen::Index base = N / P, extra = N % P;
    const Eigen::Index begin = c * base + std::min<Eigen::Index>(c, extra);
    return {begin, begin + base + (c < extra ? 1 : 0)};
}

void ringAllReduce(Transport& t, int rank, int P, Eigen::VectorXf* data, double totalBytes, int tagBase,
                   RingScalars* scalars)
{
    if (P <= 1)
        return;
    const Eigen::Index N = data ? data->size() : Eigen::Index(std::llround(totalBytes / 4.0));
    const int next = (rank + 1) % P; // and we receive from (rank - 1 + P) % P: the only sender on tagBase
    auto mod = [P](int i) { return ((i % P) + P) % P; };
    auto chunkBytes = [&](int c) {
        const auto [b, e] = ringChunk(N, P, c);
        return N > 0 ? totalBytes * double(e - b) / double(N) : 0.0;
    };
    // The scalars ride with chunk 0: reduced along 0 -> 1 -> ... -> P-1 (rank order), then passed around.
    RingScalars acc = scalars ? *scalars : RingScalars{};
    auto send = [&](int c) {
        std::shared_ptr<const Eigen::VectorXf> payload;
        if (data) {
            const auto [b, e] = ringChunk(N, P, c);
            payload = std::make_shared<const Eigen::VectorXf>(data->segment(b, e - b));
        }
        t.isend(next, tagBase, Message{.kind = c, .bytes = chunkBytes(c), .data = std::move(payload),
                                       .version = acc.flags, .value = acc.sum});
    };

    // Reduce-scatter: after P-1 steps, rank r owns the complete sum of chunk (r+1) mod P.
    for (int s = 0; s < P - 1; ++s) {
        send(mod(rank - s));
        Message m = t.recv(tagBase);
        t.waitAll();
        const int c = mod(rank - s - 1);
        const auto [b, e] = ringChunk(N, P, c);
        if (data)
            data->segment(b, e - b) += *m.data;
        if (e > b)
            t.compute(double(e - b)); // one addition per element
        if (c == 0) {             // the partial scalars of ranks 0..rank-1, then this rank's term
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
        const auto [b, e] = ringChunk(N, P, c);
        if (data)
            data->segment(b, e - b) = *m.data;
        if (c == 0) {
            acc.sum = m.value;
            acc.flags = m.version;
        }
    }
    if (scalars)
        *scalars = acc;
}

RingAllReduceStrategy::RingAllReduceStrategy(int workers, const TrainingConfig& cfg, const TrainTest& data,
                                             MetricsSink& sink)
    : m_workers(workers), m_cfg(cfg), m_data(data), m_workload(cfg, data.train),
      m_partition(makePartition(cfg.partition, data.train, workers, cfg.seed)),
      m_stepsPerEpoch(stepsPerEpoch(data.train.numSamples(), workers, cfg.batchSize)),
      m_evaluator(data.test, m_workload.mlp(), cfg, double(m_stepsPerEpoch), long(cfg.epochs) * m_stepsPerEpoch,
                  "epochs", sink)
{
    checkBatchFits(m_partition, cfg.batchSize);
}

void RingAllReduceStrategy::setCompression(const compression::CompressionSpec& spec, int localSteps)
{
    if (spec.enabled() || localSteps != 1) // TODO(issue 13): compressed ring all-reduce and local SGD
        throw ConfigError("strategy.compression.type", "ring-allreduce does not compress yet");
    m_compression = spec;
    m_localSteps = localSteps;
}

double RingAllReduceStrategy::updateFlopsPerStep() const
{
    const double n = double(m_workload.numParams());
    return n + Optimizer::stepFlops(m_cfg.optimizer, n);
}

void RingAllReduceStrategy::run(int rank, Transport& t)
{
    const Mlp* arch = m_workload.mlp(); // nullptr for a proxy: no vectors, no arithmetic on data
    const Eigen::Index n = arch ? m_workload.numParams() : 0;
    Eigen::VectorXf params = arch ? m_workload.initialParams(m_cfg.seed) : Eigen::VectorXf(), grad(n);
    Optimizer opt(m_cfg.optimizer, n);
    BatchSampler sampler(m_partition[std::size_t(rank)], m_cfg.batchSize, workerSeed(m_cfg.seed, rank));
    const float scale = 1.0f / float(m_workers);
    constexpr long StopFlag = 1;
    bool stopRequested = false; // rank 0 only: the Evaluator said stop after the previous step

    if (rank == 0)
        m_evaluator.initial(t.now(), arch ? params.data() : nullptr);
    for (long step = 1;; ++step) {
        double loss = std::numeric_limits<double>::quiet_NaN();
        if (arch)
            loss = m_workload.gradient(params.data(), sampler, grad.data());
        t.compute(workerFlopsPerStep());
        RingScalars scalars{.sum = loss, .flags = stopRequested ? StopFlag : 0};
        ringAllReduce(t, rank, m_workers, arch ? &grad : nullptr, m_workload.modelBytes(), Ring, &scalars);
        if (scalars.flags & StopFlag)
            break; // rank 0 stopped the run after step - 1: this step's gradient is discarded on every rank
        if (arch) {
            grad *= scale;
            opt.step(params.data(), grad.data());
        }
        t.compute(updateFlopsPerStep());
        if (m_observer)
            m_observer(rank, step, params);
        if (rank == 0) {
            m_evaluator.addTrainLoss(scalars.sum / double(m_workers));
            stopRequested = m_evaluator.afterStep(t.now(), step, arch ? params.data() : nullptr);
        }
        if (step >= m_evaluator.totalSteps()) // the planned end: every rank knows it, no announcement needed
            break;
    }
    if (rank == 0)
        m_final = params;
}

} // namespace dml
