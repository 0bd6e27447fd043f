// SPDX-License-Identifier: GPL-3.0-or-later
// Elastic ring all-reduce (issue 11; RingAllReduceStrategy::setRecovery, after Horovod Elastic): a worker's host
// going off, before or inside a step's all-reduce, must not hang the survivors; they re-form the ring, their
// replicas stay bit-identical, and the run is deterministic. Every simulation runs in a forked child (one SimGrid
// simulation per process).
#include "simcase.h"
#include "simutil.h"

#include "strategies/ringallreduce.h"
#include "rng.h"
#include "simulation.h"

#include <QTest>

#include <simgrid/s4u/Engine.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>

using namespace dml;
using namespace dml::test;

namespace {


bool same(const Eigen::VectorXf& a, const Eigen::VectorXf& b)
{
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), sizeof(float) * std::size_t(a.size())) == 0;
}

constexpr int P = 4;
constexpr int Epochs = 4;
constexpr int Batch = 20;
constexpr int Train = 600; // 7 steps per epoch on 4 workers, 10 on 3

TrainingConfig config()
{
    TrainingConfig cfg;
    cfg.hidden = {16};
    cfg.optimizer.kind = OptimizerSpec::Kind::Momentum;
    cfg.optimizer.learningRate = 0.05f;
    cfg.batchSize = Batch;
    cfg.epochs = Epochs;
    cfg.evalEverySteps = 0; // once per epoch
    cfg.seed = 11;
    return cfg;
}

/// 4 workers of 1e7 flop/s (a gradient takes about 5 ms) on a 200 kB/s star (a chunk hop about 2 ms): a step's
/// all-reduce lasts longer than its gradient, so a failure time can be put in either.
sim::PlatformSpec platform(const std::vector<sim::AvailabilityEvent>& events = {})
{
    sim::PlatformSpec p = idealStar(P, 1e7);
    p.linkBandwidth = 2e5;
    if (!events.empty()) {
        p.availability.model = sim::AvailabilitySpec::Model::Trace;
        p.availability.traceFile = "test";
        p.availability.events = events;
    }
    return p;
}

/// What one run gives, flattened for inChild: see Outcome::from.
struct Outcome {
    double steps = 0, replicasAgree = 0, deadAgrees = 0, finalIsReplica = 0, failedPoints = 0, finalAccuracy = 0;
    double stopEpochs = 0, workersFailed = 0, lastLiveBeforeFailure = 0, lastSampleStep = 0;
    double rejoinedPoints = 0, lastReporters = 0; // rejoined_workers points; ranks whose last-step replica settled
    std::vector<double> live;  // live_workers, one per step
    std::vector<double> model; // final model
    std::vector<double> spans; // probe runs: start and end of each of rank `probe`'s compute and send spans
    std::vector<double> flat() const
    {
        std::vector<double> v{steps, replicasAgree, deadAgrees, finalIsReplica, failedPoints, finalAccuracy,
                              stopEpochs, workersFailed, lastLiveBeforeFailure, lastSampleStep, rejoinedPoints,
                              lastReporters, double(live.size()), double(model.size()), double(spans.size())};
        v.insert(v.end(), live.begin(), live.end());
        v.insert(v.end(), model.begin(), model.end());
        v.insert(v.end(), spans.begin(), spans.end());
        return v;
    }
    static Outcome from(const std::vector<double>& v)
    {
        Outcome o;
        if (v.size() < 15)
            return o;
        o.steps = v[0], o.replicasAgree = v[1], o.deadAgrees = v[2], o.finalIsReplica = v[3], o.failedPoints = v[4];
        o.finalAccuracy = v[5], o.stopEpochs = v[6], o.workersFailed = v[7], o.lastLiveBeforeFailure = v[8];
        o.lastSampleStep = v[9], o.rejoinedPoints = v[10], o.lastReporters = v[11];
        const auto nl = std::size_t(v[12]), nm = std::size_t(v[13]), ns = std::size_t(v[14]);
        auto at = v.begin() + 15;
        o.live.assign(at, at + std::ptrdiff_t(nl));
        at += std::ptrdiff_t(nl);
        o.model.assign(at, at + std::ptrdiff_t(nm));
        at += std::ptrdiff_t(nm);
        o.spans.assign(at, at + std::ptrdiff_t(ns));
        return o;
    }
};

/// How a run is set up beyond the failures: compression, and changes to the platform (e.g. random availability).
struct Setup {
    compression::CompressionSpec compression{};
    std::function<void(sim::PlatformSpec&)> platform{};
    int workers = P;
};

/// Runs the ring (in a child) with `elastic` recovery and the hosts of `failing` going off at `times`; checks the
/// replicas after every step. A replica a rank reported for step s is settled once the same body of that rank (a
/// worker whose host comes back on re-joins with a new one) also reported step s + 1 (a step that some ranks
/// completed may be redone after a failure; then they report it again, and their last report counts): the settled
/// replicas of a step must be the same bits on every rank, and so must the final step's replicas of the bodies that
/// ended normally (not killed) and the final model. `deadAgrees`: each
/// rank of `failing` reported, before its last report, only replicas equal to the survivors'. `probe` >= 0: also
/// returns that rank's compute and send spans (start, end, kind) for choosing times.
Outcome run(bool elastic, const std::vector<int>& failing, const std::vector<double>& times, int probe = -1,
            const Setup& setup = {}, double failureDetection = 0.005, const std::vector<double>& backOn = {})
{
    return Outcome::from(inChild([=] {
        const int workers = setup.workers;
        const TrainTest data = smallData(4, Train);
        std::vector<sim::AvailabilityEvent> events;
        for (std::size_t i = 0; i < failing.size(); ++i) {
            events.push_back({"worker-" + std::to_string(failing[i]), times[i], false, int(i + 1)});
            if (i < backOn.size()) // the host comes back on
                events.push_back({"worker-" + std::to_string(failing[i]), backOn[i], true, int(i + 1)});
        }
        sim::PlatformSpec plat = platform(events);
        plat.workers = workers;
        if (setup.platform)
            setup.platform(plat);
        Keep keep;
        RingAllReduceStrategy ring(workers, config(), data, keep);
        ring.setCompression(setup.compression);
        ring.setRecovery(elastic, failureDetection);
        // Which body of a worker reported (a worker whose host comes back on is relaunched): the host's off events
        // before the report.
        auto body = [&](int rank, double time, bool atOrBefore = false) {
            int offs = 0;
            for (const sim::AvailabilityEvent& e : plat.availability.events)
                offs += e.host == "worker-" + std::to_string(rank) && !e.on &&
                        (e.time < time || (atOrBefore && e.time == time));
            return offs;
        };
        struct Report {
            Eigen::VectorXf params;
            int body = -1;
        };
        std::map<long, std::vector<Report>> replicas; // step -> each rank's last report
        ring.setReplicaObserver([&](int rank, long step, const Eigen::VectorXf& params) {
            auto& v = replicas[step];
            v.resize(std::size_t(workers));
            v[std::size_t(rank)] = {params, body(rank, simgrid::s4u::Engine::get_clock())};
        });
        const sim::SimulationResult r = sim::simulateStrategy(plat, ring, 0, true);
        Outcome o;
        o.steps = double(replicas.empty() ? 0 : replicas.rbegin()->first);
        o.replicasAgree = o.deadAgrees = 1;
        auto has = [&](long step, int k) {
            return replicas.count(step) > 0 && replicas.at(step)[std::size_t(k)].body >= 0;
        };
        // The same body of rank k reported step + 1 after its report of step.
        auto settledBy = [&](long step, int k) {
            return has(step, k) && has(step + 1, k) &&
                   replicas.at(step + 1)[std::size_t(k)].body == replicas.at(step)[std::size_t(k)].body;
        };
        const long lastStep = long(o.steps);
        for (const auto& [step, v] : replicas) {
            const Eigen::VectorXf* ref = nullptr;
            for (int k = 0; k < workers; ++k) {
                // the last step: reported by a body that ended normally (its host was on when it returned)
                const bool settled =
                    settledBy(step, k) ||
                    (step == lastStep && has(step, k) &&
                     v[std::size_t(k)].body == body(k, r.hosts[std::size_t(k)].finish, true));
                if (!settled)
                    continue;
                o.lastReporters += step == lastStep;
                if (!ref)
                    ref = &v[std::size_t(k)].params;
                else if (!same(*ref, v[std::size_t(k)].params))
                    o.replicasAgree = 0;
            }
            for (int k : failing) // a failed rank, for every step but its last
                if (ref && settledBy(step, k) && !same(*ref, v[std::size_t(k)].params))
                    o.deadAgrees = 0;
            if (step == lastStep)
                o.finalIsReplica = ref && same(*ref, r.finalModel) ? 1 : 0;
        }
        if (const auto it = keep.series.find("failed_workers"); it != keep.series.end())
            o.failedPoints = double(it->second.size());
        if (const auto it = keep.series.find("rejoined_workers"); it != keep.series.end())
            o.rejoinedPoints = double(it->second.size());
        if (const auto it = keep.series.find("live_workers"); it != keep.series.end())
            for (const auto& [t, x] : it->second) {
                o.live.push_back(x);
                if (!times.empty() && t < times[0])
                    o.lastLiveBeforeFailure = x;
            }
        o.finalAccuracy = keep.samples.empty() ? 0 : keep.samples.back().testAccuracy;
        o.lastSampleStep = keep.samples.empty() ? 0 : double(keep.samples.back().step);
        o.stopEpochs = ring.stopReason() == "epochs";
        o.workersFailed = ring.stopReason() == "workers_failed";
        o.model.assign(r.finalModel.data(), r.finalModel.data() + r.finalModel.size());
        if (probe >= 0)
            for (const Span& s : r.timeline)
                if (s.rank == probe && s.kind != Span::Receive)
                    o.spans.insert(o.spans.end(), {s.start, s.end, double(s.kind)});
        return o.flat();
    }));
}

/// Steps on P_live workers per epoch, as the strategy plans them.
long spe(int workers)
{
    return stepsPerEpoch(Train, workers, Batch);
}

} // namespace

/// Worker 2's host goes off while it computes step s = 5's gradient. The survivors find it missing in step 5's
/// all-reduce, re-form the ring over workers 0, 1, 3, redo step 5 from the committed state (no survivor completed
/// it), and train on: the failed shard is dealt to them, an epoch becomes 10 steps instead of 7, and the run ends
/// at its planned 4 epochs. live_workers is 4 for steps 1-4 and 3 after; failed_workers has one point; the replicas
/// stay bit-identical; the synthetic dataset still reaches the target accuracy; the same seed gives the same bits.
/// Without a failure, elastic recovery trains exactly as recovery none does.
class RingElasticCrash : public QObject {
    Q_OBJECT
private slots:
    void survivorsGoOn()
    {
        const Outcome probe = run(true, {}, {}, 2);
        QVERIFY(probe.spans.size() > 30);
        std::vector<std::pair<double, double>> computes;
        for (std::size_t i = 0; i + 2 < probe.spans.size(); i += 3)
            if (probe.spans[i + 2] == double(Span::Compute) && probe.spans[i + 1] - probe.spans[i] > 1e-3)
                computes.emplace_back(probe.spans[i], probe.spans[i + 1]); // the gradients (not the additions)
        QVERIFY(computes.size() >= 5);
        const double crash = 0.5 * (computes[4].first + computes[4].second); // inside step 5's gradient
        qInfo("step 5's gradient on worker 2: %.4f - %.4f s; crash at %.4f s", computes[4].first,
              computes[4].second, crash);

        const Outcome o = run(true, {2}, {crash});
        QVERIFY(o.model.size() > 0);
        // 4 steps on 4 workers (4/7 epoch), then the remaining 3 3/7 epochs at 10 steps per epoch.
        const long expected = 4 + long(std::ceil((double(Epochs) - 4.0 / double(spe(4))) * double(spe(3)) - 1e-9));
        QCOMPARE(long(o.steps), expected);
        QCOMPARE(o.stopEpochs, 1.0);
        QCOMPARE(o.lastSampleStep, double(expected));
        QCOMPARE(o.replicasAgree, 1.0);
        QCOMPARE(o.deadAgrees, 1.0);
        QCOMPARE(o.finalIsReplica, 1.0);
        QCOMPARE(o.failedPoints, 1.0);
        QCOMPARE(long(o.live.size()), expected);
        for (std::size_t i = 0; i < o.live.size(); ++i)
            QCOMPARE(o.live[i], i < 4 ? double(P) : double(P - 1));
        QCOMPARE(o.lastLiveBeforeFailure, double(P));
        qInfo("final accuracy %.3f after %ld steps", o.finalAccuracy, long(o.steps));
        QVERIFY2(o.finalAccuracy >= 0.9, qPrintable(QString::number(o.finalAccuracy)));

        const Outcome again = run(true, {2}, {crash});
        QVERIFY(again.model == o.model);
        QVERIFY(again.live == o.live);

        // No failure: elastic recovery trains as recovery none does, bit for bit, on every rank.
        const Outcome none = run(false, {}, {});
        QCOMPARE(none.steps, double(Epochs * spe(4)));
        QCOMPARE(none.replicasAgree, 1.0);
        QCOMPARE(none.stopEpochs, 1.0);
        QVERIFY(none.model == probe.model);
        QCOMPARE(probe.steps, none.steps);
        QCOMPARE(probe.failedPoints, 0.0);
        QCOMPARE(long(probe.live.size()), long(probe.steps));
        QCOMPARE(none.finalAccuracy, probe.finalAccuracy);
    }
};
DML_SIM_CASE(RingElasticCrash);

/// Worker 2's host goes off during step 5's gradient and comes back on 60 ms later. The survivors go on with three
/// workers; at the next step boundary after the host is back the leader relaunches worker 2 (as Horovod's host
/// discovery re-adds a host) and announces it in the next step's all-reduce; after that step worker 2 is admitted
/// with the leader's parameters and optimizer state (charged: 4n bytes plus the momentum) and the ring has four
/// workers again. live_workers goes 4, 3, 4; failed_workers and rejoined_workers have one point each; the replicas,
/// worker 2's new ones included, stay bit-identical; the run ends with its epochs at the target accuracy; the same
/// seed gives the same bits.
class RingElasticRejoin : public QObject {
    Q_OBJECT
private slots:
    void recoveredHostRejoins()
    {
        const double crash = 0.0654, back = crash + 0.06; // inside step 5's gradient (RingElasticCrash's probe)
        const Outcome o = run(true, {2}, {crash}, -1, {}, 0.005, {back});
        QVERIFY(o.model.size() > 0);
        QCOMPARE(o.stopEpochs, 1.0);
        QCOMPARE(o.replicasAgree, 1.0);
        QCOMPARE(o.deadAgrees, 1.0);
        QCOMPARE(o.finalIsReplica, 1.0);
        QCOMPARE(o.failedPoints, 1.0);
        QCOMPARE(o.rejoinedPoints, 1.0);
        QCOMPARE(o.lastReporters, double(P)); // worker 2's new body reported the last step too
        int phase = 0; // 0: four workers, 1: three, 2: four again
        for (double x : o.live) {
            if (phase == 0 && x == P - 1)
                phase = 1;
            else if (phase == 1 && x == P)
                phase = 2;
            QCOMPARE(x, phase == 1 ? double(P - 1) : double(P));
        }
        QCOMPARE(phase, 2);
        qInfo("%ld steps, %d with 3 workers; final accuracy %.3f", long(o.steps),
              int(std::count(o.live.begin(), o.live.end(), double(P - 1))), o.finalAccuracy);
        QVERIFY2(o.finalAccuracy >= 0.9, qPrintable(QString::number(o.finalAccuracy)));
        QVERIFY(run(true, {2}, {crash}, -1, {}, 0.005, {back}).model == o.model);
    }
};
DML_SIM_CASE(RingElasticRejoin);

/// A host going off inside a step's all-reduce: worker 2 (or worker 0, the leader) at times spread over step 5's
/// reduce-scatter and all-gather, and two workers in the same step. No run hangs, every run ends with its epochs,
/// the survivors' replicas stay bit-identical after every step, and a repeated run gives the same bits.
class RingElasticMidAllReduce : public QObject {
    Q_OBJECT
private slots:
    void noHangIdenticalReplicas()
    {
        const Outcome probe = run(true, {}, {}, 2);
        // Step 5 on worker 2: from the end of its gradient to the start of its next one.
        std::vector<std::pair<double, double>> computes;
        std::vector<double> sends;
        for (std::size_t i = 0; i + 2 < probe.spans.size(); i += 3) {
            if (probe.spans[i + 2] == double(Span::Compute) && probe.spans[i + 1] - probe.spans[i] > 1e-3)
                computes.emplace_back(probe.spans[i], probe.spans[i + 1]);
            if (probe.spans[i + 2] == double(Span::Send))
                sends.push_back(probe.spans[i + 1]);
        }
        QVERIFY(computes.size() >= 6);
        const double from = computes[4].second, to = computes[5].first;
        // the reduce-scatter ends with worker 2's (P-1)-th send of the step
        std::vector<double> stepSends;
        for (double s : sends)
            if (s > from && s <= to)
                stepSends.push_back(s);
        QCOMPARE(int(stepSends.size()), 2 * (P - 1));
        const double reduceScatterEnd = stepSends[std::size_t(P - 2)];
        qInfo("step 5's all-reduce on worker 2: %.4f - %.4f s, reduce-scatter until %.4f s", from, to,
              reduceScatterEnd);
        QVERIFY(reduceScatterEnd - from > 3e-3);

        struct Case {
            std::vector<int> failing;
            std::vector<double> times;
        };
        std::vector<Case> cases;
        const double inReduceScatter = from + 0.5 * (stepSends[0] - from) + 0.5 * (stepSends[1] - stepSends[0]);
        cases.push_back({{2}, {inReduceScatter}});
        for (int k = 0; k < 8; ++k) {
            const double at = from + (to - from) * (k + 0.5) / 8;
            cases.push_back({{2}, {at}});
            cases.push_back({{0}, {at}});
        }
        cases.push_back({{1, 3}, {from + 0.3 * (to - from), from + 0.6 * (to - from)}});
        for (const Case& c : cases) {
            const Outcome o = run(true, c.failing, c.times);
            const QString what = QString("workers %1 off at %2 s")
                                     .arg(c.failing[0] + (c.failing.size() > 1 ? 10 * c.failing[1] : 0))
                                     .arg(c.times[0], 0, 'f', 4);
            QVERIFY2(o.model.size() > 0, qPrintable(what + ": the run failed or hung"));
            QVERIFY2(o.stopEpochs == 1.0, qPrintable(what + ": did not end with its epochs"));
            QVERIFY2(o.replicasAgree == 1.0, qPrintable(what + ": survivors' replicas differ"));
            QVERIFY2(o.deadAgrees == 1.0, qPrintable(what + ": a failed worker's replica differed before it failed"));
            QVERIFY2(o.finalIsReplica == 1.0, qPrintable(what + ": the final model is not the replicas'"));
            QVERIFY2(o.failedPoints == double(c.failing.size()), qPrintable(what + ": failed_workers points"));
            const int survivors = P - int(c.failing.size());
            QVERIFY2(!o.live.empty() && o.live.back() == double(survivors), qPrintable(what + ": live_workers"));
            QVERIFY2(o.lastLiveBeforeFailure == double(P), qPrintable(what + ": live_workers before the failure"));
            QVERIFY2(o.finalAccuracy >= 0.85, qPrintable(what + QString(": accuracy %1").arg(o.finalAccuracy)));
        }
        const Outcome a = run(true, {2}, {inReduceScatter}), b = run(true, {2}, {inReduceScatter});
        QVERIFY(a.model.size() > 0);
        QVERIFY(a.model == b.model);
    }

    /// The same with compressed all-reduces: summable formats reduced in the ring (fp16, random-k), all-gathered
    /// ones (top-k with error feedback, DGC, signSGD's vote, QSGD). Worker 2 goes off at three times in step 5.
    void compressed()
    {
        using K = compression::CompressionSpec::Kind;
        std::vector<compression::CompressionSpec> specs(6);
        specs[0].kind = K::Fp16;
        specs[1].kind = K::RandomK, specs[1].ratio = 0.25;
        specs[2].kind = K::TopK, specs[2].ratio = 0.1, specs[2].errorFeedback = true;
        specs[3].kind = K::TopK, specs[3].ratio = 0.1, specs[3].momentumCorrection = true;
        specs[4].kind = K::Sign;
        specs[5].kind = K::Qsgd, specs[5].bits = 4;
        for (const compression::CompressionSpec& c : specs)
            for (double at : {0.066, 0.071, 0.076}) {
                const Outcome o = run(true, {2}, {at}, -1, Setup{.compression = c});
                const QString what = QString("%1, worker 2 off at %2 s")
                                         .arg(QString::fromStdString(compression::describe(c)))
                                         .arg(at);
                QVERIFY2(o.model.size() > 0, qPrintable(what + ": the run failed or hung"));
                QVERIFY2(o.stopEpochs == 1.0, qPrintable(what + ": did not end with its epochs"));
                QVERIFY2(o.replicasAgree == 1.0, qPrintable(what + ": survivors' replicas differ"));
                QVERIFY2(o.deadAgrees == 1.0, qPrintable(what + ": worker 2's replica differed before it failed"));
                QVERIFY2(o.finalIsReplica == 1.0, qPrintable(what + ": the final model is not the replicas'"));
                QVERIFY2(o.failedPoints == 1.0 && o.live.back() == double(P - 1), qPrintable(what + ": series"));
            }
    }

    /// Every worker fails: the run ends (no rank is left to wait) with stop reason "workers_failed".
    void allFail()
    {
        const Outcome o = run(true, {0, 1, 2, 3}, {0.03, 0.05, 0.07, 0.09});
        QCOMPARE(o.workersFailed, 1.0);
        QVERIFY(o.failedPoints >= 1 && o.failedPoints <= 3); // the last one has nobody left to notice it
        QVERIFY(o.model.size() > 0);   // the last model reported
    }
};
DML_SIM_CASE(RingElasticMidAllReduce);

/// Churn: 6 workers whose hosts go off and on at random (a seeded trace of exponential times, mean 0.6 s on and
/// 0.1 s off, up to 3 s; a host that comes back does not re-join), several failures per run, some in the same step
/// or during a rendezvous, and leaders failing. For 12 seeds: every run ends (with its epochs, or "workers_failed"
/// when none is left), the settled replicas are bit-identical, and a run repeated gives the same bits.
class RingElasticChurn : public QObject {
    Q_OBJECT
private slots:
    void randomFailures()
    {
        auto churn = [](std::uint64_t seed) {
            return Setup{.platform =
                             [seed](sim::PlatformSpec& p) {
                                 p.availability.model = sim::AvailabilitySpec::Model::Trace;
                                 p.availability.traceFile = "churn";
                                 for (int w = 0; w < p.workers; ++w) {
                                     Rng rng(deriveSeed(seed, 0xC4, std::uint64_t(w)));
                                     bool on = true;
                                     for (double t = 0;;) {
                                         t += -(on ? 0.6 : 0.1) * std::log(1 - rng.uniform());
                                         if (t > 3)
                                             break;
                                         on = !on;
                                         p.availability.events.push_back({"worker-" + std::to_string(w), t, on, 0});
                                     }
                                 }
                             },
                         .workers = 6};
        };
        int ended = 0, allFailed = 0;
        double failures = 0;
        std::vector<double> first;
        for (std::uint64_t seed = 1; seed <= 12; ++seed) {
            const Outcome o = run(true, {}, {}, -1, churn(seed));
            const QString what = QString("seed %1").arg(seed);
            QVERIFY2(o.model.size() > 0, qPrintable(what + ": the run failed or hung"));
            QVERIFY2(o.stopEpochs == 1.0 || o.workersFailed == 1.0, qPrintable(what + ": stop reason"));
            QVERIFY2(o.replicasAgree == 1.0, qPrintable(what + ": replicas differ"));
            if (o.stopEpochs == 1.0)
                QVERIFY2(o.finalIsReplica == 1.0, qPrintable(what + ": the final model is not the replicas'"));
            ended += o.stopEpochs == 1.0;
            allFailed += o.workersFailed == 1.0;
            failures += o.failedPoints;
            if (seed == 1)
                first = o.model;
        }
        qInfo("12 runs: %d ended with their epochs, %d with every worker failed; %g failures seen", ended, allFailed,
              failures);
        QVERIFY(failures >= 12); // the churn did strike
        QVERIFY(ended >= 1);
        QVERIFY(run(true, {}, {}, -1, churn(1)).model == first);
    }
};
DML_SIM_CASE(RingElasticChurn);

/// Link failures that cut routes between live workers without cutting off any (uplinks of a fat-tree's switch)
/// leave no failure to detect. One uplink down: the ring's own routes stay up and both rings complete (the
/// elastic ring's end-of-run decision may not reach every worker, but the run is over). Both uplinks down: the
/// two halves of the ring cannot reach each other; the plain ring deadlocks (a SimulationError), and the elastic
/// ring, whose waits time out to look for failures, gives up after its collective timeout (60 s here: a hundred
/// times the longest step, at least 60 s) with a message that says so, instead of waiting forever.
class RingElasticPartition : public QObject {
    Q_OBJECT
private slots:
    void failsInsteadOfHanging()
    {
        auto run = [](bool elastic, int uplinks) {
            return inChild([=] {
                alarm(60);
                const TrainTest data = labelsOnly(4000, 10);
                sim::SimulationSpec s;
                s.platform.topology = sim::Topology::FatTree;
                s.platform.topologyParameters = "2;4,4;1,2;1,1"; // workers 0-3 under one switch, 4-7 under another
                s.platform.workers = 8;
                s.platform.network = sim::NetworkModel::Ideal;
                for (const char* link : {"link_from_31_26_17", "link_from_31_27_16"}) { // the first switch's uplinks
                    if (int(s.platform.faults.events.size()) == uplinks)
                        break;
                    sim::FaultEvent cut;
                    cut.type = sim::FaultEvent::Type::LinkDown;
                    cut.time = 0.05;
                    cut.link = link;
                    cut.path = "faults.events[" + std::to_string(s.platform.faults.events.size()) + "]";
                    s.platform.faults.events.push_back(cut);
                }
                s.strategy = {StrategyKind::RingAllReduce, 8};
                s.strategy.recovery = elastic ? StrategySpec::Recovery::Elastic : StrategySpec::Recovery::None;
                s.strategy.failureDetection = 0.02;
                s.training.batchSize = 10;
                s.training.proxy.parameters = 10000;
                s.training.proxy.trainFlopsPerSample = 1e7;
                s.training.maxSteps = 30;
                MetricsSink none;
                try {
                    const sim::SimulationResult r = sim::simulate(s, data, none);
                    return std::vector<double>{r.summary.stopReason == "max_steps" ? 1.0 : 0.0};
                } catch (const std::runtime_error& e) {
                    const std::string what = e.what();
                    qInfo("%s", e.what());
                    return std::vector<double>{
                        what.find("although no worker is known to have failed") != std::string::npos ? 2.0
                        : what.find("deadlocked") != std::string::npos                               ? 3.0
                                                                                                     : -1.0};
                }
            });
        };
        QCOMPARE(run(false, 1), std::vector<double>{1.0});
        QCOMPARE(run(true, 1), std::vector<double>{1.0});
        QCOMPARE(run(false, 2), std::vector<double>{3.0});
        QCOMPARE(run(true, 2), std::vector<double>{2.0});
    }
};
DML_SIM_CASE(RingElasticPartition);

#include "sim_elasticring.moc"
