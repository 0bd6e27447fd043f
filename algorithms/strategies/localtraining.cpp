// SPDX-License-Identifier: GPL-3.0-or-later
#include "strategies/localtraining.h"

#include <algorithm>

namespace dml {

namespace {

/// Steps [first, steps) of a client's training; step `first` reads `*from` (w itself, or the start model) and
/// writes w.
double localSteps(const Workload& workload, const int* batches, int batch, Optimizer& opt, long first, long steps,
                  const Eigen::VectorXf* from, Eigen::VectorXf& w, float mu, const Eigen::VectorXf* anchor)
{
    thread_local Eigen::VectorXf grad; // kept: a fresh buffer per client would page-fault on every use
    grad.resize(w.size());
    double lossSum = 0;
    for (long s = first; s < steps; ++s) {
        const Eigen::VectorXf& x = s == first ? *from : w;
        lossSum += workload.gradient(x.data(), batches + std::ptrdiff_t(s) * batch, batch, grad.data());
        if (mu > 0 && anchor) // FedProx: gradient of mu/2 ||w - w_t||^2
            grad += mu * (x - *anchor);
        opt.stepFrom(x.data(), w.data(), grad.data());
    }
    return lossSum;
}

} // namespace

double trainLocally(const Workload& workload, const int* batches, int batch, const OptimizerSpec& optimizer,
                    long steps, Eigen::VectorXf& w, float mu, const Eigen::VectorXf* anchor)
{
    Optimizer opt(optimizer, w.size()); // fresh optimizer state every task
    return localSteps(workload, batches, batch, opt, 0, steps, &w, w, mu, anchor);
}

double trainLocallyFrom(const Workload& workload, const Eigen::VectorXf& start, const int* batches, int batch,
                        const OptimizerSpec& optimizer, long steps, Eigen::VectorXf& w, float mu,
                        const Eigen::VectorXf* anchor)
{
    if (steps <= 0) {
        w = start;
        return 0;
    }
    w.resize(start.size());
    Optimizer opt(optimizer, w.size());
    return localSteps(workload, batches, batch, opt, 0, steps, &start, w, mu, anchor);
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
