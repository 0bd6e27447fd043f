// SPDX-License-Identifier: GPL-3.0-or-later
// Secure aggregation in FedAvg (issue 12, item 2; Bonawitz et al. 2017, "Practical secure aggregation for
// privacy-preserving machine learning", CCS'17): the model is FedAvg's up to the fixed-point quantization, the
// protocol costs simulated time as secAggCost says (growing with the clients per round), and a client that goes
// off mid-protocol is recovered (its masks removed, its input left out) or, with fewer than t survivors, the round
// fails. Each simulation runs in a forked child.
#include "simcase.h"
#include "simutil.h"

#include "privacy/secagg.h"
#include "simulation.h"
#include "strategies/fedavg.h"
#include "models/workload.h"

#include <QTest>

#include <algorithm>
#include <cmath>

using namespace dml;
using namespace dml::test;

namespace {

privacy::SecAggSpec secAgg(int bits = 32, double range = 1.0)
{
    privacy::SecAggSpec a;
    a.enabled = true;
    a.bits = bits;
    a.range = range;
    return a;
}

/// K = 10 clients of 60 samples of the blobs, all sampled every round, `rounds` rounds, E local epochs.
sim::SimulationSpec fedSpec(bool secure, int rounds = 1, int localEpochs = 1)
{
    sim::SimulationSpec spec;
    spec.platform = idealStar(10, 1e9, 1e10);
    spec.strategy = {StrategyKind::FedAvg, 10};
    spec.strategy.clientFraction = 1.0;
    spec.strategy.rounds = rounds;
    spec.strategy.localEpochs = localEpochs;
    if (secure)
        spec.strategy.secureAggregation = secAgg();
    spec.training.hidden = {16};
    spec.training.batchSize = 10;
    spec.training.optimizer = OptimizerSpec{.kind = OptimizerSpec::Kind::Sgd, .learningRate = 0.05f};
    spec.training.seed = 13;
    return spec;
}

/// Runs `spec` with makeStrategy + simulateStrategy (so `setup` can reach the FedAvg object): {simulated time,
/// secAggSeconds, secAggBytes, failed rounds, the largest |coordinate| of any client update, clients averaged in
/// the first round, whether `absent` was among them, clients averaged over all rounds, then the final model}.
std::vector<double> runFed(const sim::SimulationSpec& spec, int absent = -1,
                           const privacy::SecAggConstants* constants = nullptr)
{
    return inChild([=] {
        const TrainTest data = smallData(31, 600);
        MetricsSink none;
        std::unique_ptr<Strategy> s = makeStrategy(spec.strategy, spec.training, data, none);
        auto& fed = dynamic_cast<FederatedAveraging&>(*s);
        if (constants)
            fed.setSecAggConstants(*constants);
        Workload w(spec.training, data.train);
        Eigen::VectorXf before = w.initialParams(spec.training.seed);
        double maxCoord = 0, firstCounted = -1, absentCounted = 0, totalCounted = 0;
        fed.setRoundObserver([&](long round, const std::vector<int>&, const std::vector<const Message*>& counted,
                                 const Eigen::VectorXf& params) {
            for (const Message* m : counted) {
                if (m->data)
                    maxCoord = std::max(maxCoord, double((*m->data - before).cwiseAbs().maxCoeff()));
                absentCounted += m->source == absent;
            }
            if (round == 1)
                firstCounted = double(counted.size());
            totalCounted += double(counted.size());
            before = params;
        });
        const sim::SimulationResult r = sim::simulateStrategy(spec.platform, fed, 0, true);
        std::vector<double> v{r.summary.simulatedTime, r.summary.secAggSeconds, r.summary.secAggBytes,
                              double(r.summary.secAggFailedRounds), maxCoord, firstCounted, absentCounted,
                              totalCounted};
        v.insert(v.end(), r.finalModel.data(), r.finalModel.data() + r.finalModel.size());
        return v;
    });
}

constexpr std::size_t kModelAt = 8;

/// max |a - b| over the models (after kModelAt).
double maxDiff(const std::vector<double>& a, const std::vector<double>& b)
{
    double d = 0;
    for (std::size_t i = kModelAt; i < a.size(); ++i)
        d = std::max(d, std::fabs(a[i] - b[i]));
    return d;
}

/// Costs that make the protocol's computation free: key phases then take only network time, so a crash in the
/// middle of the local training happens at the same point with and without secure aggregation.
privacy::SecAggConstants freeConstants()
{
    privacy::SecAggConstants c;
    c.keyGenerationFlops = c.keyAgreementFlops = c.shamirFlops = c.aeadFlopsPerByte = 0;
    c.prgFlopsPerElement = c.encodeFlopsPerElement = 0;
    return c;
}

} // namespace

/// The model with secure aggregation is plain FedAvg's up to the quantization: after one round (every client, no
/// update coordinate clamped) |w_sec - w_plain| <= m x step / 2 / n per coordinate (each of the m encodings
/// n_k Delta_k is rounded by at most half a step, the sum divided by n = sum n_k) plus float rounding; after five
/// rounds the models still agree to a few steps. With DP-FedAvg (z = 0) the bound is m x step / 2 / m. Secure
/// aggregation costs simulated time and reports it in the summary.
class SecAggMatchesFedAvg : public QObject {
    Q_OBJECT
private slots:
    void weightedOneRound()
    {
        const std::vector<double> plain = runFed(fedSpec(false)), sec = runFed(fedSpec(true));
        QVERIFY(plain.size() > kModelAt && sec.size() == plain.size());
        const privacy::FixedPoint fp = privacy::makeFixedPoint(32, 1.0, 10, 60); // weights n_k = 60
        const double n = 600, m = 10;
        double wmax = 0;
        for (std::size_t i = kModelAt; i < plain.size(); ++i)
            wmax = std::max(wmax, std::fabs(plain[i]));
        const double bound = m * 0.5 * fp.step() / n + 4 * 1.2e-7 * wmax; // + 4 float ulps
        qInfo("max |update coordinate| %.4f (range 1), step %.3g, max |w_sec - w_plain| %.3g (bound %.3g); simulated "
              "%.4f s against %.4f s, protocol %.4f s, %.0f bytes",
              plain[4], fp.step(), maxDiff(plain, sec), bound, sec[0], plain[0], sec[1], sec[2]);
        QVERIFY(plain[4] < 1.0); // nothing clamped, so the bound applies
        QVERIFY2(maxDiff(plain, sec) <= bound, qPrintable(mismatch(maxDiff(plain, sec), bound)));
        QVERIFY(maxDiff(plain, sec) > 0); // it is quantized
        QCOMPARE(sec[5], 10.0);
        QVERIFY(sec[0] > plain[0]);
        QVERIFY(sec[1] > 0 && sec[1] <= sec[0]); // reported
        QVERIFY(sec[2] > 0);
        QCOMPARE(sec[3], 0.0);
        QCOMPARE(plain[1], 0.0);
    }

    void weightedFiveRounds()
    {
        const std::vector<double> plain = runFed(fedSpec(false, 5)), sec = runFed(fedSpec(true, 5));
        QVERIFY(plain.size() > kModelAt && sec.size() == plain.size());
        qInfo("after 5 rounds: max |w_sec - w_plain| %.3g", maxDiff(plain, sec));
        QVERIFY(maxDiff(plain, sec) < 1e-4);
    }

    void dpFedAvg()
    {
        for (int bits : {16, 32}) {
            sim::SimulationSpec p = fedSpec(false), s = fedSpec(true);
            s.strategy.secureAggregation.bits = bits;
            for (sim::SimulationSpec* x : {&p, &s}) {
                x->strategy.privacy.kind = privacy::PrivacySpec::Kind::DpFedAvg;
                x->strategy.privacy.clip = 0.05; // clips some updates
                x->strategy.privacy.noiseMultiplier = 0;
            }
            const std::vector<double> plain = runFed(p), sec = runFed(s);
            QVERIFY(plain.size() > kModelAt && sec.size() == plain.size());
            const privacy::FixedPoint fp = privacy::makeFixedPoint(bits, 0.05, 10);
            const double ulps = 4 * 1.2e-7; // float rounding of |w| < 1
            const double bound = 10 * 0.5 * fp.step() / 10 + ulps;
            qInfo("DP-FedAvg C = 0.05, %d bits: step %.3g, max |w_sec - w_plain| %.3g (bound %.3g)", bits, fp.step(),
                  maxDiff(plain, sec), bound);
            QVERIFY2(maxDiff(plain, sec) <= bound, qPrintable(mismatch(maxDiff(plain, sec), bound)));
            if (bits == 16)
                QVERIFY(maxDiff(plain, sec) > ulps); // the quantization shows
        }
    }

    /// Settings that do not fit are refused before the run, naming the field.
    void refused()
    {
        const auto fedSpec = [](bool secure) { // a proxy of the same size: refusedAt's data has labels only
            sim::SimulationSpec s = ::fedSpec(secure);
            s.training.proxy = ProxyModel{.parameters = 404, .trainFlopsPerSample = 1e4};
            return s;
        };
        QVERIFY(!refusedAt(fedSpec(true), "strategy.secure_aggregation.bits", 600));
        sim::SimulationSpec s = fedSpec(true);
        s.strategy.compression.kind = compression::CompressionSpec::Kind::Fp16;
        QVERIFY(refusedAt(s, "strategy.secure_aggregation.enabled", 600));
        s = fedSpec(true);
        s.strategy.kind = StrategyKind::SyncPs;
        QVERIFY(refusedAt(s, "strategy.secure_aggregation.enabled", 600));
        s = fedSpec(true);
        s.strategy.targetClients = 5; // t = 7 by default
        QVERIFY(refusedAt(s, "strategy.secure_aggregation.threshold", 600));
        s.strategy.secureAggregation.threshold = 5;
        QVERIFY(!refusedAt(s, "strategy.secure_aggregation.threshold", 600));
        s = fedSpec(true);
        s.strategy.secureAggregation.bits = 16; // 10 clients x 60 samples of weight: too coarse
        QVERIFY(refusedAt(s, "strategy.secure_aggregation.bits", 600));
        s = fedSpec(true);
        s.strategy.secureAggregation.threshold = 11;
        QVERIFY(refusedAt(s, "strategy.secure_aggregation.threshold", 600));
    }
};
DML_SIM_CASE(SecAggMatchesFedAvg);

/// The protocol's simulated overhead (time with secure aggregation - time without, one round of a proxy model of
/// 10,000 parameters, every client sampled) at n = 10, 100 and 1000 clients per round lies between what secAggCost
/// predicts for its computation (the clients' three phases in parallel, the server's unmasking, less the plain
/// average it replaces) and that plus the protocol's bytes through the server's link and 12 route latencies per
/// phase. So it grows with n as the cost model says.
class SecAggCostGrowsWithClients : public QObject {
    Q_OBJECT
private slots:
    void overheadFollowsCostModel()
    {
        const long N = 10000;
        const double clientSpeed = 1e9, serverSpeed = 1e10;
        std::vector<double> overhead;
        for (int n : {10, 100, 1000}) {
            auto spec = [&](bool secure) {
                sim::SimulationSpec s;
                s.platform = idealStar(n, clientSpeed, serverSpeed);
                s.strategy = {StrategyKind::FedAvg, n};
                s.strategy.clientFraction = 1.0;
                s.strategy.rounds = 1;
                if (secure)
                    s.strategy.secureAggregation = secAgg();
                s.training.proxy = ProxyModel{.parameters = N, .trainFlopsPerSample = 1e5};
                s.training.batchSize = 10;
                s.training.seed = 3;
                return s;
            };
            std::vector<double> times;
            for (bool secure : {false, true}) {
                const sim::SimulationSpec s = spec(secure);
                const std::vector<double> v = inChild([=] {
                    const TrainTest data = labelsOnly(20 * n, 10);
                    MetricsSink none;
                    const sim::SimulationResult r = sim::simulate(s, data, none);
                    return std::vector<double>{r.summary.simulatedTime, r.summary.secAggSeconds};
                });
                QCOMPARE(int(v.size()), 2);
                times.push_back(v[0]);
            }
            const privacy::SecAggCost c = privacy::secAggCost(n, N + 1, 0, 32);
            const double client = (c.advertiseKeys.clientFlops + c.shareKeys.clientFlops + c.maskedInput.clientFlops) /
                                  clientSpeed;
            const double server = (c.maskedInput.serverFlops + c.unmasking.serverFlops + 2.0 * double(N) -
                                   2.0 * double(n) * double(N)) / serverSpeed;
            const double lower = client + server;
            const privacy::SecAggPhaseCost all = c.total();
            const double bytes = all.serverSentBytes + all.serverReceivedBytes - c.maskedInput.serverReceivedBytes;
            const sim::PlatformSpec p = idealStar(n);
            const double upper = lower + bytes / p.linkBandwidth + 4 * 12 * routeLatency(p) +
                                 2.0 * double(n) * double(N) / serverSpeed; // slack: the plain average's time
            const double d = times[1] - times[0];
            overhead.push_back(d);
            const double predicted = lower + bytes / p.linkBandwidth;
            qInfo("n = %4d: %.4f s without, %.4f s with secure aggregation: overhead %.4f s (cost model: compute "
                  "%.4f s + bytes %.4f s = %.4f s)",
                  n, times[0], times[1], d, lower, bytes / p.linkBandwidth, predicted);
            QVERIFY2(d >= lower * (1 - 1e-6), qPrintable(mismatch(d, lower)));
            QVERIFY2(d <= upper, qPrintable(mismatch(d, upper)));
        }
        qInfo("overhead ratios: n 10 -> 100 x%.1f, 100 -> 1000 x%.1f", overhead[1] / overhead[0],
              overhead[2] / overhead[1]);
        QVERIFY(overhead[0] > 0 && overhead[1] > 5 * overhead[0] && overhead[2] > 5 * overhead[1]);
    }
};
DML_SIM_CASE(SecAggCostGrowsWithClients);

/// A client whose device goes off during its local training (after ShareKeys, before its masked input) is the
/// paper's drop-out: the server reconstructs its pairwise masks from the survivors' shares and removes them; the
/// run completes and the aggregate is plain FedAvg's over the other nine clients, within the quantization bound.
/// With four of ten off (6 < t = 7 survivors) the round fails: the model stays the initial one.
class SecAggClientDropsOut : public QObject {
    Q_OBJECT
private slots:
    void recovered()
    {
        const privacy::SecAggConstants free = freeConstants();
        auto spec = [](bool secure) {
            sim::SimulationSpec s = fedSpec(secure, 1, 20); // 20 local epochs: about 3 ms of training
            s.platform.faults.events.push_back({sim::FaultEvent::Type::Crash, 1.5e-3, "client-3", "", -1, "", "t"});
            return s;
        };
        const std::vector<double> plain = runFed(spec(false), 3), sec = runFed(spec(true), 3, &free);
        QVERIFY(plain.size() > kModelAt && sec.size() == plain.size());
        QCOMPARE(plain[5], 9.0); // the crash hit the training in both runs
        QCOMPARE(sec[5], 9.0);
        QCOMPARE(sec[6], 0.0); // not among the averaged
        QCOMPARE(sec[3], 0.0); // the round did not fail
        const privacy::FixedPoint fp = privacy::makeFixedPoint(32, 1.0, 10, 60);
        const double bound = 9 * 0.5 * fp.step() / 540 + 1e-6;
        qInfo("client 3 off at 1.5 ms: max |w_sec - w_plain| %.3g (bound %.3g)", maxDiff(plain, sec), bound);
        QVERIFY2(maxDiff(plain, sec) <= bound, qPrintable(mismatch(maxDiff(plain, sec), bound)));
    }

    /// Over-selection (Bonawitz et al. 2019): 10 sampled, the round closes at 7 masked inputs (t = 5); the 3
    /// abandoned clients are drop-outs after ShareKeys (their masks removed), get an abort, answer it and are
    /// busy until then (not launched again). Every round succeeds and averages 7.
    void overSelection()
    {
        sim::SimulationSpec s = fedSpec(true, 3);
        s.strategy.targetClients = 7;
        s.strategy.secureAggregation.threshold = 5;
        const std::vector<double> v = runFed(s);
        QVERIFY(v.size() > kModelAt);
        QCOMPARE(v[3], 0.0);
        QCOMPARE(v[5], 7.0);
        QCOMPARE(v[7], 21.0);
    }

    void tooFewSurvivorsFail()
    {
        const privacy::SecAggConstants free = freeConstants();
        sim::SimulationSpec s = fedSpec(true, 1, 20);
        for (const char* host : {"client-1", "client-4", "client-6", "client-8"})
            s.platform.faults.events.push_back({sim::FaultEvent::Type::Crash, 1.5e-3, host, "", -1, "", "t"});
        const std::vector<double> v = runFed(s, -1, &free);
        QVERIFY(v.size() > kModelAt);
        QCOMPARE(v[3], 1.0); // failed
        QCOMPARE(v[5], 0.0); // nothing averaged
        const TrainTest data = smallData(31, 600);
        Workload w(s.training, data.train);
        const Eigen::VectorXf init = w.initialParams(s.training.seed);
        double d = 0;
        for (Eigen::Index i = 0; i < init.size(); ++i)
            d = std::max(d, std::fabs(double(init[i]) - v[kModelAt + std::size_t(i)]));
        QCOMPARE(d, 0.0);
    }
};
DML_SIM_CASE(SecAggClientDropsOut);

#include "sim_secagg.moc"
