// SPDX-License-Identifier: GPL-3.0-or-later
// The convolutional model (issue 17) trained by the strategies, in SimGrid: one worker under the synchronous
// parameter server is plain SGD on the Cnn bit for bit, and every strategy trains it.
#include "simcase.h"
#include "simutil.h"

#include "data/partition.h"
#include "models/cnn.h"
#include "optim/optimizer.h"
#include "simulation.h"

#include <QTest>

#include <cstring>

using namespace dml;
using namespace dml::test;

namespace {

/// 4 classes of Gaussian blobs read as 1 x 8 x 8 images.
TrainTest imageData(std::uint64_t seed)
{
    SyntheticSpec spec;
    spec.classes = 4;
    spec.features = 64;
    spec.trainSamples = 800;
    spec.testSamples = 200;
    spec.separation = 6.0;
    return makeSyntheticBlobs(spec, seed);
}

/// A small LeNet-like network over 1 x 8 x 8: conv 4@3x3 (padding 1), ReLU, max-pool 2, conv 6@3x3, ReLU, dense 16,
/// ReLU (then the output layer): 628 parameters.
CnnSpec smallCnn()
{
    using K = CnnLayerSpec::Kind;
    CnnSpec c;
    c.channels = 1;
    c.height = c.width = 8;
    c.layers = {{K::Conv, 4, 3, 1, 1}, {K::Relu, 0, 0, 0, 0}, {K::MaxPool, 0, 2, 0, 0}, {K::Conv, 6, 3, 1, 0},
                {K::Relu, 0, 0, 0, 0}, {K::Dense, 16, 0, 0, 0}, {K::Relu, 0, 0, 0, 0}};
    return c;
}

} // namespace

/// One worker under the synchronous parameter server trains the CNN exactly as a plain loop over Cnn does.
class CnnSyncPsOneWorkerEqualsSgd : public QObject {
    Q_OBJECT
private slots:
    void identicalToPlainSgd()
    {
        const TrainTest data = imageData(3);
        sim::SimulationSpec spec;
        spec.platform = idealStar(1);
        spec.strategy = {StrategyKind::SyncPs, 1};
        TrainingConfig& cfg = spec.training;
        cfg.cnn = smallCnn();
        cfg.optimizer.kind = OptimizerSpec::Kind::Adam;
        cfg.optimizer.learningRate = 0.01f;
        cfg.batchSize = 20;
        cfg.epochs = 2;
        cfg.seed = 11;
        MetricsSink none;
        const sim::SimulationResult r = sim::simulate(spec, data, none);

        const Cnn model(cfg.cnn, data.train.classes);
        const PlainSgd plain = plainSgd(model, data, cfg, 2);
        QCOMPARE(r.summary.steps, plain.steps);
        QCOMPARE(r.finalModel.size(), plain.params.size());
        QVERIFY2(std::memcmp(r.finalModel.data(), plain.params.data(),
                             sizeof(float) * std::size_t(plain.params.size())) == 0,
                 "the simulated model differs from plain SGD on the Cnn");
        QVERIFY(r.summary.finalAccuracy > 0.6); // chance is 0.25
    }
};
DML_SIM_CASE(CnnSyncPsOneWorkerEqualsSgd);

/// Every strategy trains the CNN through the same interface as the MLP: from chance (0.25) to well above it.
class CnnEveryStrategyTrains : public QObject {
    Q_OBJECT
private slots:
    void trains_data()
    {
        QTest::addColumn<int>("kind");
        QTest::newRow("sync-ps") << int(StrategyKind::SyncPs);
        QTest::newRow("async-ps") << int(StrategyKind::AsyncPs);
        QTest::newRow("ring-allreduce") << int(StrategyKind::RingAllReduce);
        QTest::newRow("fedavg") << int(StrategyKind::FedAvg);
        QTest::newRow("fedbuff") << int(StrategyKind::FedBuff);
        QTest::newRow("hierfavg") << int(StrategyKind::HierFavg);
    }
    void trains()
    {
        QFETCH(int, kind);
        const std::vector<double> v = inChild([kind] {
            const TrainTest data = imageData(7);
            sim::SimulationSpec spec;
            const StrategyKind k = StrategyKind(kind);
            const bool federated = k == StrategyKind::FedAvg || k == StrategyKind::FedBuff ||
                                   k == StrategyKind::HierFavg;
            const int workers = federated ? 8 : 4;
            spec.platform = idealStar(workers, 1e10, 1e11);
            spec.strategy = {k, workers};
            spec.strategy.clientFraction = 0.5;
            spec.strategy.concurrency = 4;
            spec.strategy.bufferSize = 2;
            spec.training.cnn = smallCnn();
            spec.training.optimizer = OptimizerSpec{.kind = OptimizerSpec::Kind::Adam, .learningRate = 0.01f};
            spec.training.batchSize = 10;
            spec.training.epochs = 3;
            spec.training.seed = 5;
            MetricsSink none;
            const sim::SimulationResult r = sim::simulate(spec, data, none);
            return std::vector<double>{double(r.finalModel.size()), r.summary.finalAccuracy};
        });
        QCOMPARE(int(v.size()), 2);
        QCOMPARE(v[0], double(Cnn(smallCnn(), 4).numParams()));
        QVERIFY2(v[1] > 0.6, qPrintable(QString("final accuracy %1").arg(v[1])));
    }
};
DML_SIM_CASE(CnnEveryStrategyTrains);

#include "sim_cnn.moc"
