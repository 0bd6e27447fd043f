// SPDX-License-Identifier: GPL-3.0-or-later
// Overhead of simulating: the quickstart scenario (sync PS in SimGrid) against a plain single-process Eigen
// loop doing the same gradient evaluations (same shards, batches, rank-order averaging and optimizer steps).
//
//   ./build/bench/bench_quickstart scenarios/quickstart.json [--repeat N]
//
// Prints wall(simulated run) / wall(plain loop) as the ratio of the medians of N interleaved measurements of
// each (default 5). SimGrid allows one simulation per process, so every simulated run is a fresh child process
// (this program with --simulate), as `dmlsim run` is; each loads the dataset before its clock starts. The
// dataset load is outside every timing. A third series, the plain loop plus the same test-set evaluations as
// the simulated run, splits the overhead into evaluations and simulation.
#include "evaluator.h"
#include "models/model.h"
#include "data/partition.h"
#include "reference.h"
#include "scenario.h"
#include "simulation.h"

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <unistd.h>

using namespace dml;

namespace {

double now()
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

/// FNV-1a over the model's bytes: the parent checks that each child's model is bit-identical to its own.
std::uint64_t fingerprint(const Eigen::VectorXf& v)
{
    std::uint64_t h = 1469598103934665603ull;
    const auto* p = reinterpret_cast<const unsigned char*>(v.data());
    for (std::size_t i = 0; i < sizeof(float) * std::size_t(v.size()); ++i)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

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

/// Child mode: one simulated run, timed around sim::simulate only. Prints one line for the parent.
int simulateOnce(const char* scenario)
{
    const app::Scenario sc = app::loadScenario(scenario);
    const TrainTest data = app::loadDataset(sc);
    MetricsSink none;
    const double t0 = now();
    const sim::SimulationResult r = sim::simulate(sc.sim, data, none);
    const double wall = now() - t0;
    std::printf("%.6f %ld %zu %.6f %.6f %" PRIu64 "\n", wall, r.summary.steps, r.samples.size(),
                r.summary.finalAccuracy, r.summary.simulatedTime, fingerprint(r.finalModel));
    return 0;
}

struct SimRun {
    double wall = 0;
    long steps = 0;
    std::size_t evaluations = 0;
    double accuracy = 0, simulatedTime = 0;
    std::uint64_t model = 0;
};

SimRun spawnSimulation(const std::string& scenario)
{
    std::string quoted = "'";
    for (char c : scenario)
        quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    quoted += "'";
    const std::string cmd = "/proc/" + std::to_string(getpid()) + "/exe --simulate " + quoted;
    FILE* p = popen(cmd.c_str(), "r");
    if (!p)
        throw std::runtime_error("cannot start " + cmd);
    SimRun r;
    const int got = std::fscanf(p, "%lf %ld %zu %lf %lf %" SCNu64, &r.wall, &r.steps, &r.evaluations, &r.accuracy,
                                &r.simulatedTime, &r.model);
    const int status = pclose(p);
    if (got != 6 || status != 0)
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
    if (argc == 3 && std::strcmp(argv[1], "--simulate") == 0) {
        try {
            return simulateOnce(argv[2]);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "bench_quickstart --simulate: %s\n", e.what());
            return 2;
        }
    }
    int repeat = 5;
    if (argc == 4 && std::strcmp(argv[2], "--repeat") == 0)
        repeat = std::atoi(argv[3]);
    if ((argc != 2 && argc != 4) || repeat < 1) {
        std::fprintf(stderr, "usage: bench_quickstart SCENARIO.json [--repeat N]\n");
        return 2;
    }
    try {
        const app::Scenario sc = app::loadScenario(argv[1]);
        if (sc.sim.strategy.kind != StrategyKind::SyncPs)
            throw std::runtime_error("this benchmark compares the synchronous parameter server");
        const double tl = now();
        const TrainTest data = app::loadDataset(sc);
        std::printf("dataset loaded in %.3f s (excluded from the timings)\n", now() - tl);

        std::vector<double> plain, plainEval, simulated;
        Eigen::VectorXf plainModel;
        SimRun last;
        bool same = true;
        for (int i = 0; i < repeat; ++i) { // interleaved, so a slow phase of the machine hits every series
            double w = 0;
            plainModel = plainLoop(sc.sim, data, false, w);
            plain.push_back(w);
            last = spawnSimulation(argv[1]);
            simulated.push_back(last.wall);
            same = same && last.model == fingerprint(plainModel);
            plainLoop(sc.sim, data, true, w);
            plainEval.push_back(w);
        }
        const double p = median(plain), pe = median(plainEval), s = median(simulated);
        std::printf("scenario: %s\n", sc.name.c_str());
        std::printf("steps: %ld, final test accuracy %.4f, simulated time %.3f s, %zu test-set evaluations\n",
                    last.steps, last.accuracy, last.simulatedTime, last.evaluations);
        std::printf("medians of %d runs each (seconds):\n", repeat);
        std::printf("  simulated run (SimGrid + training + evaluations):   %.3f  [%s]\n", s, list(simulated).c_str());
        std::printf("  plain loop, same gradient evaluations:               %.3f  [%s]\n", p, list(plain).c_str());
        std::printf("  plain loop, same gradient + test-set evaluations:    %.3f  [%s]\n", pe,
                    list(plainEval).c_str());
        std::printf("simulated and plain models bit-identical: %s\n", same ? "yes" : "NO");
        std::printf("overhead: test-set evaluations %.0f ms (%.1f %%), simulation %.0f ms (%.1f %%)\n",
                    1e3 * (pe - p), 100 * (pe - p) / p, 1e3 * (s - pe), 100 * (s - pe) / p);
        std::printf("wall(simulated run) / wall(plain loop) = %.3f   (target <= 1.15)\n", s / p);
        std::printf("wall(simulated run) / wall(plain loop with the same evaluations) = %.3f\n", s / pe);
        return same ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_quickstart: %s\n", e.what());
        return 2;
    }
}
