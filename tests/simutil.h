// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Shared by the simulation cases (tests/sim_*.cpp): small datasets, an ideal star, comparisons.
#include "data/dataset.h"
#include "data/partition.h"
#include "error.h"
#include "models/model.h"
#include "optim/optimizer.h"
#include "strategies/fedavg.h"
#include "simulation.h"

#include <QString>

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <vector>

namespace dml::test {

/// Plain SGD, the loop a one-worker simulated run must match bit for bit: `model` He-initialised with cfg.seed, one
/// iid shard of every training sample, worker 0's sampler, `epochs` epochs of cfg.batchSize batches and
/// cfg.optimizer. Returns the parameters and the number of steps.
struct PlainSgd {
    Eigen::VectorXf params;
    long steps = 0;
};
inline PlainSgd plainSgd(const Model& model, const TrainTest& data, const TrainingConfig& cfg, long epochs)
{
    PlainSgd out;
    out.params.resize(model.numParams());
    Eigen::VectorXf grad(model.numParams());
    model.initParams(out.params.data(), cfg.seed);
    Optimizer opt(cfg.optimizer, model.numParams());
    BatchSampler sampler(partitionIid(data.train.numSamples(), 1, cfg.seed)[0], cfg.batchSize,
                         workerSeed(cfg.seed, 0));
    Eigen::MatrixXf x;
    std::vector<std::uint8_t> y;
    out.steps = epochs * sampler.batchesPerEpoch();
    for (long s = 0; s < out.steps; ++s) {
        gatherBatch(data.train, sampler.next(), cfg.batchSize, x, y);
        model.lossAndGradient(out.params.data(), x, y.data(), grad.data());
        opt.step(out.params.data(), grad.data());
    }
    return out;
}

/// Seeded Gaussian blobs: 4 classes, 20 features, `train` training and 200 test samples.
inline TrainTest smallData(std::uint64_t seed, int train = 600)
{
    SyntheticSpec spec;
    spec.classes = 4;
    spec.features = 20;
    spec.trainSamples = train;
    spec.testSamples = 200;
    return makeSyntheticBlobs(spec, seed);
}

/// A dataset as a proxy workload sees it: labels only (cycling through the classes), 0 feature rows.
inline TrainTest labelsOnly(int train, int classes)
{
    TrainTest d;
    d.train.classes = d.test.classes = classes;
    d.train.features.resize(0, train);
    d.train.labels.resize(std::size_t(train));
    for (int i = 0; i < train; ++i)
        d.train.labels[std::size_t(i)] = std::uint8_t(i % classes);
    return d;
}

/// An ideal (alpha-beta) star of 1.25 GB/s, 5 us links whose backbone is never the bottleneck.
/// Speeds in flops/s.
inline sim::PlatformSpec idealStar(int workers, double workerSpeed = 1e12, double serverSpeed = 2e12)
{
    sim::PlatformSpec p;
    p.workers = workers;
    p.workerSpeed = workerSpeed;
    p.serverSpeed = serverSpeed;
    p.linkBandwidth = 1.25e9;
    p.linkLatency = 5e-6;
    p.backboneBandwidth = 1e14;
    p.backboneLatency = 1e-6;
    p.network = sim::NetworkModel::Ideal;
    return p;
}

/// Route latency between two hosts of the star: source link, backbone, destination link (s).
inline double routeLatency(const sim::PlatformSpec& p)
{
    return 2 * p.linkLatency + p.backboneLatency;
}

inline QString mismatch(double got, double want)
{
    return QString("got %1, expected %2").arg(got, 0, 'g', 12).arg(want, 0, 'g', 12);
}

inline bool nearRel(double got, double want, double rel)
{
    return std::fabs(got - want) <= rel * std::fabs(want);
}

/// Runs `f` in a forked child and returns the numbers it produced (empty if the child failed).
inline std::vector<double> inChild(const std::function<std::vector<double>()>& f)
{
    int fds[2];
    if (pipe(fds) != 0)
        return {};
    std::fflush(nullptr);
    const pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        int rc = 0;
        try {
            const std::vector<double> v = f();
            const std::size_t n = v.size();
            if (write(fds[1], &n, sizeof n) != ssize_t(sizeof n) ||
                write(fds[1], v.data(), n * sizeof(double)) != ssize_t(n * sizeof(double)))
                rc = 3;
        } catch (const std::exception& e) {
            std::fprintf(stderr, "child failed: %s\n", e.what());
            rc = 2;
        }
        close(fds[1]);
        _exit(rc);
    }
    close(fds[1]);
    std::vector<double> out;
    std::size_t n = 0;
    if (read(fds[0], &n, sizeof n) == ssize_t(sizeof n) && n < 1000000) {
        out.resize(n);
        std::size_t got = 0;
        while (got < n * sizeof(double)) {
            const ssize_t k = read(fds[0], reinterpret_cast<char*>(out.data()) + got, n * sizeof(double) - got);
            if (k <= 0)
                break;
            got += std::size_t(k);
        }
        if (got != n * sizeof(double))
            out.clear();
    }
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        out.clear();
    return out;
}

/// A sink that keeps the samples and named series it is given.
class Keep : public MetricsSink {
public:
    void sample(const Sample& s) override { samples.push_back(s); }
    void point(const std::string& n, double t, double v) override { series[n].emplace_back(t, v); }
    std::vector<Sample> samples;
    std::map<std::string, std::vector<std::pair<double, double>>> series;
};

/// Whether simulating `spec` (on labelsOnly(train, 10), in a forked child) is refused before the run with a
/// ConfigError whose path is `path`.
inline bool refusedAt(const sim::SimulationSpec& spec, const std::string& path, int train = 4000)
{
    const std::vector<double> v = inChild([=] {
        const TrainTest data = labelsOnly(train, 10);
        MetricsSink none;
        try {
            sim::simulate(spec, data, none);
        } catch (const ConfigError& e) {
            return std::vector<double>{e.path() == path ? 1.0 : 0.0};
        }
        return std::vector<double>{0.0};
    });
    return v == std::vector<double>{1.0};
}

/// One federated round as the observer saw it.
struct Round {
    std::vector<int> selected, counted;
    bool meanExact = false;
};

/// Records each round: its clients, the ones averaged, and whether the model is their weighted mean bit for bit
/// (recomputed in the same client-rank order).
inline FederatedAveraging::RoundObserver recordRounds(std::vector<Round>& rounds)
{
    return [&rounds](long, const std::vector<int>& selected, const std::vector<const Message*>& counted,
                     const Eigen::VectorXf& params) {
        Round r;
        r.selected = selected;
        double n = 0;
        for (const Message* m : counted) {
            r.counted.push_back(m->source);
            n += double(m->version);
        }
        if (!counted.empty()) {
            Eigen::VectorXf mean = float(double(counted[0]->version) / n) * *counted[0]->data;
            for (std::size_t i = 1; i < counted.size(); ++i)
                mean += float(double(counted[i]->version) / n) * *counted[i]->data;
            r.meanExact = mean.size() == params.size() &&
                          std::memcmp(mean.data(), params.data(), sizeof(float) * std::size_t(mean.size())) == 0;
        }
        rounds.push_back(std::move(r));
    };
}

} // namespace dml::test
