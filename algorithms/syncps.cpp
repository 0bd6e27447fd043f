// SPDX-License-Identifier: GPL-3.0-or-later
#include "syncps.h"

namespace dml {

SyncParameterServer::SyncParameterServer(int workers, const TrainingConfig& cfg, const TrainTest& data,
                                         MetricsSink& sink)
    : m_workers(workers), m_cfg(cfg), m_data(data),
      m_arch(data.train.numFeatures(), cfg.hidden, data.train.classes),
      m_partition(partitionIid(data.train.numSamples(), workers, cfg.seed)),
      m_stepsPerEpoch(stepsPerEpoch(data.train.numSamples(), workers, cfg.batchSize)),
      m_evaluator(data.test, m_arch, cfg, m_stepsPerEpoch, sink)
{
}

double SyncParameterServer::serverFlopsPerStep() const
{
    // (P-1) n additions + n multiplications for the average, then the optimizer's own count.
    return double(m_workers) * double(m_arch.numParams()) +
           Optimizer(m_cfg.optimizer, m_arch.numParams()).flopsPerStep();
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
    const Eigen::Index n = m_arch.numParams();
    const double bytes = 4.0 * double(n);
    Eigen::VectorXf params(n);
    m_arch.initParams(params.data(), m_cfg.seed);
    Optimizer opt(m_cfg.optimizer, n);
    Eigen::VectorXf avg(n);
    std::vector<std::shared_ptr<const Eigen::VectorXf>> grads(static_cast<std::size_t>(m_workers));
    const float scale = 1.0f / float(m_workers);

    auto broadcast = [&](int kind, long version) {
        auto snapshot = kind == Model ? std::make_shared<const Eigen::VectorXf>(params) : nullptr;
        for (int w = 0; w < m_workers; ++w)
            t.isend(w, ToWorker, Message{.kind = kind, .bytes = kind == Model ? bytes : 0.0, .data = snapshot,
                                         .version = version});
        t.waitAll();
    };

    m_evaluator.initial(t.now(), params.data());
    broadcast(Model, 0);
    for (long step = 1;; ++step) {
        for (int i = 0; i < m_workers; ++i) {
            Message m = t.recv(ToServer);
            m_evaluator.addTrainLoss(m.value);
            grads[std::size_t(m.source)] = std::move(m.data);
        }
        // Average in rank order, so the sum does not depend on arrival order.
        avg = *grads[0];
        for (int w = 1; w < m_workers; ++w)
            avg += *grads[std::size_t(w)];
        avg *= scale;
        t.compute(serverFlopsPerStep());
        opt.step(params.data(), avg.data());
        if (m_evaluator.afterStep(t.now(), step, params.data())) {
            broadcast(Stop, step);
            m_final = params;
            return;
        }
        broadcast(Model, step);
    }
}

void SyncParameterServer::runWorker(int rank, Transport& t)
{
    const Eigen::Index n = m_arch.numParams();
    Mlp model(m_arch);
    BatchSampler sampler(m_partition[std::size_t(rank)], m_cfg.batchSize, workerSeed(m_cfg.seed, rank));
    const double flops = workerFlopsPerStep();
    Eigen::MatrixXf x;
    std::vector<std::uint8_t> y;
    for (;;) {
        Message m = t.recv(ToWorker);
        if (m.kind == Stop)
            return;
        auto grad = std::make_shared<Eigen::VectorXf>(n);
        gatherBatch(m_data.train, sampler.next(), m_cfg.batchSize, x, y);
        const float loss = model.lossAndGradient(m.data->data(), x, y.data(), grad->data());
        t.compute(flops);
        t.send(m_workers, ToServer,
               Message{.kind = Gradient, .bytes = 4.0 * double(n), .data = std::move(grad), .version = m.version,
                       .value = loss});
    }
}

} // namespace dml
