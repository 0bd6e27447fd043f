// SPDX-License-Identifier: GPL-3.0-or-later
#include "syncps.h"

#include "error.h"

#include <algorithm>
#include <limits>
#include <optional>

namespace dml {

SyncParameterServer::SyncParameterServer(int workers, const TrainingConfig& cfg, const TrainTest& data,
                                         MetricsSink& sink, int backupWorkers)
    : m_workers(workers), m_backup(backupWorkers), m_sink(sink), m_cfg(cfg), m_data(data),
      m_workload(cfg, data.train),
      m_partition(makePartition(cfg.partition, data.train, workers, cfg.seed)),
      m_stepsPerEpoch(stepsPerEpoch(data.train.numSamples(), workers, cfg.batchSize)),
      m_evaluator(data.test, m_workload.mlp(), cfg, double(m_stepsPerEpoch), long(cfg.epochs) * m_stepsPerEpoch,
                  "epochs", sink)
{
    if (backupWorkers < 0 || backupWorkers >= workers)
        throw ConfigError("strategy.backup_workers",
                          "expected between 0 and " + std::to_string(workers - 1) +
                              " (fewer than the workers, platform.workers), got " + std::to_string(backupWorkers));
    checkBatchFits(m_partition, cfg.batchSize);
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
    const bool proxy = m_workload.isProxy();
    const Eigen::Index n = proxy ? 0 : m_workload.numParams(); // a proxy allocates no vectors
    const double bytes = m_workload.modelBytes();
    Eigen::VectorXf params = proxy ? Eigen::VectorXf() : m_workload.initialParams(m_cfg.seed);
    Optimizer opt(m_cfg.optimizer, n);
    Eigen::VectorXf avg(n);
    std::vector<std::shared_ptr<const Eigen::VectorXf>> grads(static_cast<std::size_t>(m_workers));
    const int needed = m_workers - m_backup; // N
    const float scale = 1.0f / float(needed);

    auto broadcast = [&](int kind, long version) {
        // No copy: every worker reads the model before it sends its gradient, and the server changes the model
        // only after all P gradients are in (the barrier), so sharing it is safe and saves 4n bytes of copying
        // per step. The empty owner makes the shared_ptr non-owning.
        // With backup workers a late worker may read a model after the server moved on, so each step's model is
        // then a copy (a gradient computed on it is stale and dropped anyway, but it must not read a torn model).
        std::shared_ptr<const Eigen::VectorXf> snapshot =
            kind != Model || proxy ? nullptr
            : m_backup > 0         ? std::shared_ptr<const Eigen::VectorXf>(m_pool.copyOf(params))
                                   : std::shared_ptr<const Eigen::VectorXf>(std::shared_ptr<void>(), &params);
        for (int w = 0; w < m_workers; ++w)
            t.isend(w, ToWorker, Message{.kind = kind, .bytes = kind == Model ? bytes : 0.0, .data = snapshot,
                                         .version = version});
        t.waitAll();
    };

    m_evaluator.initial(t.now(), proxy ? nullptr : params.data());
    broadcast(Model, 0);
    for (long step = 1;; ++step) {
        // The first N gradients computed on the current model (version step - 1); a late one from an earlier step
        // is discarded (b = 0: none is ever late).
        std::vector<char> in(static_cast<std::size_t>(m_workers), 0);
        for (int i = 0; i < needed;) {
            Message m = t.recv(ToServer);
            if (m.version != step - 1)
                continue;
            m_evaluator.addTrainLoss(m.value);
            in[std::size_t(m.source)] = 1;
            grads[std::size_t(m.source)] = std::move(m.data);
            ++i;
        }
        // Average in rank order, so the sum does not depend on arrival order.
        if (!proxy) {
            bool first = true;
            for (int w = 0; w < m_workers; ++w) {
                if (!in[std::size_t(w)])
                    continue;
                if (first)
                    avg = *grads[std::size_t(w)];
                else
                    avg += *grads[std::size_t(w)];
                first = false;
            }
            avg *= scale;
        }
        if (m_backup > 0)
            m_sink.point("dropped_gradients", t.now(), double(m_workers - needed));
        // Back to the pool now, not when next step's gradients replace them: the workers then reuse these P
        // buffers, still in cache, instead of cycling through 2P.
        std::fill(grads.begin(), grads.end(), nullptr);
        t.compute(serverFlopsPerStep());
        if (!proxy)
            opt.step(params.data(), avg.data());
        if (m_evaluator.afterStep(t.now(), step, proxy ? nullptr : params.data())) {
            broadcast(Stop, step);
            m_final = params;
            return;
        }
        broadcast(Model, step);
    }
}

void SyncParameterServer::runWorker(int rank, Transport& t)
{
    const bool real = !m_workload.isProxy(); // a proxy does no arithmetic on data
    BatchSampler sampler(m_partition[std::size_t(rank)], m_cfg.batchSize, workerSeed(m_cfg.seed, rank));
    const double flops = workerFlopsPerStep();
    for (;;) {
        Message m = t.recv(ToWorker);
        // With backup workers a late worker may find several models waiting: it starts from the newest (Chen et
        // al. 2016: the late result is ignored and the worker moves on with the current parameters).
        if (m_backup > 0) {
            while (m.kind != Stop) {
                std::optional<Message> newer = t.recv(ToWorker, 0.0);
                if (!newer)
                    break;
                m = std::move(*newer);
            }
        }
        if (m.kind == Stop)
            return;
        std::shared_ptr<Eigen::VectorXf> grad;
        float loss = std::numeric_limits<float>::quiet_NaN();
        if (real) {
            grad = m_pool.acquire(m_workload.numParams());
            loss = m_workload.gradient(m.data->data(), sampler, grad->data());
        }
        t.compute(flops);
        t.send(m_workers, ToServer,
               Message{.kind = Gradient, .bytes = m_workload.modelBytes(), .data = std::move(grad),
                       .version = m.version, .value = loss});
    }
}

} // namespace dml
