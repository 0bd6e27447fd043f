// SPDX-License-Identifier: GPL-3.0-or-later
// Differential privacy in the strategies (issue 12): DP-FedAvg (McMahan et al. 2018) reduces to FedAvg without
// noise or clipping, bounds every client's update by C, and its epsilon follows the accountant; DP-SGD (Abadi et
// al. 2016) on sync PS stops at its privacy budget. Each simulation runs in a forked child.
#include "simcase.h"
#include "simutil.h"

#include "privacy/rdp.h"
#include "simulation.h"
#include "strategies/fedavg.h"
#include "strategies/ringallreduce.h"
#include "models/workload.h"

#include <QTest>

#include <cmath>
#include <map>

using namespace dml;
using namespace dml::test;
using PK = privacy::PrivacySpec::Kind;

namespace {

/// K = 10 clients of 60 samples each (equal parts), all sampled every round, `rounds` rounds.
sim::SimulationSpec fedSpec(const privacy::PrivacySpec& p, int rounds = 6)
{
    sim::SimulationSpec spec;
    spec.platform = idealStar(10, 1e9, 1e12);
    spec.strategy = {StrategyKind::FedAvg, 10};
    spec.strategy.clientFraction = 1.0;
    spec.strategy.rounds = rounds;
    spec.strategy.privacy = p;
    spec.training.hidden = {16};
    spec.training.batchSize = 10;
    spec.training.optimizer = OptimizerSpec{.kind = OptimizerSpec::Kind::Sgd, .learningRate = 0.05f};
    spec.training.seed = 13;
    return spec;
}

/// {final accuracy, summary epsilon, steps, then the final model}
std::vector<double> run(const sim::SimulationSpec& spec)
{
    return inChild([=] {
        const TrainTest data = smallData(31, 600);
        MetricsSink none;
        const sim::SimulationResult r = sim::simulate(spec, data, none);
        std::vector<double> v{r.summary.finalAccuracy, r.summary.epsilon, double(r.summary.steps)};
        v.insert(v.end(), r.finalModel.data(), r.finalModel.data() + r.finalModel.size());
        return v;
    });
}

privacy::PrivacySpec dp(PK kind, double z, double clip)
{
    privacy::PrivacySpec p;
    p.kind = kind;
    p.noiseMultiplier = z;
    p.clip = clip;
    p.delta = 1e-5;
    return p;
}

/// DP-SGD with clip 1, noise z and budget `target` on P workers of the blobs (600 samples, batch 10), 50 epochs
/// planned, plain SGD at 0.1.
sim::SimulationSpec dpSgdSpec(StrategyKind kind, int P, double z, double target)
{
    sim::SimulationSpec spec;
    spec.platform = idealStar(P, 1e9, 1e12);
    spec.strategy = {kind, P};
    spec.strategy.privacy = dp(PK::DpSgd, z, 1.0);
    spec.strategy.privacy.targetEpsilon = target;
    spec.training.hidden = {16};
    spec.training.batchSize = 10;
    spec.training.epochs = 50;
    spec.training.optimizer = OptimizerSpec{.kind = OptimizerSpec::Kind::Sgd, .learningRate = 0.1f};
    spec.training.seed = 5;
    return spec;
}

} // namespace

/// DP-FedAvg with z = 0 and a bound no update reaches is FedAvg bit for bit (equal parts, every client reports);
/// with a small bound every client's update w~_k - w_t has norm <= C; epsilon per round follows the accountant
/// with q = m / K = 1 and grows as the noise shrinks.
class DpFedAvg : public QObject {
    Q_OBJECT
private slots:
    void noNoiseNoClipIsFedAvg()
    {
        const std::vector<double> plain = run(fedSpec(privacy::PrivacySpec{})),
                                  dpRun = run(fedSpec(dp(PK::DpFedAvg, 0.0, 1e9)));
        QVERIFY(plain.size() > 3);
        QCOMPARE(dpRun.size(), plain.size());
        QVERIFY(std::equal(plain.begin() + 3, plain.end(), dpRun.begin() + 3));
        QCOMPARE(plain[1], -1.0);       // no privacy: no epsilon
        QVERIFY(std::isinf(dpRun[1]));  // z = 0: no finite guarantee
    }

    void clippingBoundsEveryUpdate()
    {
        const double C = 0.05;
        const std::vector<double> out = inChild([=] {
            const TrainTest data = smallData(31, 600);
            sim::SimulationSpec spec = fedSpec(dp(PK::DpFedAvg, 0.0, C));
            Workload w(spec.training, data.train);
            Eigen::VectorXf before = w.initialParams(spec.training.seed);
            double maxNorm = 0, clipped = 0, updates = 0;
            MetricsSink none;
            std::unique_ptr<Strategy> strategy = makeStrategy(spec.strategy, spec.training, data, none);
            auto& fed = dynamic_cast<FederatedAveraging&>(*strategy);
            fed.setRoundObserver([&](long, const std::vector<int>&, const std::vector<const Message*>& counted,
                                     const Eigen::VectorXf& params) {
                for (const Message* m : counted) {
                    const double norm = double((*m->data - before).norm());
                    maxNorm = std::max(maxNorm, norm);
                    clipped += norm > 0.99 * C;
                    ++updates;
                }
                before = params;
            });
            sim::simulateStrategy(spec.platform, fed, 0, true);
            return std::vector<double>{maxNorm, clipped, updates};
        });
        QCOMPARE(int(out.size()), 3);
        qInfo("max update norm %.6f (C = %g), %g of %g updates at the bound", out[0], C, out[1], out[2]);
        QVERIFY2(out[0] <= C * (1 + 1e-5), qPrintable(mismatch(out[0], C)));
        QVERIFY(out[1] > 0);
        QCOMPARE(out[2], 60.0);
    }

    void epsilonFollowsAccountant()
    {
        std::vector<double> eps;
        for (double z : {0.8, 1.6, 3.2}) {
            const std::vector<double> v = run(fedSpec(dp(PK::DpFedAvg, z, 0.5)));
            QVERIFY(v.size() > 3);
            privacy::RdpAccountant a;
            a.step(1.0, z, 6); // q = m / K = 1, six rounds
            QVERIFY2(std::fabs(v[1] - a.epsilon(1e-5)) <= 1e-9 * a.epsilon(1e-5), qPrintable(mismatch(v[1], a.epsilon(1e-5))));
            qInfo("z = %.1f: epsilon %.3f, accuracy %.4f", z, v[1], v[0]);
            eps.push_back(v[1]);
        }
        QVERIFY(eps[0] > eps[1] && eps[1] > eps[2]);
    }
};
DML_SIM_CASE(DpFedAvg);

/// DP-SGD on sync PS: epsilon after each step is the accountant's with q = P B / N, and a budget stops the run
/// after the last step within it (reason "privacy_budget"); moderate noise still learns the blobs.
class DpSgdSyncPs : public QObject {
    Q_OBJECT
private slots:
    void budgetStopsTheRun()
    {
        const int P = 4;
        const double z = 2.0, target = 3.0;
        const std::vector<double> v = inChild([=] {
            const TrainTest data = smallData(31, 600);
            const sim::SimulationSpec spec = dpSgdSpec(StrategyKind::SyncPs, P, z, target);
            MetricsSink none;
            const sim::SimulationResult r = sim::simulate(spec, data, none);
            return std::vector<double>{double(r.summary.steps), r.summary.epsilon, r.summary.finalAccuracy,
                                       r.summary.stopReason == "privacy_budget" ? 1.0 : 0.0};
        });
        QCOMPARE(int(v.size()), 4);
        const double q = P * 10.0 / 600.0;
        privacy::RdpAccountant a;
        a.step(q, z, long(v[0]));
        privacy::RdpAccountant next = a;
        next.step(q, z);
        qInfo("stopped after %g steps: epsilon %.4f (next step %.4f), accuracy %.4f", v[0], v[1], next.epsilon(1e-5), v[2]);
        QCOMPARE(v[3], 1.0);
        QVERIFY2(std::fabs(v[1] - a.epsilon(1e-5)) <= 1e-9 * v[1], qPrintable(mismatch(v[1], a.epsilon(1e-5))));
        QVERIFY(v[1] <= target);
        QVERIFY(next.epsilon(1e-5) > target);
        QVERIFY(v[0] < 50 * 15); // before the planned end
        QVERIFY(v[2] > 0.5);
    }
};
DML_SIM_CASE(DpSgdSyncPs);

/// DP-SGD on the ring: every replica adds the same noise, so the replicas stay bit-identical; the budget stops the
/// run after the same number of steps as on sync PS (same lot, same accountant).
class DpSgdRing : public QObject {
    Q_OBJECT
private slots:
    void replicasIdenticalAndBudget()
    {
        const int P = 4;
        const std::vector<double> v = inChild([=] {
            const TrainTest data = smallData(31, 600);
            const sim::SimulationSpec spec = dpSgdSpec(StrategyKind::RingAllReduce, P, 2.0, 3.0);
            MetricsSink none;
            std::unique_ptr<Strategy> s = makeStrategy(spec.strategy, spec.training, data, none);
            auto& ring = dynamic_cast<RingAllReduceStrategy&>(*s);
            std::map<long, Eigen::VectorXf> first;
            double mismatches = 0, checks = 0;
            ring.setReplicaObserver([&](int, long step, const Eigen::VectorXf& params) {
                auto [it, fresh] = first.emplace(step, params);
                if (!fresh) {
                    mismatches += !(it->second.size() == params.size() &&
                                    std::equal(params.begin(), params.end(), it->second.begin()));
                    ++checks;
                }
            });
            const sim::SimulationResult r = sim::simulateStrategy(spec.platform, ring, 0, true);
            return std::vector<double>{double(ring.stopReason() == "privacy_budget"), mismatches, checks,
                                       double(first.size())};
        });
        QCOMPARE(int(v.size()), 4);
        QCOMPARE(v[0], 1.0);
        QCOMPARE(v[1], 0.0);
        QVERIFY(v[2] > 0);
        // The last step is discarded by the stop protocol on every rank; the steps applied match sync PS's 318.
        qInfo("ring DP-SGD: %g steps applied before the budget", v[3]);
        QCOMPARE(v[3], 318.0);
    }
};
DML_SIM_CASE(DpSgdRing);

#include "sim_privacy.moc"
