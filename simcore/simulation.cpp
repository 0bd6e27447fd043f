// SPDX-License-Identifier: GPL-3.0-or-later
#include "simulation.h"

#include "platform_impl.h"
#include "simtransport.h"

#include <simgrid/s4u/Actor.hpp>
#include <simgrid/Exception.hpp>
#include <simgrid/s4u/Engine.hpp>

#include <exception>

namespace sg4 = simgrid::s4u;

namespace dml::sim {
namespace {

class Recorder final : public MetricsSink {
public:
    void sample(const Sample& s) override { samples.push_back(s); }
    std::vector<Sample> samples;
};

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

    int argc = 2;
    char arg0[] = "dmlsim";
    char arg1[] = "--log=root.thresh:warning";
    char* argv[] = {arg0, arg1, nullptr};
    sg4::Engine engine(&argc, argv);
    configureNetwork(spec.platform.network);

    const int ranks = strategy->numRanks();
    std::vector<std::string> names = hostNames(*strategy), roles;
    for (int r = 0; r < ranks; ++r)
        roles.push_back(strategy->roleOf(r));
    std::vector<sg4::Host*> hosts = buildStar(spec.platform, names, roles);

    Mailboxes boxes;
    std::vector<RankAccount> accounts(static_cast<std::size_t>(ranks));
    std::exception_ptr failure;
    for (int r = 0; r < ranks; ++r) {
        accounts[std::size_t(r)].host = hosts[std::size_t(r)];
        sg4::Actor::create(names[std::size_t(r)], hosts[std::size_t(r)], [&, r] {
            SimTransport transport(r, boxes, accounts[std::size_t(r)]);
            try {
                strategy->run(r, transport);
            } catch (const simgrid::ForcefulKillException&) {
                throw; // the actor is being killed after another one failed: let SimGrid unwind it
            } catch (...) {
                if (!failure)
                    failure = std::current_exception();
                sg4::Actor::kill_all();
            }
            accounts[std::size_t(r)].end = sg4::Engine::get_clock();
        });
    }
    engine.run();
    boxes.unbindAll();
    if (failure)
        std::rethrow_exception(failure);

    SimulationResult result;
    for (int r = 0; r < ranks; ++r) {
        const RankAccount& a = accounts[std::size_t(r)];
        HostStats h;
        h.name = names[std::size_t(r)];
        h.role = roles[std::size_t(r)];
        h.speed = a.host->get_speed();
        h.elapsed = a.end;
        h.compute = a.compute;
        h.communication = a.communicationTime();
        h.idle = std::max(0.0, h.elapsed - h.compute - h.communication);
        h.bytesSent = a.bytesSent;
        h.bytesReceived = a.bytesReceived;
        h.flops = a.flops;
        result.hosts.push_back(std::move(h));
    }
    result.samples = std::move(recorder.samples);
    result.summary = summarize(result.samples, result.hosts, spec.training.targetAccuracy);
    result.summary.stopReason = strategy->stopReason();
    sink.hostStats(result.hosts);
    sink.summary(result.summary);
    return result;
}

} // namespace dml::sim
