// SPDX-License-Identifier: GPL-3.0-or-later
#include "simulation.h"

#include "recorder.h"

#include "platform_impl.h"
#include "data/partition.h"
#include "models/workload.h"
#include "simtransport.h"
#include "supervisor.h"

#include <simgrid/kernel/Timer.hpp>
#include <simgrid/s4u/Disk.hpp>

#include <simgrid/s4u/Actor.hpp>
#include <simgrid/s4u/Engine.hpp>
#include <simgrid/s4u/Link.hpp>

#include <algorithm>

#include <exception>
#include <memory>
#include <optional>
#include <set>

namespace sg4 = simgrid::s4u;

namespace dml::sim {
namespace {

SimulationResult run(const PlatformSpec& platform, Strategy& strategy, double targetAccuracy,
                     bool accuracySimulated, Recorder& recorder, double horizon);

/// Bound of the random availability model and of periodic profiles when the run sets no time limit, s.
constexpr double kDefaultHorizon = 1e5;

std::vector<std::string> rolesOf(const Strategy& s)
{
    std::vector<std::string> roles;
    for (int r = 0; r < s.numRanks(); ++r)
        roles.push_back(s.roleOf(r));
    return roles;
}

} // namespace

std::vector<std::string> hostNames(const std::vector<std::string>& roles)
{
    // "worker-0", "worker-1", ..., "client-0", ...; a role held by one rank only (the server) keeps its name.
    std::map<std::string, int> total, counts;
    for (const auto& role : roles)
        ++total[role];
    std::vector<std::string> names;
    for (const auto& role : roles)
        names.push_back(role == "server" && total[role] == 1 ? role : role + "-" + std::to_string(counts[role]++));
    return names;
}

std::vector<std::string> hostNames(const Strategy& s)
{
    std::vector<std::string> roles;
    for (int r = 0; r < s.numRanks(); ++r)
        roles.push_back(s.roleOf(r));
    std::vector<std::string> names = hostNames(roles);
    for (int r = 0; r < s.numRanks(); ++r) // a strategy's own names (several jobs: "a/worker-0")
        if (std::string own = s.hostName(r); !own.empty())
            names[std::size_t(r)] = std::move(own);
    return names;
}

void resolveCapacity(PlatformSpec& p, const TrainingConfig& training, const Dataset& train)
{
    if (!p.capacity.empty() && !(p.capacity.referenceFlops > 0))
        p.capacity.referenceFlops = Workload(training, train).trainFlopsPerSample() / 3.0;
}

SimulationResult simulate(const SimulationSpec& spec, const TrainTest& data, MetricsSink& sink)
{
    Recorder recorder;
    SinkList sinks;
    sinks.add(&recorder);
    sinks.add(&sink);
    recorder.forward = &sink;
    auto strategy = makeStrategy(spec.strategy, spec.training, data, sinks);
    std::vector<std::vector<int>> histogram;
    if (strategy->shards() && spec.training.proxy.parameters <= 0) { // proxies have no labels to count
        histogram = dml::labelHistogram(*strategy->shards(), data.train);
        sink.labelHistogram(histogram);
    }
    PlatformSpec platform = spec.platform;
    platform.seed = spec.training.seed;
    resolveCapacity(platform, spec.training, data.train);
    const double horizon = spec.training.maxSimulatedTime > 0 ? spec.training.maxSimulatedTime : kDefaultHorizon;
    SimulationResult result = run(platform, *strategy, spec.training.targetAccuracy,
                                  spec.training.proxy.parameters <= 0, recorder, horizon);
    const dml::PartitionStats ps = dml::partitionStats(histogram); // all 0 without a histogram
    result.summary.partitionParts = ps.parts;
    result.summary.partitionSizeMin = ps.sizeMin;
    result.summary.partitionSizeMax = ps.sizeMax;
    result.summary.partitionLabelSkew = ps.labelSkew;
    result.summary.partitionLargestClassShare = ps.largestClassShare;
    result.labelHistogram = std::move(histogram);
    sink.hostStats(result.hosts);
    sink.linkStats(result.links);
    sink.summary(result.summary);
    return result;
}

SimulationResult simulateStrategy(const PlatformSpec& platform, Strategy& strategy, double targetAccuracy,
                                  bool accuracySimulated)
{
    Recorder none;
    return run(platform, strategy, targetAccuracy, accuracySimulated, none, kDefaultHorizon);
}

SimulationResult simulateStrategy(const PlatformSpec& platform, Strategy& strategy, double targetAccuracy,
                                  bool accuracySimulated, MetricsSink* forward, double horizon)
{
    Recorder recorder;
    recorder.forward = forward;
    return run(platform, strategy, targetAccuracy, accuracySimulated, recorder,
               horizon > 0 ? horizon : kDefaultHorizon);
}

namespace {

/// Split-duplex links appear on routes as NAME_UP / NAME_DOWN: the graph shows NAME once.
std::string linkId(const std::string& name)
{
    for (const char* suffix : {"_UP", "_DOWN"}) {
        const std::string s(suffix);
        if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0)
            return name.substr(0, name.size() - s.size());
    }
    return name;
}

const char* sharingName(sg4::Link::SharingPolicy p)
{
    switch (p) {
    case sg4::Link::SharingPolicy::SPLITDUPLEX: return "full-duplex";
    case sg4::Link::SharingPolicy::FATPIPE: return "fatpipe";
    case sg4::Link::SharingPolicy::WIFI: return "wifi";
    case sg4::Link::SharingPolicy::SHARED:
    case sg4::Link::SharingPolicy::NONLINEAR: break;
    }
    return "shared";
}

/// Creates the engine with our settings and builds the platform; returns the host of every rank.
BuiltPlatform setUp(sg4::Engine*& engine, const PlatformSpec& platform, const Strategy& strategy, double horizon)
{
    const std::vector<std::string> roles = rolesOf(strategy);
    PlatformSpec p = platform;
    p.failureTolerantRoles = strategy.failureTolerantRoles();
    checkPlatform(p, roles); // before SimGrid: a clear error, never an abort inside it
    static char arg0[] = "dmlsim";
    static char arg1[] = "--log=root.thresh:warning";
#if defined(__SANITIZE_ADDRESS__)
    // Under AddressSanitizer, actors run on threads: Debian's SimGrid switches its default raw contexts without
    // ASan's fiber annotations, so ASan misreads an actor stack an exception unwinds (README "Sanitizers and
    // fuzzing"). Thread contexts give every actor a stack ASan knows; results do not depend on the factory.
    static char arg2[] = "--cfg=contexts/factory:thread";
    static int argc = 3;
    static char* argv[] = {arg0, arg1, arg2, nullptr};
#else
    static int argc = 2;
    static char* argv[] = {arg0, arg1, nullptr};
#endif
    engine = new sg4::Engine(&argc, argv);
    configureNetwork(platform);
    BuiltPlatform built = buildPlatform(p, hostNames(strategy), roles, horizon);
    return built;
}

SimulationResult run(const PlatformSpec& platform, Strategy& strategy, double targetAccuracy,
                     bool accuracySimulated, Recorder& recorder, double horizon)
{
    const bool canFail = peersCanFail(platform);
    strategy.prepare(canFail); // its jobs run while the platform is built
    sg4::Engine* enginePtr = nullptr;
    std::unique_ptr<sg4::Engine> engine;
    BuiltPlatform built;
    try {
        built = setUp(enginePtr, platform, strategy, horizon);
    } catch (...) {
        delete enginePtr;
        throw;
    }
    engine.reset(enginePtr);
    const std::vector<sg4::Host*>& hosts = built.rankHosts;
    const int ranks = strategy.numRanks();
    const std::vector<std::string>& names = built.rankNames;
    const std::vector<std::string> roles = rolesOf(strategy);

    World world;
    world.strategy = &strategy;
    world.sink = &recorder;
    world.names = names;
    world.peersCanFail = canFail;
    world.accounts.resize(static_cast<std::size_t>(ranks));
    for (int r = 0; r < ranks; ++r)
        world.accounts[std::size_t(r)].host = hosts[std::size_t(r)];
    world.prepare();
    world.report = [&recorder](const std::string& name, double t, double v) {
        recorder.point(name, t, v);
        if (recorder.forward)
            recorder.forward->point(name, t, v);
    };
    sg4::Host::on_state_change_cb([&world](const sg4::Host& h) {
        if (!h.is_on())
            world.hostTurnedOff(&h);
    });
    sg4::Link::on_state_change_cb([&world](const sg4::Link& l) {
        std::erase(world.linksDown, &l);
        if (world.report) // series "link_down:NAME" (1 down, 0 up), for the workbench's topology
            world.report("link_down:" + linkId(l.get_name()), sg4::Engine::get_clock(), l.is_on() ? 0.0 : 1.0);
        if (!l.is_on()) { // after SimGrid has failed the link's transfers
            world.linksDown.push_back(&l);
            simgrid::kernel::timer::Timer::set(sg4::Engine::get_clock(), [&world, &l] { world.linkTurnedOff(&l); });
        }
    });
    std::optional<Supervisor> supervisor;
    if (const CheckpointSpec* c = strategy.checkpointing()) {
        std::map<sg4::Host*, sg4::Disk*> disks; // one checkpoint storage per host
        for (int r = 0; r < ranks; ++r) {
            sg4::Disk*& d = disks[hosts[std::size_t(r)]];
            if (!d) {
                d = hosts[std::size_t(r)]->create_disk("checkpoint", c->readBandwidth, c->writeBandwidth);
                d->seal();
            }
            world.disks[std::size_t(r)] = d;
        }
        supervisor.emplace(world, strategy, *c);
    }
    for (int r = 0; r < ranks; ++r)
        if (strategy.launchedAtStart(r))
            world.start(r, strategy.startTime(r));
    bool deadlocked = false;
    std::string waiting; // the ranks still running when SimGrid found the deadlock
    sg4::Engine::on_deadlock_cb([&] {
        deadlocked = true;
        for (int r = 0; r < ranks; ++r)
            if (world.running[std::size_t(r)])
                waiting += (waiting.empty() ? "" : ", ") + names[std::size_t(r)];
    });
    engine->run();
    world.flushSpans();
    world.boxes.unbindAll();
    if (world.failure)
        std::rethrow_exception(world.failure);
    if (deadlocked) // every rank waits for a message that can never come (e.g. its peers were cut off for good)
        throw SimulationError("the simulation deadlocked at " + std::to_string(sg4::Engine::get_clock()) +
                              " s: " + (waiting.empty() ? std::string("ranks") : waiting) +
                              " waited for messages that could never arrive (a failure the strategy cannot "
                              "recover from; README \"Failures\")");

    SimulationResult result;
    for (int r = 0; r < ranks; ++r) {
        const RankAccount& a = world.accounts[std::size_t(r)];
        HostStats h;
        h.name = names[std::size_t(r)];
        h.role = roles[std::size_t(r)];
        h.speed = a.host->get_speed() * a.host->get_available_speed(); // a straggler's or profile's factor included
        const RankAccount::Times t = a.accounting(); // each part measured on its own
        h.elapsed = t.elapsed;
        h.finish = a.end;
        h.compute = t.compute;
        h.communication = t.communication;
        h.idle = t.idle;
        h.bytesSent = a.bytesSent;
        h.bytesLost = a.bytesLost;
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
    result.summary.failures = world.failures;
    if (supervisor) {
        supervisor->fill(result.summary);
        if (!supervisor->stopReason().empty())
            result.summary.stopReason = supervisor->stopReason();
    }
    bool allAtStart = true;
    for (int r = 0; r < ranks; ++r)
        allAtStart = allAtStart && strategy.launchedAtStart(r);
    if (allAtStart && (world.failures > 0 || result.summary.checkpoints > 0) && result.summary.simulatedTime > 0) {
        double compute = 0;
        for (const HostStats& h : result.hosts)
            compute += h.compute;
        result.summary.goodput =
            (compute - result.summary.lostComputeSeconds) / (double(ranks) * result.summary.simulatedTime);
    }
    result.finalModel = strategy.finalModel();
    result.timeline = std::move(world.timeline);
    const double end = sg4::Engine::get_clock();
    // Payload bytes per link, counted along each delivered message's route (exact under every network model,
    // unlike the link-load plugin's counts, which include LV08's protocol overhead and cross-traffic).
    for (const auto& [l, bytes] : world.linkBytes) {
        LinkStats ls;
        ls.name = l->get_name();
        ls.bytes = bytes;
        ls.bandwidth = nominalBandwidth(platform, l);
        ls.latency = l->get_latency();
        ls.averageLoad = end > 0 ? ls.bytes / end : 0;
        ls.utilization = ls.bandwidth > 0 ? ls.averageLoad / ls.bandwidth : 0;
        result.links.push_back(std::move(ls));
    }
    const auto mostBytesFirst = [](const LinkStats& a, const LinkStats& b) {
        return a.bytes != b.bytes ? a.bytes > b.bytes : a.name < b.name;
    };
    std::sort(result.links.begin(), result.links.end(), mostBytesFirst);
    for (const auto& job : world.jobLinkBytes) { // several jobs: each one's traffic, with the run's link figures
        std::vector<LinkStats>& out = result.linksByJob.emplace_back();
        for (const LinkStats& all : result.links) {
            const auto it = job.find(sg4::Link::by_name(all.name));
            if (it == job.end())
                continue;
            LinkStats ls = all;
            ls.bytes = it->second;
            ls.averageLoad = end > 0 ? ls.bytes / end : 0;
            ls.utilization = ls.bandwidth > 0 ? ls.averageLoad / ls.bandwidth : 0;
            out.push_back(std::move(ls));
        }
        std::sort(out.begin(), out.end(), mostBytesFirst);
    }
    return result;
}
} // namespace

} // namespace dml::sim

namespace dml::sim {

PlatformGraph describePlatform(const PlatformSpec& platform, const Strategy& strategy)
{
    sg4::Engine* enginePtr = nullptr;
    BuiltPlatform built;
    try {
        built = setUp(enginePtr, platform, strategy, kDefaultHorizon);
    } catch (...) {
        delete enginePtr;
        throw;
    }
    std::unique_ptr<sg4::Engine> engine(enginePtr);
    // Rank hosts first (in rank order), then the hosts no rank runs on (edge servers, spare leaves).
    std::vector<sg4::Host*> hosts = built.rankHosts;
    std::vector<std::string> roles = rolesOf(strategy);
    {
        std::set<sg4::Host*> taken(hosts.begin(), hosts.end());
        for (sg4::Host* h : engine->get_all_hosts())
            if (!taken.count(h)) {
                hosts.push_back(h);
                roles.push_back("");
            }
    }
    PlatformGraph g;
    for (std::size_t r = 0; r < hosts.size(); ++r) {
        PlatformGraph::Node n;
        n.id = hosts[r]->get_name();
        n.kind = "host";
        n.role = roles[r];
        n.speed = hosts[r]->get_speed();
        g.nodes.push_back(std::move(n));
    }
    std::set<std::string> seenLinks;
    std::set<std::pair<std::string, std::string>> seenEdges;
    auto addEdge = [&](const std::string& a, const std::string& b) {
        if (a != b && seenEdges.insert(std::minmax(a, b)).second)
            g.edges.push_back({a, b});
    };
    // Adjacency from routes: every host to the last rank (the server, when there is one), to every aggregator (an
    // edge server: its clients' routes end at its LAN, not at the WAN its own route to the cloud takes) and to its
    // neighbour in this order covers a star and an edge network; small platforms get routes from every host to
    // every host.
    const std::size_t n = hosts.size();
    const std::size_t server = built.rankHosts.empty() ? 0 : built.rankHosts.size() - 1;
    const bool allPairs = n <= 64;
    for (std::size_t a = 0; a < n; ++a) {
        for (std::size_t b = 0; b < n; ++b) {
            if (a == b || (!allPairs && b != server && b != (a + 1) % n && !isAggregator(roles[b])))
                continue;
            std::vector<sg4::Link*> links;
            double latency = 0;
            hosts[a]->route_to(hosts[b], links, &latency);
            std::string prev = hosts[a]->get_name();
            PlatformGraph::Route route{hosts[a]->get_name(), hosts[b]->get_name(), {}, latency, 0};
            for (sg4::Link* l : links) {
                const std::string id = linkId(l->get_name());
                if (seenLinks.insert(id).second) {
                    PlatformGraph::Node ln;
                    ln.id = id;
                    ln.kind = "link";
                    ln.bandwidth = nominalBandwidth(platform, l);
                    ln.latency = l->get_latency();
                    ln.sharing = id != l->get_name() ? "full-duplex" : sharingName(l->get_sharing_policy());
                    g.nodes.push_back(std::move(ln));
                }
                addEdge(prev, id);
                prev = id;
                route.links.push_back(id);
                const double bw = nominalBandwidth(platform, l);
                route.bandwidth = route.bandwidth == 0 ? bw : std::min(route.bandwidth, bw);
            }
            addEdge(prev, hosts[b]->get_name());
            if (g.sampleRoutes.size() < 4 && (b == server || b == a + 1) && a < 2)
                g.sampleRoutes.push_back(std::move(route));
        }
    }
    return g;
}

} // namespace dml::sim
