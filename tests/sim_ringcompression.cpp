// SPDX-License-Identifier: GPL-3.0-or-later
// Compression and local SGD in the ring all-reduce (RingAllReduceStrategy::setCompression): replicas stay
// bit-identical, top-k's all-gather sends (P-1) x 8k bytes per rank and step, local SGD sends 1/H of the bytes,
// compressed runs still learn, and a seed fixes the run. Each simulation runs in a forked child (one SimGrid
// simulation per process); all on the small synthetic blobs, so every case takes well under a second or two.
#include "simcase.h"
#include "simutil.h"

#include "compression/sparsify.h"
#include "strategies/ringallreduce.h"
#include "simulation.h"

#include <QTest>

#include <cmath>
#include <cstring>
#include <map>

using namespace dml;
using namespace dml::test;
using Kind = compression::CompressionSpec::Kind;

namespace {

class Recorder : public MetricsSink {
public:
    void sample(const Sample& s) override { samples.push_back(s); }
    std::vector<Sample> samples;
};

constexpr int P = 4;

/// 600 samples over 4 workers, batches of 10: 15 steps per epoch.
TrainingConfig ringConfig(int epochs, std::uint64_t seed = 3)
{
    TrainingConfig cfg;
    cfg.hidden = {16};
    cfg.optimizer.kind = OptimizerSpec::Kind::Sgd;
    cfg.optimizer.learningRate = 0.1f;
    cfg.batchSize = 10;
    cfg.epochs = epochs;
    cfg.evalEverySteps = 5;
    cfg.seed = seed;
    return cfg;
}

compression::CompressionSpec spec(Kind k, bool ef = false)
{
    compression::CompressionSpec s;
    s.kind = k;
    s.errorFeedback = ef;
    s.ratio = 0.1;
    s.bits = 4;
    s.rank = 2;
    return s;
}

/// What one run reports, flattened for inChild: [0] replica mismatches (rank k != rank 0 at some averaging),
/// [1] averagings observed, [2] steps the model did not move, [3] last step, [4] final accuracy, [5] bytes on the
/// wire, [6] summary uncompressed bytes, [7] compressed bytes, [8] codec seconds, [9 .. 9+P) bytes sent per rank,
/// then the final model.
enum Field { Mismatch, Averagings, Stuck, LastStep, Accuracy, Wire, Uncompressed, Compressed, Codec, PerRank };

std::vector<double> runRing(const TrainingConfig& cfg, const compression::CompressionSpec& c, int localSteps)
{
    const TrainTest data = smallData(7);
    Recorder rec;
    RingAllReduceStrategy ring(P, cfg, data, rec);
    ring.setCompression(c, localSteps);
    std::map<long, std::vector<Eigen::VectorXf>> replicas;
    ring.setReplicaObserver([&](int rank, long step, const Eigen::VectorXf& params) {
        auto& v = replicas[step];
        v.resize(std::size_t(P));
        v[std::size_t(rank)] = params;
    });
    const sim::SimulationResult r = sim::simulateStrategy(idealStar(P), ring, 0, true);
    double mismatch = 0, stuck = 0;
    const Eigen::VectorXf* previous = nullptr;
    for (const auto& [step, v] : replicas) {
        for (int k = 1; k < P; ++k)
            if (v[std::size_t(k)].size() != v[0].size() ||
                std::memcmp(v[std::size_t(k)].data(), v[0].data(), sizeof(float) * std::size_t(v[0].size())) != 0)
                mismatch += 1;
        if (previous && *previous == v[0])
            stuck += 1;
        previous = &v[0];
    }
    std::vector<double> out{mismatch,
                            double(replicas.size()),
                            stuck,
                            double(rec.samples.back().step),
                            rec.samples.back().testAccuracy,
                            r.summary.bytesOnWire,
                            r.summary.uncompressedBytes,
                            r.summary.compressedBytes,
                            r.summary.codecSeconds};
    for (int k = 0; k < P; ++k)
        out.push_back(r.hosts[std::size_t(k)].bytesSent);
    for (Eigen::Index i = 0; i < r.finalModel.size(); ++i)
        out.push_back(double(r.finalModel[i]));
    return out;
}

std::vector<double> modelOf(const std::vector<double>& run)
{
    return std::vector<double>(run.begin() + PerRank + P, run.end());
}

} // namespace

/// After every averaging all P replicas hold the same bits, for each way of compressing: every rank decodes the
/// same reduced chunks (fp16, random-k), aggregates the same P encodings in rank order (top-k, QSGD, sign) or forms
/// the same PowerSGD approximation; local SGD sets every replica to the same average.
class RingCompressionReplicasIdentical : public QObject {
    Q_OBJECT
private slots:
    void replicasAgree_data()
    {
        QTest::addColumn<int>("kind");
        QTest::addColumn<bool>("ef");
        QTest::addColumn<int>("localSteps");
        QTest::addColumn<bool>("dgc");
        QTest::newRow("topk 10% + EF") << int(Kind::TopK) << true << 1 << false;
        QTest::newRow("qsgd 4-bit") << int(Kind::Qsgd) << false << 1 << false;
        QTest::newRow("fp16") << int(Kind::Fp16) << false << 1 << false;
        QTest::newRow("bf16 + EF") << int(Kind::Bf16) << true << 1 << false;
        QTest::newRow("randomk 10% + EF (shared seed)") << int(Kind::RandomK) << true << 1 << false;
        QTest::newRow("signSGD majority vote") << int(Kind::Sign) << false << 1 << false;
        QTest::newRow("powersgd rank 2") << int(Kind::PowerSgd) << true << 1 << false;
        QTest::newRow("topk DGC") << int(Kind::TopK) << false << 1 << true;
        QTest::newRow("randomk DGC") << int(Kind::RandomK) << false << 1 << true;
        QTest::newRow("local SGD H=4") << int(Kind::None) << false << 4 << false;
        QTest::newRow("local SGD H=4, topk + EF") << int(Kind::TopK) << true << 4 << false;
        QTest::newRow("local SGD H=4, fp16") << int(Kind::Fp16) << false << 4 << false;
    }
    void replicasAgree()
    {
        QFETCH(int, kind);
        QFETCH(bool, ef);
        QFETCH(int, localSteps);
        QFETCH(bool, dgc);
        TrainingConfig cfg = ringConfig(2);
        compression::CompressionSpec c = spec(Kind(kind), ef);
        if (dgc) {
            c.momentumCorrection = true;
            cfg.optimizer.kind = OptimizerSpec::Kind::Momentum;
        }
        const std::vector<double> r = inChild([&] { return runRing(cfg, c, localSteps); });
        QVERIFY2(!r.empty(), "the simulation failed");
        const long steps = 2 * 15;
        QCOMPARE(r[LastStep], double(steps));
        QCOMPARE(r[Averagings], double((steps + localSteps - 1) / localSteps));
        QCOMPARE(r[Mismatch], 0.0);
        QCOMPARE(r[Stuck], 0.0); // the model moves at every averaging
        if (c.enabled()) {
            QVERIFY(r[Compressed] > 0 && r[Compressed] < r[Uncompressed]);
            QVERIFY(r[Codec] > 0);
        }
        qInfo("final accuracy %.3f, %.0f bytes on the wire", r[Accuracy], r[Wire]);
    }
};
DML_SIM_CASE(RingCompressionReplicasIdentical);

/// Top-k is not summable: each rank's k (index, value) pairs are all-gathered round the ring, so every rank sends
/// (P-1) x 8k bytes per step and nothing else; the counters report that against the dense ring's 2(P-1)/P x 4n.
class RingTopKAllGatherBytes : public QObject {
    Q_OBJECT
private slots:
    void bytesPerRank()
    {
        const TrainingConfig cfg = ringConfig(2);
        const compression::CompressionSpec c = spec(Kind::TopK, true);
        const std::vector<double> r = inChild([&] { return runRing(cfg, c, 1); });
        QVERIFY2(!r.empty(), "the simulation failed");
        const double n = 20 * 16 + 16 + 16 * 4 + 4; // 404 parameters
        const double k = double(compression::TopK(compression::Keep{.fraction = 0.1}).keep(Eigen::Index(n)));
        QCOMPARE(k, 40.0);
        const double steps = r[LastStep];
        QCOMPARE(steps, 30.0);
        for (int rank = 0; rank < P; ++rank)
            QVERIFY2(r[PerRank + rank] == steps * (P - 1) * 8 * k,
                     qPrintable(QString("rank %1: ").arg(rank) + mismatch(r[PerRank + rank], steps * (P - 1) * 8 * k)));
        QCOMPARE(r[Wire], P * steps * (P - 1) * 8 * k);
        QCOMPARE(r[Compressed], r[Wire]);
        QCOMPARE(r[Uncompressed], P * steps * 2.0 * (P - 1) / P * 4 * n);
    }
    /// A proxy workload carries no vectors: the same bytes from encodedBytes(n). Top-k 1% of n = 10000: k = 100,
    /// (P-1) x 800 bytes per rank and step; fp16 (summable, reduced chunk by chunk): 2(P-1) hops of 2 x 2500 bytes.
    void proxyBytes_data()
    {
        QTest::addColumn<int>("kind");
        QTest::addColumn<double>("perStep");
        QTest::newRow("topk 1%") << int(Kind::TopK) << (P - 1) * 8.0 * 100;
        QTest::newRow("fp16") << int(Kind::Fp16) << 2.0 * (P - 1) * 2 * 2500;
    }
    void proxyBytes()
    {
        QFETCH(int, kind);
        QFETCH(double, perStep);
        const std::vector<double> r = inChild([&] {
            const TrainTest data = labelsOnly(4 * 100, 10);
            sim::SimulationSpec s;
            s.platform = idealStar(P);
            s.strategy = {StrategyKind::RingAllReduce, P};
            s.strategy.compression = spec(Kind(kind), true);
            s.strategy.compression.ratio = 0.01;
            s.training.batchSize = 10;
            s.training.epochs = 1; // 10 steps
            s.training.proxy.parameters = 10000;
            s.training.proxy.trainFlopsPerSample = 1e6;
            MetricsSink none;
            const sim::SimulationResult res = sim::simulate(s, data, none);
            std::vector<double> out{double(res.summary.steps), res.summary.compressedBytes, res.summary.codecSeconds};
            for (int k = 0; k < P; ++k)
                out.push_back(res.hosts[std::size_t(k)].bytesSent);
            return out;
        });
        QVERIFY2(!r.empty(), "the simulation failed");
        QCOMPARE(r[0], 10.0);
        QCOMPARE(r[1], P * 10 * perStep);
        QVERIFY(r[2] > 0);
        for (int k = 0; k < P; ++k)
            QCOMPARE(r[3 + std::size_t(k)], 10 * perStep);
    }
};
DML_SIM_CASE(RingTopKAllGatherBytes);

/// Local SGD with H = 4 averages every 4 optimizer steps: over the same 4 epochs (60 steps, 15 averagings) it puts
/// exactly 1/4 of the H = 1 bytes on the wire, and still learns.
class RingLocalSgdBytes : public QObject {
    Q_OBJECT
private slots:
    void quarterOfTheBytes()
    {
        const TrainingConfig cfg = ringConfig(4);
        const compression::CompressionSpec none;
        const std::vector<double> every = inChild([&] { return runRing(cfg, none, 1); });
        const std::vector<double> local = inChild([&] { return runRing(cfg, none, 4); });
        QVERIFY2(!every.empty() && !local.empty(), "a simulation failed");
        QCOMPARE(every[LastStep], 60.0);
        QCOMPARE(local[LastStep], 60.0);
        QCOMPARE(local[Averagings], 15.0);
        QVERIFY2(local[Wire] * 4 == every[Wire], qPrintable(mismatch(local[Wire] * 4, every[Wire])));
        for (int rank = 0; rank < P; ++rank)
            QCOMPARE(local[PerRank + rank] * 4, every[PerRank + rank]);
        QVERIFY2(local[Accuracy] > 0.8, qPrintable(QString::number(local[Accuracy])));
        qInfo("H=1: %.0f bytes, accuracy %.3f; H=4: %.0f bytes, accuracy %.3f", every[Wire], every[Accuracy],
              local[Wire], local[Accuracy]);
    }
};
DML_SIM_CASE(RingLocalSgdBytes);

/// Compressed runs still learn the synthetic blobs: top-k 10% with error feedback and PowerSGD rank 2 reach the
/// accuracy the uncompressed ring reaches, within a few points.
class RingCompressionLearns : public QObject {
    Q_OBJECT
private slots:
    void reachesTarget()
    {
        const TrainingConfig cfg = ringConfig(4);
        const std::vector<double> dense = inChild([&] { return runRing(cfg, {}, 1); });
        const std::vector<double> topk = inChild([&] { return runRing(cfg, spec(Kind::TopK, true), 1); });
        const std::vector<double> power = inChild([&] { return runRing(cfg, spec(Kind::PowerSgd, true), 1); });
        QVERIFY2(!dense.empty() && !topk.empty() && !power.empty(), "a simulation failed");
        qInfo("accuracy: dense %.3f, topk 10%% + EF %.3f, powersgd rank 2 %.3f", dense[Accuracy], topk[Accuracy],
              power[Accuracy]);
        qInfo("bytes on the wire: dense %.0f, topk %.0f, powersgd %.0f", dense[Wire], topk[Wire], power[Wire]);
        QVERIFY2(topk[Accuracy] >= 0.8, qPrintable(QString::number(topk[Accuracy])));
        QVERIFY2(power[Accuracy] >= 0.8, qPrintable(QString::number(power[Accuracy])));
        QVERIFY(topk[Wire] < dense[Wire]);
        QVERIFY(power[Wire] < dense[Wire]);
    }
};
DML_SIM_CASE(RingCompressionLearns);

/// A seed fixes the run: the same scenario twice gives the same final model bit for bit and the same bytes
/// (QSGD's stochastic rounding and random-k's indices come from seeds); another seed gives another model.
class RingCompressionDeterministic : public QObject {
    Q_OBJECT
private slots:
    void sameSeedSameModel_data()
    {
        QTest::addColumn<int>("kind");
        QTest::addColumn<int>("localSteps");
        QTest::newRow("topk + EF") << int(Kind::TopK) << 1;
        QTest::newRow("qsgd") << int(Kind::Qsgd) << 1;
        QTest::newRow("randomk + EF") << int(Kind::RandomK) << 1;
        QTest::newRow("powersgd") << int(Kind::PowerSgd) << 1;
        QTest::newRow("local SGD H=4, qsgd") << int(Kind::Qsgd) << 4;
    }
    void sameSeedSameModel()
    {
        QFETCH(int, kind);
        QFETCH(int, localSteps);
        const compression::CompressionSpec c = spec(Kind(kind), kind != int(Kind::Qsgd));
        const std::vector<double> a = inChild([&] { return runRing(ringConfig(1, 11), c, localSteps); });
        const std::vector<double> b = inChild([&] { return runRing(ringConfig(1, 11), c, localSteps); });
        const std::vector<double> other = inChild([&] { return runRing(ringConfig(1, 12), c, localSteps); });
        QVERIFY2(!a.empty() && !b.empty() && !other.empty(), "a simulation failed");
        QVERIFY(modelOf(a) == modelOf(b));
        QCOMPARE(a[Wire], b[Wire]);
        QCOMPARE(a[Compressed], b[Compressed]);
        QVERIFY(modelOf(a) != modelOf(other));
    }
};
DML_SIM_CASE(RingCompressionDeterministic);

/// The early-stop protocol survives compression and local SGD: rank 0 decides after an averaging, the flag rides in
/// the next all-reduce (or all-gather), every rank discards that round (local SGD: back to the last average), so
/// all stop at the same step and the final model is the one rank 0 evaluated there.
class RingCompressionEarlyStop : public QObject {
    Q_OBJECT
private slots:
    void everyRankStopsTogether_data()
    {
        QTest::addColumn<int>("kind");
        QTest::addColumn<int>("localSteps");
        QTest::newRow("topk + EF") << int(Kind::TopK) << 1;
        QTest::newRow("fp16") << int(Kind::Fp16) << 1;
        QTest::newRow("powersgd") << int(Kind::PowerSgd) << 1;
        QTest::newRow("local SGD H=4, topk + EF") << int(Kind::TopK) << 4;
    }
    void everyRankStopsTogether()
    {
        QFETCH(int, kind);
        QFETCH(int, localSteps);
        const std::vector<double> r = inChild([&] {
            const TrainTest data = smallData(8);
            TrainingConfig cfg = ringConfig(5, 2); // 75 steps planned
            cfg.evalEverySteps = 1;
            cfg.targetAccuracy = 0.6;
            cfg.stopAtTarget = true;
            Recorder rec;
            RingAllReduceStrategy ring(P, cfg, data, rec);
            ring.setCompression(spec(Kind(kind), true), localSteps);
            std::vector<double> lastStep(std::size_t(P), 0);
            Eigen::VectorXf rank0Last;
            ring.setReplicaObserver([&](int rank, long step, const Eigen::VectorXf& params) {
                lastStep[std::size_t(rank)] = double(step);
                if (rank == 0)
                    rank0Last = params;
            });
            const sim::SimulationResult res = sim::simulateStrategy(idealStar(P), ring, 0, true);
            std::vector<double> out{ring.stopReason() == "target_accuracy" ? 1.0 : 0.0,
                                    double(rec.samples.back().step), rec.samples.back().testAccuracy,
                                    res.finalModel == rank0Last ? 1.0 : 0.0};
            out.insert(out.end(), lastStep.begin(), lastStep.end());
            return out;
        });
        QVERIFY2(!r.empty(), "the simulation failed");
        QCOMPARE(r[0], 1.0);
        QVERIFY2(r[1] < 75, qPrintable(QString::number(r[1])));
        QVERIFY(r[2] >= 0.6);
        QCOMPARE(r[3], 1.0);
        for (int k = 0; k < P; ++k)
            QCOMPARE(r[4 + std::size_t(k)], r[1]);
    }
};
DML_SIM_CASE(RingCompressionEarlyStop);

#include "sim_ringcompression.moc"
