// SPDX-License-Identifier: GPL-3.0-or-later
#include "strategies/asyncps.h"

#include "error.h"
#include "parallel.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

namespace dml {

AsyncParameterServer::AsyncParameterServer(int workers, int stalenessBound, const TrainingConfig& cfg,
                                           const TrainTest& data, MetricsSink& sink)
    : m_workers(workers), m_bound(stalenessBound), m_cfg(cfg), m_data(data), m_workload(cfg, data.train),
      m_partition(makePartition(cfg.partition, data.train, workers, cfg.seed)),
      m_updatesPerEpoch(long(workers) * stepsPerEpoch(data.train.numSamples(), workers, cfg.batchSize)),
      m_sink(sink),
      m_evaluator(data.test, m_workload.model(), cfg, double(m_updatesPerEpoch), long(cfg.epochs) * m_updatesPerEpoch,
                  "epochs", sink)
{
    checkBatchFits(m_partition, cfg.batchSize);
    m_samplers.reserve(std::size_t(workers));
    for (int w = 0; w < workers; ++w)
        m_samplers.emplace_back(m_partition[std::size_t(w)], cfg.batchSize, workerSeed(cfg.seed, w));
}

void AsyncParameterServer::setCheckpointing(const CheckpointSpec& spec)
{
    m_clock.emplace(spec);
    m_committed = Snapshot{};
    m_committed.clock.assign(std::size_t(m_workers), 0);
    m_committed.samplers = m_samplers;
    m_committed.evaluator = m_evaluator.state();
}

CheckpointRef AsyncParameterServer::restoreCheckpoint()
{
    m_samplers = m_committed.samplers;
    m_evaluator.restore(m_committed.evaluator);
    m_stalenessSum = m_committed.stalenessSum;
    m_stalenessCount = m_committed.stalenessCount;
    m_stalenessMax = m_committed.stalenessMax;
    m_done = m_committed.step;
    m_resuming = true;
    return {m_committed.step, m_committed.time};
}

double AsyncParameterServer::serverFlopsPerUpdate() const
{
    return Optimizer::stepFlops(m_cfg.optimizer, double(m_workload.numParams()));
}

void AsyncParameterServer::setCompression(const compression::CompressionSpec& spec)
{
    m_compression = spec;
    m_compressor = compression::makeCompressor(spec);
}

void AsyncParameterServer::setFailureDetection(double seconds)
{
    if (!(seconds > 0) || !std::isfinite(seconds))
        throw ConfigError("strategy.failure_detection", "expected a finite time greater than zero, got " +
                                                            std::to_string(seconds));
    m_failureDetection = seconds;
}

void AsyncParameterServer::completeSummary(Summary& s) const
{
    m_evaluator.completeSummary(s);
    m_counters.fill(m_compression, 1, s);
    if (m_stalenessCount == 0)
        return;
    s.stalenessMean = m_stalenessSum / double(m_stalenessCount);
    s.stalenessMax = double(m_stalenessMax);
}

void AsyncParameterServer::run(int rank, Transport& t)
{
    if (rank == m_workers)
        runServer(t);
    else
        runWorker(rank, t);
}

void AsyncParameterServer::runServer(Transport& t)
{
    const bool proxy = m_workload.isProxy();
    const Eigen::Index n = proxy ? 0 : m_workload.numParams(); // a proxy allocates no vectors
    Eigen::VectorXf params = proxy ? Eigen::VectorXf() : m_workload.initialParams(m_cfg.seed);
    Optimizer opt(m_cfg.optimizer, n);
    Eigen::VectorXf decoded(n); // a compressed gradient, decoded
    long version = 0;                                            // updates applied so far
    std::vector<long> clock(std::size_t(m_workers), 0);          // updates applied per worker
    const double checkpointBytes = recovery::checkpointBytes(m_cfg.optimizer, double(m_workload.numParams()));
    const bool resumed = m_resuming; // relaunched by checkpoint-restart: go on from the last checkpoint
    if (resumed) {
        m_resuming = false;
        version = m_committed.step;
        clock = m_committed.clock;
        m_committed.model.load(params, opt, t, checkpointBytes);
        m_clock->restarted(t.now());
    }
    std::vector<bool> withheld(std::size_t(m_workers), false);   // SSP: waiting for the slowest worker
    std::vector<bool> dead(std::size_t(m_workers), false);       // its host went off: it never pushes again
    std::vector<bool> stopped(std::size_t(m_workers), false);    // told to stop
    int running = m_workers;                                     // workers neither told to stop nor dead
    bool stopping = false;
    // The slowest live worker's clock (a dead worker's clock stops, and must not hold the others back forever).
    auto minClock = [&] {
        long low = std::numeric_limits<long>::max();
        for (int v = 0; v < m_workers; ++v)
            if (!dead[std::size_t(v)])
                low = std::min(low, clock[std::size_t(v)]);
        return low == std::numeric_limits<long>::max() ? 0 : low;
    };

    auto sendModel = [&](int w) { // fire and forget: the transport reaps finished sends
        // The clock gap under which w starts its next gradient: its clock minus the slowest worker's (<= s).
        m_sink.point("clock_gap", t.now(), double(clock[std::size_t(w)] - minClock()));
        t.isend(w, ToWorker, Message{.kind = Model, .bytes = m_workload.modelBytes(),
                                     .data = proxy ? nullptr : m_pool.copyOf(params),
                                     .version = version});
    };
    auto sendStop = [&](int w) {
        t.isend(w, ToWorker, Message{.kind = Stop, .bytes = 0, .data = nullptr, .version = version});
        stopped[std::size_t(w)] = true;
        --running;
    };
    // SSP (Ho et al. 2013): worker w may compute its next gradient iff clock[w] - min clock <= s.
    auto mayProceed = [&](int w) {
        return m_bound < 0 || clock[std::size_t(w)] - minClock() <= m_bound;
    };
    // Workers whose host went off (Transport::peerFailed) leave: they count as stopped, their clock no longer
    // bounds the others, and a withheld worker they were holding back is released (in rank order).
    auto reapFailed = [&] {
        bool any = false;
        for (int v = 0; v < m_workers; ++v)
            if (!dead[std::size_t(v)] && t.peerFailed(v)) {
                dead[std::size_t(v)] = true;
                withheld[std::size_t(v)] = false;
                if (!stopped[std::size_t(v)])
                    --running;
                m_sink.point("failed_workers", t.now(), 1.0);
                any = true;
            }
        if (any && !stopping)
            for (int v = 0; v < m_workers; ++v)
                if (withheld[std::size_t(v)] && mayProceed(v)) {
                    withheld[std::size_t(v)] = false;
                    sendModel(v);
                }
    };

    if (!resumed)
        m_evaluator.initial(t.now(), proxy ? nullptr : params.data());
    for (int w = 0; w < m_workers; ++w)
        sendModel(w);
    while (running > 0) {
        // Waits at most failureDetection seconds at a time, so that workers whose host went off are noticed.
        std::optional<Message> next = t.recv(ToServer, m_failureDetection);
        reapFailed();
        if (!next)
            continue;
        Message m = std::move(*next);
        const int w = m.source;
        if (dead[std::size_t(w)] || stopped[std::size_t(w)])
            continue; // pushed just before its host went off, or after it was told to stop
        if (stopping) { // a gradient that was in flight when the run ended: drained, not applied
            sendStop(w);
            continue;
        }
        // Apply the gradient now, computed on model version m.version.
        const long staleness = version - m.version;
        m_evaluator.addTrainLoss(m.value);
        const float* grad = proxy ? nullptr : m.data ? m.data->data() : nullptr;
        if (m_compressor) { // decode the worker's encoding (one gradient: no vote, no sum)
            m_counters.compute(t, m_compressor->decodeFlops(double(m_workload.numParams())));
            if (!proxy) {
                m_compressor->decodeInto(*m.encoded, decoded);
                grad = decoded.data();
            }
        }
        t.compute(serverFlopsPerUpdate());
        if (!proxy) // element-wise, split over the pool: the same bits whatever the thread count
            opt.stepParallel(params.data(), grad);
        ++version;
        ++clock[std::size_t(w)];
        m_stalenessSum += double(staleness);
        ++m_stalenessCount;
        m_stalenessMax = std::max(m_stalenessMax, staleness);
        m_sink.point("staleness", t.now(), double(staleness));

        m_done = version;
        if (m_evaluator.afterStep(t.now(), version, proxy ? nullptr : params.data())) {
            stopping = true;
            m_final = params;
            sendStop(w);
            for (int v = 0; v < m_workers; ++v)
                if (withheld[std::size_t(v)] && !dead[std::size_t(v)])
                    sendStop(v);
            continue;
        }
        if (m_clock && m_clock->due(version, t.now())) { // pushes queue up while the checkpoint is written
            Snapshot snap{.step = version, .time = 0, .model = {params, opt}, .clock = clock,
                          .samplers = m_samplers, .stalenessSum = m_stalenessSum,
                          .stalenessCount = m_stalenessCount, .stalenessMax = m_stalenessMax,
                          .evaluator = m_evaluator.state()};
            const double start = t.now();
            t.writeCheckpoint(checkpointBytes);
            m_clock->saved(version, start, t.now());
            snap.time = t.now();
            m_sink.point("checkpoint", t.now(), double(version));
            m_committed = std::move(snap);
        }
        if (mayProceed(w))
            sendModel(w);
        else
            withheld[std::size_t(w)] = true;
        // w's update may have raised the slowest clock: release the withheld workers it unblocks, in rank order.
        for (int v = 0; v < m_workers; ++v)
            if (withheld[std::size_t(v)] && mayProceed(v)) {
                withheld[std::size_t(v)] = false;
                sendModel(v);
            }
    }
    if (!stopping) { // every worker's host went off before the run's end: the model is what it is
        m_evaluator.requestStop("workers_failed");
        m_evaluator.afterStep(t.now(), version, proxy ? nullptr : params.data(), true);
        m_final = params;
    }
}

void AsyncParameterServer::runWorker(int rank, Transport& t)
{
    const bool real = !m_workload.isProxy(); // a proxy does no arithmetic on data
    BatchSampler& sampler = m_samplers[std::size_t(rank)];
    const double flops = workerFlopsPerStep();
    std::optional<compression::GradientEncoder> encoder; // this worker's memory (error feedback), kept across pushes
    if (m_compressor)
        encoder.emplace(*m_compressor, m_compression);
    for (;;) {
        Message m = t.recv(ToWorker); // pull
        if (m.kind == Stop)
            return;
        std::shared_ptr<Eigen::VectorXf> grad;
        float loss = std::numeric_limits<float>::quiet_NaN();
        std::vector<int> batch;
        parallel::Task job; // the gradient, a pool job while its compute time passes (parallel.h); destroyed first
        if (real) {
            grad = m_pool.acquire(m_workload.numParams());
            batch = drawBatches(sampler, 1); // in simulation order
            job = parallel::submit([&, model = m.data->data(), B = sampler.batchSize()] {
                loss = m_workload.gradient(model, batch.data(), B, grad->data());
            });
        }
        t.compute(flops);
        job.wait();
        Message out{.kind = Gradient, .bytes = m_workload.modelBytes(), .version = m.version, .value = loss};
        if (encoder) {
            encoder->encodeMessage(grad.get(), double(m_workload.numParams()),
                                   deriveSeed(m_cfg.seed, 0xC0DE0000u + unsigned(rank), std::uint64_t(m.version)), t,
                                   m_counters, out);
        } else {
            out.data = std::move(grad);
        }
        t.send(m_workers, ToServer, std::move(out)); // push, tagged with the version the gradient was computed on
    }
}

} // namespace dml
