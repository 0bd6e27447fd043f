// SPDX-License-Identifier: GPL-3.0-or-later
// FedBuff (Nguyen et al. 2022), run in SimGrid: with K = concurrency and refills at aggregations it is synchronous
// FedAvg; with stragglers it reaches a target accuracy sooner than FedAvg and its updates are stale; a client whose
// device goes off is replaced; the same seed gives the same numbers. Comparisons of several simulations run each in
// a forked child (SimGrid allows one simulation per process).
#include "simcase.h"
#include "simutil.h"

#include "strategies/fedavg.h"
#include "strategies/fedbuff.h"
#include "simulation.h"

#include <QTest>

#include <algorithm>
#include <cmath>
#include <cstring>

using namespace dml;
using namespace dml::test;

namespace {

/// N = 8 identical clients (equal speeds and links, IID parts of 80 samples), 4 per round / concurrency 4 = K,
/// E = 2, 4 rounds or aggregations, plain SGD.
sim::SimulationSpec identicalClients(StrategyKind kind)
{
    const int N = 8;
    sim::SimulationSpec spec;
    spec.platform = idealStar(N, 1e8, 1e12);
    spec.strategy = {kind, N};
    spec.strategy.clientFraction = 0.5;
    spec.strategy.concurrency = 4;
    spec.strategy.bufferSize = 4;
    spec.strategy.refillOnAggregation = true;
    spec.strategy.localEpochs = 2;
    spec.strategy.rounds = 4;
    TrainingConfig& cfg = spec.training;
    cfg.hidden = {16};
    cfg.optimizer.kind = OptimizerSpec::Kind::Sgd;
    cfg.optimizer.learningRate = 0.1f;
    cfg.batchSize = 16;
    cfg.evalEverySteps = 1;
    cfg.seed = 17;
    return spec;
}

/// Layout of identicalRun's numbers: the final model, then per evaluation its accuracy, then per round the clients
/// averaged (sorted), then the largest staleness (FedBuff) and the rounds.
std::vector<double> identicalRun(StrategyKind kind)
{
    return inChild([kind] {
        const TrainTest data = smallData(5, 640);
        const sim::SimulationSpec spec = identicalClients(kind);
        Keep keep;
        std::vector<std::vector<int>> clients;
        long maxStaleness = -1;
        std::unique_ptr<Strategy> s = makeStrategy(spec.strategy, spec.training, data, keep);
        if (auto* fed = dynamic_cast<FederatedAveraging*>(s.get())) {
            fed->setRoundObserver([&](long, const std::vector<int>&, const std::vector<const Message*>& counted,
                                      const Eigen::VectorXf&) {
                std::vector<int> c;
                for (const Message* m : counted)
                    c.push_back(m->source);
                clients.push_back(c);
            });
        } else if (auto* buff = dynamic_cast<FedBuff*>(s.get())) {
            buff->setAggregationObserver([&](long, const std::vector<FedBuff::Contribution>& in, const Eigen::VectorXf&) {
                std::vector<int> c;
                for (const FedBuff::Contribution& x : in) {
                    c.push_back(x.client);
                    maxStaleness = std::max(maxStaleness, x.staleness);
                }
                std::sort(c.begin(), c.end());
                clients.push_back(c);
            });
        }
        const sim::SimulationResult r = sim::simulateStrategy(spec.platform, *s, 0, true);
        std::vector<double> v(r.finalModel.data(), r.finalModel.data() + r.finalModel.size());
        for (const Sample& x : keep.samples)
            v.push_back(x.testAccuracy);
        for (const auto& c : clients)
            v.insert(v.end(), c.begin(), c.end());
        v.push_back(double(maxStaleness));
        v.push_back(double(clients.size()));
        return v;
    });
}

double maxAbs(const std::vector<double>& a, const std::vector<double>& b, std::size_t n)
{
    double d = 0;
    for (std::size_t i = 0; i < n; ++i)
        d = std::max(d, std::fabs(a[i] - b[i]));
    return d;
}

} // namespace

/// FedBuff with K = concurrency = FedAvg's clients per round, refills at aggregations, eta_g = 1 and identical
/// clients is synchronous FedAvg: the same clients each round (FedBuff's sampling event e draws
/// FederatedAveraging::sampleClients(e) when every client is idle), staleness 0, and the same model up to float
/// rounding. Not bit for bit: FedAvg forms sum_k (1/m) w^k, FedBuff w - (1/K) sum_k (w - w^k), with the updates
/// summed in arrival order; each aggregation differs by a few ulps of the weights (|w| < 2 here, ulp ~ 1e-7), and
/// four aggregations of two local epochs amplify that little, so 1e-5 bounds it with margin while any real
/// difference (another client, another step) moves the weights by 1e-3 or more. The test accuracies, over
/// 200 test samples, are then equal.
class FedBuffSyncEqualsFedAvg : public QObject {
    Q_OBJECT
private slots:
    void sameClientsSameModel()
    {
        const std::vector<double> avg = identicalRun(StrategyKind::FedAvg);
        const std::vector<double> buff = identicalRun(StrategyKind::FedBuff);
        const TrainTest data = smallData(5, 640);
        const std::size_t n = std::size_t(Mlp(data.train.numFeatures(), {16}, data.train.classes).numParams());
        const std::size_t evals = 5, rounds = 4, perRound = 4;
        QCOMPARE(avg.size(), n + evals + rounds * perRound + 2);
        QCOMPARE(buff.size(), avg.size());
        QCOMPARE(buff.back(), double(rounds));
        QCOMPARE(buff[buff.size() - 2], 0.0); // staleness all zero
        // The same clients, round by round: FedAvg's sampleClients(round).
        for (std::size_t i = n + evals; i < n + evals + rounds * perRound; ++i)
            QVERIFY2(avg[i] == buff[i], qPrintable(QString("client %1: fedbuff %2, fedavg %3")
                                                       .arg(i - n - evals).arg(buff[i]).arg(avg[i])));
        // Not every client every round: the sampling is really exercised.
        std::vector<double> first(avg.begin() + std::ptrdiff_t(n + evals), avg.begin() + std::ptrdiff_t(n + evals + perRound));
        std::vector<double> second(avg.begin() + std::ptrdiff_t(n + evals + perRound),
                                   avg.begin() + std::ptrdiff_t(n + evals + 2 * perRound));
        QVERIFY(first != second);
        const double d = maxAbs(avg, buff, n);
        std::printf("largest weight difference fedbuff - fedavg: %g\n", d);
        QVERIFY2(d <= 1e-6, qPrintable(QString("models differ by %1").arg(d)));
        double moved = 0; // the model did train: the tolerance is small against what training changes
        for (std::size_t i = 0; i < n; ++i)
            moved = std::max(moved, std::fabs(avg[i]));
        QVERIFY(moved > 0.1);
        for (std::size_t i = n; i < n + evals; ++i)
            QVERIFY2(avg[i] == buff[i], qPrintable(QString("evaluation %1: ").arg(i - n) + mismatch(buff[i], avg[i])));
        QVERIFY(avg[n + evals - 1] > avg[n]); // it learned
    }
};
DML_SIM_CASE(FedBuffSyncEqualsFedAvg);

namespace {

/// 20 clients on 4-class blobs, 3 of them 10x slower (stragglers fraction 0.15), compute-bound (under a second of
/// local training on a fast client, ten times that on a straggler; messages of 816 bytes). FedAvg samples 5 per round and waits for all of them;
/// FedBuff keeps 5 training and aggregates every K = 2 updates.
std::vector<double> stragglerRun(StrategyKind kind, std::uint64_t seed = 4)
{
    return inChild([kind, seed] {
        const TrainTest data = smallData(8, 2000);
        const int N = 20;
        sim::SimulationSpec spec;
        spec.platform = idealStar(N, 2e5, 1e12);
        spec.platform.stragglers.fraction = 0.15;
        spec.platform.stragglers.factor = 10;
        spec.strategy = {kind, N};
        spec.strategy.clientFraction = 0.25;
        spec.strategy.concurrency = 5;
        spec.strategy.bufferSize = 2;
        spec.strategy.localEpochs = 1;
        spec.strategy.rounds = kind == StrategyKind::FedAvg ? 12 : 30; // the same 60 client updates
        TrainingConfig& cfg = spec.training;
        cfg.hidden = {8};
        cfg.optimizer.kind = OptimizerSpec::Kind::Sgd;
        cfg.optimizer.learningRate = 0.3f;
        cfg.batchSize = 20;
        cfg.evalEverySteps = 1;
        cfg.targetAccuracy = 0.9;
        cfg.seed = seed;
        Keep keep;
        const sim::SimulationResult r = sim::simulate(spec, data, keep);
        int slow = 0;
        for (const HostStats& h : r.hosts)
            slow += h.role == "client" && h.speed < 1e5 ? 1 : 0;
        const auto& st = keep.series["staleness"];
        double positive = 0;
        for (const auto& [t, v] : st)
            positive += v > 0 ? 1 : 0;
        return std::vector<double>{r.summary.timeToTarget, r.summary.finalAccuracy, r.summary.stalenessMean,
                                   r.summary.stalenessMax, double(st.size()), positive, double(slow),
                                   double(r.summary.steps), r.summary.simulatedTime,
                                   r.finalModel.size() > 0 ? double(r.finalModel.sum()) : 0.0};
    });
}

} // namespace

/// With stragglers, FedBuff reaches the target accuracy sooner in simulated time than FedAvg with the same clients
/// per round (Summary::timeToTarget), because no aggregation waits for a straggler; and its updates are stale:
/// staleness > 0 is recorded, one series point per update, with the summary's mean and max (FedAvg has none).
class FedBuffBeatsFedAvgWithStragglers : public QObject {
    Q_OBJECT
private slots:
    void soonerToTargetAndStale()
    {
        const std::vector<double> avg = stragglerRun(StrategyKind::FedAvg);
        const std::vector<double> buff = stragglerRun(StrategyKind::FedBuff);
        QCOMPARE(int(avg.size()), 10);
        QCOMPARE(int(buff.size()), 10);
        QCOMPARE(avg[6], 3.0); // round(0.15 x 20) stragglers
        QCOMPARE(buff[6], 3.0);
        QVERIFY2(avg[0] > 0, "fedavg never reached the target: the comparison says nothing");
        QVERIFY2(buff[0] > 0, qPrintable(QString("fedbuff never reached the target (final accuracy %1)").arg(buff[1])));
        QVERIFY2(buff[0] < 0.7 * avg[0], qPrintable(QString("time to target: fedbuff %1 s, fedavg %2 s").arg(buff[0]).arg(avg[0])));
        // Staleness: recorded per update (30 aggregations x K = 2), some positive, and summarized.
        QCOMPARE(buff[4], 60.0);
        QVERIFY(buff[5] > 0);
        QVERIFY(buff[3] >= 1);
        QVERIFY(buff[2] > 0 && buff[2] <= buff[3]);
        QCOMPARE(avg[2], -1.0); // not an asynchronous strategy
        QCOMPARE(avg[4], 0.0);
        QCOMPARE(buff[7], 30.0);
        std::printf("time to 0.9: fedavg %.3f s, fedbuff %.3f s; staleness mean %.2f max %.0f; simulated %.3f / %.3f s\n",
                    avg[0], buff[0], buff[2], buff[3], avg[8], buff[8]);
    }
};
DML_SIM_CASE(FedBuffBeatsFedAvgWithStragglers);

/// The server step of Algorithm 1, bit for bit: with two of 12 clients 5x slower, concurrency 6, K = 3 and
/// eta_g = 0.5, every aggregation's new model equals x - float(eta_g / K) sum_i s(tau_i) Delta_i recomputed from the
/// updates it folded in (in arrival order), tau_i = (the version before the aggregation) - (the version client i
/// trained on), s(tau) = 1 / sqrt(1 + tau); some updates are stale, so the weighting is exercised; and
/// Delta_i = y_0 - y_Q has the paper's sign (the step lowers the training loss, see the accuracy).
class FedBuffServerStep : public QObject {
    Q_OBJECT
private slots:
    void equalsAlgorithm1()
    {
        const int N = 12;
        const TrainTest data = smallData(11, 1200);
        sim::PlatformSpec platform = idealStar(N, 1e6, 1e12);
        platform.speeds.list = std::vector<double>(std::size_t(N), 1e6);
        platform.speeds.list[3] = platform.speeds.list[7] = 0.2e6;
        TrainingConfig cfg;
        cfg.hidden = {8};
        cfg.optimizer.kind = OptimizerSpec::Kind::Momentum;
        cfg.optimizer.learningRate = 0.05f;
        cfg.batchSize = 20;
        cfg.evalEverySteps = 1;
        cfg.seed = 29;
        FedBuff::Settings settings;
        settings.concurrency = 6;
        settings.bufferSize = 3;
        settings.serverLearningRate = 0.5;
        settings.aggregations = 8;
        Keep keep;
        FedBuff fed(N, settings, cfg, data, keep);
        Mlp model(data.train.numFeatures(), cfg.hidden, data.train.classes);
        Eigen::VectorXf x(model.numParams());
        model.initParams(x.data(), cfg.seed);
        int exact = 0, stale = 0, calls = 0;
        bool tauRight = true;
        fed.setAggregationObserver([&](long version, const std::vector<FedBuff::Contribution>& in,
                                       const Eigen::VectorXf& params) {
            ++calls;
            Eigen::VectorXf buffer = Eigen::VectorXf::Zero(x.size());
            for (const FedBuff::Contribution& c : in) {
                tauRight &= c.staleness == version - 1 - c.version && c.update && c.update->size() == x.size();
                stale += c.staleness > 0 ? 1 : 0;
                if (c.update)
                    buffer += float(1.0 / std::sqrt(1.0 + double(c.staleness))) * *c.update;
            }
            x -= float(0.5 / 3.0) * buffer;
            exact += int(in.size()) == 3 && x.size() == params.size() &&
                     std::memcmp(x.data(), params.data(), sizeof(float) * std::size_t(x.size())) == 0;
            x = params; // go on from the simulated model (so that one mismatch is not counted again)
        });
        sim::simulateStrategy(platform, fed, 0, true);
        QCOMPARE(calls, 8);
        QVERIFY(tauRight);
        QCOMPARE(exact, 8);
        QVERIFY2(stale > 0, "no stale update: the staleness weighting was not exercised");
        QVERIFY(keep.samples.back().testAccuracy > keep.samples.front().testAccuracy + 0.2);
    }
};
DML_SIM_CASE(FedBuffServerStep);

/// The same seed gives the same numbers (model, times, staleness); another seed gives others.
class FedBuffDeterministic : public QObject {
    Q_OBJECT
private slots:
    void sameSeedSameNumbers()
    {
        const std::vector<double> a = stragglerRun(StrategyKind::FedBuff), b = stragglerRun(StrategyKind::FedBuff);
        QCOMPARE(int(a.size()), 10);
        QVERIFY(a[5] > 0); // asynchronous: arrival order matters, so this is a real check
        for (std::size_t i = 0; i < a.size(); ++i)
            QVERIFY2(a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i])),
                     qPrintable(QString("value %1: ").arg(i) + mismatch(b[i], a[i])));
        const std::vector<double> c = stragglerRun(StrategyKind::FedBuff, 5);
        QCOMPARE(int(c.size()), 10);
        QVERIFY(c[9] != a[9]);
    }
};
DML_SIM_CASE(FedBuffDeterministic);

/// Availability from a trace: clients 0-6 go off at 1.5 s, while at least one of them trains (4 of the 10 clients
/// train at any time, only 3 are outside 0-6), and come back at 6 s. Each one training is detected within the failure detection interval
/// (series "failed_clients") and its slot refilled at once by a launch of a client whose device is on (7-9); none
/// of the off clients is launched while off; the run completes all its aggregations.
class FedBuffClientOffReplaced : public QObject {
    Q_OBJECT
private slots:
    void replacedAndCompletes()
    {
        const int N = 10;
        const TrainTest data = smallData(9, 1000);
        sim::SimulationSpec spec;
        spec.platform = idealStar(N, 1e5, 1e12); // about 0.9 s of local training per task
        spec.platform.availability.model = sim::AvailabilitySpec::Model::Trace;
        spec.platform.availability.traceFile = "test";
        for (int k = 0; k <= 6; ++k) {
            const std::string host = "client-" + std::to_string(k);
            spec.platform.availability.events.push_back({host, 1.5, false, 2 * k + 1});
            spec.platform.availability.events.push_back({host, 6.0, true, 2 * k + 2});
        }
        TrainingConfig& cfg = spec.training;
        cfg.hidden = {8};
        cfg.batchSize = 20;
        cfg.evalEverySteps = 1;
        cfg.seed = 3;
        FedBuff::Settings settings;
        settings.concurrency = 4;
        settings.bufferSize = 2;
        settings.aggregations = 12;
        settings.failureDetection = 0.25;
        Keep keep;
        FedBuff fed(N, settings, cfg, data, keep);
        std::vector<std::pair<int, double>> launches;
        fed.setLaunchObserver([&](int k, long, double t) { launches.emplace_back(k, t); });
        const sim::SimulationResult res = sim::simulateStrategy(spec.platform, fed, 0, true);

        QCOMPARE(fed.stopReason(), std::string("rounds"));
        QCOMPARE(int(keep.samples.size()), 13); // initial + 12 aggregations: completed
        QVERIFY2(fed.failedClients() >= 1, qPrintable(QString("failed %1").arg(fed.failedClients())));
        const auto& failed = keep.series["failed_clients"];
        QCOMPARE(long(failed.size()), fed.failedClients());
        const double detected = failed.front().first;
        for (const auto& [t, v] : failed) // detected within one interval of 1.5 s, all at one check
            QVERIFY2(t >= 1.5 && t <= 1.5 + 0.25 + 1e-9 && t == detected, qPrintable(QString("detected at %1").arg(t)));
        bool replaced = false;
        for (const auto& [k, t] : launches) {
            if (k <= 6)
                QVERIFY2(t < 1.5 || t >= 6.0, qPrintable(QString("client %1 launched at %2").arg(k).arg(t)));
            replaced |= t == detected && k > 2;
        }
        QVERIFY2(replaced, "no launch at the detection");
        int during = 0; // the run went on without them
        for (const Sample& s : keep.samples)
            during += s.time > 1.75 && s.time < 6.0 ? 1 : 0;
        QVERIFY2(during >= 1, "no aggregation while clients 0-6 were off");
        QCOMPARE(int(keep.series["staleness"].size()), 24);
        QCOMPARE(res.finalModel.size(), fed.finalModel().size());
    }
};
DML_SIM_CASE(FedBuffClientOffReplaced);

#include "sim_fedbuff.moc"
