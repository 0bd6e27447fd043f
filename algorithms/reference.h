// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The plain single-process loop that the synchronous strategies must reproduce bit for bit: the baseline of
// bench_quickstart and of the identity tests.
#include "data/dataset.h"
#include "data/partition.h"
#include "strategy.h"

#include <Eigen/Core>
#include <functional>

namespace dml {

/// Bulk-synchronous data-parallel SGD in one process, with no network: each step, rank w = 0..P-1
/// (P = part.size()) computes the gradient of the next mini-batch of its part (a BatchSampler seeded
/// workerSeed(cfg.seed, w)), the P gradients are averaged in rank order, and one optimizer step is taken.
/// The MLP (cfg.hidden) starts from Mlp::initParams(cfg.seed). `observe(step, params)`, if given, runs once
/// before the first step (step 0) and after every step. Returns the final parameters (numParams() floats).
/// Throws ConfigError as BatchSampler does when a part is smaller than cfg.batchSize.
Eigen::VectorXf plainDataParallelSgd(const Dataset& train, const TrainingConfig& cfg, const Partition& part,
                                     long steps, const std::function<void(long, const float*)>& observe = {});

} // namespace dml
