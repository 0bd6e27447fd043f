// SPDX-License-Identifier: GPL-3.0-or-later
#include "strategies/localtraining.h"

#include <algorithm>

namespace dml {

double trainLocally(const Workload& workload, const int* batches, int batch, const OptimizerSpec& optimizer,
                    long steps, Eigen::VectorXf& w, float mu, const Eigen::VectorXf* anchor)
{
    return trainLocallyFrom(workload, w, batches, batch, optimizer, steps, w, mu, anchor);
}

double trainLocallyFrom(const Workload& workload, const Eigen::VectorXf& start, const int* batches, int batch,
                        const OptimizerSpec& optimizer, long steps, Eigen::VectorXf& w, float mu,
                        const Eigen::VectorXf* anchor)
{
    if (steps <= 0) {
        if (&w != &start)
            w = start;
        return 0;
    }
    w.resize(start.size()); // nothing to do when w is start
    thread_local Eigen::VectorXf grad; // kept: a fresh buffer per client would page-fault on every use
    grad.resize(start.size());
    Optimizer opt(optimizer, w.size()); // fresh optimizer state every task
    double lossSum = 0;
    for (long s = 0; s < steps; ++s) {
        const Eigen::VectorXf& x = s == 0 ? start : w; // the first step reads `start` and writes w
        lossSum += workload.gradient(x.data(), batches + std::ptrdiff_t(s) * batch, batch, grad.data());
        if (mu > 0 && anchor) // FedProx: gradient of mu/2 ||w - w_t||^2
            grad += mu * (x - *anchor);
        opt.stepFrom(x.data(), w.data(), grad.data());
    }
    return lossSum;
}

double localStepFlops(const Workload& workload, int batch, const OptimizerSpec& optimizer, bool prox)
{
    const double n = double(workload.numParams());
    return double(batch) * workload.trainFlopsPerSample() + (prox ? 3.0 * n : 0.0) + Optimizer::stepFlops(optimizer, n);
}

BatchSampler& clientSampler(std::vector<std::unique_ptr<BatchSampler>>& samplers, const Partition& partition, int k,
                            int batchSize, std::uint64_t seed)
{
    auto& sampler = samplers[std::size_t(k)];
    if (!sampler) {
        const std::vector<int>& part = partition[std::size_t(k)];
        sampler = std::make_unique<BatchSampler>(part, std::min(batchSize, int(part.size())), workerSeed(seed, k));
    }
    return *sampler;
}

} // namespace dml
