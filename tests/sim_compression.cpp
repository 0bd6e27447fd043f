// SPDX-License-Identifier: GPL-3.0-or-later
// Compressed gradients and local SGD in the parameter-server and federated strategies (issue 13): the bytes each
// worker really sends follow each format's size formula, local SGD divides the traffic by H, the same seed gives
// the same model bit for bit, accuracy survives, and settings that make no sense are refused with the field's
// path. Each simulation runs in a forked child (one SimGrid simulation per process).
#include "simcase.h"
#include "simutil.h"

#include "error.h"
#include "simulation.h"
#include "strategy.h"

#include <QTest>

#include <cmath>

using namespace dml;
using namespace dml::test;
using K = compression::CompressionSpec::Kind;

namespace {

/// 20 features -> 16 hidden -> 4 classes: n = 20*16 + 16 + 16*4 + 4 = 404 parameters.
constexpr double kParams = 404;

/// P workers, 600 samples, batch 10: 600 / P / 10 steps per epoch.
sim::SimulationSpec psSpec(StrategyKind kind, int P, const compression::CompressionSpec& c, int localSteps = 1)
{
    sim::SimulationSpec spec;
    spec.platform = idealStar(P, 1e9, 1e12);
    spec.strategy = {kind, P};
    spec.strategy.compression = c;
    spec.strategy.localSteps = localSteps;
    spec.training.hidden = {16};
    spec.training.batchSize = 10;
    spec.training.epochs = 3;
    spec.training.optimizer = OptimizerSpec{.kind = OptimizerSpec::Kind::Momentum, .learningRate = 0.05f};
    spec.training.seed = 11;
    return spec;
}

/// {steps, final accuracy, summary's uncompressed and compressed bytes, codec seconds, each worker's bytes sent,
///  then the final model}
std::vector<double> runInChild(const sim::SimulationSpec& spec, int workerRanks)
{
    return inChild([=] {
        const TrainTest data = smallData(21, 600);
        MetricsSink none;
        const sim::SimulationResult r = sim::simulate(spec, data, none);
        std::vector<double> v{double(r.summary.steps), r.summary.finalAccuracy, r.summary.uncompressedBytes,
                              r.summary.compressedBytes, r.summary.codecSeconds};
        for (int w = 0; w < workerRanks; ++w)
            v.push_back(r.hosts[std::size_t(w)].bytesSent);
        v.insert(v.end(), r.finalModel.data(), r.finalModel.data() + r.finalModel.size());
        return v;
    });
}

compression::CompressionSpec spec(K kind)
{
    compression::CompressionSpec c;
    c.kind = kind;
    return c;
}

} // namespace

/// Sync PS, P = 4: every worker sends one encoded gradient per step, nothing else, so its bytes are steps x the
/// format's size: top-k 10 % (k = 40) 8k = 320; QSGD 4-bit with buckets of 128: 4 ceil(404/128) + ceil(404 x 4 / 8)
/// = 16 + 202 = 218; signSGD ceil(404 / 8) = 51, EF-signSGD 4 + 51 = 55; fp16 2n = 808; PowerSGD rank 2 sends its
/// P and Q factors: P = 16x2 + 4x2 + the biases 16 + 4 = 60 floats, Q = 20x2 + 16x2 = 72 floats, 528 bytes. The
/// summary counts the same messages at fp32 (4n each) and as sent.
class SyncPsCompressedBytes : public QObject {
    Q_OBJECT
private slots:
    void bytesFollowFormats()
    {
        const int P = 4;
        struct Case {
            const char* name;
            compression::CompressionSpec c;
            double bytes;
        };
        compression::CompressionSpec topk = spec(K::TopK), qsgd = spec(K::Qsgd), sign = spec(K::Sign),
                                     efsign = spec(K::Sign), fp16 = spec(K::Fp16), power = spec(K::PowerSgd);
        topk.ratio = 0.1;
        topk.errorFeedback = true;
        qsgd.bits = 4;
        qsgd.bucket = 128;
        efsign.errorFeedback = true;
        power.errorFeedback = true;
        const Case cases[] = {{"topk", topk, 320}, {"qsgd", qsgd, 218},  {"sign", sign, 51},
                              {"efsign", efsign, 55}, {"fp16", fp16, 808}, {"powersgd", power, 528}};
        for (const Case& c : cases) {
            const std::vector<double> v = runInChild(psSpec(StrategyKind::SyncPs, P, c.c), P);
            QVERIFY2(v.size() > 5 + P, c.name);
            const double steps = v[0];
            QCOMPARE(steps, 3.0 * 15);
            for (int w = 0; w < P; ++w)
                QVERIFY2(v[std::size_t(5 + w)] == steps * c.bytes,
                         qPrintable(QString("%1 worker %2: ").arg(c.name).arg(w) +
                                    mismatch(v[std::size_t(5 + w)], steps * c.bytes)));
            QCOMPARE(v[3], P * steps * c.bytes);
            QCOMPARE(v[2], P * steps * 4 * kParams);
            QVERIFY2(v[4] > 0, c.name); // encoding took simulated time
            qInfo("%-8s accuracy %.4f, %g bytes per gradient", c.name, v[1], c.bytes);
        }
    }

    /// Top-k 10 % with error feedback and PowerSGD rank 2 train nearly as well as fp32 on the blobs, and the same
    /// seed gives the same model bit for bit under every stochastic format (QSGD, random-k).
    void accuracyAndDeterminism()
    {
        const int P = 4;
        const std::vector<double> dense = runInChild(psSpec(StrategyKind::SyncPs, P, spec(K::None)), P);
        compression::CompressionSpec topk = spec(K::TopK), power = spec(K::PowerSgd), qsgd = spec(K::Qsgd),
                                     randk = spec(K::RandomK);
        topk.ratio = 0.1;
        topk.errorFeedback = true;
        power.errorFeedback = true;
        randk.ratio = 0.25;
        randk.errorFeedback = true;
        QVERIFY(dense.size() > 9);
        qInfo("fp32 accuracy %.4f", dense[1]);
        QVERIFY(dense[1] > 0.8);
        for (const auto& [name, c] : {std::pair{"topk", topk}, std::pair{"powersgd", power}, std::pair{"qsgd", qsgd},
                                      std::pair{"randomk", randk}}) {
            const std::vector<double> a = runInChild(psSpec(StrategyKind::SyncPs, P, c), P),
                                      b = runInChild(psSpec(StrategyKind::SyncPs, P, c), P);
            QVERIFY2(a.size() == dense.size(), name);
            qInfo("%-8s accuracy %.4f", name, a[1]);
            QVERIFY2(a[1] >= dense[1] - 0.05, qPrintable(QString(name) + ": " + mismatch(a[1], dense[1])));
            QVERIFY2(a == b, name);
            QVERIFY2(a != dense, name);
        }
    }
};
DML_SIM_CASE(SyncPsCompressedBytes);

/// Local SGD (Stich 2019; Lin et al. 2020) on sync PS, H = 4, 45 planned steps: ceil(45 / 4) = 12 averagings
/// (the last of one step), so each worker sends 12 updates of 4n bytes instead of 45 gradients, the run still
/// counts 45 optimizer steps (3 epochs), and accuracy stays close. With top-k the updates are compressed too.
class SyncPsLocalSgd : public QObject {
    Q_OBJECT
private slots:
    void averagesEveryHSteps()
    {
        const int P = 4;
        const std::vector<double> every = runInChild(psSpec(StrategyKind::SyncPs, P, spec(K::None), 1), P),
                                  local = runInChild(psSpec(StrategyKind::SyncPs, P, spec(K::None), 4), P);
        QVERIFY(every.size() > 9 && local.size() == every.size());
        QCOMPARE(every[0], 45.0);
        QCOMPARE(local[0], 45.0);
        for (int w = 0; w < P; ++w) {
            QCOMPARE(every[std::size_t(5 + w)], 45 * 4 * kParams);
            QCOMPARE(local[std::size_t(5 + w)], 12 * 4 * kParams);
        }
        qInfo("accuracy: every step %.4f, H = 4 %.4f", every[1], local[1]);
        QVERIFY2(local[1] >= every[1] - 0.05, qPrintable(mismatch(local[1], every[1])));

        compression::CompressionSpec topk = spec(K::TopK);
        topk.ratio = 0.1;
        topk.errorFeedback = true;
        const std::vector<double> both = runInChild(psSpec(StrategyKind::SyncPs, P, topk, 4), P);
        QVERIFY(both.size() == every.size());
        QCOMPARE(both[std::size_t(5)], 12 * 320.0);
        QVERIFY2(both[1] >= every[1] - 0.08, qPrintable(mismatch(both[1], every[1])));
    }
};
DML_SIM_CASE(SyncPsLocalSgd);

/// Async PS with QSGD 8-bit and FedAvg with top-k updates: every message is the encoded size, and training works.
class CompressedAsyncAndFedAvg : public QObject {
    Q_OBJECT
private slots:
    void asyncPs()
    {
        const int P = 3;
        compression::CompressionSpec qsgd = spec(K::Qsgd); // 8-bit, bucket 512: 4 + 404 bytes
        sim::SimulationSpec s = psSpec(StrategyKind::AsyncPs, P, qsgd);
        s.training.epochs = 2;
        const std::vector<double> v = runInChild(s, P);
        QVERIFY(v.size() > 5 + P);
        double sent = 0;
        for (int w = 0; w < P; ++w)
            sent += v[std::size_t(5 + w)];
        // One encoding per applied update, plus the gradients drained at the end (at most one per worker).
        QVERIFY2(sent >= v[0] * 408 && sent <= (v[0] + P) * 408, qPrintable(mismatch(sent, v[0] * 408)));
        QCOMPARE(v[3], sent);
        qInfo("async-ps qsgd 8-bit accuracy %.4f", v[1]);
        QVERIFY(v[1] > 0.8);
    }

    void fedAvg()
    {
        const int Kc = 10;
        compression::CompressionSpec topk = spec(K::TopK);
        topk.ratio = 0.1;
        topk.errorFeedback = true;
        sim::SimulationSpec s = psSpec(StrategyKind::FedAvg, Kc, topk);
        s.strategy.clientFraction = 0.5;
        s.strategy.rounds = 12;
        s.training.optimizer = OptimizerSpec{.kind = OptimizerSpec::Kind::Sgd, .learningRate = 0.05f};
        const std::vector<double> v = runInChild(s, Kc);
        QVERIFY(v.size() > 5 + Kc);
        QCOMPARE(v[0], 12.0);
        double sent = 0;
        for (int k = 0; k < Kc; ++k) {
            QVERIFY(std::fmod(v[std::size_t(5 + k)], 320.0) == 0); // whole updates of 8k bytes
            sent += v[std::size_t(5 + k)];
        }
        QCOMPARE(sent, 12 * 5 * 320.0); // 5 clients a round, none dropped
        QCOMPARE(v[3], sent);
        QCOMPARE(v[2], 12 * 5 * 4 * kParams);
        qInfo("fedavg top-k accuracy %.4f", v[1]);
        QVERIFY(v[1] > 0.7);
    }
};
DML_SIM_CASE(CompressedAsyncAndFedAvg);

/// What makes no sense is refused before anything runs, naming the field.
class CompressionValidation : public QObject {
    Q_OBJECT
private slots:
    void refusals()
    {
        auto pathOf = [](StrategyKind kind, compression::CompressionSpec c, int localSteps = 1,
                         OptimizerSpec::Kind opt = OptimizerSpec::Kind::Momentum, int backup = 0) -> std::string {
            StrategySpec s{kind, 4};
            s.compression = c;
            s.localSteps = localSteps;
            s.backupWorkers = backup;
            TrainingConfig cfg;
            cfg.optimizer.kind = opt;
            try {
                checkCompression(s, cfg);
            } catch (const ConfigError& e) {
                return e.path();
            }
            return "";
        };
        compression::CompressionSpec power = spec(K::PowerSgd), dgc = spec(K::TopK), sign = spec(K::Sign),
                                     topk = spec(K::TopK), qsgd = spec(K::Qsgd);
        dgc.momentumCorrection = true;
        QCOMPARE(pathOf(StrategyKind::AsyncPs, power), std::string("strategy.compression.type"));
        QCOMPARE(pathOf(StrategyKind::FedAvg, power), std::string("strategy.compression.type"));
        QCOMPARE(pathOf(StrategyKind::SyncPs, power, 1, OptimizerSpec::Kind::Momentum, 1),
                 std::string("strategy.compression.type"));
        QCOMPARE(pathOf(StrategyKind::SyncPs, power, 2), std::string("strategy.compression.type"));
        QCOMPARE(pathOf(StrategyKind::SyncPs, power), std::string());
        QCOMPARE(pathOf(StrategyKind::SyncPs, dgc, 1, OptimizerSpec::Kind::Adam),
                 std::string("strategy.compression.momentum_correction"));
        QCOMPARE(pathOf(StrategyKind::AsyncPs, dgc), std::string("strategy.compression.momentum_correction"));
        QCOMPARE(pathOf(StrategyKind::SyncPs, dgc), std::string());
        QCOMPARE(pathOf(StrategyKind::FedAvg, sign), std::string("strategy.compression.error_feedback"));
        QCOMPARE(pathOf(StrategyKind::SyncPs, sign, 4), std::string("strategy.compression.error_feedback"));
        QCOMPARE(pathOf(StrategyKind::FedAvg, spec(K::None), 2), std::string("strategy.local_steps"));
        QCOMPARE(pathOf(StrategyKind::AsyncPs, spec(K::None), 2), std::string("strategy.local_steps"));
        QCOMPARE(pathOf(StrategyKind::RingAllReduce, spec(K::None), 0), std::string("strategy.local_steps"));
        topk.ratio = 0;
        QCOMPARE(pathOf(StrategyKind::SyncPs, topk), std::string("strategy.compression.ratio"));
        qsgd.bits = 1;
        QCOMPARE(pathOf(StrategyKind::SyncPs, qsgd), std::string("strategy.compression.bits"));
    }
};
DML_SIM_CASE(CompressionValidation);

#include "sim_compression.moc"
