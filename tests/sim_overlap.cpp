// SPDX-License-Identifier: GPL-3.0-or-later
// Overlap of the backward pass with bucketed all-reduce (issue 17 item 2), in SimGrid on an ideal full-duplex star:
// a step takes at least max(compute, all-reduce) and at most their sum, exactly the time without overlap when there
// is one bucket, and the buckets' all-reduces follow their formulas; a real model trains with bit-identical
// replicas. Each simulation runs in a forked child (one SimGrid simulation per process).
#include "simcase.h"
#include "simutil.h"

#include "collectives/collectives.h"
#include "models/model.h"
#include "models/presets.h"
#include "optim/optimizer.h"
#include "simulation.h"
#include "strategies/ringallreduce.h"

#include <QTest>

#include <cmath>
#include <cstring>

using namespace dml;
using namespace dml::test;
using collectives::Algorithm;

namespace {

constexpr int kWorkers = 8;
constexpr long kSteps = 4;
constexpr int kBatch = 32;
constexpr double kSpeed = 100e12; // flops/s: a step's compute (ResNet-50, batch 32) is about 7.9 ms

sim::SimulationSpec proxyRing(const std::vector<LayerCost>& layers, bool overlap, double capBytes,
                              Algorithm a = Algorithm::Ring)
{
    sim::SimulationSpec s;
    s.platform = idealStar(kWorkers, kSpeed, kSpeed);
    s.platform.linkBandwidth = 12.5e9; // 100 Gb/s: the all-reduce of ResNet-50's 102 MB takes about 14 ms
    s.strategy = {StrategyKind::RingAllReduce, kWorkers};
    s.strategy.collective.algorithm = a;
    s.strategy.overlap = {overlap, capBytes};
    s.training.proxy.parameters = totalParameters(layers);
    s.training.proxy.trainFlopsPerSample = totalTrain(layers);
    s.training.proxy.layers = layers;
    s.training.batchSize = kBatch;
    s.training.epochs = 1;
    s.training.maxSteps = kSteps;
    return s;
}

/// Simulated time per step of `spec`, and worker 0's compute, communication and idle time per step (s).
std::vector<double> perStep(const sim::SimulationSpec& spec)
{
    return inChild([spec] {
        const TrainTest data = labelsOnly(kWorkers * kBatch * int(kSteps) * 2, 10);
        MetricsSink none;
        const sim::SimulationResult r = sim::simulate(spec, data, none);
        if (r.summary.steps != kSteps)
            throw std::runtime_error("ran " + std::to_string(r.summary.steps) + " steps");
        const HostStats& h = r.hosts.front();
        return std::vector<double>{r.summary.simulatedTime / kSteps, h.compute / kSteps,
                                   h.communication / kSteps, h.idle / kSteps};
    });
}

collectives::CostModel star()
{
    const sim::PlatformSpec p = idealStar(kWorkers, kSpeed, kSpeed);
    return {routeLatency(p), 12.5e9, kSpeed};
}

/// The formula of one all-reduce per bucket, added up (what the buckets cost back to back, with no overlap).
double bucketsTime(const std::vector<LayerCost>& layers, double capBytes, Algorithm a)
{
    double t = 0;
    for (const GradientBucket& b : makeBuckets(layers, capBytes))
        t += collectives::predictedTime(a, kWorkers, b.bytes(), star());
    return t;
}

/// 4 classes of Gaussian blobs in 32 features: 1,600 training and 400 test samples.
TrainTest blobs()
{
    SyntheticSpec d;
    d.classes = 4;
    d.features = 32;
    d.trainSamples = 1600;
    d.testSamples = 400;
    return makeSyntheticBlobs(d, 3);
}

/// An MLP 32-64-32-4 (layers of 2112, 2080 and 132 floats) trained with Adam by 4 workers with batch 16, in 2 buckets
/// with overlap (cap 1200 floats: 2212 and 2112 floats), on an ideal star whose workers compute `speed` flops/s.
sim::SimulationSpec realMlp(StrategyKind kind, bool overlap, double speed, int epochs)
{
    sim::SimulationSpec s;
    s.platform = idealStar(4, speed, 1e9);
    s.strategy = {kind, 4};
    s.strategy.overlap = {overlap, 4.0 * 1200};
    s.training.hidden = {64, 32};
    s.training.optimizer = OptimizerSpec{.kind = OptimizerSpec::Kind::Adam, .learningRate = 0.005f};
    s.training.batchSize = 16;
    s.training.epochs = epochs;
    s.training.seed = 5;
    return s;
}

} // namespace

/// Proxy ResNet-50 and BERT-base: bounds, the single-bucket case, and the all-reduce formulas per bucket.
class OverlapStepTimeIdeal : public QObject {
    Q_OBJECT
private slots:
    void bounds_data()
    {
        QTest::addColumn<QString>("model");
        QTest::addColumn<double>("capMiB");
        QTest::addColumn<int>("algorithm");
        for (const char* m : {"resnet50", "bert-base"})
            for (double cap : {1.0, 25.0, 100.0})
                for (Algorithm a : {Algorithm::Ring, Algorithm::DoubleBinaryTree})
                    QTest::addRow("%s-%gMiB-%s", m, cap, collectives::toString(a))
                        << QString(m) << cap << int(a);
    }
    void bounds()
    {
        QFETCH(QString, model);
        QFETCH(double, capMiB);
        QFETCH(int, algorithm);
        const Algorithm a = Algorithm(algorithm);
        const std::vector<LayerCost> layers = proxyPreset(model.toStdString());
        const double cap = capMiB * 1024 * 1024;
        const double n = double(totalParameters(layers));
        const double compute = kBatch * totalTrain(layers) / kSpeed;
        const double update = (n + Optimizer::stepFlops(OptimizerSpec{}, n)) / kSpeed; // the division by P, SGD
        const double allReduce = bucketsTime(layers, cap, a);
        const std::vector<double> with = perStep(proxyRing(layers, true, cap, a));
        QVERIFY2(with.size() == 4, "the overlapped run failed");
        const double step = with[0];
        // The additions of the all-reduce share the host with the backward pass: they are work on top of both.
        QVERIFY2(step >= std::max(compute, allReduce) + update - 1e-12, qPrintable(mismatch(step, allReduce)));
        QVERIFY2(step <= compute + allReduce + update + 1e-9, qPrintable(mismatch(step, compute + allReduce)));
        // Worker 0's compute, communication and idle time are measured separately and cover the step once (a
        // wait of the background actor while the worker computes is neither idle nor communication).
        QVERIFY2(nearRel(with[1] + with[2] + with[3], step, 1e-9), qPrintable(mismatch(with[1] + with[2], step)));
        if (a == Algorithm::Ring) { // its own backward pass, update and ring additions; nothing idle in a ring
            const double own = compute + update + (kWorkers - 1.0) / kWorkers * n / kSpeed;
            QVERIFY2(nearRel(with[1], own, 1e-9), qPrintable(mismatch(with[1], own)));
            QVERIFY2(with[3] < 1e-9 * step, qPrintable(mismatch(with[3], 0)));
        }
        if (capMiB == 25.0 && a == Algorithm::Ring) { // several buckets: overlap pays
            const std::vector<double> without = perStep(proxyRing(layers, false, cap, a));
            QVERIFY2(without.size() == 4, "the run without overlap failed");
            QVERIFY2(step < 0.95 * without[0], qPrintable(mismatch(step, without[0])));
        }
    }
    void oneBucketIsNoOverlap_data()
    {
        QTest::addColumn<int>("algorithm");
        for (Algorithm a : {Algorithm::Ring, Algorithm::HalvingDoubling, Algorithm::DoubleBinaryTree})
            QTest::addRow("%s", collectives::toString(a)) << int(a);
    }
    void oneBucketIsNoOverlap()
    {
        QFETCH(int, algorithm);
        const std::vector<LayerCost> layers = proxyPreset("resnet50");
        const std::vector<double> one = perStep(proxyRing(layers, true, 1e15, Algorithm(algorithm)));
        const std::vector<double> none = perStep(proxyRing(layers, false, 25.0 * 1024 * 1024, Algorithm(algorithm)));
        QVERIFY(one.size() == 4 && none.size() == 4);
        QVERIFY2(nearRel(one[0], none[0], 1e-12), qPrintable(mismatch(one[0], none[0])));
        // without overlap, the step is its formula: compute, then the all-reduce, then the update
        const double n = double(totalParameters(layers));
        const double want = kBatch * totalTrain(layers) / kSpeed +
                            collectives::predictedTime(Algorithm(algorithm), kWorkers, 4 * n, star()) +
                            (n + Optimizer::stepFlops(OptimizerSpec{}, n)) / kSpeed;
        QVERIFY2(nearRel(none[0], want, 1e-9), qPrintable(mismatch(none[0], want)));
    }
};
DML_SIM_CASE(OverlapStepTimeIdeal);

/// A real MLP trained with overlap and two buckets: the replicas stay bit-identical, the model learns, and the
/// scalars riding with the first bucket give the loss series.
class OverlapRealModelTrains : public QObject {
    Q_OBJECT
private slots:
    void replicasIdentical()
    {
        const TrainTest data = blobs();
        const sim::SimulationSpec s = realMlp(StrategyKind::RingAllReduce, true, 1e9, 3);
        Keep sink;
        auto strategy = makeStrategy(s.strategy, s.training, data, sink);
        auto* ring = dynamic_cast<RingAllReduceStrategy*>(strategy.get());
        QVERIFY(ring);
        long mismatches = 0, reports = 0;
        std::map<long, Eigen::VectorXf> first;
        ring->setReplicaObserver([&](int, long step, const Eigen::VectorXf& p) {
            ++reports;
            auto [it, fresh] = first.emplace(step, p);
            if (!fresh && std::memcmp(it->second.data(), p.data(), sizeof(float) * std::size_t(p.size())) != 0)
                ++mismatches;
        });
        sim::simulateStrategy(s.platform, *strategy, 0, true);
        QCOMPARE(mismatches, 0L);
        QVERIFY(first.size() > 50);
        QCOMPARE(reports, 4 * long(first.size()));
        QVERIFY(!sink.samples.empty());
        QVERIFY2(sink.samples.back().testAccuracy > 0.9, qPrintable(QString::number(sink.samples.back().testAccuracy)));
        QVERIFY(sink.samples.back().trainLoss < sink.samples.front().trainLoss || std::isnan(sink.samples.front().trainLoss));
    }
};
DML_SIM_CASE(OverlapRealModelTrains);

/// The synchronous parameter server with overlap: each worker pushes its buckets as its backward pass produces them.
/// The arithmetic is unchanged (the same sum in rank order: the final model is bit-identical to the run without
/// overlap), and overlap hides at most the backward pass.
class OverlapSyncPs : public QObject {
    Q_OBJECT
private slots:
    void sameModelLessTime()
    {
        auto run = [](bool overlap) {
            return inChild([overlap] {
                const TrainTest data = blobs();
                sim::SimulationSpec s = realMlp(StrategyKind::SyncPs, overlap, 1e7, 2); // backward: about 40 ms
                s.platform.linkBandwidth = 2e6; // 4 gradients of 17 kB through the server's link: 35 ms
                MetricsSink none;
                const sim::SimulationResult r = sim::simulate(s, data, none);
                std::vector<double> out{r.summary.simulatedTime, double(r.summary.steps), r.summary.finalAccuracy,
                                        r.hosts.front().compute};
                for (float x : r.finalModel)
                    out.push_back(double(x));
                return out;
            });
        };
        const std::vector<double> with = run(true), without = run(false);
        QVERIFY(with.size() > 4 && with.size() == without.size());
        QCOMPARE(with[1], without[1]);
        QVERIFY2(std::equal(with.begin() + 4, with.end(), without.begin() + 4), "the models differ");
        QVERIFY2(with[2] > 0.9, qPrintable(QString::number(with[2])));
        // overlap hides at most the backward passes (the workers' compute is only their gradients)
        const std::vector<LayerCost> l = Mlp(32, {64, 32}, 4).layerCosts();
        const double backward = with[3] * (totalTrain(l) - totalForward(l)) / totalTrain(l);
        QVERIFY2(with[0] < 0.97 * without[0], qPrintable(mismatch(with[0], without[0])));
        QVERIFY2(with[0] >= without[0] - backward, qPrintable(mismatch(with[0], without[0] - backward)));
    }
};
DML_SIM_CASE(OverlapSyncPs);

#include "sim_overlap.moc"
