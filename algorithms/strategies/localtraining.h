// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// What a federated client does between receiving a model and reporting (fedavg, fedbuff, hierfavg).
#include "data/partition.h"
#include "models/workload.h"
#include "optim/optimizer.h"

#include <memory>
#include <vector>

namespace dml {

/// A client's local training, ClientUpdate of McMahan et al. 2017 ("Communication-efficient learning of deep
/// networks from decentralized data", Algorithm 1): `steps` mini-batch steps of `optimizer` with fresh state from
/// `w` (numParams floats, trained in place), step s on the samples batches[s B .. (s + 1) B) (B = `batch`; see
/// drawBatches). With mu > 0 every gradient gets the FedProx term mu (w - *anchor) (Li et al. 2020, "Federated
/// optimization in heterogeneous networks", Eq. 2). Returns the sum of the mini-batch losses. Real workloads only; no
/// simulated time passes (the caller charges steps x localStepFlops() as one computation). Thread-safe (the gradient
/// buffer is the calling thread's): the clients run it as a pool job (parallel::submit).
double trainLocally(const Workload& workload, const int* batches, int batch, const OptimizerSpec& optimizer,
                    long steps, Eigen::VectorXf& w, float mu = 0, const Eigen::VectorXf* anchor = nullptr);

/// The same training from the model `start` (left as it is unless it is `w` itself), its result written to `w`
/// (resized): the same bits as
/// w = start followed by trainLocally(..., w, ...), without that copy (the first step reads `start`, its update
/// writes `w`; a federated round's clients write as many fresh models, a pass over memory each).
double trainLocallyFrom(const Workload& workload, const Eigen::VectorXf& start, const int* batches, int batch,
                        const OptimizerSpec& optimizer, long steps, Eigen::VectorXf& w, float mu = 0,
                        const Eigen::VectorXf* anchor = nullptr);

/// Flops of one local step: batch x the workload's training flops per sample, the optimizer's step, and 3N more
/// for the FedProx term.
double localStepFlops(const Workload& workload, int batch, const OptimizerSpec& optimizer, bool prox = false);

/// Client k's sampler, created the first time it trains and kept across its tasks: batches of min(batchSize,
/// |P_k|) from its part P_k, seeded workerSeed(seed, k) (a part smaller than a batch is one batch).
BatchSampler& clientSampler(std::vector<std::unique_ptr<BatchSampler>>& samplers, const Partition& partition, int k,
                            int batchSize, std::uint64_t seed);

} // namespace dml
