// SPDX-License-Identifier: GPL-3.0-or-later
// algorithms/: gradient check, optimizers, dataset files, partitioning and sampling.
#include "dataset.h"
#include "error.h"
#include "model.h"
#include "optimizer.h"
#include "partition.h"
#include "rng.h"

#include <QTemporaryDir>
#include <QTest>

#include <zlib.h>

#include <cmath>
#include <set>

using namespace dml;

namespace {

/// Writes `bytes` gzip-compressed to `file`.
void writeGz(const QString& file, const std::vector<std::uint8_t>& bytes)
{
    gzFile f = gzopen(file.toLocal8Bit().constData(), "wb");
    QVERIFY(f);
    if (!bytes.empty())
        gzwrite(f, bytes.data(), unsigned(bytes.size()));
    gzclose(f);
}

std::vector<std::uint8_t> idxHeader(std::uint32_t magic, std::vector<std::uint32_t> dims)
{
    std::vector<std::uint8_t> b;
    auto put = [&](std::uint32_t v) {
        for (int s = 24; s >= 0; s -= 8)
            b.push_back(std::uint8_t(v >> s));
    };
    put(magic);
    for (auto d : dims)
        put(d);
    return b;
}

} // namespace

class TestAlgorithms : public QObject {
    Q_OBJECT
private slots:
    void gradientMatchesFiniteDifferences_data()
    {
        QTest::addColumn<QList<int>>("hidden");
        QTest::newRow("logistic") << QList<int>{};
        QTest::newRow("mlp-1") << QList<int>{7};
        QTest::newRow("mlp-2") << QList<int>{6, 5};
    }
    void gradientMatchesFiniteDifferences()
    {
        // Central differences in double precision over a float model: compare each coordinate within 0.3 %
        // (plus an absolute floor for tiny entries), as tiny-dnn's gradient_check does.
        QFETCH(QList<int>, hidden);
        Mlp model(5, std::vector<int>(hidden.begin(), hidden.end()), 3);
        Eigen::VectorXf params(model.numParams()), grad(model.numParams());
        model.initParams(params.data(), 9);
        params.array() += 0.05f; // non-zero biases, so their gradients are exercised too
        Eigen::MatrixXf x = Eigen::MatrixXf::Random(5, 4);
        std::vector<std::uint8_t> y{0, 2, 1, 2};
        model.lossAndGradient(params.data(), x, y.data(), grad.data());
        const float eps = 1e-3f; // small enough not to cross a ReLU kink for this data
        int checked = 0;
        for (Eigen::Index i = 0; i < params.size(); ++i) {
            Eigen::VectorXf p = params, scratch(params.size());
            p[i] = params[i] + eps;
            const double up = model.lossAndGradient(p.data(), x, y.data(), scratch.data());
            p[i] = params[i] - eps;
            const double down = model.lossAndGradient(p.data(), x, y.data(), scratch.data());
            const double numeric = (up - down) / (2.0 * eps);
            QVERIFY2(std::fabs(numeric - grad[i]) <= 3e-3 * std::fabs(numeric) + 3e-4,
                     qPrintable(QString("param %1: analytic %2, numeric %3").arg(i).arg(grad[i]).arg(numeric)));
            ++checked;
        }
        QCOMPARE(checked, int(model.numParams()));
    }

    void flopCountsAreAnalytic()
    {
        // 784-128-10: forward = 2*784*128 + 128 (bias) + 128 (ReLU) + 2*128*10 + 10 + 5*10 (softmax)
        Mlp m(784, {128}, 10);
        QCOMPARE(m.numParams(), Eigen::Index(784 * 128 + 128 + 128 * 10 + 10));
        QCOMPARE(m.forwardFlopsPerSample(), 2.0 * 784 * 128 + 128 + 128 + 2.0 * 128 * 10 + 10 + 50);
        // backward adds dW, db for both layers, and dX (+ ReLU mask) for the second layer only
        QCOMPARE(m.trainFlopsPerSample(), m.forwardFlopsPerSample() + 2.0 * 784 * 128 + 128 + 2.0 * 128 * 10 + 10 +
                                              2.0 * 128 * 10 + 128 + 10);
    }

    void evaluateCountsCorrect()
    {
        Mlp m(2, {}, 2);
        // W = identity, b = 0: predicts the larger coordinate.
        Eigen::VectorXf p(6);
        p << 1, 0, 0, 1, 0, 0;
        Eigen::MatrixXf x(2, 3);
        x << 1, 0, 3, 0, 2, 1;
        std::vector<std::uint8_t> y{0, 1, 1};
        const auto [loss, correct] = m.evaluate(p.data(), x, y.data());
        QCOMPARE(correct, 2);
        QVERIFY(loss > 0);
    }

    void lossIsLogSumExp_data()
    {
        QTest::addColumn<double>("z0");
        QTest::addColumn<double>("z1");
        QTest::addColumn<int>("label");
        // -log(max(softmax, 1e-30)) gave 69.08 nats here: softmax(z)_1 underflows to 0.
        QTest::newRow("huge margin, wrong label") << 1000.0 << 0.0 << 1;
        QTest::newRow("huge margin, right label") << 1000.0 << 0.0 << 0;
        QTest::newRow("both very negative") << -1000.0 << -1001.0 << 1;
        QTest::newRow("moderate") << 2.5 << -1.0 << 1;
        QTest::newRow("tie") << 0.0 << 0.0 << 0;
    }
    void lossIsLogSumExp()
    {
        // Logistic regression 2 -> 2 with W = identity, b = 0: the logits are the inputs. The reference is
        // log-sum-exp in double; the gradient stays softmax(z) - onehot (times x for W).
        QFETCH(double, z0);
        QFETCH(double, z1);
        QFETCH(int, label);
        Mlp m(2, {}, 2);
        Eigen::VectorXf p(6), grad(6);
        p << 1, 0, 0, 1, 0, 0;
        Eigen::MatrixXf x(2, 1);
        x << float(z0), float(z1);
        const std::uint8_t y = std::uint8_t(label);
        const double z[2] = {z0, z1}, top = std::max(z0, z1);
        const double lse = top + std::log(std::exp(z0 - top) + std::exp(z1 - top));
        const double expected = lse - z[label];
        const double tol = 1e-6 * std::max(1.0, expected);
        const float loss = m.lossAndGradient(p.data(), x, &y, grad.data());
        QVERIFY2(std::isfinite(loss) && std::fabs(loss - expected) <= tol,
                 qPrintable(QString("loss %1 nats, expected %2").arg(loss, 0, 'g', 9).arg(expected, 0, 'g', 9)));
        const auto [evalLoss, correct] = m.evaluate(p.data(), x, &y);
        QVERIFY2(std::fabs(evalLoss - expected) <= tol, qPrintable(QString("evaluate: %1").arg(evalLoss)));
        QCOMPARE(correct, int(z[label] > z[1 - label] || (z0 == z1 && label == 0)));
        for (int k = 0; k < 2; ++k) {
            const double dz = std::exp(z[k] - lse) - (k == label ? 1.0 : 0.0);
            for (int i = 0; i < 2; ++i) // W is column-major: W(k, i) at 2 i + k
                QVERIFY(std::fabs(grad[2 * i + k] - dz * z[i]) <= 1e-6 * std::max(1.0, std::fabs(dz * z[i])));
            QVERIFY(std::fabs(grad[4 + k] - dz) <= 1e-6);
        }
    }

    void sgdAndMomentum()
    {
        Eigen::VectorXf p(2), g(2);
        p << 1, 2;
        g << 0.5, -1;
        OptimizerSpec s;
        s.kind = OptimizerSpec::Kind::Momentum;
        s.learningRate = 0.1f;
        s.momentum = 0.5f;
        Optimizer o(s, 2);
        o.step(p.data(), g.data()); // v = g, p -= 0.1 v
        o.step(p.data(), g.data()); // v = 0.5 g + g = 1.5 g, p -= 0.15 g
        QVERIFY(std::fabs(p[0] - (1 - 0.25f * 0.5f)) < 1e-6f);
        QVERIFY(std::fabs(p[1] - (2 + 0.25f)) < 1e-6f);
        QCOMPARE(o.flopsPerStep(), 8.0);
    }

    void adamFirstStepIsSignTimesLearningRate()
    {
        // With bias correction, Adam's first step is lr * g / (|g| + eps'), i.e. lr * sign(g).
        Eigen::VectorXf p = Eigen::VectorXf::Zero(3), g(3);
        g << 3, -0.2f, 1e-3f;
        OptimizerSpec s;
        s.kind = OptimizerSpec::Kind::Adam;
        s.learningRate = 0.01f;
        Optimizer o(s, 3);
        o.step(p.data(), g.data());
        QVERIFY(std::fabs(p[0] + 0.01f) < 1e-6f);
        QVERIFY(std::fabs(p[1] - 0.01f) < 1e-6f);
        QVERIFY(std::fabs(p[2] + 0.01f) < 1e-5f);
    }

    void optimizerMatchesDoubleReference_data()
    {
        QTest::addColumn<int>("kind"); // OptimizerSpec::Kind
        QTest::addColumn<float>("lr");
        QTest::addColumn<float>("a"); // momentum, or beta1
        QTest::addColumn<float>("b"); // beta2
        QTest::addColumn<float>("eps");
        QTest::newRow("sgd") << int(OptimizerSpec::Kind::Sgd) << 0.05f << 0.0f << 0.0f << 0.0f;
        QTest::newRow("momentum 0.9") << int(OptimizerSpec::Kind::Momentum) << 0.01f << 0.9f << 0.0f << 0.0f;
        QTest::newRow("momentum 0.5") << int(OptimizerSpec::Kind::Momentum) << 0.03f << 0.5f << 0.0f << 0.0f;
        QTest::newRow("adam defaults") << int(OptimizerSpec::Kind::Adam) << 0.001f << 0.9f << 0.999f << 1e-8f;
        // epsilon of the order of sqrt(v_hat) for the parameters with tiny gradients: its placement matters
        QTest::newRow("adam eps 1e-3") << int(OptimizerSpec::Kind::Adam) << 0.002f << 0.8f << 0.99f << 1e-3f;
    }
    void optimizerMatchesDoubleReference()
    {
        // 300 steps on a fixed, seeded sequence of gradients; after every step, every parameter is compared
        // with an independent double-precision reference written from the papers:
        //  - Sgd:      p <- p - lr g
        //  - Momentum: v <- mu v + g, p <- p - lr v (Optimizer's documented form, PyTorch's SGD with momentum)
        //  - Adam:     Kingma & Ba 2015, Algorithm 1: m <- b1 m + (1 - b1) g, v <- b2 v + (1 - b2) g^2,
        //              m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t), p <- p - lr m_hat / (sqrt(v_hat) + eps)
        // The bias corrections change at every step, so an optimizer whose step count t is frozen (at 1, or at any
        // value) fails from the first step after. Tolerance: 1e-5 relative to max(1, |p|) (float state).
        QFETCH(int, kind);
        QFETCH(float, lr);
        QFETCH(float, a);
        QFETCH(float, b);
        QFETCH(float, eps);
        OptimizerSpec s;
        s.kind = OptimizerSpec::Kind(kind);
        s.learningRate = lr;
        if (s.kind == OptimizerSpec::Kind::Momentum)
            s.momentum = a;
        if (s.kind == OptimizerSpec::Kind::Adam) {
            s.beta1 = a;
            s.beta2 = b;
            s.epsilon = eps;
        }
        constexpr int n = 37, steps = 300; // n: not a multiple of the SIMD width, so the loops' tails run too
        Optimizer opt(s, n);
        Rng rng(2015);
        Eigen::VectorXf p(n), g(n);
        Eigen::VectorXd p0(n), ref(n), m = Eigen::VectorXd::Zero(n), v = Eigen::VectorXd::Zero(n), mean(n), scale(n);
        for (int i = 0; i < n; ++i) {
            p[i] = float(1.0 + rng.uniform()); // in [1, 2)
            ref[i] = p0[i] = p[i];
            mean[i] = rng.uniform() - 0.5;                   // each coordinate drifts its own way
            scale[i] = i % 5 == 0 ? 1e-4 : 0.2 + rng.uniform(); // some tiny gradients, where eps matters
        }
        const double lrd = s.learningRate, mu = s.momentum, b1 = s.beta1, b2 = s.beta2, epsd = s.epsilon;
        double worst = 0;
        for (int t = 1; t <= steps; ++t) {
            for (int i = 0; i < n; ++i)
                g[i] = float(scale[i] * (mean[i] + rng.uniform() - 0.5));
            opt.step(p.data(), g.data());
            for (int i = 0; i < n; ++i) {
                const double gi = g[i]; // the reference sees exactly the gradients the optimizer saw
                switch (s.kind) {
                case OptimizerSpec::Kind::Sgd:
                    ref[i] -= lrd * gi;
                    break;
                case OptimizerSpec::Kind::Momentum:
                    m[i] = mu * m[i] + gi;
                    ref[i] -= lrd * m[i];
                    break;
                case OptimizerSpec::Kind::Adam: {
                    m[i] = b1 * m[i] + (1 - b1) * gi;
                    v[i] = b2 * v[i] + (1 - b2) * gi * gi;
                    const double mHat = m[i] / (1 - std::pow(b1, t)), vHat = v[i] / (1 - std::pow(b2, t));
                    ref[i] -= lrd * mHat / (std::sqrt(vHat) + epsd);
                    break;
                }
                }
                const double err = std::fabs(p[i] - ref[i]) / std::max(1.0, std::fabs(ref[i]));
                worst = std::max(worst, err);
                if (err > 1e-5)
                    QFAIL(qPrintable(QString("step %1, parameter %2: %3, reference %4")
                                         .arg(t).arg(i).arg(p[i], 0, 'g', 9).arg(ref[i], 0, 'g', 9)));
            }
        }
        // The parameters moved far beyond the tolerance, so the comparison had something to see.
        const double moved = (p.cast<double>() - p0).cwiseAbs().maxCoeff();
        QVERIFY2(moved > 0.1, qPrintable(QString("largest move %1").arg(moved)));
        qDebug("largest relative error %.2g over %d steps; largest move %.3f", worst, steps, moved);
    }

    void idxRoundTrip()
    {
        QTemporaryDir dir;
        auto img = idxHeader(0x803, {2, 2, 3});
        for (int i = 0; i < 12; ++i)
            img.push_back(std::uint8_t(i * 20));
        writeGz(dir.filePath("img.gz"), img);
        const Eigen::MatrixXf m = readIdxImages(dir.filePath("img.gz").toStdString());
        QCOMPARE(m.rows(), Eigen::Index(6));
        QCOMPARE(m.cols(), Eigen::Index(2));
        QCOMPARE(m(1, 0), 20.0f / 255.0f);
        QCOMPARE(m(0, 1), 120.0f / 255.0f);
        auto lbl = idxHeader(0x801, {3});
        lbl.insert(lbl.end(), {4, 0, 9});
        writeGz(dir.filePath("lbl.gz"), lbl);
        QCOMPARE(readIdxLabels(dir.filePath("lbl.gz").toStdString()), (std::vector<std::uint8_t>{4, 0, 9}));
    }

    void idxErrorsNameTheFile_data()
    {
        QTest::addColumn<QByteArray>("kind");
        QTest::addColumn<QString>("expected");
        QTest::newRow("missing") << QByteArray("missing") << "file not found";
        QTest::newRow("wrong magic") << QByteArray("magic") << "wrong magic number 0x00000801";
        QTest::newRow("truncated header") << QByteArray("short") << "truncated";
        QTest::newRow("truncated pixels") << QByteArray("pixels") << "truncated";
    }
    void idxErrorsNameTheFile()
    {
        QFETCH(QByteArray, kind);
        QFETCH(QString, expected);
        QTemporaryDir dir;
        const QString file = dir.filePath("train-images-idx3-ubyte.gz");
        if (kind == "magic")
            writeGz(file, idxHeader(0x801, {1, 1, 1}));
        else if (kind == "short")
            writeGz(file, {0, 0, 8});
        else if (kind == "pixels") {
            auto b = idxHeader(0x803, {10, 28, 28});
            b.resize(b.size() + 100);
            writeGz(file, b);
        }
        try {
            readIdxImages(file.toStdString());
            QFAIL("no error");
        } catch (const DatasetError& e) {
            QCOMPARE(QString::fromStdString(e.file()), file);
            QVERIFY2(QString(e.what()).startsWith(file) && QString(e.what()).contains(expected), e.what());
        }
    }

    void fashionMnistMissingDirectoryNamesFile()
    {
        try {
            loadFashionMnist("/nonexistent/fashion");
            QFAIL("no error");
        } catch (const DatasetError& e) {
            QCOMPARE(QString::fromStdString(e.file()), QString("/nonexistent/fashion/train-images-idx3-ubyte.gz"));
        }
    }

    void iidPartitionCoversEverySampleOnce()
    {
        const Partition p = partitionIid(103, 8, 5);
        QCOMPARE(int(p.size()), 8);
        std::set<int> seen;
        for (const auto& shard : p) {
            QVERIFY(shard.size() == 12 || shard.size() == 13);
            for (int i : shard)
                QVERIFY(seen.insert(i).second);
        }
        QCOMPARE(int(seen.size()), 103);
        QCOMPARE(partitionIid(103, 8, 5), p);      // deterministic
        QVERIFY(partitionIid(103, 8, 6) != p);     // and seeded
        QVERIFY_THROWS_EXCEPTION(ConfigError, partitionIid(3, 4, 1));
    }

    void samplerVisitsShardOncePerEpoch()
    {
        std::vector<int> shard(50);
        for (int i = 0; i < 50; ++i)
            shard[std::size_t(i)] = 100 + i;
        BatchSampler s(shard, 8, 77);
        QCOMPARE(s.batchesPerEpoch(), 6); // 48 samples, the tail of 2 dropped
        std::multiset<int> epoch1, epoch2;
        for (int b = 0; b < 6; ++b) {
            const int* idx = s.next();
            epoch1.insert(idx, idx + 8);
        }
        QCOMPARE(s.epoch(), 1);
        for (int b = 0; b < 6; ++b) {
            const int* idx = s.next();
            epoch2.insert(idx, idx + 8);
        }
        QCOMPARE(s.epoch(), 2);
        QCOMPARE(int(std::set<int>(epoch1.begin(), epoch1.end()).size()), 48); // no repeats within an epoch
        QVERIFY(epoch1 != epoch2);                                             // reshuffled
        QVERIFY_THROWS_EXCEPTION(ConfigError, BatchSampler(shard, 51, 1));
    }

    void syntheticIsSeeded()
    {
        SyntheticSpec spec;
        spec.trainSamples = 50;
        spec.testSamples = 10;
        const TrainTest a = makeSyntheticBlobs(spec, 1), b = makeSyntheticBlobs(spec, 1), c = makeSyntheticBlobs(spec, 2);
        QCOMPARE(a.train.features, b.train.features);
        QVERIFY(a.train.features != c.train.features);
        QCOMPARE(a.train.numFeatures(), 32);
        QCOMPARE(int(a.test.labels.size()), 10);
    }
};

QTEST_GUILESS_MAIN(TestAlgorithms)
#include "tst_algorithms.moc"
