// SPDX-License-Identifier: GPL-3.0-or-later
// Overhead of simulating: the quickstart scenario (sync PS in SimGrid) against a plain single-process Eigen
// loop doing the same gradient evaluations (same shards, batches, rank-order averaging and optimizer steps).
//
//   ./build/bench/bench_quickstart scenarios/quickstart.json
//
// Prints wall(simulated run) / wall(plain loop), with the plain loop measured before and after the simulation
// (one simulation per process). The dataset is loaded once, outside every timing.
#include "evaluator.h"
#include "model.h"
#include "optimizer.h"
#include "partition.h"
#include "scenario.h"
#include "simulation.h"

#include <chrono>
#include <cstdio>
#include <cstring>

using namespace dml;

namespace {

double now()
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

/// Plain data-parallel SGD in one process: each step, P gradients on P mini-batches, averaged in rank order.
/// With `evaluate`, also evaluates on the test set at the same steps as the simulation.
Eigen::VectorXf plainLoop(const sim::SimulationSpec& spec, const TrainTest& data, bool evaluate, double& wall)
{
    const TrainingConfig& cfg = spec.training;
    const int P = spec.strategy.workers;
    const double t0 = now();
    Mlp model(data.train.numFeatures(), cfg.hidden, data.train.classes);
    const Eigen::Index n = model.numParams();
    Eigen::VectorXf params(n), avg(n);
    std::vector<Eigen::VectorXf> grads(static_cast<std::size_t>(P), Eigen::VectorXf(n));
    model.initParams(params.data(), cfg.seed);
    Optimizer opt(cfg.optimizer, n);
    const Partition part = partitionIid(data.train.numSamples(), P, cfg.seed);
    std::vector<BatchSampler> samplers;
    for (int w = 0; w < P; ++w)
        samplers.emplace_back(part[std::size_t(w)], cfg.batchSize, workerSeed(cfg.seed, w));
    MetricsSink none;
    Evaluator eval(data.test, model, cfg, stepsPerEpoch(data.train.numSamples(), P, cfg.batchSize), none);
    if (evaluate)
        eval.initial(0, params.data());
    Eigen::MatrixXf x;
    std::vector<std::uint8_t> y;
    for (long step = 1; step <= eval.totalSteps(); ++step) {
        for (int w = 0; w < P; ++w) {
            gatherBatch(data.train, samplers[std::size_t(w)].next(), cfg.batchSize, x, y);
            model.lossAndGradient(params.data(), x, y.data(), grads[std::size_t(w)].data());
        }
        avg = grads[0];
        for (int w = 1; w < P; ++w)
            avg += grads[std::size_t(w)];
        avg *= 1.0f / float(P);
        opt.step(params.data(), avg.data());
        if (evaluate)
            eval.afterStep(0, step, params.data());
    }
    wall = now() - t0;
    return params;
}

} // namespace

int main(int argc, char** argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: bench_quickstart SCENARIO.json\n");
        return 2;
    }
    try {
        const app::Scenario sc = app::loadScenario(argv[1]);
        if (sc.sim.strategy.kind != StrategyKind::SyncPs)
            throw std::runtime_error("this benchmark compares the synchronous parameter server");
        const double tl = now();
        const TrainTest data = app::loadDataset(sc);
        std::printf("dataset loaded in %.3f s (excluded from the timings)\n", now() - tl);

        double plainA = 0, plainB = 0, plainEvalA = 0, plainEvalB = 0;
        plainLoop(sc.sim, data, false, plainA);
        plainLoop(sc.sim, data, true, plainEvalA);
        MetricsSink none;
        const double ts = now();
        const sim::SimulationResult r = sim::simulate(sc.sim, data, none);
        const double simWall = now() - ts;
        const Eigen::VectorXf plainModel = plainLoop(sc.sim, data, false, plainB);
        plainLoop(sc.sim, data, true, plainEvalB);

        const double plain = 0.5 * (plainA + plainB), plainEval = 0.5 * (plainEvalA + plainEvalB);
        const bool same = plainModel.size() == r.finalModel.size() &&
                          std::memcmp(plainModel.data(), r.finalModel.data(),
                                      sizeof(float) * std::size_t(plainModel.size())) == 0;
        std::printf("scenario: %s\n", sc.name.c_str());
        std::printf("steps: %ld, final test accuracy %.4f, simulated time %.3f s\n", r.summary.steps,
                    r.summary.finalAccuracy, r.summary.simulatedTime);
        std::printf("simulated run (SimGrid + training + %zu test-set evaluations): %.3f s\n", r.samples.size(),
                    simWall);
        std::printf("plain loop, same gradient evaluations:                     %.3f s  (%.3f, %.3f)\n", plain,
                    plainA, plainB);
        std::printf("plain loop, same gradient evaluations + test evaluations:  %.3f s  (%.3f, %.3f)\n", plainEval,
                    plainEvalA, plainEvalB);
        std::printf("simulated and plain models bit-identical: %s\n", same ? "yes" : "NO");
        std::printf("wall(simulated run) / wall(plain loop) = %.3f   (target <= 1.15)\n", simWall / plain);
        std::printf("wall(simulated run) / wall(plain loop with the same evaluations) = %.3f\n",
                    simWall / plainEval);
        return same ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_quickstart: %s\n", e.what());
        return 2;
    }
}
