// SPDX-License-Identifier: GPL-3.0-or-later
#include "strategies/syncps.h"

#include "error.h"
#include "parallel.h"
#include "privacy/dp.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

namespace dml {

SyncParameterServer::SyncParameterServer(int workers, const TrainingConfig& cfg, const TrainTest& data,
                                         MetricsSink& sink, int backupWorkers)
    : m_workers(workers), m_backup(backupWorkers), m_sink(sink), m_cfg(cfg), m_data(data),
      m_workload(cfg, data.train),
      m_partition(makePartition(cfg.partition, data.train, workers, cfg.seed)),
      m_stepsPerEpoch(stepsPerEpoch(data.train.numSamples(), workers, cfg.batchSize)),
      m_evaluator(data.test, m_workload.model(), cfg, double(m_stepsPerEpoch), long(cfg.epochs) * m_stepsPerEpoch,
                  "epochs", sink)
{
    if (backupWorkers < 0 || backupWorkers >= workers)
        throw ConfigError("strategy.backup_workers",
                          "expected between 0 and " + std::to_string(workers - 1) +
                              " (fewer than the workers, platform.workers), got " + std::to_string(backupWorkers));
    checkBatchFits(m_partition, cfg.batchSize);
    m_samplers.reserve(std::size_t(workers));
    for (int w = 0; w < workers; ++w)
        m_samplers.emplace_back(m_partition[std::size_t(w)], cfg.batchSize, workerSeed(cfg.seed, w));
}

void SyncParameterServer::setCheckpointing(const CheckpointSpec& spec)
{
    m_clock.emplace(spec);
    m_committed = Snapshot{.step = 0, .time = 0, .model = {}, .samplers = m_samplers,
                           .evaluator = m_evaluator.state()};
}

CheckpointRef SyncParameterServer::restoreCheckpoint()
{
    m_samplers = m_committed.samplers;
    m_evaluator.restore(m_committed.evaluator);
    m_done = m_committed.step;
    m_resuming = true;
    return {m_committed.step, m_committed.time};
}

void SyncParameterServer::setRecovery(bool elastic, double failureDetection)
{
    if (!(failureDetection > 0) || !std::isfinite(failureDetection))
        throw ConfigError("strategy.failure_detection", "expected a finite time greater than zero, got " +
                                                            std::to_string(failureDetection));
    m_elastic = elastic;
    m_failureDetection = failureDetection;
}

void SyncParameterServer::setCompression(const compression::CompressionSpec& spec, int localSteps)
{
    m_compression = spec;
    m_localSteps = localSteps;
    m_compressor = compression::makeCompressor(spec);
}

double SyncParameterServer::serverFlopsPerStep() const
{
    // (N-1) n additions + n multiplications for the average of N = P - b gradients, then the optimizer's count.
    const double n = double(m_workload.numParams());
    return double(m_workers - m_backup) * n + Optimizer::stepFlops(m_cfg.optimizer, n);
}

void SyncParameterServer::run(int rank, Transport& t)
{
    if (rank == m_workers)
        runServer(t);
    else
        runWorker(rank, t);
}

void SyncParameterServer::runServer(Transport& t)
{
    using compression::Encoded;
    const bool proxy = m_workload.isProxy();
    const Eigen::Index n = proxy ? 0 : m_workload.numParams(); // a proxy allocates no vectors
    const double nf = double(m_workload.numParams());
    const double bytes = m_workload.modelBytes();
    const bool local = m_localSteps > 1;
    const bool power = m_compression.kind == compression::CompressionSpec::Kind::PowerSgd;
    Eigen::VectorXf params = proxy ? Eigen::VectorXf() : m_workload.initialParams(m_cfg.seed);
    // DGC: the workers keep the momentum; the aggregate of their sparse updates is applied with plain SGD.
    OptimizerSpec serverOpt = m_cfg.optimizer;
    if (m_compression.momentumCorrection)
        serverOpt = OptimizerSpec{.kind = OptimizerSpec::Kind::Sgd, .learningRate = m_cfg.optimizer.learningRate};
    Optimizer opt(serverOpt, n);
    long done = 0; // optimizer steps applied (local SGD: H per averaging)
    const double checkpointBytes = recovery::checkpointBytes(serverOpt, nf);
    const bool resumed = m_resuming; // relaunched by checkpoint-restart: go on from the last checkpoint
    if (resumed) {
        m_resuming = false;
        done = m_committed.step;
        m_committed.model.load(params, opt, t, checkpointBytes);
        m_clock->restarted(t.now());
    }
    Eigen::VectorXf avg(n);
    std::vector<Message> msgs(static_cast<std::size_t>(m_workers));
    int needed = m_workers - m_backup; // N (elastic: the live workers minus b)
    float scale = 1.0f / float(needed); // 1 / the gradients averaged
    std::vector<char> dead(static_cast<std::size_t>(m_workers), 0);
    int live = m_workers;
    const bool vote = compression::majorityVote(m_compression);
    std::optional<compression::PowerSgd> layout; // PowerSGD: the server's view of the factors' layout
    if (power && !proxy)
        layout.emplace(compression::PowerSgd::blockShapes(m_workload.model()->parameterBlocks()), m_compression.rank, 0);

    auto broadcast = [&](int kind, long version) {
        // No copy: every worker reads the model before it sends its gradient, and the server changes the model
        // only after all P gradients are in (the barrier), so sharing it is safe and saves 4n bytes of copying
        // per step. The empty owner makes the shared_ptr non-owning.
        // With backup workers a late worker may read a model after the server moved on, so each step's model is
        // then a copy (a gradient computed on it is stale and dropped anyway, but it must not read a torn model);
        // with checkpoint-restart too (a worker may still read it after the server's host went off).
        std::shared_ptr<const Eigen::VectorXf> snapshot =
            kind != Model || proxy        ? nullptr
            : m_backup > 0 || m_clock     ? std::shared_ptr<const Eigen::VectorXf>(m_pool.copyOf(params))
                                   : std::shared_ptr<const Eigen::VectorXf>(std::shared_ptr<void>(), &params);
        for (int w = 0; w < m_workers; ++w)
            t.isend(w, ToWorker, Message{.kind = kind, .bytes = kind == Model ? bytes : 0.0, .data = snapshot,
                                         .version = version});
        t.waitAll();
    };
    // The first N messages computed on the model of version `version` (a late one from an earlier step is
    // discarded; b = 0: none is ever late). in[w] says whose arrived.
    std::vector<char> in(static_cast<std::size_t>(m_workers), 0);
    // Overlap: the buckets of each worker's gradient that arrived in this step.
    const bool overlapped = m_overlap.enabled;
    const int buckets = overlapped ? int(makeBuckets(m_workload.layers(), m_overlap.bucketCapBytes).size()) : 1;
    std::vector<int> partsIn(static_cast<std::size_t>(m_workers), 0);
    // Elastic recovery: leaves out the workers whose host went off; the barrier shrinks to the survivors.
    // A failure is known failureDetection seconds after it happened (a heartbeat timeout).
    auto detectedAt = [&](int w) { return t.peerFailedAt(w) + m_failureDetection; };
    auto reapFailed = [&] {
        for (int w = 0; w < m_workers; ++w)
            if (!dead[std::size_t(w)] && t.peerFailed(w) && t.now() >= detectedAt(w)) {
                dead[std::size_t(w)] = 1;
                --live;
                m_sink.point("failed_workers", t.now(), 1.0);
            }
        needed = std::max(0, live - m_backup);
    };
    auto collect = [&](long version, bool trainLoss) {
        std::fill(in.begin(), in.end(), 0);
        for (int i = 0; i < needed;) {
            Message m;
            if (m_elastic) { // wait at most until the next failure is detected, then look for failed workers
                double wait = m_failureDetection;
                for (int w = 0; w < m_workers; ++w)
                    if (!dead[std::size_t(w)] && t.peerFailed(w))
                        wait = std::min(wait, std::max(0.0, detectedAt(w) - t.now()));
                std::optional<Message> next = t.recv(ToServer, wait);
                reapFailed();
                if (!next)
                    continue;
                m = std::move(*next);
            } else {
                m = t.recv(ToServer);
            }
            if (m.version != version || (m_elastic && in[std::size_t(m.source)]))
                continue;
            if (overlapped) { // one bucket of a worker's gradient (setOverlap): added into the sum as it arrives
                t.compute(m.bytes / 4);
                if (++partsIn[std::size_t(m.source)] < buckets)
                    continue;
                partsIn[std::size_t(m.source)] = 0; // its last bucket: the gradient is complete
            }
            if (trainLoss)
                m_evaluator.addTrainLoss(m.value);
            in[std::size_t(m.source)] = 1;
            msgs[std::size_t(m.source)] = std::move(m);
            ++i;
        }
        if (m_elastic) { // the mean over the gradients that arrived (a worker that failed after sending counts)
            const auto got = std::count(in.begin(), in.end(), 1);
            scale = got > 0 ? 1.0f / float(got) : 0.0f;
        }
    };
    std::vector<const Eigen::VectorXf*> parts; // the dense vectors that arrived, in rank order
    // Their sum (or mean) over elements [b, e) of `out`: the same additions in the same order for every element,
    // however the elements are split.
    auto reduceRange = [&](Eigen::VectorXf& out, bool mean, long b, long e) {
        auto o = out.segment(b, e - b);
        o = parts.front()->segment(b, e - b);
        for (std::size_t k = 1; k < parts.size(); ++k)
            o += parts[k]->segment(b, e - b);
        if (mean)
            o *= scale;
    };
    // The sum (or mean) of the dense vectors that arrived, in rank order (never arrival order), split over the pool
    // in ranges of whole pages (parallel::forRanges).
    auto denseReduce = [&](Eigen::VectorXf& out, bool mean) {
        parts.clear();
        for (int w = 0; w < m_workers; ++w)
            if (in[std::size_t(w)])
                parts.push_back(msgs[std::size_t(w)].data.get());
        if (parts.empty())
            return;
        out.resize(parts.front()->size());
        parallel::forRanges(long(out.size()), 1024, [&](long b, long e) { reduceRange(out, mean, b, e); });
    };
    auto denseSum = [&](Eigen::VectorXf& out) { denseReduce(out, false); };
    auto denseMean = [&](Eigen::VectorXf& out) { denseReduce(out, true); };
    const privacy::PrivacySpec& dp = m_privacy.spec();
    const bool dpSgd = dp.kind == privacy::PrivacySpec::Kind::DpSgd;
    double lot = double(m_workers) * double(m_cfg.batchSize); // DP-SGD: examples per step
    // PowerSGD (Vogels et al. 2019, Alg. 1) with the server as the all-reduce: average the workers' P factors,
    // send the mean back, average their Q factors, send that back; the server forms the same approximation
    // P^ Q^T as every worker does.
    auto factorRound = [&](long version, Eigen::VectorXf& meanP) {
        Eigen::VectorXf meanQ;
        const double pBytes = layout->pBytes(), qBytes = layout->qBytes();
        denseMean(meanP);
        m_counters.compute(t, double(needed) * double(meanP.size()));
        auto sendFactors = [&](const Eigen::VectorXf& f, double b) {
            auto shared = std::make_shared<const Eigen::VectorXf>(f);
            for (int w = 0; w < m_workers; ++w)
                t.isend(w, ToWorker, Message{.kind = Factors, .bytes = b, .data = shared, .version = version});
            t.waitAll();
        };
        sendFactors(meanP, pBytes);
        collect(version, false);
        denseMean(meanQ);
        m_counters.compute(t, double(needed) * double(meanQ.size()));
        sendFactors(meanQ, qBytes);
        layout->orthogonalize(meanP);
        layout->approximate(meanP, meanQ, avg);
        m_counters.compute(t, layout->orthogonalizeFlops() + layout->approximateFlops());
    };

    if (!resumed)
        m_evaluator.initial(t.now(), proxy ? nullptr : params.data());
    broadcast(Model, done);
    for (;;) {
        collect(done, true);
        bool stepped = false; // the plain path applied the optimizer with the mean
        if (m_elastic && needed == 0) { // every worker failed: the model is what it is
            m_evaluator.requestStop("workers_failed");
            m_evaluator.afterStep(t.now(), done, proxy ? nullptr : params.data(), true);
            m_final = params;
            return;
        }
        if (m_elastic) {
            lot = double(std::count(in.begin(), in.end(), 1)) * double(m_cfg.batchSize);
            m_sink.point("live_workers", t.now(), double(live));
        }
        if (power) {
            Eigen::VectorXf meanP;
            factorRound(done, meanP);
        } else if (m_compressor) {
            std::vector<const Encoded*> parts;
            for (int w = 0; w < m_workers; ++w)
                if (in[std::size_t(w)] && msgs[std::size_t(w)].encoded)
                    parts.push_back(msgs[std::size_t(w)].encoded.get());
            const std::vector<float> weights(parts.size(), scale);
            m_counters.compute(t, proxy ? compression::aggregateFlops(*m_compressor, vote, nf, int(parts.size()))
                                        : compression::aggregate(*m_compressor, vote, parts, weights, avg));
        } else if (dpSgd) { // sum of the clipped sums, plus the noise, over the lot (Abadi et al. 2016)
            if (!proxy) {
                denseSum(avg);
                privacy::addGaussianNoise(avg, dp.noiseMultiplier * dp.clip,
                                          deriveSeed(m_cfg.seed, 0xD95, std::uint64_t(done + 1)));
                avg *= float(1.0 / lot);
            }
            t.compute(privacy::noiseFlops(nf) + nf);
        } else if (!proxy && !local) {
            // The mean and the optimizer step in one pass, block by block while the block is in cache (its time is
            // charged below, as before).
            parts.clear();
            for (int w = 0; w < m_workers; ++w)
                if (in[std::size_t(w)])
                    parts.push_back(msgs[std::size_t(w)].data.get());
            if (!parts.empty()) {
                avg.resize(parts.front()->size());
                opt.stepFused(params.data(), avg.data(), [&](long b, long e) { reduceRange(avg, true, b, e); });
                stepped = true;
            }
        } else if (!proxy) {
            denseMean(avg);
        }
        if (m_backup > 0)
            m_sink.point("dropped_gradients", t.now(), double(m_workers - needed));
        // Back to the pool now, not when next step's gradients replace them: the workers then reuse these P
        // buffers, still in cache, instead of cycling through 2P.
        std::fill(msgs.begin(), msgs.end(), Message{});
        const long h = std::min<long>(m_localSteps, m_evaluator.totalSteps() - done);
        done += h;
        if (local) { // local SGD: w_{t+1} = w_t - mean_k (w_t - w_k), the average of the workers' models
            t.compute((m_compressor ? 0.0 : double(needed) * nf) + nf);
            if (!proxy)
                params -= avg;
        } else {
            t.compute((m_compressor || power || overlapped ? 0.0 : double(needed) * nf) +
                      Optimizer::stepFlops(serverOpt, nf));
            if (!proxy && !stepped)
                opt.stepParallel(params.data(), avg.data());
        }
        if (dpSgd && m_privacy.step(lot / double(m_data.train.numSamples()), t.now(), m_sink))
            m_evaluator.requestStop("privacy_budget"); // the next step would exceed the budget
        m_done = done;
        if (m_evaluator.afterStep(t.now(), done, proxy ? nullptr : params.data())) {
            broadcast(Stop, done);
            m_final = params;
            return;
        }
        if (m_clock && m_clock->due(done, t.now())) { // the workers wait for the model while it is written
            Snapshot snap{.step = done, .time = 0, .model = {params, opt}, .samplers = m_samplers,
                          .evaluator = m_evaluator.state()};
            const double start = t.now();
            t.writeCheckpoint(checkpointBytes);
            m_clock->saved(done, start, t.now());
            snap.time = t.now();
            m_sink.point("checkpoint", t.now(), double(done));
            m_committed = std::move(snap); // complete: a failure from now on rolls back to here
        }
        if (m_elastic) // a failed worker whose host is back on (and reachable) re-joins with this step's model
            for (int w = 0; w < m_workers; ++w) {
                if (!dead[std::size_t(w)])
                    continue;
                t.launch(w); // not started (peerFailed stays true) while its host is off or cut off
                if (t.peerFailed(w))
                    continue;
                dead[std::size_t(w)] = 0;
                ++live;
                needed = std::max(0, live - m_backup);
                m_sink.point("rejoined_workers", t.now(), 1.0);
            }
        broadcast(Model, done);
    }
}

void SyncParameterServer::runWorker(int rank, Transport& t)
{
    const bool real = !m_workload.isProxy(); // a proxy does no arithmetic on data
    const Eigen::Index n = real ? m_workload.numParams() : 0;
    const double nf = double(m_workload.numParams());
    BatchSampler& sampler = m_samplers[std::size_t(rank)];
    const double flops = workerFlopsPerStep();
    const bool local = m_localSteps > 1;
    const bool dpSgd = m_privacy.spec().kind == privacy::PrivacySpec::Kind::DpSgd;
    // Local SGD (Stich 2019; Lin et al. 2020): each worker steps its own copy of the model with its own optimizer,
    // whose state (momentum, Adam's moments) it keeps across averagings, as in Lin et al.'s local SGD.
    std::optional<Optimizer> localOpt;
    Eigen::VectorXf w, grad;
    if (local)
        localOpt.emplace(m_cfg.optimizer, n);
    std::optional<compression::GradientEncoder> encoder;
    if (m_compressor)
        encoder.emplace(*m_compressor, m_compression, m_cfg.optimizer.momentum);
    std::optional<compression::PowerSgd> power;
    if (m_compression.kind == compression::CompressionSpec::Kind::PowerSgd)
        power.emplace(compression::PowerSgd::blockShapes(m_workload.model()->parameterBlocks()), m_compression.rank,
                      m_cfg.seed, m_compression.errorFeedback);
    std::optional<BackwardOverlap> overlap;
    if (m_overlap.enabled)
        overlap.emplace(m_workload.layers(), m_overlap, m_cfg.batchSize);
    for (;;) {
        Message m = t.recv(ToWorker);
        // With backup workers a late worker may find several models waiting: it starts from the newest (Chen et
        // al. 2016: the late result is ignored and the worker moves on with the current parameters).
        if (m_backup > 0 || m_elastic) { // elastic: a re-joined worker may find models sent while it was away
            while (m.kind != Stop) {
                std::optional<Message> newer = t.recv(ToWorker, 0.0);
                if (!newer)
                    break;
                m = std::move(*newer);
            }
        }
        if (m.kind == Stop)
            return;
        // The optimizer steps this message asks for: 1, or H with local SGD (fewer at the run's planned end).
        const long h = std::min<long>(m_localSteps, m_evaluator.totalSteps() - m.version);
        std::shared_ptr<Eigen::VectorXf> vec; // the gradient, or with local SGD the update w_t - w_local
        float loss = std::numeric_limits<float>::quiet_NaN();
        std::vector<int> batches;
        // The arithmetic is a pool job that runs while the step's compute time passes, beside the other workers'
        // (parallel.h); it is awaited before anything reads its results. Declared after what it writes, so that a
        // body killed meanwhile finishes it before they are freed.
        parallel::Task job;
        if (real) {
            vec = m_pool.acquire(n);
            batches = drawBatches(sampler, local ? h : 1); // in simulation order, as the sampler always was
            const float* model = m.data->data();
            const int B = sampler.batchSize();
            if (dpSgd) {
                job = parallel::submit([&, model, B] {
                    loss = m_workload.clippedGradientSum(model, batches.data(), B, m_privacy.spec().clip, vec->data());
                });
            } else if (!local) {
                job = parallel::submit(
                    [&, model, B] { loss = m_workload.gradient(model, batches.data(), B, vec->data()); });
            } else {
                job = parallel::submit([&, B] {
                    w = *m.data;
                    grad.resize(n);
                    double sum = 0;
                    for (long i = 0; i < h; ++i) {
                        sum += m_workload.gradient(w.data(), batches.data() + i * B, B, grad.data());
                        localOpt->step(w.data(), grad.data());
                    }
                    *vec = *m.data - w;
                    loss = float(sum / double(h));
                });
            }
        }
        if (overlap) { // push each bucket as soon as its layers' backward pass is done (setOverlap)
            overlap->step(t, [&] { job.wait(); }, [&](const GradientBucket& b) {
                t.isend(m_workers, ToServer, Message{.kind = Gradient, .bytes = b.bytes(), .data = vec,
                                                     .version = m.version, .value = loss});
            });
            t.waitAll();
            continue;
        }
        t.compute(local   ? double(h) * (flops + Optimizer::stepFlops(m_cfg.optimizer, nf)) + nf
                  : dpSgd ? m_workload.clippedGradientFlops(m_cfg.batchSize)
                          : flops);
        job.wait();
        Message out{.kind = Gradient, .bytes = m_workload.modelBytes(), .version = m.version, .value = loss};
        if (power) { // PowerSGD: P up, mean P down, Q up, mean Q down (the server is the all-reduce)
            Eigen::VectorXf p, q, approx;
            power->computeP(*vec, p);
            m_counters.compute(t, power->computePFlops());
            m_counters.sent(m_workload.modelBytes(), power->pBytes() + power->qBytes());
            out.bytes = power->pBytes();
            out.data = std::make_shared<const Eigen::VectorXf>(std::move(p));
            t.send(m_workers, ToServer, std::move(out));
            Message meanP = t.recv(ToWorker);
            p = *meanP.data;
            power->computeQ(p, q);
            m_counters.compute(t, power->computeQFlops());
            t.send(m_workers, ToServer, Message{.kind = Factors, .bytes = power->qBytes(),
                                                .data = std::make_shared<const Eigen::VectorXf>(std::move(q)),
                                                .version = m.version});
            Message meanQ = t.recv(ToWorker);
            power->decompress(p, *meanQ.data, approx); // for the residual and the next warm start
            m_counters.compute(t, power->decompressFlops());
            continue;
        }
        if (encoder) {
            encoder->encodeMessage(vec.get(), nf, deriveSeed(m_cfg.seed, 0xC0DE0000u + unsigned(rank),
                                                             std::uint64_t(m.version)), t, m_counters, out);
        } else {
            out.data = std::move(vec);
        }
        t.send(m_workers, ToServer, std::move(out));
    }
}

} // namespace dml
