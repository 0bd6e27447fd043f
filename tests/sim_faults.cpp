// SPDX-License-Identifier: GPL-3.0-or-later
// Straggler and drop-out tolerance (issue 11): sync PS backup workers (Chen et al. 2016) and FedAvg round
// deadlines with over-selection (Bonawitz et al. 2019). Cases that compare several simulations run each in a
// forked child (one SimGrid simulation per process).
#include "simcase.h"
#include "simutil.h"

#include "error.h"
#include "strategies/fedavg.h"
#include "simulation.h"

#include <QTest>

#include <algorithm>
#include <cstring>

using namespace dml;
using namespace dml::test;

namespace {

/// The training of the FedAvg cases below: an MLP with 8 hidden units, batches of 20, evaluated every round, seed 3.
TrainingConfig fedAvgTraining()
{
    TrainingConfig cfg;
    cfg.hidden = {8};
    cfg.batchSize = 20;
    cfg.evalEverySteps = 1;
    cfg.seed = 3;
    return cfg;
}

/// P workers on an ideal star (proxy workload: c = 10 ms per gradient), `steps` updates or steps planned, failure
/// checks every 50 ms, and worker 2's host going off at 0.105 s for good.
sim::SimulationSpec workerTwoFails(StrategyKind kind, int P, long steps)
{
    sim::SimulationSpec spec;
    spec.platform = idealStar(P, 1e10, 1e12);
    spec.platform.availability.model = sim::AvailabilitySpec::Model::Trace;
    spec.platform.availability.traceFile = "test";
    spec.platform.availability.events = {{"worker-2", 0.105, false, 1}};
    spec.strategy = {kind, P};
    spec.strategy.failureDetection = 0.05;
    spec.training.batchSize = 10;
    spec.training.proxy.parameters = 10000;
    spec.training.proxy.trainFlopsPerSample = 1e7; // c = 10 ms
    spec.training.maxSteps = steps;
    return spec;
}

} // namespace

/// Sync PS, P = 4 workers, worker 3 four times slower (proxy workload, ideal network; c = 10 ms on a fast
/// worker). Without backup workers every step waits for the straggler (about 4c per step); with b = 1 the server
/// aggregates the first 3 gradients, so the step time follows the fast workers, as on a uniform cluster
/// (Chen et al. 2016, Sec. 4). One dropped gradient per step is reported.
class SyncPsBackupWorkers : public QObject {
    Q_OBJECT
private slots:
    void stepTimeFollowsFastWorkers()
    {
        const int P = 4;
        const long steps = 20;
        // {server's finish, dropped_gradients points, their sum}
        auto run = [&](int backup, bool slow) {
            return inChild([=] {
                const TrainTest data = labelsOnly(4000, 10);
                sim::SimulationSpec spec;
                spec.platform = idealStar(P, 1e10, 1e12);
                if (slow)
                    spec.platform.speeds.list = {1e10, 1e10, 1e10, 0.25e10};
                spec.strategy = {StrategyKind::SyncPs, P};
                spec.strategy.backupWorkers = backup;
                spec.training.batchSize = 10;
                spec.training.proxy.parameters = 10000;
                spec.training.proxy.trainFlopsPerSample = 1e7; // c = 10 x 1e7 / 1e10 = 10 ms
                spec.training.maxSteps = steps;
                MetricsSink none;
                const sim::SimulationResult r = sim::simulate(spec, data, none);
                double dropped = 0, points = 0;
                if (const auto it = r.series.find("dropped_gradients"); it != r.series.end())
                    for (const auto& [t, v] : it->second) {
                        dropped += v;
                        ++points;
                    }
                return std::vector<double>{double(r.summary.steps), r.hosts[std::size_t(P)].finish, points, dropped};
            });
        };
        const std::vector<double> backup = run(1, true), barrier = run(0, true), uniform = run(0, false);
        QCOMPARE(int(backup.size()), 4);
        QCOMPARE(int(barrier.size()), 4);
        QCOMPARE(int(uniform.size()), 4);
        for (const auto* v : {&backup, &barrier, &uniform})
            QCOMPARE((*v)[0], double(steps));
        const double c = 10 * 1e7 / 1e10;
        qInfo("server finish: b = 1 %.6f s, b = 0 %.6f s, uniform %.6f s", backup[1], barrier[1], uniform[1]);
        // b = 0: each step waits for the straggler's 4c.
        QVERIFY2(nearRel(barrier[1], double(steps) * 4 * c, 0.02), qPrintable(mismatch(barrier[1], steps * 4 * c)));
        // b = 1: as fast as the uniform cluster (the server averages 3 gradients instead of 4: a little less).
        QVERIFY2(nearRel(backup[1], uniform[1], 0.01), qPrintable(mismatch(backup[1], uniform[1])));
        // Compute plus about 0.25 ms per step of model and gradient transfers.
        QVERIFY2(nearRel(backup[1], double(steps) * c, 0.05), qPrintable(mismatch(backup[1], steps * c)));
        // One dropped gradient per step; none reported without backup workers.
        QCOMPARE(backup[2], double(steps));
        QCOMPARE(backup[3], double(steps));
        QCOMPARE(barrier[2], 0.0);
    }

    /// Real data: with b = 1 and a slow worker the run completes every step, and the same seed gives the same
    /// model bit for bit (the average is summed in rank order, never arrival order).
    void realDataDeterministic()
    {
        auto run = [] {
            return inChild([] {
                const TrainTest data = smallData(5, 800);
                sim::SimulationSpec spec;
                spec.platform = idealStar(4, 1e8, 1e12);
                spec.platform.speeds.list = {1e8, 1e8, 1e8, 0.25e8};
                spec.strategy = {StrategyKind::SyncPs, 4};
                spec.strategy.backupWorkers = 1;
                spec.training.hidden = {8};
                spec.training.batchSize = 10;
                spec.training.epochs = 2; // 20 steps per epoch
                spec.training.maxSteps = 30;
                spec.training.seed = 7;
                MetricsSink none;
                const sim::SimulationResult r = sim::simulate(spec, data, none);
                std::vector<double> v{double(r.summary.steps), r.summary.finalAccuracy};
                v.insert(v.end(), r.finalModel.data(), r.finalModel.data() + r.finalModel.size());
                return v;
            });
        };
        const std::vector<double> a = run(), b = run();
        QVERIFY(a.size() > 2);
        QCOMPARE(a[0], 30.0);
        QVERIFY(a == b);
    }
};
DML_SIM_CASE(SyncPsBackupWorkers);

/// FedAvg with over-selection: K = 10 clients all sampled (C = 1), target 6 reports, clients 1, 3, 5, 7 four
/// times slower. Each round closes when the six fast clients reported; the slow ones are abandoned (their late
/// reports discarded, and while still training they are not launched again); every aggregate is the weighted
/// mean of exactly the six fast clients.
class FedAvgOverSelection : public QObject {
    Q_OBJECT
private slots:
    void closesAtTarget()
    {
        const int K = 10, rounds = 6;
        const TrainTest data = smallData(9, 600);
        sim::SimulationSpec spec;
        spec.platform = idealStar(K, 1e5, 1e12);
        spec.platform.speeds.list = {1e5, 0.25e5, 1e5, 0.25e5, 1e5, 0.25e5, 1e5, 0.25e5, 1e5, 1e5};
        spec.strategy = {StrategyKind::FedAvg, K};
        const TrainingConfig cfg = fedAvgTraining();
        std::vector<Round> seen;
        Keep keep;
        FederatedAveraging fed(K, 1.0, 1, 0, rounds, cfg, data, keep);
        fed.setRoundRules({.deadline = 0, .targetClients = 6, .failureDetection = 1});
        fed.setRoundObserver(recordRounds(seen));
        const sim::SimulationResult res = sim::simulateStrategy(spec.platform, fed, 0, true);

        QCOMPARE(int(seen.size()), rounds);
        QCOMPARE(fed.stopReason(), std::string("rounds"));
        const std::vector<int> fast{0, 2, 4, 6, 8, 9};
        for (std::size_t i = 0; i < seen.size(); ++i) {
            QVERIFY2(seen[i].meanExact, qPrintable(QString("round %1 is not the weighted mean").arg(i + 1)));
            QCOMPARE(seen[i].counted, fast);
            QCOMPARE(int(seen[i].selected.size()), K);
        }
        QCOMPARE(int(keep.series["reporting_clients"].size()), rounds);
        for (std::size_t i = 0; i < std::size_t(rounds); ++i) {
            QCOMPARE(keep.series["reporting_clients"][i].second, 6.0);
            QCOMPARE(keep.series["dropped_clients"][i].second, 4.0);
        }
        // Round 1 closed when the sixth fast report arrived, long before the first slow one.
        std::vector<double> firstSend(std::size_t(K), 1e300);
        for (const Span& s : res.timeline)
            if (s.kind == Span::Send && s.rank < K)
                firstSend[std::size_t(s.rank)] = std::min(firstSend[std::size_t(s.rank)], s.end);
        double lastFast = 0, firstSlow = 1e300;
        for (int k = 0; k < K; ++k)
            if (std::find(fast.begin(), fast.end(), k) != fast.end())
                lastFast = std::max(lastFast, firstSend[std::size_t(k)]);
            else
                firstSlow = std::min(firstSlow, firstSend[std::size_t(k)]);
        const double close = keep.series["reporting_clients"][0].first;
        QVERIFY2(nearRel(close, lastFast, 1e-9), qPrintable(mismatch(close, lastFast)));
        QVERIFY2(firstSlow > 3 * close, qPrintable(mismatch(firstSlow, 3 * close)));
    }
};
DML_SIM_CASE(FedAvgOverSelection);

/// FedAvg with a round deadline, K = 6, C = 1, no target: client 2 goes off at 0.5 s (mid-round 1, for good) and
/// client 5 is four times slower than the deadline allows. Round 1 closes exactly at the deadline (2 s after its
/// broadcast at 0 s) without waiting for a failure check; in every round the aggregate is the weighted mean of
/// exactly clients 0, 1, 3, 4: client 2 is off (not sampled from round 2 on), client 5 is abandoned or still busy.
class FedAvgRoundDeadline : public QObject {
    Q_OBJECT
private slots:
    void closesAtDeadline()
    {
        const int K = 6, rounds = 5;
        const double deadline = 2.0;
        const TrainTest data = smallData(9, 600);
        sim::SimulationSpec spec;
        spec.platform = idealStar(K, 1e10, 1e12);
        spec.platform.workerSpeed = 1e5; // about 0.9 s of local training per round
        spec.platform.speeds.list = {1e5, 1e5, 1e5, 1e5, 1e5, 0.25e5};
        spec.platform.availability.model = sim::AvailabilitySpec::Model::Trace;
        spec.platform.availability.traceFile = "test";
        spec.platform.availability.events = {{"client-2", 0.5, false, 1}};
        spec.strategy = {StrategyKind::FedAvg, K};
        const TrainingConfig cfg = fedAvgTraining();
        std::vector<Round> seen;
        Keep keep;
        FederatedAveraging fed(K, 1.0, 1, 0, rounds, cfg, data, keep);
        fed.setRoundRules({.deadline = deadline, .targetClients = 0, .failureDetection = 1});
        fed.setRoundObserver(recordRounds(seen));
        const sim::SimulationResult res = sim::simulateStrategy(spec.platform, fed, 0, true);

        QCOMPARE(int(seen.size()), rounds);
        const std::vector<int> reporting{0, 1, 3, 4};
        for (std::size_t i = 0; i < seen.size(); ++i) {
            QVERIFY2(seen[i].meanExact, qPrintable(QString("round %1 is not the weighted mean").arg(i + 1)));
            QCOMPARE(seen[i].counted, reporting);
        }
        const auto& rep = keep.series["reporting_clients"];
        const auto& drop = keep.series["dropped_clients"];
        QCOMPARE(int(rep.size()), rounds);
        // Round 1 closes at the deadline: its clients finished at about 0.9 s, client 5 would need about 3.6 s.
        QVERIFY2(nearRel(rep[0].first, deadline, 1e-9), qPrintable(mismatch(rep[0].first, deadline)));
        QVERIFY2(keep.samples[1].time >= deadline && keep.samples[1].time < deadline + 1e-3,
                 qPrintable(mismatch(keep.samples[1].time, deadline)));
        QCOMPARE(drop[0].second, 2.0);
        for (std::size_t i = 0; i < std::size_t(rounds); ++i)
            QCOMPARE(rep[i].second, 4.0);
        // A later round whose clients all reported (client 5 busy, client 2 off) closes before its deadline.
        bool early = false;
        for (std::size_t i = 1; i < std::size_t(rounds); ++i)
            early |= keep.samples[i + 1].time - keep.samples[i].time < deadline - 0.5;
        QVERIFY(early);
        // Client 5's body ran in some round after round 1 (its late report of round 1 arrived and was discarded).
        int slowSends = 0;
        for (const Span& s : res.timeline)
            slowSends += s.kind == Span::Send && s.rank == 5;
        QVERIFY2(slowSends >= 2, qPrintable(QString("client 5 sent %1 reports").arg(slowSends)));
    }
};
DML_SIM_CASE(FedAvgRoundDeadline);

/// A client's actor outlives its body (World's runners): it waits, on the client's host, to run the next body
/// launched anywhere. K = 2, C = 1: client 0 (4x faster) finishes round 1 at about 0.7 s and waits on its host, which
/// goes off at 1.5 s (killing the waiting actor) and on again at 3.5 s; round 1 ends at about 2.7 s. Round 2 runs
/// without client 0 (off when launched); round 3 launches client 0 again, on an actor moved from client 1's host.
/// Every round must have exactly the clients that were on, with the weighted mean of their models.
class FedAvgWaitingActorHostOff : public QObject {
    Q_OBJECT
private slots:
    void roundsHaveTheClientsThatWereOn()
    {
        const int K = 2, rounds = 4;
        const TrainTest data = smallData(9, 600);
        sim::SimulationSpec spec;
        spec.platform = idealStar(K, 1e10, 1e12);
        spec.platform.speeds.list = {4e5, 1e5};
        spec.platform.availability.model = sim::AvailabilitySpec::Model::Trace;
        spec.platform.availability.traceFile = "test";
        spec.platform.availability.events = {{"client-0", 1.5, false, 1}, {"client-0", 3.5, true, 2}};
        spec.strategy = {StrategyKind::FedAvg, K};
        const TrainingConfig cfg = fedAvgTraining();
        std::vector<Round> seen;
        Keep keep;
        FederatedAveraging fed(K, 1.0, 1, 0, rounds, cfg, data, keep);
        fed.setRoundObserver(recordRounds(seen));
        const sim::SimulationResult res = sim::simulateStrategy(spec.platform, fed, 0, true);

        QCOMPARE(int(seen.size()), rounds);
        const std::vector<std::vector<int>> expected{{0, 1}, {1}, {0, 1}, {0, 1}};
        for (std::size_t i = 0; i < seen.size(); ++i) {
            QVERIFY2(seen[i].meanExact, qPrintable(QString("round %1 is not the weighted mean").arg(i + 1)));
            QCOMPARE(seen[i].counted, expected[i]);
        }
        // The timing the case relies on: client 0 reported round 1 before its host went off, and round 2 began
        // after that (so its actor was waiting on the host when it went off) and ended after the host came back.
        double firstReport0 = 1e300;
        for (const Span& s : res.timeline)
            if (s.kind == Span::Send && s.rank == 0)
                firstReport0 = std::min(firstReport0, s.end);
        QCOMPARE(int(keep.samples.size()), rounds + 1); // the initial evaluation, then one per round
        const double round1End = keep.samples[1].time, round2End = keep.samples[2].time;
        QVERIFY2(firstReport0 < 1.5, qPrintable(mismatch(firstReport0, 1.5)));
        QVERIFY2(round1End > 1.5 && round2End > 3.5, qPrintable(mismatch(round1End, round2End)));
        QCOMPARE(int(res.hosts.size()), K + 1);
    }
};
DML_SIM_CASE(FedAvgWaitingActorHostOff);

/// Async PS with P = 4 workers (proxy workload, ideal network; c = 10 ms per gradient) whose worker 2's host goes
/// off at 0.105 s and never comes back. The server notices at its next failure check (failure detection 50 ms), goes
/// on with the others and ends at the planned update count; worker 2 pushes nothing after its host went off. Under
/// SSP with s = 1 the dead worker's clock stops, and without leaving it out of the bound the others would wait
/// for it forever: the run must still complete. A worker that fails is reported once (series failed_workers).
class AsyncPsWorkerFails : public QObject {
    Q_OBJECT
private slots:
    void othersGoOn()
    {
        const int P = 4;
        for (int bound : {-1, 1}) {
            const std::vector<double> v = inChild([=] {
                const TrainTest data = labelsOnly(4000, 10);
                sim::SimulationSpec spec = workerTwoFails(StrategyKind::AsyncPs, P, 120);
                spec.strategy.stalenessBound = bound;
                MetricsSink none;
                const sim::SimulationResult r = sim::simulate(spec, data, none);
                double failed = 0;
                if (const auto it = r.series.find("failed_workers"); it != r.series.end())
                    for (const auto& [t, x] : it->second)
                        failed += x;
                // worker 2's last push ended before its host went off
                double lastPush = 0;
                for (const Span& s : r.timeline)
                    if (s.rank == 2 && s.kind == Span::Send)
                        lastPush = std::max(lastPush, s.end);
                return std::vector<double>{double(r.summary.steps), r.summary.stopReason == "max_steps" ? 1.0 : 0.0,
                                           failed, lastPush, r.hosts[std::size_t(P)].finish,
                                           r.hosts[2].bytesSent / (4.0 * 10000)};
            });
            QCOMPARE(int(v.size()), 6);
            qInfo("s = %d: %g updates, server finished at %.3f s, worker 2 pushed %g gradients (last at %.3f s)", bound,
                  v[0], v[4], v[5], v[3]);
            QCOMPARE(v[0], 120.0);
            QCOMPARE(v[1], 1.0);
            QCOMPARE(v[2], 1.0);
            QVERIFY(v[3] <= 0.105);
            QVERIFY(v[5] >= 5 && v[5] <= 11); // about 0.105 / 10 ms pushes before failing
            // 120 updates by 3 live workers after the first 0.1 s: about 0.1 + (120 - 4 x 10) / 3 x 10 ms.
            QVERIFY2(v[4] > 0.3 && v[4] < 0.45, qPrintable(mismatch(v[4], 0.37)));
        }
    }
};
DML_SIM_CASE(AsyncPsWorkerFails);

/// Sync PS with elastic recovery, P = 4 (proxy workload, ideal network; c = 10 ms per gradient): worker 2's host
/// goes off at 0.105 s. The server notices when it next looks (at the next gradient to arrive, or at the latest
/// after its 50 ms failure check), averages the three survivors' gradients of that step, and every later step
/// waits for three: the run completes its planned steps. Without elastic recovery, a worker host going off is refused before the run, naming the trace.
class SyncPsElastic : public QObject {
    Q_OBJECT
private slots:
    void barrierShrinksToSurvivors()
    {
        const int P = 4;
        auto spec = [&](bool elastic) {
            sim::SimulationSpec s = workerTwoFails(StrategyKind::SyncPs, P, 30);
            s.strategy.recovery = elastic ? StrategySpec::Recovery::Elastic : StrategySpec::Recovery::None;
            return s;
        };
        const std::vector<double> v = inChild([=] {
            const TrainTest data = labelsOnly(4000, 10);
            MetricsSink none;
            const sim::SimulationResult r = sim::simulate(spec(true), data, none);
            std::vector<double> out{double(r.summary.steps), r.summary.stopReason == "max_steps" ? 1.0 : 0.0,
                                    r.hosts[std::size_t(P)].finish};
            double failed = 0;
            for (const auto& [t, x] : r.series.at("failed_workers"))
                failed += x;
            out.push_back(failed);
            for (const auto& [t, x] : r.series.at("live_workers"))
                out.push_back(x);
            return out;
        });
        QVERIFY(v.size() == 4 + 30);
        QCOMPARE(v[0], 30.0);
        QCOMPARE(v[1], 1.0);
        QCOMPARE(v[3], 1.0);
        int four = 0, three = 0;
        for (std::size_t i = 4; i < v.size(); ++i) {
            four += v[i] == 4.0;
            three += v[i] == 3.0;
            if (i > 4)
                QVERIFY(v[i] <= v[i - 1]); // never grows back
        }
        qInfo("steps with 4 workers %d, with 3 %d; server finished at %.4f s", four, three, v[2]);
        QVERIFY(four >= 9 && four <= 11); // about 0.105 s / 10 ms steps before the failure
        QCOMPARE(four + three, 30);
        // 30 steps of about c each, plus at most the 50 ms failure check in the step in which worker 2 failed.
        QVERIFY2(v[2] > 0.30 && v[2] < 0.30 + 0.05 + 0.03, qPrintable(mismatch(v[2], 0.33)));

        QVERIFY(refusedAt(spec(false), "platform.availability.trace"));
    }
};
DML_SIM_CASE(SyncPsElastic);



#include "sim_faults.moc"
