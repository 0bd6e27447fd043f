// SPDX-License-Identifier: GPL-3.0-or-later
// Platforms (README-platforms.md): stragglers under the synchronous and asynchronous parameter servers, a SimGrid
// XML cluster against the built-in star, devices dropping out of federated rounds, ring all-reduce on the cluster
// topologies. Cases that compare several simulations run each one in a forked child process (SimGrid allows one
// simulation per process; the parent never creates an engine).
#include "simcase.h"
#include "simutil.h"

#include "strategies/fedavg.h"
#include "strategies/ringallreduce.h"
#include "simulation.h"

#include <QTemporaryDir>
#include <QTest>

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <set>

using namespace dml;
using namespace dml::test;

/// 10 % of 10 workers run 4x slower (a seeded choice: exactly one worker). Compute dominates (0.1 s per gradient
/// against ~3 ms of messages). The synchronous parameter server waits for the slow worker every step, so its time
/// per step grows by 3 x the compute time; the asynchronous server applies every gradient as it arrives, so its
/// throughput only loses the slow worker's 3/4: (9 + 1/4) / 10 = 0.925 of the uniform cluster's.
class StragglersSyncVersusAsync : public QObject {
    Q_OBJECT
private slots:
    void syncFollowsSlowWorkersAsyncDoesNot()
    {
        const int P = 10;
        const double compute = 0.1; // s per gradient: batch 10 x 1e8 flops at 1e10 flops/s
        auto run = [&](StrategyKind kind, bool stragglers) {
            return inChild([=] {
                const TrainTest data = labelsOnly(100000, 10);
                sim::SimulationSpec spec;
                spec.platform = idealStar(P, 1e10, 1e12);
                if (stragglers) {
                    spec.platform.stragglers.fraction = 0.1;
                    spec.platform.stragglers.factor = 4;
                }
                spec.strategy = {kind, P};
                spec.training.batchSize = 10;
                spec.training.proxy.parameters = 100000; // 400 kB messages
                spec.training.proxy.trainFlopsPerSample = 1e8;
                spec.training.maxSteps = kind == StrategyKind::SyncPs ? 20 : 200;
                spec.training.seed = 5;
                MetricsSink none;
                const sim::SimulationResult r = sim::simulate(spec, data, none);
                int slow = 0;
                for (const HostStats& h : r.hosts)
                    slow += h.role == "worker" && h.speed < 0.3e10 ? 1 : 0;
                return std::vector<double>{r.summary.simulatedTime, double(r.summary.steps), double(slow)};
            });
        };
        const auto syncFast = run(StrategyKind::SyncPs, false), syncSlow = run(StrategyKind::SyncPs, true);
        const auto asyncFast = run(StrategyKind::AsyncPs, false), asyncSlow = run(StrategyKind::AsyncPs, true);
        QVERIFY(syncFast.size() == 3 && syncSlow.size() == 3 && asyncFast.size() == 3 && asyncSlow.size() == 3);
        QCOMPARE(syncSlow[2], 1.0); // round(0.1 x 10) = 1 straggler
        QCOMPARE(syncFast[2], 0.0);
        QCOMPARE(syncFast[1], 20.0);
        QCOMPARE(syncSlow[1], 20.0);

        // Synchronous: time per step = the slow worker's compute + the same communication as before.
        const double stepFast = syncFast[0] / syncFast[1], stepSlow = syncSlow[0] / syncSlow[1];
        // (At most: the other workers' messages now overlap with the slow worker's computation.)
        QVERIFY2(stepSlow >= 4 * compute && stepSlow <= stepFast + 3 * compute + 1e-9,
                 qPrintable(QString("step %1 s, uniform step %2 s").arg(stepSlow).arg(stepFast)));
        QVERIFY(stepSlow > 3.5 * stepFast);

        // Asynchronous: updates per second hardly change.
        const double thrFast = asyncFast[1] / asyncFast[0], thrSlow = asyncSlow[1] / asyncSlow[0];
        const double ratio = thrSlow / thrFast;
        QVERIFY2(ratio > 0.88 && ratio < 0.97, qPrintable(QString("async throughput ratio %1, expected ~0.925").arg(ratio)));
        QCOMPARE(asyncSlow[2], 1.0);
    }
};
DML_SIM_CASE(StragglersSyncVersusAsync);

/// The same cluster as a SimGrid platform XML (a <cluster> of private split-duplex links and a shared backbone,
/// usable with smpirun) and as the built-in star: the synchronous parameter server takes identical simulated times,
/// host by host, under both the ideal and the tcp network model.
class XmlClusterMatchesStar : public QObject {
    Q_OBJECT
private slots:
    void sameSimulatedTimes_data()
    {
        QTest::addColumn<int>("model");
        QTest::newRow("ideal") << int(sim::NetworkModel::Ideal);
        QTest::newRow("tcp") << int(sim::NetworkModel::Tcp);
    }
    void sameSimulatedTimes()
    {
        QFETCH(int, model);
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const std::string xml = dir.filePath("cluster.xml").toStdString();
        {
            FILE* f = std::fopen(xml.c_str(), "w");
            QVERIFY(f);
            std::fputs("<?xml version='1.0'?>\n"
                       "<!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">\n"
                       "<platform version=\"4.1\">\n"
                       "  <cluster id=\"c\" prefix=\"node-\" radical=\"0-4\" suffix=\"\" speed=\"2Gf\"\n"
                       "           bw=\"10Gbps\" lat=\"20us\" bb_bw=\"1Tbps\" bb_lat=\"3us\"\n"
                       "           sharing_policy=\"SPLITDUPLEX\" bb_sharing_policy=\"SHARED\"/>\n"
                       "</platform>\n",
                       f);
            std::fclose(f);
        }
        auto run = [&](bool fromXml) {
            return inChild([=] {
                const TrainTest data = labelsOnly(10000, 10);
                sim::SimulationSpec spec;
                sim::PlatformSpec& p = spec.platform;
                p.workers = 4;
                p.network = sim::NetworkModel(model);
                if (fromXml) {
                    p.topology = sim::Topology::Xml;
                    p.xml.file = xml;
                    p.xml.roles = {{"worker", {"node-*"}}, {"server", {"node-4"}}};
                } else {
                    p.workerSpeed = p.serverSpeed = 2e9;
                    p.linkBandwidth = 1.25e9;
                    p.linkLatency = 20e-6;
                    p.backboneBandwidth = 1.25e11;
                    p.backboneLatency = 3e-6;
                }
                spec.strategy = {StrategyKind::SyncPs, 4};
                spec.training.batchSize = 10;
                spec.training.proxy.parameters = 300000;
                spec.training.proxy.trainFlopsPerSample = 1e6;
                spec.training.maxSteps = 5;
                MetricsSink none;
                const sim::SimulationResult r = sim::simulate(spec, data, none);
                std::vector<double> v{r.summary.simulatedTime};
                for (const HostStats& h : r.hosts)
                    v.insert(v.end(), {h.finish, h.compute, h.communication, h.speed});
                return v;
            });
        };
        const auto star = run(false), fromXml = run(true);
        QCOMPARE(int(star.size()), 1 + 5 * 4);
        QCOMPARE(int(fromXml.size()), int(star.size()));
        QVERIFY(star[0] > 0);
        for (std::size_t i = 0; i < star.size(); ++i)
            QVERIFY2(std::fabs(star[i] - fromXml[i]) <= 1e-12 * std::fabs(star[i]),
                     qPrintable(QString("value %1: xml ").arg(i) + mismatch(fromXml[i], star[i])));
    }
};
DML_SIM_CASE(XmlClusterMatchesStar);

/// Federated averaging with availability from a trace: client-4's device is off from the start until 2.5 s, and
/// client-2's goes off in the middle of a round (and back on shortly after). Every client is sampled every round.
/// A dropped client is never in the round's average; every round's model is the n_k-weighted mean of exactly the
/// clients that replied; and the run completes all its rounds.
class AvailabilityDropOuts : public QObject {
    Q_OBJECT
private slots:
    void droppedClientsNotAveraged()
    {
        const int K = 6;
        const TrainTest data = smallData(9, 600);
        sim::SimulationSpec spec;
        spec.platform = idealStar(K, 1e10, 1e12);
        spec.platform.workerSpeed = 1e5; // about 0.9 s of local training per round
        spec.platform.availability.model = sim::AvailabilitySpec::Model::Trace;
        spec.platform.availability.traceFile = "test";
        spec.platform.availability.events = {
            {"client-4", 0.0, false, 1}, {"client-4", 2.5, true, 2}, {"client-2", 1.5, false, 3},
            {"client-2", 1.6, true, 4}};
        spec.strategy = {StrategyKind::FedAvg, K};
        spec.strategy.clientFraction = 1.0;
        spec.strategy.rounds = 5;
        TrainingConfig& cfg = spec.training;
        cfg.hidden = {8};
        cfg.batchSize = 20;
        cfg.evalEverySteps = 1;
        cfg.seed = 3;

        std::vector<Round> rounds;
        std::vector<Sample> samples;
        class Keep : public MetricsSink {
        public:
            explicit Keep(std::vector<Sample>& s) : m_s(s) {}
            void sample(const Sample& s) override { m_s.push_back(s); }
            std::vector<Sample>& m_s;
        } keep(samples);
        FederatedAveraging fed(K, 1.0, 1, 0, 5, cfg, data, keep);
        fed.setRoundObserver(recordRounds(rounds));
        const sim::SimulationResult res = sim::simulateStrategy(spec.platform, fed, 0, true);

        QCOMPARE(int(rounds.size()), 5); // the run completed every round
        QCOMPARE(int(samples.size()), 6);
        QCOMPARE(fed.stopReason(), std::string("rounds"));
        auto has = [](const std::vector<int>& v, int k) { return std::find(v.begin(), v.end(), k) != v.end(); };
        for (std::size_t i = 0; i < rounds.size(); ++i) {
            QVERIFY2(rounds[i].meanExact, qPrintable(QString("round %1 is not the weighted mean of its replies").arg(i + 1)));
            QCOMPARE(int(rounds[i].selected.size()), K);
            const double start = samples[i].time, end = samples[i + 1].time;
            // client-4: off until 2.5 s, so out of every round that starts before then.
            if (start < 2.5)
                QVERIFY2(!has(rounds[i].counted, 4), qPrintable(QString("round %1 counted client-4").arg(i + 1)));
            // client-2: off at 1.5 s: out of the round running then, in every round that does not touch 1.5-1.6 s.
            if (start < 1.5 && end > 1.5)
                QVERIFY2(!has(rounds[i].counted, 2), qPrintable(QString("round %1 counted client-2").arg(i + 1)));
            if (end < 1.5 || start > 1.6)
                QVERIFY(has(rounds[i].counted, 2));
            for (int k : {0, 1, 3, 5}) // never off
                QVERIFY(has(rounds[i].counted, k));
        }
        // The trace really hit a round in its middle, and client-4 came back.
        bool client2Hit = false, client4Back = false;
        for (std::size_t i = 0; i < rounds.size(); ++i) {
            client2Hit |= samples[i].time + 0.1 < 1.5 && samples[i + 1].time > 1.6;
            client4Back |= has(rounds[i].counted, 4);
        }
        QVERIFY(client2Hit);
        QVERIFY(client4Back);
        QVERIFY(fed.droppedClients() >= 3);
        QCOMPARE(res.finalModel.size(), fed.finalModel().size());

        // Bytes: only delivered messages count as sent, and each crosses the star's backbone once; the models sent
        // to client-4 while its device was off are lost, and counted apart.
        double sent = 0, lost = 0;
        for (const HostStats& h : res.hosts) {
            sent += h.bytesSent;
            lost += h.bytesLost;
        }
        const auto backbone = std::find_if(res.links.begin(), res.links.end(),
                                           [](const LinkStats& l) { return l.name == "backbone"; });
        QVERIFY(backbone != res.links.end());
        QVERIFY2(nearRel(sent, backbone->bytes, 1e-12), qPrintable(mismatch(sent, backbone->bytes)));
        QVERIFY2(nearRel(res.summary.bytesOnWire, sent, 1e-12), qPrintable(mismatch(res.summary.bytesOnWire, sent)));
        QVERIFY(lost > 0);
        QCOMPARE(res.summary.bytesLost, lost);
        for (const HostStats& h : res.hosts) {
            const double sum = h.compute + h.communication + h.idle;
            QVERIFY2(std::fabs(sum - h.elapsed) <= 1e-9 * std::max(1.0, h.elapsed), qPrintable(mismatch(sum, h.elapsed)));
        }
    }
};
DML_SIM_CASE(AvailabilityDropOuts);

/// The seeded random availability model on 40 federated clients (on for 4 s, off for 2 s on average): clients drop
/// out, the run still completes all its rounds, and the same seed gives the same drop-outs.
class AvailabilityRandomCompletes : public QObject {
    Q_OBJECT
private slots:
    void completesDeterministically()
    {
        auto run = [] {
            return inChild([] {
                const int K = 40;
                const TrainTest data = labelsOnly(40 * 20, 10);
                sim::SimulationSpec spec;
                spec.platform = idealStar(K, 1e10, 1e12);
                spec.platform.availability.model = sim::AvailabilitySpec::Model::Random;
                spec.platform.availability.meanUp = 4;
                spec.platform.availability.meanDown = 2;
                spec.strategy = {StrategyKind::FedAvg, K};
                spec.strategy.clientFraction = 0.5;
                spec.strategy.rounds = 20;
                spec.training.batchSize = 10;
                spec.training.proxy.parameters = 10000;
                spec.training.proxy.trainFlopsPerSample = 5e8; // 1 s per local epoch (2 batches of 10)
                spec.training.seed = 11;
                std::vector<double> dropped;
                class Points : public MetricsSink {
                public:
                    explicit Points(std::vector<double>& d) : m_d(d) {}
                    void point(const std::string& n, double t, double v) override
                    {
                        if (n == "dropped_clients")
                            m_d.insert(m_d.end(), {t, v});
                    }
                    std::vector<double>& m_d;
                } sink(dropped);
                const sim::SimulationResult r = sim::simulate(spec, data, sink);
                std::vector<double> v{double(r.summary.steps), r.summary.simulatedTime};
                v.insert(v.end(), dropped.begin(), dropped.end());
                return v;
            });
        };
        const auto a = run(), b = run();
        QVERIFY(a.size() >= 2);
        QCOMPARE(a[0], 20.0); // completed
        double total = 0;
        for (std::size_t i = 3; i < a.size(); i += 2)
            total += a[i];
        QVERIFY2(total >= 5, qPrintable(QString("only %1 drop-outs").arg(total)));
        QCOMPARE(a, b); // bit-identical
    }
};
DML_SIM_CASE(AvailabilityRandomCompletes);

/// Ring all-reduce on SimGrid's fat-tree, torus and dragonfly zones with more leaves than ranks: the sum is exact
/// on every rank, and the hosts the platform adds for unused leaves run nothing.
class ClusterTopologiesRingAllReduce : public QObject {
    Q_OBJECT
private slots:
    void sumsExactly_data()
    {
        QTest::addColumn<int>("topology");
        QTest::addColumn<QString>("parameters");
        QTest::newRow("fat-tree") << int(sim::Topology::FatTree) << "2;8,8;1,8;1,1";
        QTest::newRow("torus") << int(sim::Topology::Torus) << "4,4,4";
        QTest::newRow("dragonfly") << int(sim::Topology::Dragonfly) << "2,1;2,1;4,1;4";
    }
    void sumsExactly()
    {
        QFETCH(int, topology);
        QFETCH(QString, parameters);
        const std::string params = parameters.toStdString();
        const auto v = inChild([=] {
            const int P = 60; // 64 leaves
            class Probe final : public Strategy {
            public:
                explicit Probe(int P) : m_P(P), out(std::size_t(P)) {}
                int numRanks() const override { return m_P; }
                std::string roleOf(int) const override { return "worker"; }
                void run(int rank, Transport& t) override
                {
                    Eigen::VectorXf v(1000);
                    for (Eigen::Index i = 0; i < v.size(); ++i)
                        v[i] = float(rank + 1) + float(i % 7);
                    ringAllReduce(t, rank, m_P, &v, 4000.0, 3);
                    out[std::size_t(rank)] = v;
                }
                std::string stopReason() const override { return "done"; }
                const Eigen::VectorXf& finalModel() const override { return m_none; }
                int m_P;
                std::vector<Eigen::VectorXf> out;
                Eigen::VectorXf m_none;
            } probe(P);
            sim::PlatformSpec p;
            p.topology = sim::Topology(topology);
            p.topologyParameters = params;
            p.workers = P;
            p.network = sim::NetworkModel::Ideal;
            const sim::SimulationResult r = sim::simulateStrategy(p, probe, 0, true);
            double bad = 0;
            for (int rank = 0; rank < P; ++rank)
                for (Eigen::Index i = 0; i < 1000; ++i) {
                    const double want = double(P) * (P + 1) / 2 + double(P) * double(i % 7);
                    bad += probe.out[std::size_t(rank)][i] != float(want) ? 1 : 0;
                }
            return std::vector<double>{bad, r.summary.simulatedTime, double(r.links.size())};
        });
        QCOMPARE(int(v.size()), 3);
        QCOMPARE(v[0], 0.0);
        QVERIFY(v[1] > 0);
        QVERIFY(v[2] > 60); // traffic on many links: the messages crossed the topology
    }
};
DML_SIM_CASE(ClusterTopologiesRingAllReduce);

/// Edge network: 2 sites x 3 devices on Wi-Fi and on cellular links, federated clients on the devices, the server in
/// the cloud. Every byte a client sends crosses its site's access link, LAN and WAN: the per-link counts add up.
class EdgeNetworkTraffic : public QObject {
    Q_OBJECT
private slots:
    void bytesPerLink_data()
    {
        QTest::addColumn<int>("access");
        QTest::newRow("wifi") << int(sim::EdgeSpec::Access::Wifi);
        QTest::newRow("cellular") << int(sim::EdgeSpec::Access::Cellular);
    }
    void bytesPerLink()
    {
        QFETCH(int, access);
        const auto v = inChild([=] {
            const int K = 6;
            const TrainTest data = labelsOnly(K * 20, 10);
            sim::SimulationSpec spec;
            sim::PlatformSpec& p = spec.platform;
            p.topology = sim::Topology::Edge;
            p.workers = K;
            p.edge.sites = 2;
            p.edge.devicesPerSite = 3;
            p.edge.access = sim::EdgeSpec::Access(access);
            p.network = sim::NetworkModel::Ideal;
            spec.strategy = {StrategyKind::FedAvg, K};
            spec.strategy.clientFraction = 1.0;
            spec.strategy.rounds = 2;
            spec.training.batchSize = 10;
            spec.training.proxy.parameters = 25000; // 100 kB
            spec.training.proxy.trainFlopsPerSample = 1e6;
            MetricsSink none;
            const sim::SimulationResult r = sim::simulate(spec, data, none);
            std::map<std::string, double> bytes;
            for (const auto& l : r.links)
                bytes[l.name] = l.bytes;
            // Site 0 holds clients 0, 2, 4: 3 clients x 2 rounds x 100 kB each way.
            return std::vector<double>{bytes["site0-wan_UP"], bytes["site0-wan_DOWN"], bytes["site0-lan_UP"],
                                       bytes["site1-wan_UP"], r.summary.simulatedTime,
                                       access == int(sim::EdgeSpec::Access::Wifi) ? bytes["site0-wifi"]
                                                                                  : bytes["client-0_cell_UP"]};
        });
        QCOMPARE(int(v.size()), 6);
        const double each = 3 * 2 * 1e5;
        QCOMPARE(v[0], each);
        QCOMPARE(v[1], each);
        QCOMPARE(v[2], each);
        QCOMPARE(v[3], each);
        QVERIFY(v[4] > 0.02); // at least the WAN latency each way
        // Wi-Fi: the cell carries its 3 clients' traffic both ways; cellular: client-0's own link carries its uploads.
        QCOMPARE(v[5], access == int(sim::EdgeSpec::Access::Wifi) ? 2 * each : 2 * 1e5);
    }
};
DML_SIM_CASE(EdgeNetworkTraffic);

#include "sim_platforms.moc"
