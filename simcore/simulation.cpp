// SPDX-License-Identifier: GPL-3.0-or-later
#include "simulation.h"

#include "platform_impl.h"
#include "simtransport.h"

#include <simgrid/s4u/Actor.hpp>
#include <simgrid/s4u/Engine.hpp>

#include <exception>

namespace sg4 = simgrid::s4u;

namespace dml::sim {
namespace {

class Recorder final : public MetricsSink {
public:
    void sample(const Sample& s) override { samples.push_back(s); }
    void point(const std::string& name, double t, double v) override { series[name].emplace_back(t, v); }
    std::vector<Sample> samples;
    std::map<std::string, std::vector<std::pair<double, double>>> series;
};

SimulationResult run(const PlatformSpec& platform, Strategy& strategy, double targetAccuracy,
                     bool accuracySimulated, Recorder& recorder);

} // namespace

std::vector<std::string> hostNames(const Strategy& s)
{
    std::vector<std::string> names;
    int workers = 0;
    for (int r = 0; r < s.numRanks(); ++r) {
        const std::string role = s.roleOf(r);
        names.push_back(role == "worker" ? "worker-" + std::to_string(workers++) : role);
    }
    return names;
}

SimulationResult simulate(const SimulationSpec& spec, const TrainTest& data, MetricsSink& sink)
{
    Recorder recorder;
    SinkList sinks;
    sinks.add(&recorder);
    sinks.add(&sink);
    auto strategy = makeStrategy(spec.strategy, spec.training, data, sinks);
    SimulationResult result = run(spec.platform, *strategy, spec.training.targetAccuracy,
                                  spec.training.proxy.parameters <= 0, recorder);
    sink.hostStats(result.hosts);
    sink.summary(result.summary);
    return result;
}

SimulationResult simulateStrategy(const PlatformSpec& platform, Strategy& strategy, double targetAccuracy,
                                  bool accuracySimulated)
{
    Recorder none;
    return run(platform, strategy, targetAccuracy, accuracySimulated, none);
}

namespace {
SimulationResult run(const PlatformSpec& platform, Strategy& strategy, double targetAccuracy,
                     bool accuracySimulated, Recorder& recorder)
{

    int argc = 2;
    char arg0[] = "dmlsim";
    char arg1[] = "--log=root.thresh:warning";
    char* argv[] = {arg0, arg1, nullptr};
    sg4::Engine engine(&argc, argv);
    configureNetwork(platform.network);

    const int ranks = strategy.numRanks();
    std::vector<std::string> names = hostNames(strategy), roles;
    for (int r = 0; r < ranks; ++r)
        roles.push_back(strategy.roleOf(r));
    std::vector<sg4::Host*> hosts = buildStar(platform, names, roles);

    World world;
    world.strategy = &strategy;
    world.names = names;
    world.accounts.resize(static_cast<std::size_t>(ranks));
    for (int r = 0; r < ranks; ++r)
        world.accounts[std::size_t(r)].host = hosts[std::size_t(r)];
    for (int r = 0; r < ranks; ++r)
        if (strategy.launchedAtStart(r))
            world.start(r);
    engine.run();
    world.boxes.unbindAll();
    if (world.failure)
        std::rethrow_exception(world.failure);

    SimulationResult result;
    for (int r = 0; r < ranks; ++r) {
        const RankAccount& a = world.accounts[std::size_t(r)];
        HostStats h;
        h.name = names[std::size_t(r)];
        h.role = roles[std::size_t(r)];
        h.speed = a.host->get_speed();
        h.elapsed = a.active;
        h.finish = a.end;
        h.compute = a.compute;
        h.communication = a.communicationTime();
        h.idle = std::max(0.0, h.elapsed - h.compute - h.communication);
        h.bytesSent = a.bytesSent;
        h.bytesReceived = a.bytesReceived;
        h.flops = a.flops;
        result.hosts.push_back(std::move(h));
    }
    result.samples = std::move(recorder.samples);
    result.series = std::move(recorder.series);
    result.summary = summarize(result.samples, result.hosts, targetAccuracy);
    result.summary.stopReason = strategy.stopReason();
    result.summary.accuracySimulated = accuracySimulated;
    strategy.completeSummary(result.summary);
    result.finalModel = strategy.finalModel();
    return result;
}
} // namespace

} // namespace dml::sim
