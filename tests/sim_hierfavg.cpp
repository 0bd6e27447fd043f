// SPDX-License-Identifier: GPL-3.0-or-later
// Hierarchical federated averaging, HierFAVG (Liu et al. 2020; issue 12): with one site, kappa2 = 1 and the edge
// server in the cloud's place it is FedAvg bit for bit; on several sites the WAN carries one model per edge server
// per cloud round each way (counted exactly on the links), the access network kappa2 per client; a client that
// goes off drops out of its edge rounds. Each simulation runs in a forked child.
#include "simcase.h"
#include "simutil.h"

#include "simulation.h"
#include "strategies/hierfavg.h"

#include <QTest>

#include <map>

using namespace dml;
using namespace dml::test;

namespace {

/// An ideal edge network: `sites` sites of `devices` Wi-Fi devices, the server in the cloud or on site 0's edge host.
sim::PlatformSpec edge(int sites, int devices, int clients, const std::string& serverAt)
{
    sim::PlatformSpec p;
    p.topology = sim::Topology::Edge;
    p.workers = clients;
    p.workerSpeed = 1e9;
    p.serverSpeed = 1e12;
    p.edge.sites = sites;
    p.edge.devicesPerSite = devices;
    p.edge.serverAt = serverAt;
    p.network = sim::NetworkModel::Ideal;
    return p;
}

/// K = 10 clients of 60 blob samples each, batch 10, `rounds` rounds of FedAvg (C = 1, E = 1) or HierFAVG.
sim::SimulationSpec spec(StrategyKind kind, int sites, int rounds)
{
    sim::SimulationSpec s;
    s.platform = edge(sites, 10, 10, "edge");
    s.strategy = {kind, 10};
    s.strategy.clientFraction = 1.0;
    s.strategy.rounds = rounds;
    s.strategy.edgeServers = sites;
    s.training.hidden = {16};
    s.training.batchSize = 10;
    s.training.optimizer = OptimizerSpec{.kind = OptimizerSpec::Kind::Sgd, .learningRate = 0.05f};
    s.training.seed = 17;
    return s;
}

/// {final accuracy, steps, then every round's global model}.
std::vector<double> models(const sim::SimulationSpec& s)
{
    return inChild([=] {
        const TrainTest data = smallData(29, 600);
        Keep sink;
        std::unique_ptr<Strategy> strategy = makeStrategy(s.strategy, s.training, data, sink);
        std::vector<double> all;
        auto keep = [&all](const Eigen::VectorXf& p) { all.insert(all.end(), p.data(), p.data() + p.size()); };
        if (auto* fed = dynamic_cast<FederatedAveraging*>(strategy.get()))
            fed->setRoundObserver([&](long, const std::vector<int>&, const std::vector<const Message*>&,
                                      const Eigen::VectorXf& p) { keep(p); });
        if (auto* hier = dynamic_cast<HierarchicalFedAvg*>(strategy.get()))
            hier->setRoundObserver([&](long, const Eigen::VectorXf& p) { keep(p); });
        const sim::SimulationResult r = sim::simulateStrategy(s.platform, *strategy, 0, true);
        std::vector<double> v{sink.samples.empty() ? -1.0 : sink.samples.back().testAccuracy,
                              sink.samples.empty() ? -1.0 : double(sink.samples.back().step)};
        v.insert(v.end(), all.begin(), all.end());
        return v;
    });
}

} // namespace

/// One site, kappa1 = one local epoch, kappa2 = 1, the server on the site's edge host: the global model after every
/// round is FedAvg's (C = 1, E = 1) bit for bit; with kappa2 = 2 it is not (two edge averagings per round).
class HierFavgOneSiteIsFedAvg : public QObject {
    Q_OBJECT
private slots:
    void sameModelsEveryRound()
    {
        const std::vector<double> fed = models(spec(StrategyKind::FedAvg, 1, 4)),
                                  hier = models(spec(StrategyKind::HierFavg, 1, 4));
        QVERIFY(fed.size() > 2);
        QCOMPARE(hier.size(), fed.size());
        QCOMPARE(hier[1], 4.0);
        QVERIFY(fed[0] > 0.5); // it learned something
        QVERIFY(std::equal(fed.begin(), fed.end(), hier.begin()));

        sim::SimulationSpec twice = spec(StrategyKind::HierFavg, 1, 4);
        twice.strategy.cloudInterval = 2;
        const std::vector<double> two = models(twice);
        QCOMPARE(two.size(), fed.size());
        QVERIFY(!std::equal(fed.begin() + 2, fed.end(), two.begin() + 2));
    }
};
DML_SIM_CASE(HierFavgOneSiteIsFedAvg);

/// Three sites of 4 clients, kappa2 = 3 edge rounds per cloud round, R = 2 cloud rounds, 100 kB proxy models: each
/// site's WAN link carries exactly R models each way, its LAN (access point to edge server) R x kappa2 x 4 each way, its Wi-Fi cell twice that
/// (uploads and downloads share the air); FedAvg with C = 1 carries 4 models per round on each WAN, 12 x 2 in all.
class HierFavgWanBytes : public QObject {
    Q_OBJECT
private slots:
    void modelsPerLink()
    {
        const auto run = [](StrategyKind kind) {
            return inChild([=] {
                const int K = 12;
                const TrainTest data = labelsOnly(K * 20, 10);
                sim::SimulationSpec s;
                s.platform = edge(3, 4, K, "cloud");
                s.strategy = {kind, K};
                s.strategy.clientFraction = 1.0;
                s.strategy.rounds = 2;
                s.strategy.edgeServers = 3;
                s.strategy.cloudInterval = 3;
                s.strategy.edgeInterval = 2;
                s.training.batchSize = 10;
                s.training.proxy.parameters = 25000; // 100 kB
                s.training.proxy.trainFlopsPerSample = 1e6;
                MetricsSink none;
                const sim::SimulationResult r = sim::simulate(s, data, none);
                std::map<std::string, double> bytes;
                for (const auto& l : r.links)
                    bytes[l.name] = l.bytes;
                std::vector<double> v;
                for (int site = 0; site < 3; ++site) {
                    const std::string p = "site" + std::to_string(site);
                    for (const char* l : {"-wan_UP", "-wan_DOWN", "-lan_UP", "-lan_DOWN", "-wifi"})
                        v.push_back(bytes[p + l]);
                }
                v.push_back(double(r.summary.steps));
                return v;
            });
        };
        const std::vector<double> hier = run(StrategyKind::HierFavg), fed = run(StrategyKind::FedAvg);
        QCOMPARE(int(hier.size()), 16);
        QCOMPARE(int(fed.size()), 16);
        QCOMPARE(hier[15], 2.0);
        const double model = 1e5, R = 2, kappa2 = 3, perSite = 4;
        for (int site = 0; site < 3; ++site) {
            const double* h = &hier[std::size_t(site) * 5];
            const double* f = &fed[std::size_t(site) * 5];
            QCOMPARE(h[0], R * model);                         // WAN up: one edge model per cloud round
            QCOMPARE(h[1], R * model);                         // WAN down: one global model per cloud round
            QCOMPARE(h[2], R * kappa2 * perSite * model);      // LAN (access point to edge server): every
            QCOMPARE(h[3], R * kappa2 * perSite * model);      // client's model each edge round, each way
            QCOMPARE(h[4], 2 * R * kappa2 * perSite * model); // the cell: every client's model both ways
            QCOMPARE(f[0], R * perSite * model);               // FedAvg: every client's model over the WAN
            QCOMPARE(f[1], R * perSite * model);
        }
    }
};
DML_SIM_CASE(HierFavgWanBytes);

/// A client whose device goes off during the run drops out of its edge rounds; the run completes every round and
/// the client takes part again once its device is back on. The edge-server count must match the sites.
class HierFavgDropOut : public QObject {
    Q_OBJECT
private slots:
    void clientOffAndBack()
    {
        const std::vector<double> v = inChild([] {
            const TrainTest data = smallData(29, 600);
            sim::SimulationSpec s = spec(StrategyKind::HierFavg, 2, 6);
            s.platform.edge.serverAt = "cloud";
            s.platform.availability.model = sim::AvailabilitySpec::Model::Trace;
            s.platform.availability.events = {{"client-3", 0.001, false, 1}, {"client-3", 0.1, true, 2}};
            Keep sink;
            const sim::SimulationResult r = sim::simulate(s, data, sink);
            double client3 = 0;
            for (const auto& h : r.hosts)
                if (h.name == "client-3")
                    client3 = h.compute;
            return std::vector<double>{double(r.summary.steps), r.summary.finalAccuracy, client3,
                                       r.summary.simulatedTime};
        });
        QCOMPARE(int(v.size()), 4);
        QCOMPARE(v[0], 6.0);
        QVERIFY(v[1] > 0.5);
        QVERIFY2(v[2] > 0, "client-3 trained again after its device came back");
        QVERIFY2(v[3] > 0.1, "the run went on past the device's return");
    }

    void edgeServersMustMatchSites()
    {
        sim::SimulationSpec s = spec(StrategyKind::HierFavg, 2, 2);
        s.strategy.edgeServers = 3;
        s.training.hidden.clear();
        s.training.proxy.parameters = 1000;
        s.training.proxy.trainFlopsPerSample = 1e3;
        QVERIFY(refusedAt(s, "strategy.edge_servers"));
    }
};
DML_SIM_CASE(HierFavgDropOut);

#include "sim_hierfavg.moc"
