// SPDX-License-Identifier: GPL-3.0-or-later
// Several jobs on one platform (issue 17 item 5; simcore/multijob.h): two identical bandwidth-bound jobs that share
// one bottleneck link each take twice as long per step as one job alone; a job with a start time begins then and its
// wait counts as nothing; two jobs that share no link run exactly as each alone; the same numbers with 1 and 2
// threads. Every simulation runs in a forked child (one SimGrid simulation per process).
#include "parallel.h"
#include "simcase.h"
#include "simutil.h"

#include "multijob.h"

#include <QTest>

#include <cstring>

using namespace dml;
using namespace dml::test;

namespace {

/// A ring all-reduce job on a proxy of `parameters` floats (4 bytes each) with almost no compute: bandwidth-bound.
sim::JobSpec proxyRing(const std::string& name, int workers, const TrainTest& data, double start = 0)
{
    sim::JobSpec j;
    j.name = name;
    j.strategy = {StrategyKind::RingAllReduce, workers};
    j.training.proxy.parameters = 25'000'000; // 100 MB of gradient per step
    j.training.proxy.trainFlopsPerSample = 1e3;
    j.training.batchSize = 32;
    j.training.maxSteps = 3;
    j.training.seed = 3;
    j.data = &data;
    j.start = start;
    return j;
}

/// An ideal star whose backbone (1.25 GB/s, shared by every flow) is the bottleneck: each host's own full-duplex link
/// is 10 times faster.
sim::PlatformSpec bottleneckStar(int workers)
{
    sim::PlatformSpec p = idealStar(workers);
    p.linkBandwidth = 1.25e10;
    p.backboneBandwidth = 1.25e9;
    return p;
}

/// Per job: simulated time, steps, time per step; then the makespan.
std::vector<double> runJobs(const sim::PlatformSpec& p, const std::vector<sim::JobSpec>& jobs)
{
    sim::JobsSpec spec{p, jobs};
    const sim::JobsResult r = sim::simulateJobs(spec, std::vector<MetricsSink*>(jobs.size(), nullptr), nullptr);
    std::vector<double> v;
    for (const sim::SimulationResult& j : r.jobs)
        v.insert(v.end(), {j.summary.simulatedTime, double(j.summary.steps),
                           j.summary.simulatedTime / double(j.summary.steps)});
    v.push_back(r.combined.summary.simulatedTime);
    return v;
}

} // namespace

/// The acceptance test: two identical ring all-reduce jobs of 4 workers each on one ideal star whose backbone is the
/// bottleneck take twice as long per step as one of them alone, within 1 %.
class JobsShareBottleneck : public QObject {
    Q_OBJECT
private slots:
    void twiceAsLongPerStep()
    {
        const int P = 4;
        const std::vector<double> alone = inChild([=] {
            const TrainTest data = labelsOnly(4000, 10);
            return runJobs(bottleneckStar(P), {proxyRing("a", P, data)});
        });
        const std::vector<double> two = inChild([=] {
            const TrainTest data = labelsOnly(4000, 10);
            return runJobs(bottleneckStar(2 * P), {proxyRing("a", P, data), proxyRing("b", P, data)});
        });
        // The single job through simulate(), as a scenario without jobs runs: the same time per step.
        const std::vector<double> plain = inChild([=] {
            const TrainTest data = labelsOnly(4000, 10);
            const sim::JobSpec j = proxyRing("a", P, data);
            MetricsSink none;
            const sim::SimulationResult r = sim::simulate({bottleneckStar(P), j.strategy, j.training}, data, none);
            return std::vector<double>{r.summary.simulatedTime, double(r.summary.steps)};
        });
        QCOMPARE(alone.size(), std::size_t(4));
        QCOMPARE(two.size(), std::size_t(7));
        QCOMPARE(plain.size(), std::size_t(2));
        QCOMPARE(alone[1], 3.0);
        QCOMPARE(plain[1], 3.0);
        QVERIFY2(nearRel(alone[0], plain[0], 1e-12), qPrintable("one job vs simulate(): " + mismatch(alone[0], plain[0])));
        for (int j = 0; j < 2; ++j) {
            QCOMPARE(two[std::size_t(3 * j + 1)], 3.0);
            const double ratio = two[std::size_t(3 * j + 2)] / alone[2];
            qInfo("job %c: %.6f s per step beside the other, %.6f s alone: ratio %.5f", 'a' + j,
                  two[std::size_t(3 * j + 2)], alone[2], ratio);
            QVERIFY2(std::fabs(ratio - 2) <= 0.02, qPrintable(QString("ratio %1, expected 2 within 1 %").arg(ratio)));
        }
        // Alpha-beta: each of the 2(P-1) ring steps moves S/P bytes per rank through the backbone, shared by P flows
        // alone (2P together): (S/P)/(B/P) = S/B per ring step alone, 2S/B together.
        const double S = 1e8, B = 1.25e9;
        QVERIFY2(nearRel(alone[2], 2 * (P - 1) * S / B, 0.01), qPrintable(mismatch(alone[2], 2 * (P - 1) * S / B)));
    }
};
DML_SIM_CASE(JobsShareBottleneck);

/// A job with a start time begins then: its ranks' first activity is at the start, its times count from it, and the
/// wait before counts as neither idle nor compute. Here job b starts at 10 s, long after job a ended (so nothing else
/// runs meanwhile), and runs exactly as it would alone.
class JobsLaterStart : public QObject {
    Q_OBJECT
private slots:
    void beginsAtItsStart()
    {
        const int P = 4;
        const std::vector<double> alone = inChild([=] {
            const TrainTest data = labelsOnly(4000, 10);
            return runJobs(bottleneckStar(P), {proxyRing("b", P, data)});
        });
        const std::vector<double> v = inChild([=] {
            const TrainTest data = labelsOnly(4000, 10);
            sim::JobsSpec spec{bottleneckStar(2 * P), {proxyRing("a", P, data), proxyRing("b", P, data, 10.0)}};
            const sim::JobsResult r = sim::simulateJobs(spec, {nullptr, nullptr}, nullptr);
            const sim::SimulationResult& b = r.jobs[1];
            double firstSpan = 1e300, firstLocal = 1e300, elapsed = 0, parts = 0, finish = 0;
            for (const Span& s : r.combined.timeline)
                if (s.rank >= P)
                    firstSpan = std::min(firstSpan, s.start);
            for (const Span& s : b.timeline)
                firstLocal = std::min(firstLocal, s.start);
            for (const HostStats& h : b.hosts) {
                elapsed = std::max(elapsed, h.elapsed);
                parts = std::max(parts, std::fabs(h.compute + h.communication + h.idle - h.elapsed));
                finish = std::max(finish, h.finish);
            }
            return std::vector<double>{firstSpan, firstLocal, b.summary.simulatedTime, elapsed, parts, finish,
                                       r.combined.summary.simulatedTime, r.jobs[0].summary.simulatedTime,
                                       b.samples.empty() ? -1 : b.samples.front().time, b.summary.idleFraction};
        });
        QCOMPARE(v.size(), std::size_t(10));
        QCOMPARE(alone.size(), std::size_t(4));
        QVERIFY2(v[7] < 10, qPrintable(QString("job a ends at %1 s, before b starts").arg(v[7])));
        QVERIFY2(v[0] >= 10 && v[0] < 10 + 1e-3, qPrintable(QString("b's first activity at %1 s").arg(v[0])));
        QVERIFY2(v[1] >= 0 && v[1] < 1e-3, qPrintable(QString("in b's own time: %1 s").arg(v[1])));
        QVERIFY2(nearRel(v[2], alone[0], 1e-9), qPrintable("b's time: " + mismatch(v[2], alone[0])));
        QVERIFY2(nearRel(v[3], v[2], 1e-9), qPrintable("b's ranks' windows: " + mismatch(v[3], v[2])));
        QVERIFY2(v[4] < 1e-9, qPrintable(QString("compute + comm + idle differs from elapsed by %1 s").arg(v[4])));
        QVERIFY2(nearRel(v[5], v[2], 1e-12), qPrintable("finish in b's time: " + mismatch(v[5], v[2])));
        QVERIFY2(nearRel(v[6], 10 + v[2], 1e-12), qPrintable("makespan: " + mismatch(v[6], 10 + v[2])));
        QCOMPARE(v[8], 0.0); // its first evaluation, at its start
        QVERIFY2(v[9] < 0.01, qPrintable(QString("idle fraction %1: the 10 s before its start are not idle").arg(v[9])));
    }
};
DML_SIM_CASE(JobsLaterStart);

namespace {

/// A small real workload: MLP 20-16-4 on the seeded blobs, Adam, 2 epochs capped at 12 steps.
sim::JobSpec realJob(const std::string& name, StrategyKind kind, int workers, const TrainTest& data)
{
    sim::JobSpec j;
    j.name = name;
    j.strategy = {kind, workers};
    j.training.hidden = {16};
    j.training.optimizer = OptimizerSpec{.kind = OptimizerSpec::Kind::Adam, .learningRate = 0.01f};
    j.training.batchSize = 20;
    j.training.epochs = 2;
    j.training.maxSteps = 12;
    j.training.evalEverySteps = 4;
    j.training.seed = 9;
    j.data = &data;
    return j;
}

/// Everything job results hold, as numbers: model, samples, summary figures, hosts, timeline.
void append(std::vector<double>& v, const sim::SimulationResult& r)
{
    v.push_back(double(r.finalModel.size()));
    v.insert(v.end(), r.finalModel.data(), r.finalModel.data() + r.finalModel.size());
    for (const Sample& x : r.samples)
        v.insert(v.end(), {x.time, double(x.step), x.epoch, x.trainLoss, x.testLoss, x.testAccuracy});
    const Summary& m = r.summary;
    v.insert(v.end(), {m.finalAccuracy, m.simulatedTime, m.communicationOverhead, m.utilization, m.idleFraction,
                       m.bytesOnWire, double(m.steps), m.epochs});
    for (const HostStats& h : r.hosts)
        v.insert(v.end(), {h.elapsed, h.finish, h.compute, h.communication, h.idle, h.bytesSent, h.bytesReceived});
    for (const Span& x : r.timeline)
        v.insert(v.end(), {double(x.rank), double(x.kind), double(x.peer), x.start, x.end, x.amount});
}

/// A fat-tree of two switches of 4 hosts each ("2;4,2;1,2;1,1"), ideal model: job a's 4 ranks on the first
/// switch, job b's on the second, so no link carries both.
sim::PlatformSpec twoSwitches()
{
    sim::PlatformSpec p = idealStar(4);
    p.topology = sim::Topology::FatTree;
    p.topologyParameters = "2;4,2;1,2;1,1";
    return p;
}

} // namespace

/// Two jobs on disjoint hosts that share no link (a fat-tree, one switch each) run exactly as each alone: the same
/// model bit for bit, the same samples, summary, hosts and timeline.
class JobsDisjointRunAlone : public QObject {
    Q_OBJECT
private slots:
    void sameAsAlone()
    {
        auto run = [](std::vector<int> which) {
            return inChild([=] {
                const TrainTest data = smallData(7);
                const std::vector<sim::JobSpec> all{realJob("a", StrategyKind::SyncPs, 3, data),
                                                    realJob("b", StrategyKind::RingAllReduce, 4, data)};
                sim::JobsSpec spec{twoSwitches(), {}};
                for (int w : which)
                    spec.jobs.push_back(all[std::size_t(w)]);
                const sim::JobsResult r =
                    sim::simulateJobs(spec, std::vector<MetricsSink*>(spec.jobs.size(), nullptr), nullptr);
                std::vector<double> v;
                for (const sim::SimulationResult& j : r.jobs) {
                    std::vector<double> one;
                    append(one, j);
                    v.push_back(double(one.size()));
                    v.insert(v.end(), one.begin(), one.end());
                }
                return v;
            });
        };
        const std::vector<double> a = run({0}), b = run({1}), both = run({0, 1});
        QVERIFY(!a.empty() && !b.empty() && !both.empty());
        std::vector<double> separate = a;
        separate.insert(separate.end(), b.begin(), b.end());
        QCOMPARE(both.size(), separate.size());
        std::size_t diff = 0;
        while (diff < both.size() && std::memcmp(&both[diff], &separate[diff], sizeof(double)) == 0)
            ++diff;
        QVERIFY2(diff == both.size(), qPrintable(QString("first difference at %1: %2 together, %3 alone")
                                                     .arg(diff).arg(both[diff], 0, 'g', 17).arg(separate[diff], 0, 'g', 17)));
    }
};
DML_SIM_CASE(JobsDisjointRunAlone);

/// Two real jobs sharing a star give the same numbers bit for bit with 1 and 2 threads (README "Determinism").
class JobsThreads : public QObject {
    Q_OBJECT
private slots:
    void sameBits()
    {
        auto run = [](int threads) {
            return inChild([=] {
                parallel::setThreads(threads);
                const TrainTest data = smallData(7);
                sim::PlatformSpec p = idealStar(7, 1e8, 1e9);
                p.backboneBandwidth = 2e8; // shared, and it limits
                sim::JobsSpec spec{p, {realJob("a", StrategyKind::SyncPs, 3, data),
                                       realJob("b", StrategyKind::RingAllReduce, 3, data)}};
                spec.jobs[1].start = 0.004;
                const sim::JobsResult r = sim::simulateJobs(spec, {nullptr, nullptr}, nullptr);
                std::vector<double> v;
                for (const sim::SimulationResult& j : r.jobs)
                    append(v, j);
                for (const LinkStats& l : r.combined.links)
                    v.push_back(l.bytes);
                v.push_back(r.combined.summary.simulatedTime);
                return v;
            });
        };
        const std::vector<double> one = run(1), two = run(2);
        QVERIFY(!one.empty());
        QCOMPARE(one.size(), two.size());
        QVERIFY(std::memcmp(one.data(), two.data(), sizeof(double) * one.size()) == 0);
    }
};
DML_SIM_CASE(JobsThreads);

#include "sim_jobs.moc"
