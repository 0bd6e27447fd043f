// SPDX-License-Identifier: GPL-3.0-or-later
#include "reference.h"

#include "models/model.h"
#include "optim/optimizer.h"

namespace dml {

Eigen::VectorXf plainDataParallelSgd(const Dataset& train, const TrainingConfig& cfg, const Partition& part,
                                     long steps, const std::function<void(long, const float*)>& observe)
{
    const int P = int(part.size());
    Mlp model(train.numFeatures(), cfg.hidden, train.classes);
    const Eigen::Index n = model.numParams();
    Eigen::VectorXf params(n), avg(n);
    std::vector<Eigen::VectorXf> grads(static_cast<std::size_t>(P), Eigen::VectorXf(n));
    model.initParams(params.data(), cfg.seed);
    Optimizer opt(cfg.optimizer, n);
    std::vector<BatchSampler> samplers;
    for (int w = 0; w < P; ++w)
        samplers.emplace_back(part[std::size_t(w)], cfg.batchSize, workerSeed(cfg.seed, w));
    if (observe)
        observe(0, params.data());
    Eigen::MatrixXf x;
    std::vector<std::uint8_t> y;
    for (long step = 1; step <= steps; ++step) {
        for (int w = 0; w < P; ++w) {
            gatherBatch(train, samplers[std::size_t(w)].next(), cfg.batchSize, x, y);
            model.lossAndGradient(params.data(), x, y.data(), grads[std::size_t(w)].data());
        }
        avg = grads[0];
        for (int w = 1; w < P; ++w)
            avg += grads[std::size_t(w)];
        avg *= 1.0f / float(P);
        opt.step(params.data(), avg.data());
        if (observe)
            observe(step, params.data());
    }
    return params;
}

} // namespace dml
