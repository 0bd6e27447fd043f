// SPDX-License-Identifier: GPL-3.0-or-later
// Checkpoint-restart and the "faults" section (issue 11): a crash rolls every rank back to the last checkpoint and
// costs exactly the lost work plus detection, restart and reading; a failed link cuts off the worker behind it;
// random failures are seeded. Cases that compare several simulations run each in a forked child (one SimGrid
// simulation per process).
#include "simcase.h"
#include "simutil.h"

#include "error.h"
#include "simulation.h"

#include <QTest>

#include <algorithm>

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

        const std::vector<double> refused = inChild([=] {
            const TrainTest data = labelsOnly(4000, 10);
            MetricsSink none;
            try {
                sim::simulate(spec(false), data, none);
            } catch (const ConfigError& e) {
                return std::vector<double>{e.path() == "faults.events[0]" ? 1.0 : 0.0};
            }
            return std::vector<double>{0.0};
        });
        QCOMPARE(refused, std::vector<double>{1.0});
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

#include "sim_checkpoint.moc"
