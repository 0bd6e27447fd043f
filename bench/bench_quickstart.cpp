// SPDX-License-Identifier: GPL-3.0-or-later
// Overhead of simulating: the quickstart scenario (sync PS in SimGrid) against a plain single-process Eigen
// loop doing the same gradient evaluations (same shards, batches, rank-order averaging and optimizer steps).
//
//   ./build/bench/bench_quickstart scenarios/quickstart.json [--repeat N] [--threads T]
//
// Prints wall(simulated run) / wall(plain loop) as the ratio of the medians of N interleaved measurements of
// each (default 5), for 1, 2, 4, ... threads up to the cores available (parallel.h; --threads T: only 1 and T).
// The plain loop is single-threaded. SimGrid allows one simulation per process, so every simulated run is a fresh
// child process (this program with --simulate), as `dmlsim run` is; every plain loop is one too (--plain), so
// that both meet the same conditions (on a virtual machine a process's fresh memory costs 15 to 20 us a page).
// Each child loads the dataset before its clock starts. The dataset load is outside every timing. A third series, the plain loop plus the same test-set
// evaluations as the simulated run, splits the overhead into evaluations and simulation. Every simulated run's
// model must be bit-identical to the plain loop's, whatever its thread count.
#include "evaluator.h"
#include "models/model.h"
#include "parallel.h"
#include "data/partition.h"
#include "reference.h"
#include "scenario.h"
#include "simulation.h"

#include "benchutil.h"

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

using namespace dml;

using namespace dml::bench;

namespace {

/// The plain loop (plainDataParallelSgd over the scenario's IID parts), timed. With `evaluate`, it also
/// evaluates on the test set at the same steps as the simulation.
Eigen::VectorXf plainLoop(const sim::SimulationSpec& spec, const TrainTest& data, bool evaluate, double& wall)
{
    const TrainingConfig& cfg = spec.training;
    const int P = spec.strategy.workers;
    const double t0 = now();
    const Mlp arch(data.train.numFeatures(), cfg.hidden, data.train.classes);
    MetricsSink none;
    Evaluator eval(data.test, arch, cfg, stepsPerEpoch(data.train.numSamples(), P, cfg.batchSize), none);
    std::function<void(long, const float*)> observe;
    if (evaluate)
        observe = [&eval](long step, const float* params) {
            if (step == 0)
                eval.initial(0, params);
            else
                eval.afterStep(0, step, params);
        };
    Eigen::VectorXf params = plainDataParallelSgd(data.train, cfg, partitionIid(data.train.numSamples(), P, cfg.seed),
                                                  eval.totalSteps(), observe);
    wall = now() - t0;
    return params;
}

/// Child mode: one simulated run with `threads` threads, timed around sim::simulate only. Prints one line for the
/// parent.
int simulateOnce(const char* scenario, int threads)
{
    const app::Scenario sc = app::loadScenario(scenario);
    const TrainTest data = app::loadDataset(sc);
    parallel::setThreads(threads);
    MetricsSink none;
    const double t0 = now();
    const sim::SimulationResult r = sim::simulate(sc.sim, data, none);
    const double wall = now() - t0;
    std::printf("%.6f %ld %zu %.6f %.6f %" PRIu64 " %.1f\n", wall, r.summary.steps, r.samples.size(),
                r.summary.finalAccuracy, r.summary.simulatedTime, fingerprint(r.finalModel), peakRssMiB());
    return 0;
}

/// Child mode: the plain loop (with the test-set evaluations if `evaluate`), timed after the dataset load. Prints
/// "wall fingerprint" for the parent.
int plainOnce(const char* scenario, bool evaluate)
{
    const app::Scenario sc = app::loadScenario(scenario);
    const TrainTest data = app::loadDataset(sc);
    double wall = 0;
    const Eigen::VectorXf model = plainLoop(sc.sim, data, evaluate, wall);
    std::printf("%.6f %" PRIu64 "\n", wall, fingerprint(model));
    return 0;
}

/// The plain loop in a fresh child process, as the simulated runs are: the same process conditions for both.
std::pair<double, std::uint64_t> spawnPlain(const std::string& scenario, bool evaluate)
{
    const std::string cmd = "/proc/" + std::to_string(getpid()) + "/exe --plain " + shellQuoted(scenario) +
                            (evaluate ? " 1" : " 0");
    FILE* p = popen(cmd.c_str(), "r");
    if (!p)
        throw std::runtime_error("cannot start " + cmd);
    double wall = 0;
    std::uint64_t model = 0;
    const int got = std::fscanf(p, "%lf %" SCNu64, &wall, &model);
    const int status = pclose(p);
    if (got != 2 || status != 0)
        throw std::runtime_error("the plain loop failed (" + cmd + ")");
    return {wall, model};
}

struct SimRun {
    double wall = 0;
    long steps = 0;
    std::size_t evaluations = 0;
    double accuracy = 0, simulatedTime = 0;
    std::uint64_t model = 0;
    double rss = 0; ///< the child's peak RSS, MiB
};

SimRun spawnSimulation(const std::string& scenario, int threads)
{
    const std::string cmd = "/proc/" + std::to_string(getpid()) + "/exe --simulate " + shellQuoted(scenario) + " " +
                            std::to_string(threads);
    FILE* p = popen(cmd.c_str(), "r");
    if (!p)
        throw std::runtime_error("cannot start " + cmd);
    SimRun r;
    const int got = std::fscanf(p, "%lf %ld %zu %lf %lf %" SCNu64 " %lf", &r.wall, &r.steps, &r.evaluations,
                                &r.accuracy, &r.simulatedTime, &r.model, &r.rss);
    const int status = pclose(p);
    if (got != 7 || status != 0)
        throw std::runtime_error("the simulated run failed (" + cmd + ")");
    return r;
}

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::string list(const std::vector<double>& v)
{
    std::string s;
    for (double x : v) {
        char b[32];
        std::snprintf(b, sizeof b, "%s%.3f", s.empty() ? "" : " ", x);
        s += b;
    }
    return s;
}

} // namespace

int main(int argc, char** argv)
{
    if (argc == 4 && std::strcmp(argv[1], "--plain") == 0) {
        try {
            return plainOnce(argv[2], std::atoi(argv[3]) != 0);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "bench_quickstart --plain: %s\n", e.what());
            return 2;
        }
    }
    if (argc == 4 && std::strcmp(argv[1], "--simulate") == 0) {
        try {
            return simulateOnce(argv[2], std::atoi(argv[3]));
        } catch (const std::exception& e) {
            std::fprintf(stderr, "bench_quickstart --simulate: %s\n", e.what());
            return 2;
        }
    }
    int repeat = 5;
    int maxThreads = parallel::availableCores();
    std::vector<int> counts; // thread counts to measure: 1, 2, 4, ... and the cores
    bool usage = argc < 2;
    for (int i = 2; i < argc && !usage; i += 2) {
        if (i + 1 >= argc) {
            usage = true;
        } else if (std::strcmp(argv[i], "--repeat") == 0) {
            repeat = std::atoi(argv[i + 1]);
            usage = repeat < 1;
        } else if (std::strcmp(argv[i], "--threads") == 0) {
            maxThreads = std::atoi(argv[i + 1]);
            usage = maxThreads < 1 || maxThreads > parallel::kMaxThreads;
            counts = {1, maxThreads};
        } else {
            usage = true;
        }
    }
    if (usage) {
        std::fprintf(stderr, "usage: bench_quickstart SCENARIO.json [--repeat N] [--threads T (1..%d)]\n",
                     parallel::kMaxThreads);
        return 2;
    }
    if (counts.empty()) {
        for (int n = 1; n < maxThreads; n *= 2)
            counts.push_back(n);
        counts.push_back(maxThreads);
    }
    counts.erase(std::unique(counts.begin(), counts.end()), counts.end());
    try {
        const app::Scenario sc = app::loadScenario(argv[1]);
        if (sc.sim.strategy.kind != StrategyKind::SyncPs)
            throw std::runtime_error("this benchmark compares the synchronous parameter server");
        const double tl = now();
        const TrainTest data = app::loadDataset(sc);
        std::printf("dataset loaded in %.3f s (excluded from the timings)\n", now() - tl);
        const double load0 = loadAverage();

        std::vector<double> plain, plainEval;
        std::vector<std::vector<double>> simulated(counts.size());
        std::vector<double> rss(counts.size(), 0);
        Eigen::VectorXf plainModel;
        SimRun last;
        bool same = true;
        double w = 0;
        std::vector<double> plainHere; // the plain loop in this long-lived process, for reference
        plainModel = plainLoop(sc.sim, data, false, w); // in this process: the reference model
        for (int i = 0; i < repeat; ++i) { // interleaved, so a slow phase of the machine hits every series
            const auto [plainWall, plainFingerprint] = spawnPlain(argv[1], false);
            plain.push_back(plainWall);
            same = same && plainFingerprint == fingerprint(plainModel);
            for (std::size_t k = 0; k < counts.size(); ++k) {
                last = spawnSimulation(argv[1], counts[k]);
                simulated[k].push_back(last.wall);
                rss[k] = std::max(rss[k], last.rss);
                same = same && last.model == fingerprint(plainModel);
            }
            plainEval.push_back(spawnPlain(argv[1], true).first);
            plainLoop(sc.sim, data, false, w);
            plainHere.push_back(w);
        }
        const double p = median(plain), pe = median(plainEval);
        std::printf("scenario: %s\n", sc.name.c_str());
        std::printf("steps: %ld, final test accuracy %.4f, simulated time %.3f s, %zu test-set evaluations\n",
                    last.steps, last.accuracy, last.simulatedTime, last.evaluations);
        std::printf("cores available: %d; machine load (1-min average) %.2f at the start, %.2f at the end\n",
                    parallel::availableCores(), load0, loadAverage());
        std::printf("medians of %d runs each (seconds):\n", repeat);
        std::printf("  plain loop, same gradient evaluations (1 thread):    %.3f  [%s]\n", p, list(plain).c_str());
        std::printf("  plain loop, same gradient + test-set evaluations:    %.3f  [%s]\n", pe,
                    list(plainEval).c_str());
        std::printf("  (plain loop in this long-lived process:              %.3f  [%s]; not used in the ratios)\n",
                    median(plainHere), list(plainHere).c_str());
        for (std::size_t k = 0; k < counts.size(); ++k)
            std::printf("  simulated run, %3d thread(s):                        %.3f  [%s]  peak RSS %.0f MiB\n",
                        counts[k], median(simulated[k]), list(simulated[k]).c_str(), rss[k]);
        std::printf("simulated and plain models bit-identical (every thread count): %s\n", same ? "yes" : "NO");
        const double s1 = median(simulated.front());
        std::printf("overhead with 1 thread: test-set evaluations %.0f ms (%.1f %%), simulation %.0f ms (%.1f %%)\n",
                    1e3 * (pe - p), 100 * (pe - p) / p, 1e3 * (s1 - pe), 100 * (s1 - pe) / p);
        std::printf("scaling, wall(simulated run) / wall(plain loop):\n");
        for (std::size_t k = 0; k < counts.size(); ++k)
            std::printf("  %3d thread(s): %.3f   (speed-up over 1 thread %.2fx)\n", counts[k],
                        median(simulated[k]) / p, s1 / median(simulated[k]));
        std::printf("wall(simulated run, 1 thread) / wall(plain loop) = %.3f   (target <= 1.10)\n", s1 / p);
        std::printf("wall(simulated run, %d threads%s) / wall(plain loop) = %.3f   (target <= 0.65 with all cores)\n",
                    counts.back(), counts.back() == parallel::availableCores() ? " = all cores" : "",
                    median(simulated.back()) / p);
        return same ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_quickstart: %s\n", e.what());
        return 2;
    }
}
