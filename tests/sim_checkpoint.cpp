// SPDX-License-Identifier: GPL-3.0-or-later
// Checkpoint-restart and the "faults" section (issue 11): a crash rolls every rank back to the last checkpoint and
// costs exactly the lost work plus detection, restart and reading; a failed link cuts off the worker behind it;
// random failures are seeded. Cases that compare several simulations run each in a forked child (one SimGrid
// simulation per process).
#include "rng.h"
#include "simcase.h"
#include "simutil.h"

#include "error.h"
#include "recovery/checkpoint.h"
#include "simulation.h"

#include <QTest>

#include <algorithm>
#include <cmath>
#include <set>

#include <unistd.h>

using namespace dml;
using namespace dml::test;

namespace {

/// Sync PS on an ideal star, P = 4 workers (proxy workload: c = 10 ms per gradient, 10,000 parameters, SGD),
/// 60 steps, evaluated every step, a checkpoint every 10 steps written at 1 MB/s (40 kB: 40 ms) and read at
/// 4 MB/s (10 ms), failures detected after 50 ms, restarts 200 ms later.
sim::SimulationSpec checkpointed()
{
    sim::SimulationSpec spec;
    spec.platform = idealStar(4, 1e10, 1e12);
    spec.strategy = {StrategyKind::SyncPs, 4};
    spec.strategy.recovery = StrategySpec::Recovery::CheckpointRestart;
    spec.strategy.failureDetection = 0.05;
    spec.strategy.checkpoint.everySteps = 10;
    spec.strategy.checkpoint.writeBandwidth = 1e6;
    spec.strategy.checkpoint.readBandwidth = 4e6;
    spec.strategy.checkpoint.restartDelay = 0.2;
    spec.training.batchSize = 10;
    spec.training.proxy.parameters = 10000;
    spec.training.proxy.trainFlopsPerSample = 1e7; // c = 10 ms
    spec.training.maxSteps = 60;
    spec.training.evalEverySteps = 1;
    return spec;
}

/// Runs `spec` in a child: simulated time, steps, lost steps, restarts, failures, checkpoints, then the
/// (time, step) of every checkpoint and the time of every sample.
std::vector<double> runChild(const sim::SimulationSpec& spec, int train = 4000)
{
    return inChild([=] {
        const TrainTest data = labelsOnly(train, 10);
        MetricsSink none;
        const sim::SimulationResult r = sim::simulate(spec, data, none);
        const Summary& s = r.summary;
        std::vector<double> out{s.simulatedTime, double(s.steps), double(s.lostSteps), double(s.restarts),
                                double(s.failures), double(s.checkpoints), s.stopReason == "max_steps" ? 1.0 : 0.0};
        const auto it = r.series.find("checkpoint");
        out.push_back(it == r.series.end() ? 0.0 : double(it->second.size()));
        if (it != r.series.end())
            for (const auto& [t, step] : it->second) {
                out.push_back(t);
                out.push_back(step);
            }
        for (const Sample& x : r.samples)
            if (x.step > 0)
                out.push_back(x.time);
        return out;
    });
}

} // namespace

/// Issue 11's acceptance test: a worker crash at a given time under checkpoint-restart. The run completes its 60
/// steps; the steps lost equal the steps applied since the last checkpoint exactly; and the simulated time is the
/// failure-free time plus the lost work (from the checkpoint's completion to the crash), the detection time, the
/// restart delay and the checkpoint read, within 0.1 %. The server's crash is recovered the same way.
class CheckpointRestartCost : public QObject {
    Q_OBJECT
private slots:
    void lostWorkIsRedoneExactly()
    {
        const sim::SimulationSpec base = checkpointed();
        const std::vector<double> a = runChild(base);
        QVERIFY(a.size() > 8);
        QCOMPARE(a[1], 60.0);
        QCOMPARE(a[4], 0.0); // no failure
        const int saves = int(a[7]);
        QCOMPARE(saves, 5); // after steps 10, 20, ..., 50 (step 60 ends the run)
        std::vector<std::pair<double, double>> ckpt;
        for (int i = 0; i < saves; ++i)
            ckpt.emplace_back(a[8 + 2 * std::size_t(i)], a[9 + 2 * std::size_t(i)]);
        std::vector<double> stepTimes(a.begin() + 8 + 2 * saves, a.end());
        QCOMPARE(int(stepTimes.size()), 60);

        for (const std::string victim : {"worker-2", "server"}) {
            const double tf = 0.3543; // inside a step, 6 steps after the checkpoint of step 20 (at 0.286 s)
            sim::SimulationSpec spec = base;
            spec.platform.faults.events.push_back({sim::FaultEvent::Type::Crash, tf, victim, "", -1, "", "test"});
            const std::vector<double> b = runChild(spec);
            QVERIFY(b.size() > 8);
            QCOMPARE(b[1], 60.0);
            QCOMPARE(b[6], 1.0);     // stopped at max_steps: completed
            QCOMPARE(b[3], 1.0);     // one restart
            QCOMPARE(b[4], 1.0);     // one failure
            // The last checkpoint completed before the crash, and the steps applied before it.
            double tCommit = 0, stepCommit = 0;
            for (const auto& [t, step] : ckpt)
                if (t <= tf) {
                    tCommit = t;
                    stepCommit = step;
                }
            const long applied = std::count_if(stepTimes.begin(), stepTimes.end(), [&](double t) { return t <= tf; });
            qInfo("%s crashes at %.4f s: last checkpoint step %.0f at %.4f s, %ld steps applied, %.0f lost",
                  victim.c_str(), tf, stepCommit, tCommit, applied, b[2]);
            QVERIFY(stepCommit >= 10);
            QCOMPARE(b[2], double(applied) - stepCommit);
            const CheckpointSpec& c = base.strategy.checkpoint;
            const double read = 4.0 * 10000 / c.readBandwidth;
            const double want = a[0] + (tf - tCommit) + base.strategy.failureDetection + c.restartDelay + read;
            QVERIFY2(nearRel(b[0], want, 1e-3), qPrintable(mismatch(b[0], want)));
        }
    }
};
DML_SIM_CASE(CheckpointRestartCost);

/// Async PS needs checkpoint-restart for a server failure: the server's crash rolls every rank back to the last
/// checkpoint (every 20 updates here); the run completes its updates, the updates lost are those applied since the
/// checkpoint, the run costs at least the detection and restart delay more, and the same seed gives the same run.
class AsyncPsServerCheckpoint : public QObject {
    Q_OBJECT
private slots:
    void serverCrashRestarts()
    {
        auto spec = [](bool crash) {
            sim::SimulationSpec s = checkpointed();
            s.strategy.kind = StrategyKind::AsyncPs;
            s.strategy.checkpoint.everySteps = 20;
            s.training.maxSteps = 120;
            if (crash)
                s.platform.faults.events.push_back({sim::FaultEvent::Type::Crash, 0.2, "server", "", -1, "", "t"});
            return s;
        };
        const std::vector<double> a = runChild(spec(false)), b = runChild(spec(true)), c = runChild(spec(true));
        QVERIFY(a.size() > 8 && b.size() > 8);
        QCOMPARE(b, c);
        QCOMPARE(b[1], 120.0);
        QCOMPARE(b[6], 1.0);
        QCOMPARE(b[3], 1.0);
        const int saves = int(a[7]);
        double stepCommit = 0;
        for (int i = 0; i < saves; ++i)
            if (a[8 + 2 * std::size_t(i)] <= 0.2)
                stepCommit = a[9 + 2 * std::size_t(i)];
        const std::vector<double> stepTimes(a.begin() + 8 + 2 * saves, a.end());
        const long applied = std::count_if(stepTimes.begin(), stepTimes.end(), [](double t) { return t <= 0.2; });
        qInfo("async PS: server crash at 0.2 s after %ld updates, last checkpoint at update %.0f, %.0f lost; %.4f s "
              "against %.4f s",
              applied, stepCommit, b[2], b[0], a[0]);
        QCOMPARE(b[2], double(applied) - stepCommit);
        QVERIFY(b[0] >= a[0] + 0.05 + 0.2);
    }
};
DML_SIM_CASE(AsyncPsServerCheckpoint);

/// Ring all-reduce under checkpoint-restart (DDP under TorchElastic): a worker's crash rolls every rank back to
/// the last checkpoint; the run completes, loses exactly the steps since that checkpoint, takes the failure-free
/// time plus the lost work, detection, restart delay and read within 0.1 %, and its final model is the
/// failure-free run's bit for bit (synthetic data, real arithmetic).
class RingCheckpointRestart : public QObject {
    Q_OBJECT
private slots:
    void redoneBitForBit()
    {
        auto spec = [](double crashAt) {
            sim::SimulationSpec s;
            s.platform = idealStar(4, 1e9, 1e9);
            s.strategy = {StrategyKind::RingAllReduce, 4};
            s.strategy.recovery = StrategySpec::Recovery::CheckpointRestart;
            s.strategy.failureDetection = 0.05;
            s.strategy.checkpoint.everySteps = 10;
            s.strategy.checkpoint.writeBandwidth = 1e6;
            s.strategy.checkpoint.readBandwidth = 4e6;
            s.strategy.checkpoint.restartDelay = 0.2;
            s.training.hidden = {16};
            s.training.batchSize = 10;
            s.training.epochs = 3;
            s.training.evalEverySteps = 1;
            s.training.optimizer = OptimizerSpec{.kind = OptimizerSpec::Kind::Momentum, .learningRate = 0.05f};
            if (crashAt > 0)
                s.platform.faults.events.push_back(
                    {sim::FaultEvent::Type::Crash, crashAt, "worker-2", "", -1, "", "t"});
            return s;
        };
        // simulated time, steps, lost steps, restarts, accuracy, checkpoint (time, step) x 5, then step times, then
        // the final model
        auto runIt = [](const sim::SimulationSpec& s) {
            return inChild([=] {
                const TrainTest data = smallData(5, 800);
                MetricsSink none;
                const sim::SimulationResult r = sim::simulate(s, data, none);
                std::vector<double> out{r.summary.simulatedTime, double(r.summary.steps), double(r.summary.lostSteps),
                                        double(r.summary.restarts), r.summary.finalAccuracy};
                std::vector<std::pair<double, double>> ck;
                if (const auto it = r.series.find("checkpoint"); it != r.series.end())
                    ck = it->second;
                ck.resize(5);
                for (const auto& [t, step] : ck)
                    out.insert(out.end(), {t, step});
                for (const Sample& x : r.samples)
                    if (x.step > 0)
                        out.push_back(x.time);
                for (float x : r.finalModel)
                    out.push_back(double(x));
                return out;
            });
        };
        const std::vector<double> a = runIt(spec(0));
        QVERIFY(a.size() > 15 + 60);
        // The crash: in the middle of the 4th step after the checkpoint of step 20.
        const double ck20 = a[5 + 2 * 1], tf = (a[15 + 22] + a[15 + 23]) / 2;
        QCOMPARE(a[6 + 2 * 1], 20.0);
        const std::vector<double> b = runIt(spec(tf));
        QVERIFY(b.size() > 15 + 60); // the redone steps are evaluated again: more samples than a's
        qInfo("ring: crash at %.5f s, last checkpoint step 20 at %.5f s; %.0f steps lost, %.0f restarts; %.4f s "
              "against %.4f s; accuracy %.4f and %.4f",
              tf, ck20, b[2], b[3], b[0], a[0], b[4], a[4]);
        QCOMPARE(b[1], 60.0);
        QCOMPARE(b[3], 1.0);
        QCOMPARE(b[2], 3.0); // steps 21, 22, 23
        const double read = recovery::checkpointBytes(OptimizerSpec{.kind = OptimizerSpec::Kind::Momentum}, 1) *
                            double((20 + 1) * 16 + (16 + 1) * 4) / 4e6;
        const double want = a[0] + (tf - ck20) + 0.05 + 0.2 + read;
        QVERIFY2(nearRel(b[0], want, 1e-3), qPrintable(mismatch(b[0], want)));
        const std::size_t n = (20 + 1) * 16 + (16 + 1) * 4; // the final model, bit for bit
        QVERIFY(std::equal(a.end() - std::ptrdiff_t(n), a.end(), b.end() - std::ptrdiff_t(n)));
    }
};
DML_SIM_CASE(RingCheckpointRestart);

/// Elastic sync PS: a worker whose host goes off at 0.105 s and comes back at 0.2 s re-joins at the next step
/// boundary after that: the barrier goes from 4 workers to 3 and back to 4, and the run completes its steps.
class SyncPsElasticRejoin : public QObject {
    Q_OBJECT
private slots:
    void barrierGrowsBack()
    {
        sim::SimulationSpec s = checkpointed();
        s.strategy.recovery = StrategySpec::Recovery::Elastic;
        s.strategy.checkpoint = {};
        s.training.maxSteps = 40;
        s.platform.faults.events = {{sim::FaultEvent::Type::Crash, 0.105, "worker-2", "", -1, "", "a"},
                                    {sim::FaultEvent::Type::Recover, 0.2, "worker-2", "", -1, "", "b"}};
        const std::vector<double> v = inChild([=] {
            const TrainTest data = labelsOnly(4000, 10);
            MetricsSink none;
            const sim::SimulationResult r = sim::simulate(s, data, none);
            std::vector<double> out{double(r.summary.steps), double(r.series.at("rejoined_workers").size()),
                                    r.series.at("rejoined_workers").front().first};
            for (const auto& [t, x] : r.series.at("live_workers"))
                out.push_back(x);
            return out;
        });
        QVERIFY(v.size() == 3 + 40);
        QCOMPARE(v[0], 40.0);
        QCOMPARE(v[1], 1.0);
        QVERIFY(v[2] >= 0.2 && v[2] < 0.2 + 0.03); // at the first step boundary after the host is back
        int phase = 0; // 0: four workers, 1: three, 2: four again
        for (std::size_t i = 3; i < v.size(); ++i) {
            if (phase == 0 && v[i] == 3.0)
                phase = 1;
            else if (phase == 1 && v[i] == 4.0)
                phase = 2;
            QVERIFY(v[i] == (phase == 1 ? 3.0 : 4.0));
        }
        QCOMPARE(phase, 2);
    }
};
DML_SIM_CASE(SyncPsElasticRejoin);

/// A failed link on a worker's route (its access link on the star) makes that worker count as failed at once
/// (the watchdog ends it), elastic sync PS notices within its failure detection time and completes; nothing hangs.
/// Without recovery the same fault is refused before the run, naming the event.
class LinkFailureCutsOffWorker : public QObject {
    Q_OBJECT
private slots:
    void elasticSurvives()
    {
        auto spec = [](bool elastic) {
            sim::SimulationSpec s = checkpointed();
            s.strategy.recovery = elastic ? StrategySpec::Recovery::Elastic : StrategySpec::Recovery::None;
            s.strategy.checkpoint = {};
            s.training.maxSteps = 40;
            s.platform.faults.events.push_back(
                {sim::FaultEvent::Type::LinkDown, 0.1043, "", "", -1, "worker-1_link", "faults.events[0]"});
            return s;
        };
        const std::vector<double> v = inChild([=] {
            const TrainTest data = labelsOnly(4000, 10);
            MetricsSink none;
            const sim::SimulationResult r = sim::simulate(spec(true), data, none);
            std::vector<double> out{double(r.summary.steps), double(r.summary.failures)};
            const auto& failed = r.series.at("failed_workers");
            const auto& cut = r.series.at("rank_failed");
            out.push_back(failed.front().first);
            out.push_back(cut.front().first);
            out.push_back(cut.front().second);
            out.push_back(r.series.at("live_workers").back().second);
            return out;
        });
        QCOMPARE(v.size(), std::size_t(6));
        QCOMPARE(v[0], 40.0);
        QCOMPARE(v[1], 1.0);
        QCOMPARE(v[4], 1.0);            // rank 1 = worker-1
        QCOMPARE(v[3], 0.1043);         // cut off when the link went down
        QVERIFY(v[2] >= v[3] && v[2] <= v[3] + 0.05 + 1e-9); // detected within the failure detection time
        QCOMPARE(v[5], 3.0);

        QVERIFY(refusedAt(spec(false), "faults.events[0]"));
    }
};
DML_SIM_CASE(LinkFailureCutsOffWorker);

/// Random failures (Weibull time to failure, exponential repair) are seeded: the same seed gives the same failures
/// and the same simulated time; another seed other ones. Checkpoint-restart recovers every one of them.
class RandomFaultsSeeded : public QObject {
    Q_OBJECT
private slots:
    void sameSeedSameFailures()
    {
        auto spec = [](std::uint64_t seed) {
            sim::SimulationSpec s = checkpointed();
            s.training.seed = seed;
            s.training.maxSteps = 100;
            s.training.maxSimulatedTime = 60;
            s.platform.faults.random.enabled = true;
            s.platform.faults.random.roles = {"worker", "server"};
            s.platform.faults.random.distribution = sim::RandomFaults::Distribution::Weibull;
            s.platform.faults.random.shape = 0.7;
            s.platform.faults.random.mtbf = 2.0;
            s.platform.faults.random.mttr = 0.5;
            return s;
        };
        const std::vector<double> a = runChild(spec(7)), b = runChild(spec(7)), c = runChild(spec(8));
        QVERIFY(a.size() > 8 && c.size() > 8);
        QCOMPARE(a, b);
        QCOMPARE(a[1], 100.0);
        QVERIFY(a[4] >= 1); // failures happened and were recovered
        QCOMPARE(a[3] >= 1, true);
        QVERIFY(a[0] != c[0] || a[4] != c[4]);
        qInfo("seed 7: %.0f failures, %.0f restarts, %.0f steps lost, %.3f s; seed 8: %.0f failures, %.3f s", a[4],
              a[3], a[2], a[0], c[4], c[0]);
    }
};
DML_SIM_CASE(RandomFaultsSeeded);

/// Issue 11's checkpoint planning acceptance, scaled down to run in seconds: a sync-PS job on 5 hosts that fail at
/// random (exponential, system MTBF M = 1.5 s) with a checkpoint costing delta = 11.4 ms, 1,500 steps of 10 ms,
/// checkpointed every 0.03 s to 1 s, 8 seeds each (common random numbers: a seed's failures are the same at every
/// interval). The interval with the smallest mean simulated time lies within a factor 1.5 of Young's
/// sqrt(2 delta M) (Young 1974), delta measured from the runs; the time at the extremes is clearly worse.
class CheckpointIntervalYoung : public QObject {
    Q_OBJECT
private slots:
    void optimumNearYoung()
    {
        const std::vector<double> intervals{0.03, 0.06, 0.1, 0.14, 0.19, 0.26, 0.4, 0.6, 1.0};
        constexpr int kSeeds = 8;
        std::vector<double> mean(intervals.size(), 0);
        double written = 0, writes = 0;
        for (std::size_t k = 0; k < intervals.size(); ++k)
            for (int seed = 1; seed <= kSeeds; ++seed) {
                sim::SimulationSpec s = checkpointed();
                s.training.seed = std::uint64_t(seed);
                s.training.epochs = 15; // 100 steps per epoch
                s.training.maxSteps = 1500;
                s.training.maxSimulatedTime = 100; // bounds the random failures generated
                s.strategy.checkpoint.everySteps = 0;
                s.strategy.checkpoint.everySeconds = intervals[k];
                s.strategy.checkpoint.writeBandwidth = 3.5e6; // 40 kB: 11.4 ms
                s.strategy.checkpoint.restartDelay = 0.08;
                s.platform.faults.random.enabled = true;
                s.platform.faults.random.roles = {"worker", "server"};
                s.platform.faults.random.mtbf = 7.5; // 5 hosts: M = 1.5 s
                s.platform.faults.random.mttr = 0.5;
                const std::vector<double> v = inChild([=] {
                    const TrainTest data = labelsOnly(4000, 10);
                    MetricsSink none;
                    const sim::SimulationResult r = sim::simulate(s, data, none);
                    return std::vector<double>{r.summary.simulatedTime, r.summary.checkpointSeconds,
                                               double(r.summary.checkpoints), double(r.summary.steps)};
                });
                QVERIFY(v.size() == 4);
                QCOMPARE(v[3], 1500.0);
                mean[k] += v[0] / kSeeds;
                written += v[1];
                writes += v[2];
            }
        const double delta = written / writes, M = 7.5 / 5, young = std::sqrt(2 * delta * M);
        const std::size_t best = std::size_t(std::min_element(mean.begin(), mean.end()) - mean.begin());
        QString table;
        for (std::size_t k = 0; k < intervals.size(); ++k)
            table += QString(" %1 s: %2 s;").arg(intervals[k]).arg(mean[k], 0, 'f', 3);
        qInfo("delta %.4f s, M %.2f s, Young %.3f s, measured optimum %.2f s;%s", delta, M, young, intervals[best],
              qPrintable(table));
        QVERIFY2(intervals[best] <= 1.5 * young && intervals[best] >= young / 1.5, qPrintable(table));
        QVERIFY(mean.front() > 1.05 * mean[best] && mean.back() > 1.05 * mean[best]);
    }
};
DML_SIM_CASE(CheckpointIntervalYoung);

/// Issue 11's fault fuzz: 500 seeded random fault schedules (host crashes and recoveries, link failures and
/// repairs, random Weibull failures) over the four strategies and their recoveries, each run in a child with a 60 s
/// alarm. Every run completes (a stop reason of a finished run) or fails with a clear message (ConfigError before
/// the run, SimulationError from it); none crashes or hangs. The same seed gives the same schedules: a failure
/// prints the schedule's number.
class FaultScheduleFuzz : public QObject {
    Q_OBJECT
private slots:
    void everyScheduleEndsCleanly()
    {
        constexpr int kSchedules = 500;
        int completed = 0, refused = 0, failed = 0, restarts = 0, failures = 0;
        for (int i = 0; i < kSchedules; ++i) {
            Rng rng(deriveSeed(0xFA0F, 0, std::uint64_t(i)));
            sim::SimulationSpec s;
            const auto kind = StrategyKind(rng.below(4));
            const int P = 2 + int(rng.below(4));
            s.platform = idealStar(P, 1e10, 1e12);
            if (rng.below(2))
                s.platform.network = sim::NetworkModel::Tcp;
            s.strategy = {kind, kind == StrategyKind::FedAvg ? 4 * P : P};
            s.strategy.clientFraction = 0.5;
            s.strategy.failureDetection = 0.01 + 0.05 * rng.uniform();
            // Mostly a recovery the strategy has (sync-ps: elastic or checkpoint-restart; ring: elastic), else any.
            int rec = int(rng.below(3));
            if (rng.below(5) != 0)
                rec = kind == StrategyKind::SyncPs ? 1 + int(rng.below(2)) : kind == StrategyKind::RingAllReduce ? 1 : 0;
            s.strategy.recovery = rec == 0 ? StrategySpec::Recovery::None
                                  : rec == 1 ? StrategySpec::Recovery::Elastic
                                             : StrategySpec::Recovery::CheckpointRestart;
            s.strategy.checkpoint.everySteps = 1 + long(rng.below(10));
            s.strategy.checkpoint.writeBandwidth = 1e7;
            s.strategy.checkpoint.restartDelay = 0.05 * rng.uniform();
            s.strategy.checkpoint.maxRestarts = 20;
            s.training.batchSize = 10;
            s.training.proxy.parameters = 10000;
            s.training.proxy.trainFlopsPerSample = 1e7;
            s.training.maxSteps = 20 + long(rng.below(20));
            s.training.seed = std::uint64_t(i);
            s.training.maxSimulatedTime = 30; // also bounds the random failures generated (README "Failures")
            const int clients = s.strategy.workers;
            auto host = [&] {
                const std::size_t k = rng.below(4);
                if (k == 0 && kind != StrategyKind::RingAllReduce)
                    return std::string(kind == StrategyKind::FedAvg ? "server" : "server");
                return (kind == StrategyKind::FedAvg ? "client-" : "worker-") +
                       std::to_string(rng.below(std::uint64_t(clients)));
            };
            for (int e = int(rng.below(5)); e > 0; --e) {
                sim::FaultEvent ev;
                ev.type = sim::FaultEvent::Type(rng.below(4));
                ev.time = 0.4 * rng.uniform();
                ev.path = "faults.events[" + std::to_string(e) + "]";
                if (ev.type == sim::FaultEvent::Type::LinkDown || ev.type == sim::FaultEvent::Type::LinkUp)
                    ev.link = rng.below(5) == 0 ? "backbone" : host() + "_link";
                else
                    ev.host = host();
                s.platform.faults.events.push_back(ev);
            }
            if (rng.below(4) == 0) {
                s.platform.faults.random.enabled = true;
                s.platform.faults.random.roles = {kind == StrategyKind::FedAvg ? "client" : "worker"};
                s.platform.faults.random.distribution = sim::RandomFaults::Distribution::Weibull;
                s.platform.faults.random.shape = 0.5 + rng.uniform();
                s.platform.faults.random.mtbf = 0.5 + 2 * rng.uniform();
                s.platform.faults.random.mttr = 0.2;
            }
            const std::vector<double> v = inChild([=] {
                alarm(60); // a hang ends the child, and the case fails naming the schedule
                const TrainTest data = labelsOnly(kind == StrategyKind::FedAvg ? 400 * P : 4000, 10);
                MetricsSink none;
                try {
                    const sim::SimulationResult r = sim::simulate(s, data, none);
                    static const std::set<std::string> reasons{"max_steps", "epochs", "rounds", "workers_failed",
                                                               "max_restarts", "max_simulated_time"};
                    return std::vector<double>{reasons.count(r.summary.stopReason) ? 1.0 : -1.0,
                                               double(r.summary.restarts), double(r.summary.failures)};
                } catch (const ConfigError& e) {
                    return std::vector<double>{std::string(e.what()).size() > 10 ? 2.0 : -2.0, 0, 0};
                } catch (const sim::SimulationError& e) {
                    return std::vector<double>{std::string(e.what()).size() > 10 ? 3.0 : -3.0, 0, 0};
                }
            });
            QString what = QString("%1 workers, detection %2 s, checkpoint every %3 steps, restart delay %4 s;")
                               .arg(P).arg(s.strategy.failureDetection).arg(s.strategy.checkpoint.everySteps)
                               .arg(s.strategy.checkpoint.restartDelay);
            for (const sim::FaultEvent& ev : s.platform.faults.events)
                what += QString(" %1 %2 at %3 s;").arg(int(ev.type)).arg(QString::fromStdString(ev.host + ev.link))
                            .arg(ev.time);
            if (s.platform.faults.random.enabled)
                what += QString(" random mtbf %1 s").arg(s.platform.faults.random.mtbf);
            QVERIFY2(v.size() == 3 && v[0] > 0,
                     qPrintable(QString("schedule %1 (%2, recovery %3): %4: %5").arg(i).arg(toString(kind)).arg(rec)
                                    .arg(v.empty() ? "crashed or hung" : "unclear outcome " + QString::number(v[0]))
                                    .arg(what)));
            completed += v[0] == 1;
            refused += v[0] == 2;
            failed += v[0] == 3;
            restarts += int(v[1]);
            failures += int(v[2]);
        }
        qInfo("%d schedules: %d completed (%d rank failures, %d restarts), %d refused before the run, %d failed "
              "with a message",
              kSchedules, completed, failures, restarts, refused, failed);
        QVERIFY(completed > kSchedules / 4 && refused > 0);
    }
};
DML_SIM_CASE(FaultScheduleFuzz);

#include "sim_checkpoint.moc"
