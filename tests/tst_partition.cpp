// SPDX-License-Identifier: GPL-3.0-or-later
// algorithms/: non-IID partitioning (Dirichlet after Hsu et al., per-class Dirichlet, shards), partition statistics,
// Gamma/Dirichlet sampling, strategy configuration errors.
#include "data/dataset.h"
#include "error.h"
#include "strategies/fedavg.h"
#include "data/partition.h"
#include "strategies/ringallreduce.h"
#include "strategy.h"

#include <QElapsedTimer>
#include <QTest>

#include <algorithm>
#include <cmath>
#include <set>

using namespace dml;

namespace {

/// `n` labels cycling through `classes` classes.
std::vector<std::uint8_t> cyclicLabels(int n, int classes)
{
    std::vector<std::uint8_t> y(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i)
        y[std::size_t(i)] = std::uint8_t(i % classes);
    return y;
}

/// Every sample of [0, n) exactly once, and no empty part.
bool coversOnce(const Partition& p, int n, QString* why)
{
    std::vector<int> seen(static_cast<std::size_t>(n), 0);
    for (std::size_t w = 0; w < p.size(); ++w) {
        if (p[w].empty()) {
            *why = QString("part %1 is empty").arg(w);
            return false;
        }
        for (int i : p[w]) {
            if (i < 0 || i >= n || seen[std::size_t(i)]++) {
                *why = QString("sample %1 out of range or assigned twice").arg(i);
                return false;
            }
        }
    }
    for (int i = 0; i < n; ++i)
        if (!seen[std::size_t(i)]) {
            *why = QString("sample %1 unassigned").arg(i);
            return false;
        }
    return true;
}

/// Label skew: the sample-weighted mean, over parts, of the share of the part's most frequent class
/// (1 = every part holds a single class; 1/classes = perfectly balanced parts).
double dominantClassShare(const Partition& p, const std::vector<std::uint8_t>& labels, int classes)
{
    Dataset d;
    d.labels = labels;
    d.classes = classes;
    const auto h = labelHistogram(p, d);
    double dominant = 0;
    for (const auto& row : h)
        dominant += *std::max_element(row.begin(), row.end());
    return dominant / double(labels.size());
}

/// The statistics of `p` over `labels`.
PartitionStats statsOf(const Partition& p, const std::vector<std::uint8_t>& labels, int classes)
{
    Dataset d;
    d.labels = labels;
    d.classes = classes;
    return partitionStats(labelHistogram(p, d));
}

TrainTest smallData(int train = 400)
{
    SyntheticSpec spec;
    spec.classes = 4;
    spec.features = 8;
    spec.trainSamples = train;
    spec.testSamples = 40;
    return makeSyntheticBlobs(spec, 1);
}

} // namespace

class TestPartition : public QObject {
    Q_OBJECT
private slots:
    void dirichletCoversEverySampleOnce_data()
    {
        QTest::addColumn<bool>("perClass");
        QTest::addColumn<double>("alpha");
        QTest::addColumn<int>("parts");
        for (const bool perClass : {false, true}) {
            const char* kind = perClass ? "per-class" : "hsu";
            QTest::addRow("%s alpha=0.1", kind) << perClass << 0.1 << 20;
            QTest::addRow("%s alpha=1", kind) << perClass << 1.0 << 20;
            QTest::addRow("%s alpha=100", kind) << perClass << 100.0 << 20;
            // per-class: most parts empty before the fix-up; hsu: pools run dry, q underflows at alpha p = 0.001
            QTest::addRow("%s alpha=0.01, one sample per part", kind) << perClass << 0.01 << 1000;
            QTest::addRow("%s alpha=0.05, 700 parts", kind) << perClass << 0.05 << 700;
            QTest::addRow("%s alpha=1e-6, 7 parts", kind) << perClass << 1e-6 << 7;
        }
    }
    void dirichletCoversEverySampleOnce()
    {
        QFETCH(bool, perClass);
        QFETCH(double, alpha);
        QFETCH(int, parts);
        const auto labels = cyclicLabels(1000, 10);
        const auto split = perClass ? partitionDirichletPerClass : partitionDirichlet;
        const Partition p = split(labels, 10, parts, alpha, 7);
        QCOMPARE(int(p.size()), parts);
        QString why;
        QVERIFY2(coversOnce(p, 1000, &why), qPrintable(why));
        QCOMPARE(split(labels, 10, parts, alpha, 7), p); // deterministic for a seed
        QVERIFY(split(labels, 10, parts, alpha, 8) != p); // and seeded
        if (!perClass) // Hsu et al.: sizes floor(N / K) or ceil(N / K), the larger first
            for (int k = 0; k < parts; ++k)
                QCOMPARE(int(p[std::size_t(k)].size()), 1000 / parts + (k < 1000 % parts ? 1 : 0));
    }

    void dirichletIsHsusEqualSizedLabelSkew_data()
    {
        QTest::addColumn<double>("alpha");
        QTest::newRow("alpha=0.1") << 0.1;
        QTest::newRow("alpha=1000") << 1000.0;
    }
    void dirichletIsHsusEqualSizedLabelSkew()
    {
        // 60,000 samples of 10 balanced classes (Fashion-MNIST's training set) over 100 clients: 600 each. At
        // alpha = 1000 each client's mix is close to p = (0.1, ..., 0.1); at alpha = 0.1 (alpha p_c = 0.01) close to
        // one class.
        QFETCH(double, alpha);
        const auto labels = cyclicLabels(60000, 10);
        const Partition p = partitionDirichlet(labels, 10, 100, alpha, 11);
        QString why;
        QVERIFY2(coversOnce(p, 60000, &why), qPrintable(why));
        const PartitionStats s = statsOf(p, labels, 10);
        qInfo("alpha=%g: sizes %g-%g, mean TV %.3f, largest class %.3f", alpha, s.sizeMin, s.sizeMax, s.labelSkew,
              s.largestClassShare);
        QCOMPARE(s.parts, 100);
        QCOMPARE(s.sizeMin, 600.0);
        QCOMPARE(s.sizeMax, 600.0);
        if (alpha > 1) {
            QVERIFY2(s.labelSkew < 0.05, qPrintable(QString::number(s.labelSkew)));
            QVERIFY2(s.largestClassShare < 0.2, qPrintable(QString::number(s.largestClassShare)));
        } else {
            QVERIFY2(s.labelSkew > 0.5, qPrintable(QString::number(s.labelSkew)));
            QVERIFY2(s.largestClassShare > 0.6, qPrintable(QString::number(s.largestClassShare)));
        }
        QVERIFY(partitionDirichlet(labels, 10, 100, alpha, 12) != p);
    }

    void dirichletUnevenClassesAndSizes()
    {
        // 1003 samples (N mod K = 3), class 2 absent and class 0 nine times as frequent as class 1 or 3: every sample
        // once, sizes 101 (3 parts) and 100, no sample of the absent class, and at large alpha each part close to p.
        std::vector<std::uint8_t> labels;
        for (int i = 0; i < 1003; ++i)
            labels.push_back(std::uint8_t(i % 11 < 9 ? 0 : i % 11 == 9 ? 1 : 3));
        const Partition p = partitionDirichlet(labels, 4, 10, 1000.0, 2);
        QString why;
        QVERIFY2(coversOnce(p, 1003, &why), qPrintable(why));
        for (int k = 0; k < 10; ++k)
            QCOMPARE(int(p[std::size_t(k)].size()), k < 3 ? 101 : 100);
        const PartitionStats s = statsOf(p, labels, 4);
        QVERIFY2(s.labelSkew < 0.06, qPrintable(QString::number(s.labelSkew)));
    }

    void dirichletIsFast()
    {
        // 60,000 samples over 1,000 clients: O(N x classes), a few milliseconds (the budget is generous for a
        // shared machine; a quadratic draw would take seconds).
        const auto labels = cyclicLabels(60000, 10);
        QElapsedTimer t;
        t.start();
        const Partition p = partitionDirichlet(labels, 10, 1000, 0.5, 1);
        const qint64 ms = t.elapsed();
        qInfo("60,000 samples over 1,000 clients: %lld ms", ms);
        QCOMPARE(int(p.size()), 1000);
        QVERIFY2(ms < 500, qPrintable(QString("%1 ms").arg(ms)));
    }

    void dirichletPerClassAddsQuantitySkew()
    {
        // The per-class split's part sizes spread widely (quantity skew), the Hsu split's do not.
        const auto labels = cyclicLabels(6000, 10);
        const PartitionStats perClass = statsOf(partitionDirichletPerClass(labels, 10, 20, 0.1, 3), labels, 10);
        const PartitionStats hsu = statsOf(partitionDirichlet(labels, 10, 20, 0.1, 3), labels, 10);
        qInfo("per-class sizes %g-%g, hsu %g-%g", perClass.sizeMin, perClass.sizeMax, hsu.sizeMin, hsu.sizeMax);
        QVERIFY2(perClass.sizeMax > 2 * 300 && perClass.sizeMin < 300 / 2,
                 qPrintable(QString("%1-%2").arg(perClass.sizeMin).arg(perClass.sizeMax)));
        QCOMPARE(hsu.sizeMin, 300.0);
        QCOMPARE(hsu.sizeMax, 300.0);
    }

    void dirichletPerClassSmallAlphaIsMoreSkewed()
    {
        const auto labels = cyclicLabels(6000, 10);
        const double skewed = dominantClassShare(partitionDirichletPerClass(labels, 10, 20, 0.1, 3), labels, 10);
        const double balanced = dominantClassShare(partitionDirichletPerClass(labels, 10, 20, 100.0, 3), labels, 10);
        const double iid = dominantClassShare(partitionIid(6000, 20, 3), labels, 10);
        qInfo("dominant-class share: alpha=0.1 %.3f, alpha=100 %.3f, iid %.3f", skewed, balanced, iid);
        QVERIFY2(skewed > 0.5, qPrintable(QString::number(skewed)));   // parts mostly one or two classes
        QVERIFY2(balanced < 0.2, qPrintable(QString::number(balanced))); // close to 1/10
        QVERIFY(skewed > 3 * balanced);
    }

    void dirichletErrors()
    {
        const auto labels = cyclicLabels(10, 2);
        for (const auto split : {partitionDirichlet, partitionDirichletPerClass}) {
            try {
                split(labels, 2, 3, 0.0, 1);
                QFAIL("no error");
            } catch (const ConfigError& e) {
                QCOMPARE(QString::fromStdString(e.path()), QString("workload.partitioning.alpha"));
            }
            QVERIFY_THROWS_EXCEPTION(ConfigError, split(labels, 2, 3, std::nan(""), 1));
            QVERIFY_THROWS_EXCEPTION(ConfigError, split(labels, 2, 11, 1.0, 1));
            QVERIFY_THROWS_EXCEPTION(std::invalid_argument, split(labels, 1, 2, 1.0, 1)); // label 1 >= 1
        }
    }

    void partitionStatsByHand()
    {
        // counts {{3, 1, 0}, {1, 3, 4}}: sizes 4 and 8; global (4, 4, 4) / 12 = 1/3 each.
        // Part 0: (3/4, 1/4, 0), TV = (5/12 + 1/12 + 4/12) / 2 = 5/12; largest 3/4.
        // Part 1: (1/8, 3/8, 1/2), TV = (5/24 + 1/24 + 4/24) / 2 = 5/24; largest 1/2.
        // Means: TV (10/24 + 5/24) / 2 = 0.3125, largest (0.75 + 0.5) / 2 = 0.625.
        const PartitionStats s = partitionStats({{3, 1, 0}, {1, 3, 4}});
        QCOMPARE(s.parts, 2);
        QCOMPARE(s.sizeMin, 4.0);
        QCOMPARE(s.sizeMax, 8.0);
        QVERIFY2(std::fabs(s.labelSkew - 0.3125) < 1e-12, qPrintable(QString::number(s.labelSkew, 'g', 17)));
        QVERIFY2(std::fabs(s.largestClassShare - 0.625) < 1e-12,
                 qPrintable(QString::number(s.largestClassShare, 'g', 17)));
        // IID rows: distance 0. No rows: all zero.
        const PartitionStats iid = partitionStats({{1, 2}, {2, 4}});
        QCOMPARE(iid.labelSkew, 0.0);
        QCOMPARE(iid.largestClassShare, 2.0 / 3.0);
        const PartitionStats none = partitionStats({});
        QCOMPARE(none.parts, 0);
        QCOMPARE(none.sizeMax, 0.0);
    }

    void shardsAreMcMahansSplit()
    {
        // 1000 samples, 10 classes of 100: 50 parts x 2 shards of 10 samples, each shard within one class.
        const auto labels = cyclicLabels(1000, 10);
        const Partition p = partitionShards(labels, 50, 2, 5);
        QCOMPARE(int(p.size()), 50);
        QString why;
        QVERIFY2(coversOnce(p, 1000, &why), qPrintable(why));
        for (const auto& part : p) {
            QCOMPARE(int(part.size()), 20);
            std::set<int> classes;
            for (int i : part)
                classes.insert(labels[std::size_t(i)]);
            QVERIFY(classes.size() <= 2);
        }
        QCOMPARE(partitionShards(labels, 50, 2, 5), p);
        QVERIFY(partitionShards(labels, 50, 2, 6) != p);
        const double share = dominantClassShare(p, labels, 10);
        QVERIFY(share >= 0.5);
    }

    void shardsUnevenSizes()
    {
        // 103 samples in 7 x 3 = 21 shards: sizes 4 or 5, every sample once, no empty part.
        const auto labels = cyclicLabels(103, 4);
        const Partition p = partitionShards(labels, 7, 3, 1);
        QString why;
        QVERIFY2(coversOnce(p, 103, &why), qPrintable(why));
        for (const auto& part : p)
            QVERIFY(part.size() >= 12 && part.size() <= 15);
        try {
            partitionShards(labels, 7, 15, 1); // 105 shards > 103 samples
            QFAIL("no error");
        } catch (const ConfigError& e) {
            QCOMPARE(QString::fromStdString(e.path()), QString("workload.partitioning.shards_per_client"));
        }
        QVERIFY_THROWS_EXCEPTION(ConfigError, partitionShards(labels, 7, 0, 1));
    }

    void gammaMomentsMatch_data()
    {
        QTest::addColumn<double>("shape");
        QTest::newRow("0.1") << 0.1;
        QTest::newRow("0.5") << 0.5;
        QTest::newRow("1") << 1.0;
        QTest::newRow("4.5") << 4.5;
    }
    void gammaMomentsMatch()
    {
        // Gamma(a, 1): mean a, variance a. 200,000 draws: the standard error of the mean is sqrt(a / 2e5).
        QFETCH(double, shape);
        Rng rng(deriveSeed(9, 1));
        const int n = 200000;
        double sum = 0, sum2 = 0;
        for (int i = 0; i < n; ++i) {
            const double g = std::exp(logGammaVariate(rng, shape));
            sum += g;
            sum2 += g * g;
        }
        const double mean = sum / n, var = sum2 / n - mean * mean;
        QVERIFY2(std::fabs(mean - shape) < 5 * std::sqrt(shape / n), qPrintable(QString("mean %1").arg(mean)));
        QVERIFY2(std::fabs(var - shape) < 0.05 * shape, qPrintable(QString("variance %1").arg(var)));
    }

    void dirichletProportions()
    {
        Rng rng(4);
        for (double alpha : {0.01, 0.3, 50.0}) {
            const auto p = sampleDirichlet(rng, alpha, 1000);
            double sum = 0;
            for (double x : p) {
                QVERIFY(x >= 0 && std::isfinite(x));
                sum += x;
            }
            QVERIFY(std::fabs(sum - 1) < 1e-12);
        }
        QCOMPARE(sampleDirichlet(rng, 0.5, 1), std::vector<double>{1.0});
        // The symmetric form is the vector form with equal concentrations, stream and all.
        Rng a(5), b(5);
        QCOMPARE(sampleDirichlet(a, 0.3, 7), sampleDirichlet(b, std::vector<double>(7, 0.3)));
        // A zero concentration gives a zero proportion.
        const auto z = sampleDirichlet(rng, std::vector<double>{0.5, 0.0, 2.0});
        QCOMPARE(z[1], 0.0);
        QVERIFY(std::fabs(z[0] + z[2] - 1) < 1e-12);
    }

    void makePartitionDispatches()
    {
        const TrainTest data = smallData();
        PartitionSpec spec;
        QCOMPARE(makePartition(spec, data.train, 6, 2), partitionIid(400, 6, 2));
        spec.kind = PartitionSpec::Kind::Dirichlet;
        spec.alpha = 0.3;
        QCOMPARE(makePartition(spec, data.train, 6, 2), partitionDirichlet(data.train.labels, 4, 6, 0.3, 2));
        spec.kind = PartitionSpec::Kind::DirichletPerClass;
        QCOMPARE(makePartition(spec, data.train, 6, 2), partitionDirichletPerClass(data.train.labels, 4, 6, 0.3, 2));
        spec.kind = PartitionSpec::Kind::Shards;
        spec.shardsPerClient = 3;
        QCOMPARE(makePartition(spec, data.train, 6, 2), partitionShards(data.train.labels, 6, 3, 2));
    }

    void batchMustFitEveryWorkersPart()
    {
        checkBatchFits({{1, 2, 3}, {4, 5}}, 2);
        try {
            checkBatchFits({{1, 2, 3}, {4, 5}}, 3);
            QFAIL("no error");
        } catch (const ConfigError& e) {
            QCOMPARE(QString::fromStdString(e.path()), QString("workload.batch_size"));
            QVERIFY(QString(e.what()).contains("part 1"));
        }
    }

    void ringChunksAreNearEqual()
    {
        // 10 elements over 4 ranks: 3, 3, 2, 2, contiguous and covering [0, 10).
        Eigen::Index end = 0;
        const Eigen::Index lengths[] = {3, 3, 2, 2};
        for (int c = 0; c < 4; ++c) {
            const auto [b, e] = ringChunk(10, 4, c);
            QCOMPARE(b, end);
            QCOMPARE(e - b, lengths[c]);
            end = e;
        }
        QCOMPARE(end, Eigen::Index(10));
        QCOMPARE(ringChunk(2, 4, 3), (std::pair<Eigen::Index, Eigen::Index>(2, 2))); // empty chunk when N < P
    }

    void strategyConfigErrors_data()
    {
        QTest::addColumn<int>("kind");
        QTest::addColumn<QString>("field");
        QTest::addColumn<double>("value");
        QTest::addColumn<QString>("path");
        QTest::newRow("C = 0") << int(StrategyKind::FedAvg) << "C" << 0.0 << "strategy.client_fraction";
        QTest::newRow("C > 1") << int(StrategyKind::FedAvg) << "C" << 1.5 << "strategy.client_fraction";
        QTest::newRow("E = 0") << int(StrategyKind::FedAvg) << "E" << 0.0 << "strategy.local_epochs";
        QTest::newRow("mu < 0") << int(StrategyKind::FedAvg) << "mu" << -0.1 << "strategy.prox_mu";
        QTest::newRow("rounds < 0") << int(StrategyKind::FedAvg) << "rounds" << -1.0 << "strategy.rounds";
        QTest::newRow("fedavg K > samples") << int(StrategyKind::FedAvg) << "workers" << 401.0 << "platform.workers";
        QTest::newRow("s < -1") << int(StrategyKind::AsyncPs) << "s" << -2.0 << "strategy.staleness_bound";
        QTest::newRow("b = workers") << int(StrategyKind::SyncPs) << "b" << 4.0 << "strategy.backup_workers";
        QTest::newRow("b < 0") << int(StrategyKind::SyncPs) << "b" << -1.0 << "strategy.backup_workers";
        QTest::newRow("b on async-ps") << int(StrategyKind::AsyncPs) << "b" << 1.0 << "strategy.backup_workers";
        QTest::newRow("deadline < 0") << int(StrategyKind::FedAvg) << "deadline" << -1.0 << "strategy.round_deadline";
        QTest::newRow("target > m") << int(StrategyKind::FedAvg) << "target" << 2.0 << "strategy.target_clients";
        QTest::newRow("target < 0") << int(StrategyKind::FedAvg) << "target" << -1.0 << "strategy.target_clients";
        QTest::newRow("detection 0") << int(StrategyKind::FedAvg) << "detection" << 0.0
                                     << "strategy.failure_detection";
        QTest::newRow("ring batch > shard") << int(StrategyKind::RingAllReduce) << "workers" << 20.0
                                            << "workload.batch_size";
        QTest::newRow("async dirichlet-per-class part < batch")
            << int(StrategyKind::AsyncPs) << "dirichlet-per-class" << 0.05 << "workload.batch_size";
        QTest::newRow("proxy non-iid") << int(StrategyKind::SyncPs) << "proxy-dirichlet" << 1.0
                                       << "workload.partitioning.type";
    }
    void strategyConfigErrors()
    {
        QFETCH(int, kind);
        QFETCH(QString, field);
        QFETCH(double, value);
        QFETCH(QString, path);
        const TrainTest data = smallData();
        StrategySpec spec;
        spec.kind = StrategyKind(kind);
        spec.workers = 4;
        TrainingConfig cfg;
        cfg.batchSize = 25;
        if (field == "C")
            spec.clientFraction = value;
        else if (field == "E")
            spec.localEpochs = int(value);
        else if (field == "mu")
            spec.proxMu = value;
        else if (field == "rounds")
            spec.rounds = int(value);
        else if (field == "workers")
            spec.workers = int(value);
        else if (field == "s")
            spec.stalenessBound = int(value);
        else if (field == "b")
            spec.backupWorkers = int(value);
        else if (field == "deadline")
            spec.roundDeadline = value;
        else if (field == "target")
            spec.targetClients = int(value); // C = 0.1 of 4 clients: m = 1
        else if (field == "detection")
            spec.failureDetection = value;
        else if (field == "dirichlet-per-class") {
            cfg.partition.kind = PartitionSpec::Kind::DirichletPerClass;
            cfg.partition.alpha = value;
        } else if (field == "proxy-dirichlet") {
            cfg.partition.kind = PartitionSpec::Kind::Dirichlet;
            cfg.proxy.parameters = 1000;
        }
        MetricsSink none;
        try {
            makeStrategy(spec, cfg, data, none);
            QFAIL("no error");
        } catch (const ConfigError& e) {
            QCOMPARE(QString::fromStdString(e.path()), path);
        }
    }

    void fedavgAcceptsClientsSmallerThanABatch()
    {
        // 400 samples over K = 200 clients: 2 samples each, batch 32 -> each client trains on its whole part.
        const TrainTest data = smallData();
        StrategySpec spec{StrategyKind::FedAvg, 200};
        TrainingConfig cfg;
        cfg.batchSize = 32;
        cfg.epochs = 3;
        spec.clientFraction = 0.1;
        spec.localEpochs = 2;
        MetricsSink none;
        auto s = makeStrategy(spec, cfg, data, none);
        auto* fed = dynamic_cast<FederatedAveraging*>(s.get());
        QVERIFY(fed);
        QCOMPARE(fed->clientsPerRound(), 20);
        QCOMPARE(fed->plannedRounds(), 15L); // ceil(3 x 200 / (20 x 2))
        const auto sel = fed->sampleClients(1);
        QCOMPARE(int(sel.size()), 20);
        QVERIFY(std::is_sorted(sel.begin(), sel.end()));
        QCOMPARE(int(std::set<int>(sel.begin(), sel.end()).size()), 20); // without replacement
        QCOMPARE(fed->sampleClients(1), sel);                             // seeded
        QVERIFY(fed->sampleClients(2) != sel);
        QCOMPARE(s->roleOf(0), std::string("client"));
        QCOMPARE(s->roleOf(200), std::string("server"));
        QVERIFY(!s->launchedAtStart(0) && s->launchedAtStart(200));
    }
};

QTEST_GUILESS_MAIN(TestPartition)
#include "tst_partition.moc"
