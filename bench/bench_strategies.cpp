// SPDX-License-Identifier: GPL-3.0-or-later
// Issue-3 benchmarks (one simulation per process, so one mode per invocation):
//
//   bench_strategies fedavg [DATASET_DIR]   FedAvg, 10,000 clients, 100 per round, 20 rounds, on Fashion-MNIST:
//                                           wall(simulated) / wall(plain loop doing the same local steps), and
//                                           peak memory.
//   bench_strategies ring                   ring all-reduce of a 16.7M-parameter proxy (64 MiB) over 64 workers:
//                                           wall time and simulated time per all-reduce.
#include "strategies/fedavg.h"
#include "models/model.h"
#include "optim/optimizer.h"
#include "data/partition.h"
#include "simulation.h"

#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>

using namespace dml;

namespace {

double now()
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

long minorFaults()
{
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_minflt;
}

double peakRssMiB()
{
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return double(u.ru_maxrss) / 1024.0; // ru_maxrss is in KiB on Linux
}

int fedavg(const char* dir)
{
    const double t0 = now();
    const TrainTest data = loadFashionMnist(dir);
    const double loaded = now() - t0;
    const double rssData = peakRssMiB();

    sim::SimulationSpec spec;
    spec.platform.workers = 10000;
    spec.platform.workerSpeed = 5e9;  // phones and laptops
    spec.platform.serverSpeed = 1e11;
    spec.platform.linkBandwidth = 2.5e6; // 20 Mb/s uplinks
    spec.platform.linkLatency = 20e-3;
    spec.platform.backboneBandwidth = 1.25e9;
    spec.strategy = {StrategyKind::FedAvg, 10000};
    spec.strategy.clientFraction = 0.01;
    spec.strategy.localEpochs = 5;
    spec.strategy.rounds = 20;
    TrainingConfig& cfg = spec.training;
    cfg.hidden = {128};
    cfg.optimizer.kind = OptimizerSpec::Kind::Sgd;
    cfg.optimizer.learningRate = 0.05f;
    cfg.batchSize = 10;
    cfg.evalEverySteps = 5;
    cfg.seed = 7;

    // The plain loop: the same clients, partitions, local epochs and batches, sample-weighted averaging and
    // the same evaluations, without SimGrid.
    MetricsSink none;
    const FederatedAveraging plan(10000, spec.strategy.clientFraction, spec.strategy.localEpochs, 0, 20, cfg, data,
                                  none);
    const double tp = now();
    const long faults0 = minorFaults();
    Mlp model(data.train.numFeatures(), cfg.hidden, data.train.classes);
    Eigen::VectorXf global(model.numParams()), sum(model.numParams()), grad(model.numParams());
    model.initParams(global.data(), cfg.seed);
    std::map<int, BatchSampler> samplers;
    Eigen::MatrixXf x;
    std::vector<std::uint8_t> y;
    long localSteps = 0;
    int evaluations = 1;
    model.evaluate(global.data(), data.test.features, data.test.labels.data());
    for (long round = 1; round <= 20; ++round) {
        sum.setZero();
        double samples = 0;
        for (int c : plan.sampleClients(round)) {
            const auto& part = plan.partition()[std::size_t(c)];
            const int batch = std::min(cfg.batchSize, int(part.size()));
            auto it = samplers.try_emplace(c, part, batch, workerSeed(cfg.seed, c)).first;
            Eigen::VectorXf w = global;
            Optimizer opt(cfg.optimizer, w.size());
            for (long s = 0; s < long(spec.strategy.localEpochs) * it->second.batchesPerEpoch(); ++s, ++localSteps) {
                gatherBatch(data.train, it->second.next(), batch, x, y);
                model.lossAndGradient(w.data(), x, y.data(), grad.data());
                opt.step(w.data(), grad.data());
            }
            sum += double(part.size()) * w;
            samples += double(part.size());
        }
        global = sum / samples;
        if (round % cfg.evalEverySteps == 0) {
            model.evaluate(global.data(), data.test.features, data.test.labels.data());
            ++evaluations;
        }
    }
    const double plainWall = now() - tp;
    const long faults1 = minorFaults();

    const double ts = now();
    const sim::SimulationResult r = sim::simulate(spec, data, none);
    const double simWall = now() - ts;
    const long faults2 = minorFaults();
    std::printf("FedAvg: 10,000 clients, %d per round, 20 rounds, E = 5, B = 10 (Fashion-MNIST, MLP 784-128-10)\n",
                plan.clientsPerRound());
    std::printf("dataset loaded in %.2f s; peak RSS after loading %.0f MiB\n", loaded, rssData);
    std::printf("local gradient steps: %ld; test-set evaluations: %d\n", localSteps, evaluations);
    std::printf("simulated: %.3f s wall, %.1f s simulated, final test accuracy %.4f\n", simWall,
                r.summary.simulatedTime, r.summary.finalAccuracy);
    std::printf("plain loop, same local steps and evaluations: %.3f s wall\n", plainWall);
    std::printf("minor page faults: plain loop %ld, simulated %ld\n", faults1 - faults0, faults2 - faults1);
    std::printf("wall(simulated) / wall(plain loop) = %.3f   (target <= 1.5)\n", simWall / plainWall);
    std::printf("peak RSS of the whole process = %.0f MiB   (target < 2048; the dataset alone takes %.0f)\n",
                peakRssMiB(), rssData);
    return 0;
}

int ring()
{
    const int P = 64;
    const long long params = 16777216; // 64 MiB of float32
    TrainTest data;
    data.train.features.resize(0, P * 1000);
    data.train.labels.assign(std::size_t(P) * 1000, 0);
    data.train.classes = data.test.classes = 10;
    sim::SimulationSpec spec;
    spec.platform.workers = P;
    spec.platform.workerSpeed = 1e13;       // compute is not what this measures
    spec.platform.linkBandwidth = 1.25e10;  // 100 Gb/s
    spec.platform.linkLatency = 5e-6;
    spec.platform.backboneBandwidth = 1e13; // a non-blocking switch
    spec.platform.backboneLatency = 1e-6;
    spec.strategy = {StrategyKind::RingAllReduce, P};
    TrainingConfig& cfg = spec.training;
    cfg.proxy.parameters = params;
    cfg.proxy.trainFlopsPerSample = 1;
    cfg.batchSize = 1;
    cfg.maxSteps = 5;
    cfg.evalEverySteps = 1;
    MetricsSink none;
    const double t0 = now();
    const sim::SimulationResult r = sim::simulate(spec, data, none);
    const double wall = now() - t0;
    const double bytes = 4.0 * double(params);
    const double alpha = 2 * spec.platform.linkLatency + spec.platform.backboneLatency;
    const double ideal = 2 * (P - 1) * (alpha + bytes / (P * spec.platform.linkBandwidth));
    // Per all-reduce: the time between consecutive steps (samples are taken after every step).
    double simPer = (r.samples.back().time - r.samples[1].time) / double(r.samples.back().step - r.samples[1].step);
    std::printf("ring all-reduce: %lld parameters (%.0f MiB) over %d workers, 100 Gb/s links, network model tcp\n",
                params, bytes / 1048576, P);
    std::printf("steps: %ld; wall %.3f s in all, %.1f ms per all-reduce; peak RSS %.0f MiB\n", r.summary.steps,
                wall, 1e3 * wall / double(r.summary.steps), peakRssMiB());
    std::printf("simulated time per all-reduce: %.4f s (alpha-beta bound 2(P-1)(alpha + N/(P B)) = %.4f s; "
                "LV08 adds TCP's factors)\n", simPer, ideal);
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    try {
        if (argc >= 2 && std::strcmp(argv[1], "fedavg") == 0)
            return fedavg(argc >= 3 ? argv[2] : "/usr/share/datasets/fashion-mnist");
        if (argc >= 2 && std::strcmp(argv[1], "ring") == 0)
            return ring();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_strategies: %s\n", e.what());
        return 2;
    }
    std::fprintf(stderr, "usage: bench_strategies fedavg [DATASET_DIR] | ring\n");
    return 2;
}
