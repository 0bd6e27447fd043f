// SPDX-License-Identifier: GPL-3.0-or-later
// Issue-3 benchmarks (one simulation per process, so one mode per invocation):
//
//   bench_strategies fedavg [DATASET_DIR] [--threads T] [--repeat N]
//                                           FedAvg, 10,000 clients, 100 per round, 20 rounds, on Fashion-MNIST:
//                                           wall(simulated) / wall(plain single-threaded loop doing the same local
//                                           steps), for 1, 2, 4, ... threads up to the cores available (issue 16;
//                                           --threads T: 1 and T), each simulated run and the plain loop a child
//                                           process, N times each (default 3), interleaved, medians compared; the
//                                           peak memory of each; the final models must be bit-identical.
//   bench_strategies ring                   ring all-reduce of a 16.7M-parameter proxy (64 MiB) over 64 workers:
//                                           wall time and simulated time per all-reduce.
#include "strategies/fedavg.h"
#include "models/model.h"
#include "optim/optimizer.h"
#include "data/partition.h"
#include "parallel.h"
#include "simulation.h"

#include "benchutil.h"

#include <sys/resource.h>

#include <chrono>
#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <unistd.h>

using namespace dml;

using namespace dml::bench;

namespace {

long minorFaults()
{
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_minflt;
}

/// CPU seconds (user + system) of this process so far, all threads.
double cpuSeconds()
{
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

sim::SimulationSpec fedavgSpec()
{
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
    return spec;
}

/// Child mode: the simulated FedAvg run with `threads` threads, timed around sim::simulate. One line for the parent.
int fedavgChild(const char* dir, int threads)
{
    const TrainTest data = loadFashionMnist(dir);
    const double rssData = peakRssMiB();
    parallel::setThreads(threads);
    MetricsSink none;
    const long faults0 = minorFaults();
    const double cpu0 = cpuSeconds();
    const double ts = now();
    const sim::SimulationResult r = sim::simulate(fedavgSpec(), data, none);
    const double simWall = now() - ts;
    std::printf("%.6f %.6f %.6f %" PRIu64 " %.1f %.1f %ld %.6f\n", simWall, r.summary.simulatedTime,
                r.summary.finalAccuracy, fingerprint(r.finalModel), peakRssMiB(), rssData, minorFaults() - faults0,
                cpuSeconds() - cpu0);
    return 0;
}

struct FedAvgRun {
    double wall = 0, simulatedTime = 0, accuracy = 0, rss = 0, rssData = 0, cpu = 0;
    std::uint64_t model = 0;
    long faults = 0;
};

FedAvgRun spawnFedAvg(const char* dir, int threads)
{
    const std::string cmd = "/proc/" + std::to_string(getpid()) + "/exe --fedavg-child " + shellQuoted(dir) + " " +
                            std::to_string(threads);
    FILE* p = popen(cmd.c_str(), "r");
    if (!p)
        throw std::runtime_error("cannot start " + cmd);
    FedAvgRun r;
    const int got = std::fscanf(p, "%lf %lf %lf %" SCNu64 " %lf %lf %ld %lf", &r.wall, &r.simulatedTime,
                                &r.accuracy, &r.model, &r.rss, &r.rssData, &r.faults, &r.cpu);
    const int status = pclose(p);
    if (got != 8 || status != 0)
        throw std::runtime_error("the simulated run failed (" + cmd + ")");
    return r;
}

/// What the plain loop measured.
struct PlainRun {
    double wall = 0, cpu = 0;
    long faults = 0, localSteps = 0;
    int evaluations = 0, perRound = 0;
};

/// The plain loop: the same clients, partitions, local epochs and batches, sample-weighted averaging and the same
/// evaluations, without SimGrid, on one thread.
PlainRun plainFedAvg(const TrainTest& data)
{
    const sim::SimulationSpec spec = fedavgSpec();
    const TrainingConfig& cfg = spec.training;
    MetricsSink none;
    const FederatedAveraging plan(10000, spec.strategy.clientFraction, spec.strategy.localEpochs, 0, 20, cfg, data,
                                  none);
    PlainRun r;
    r.perRound = plan.clientsPerRound();
    const double tp = now();
    const double cpu0 = cpuSeconds();
    const long faults0 = minorFaults();
    Mlp model(data.train.numFeatures(), cfg.hidden, data.train.classes);
    Eigen::VectorXf global(model.numParams()), sum(model.numParams()), grad(model.numParams());
    model.initParams(global.data(), cfg.seed);
    std::map<int, BatchSampler> samplers;
    Eigen::MatrixXf x;
    std::vector<std::uint8_t> y;
    r.evaluations = 1;
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
            for (long s = 0; s < long(spec.strategy.localEpochs) * it->second.batchesPerEpoch(); ++s, ++r.localSteps) {
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
            ++r.evaluations;
        }
    }
    r.wall = now() - tp;
    r.cpu = cpuSeconds() - cpu0;
    r.faults = minorFaults() - faults0;
    return r;
}

/// Child mode: the plain loop in a fresh process, as the simulated runs are (the same process conditions: on a
/// virtual machine a process's fresh memory costs 15 to 20 us a page). One line for the parent.
int plainChild(const char* dir)
{
    const TrainTest data = loadFashionMnist(dir);
    const PlainRun r = plainFedAvg(data);
    std::printf("%.6f %.6f %ld %ld %d %d\n", r.wall, r.cpu, r.faults, r.localSteps, r.evaluations, r.perRound);
    return 0;
}

PlainRun spawnPlain(const char* dir)
{
    const std::string cmd = "/proc/" + std::to_string(getpid()) + "/exe --fedavg-plain-child " + shellQuoted(dir);
    FILE* p = popen(cmd.c_str(), "r");
    if (!p)
        throw std::runtime_error("cannot start " + cmd);
    PlainRun r;
    const int got = std::fscanf(p, "%lf %lf %ld %ld %d %d", &r.wall, &r.cpu, &r.faults, &r.localSteps,
                                &r.evaluations, &r.perRound);
    const int status = pclose(p);
    if (got != 6 || status != 0)
        throw std::runtime_error("the plain loop failed (" + cmd + ")");
    return r;
}

/// The run of median wall time (the first of two middle ones).
template <class Run>
Run medianByWall(std::vector<Run> runs)
{
    std::sort(runs.begin(), runs.end(), [](const Run& a, const Run& b) { return a.wall < b.wall; });
    return runs[(runs.size() - 1) / 2];
}

std::string walls(const std::vector<double>& w)
{
    std::string s;
    char buf[32];
    for (double x : w) {
        std::snprintf(buf, sizeof buf, "%s%.3f", s.empty() ? "" : " ", x);
        s += buf;
    }
    return "[" + s + "]";
}

int fedavg(const char* dir, int onlyThreads, int repeat)
{
    const double t0 = now();
    const TrainTest data = loadFashionMnist(dir);
    const double loaded = now() - t0;
    const double load0 = loadAverage();
    const double rssData = peakRssMiB();
    const PlainRun plainHere = plainFedAvg(data); // in this long-lived process, for reference

    std::vector<int> counts;
    const int cores = parallel::availableCores();
    if (onlyThreads > 0) {
        counts = {1, onlyThreads};
    } else {
        for (int n = 1; n < cores; n *= 2)
            counts.push_back(n);
        counts.push_back(cores);
    }
    counts.erase(std::unique(counts.begin(), counts.end()), counts.end());
    // `repeat` rounds, each a plain loop then every thread count, interleaved so that a slow spell of the machine
    // falls on all of them; each figure is the median run.
    std::vector<PlainRun> plains;
    std::vector<std::vector<FedAvgRun>> all(counts.size());
    for (int k = 0; k < repeat; ++k) {
        plains.push_back(spawnPlain(dir));
        for (std::size_t c = 0; c < counts.size(); ++c)
            all[c].push_back(spawnFedAvg(dir, counts[c]));
    }
    const PlainRun plainRun = medianByWall(plains);
    const double plainWall = plainRun.wall, plainCpu = plainRun.cpu;
    const long localSteps = plainRun.localSteps;
    const int evaluations = plainRun.evaluations;
    std::vector<FedAvgRun> runs;
    bool same = true;
    double rss = 0;
    for (const auto& reps : all) {
        runs.push_back(medianByWall(reps));
        for (const FedAvgRun& r : reps) {
            same = same && r.model == all.front().front().model;
            rss = std::max(rss, r.rss);
        }
    }
    auto wallsOf = [](const auto& v) {
        std::vector<double> w;
        for (const auto& r : v)
            w.push_back(r.wall);
        return walls(w);
    };
    std::printf("FedAvg: 10,000 clients, %d per round, 20 rounds, E = 5, B = 10 (Fashion-MNIST, MLP 784-128-10)\n",
                plainRun.perRound);
    std::printf("dataset loaded in %.2f s; peak RSS after loading %.0f MiB\n", loaded, rssData);
    std::printf("local gradient steps: %ld; test-set evaluations: %d; cores available: %d; machine load (1-min "
                "average) %.2f at the start, %.2f at the end\n", localSteps, evaluations, cores, load0, loadAverage());
    std::printf("%d repetitions, interleaved; each figure is the median run's (its walls in brackets)\n", repeat);
    std::printf("plain loop (1 thread, a child process), same local steps and evaluations: %.3f s wall %s, %.3f s "
                "CPU, %ld minor page faults\n", plainWall, wallsOf(plains).c_str(), plainCpu, plainRun.faults);
    std::printf("(plain loop in this long-lived process: %.3f s wall, %ld minor page faults; not used in the ratios)\n",
                plainHere.wall, plainHere.faults);
    for (std::size_t k = 0; k < runs.size(); ++k)
        std::printf("simulated, %3d thread(s): %.3f s wall %s, %.3f s CPU, %.1f s simulated, final test accuracy "
                    "%.4f, %ld minor page faults, peak RSS %.0f MiB; wall / plain loop = %.3f\n",
                    counts[k], runs[k].wall, wallsOf(all[k]).c_str(), runs[k].cpu, runs[k].simulatedTime,
                    runs[k].accuracy, runs[k].faults, runs[k].rss, runs[k].wall / plainWall);
    std::printf("final models bit-identical across thread counts: %s\n", same ? "yes" : "NO");
    std::printf("wall(simulated, 1 thread) / wall(plain loop) = %.3f\n", runs.front().wall / plainWall);
    std::printf("wall(simulated, %d threads) / wall(plain loop) = %.3f   (target <= 0.80 with all cores)\n",
                counts.back(), runs.back().wall / plainWall);
    std::printf("peak RSS of a simulating process = %.0f MiB   (target < 2048; the dataset alone takes %.0f)\n", rss,
                runs.front().rssData);
    return same ? 0 : 1;
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
        if (argc == 3 && std::strcmp(argv[1], "--fedavg-plain-child") == 0)
            return plainChild(argv[2]);
        if (argc == 4 && std::strcmp(argv[1], "--fedavg-child") == 0)
            return fedavgChild(argv[2], std::atoi(argv[3]));
        if (argc >= 2 && std::strcmp(argv[1], "fedavg") == 0) {
            const char* dir = "/usr/share/datasets/fashion-mnist";
            int threads = 0, repeat = 3;
            bool ok = true;
            for (int i = 2; i < argc && ok; ++i) {
                if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
                    threads = std::atoi(argv[++i]);
                    ok = threads >= 1 && threads <= parallel::kMaxThreads;
                } else if (std::strcmp(argv[i], "--repeat") == 0 && i + 1 < argc) {
                    repeat = std::atoi(argv[++i]);
                    ok = repeat >= 1 && repeat <= 50;
                } else {
                    dir = argv[i];
                }
            }
            if (ok)
                return fedavg(dir, threads, repeat);
        }
        if (argc >= 2 && std::strcmp(argv[1], "ring") == 0)
            return ring();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_strategies: %s\n", e.what());
        return 2;
    }
    std::fprintf(stderr, "usage: bench_strategies fedavg [DATASET_DIR] [--threads T (1..%d)] [--repeat N (1..50, "
                         "default 3)] | ring\n",
                 parallel::kMaxThreads);
    return 2;
}
