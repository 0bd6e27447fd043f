// SPDX-License-Identifier: GPL-3.0-or-later
// Synchronous parameter server, run in SimGrid: numeric and timing identities.
#include "simcase.h"
#include "simutil.h"

#include "models/model.h"
#include "optim/optimizer.h"
#include "data/partition.h"
#include "simulation.h"
#include "strategies/syncps.h"

#include <QTest>

#include <cmath>

using namespace dml;

using namespace dml::test;

/// One worker under the synchronous parameter server is plain mini-batch SGD: same seed and data order give a
/// bit-identical model.
class SyncPsOneWorkerEqualsSgd : public QObject {
    Q_OBJECT
private slots:
    void identicalToPlainSgd()
    {
        const TrainTest data = smallData(3);
        sim::SimulationSpec spec;
        spec.platform.workers = 1;
        spec.platform.network = sim::NetworkModel::Tcp;
        spec.strategy = {StrategyKind::SyncPs, 1};
        TrainingConfig& cfg = spec.training;
        cfg.hidden = {16, 8};
        cfg.optimizer.kind = OptimizerSpec::Kind::Adam;
        cfg.optimizer.learningRate = 0.01f;
        cfg.batchSize = 25;
        cfg.epochs = 2;
        cfg.seed = 11;
        MetricsSink none;
        const sim::SimulationResult r = sim::simulate(spec, data, none);

        // The plain loop: same initial model, same shard (all samples), same sampler seed, same optimizer.
        Mlp model(data.train.numFeatures(), cfg.hidden, data.train.classes);
        const PlainSgd plain = plainSgd(model, data, cfg, 2);
        QCOMPARE(r.summary.steps, plain.steps);
        QCOMPARE(r.finalModel.size(), plain.params.size());
        QVERIFY2(std::memcmp(r.finalModel.data(), plain.params.data(),
                             sizeof(float) * std::size_t(plain.params.size())) == 0,
                 "the simulated model differs from plain SGD");
        QVERIFY(r.summary.finalAccuracy > 0.5); // it actually learned something
    }
};
DML_SIM_CASE(SyncPsOneWorkerEqualsSgd);

/// Under the ideal network model, one synchronous step takes exactly what the alpha-beta model predicts:
/// model down to P workers through the server's link, worker compute, P gradients up, server update.
class SyncPsStepTimeIdeal : public QObject {
    Q_OBJECT
private slots:
    void stepTimeMatchesAnalytic()
    {
        const TrainTest data = smallData(5);
        sim::SimulationSpec spec;
        sim::PlatformSpec& p = spec.platform;
        const int P = 4;
        p.workers = P;
        p.workerSpeed = 2e9;
        p.serverSpeed = 5e9;
        p.linkBandwidth = 1.25e9;
        p.linkLatency = 20e-6;
        p.backboneBandwidth = 1e12; // not the bottleneck
        p.backboneLatency = 3e-6;
        p.network = sim::NetworkModel::Ideal;
        spec.strategy = {StrategyKind::SyncPs, P};
        TrainingConfig& cfg = spec.training;
        cfg.hidden = {64};
        cfg.optimizer.kind = OptimizerSpec::Kind::Momentum;
        cfg.batchSize = 10;
        cfg.maxSteps = 5;
        cfg.evalEverySteps = 1;
        cfg.seed = 1;
        MetricsSink none;
        const sim::SimulationResult r = sim::simulate(spec, data, none);
        QCOMPARE(int(r.samples.size()), 6); // steps 0..5

        const Mlp arch(data.train.numFeatures(), cfg.hidden, data.train.classes);
        const double n = double(arch.numParams());
        const double bytes = 4 * n;
        const double routeLatency = 2 * p.linkLatency + p.backboneLatency; // worker link, backbone, server link
        // P flows share the server's link (bandwidth B each way): each gets B / P.
        const double transfer = routeLatency + P * bytes / p.linkBandwidth;
        const double workerCompute = cfg.batchSize * arch.trainFlopsPerSample() / p.workerSpeed;
        const double serverCompute = (P * n + 4 * n) / p.serverSpeed; // average + momentum update
        const double expected = 2 * transfer + workerCompute + serverCompute;
        for (std::size_t i = 1; i < r.samples.size(); ++i) {
            const double step = r.samples[i].time - r.samples[i - 1].time;
            QVERIFY2(std::fabs(step - expected) <= 1e-3 * expected,
                     qPrintable(QString("step %1 took %2 s, analytic %3 s").arg(i).arg(step, 0, 'g', 10)
                                    .arg(expected, 0, 'g', 10)));
        }
        // Host accounting: a worker's elapsed time splits into compute, communication and idle.
        const HostStats& w = r.hosts[0];
        QCOMPARE(w.role, std::string("worker"));
        QVERIFY(std::fabs(w.compute - 5 * workerCompute) < 1e-9);
        QVERIFY(std::fabs(w.compute + w.communication + w.idle - w.elapsed) < 1e-9);
        QCOMPARE(w.bytesSent, 5 * bytes);
    }
};
DML_SIM_CASE(SyncPsStepTimeIdeal);

#include "sim_syncps.moc"
