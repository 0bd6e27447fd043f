// SPDX-License-Identifier: GPL-3.0-or-later
// Benchmark of the cluster topologies: builds each one with 1,024 hosts (star, fat-tree, torus, dragonfly) and runs
// one step of ring all-reduce on a ResNet-50-sized proxy model (25.6M parameters: 2 x 1023 messages of 100 kB per
// worker) under the ideal network model. Prints the wall time of each (platform build + simulation), measured in a
// child process per topology since SimGrid allows one simulation per process. Not a test: figures, not verdicts.
//
//   bench_platforms [steps]          all four topologies (default 1 step)
//   bench_platforms --only NAME [steps]
#include "simulation.h"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

using namespace dml;

namespace {

struct Case {
    const char* name;
    sim::Topology topology;
    const char* parameters;
};

const Case kCases[] = {
    {"star", sim::Topology::Star, ""},
    {"fat-tree", sim::Topology::FatTree, "2;32,32;1,32;1,1"},
    {"torus", sim::Topology::Torus, "16,8,8"},
    {"dragonfly", sim::Topology::Dragonfly, "4,2;4,2;8,1;8"},
};

struct Figures {
    double wall = 0, simulated = 0;
    long steps = 0;
    std::size_t links = 0;
};

Figures runOne(const Case& c, long steps)
{
    const int P = 1024;
    TrainTest data;
    data.train.classes = data.test.classes = 10;
    data.train.features.resize(0, P * 32);
    data.train.labels.assign(std::size_t(P * 32), 0);
    sim::SimulationSpec spec;
    sim::PlatformSpec& p = spec.platform;
    p.topology = c.topology;
    p.topologyParameters = c.parameters;
    p.workers = P;
    p.workerSpeed = 1e13;
    p.linkBandwidth = 1.25e9;
    p.linkLatency = 1e-6;
    p.backboneBandwidth = 1.25e12;
    p.network = sim::NetworkModel::Ideal;
    spec.strategy = {StrategyKind::RingAllReduce, P};
    spec.training.batchSize = 32;
    spec.training.proxy.parameters = 25600000;
    spec.training.proxy.trainFlopsPerSample = 3 * 4.1e9;
    spec.training.maxSteps = steps;
    MetricsSink none;
    const auto t0 = std::chrono::steady_clock::now();
    const sim::SimulationResult r = sim::simulate(spec, data, none);
    Figures f;
    f.wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    f.simulated = r.summary.simulatedTime;
    f.steps = r.summary.steps;
    f.links = r.links.size();
    return f;
}

} // namespace

int main(int argc, char** argv)
{
    long steps = 1;
    const char* only = nullptr;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = argv[++i];
        else
            steps = std::max(1L, std::strtol(argv[i], nullptr, 10));
    }
    std::printf("ring all-reduce, 1,024 workers, 25.6M-parameter proxy (102.4 MB), %ld step(s), ideal network\n\n",
                steps);
    std::printf("%-10s %-18s %8s %14s %12s %10s\n", "topology", "parameters", "hosts", "simulated/step", "links used",
                "wall");
    int failures = 0;
    for (const Case& c : kCases) {
        if (only && std::strcmp(only, c.name) != 0)
            continue;
        int fds[2];
        if (pipe(fds) != 0)
            return 1;
        std::fflush(stdout);
        const pid_t pid = fork();
        if (pid == 0) { // one simulation per process
            close(fds[0]);
            const Figures f = runOne(c, steps);
            const bool ok = write(fds[1], &f, sizeof f) == ssize_t(sizeof f);
            _exit(ok ? 0 : 1);
        }
        close(fds[1]);
        Figures f;
        const bool got = read(fds[0], &f, sizeof f) == ssize_t(sizeof f);
        close(fds[0]);
        int status = 0;
        waitpid(pid, &status, 0);
        if (!got || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            std::printf("%-10s failed\n", c.name);
            ++failures;
            continue;
        }
        const int hosts = c.topology == sim::Topology::Star ? 1024 : sim::clusterHostCount(c.topology, c.parameters);
        std::printf("%-10s %-18s %8d %12.2f ms %12zu %8.2f s\n", c.name, c.parameters, hosts,
                    1e3 * f.simulated / double(f.steps), f.links, f.wall);
    }
    return failures ? 1 : 0;
}
