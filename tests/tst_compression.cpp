// SPDX-License-Identifier: GPL-3.0-or-later
// algorithms/compression/: gradient compressors, error feedback, DGC's momentum correction, PowerSGD.
#include "compression/compressor.h"
#include "compression/dgc.h"
#include "compression/errorfeedback.h"
#include "compression/halfprecision.h"
#include "compression/powersgd.h"
#include "compression/qsgd.h"
#include "compression/signsgd.h"
#include "compression/sparsify.h"
#include "rng.h"

#include <Eigen/SVD>
#include <QTest>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <numeric>

using namespace dml;
using namespace dml::compression;

namespace {

/// n standard normals from `seed` (Rng: the same on every platform).
Eigen::VectorXf gaussian(Eigen::Index n, std::uint64_t seed, float scale = 1.0f)
{
    Rng rng(seed);
    Eigen::VectorXf v(n);
    for (Eigen::Index i = 0; i < n; ++i)
        v[i] = scale * float(rng.normal());
    return v;
}

Eigen::MatrixXf gaussianMatrix(Eigen::Index rows, Eigen::Index cols, std::uint64_t seed)
{
    return gaussian(rows * cols, seed).reshaped(rows, cols);
}

/// The compressors the data-driven tests run over, by name.
std::unique_ptr<Compressor> make(const QString& name)
{
    if (name == "none")
        return std::make_unique<NoCompression>();
    if (name == "topk")
        return std::make_unique<TopK>(Keep::ratio(0.05));
    if (name == "randomk")
        return std::make_unique<RandomK>(Keep::ratio(0.05));
    if (name == "randomk-shared")
        return std::make_unique<RandomK>(Keep::exactly(7), true);
    if (name == "qsgd-8bit")
        return std::make_unique<Qsgd>(Qsgd::levelsForBits(8));
    if (name == "qsgd-s5-bucket64")
        return std::make_unique<Qsgd>(5, 64);
    if (name == "qsgd-s1")
        return std::make_unique<Qsgd>(1);
    if (name == "sign")
        return std::make_unique<SignCompressor>(SignCompressor::Scale::None);
    if (name == "sign-meanabs")
        return std::make_unique<SignCompressor>(SignCompressor::Scale::MeanAbs);
    if (name == "fp16")
        return std::make_unique<Fp16>();
    if (name == "bf16")
        return std::make_unique<Bf16>();
    return nullptr;
}

const QStringList kAll = {"none", "topk", "randomk", "randomk-shared", "qsgd-8bit", "qsgd-s5-bucket64", "qsgd-s1",
                          "sign", "sign-meanabs", "fp16", "bf16"};

/// The k indices of largest |x|, lower index first among equal magnitudes, ascending: the definition, by sorting.
std::vector<std::uint32_t> referenceTopK(const Eigen::VectorXf& x, Eigen::Index k)
{
    std::vector<std::uint32_t> order(std::size_t(x.size()));
    std::iota(order.begin(), order.end(), 0u);
    std::stable_sort(order.begin(), order.end(),
                     [&](std::uint32_t a, std::uint32_t b) { return std::fabs(x[a]) > std::fabs(x[b]); });
    order.resize(std::size_t(k));
    std::sort(order.begin(), order.end());
    return order;
}

} // namespace

class TestCompression : public QObject {
    Q_OBJECT
private slots:
    // ---- top-k and random-k ------------------------------------------------------------------------------------

    void topKKeepsExactlyTheLargest_data()
    {
        QTest::addColumn<int>("n");
        QTest::addColumn<int>("k");
        QTest::addColumn<int>("distinct"); // 0: continuous values; > 0: magnitudes from this many levels (ties)
        QTest::newRow("small") << 50 << 7 << 0;
        QTest::newRow("k=1") << 1000 << 1 << 0;
        QTest::newRow("k=n") << 100 << 100 << 0;
        QTest::newRow("small-ties") << 64 << 10 << 3;
        QTest::newRow("large-sampled") << 400000 << 4000 << 0;      // the strided-sample candidate path
        QTest::newRow("large-sampled-ties") << 400000 << 4000 << 50;
        QTest::newRow("large-fallback") << 400000 << 100000 << 0;   // k > n / 8: full selection
    }
    void topKKeepsExactlyTheLargest()
    {
        QFETCH(int, n);
        QFETCH(int, k);
        QFETCH(int, distinct);
        Eigen::VectorXf x = gaussian(n, 11);
        if (distinct > 0) { // magnitudes from a few levels, random signs: many ties at the threshold
            Rng rng(12);
            for (int i = 0; i < n; ++i)
                x[i] = float(1 + rng.below(std::uint64_t(distinct))) * (rng.below(2) ? 1.0f : -1.0f);
        }
        const TopK topk(Keep::exactly(k));
        const Encoded e = topk.encode(x, 0);
        std::vector<std::uint32_t> idx;
        topk.indices(e, idx);
        QCOMPARE(idx, referenceTopK(x, k));
        const Eigen::VectorXf d = topk.decode(e);
        Eigen::VectorXf expected = Eigen::VectorXf::Zero(n);
        for (std::uint32_t i : idx)
            expected[i] = x[i];
        QVERIFY(d == expected); // kept values exact, the rest zero
    }

    void topKWhenTheSampleMisleads()
    {
        // A strided sample sees only the large elements at multiples of the stride: the candidate threshold is too
        // high and the full selection must take over. And the converse: a sample of zeros gives a threshold of 0.
        const Eigen::Index n = 1 << 20, stride = n / (1 << 15);
        Eigen::VectorXf x = gaussian(n, 3, 1e-3f);
        for (Eigen::Index i = 0; i < n; i += stride)
            x[i] = 100.0f + float(i) * 1e-6f;
        const TopK topk(Keep::exactly(50000));
        std::vector<std::uint32_t> idx;
        topk.indices(topk.encode(x, 0), idx);
        QCOMPARE(idx, referenceTopK(x, 50000));
        Eigen::VectorXf y = gaussian(n, 4);
        for (Eigen::Index i = 0; i < n; i += stride)
            y[i] = 0.0f;
        topk.indices(topk.encode(y, 0), idx);
        QCOMPARE(idx, referenceTopK(y, 50000));
    }

    void keepCounts()
    {
        QCOMPARE(TopK(Keep::ratio(0.01)).keep(10'000'000), Eigen::Index(100'000));
        QCOMPARE(TopK(Keep::ratio(0.01)).keep(10), Eigen::Index(1)); // at least one
        QCOMPARE(TopK(Keep::exactly(5)).keep(3), Eigen::Index(3));
        QCOMPARE(TopK(Keep::exactly(5)).keep(0), Eigen::Index(0));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, TopK(Keep::ratio(0.0)));
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, TopK(Keep::ratio(1.5)));
    }

    void randomKDrawsDistinctUniformIndices()
    {
        // n = 20, k = 5, 4000 seeds: each index is kept with probability 1/4; its count is Binomial(4000, 1/4),
        // standard deviation 27.4. Allow 5 standard deviations (a fair draw fails with probability < 2e-5).
        const RandomK rk(Keep::exactly(5));
        std::vector<int> hits(20, 0);
        std::vector<std::uint32_t> idx;
        for (std::uint64_t s = 0; s < 4000; ++s) {
            rk.drawIndices(20, deriveSeed(99, s), idx);
            QCOMPARE(idx.size(), std::size_t(5));
            QVERIFY(std::is_sorted(idx.begin(), idx.end()));
            QVERIFY(std::adjacent_find(idx.begin(), idx.end()) == idx.end());
            for (auto i : idx)
                ++hits[i];
        }
        for (int h : hits)
            QVERIFY2(std::abs(h - 1000) <= 137, qPrintable(QString("index kept %1 times of 4000").arg(h)));
    }

    void randomKSharedSeedIsSummable()
    {
        // Ranks that share the step's seed keep the same indices: the sum of their encodings is the encoding of
        // their sum, and only the values are sent.
        const RandomK shared(Keep::ratio(0.1), true);
        const Eigen::VectorXf a = gaussian(300, 1), b = gaussian(300, 2);
        const Encoded ea = shared.encode(a, 42), eb = shared.encode(b, 42);
        QCOMPARE(ea.bytes(), 4.0 * 30);
        Encoded s;
        const Encoded* parts[] = {&ea, &eb};
        shared.sum(parts, s);
        QVERIFY(shared.decode(s) == shared.decode(shared.encode(a + b, 42)));
        const Encoded ec = shared.encode(b, 43);
        const Encoded* mixed[] = {&ea, &ec};
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, shared.sum(mixed, s));
        QVERIFY(!RandomK(Keep::ratio(0.1)).summable());
        QVERIFY_THROWS_EXCEPTION(std::logic_error, RandomK(Keep::ratio(0.1)).sum(parts, s));
    }

    // ---- error feedback and DGC ---------------------------------------------------------------------------------

    void errorFeedbackLosesNothing_data()
    {
        QTest::addColumn<QString>("compressor");
        // Error feedback needs a contraction, E||C(x) - x||^2 <= (1 - delta) ||x||^2 (Karimireddy et al. 2019's
        // delta-approximate compressor): QSGD with s = 127 on n = 2000 is one (Lemma 3.1: sqrt(n) / s = 0.35), with s = 1 it is not
        // and the residual grows without bound.
        for (const char* c : {"topk", "randomk", "qsgd-8bit", "sign-meanabs", "bf16"})
            QTest::newRow(c) << QString(c);
    }
    void errorFeedbackLosesNothing()
    {
        // sum_t decode(C(g_t + e_t)) + e_T = sum_t g_t (Stich et al. 2018, Karimireddy et al. 2019). Reference sums
        // in double; tolerance: float rounding of T steps of additions, relative to the sum of |g_t|.
        QFETCH(QString, compressor);
        const auto c = make(compressor);
        const Eigen::Index n = 2000;
        const int T = 50;
        ErrorFeedback ef;
        Eigen::VectorXd sent = Eigen::VectorXd::Zero(n), raw = Eigen::VectorXd::Zero(n), absSum = raw;
        Encoded e;
        Eigen::VectorXf d;
        for (int t = 0; t < T; ++t) {
            const Eigen::VectorXf g = gaussian(n, 100 + t);
            ef.step(*c, g, deriveSeed(5, 0, t), e, d);
            sent += d.cast<double>();
            raw += g.cast<double>();
            absSum += g.cast<double>().cwiseAbs();
        }
        const Eigen::VectorXd gap = sent + ef.residual().cast<double>() - raw;
        const double worst = (gap.cwiseAbs().array() / (absSum.array() + 1.0)).maxCoeff();
        QVERIFY2(worst < 1e-5, qPrintable(QString("relative gap %1").arg(worst)));
        // the residual is not trivially zero (the compressor does drop something)
        QVERIFY(ef.residual().norm() > 1e-3f);
    }

    void sparseErrorFeedbackEqualsDecodeAndSubtract()
    {
        // stepSparse's shortcut (the residual is p with the kept elements zeroed) against step's decode and
        // subtraction, bit for bit over 20 steps, for top-k and for random-k with per-rank and shared seeds.
        for (const char* name : {"topk", "randomk", "randomk-shared"}) {
            std::unique_ptr<Sparsifier> c;
            if (QString(name) == "topk")
                c = std::make_unique<TopK>(Keep::ratio(0.05));
            else
                c = std::make_unique<RandomK>(Keep::ratio(0.05), QString(name) == "randomk-shared");
            ErrorFeedback full, fast;
            Encoded a, b;
            Eigen::VectorXf d;
            for (int t = 0; t < 20; ++t) {
                const Eigen::VectorXf g = gaussian(3000, 400 + t);
                full.step(*c, g, deriveSeed(9, 1, t), a, d);
                fast.stepSparse(*c, g, deriveSeed(9, 1, t), b);
                QVERIFY2(a.payload == b.payload, name);
                QVERIFY2(full.residual().size() == fast.residual().size() &&
                             std::memcmp(full.residual().data(), fast.residual().data(),
                                         sizeof(float) * std::size_t(full.residual().size())) == 0,
                         qPrintable(QString("%1, step %2").arg(name).arg(t)));
            }
        }
    }

    void dgcWithoutMomentumIsTopKWithErrorFeedback()
    {
        const TopK topk(Keep::ratio(0.02));
        MomentumCorrection dgc(0.0f);
        ErrorFeedback ef;
        Encoded e1, e2;
        Eigen::VectorXf d1, d2;
        for (int t = 0; t < 20; ++t) {
            const Eigen::VectorXf g = gaussian(1000, 200 + t);
            dgc.step(topk, g, 0, e1, d1);
            ef.step(topk, g, 0, e2, d2);
            QCOMPARE(e1.payload, e2.payload);
        }
        QVERIFY(dgc.accumulated() == ef.residual());
    }

    void dgcMomentumCorrectionAndMasking()
    {
        // Lin et al. 2018, Sec. 3.2-3.3: u = m u + g, v = v + u, send top-k of v, zero u and v where sent.
        // A reference without the library: per rank, sum of sent + v_T = sum of u_t (u_t before masking).
        const float m = 0.9f;
        const TopK topk(Keep::ratio(0.05));
        MomentumCorrection dgc(m);
        const Eigen::Index n = 500;
        Eigen::VectorXf u = Eigen::VectorXf::Zero(n), v = u, d;
        Eigen::VectorXd sent = Eigen::VectorXd::Zero(n), usum = sent;
        Encoded e;
        std::vector<std::uint32_t> idx;
        for (int t = 0; t < 30; ++t) {
            const Eigen::VectorXf g = gaussian(n, 300 + t);
            u = m * u + g;
            v += u;
            usum += u.cast<double>();
            dgc.step(topk, g, 0, e, d);
            topk.indices(e, idx);
            QCOMPARE(idx, referenceTopK(v, topk.keep(n))); // it sparsified the momentum-corrected v
            for (auto i : idx) {
                QCOMPARE(d[i], v[i]);
                u[i] = v[i] = 0.0f; // momentum factor masking
                QCOMPARE(dgc.velocity()[i], 0.0f);
                QCOMPARE(dgc.accumulated()[i], 0.0f);
            }
            sent += d.cast<double>();
            QVERIFY((dgc.velocity() - u).cwiseAbs().maxCoeff() < 1e-5f);
        }
        const double gap = (sent + dgc.accumulated().cast<double>() - usum).cwiseAbs().maxCoeff();
        QVERIFY2(gap < 1e-3, qPrintable(QString("gap %1").arg(gap)));
    }

    // ---- QSGD ---------------------------------------------------------------------------------------------------

    void qsgdIsUnbiased_data()
    {
        QTest::addColumn<int>("s");
        QTest::addColumn<int>("bucket");
        QTest::newRow("s=1") << 1 << 0;
        QTest::newRow("s=4") << 4 << 0;
        QTest::newRow("s=127") << 127 << 0;
        QTest::newRow("s=3,bucket=100") << 3 << 100;
    }
    void qsgdIsUnbiased()
    {
        // Lemma 3.1 (Alistarh et al. 2017): E[Q(v)] = v and E||Q(v) - v||^2 <= B = min(n/s^2, sqrt(n)/s) ||v||^2
        // (per bucket, summed). Element i's rounding is a Bernoulli(p_i) step of ||v||/s, so the exact variance is
        // V = sum_i (||v||/s)^2 p_i (1 - p_i) <= B. The mean m of N independent encodings has E||m - v||^2 = V/N
        // if and only if the quantizer is unbiased (a bias b adds ||b||^2). By Chebyshev, with m_i - v_i close to
        // normal, P(||m - v||^2 > 1.5 V/N) <= 8 sum sigma_i^4 / (sum sigma_i^2)^2 =: delta, computed and required
        // to be below 2 %: a failure is then a bias (or a broken stream), not bad luck.
        QFETCH(int, s);
        QFETCH(int, bucket);
        const Eigen::Index n = 2000;
        const int N = 20000;
        const Qsgd q(s, bucket);
        Eigen::VectorXf v = gaussian(n, 7);
        v.head(10) *= 5.0f; // a few large elements, as in gradients
        const Eigen::Index d = bucket ? bucket : n;
        double V = 0, B = 0, sig2 = 0, sig4 = 0;
        for (Eigen::Index b0 = 0; b0 < n; b0 += d) {
            const Eigen::VectorXd vb = v.segment(b0, std::min(d, n - b0)).cast<double>();
            const double norm = vb.norm(), nb = double(vb.size());
            B += std::min(nb / s / s, std::sqrt(nb) / s) * norm * norm;
            for (double x : vb) {
                const double r = std::fabs(x) * s / norm, p = r - std::floor(r);
                const double var = (norm / s) * (norm / s) * p * (1 - p);
                V += var;
                sig2 += var;
                sig4 += var * var;
            }
        }
        const double delta = 8.0 * sig4 / (sig2 * sig2);
        QVERIFY2(delta < 0.02, qPrintable(QString("Chebyshev bound %1 too loose for this test").arg(delta)));
        QVERIFY(V <= B * (1 + 1e-9));
        Eigen::VectorXd mean = Eigen::VectorXd::Zero(n);
        double meanSqErr = 0;
        for (int j = 0; j < N; ++j) {
            const Eigen::VectorXf x = q.decode(q.encode(v, deriveSeed(1234, j)));
            mean += x.cast<double>();
            meanSqErr += (x - v).cast<double>().squaredNorm() / N;
        }
        mean /= N;
        const double err = (mean - v.cast<double>()).squaredNorm();
        QVERIFY2(err <= 1.5 * V / N,
                 qPrintable(QString("||mean - v||^2 = %1, V/N = %2 (B/N = %3)").arg(err).arg(V / N).arg(B / N)));
        // the measured variance matches the exact one (N samples: within 10 %) and so respects Lemma 3.1's bound
        QVERIFY2(std::fabs(meanSqErr - V) <= 0.1 * V, qPrintable(QString("variance %1, exact %2").arg(meanSqErr).arg(V)));
    }

    void qsgdBytesAndLevels_data()
    {
        QTest::addColumn<int>("s");
        QTest::addColumn<int>("bucket");
        QTest::addColumn<int>("n");
        QTest::addColumn<int>("bits");  // per element, sign included
        QTest::addColumn<int>("bytes"); // 4 * buckets + ceil(n bits / 8)
        QTest::newRow("8-bit") << 127 << 0 << 1000 << 8 << 4 + 1000;
        QTest::newRow("4-bit") << 7 << 0 << 1001 << 4 << 4 + 501;
        QTest::newRow("s=1") << 1 << 0 << 999 << 2 << 4 + 250;
        QTest::newRow("s=5") << 5 << 0 << 10 << 4 << 4 + 5;
        QTest::newRow("s=255") << 255 << 0 << 100 << 9 << 4 + 113;
        QTest::newRow("s=8,bucket=512") << 8 << 512 << 1025 << 5 << 12 + 641;
        QTest::newRow("s=127,bucket=64") << 127 << 64 << 64 << 8 << 4 + 64;
    }
    void qsgdBytesAndLevels()
    {
        QFETCH(int, s);
        QFETCH(int, bucket);
        QFETCH(int, n);
        QFETCH(int, bits);
        QFETCH(int, bytes);
        const Qsgd q(s, bucket);
        QCOMPARE(q.bitsPerElement(), bits);
        QCOMPARE(q.encodedBytes(n), double(bytes));
        const Eigen::VectorXf v = gaussian(n, 8);
        const Encoded e = q.encode(v, 1);
        QCOMPARE(e.bytes(), double(bytes));
        // every decoded element is ||bucket|| l / s with l one of the two levels around |v_i| s / ||bucket||
        const Eigen::VectorXf x = q.decode(e);
        const Eigen::Index d = bucket ? bucket : n;
        for (Eigen::Index i = 0; i < n; ++i) {
            const double norm = v.segment(i / d * d, std::min(d, n - i / d * d)).cast<double>().norm();
            const double r = std::fabs(v[i]) * s / norm, l = std::fabs(x[i]) * s / norm;
            QVERIFY2(std::fabs(l - std::round(l)) < 1e-3 && std::round(l) >= std::floor(r) - 1e-9 &&
                         std::round(l) <= std::floor(r) + 1,
                     qPrintable(QString("element %1: level %2 for r = %3").arg(i).arg(l).arg(r)));
            QVERIFY(x[i] == 0.0f || (x[i] < 0) == (v[i] < 0));
        }
        QCOMPARE(Qsgd::levelsForBits(8), 127);
        QCOMPARE(Qsgd::levelsForBits(4), 7);
    }

    // ---- sign ---------------------------------------------------------------------------------------------------

    void signSendsOneBitPerElementPlusScale()
    {
        const Eigen::Index n = 1001; // not a multiple of 8 or 64
        Eigen::VectorXf g = gaussian(n, 9);
        g[3] = 0.0f;
        const SignCompressor plain(SignCompressor::Scale::None), scaled(SignCompressor::Scale::MeanAbs);
        const Encoded ep = plain.encode(g, 0), es = scaled.encode(g, 0);
        QCOMPARE(ep.bytes(), 126.0);     // ceil(1001 / 8)
        QCOMPARE(es.bytes(), 4.0 + 126); // + float32 scale
        const float scale = float(g.cast<double>().cwiseAbs().sum() / n); // ||g||_1 / d (Karimireddy et al.)
        const Eigen::VectorXf dp = plain.decode(ep), ds = scaled.decode(es);
        for (Eigen::Index i = 0; i < n; ++i) {
            const float sign = g[i] < 0 ? -1.0f : 1.0f; // zero is sent as +
            QCOMPARE(dp[i], sign);
            QCOMPARE(ds[i], sign * scale);
        }
    }

    void majorityVoteHandExample()
    {
        // Bernstein et al. 2018, majority vote: sign(sum_m sign(g_m)).
        Eigen::VectorXf a(5), b(5), c(5), d(5);
        a << 1, -1, 1, -1, 2;
        b << 1, 1, -1, -1, -3;
        c << -1, -1, -1, 1, -0.5;
        d << -1, -1, 1, 1, 0; // the fourth voter, for the tie case
        const SignCompressor sc;
        const Encoded ea = sc.encode(a, 0), eb = sc.encode(b, 0), ec = sc.encode(c, 0), ed = sc.encode(d, 0);
        const Encoded* three[] = {&ea, &eb, &ec};
        Eigen::VectorXf expected(5);
        expected << 1, -1, -1, -1, -1;
        QCOMPARE(sc.decode(sc.majorityVote(three)), expected);
        // 2-2 splits are ties: positive, as a zero is
        const Encoded* four[] = {&ea, &eb, &ec, &ed};
        expected << 1, -1, 1, 1, 1;
        QCOMPARE(sc.decode(sc.majorityVote(four)), expected);
        // the vote's encoding is the sign encoding of the vote
        QCOMPARE(sc.majorityVote(three).payload, sc.encode(Eigen::VectorXf(sc.decode(sc.majorityVote(three))), 0).payload);
        // scaled: the mean of the voters' scales
        const SignCompressor ss(SignCompressor::Scale::MeanAbs);
        const Encoded sa = ss.encode(a, 0), sb = ss.encode(b, 0), sc3 = ss.encode(c, 0);
        const Encoded* scaled[] = {&sa, &sb, &sc3};
        const float meanScale = (6.0f / 5 + 7.0f / 5 + 4.5f / 5) / 3;
        expected << 1, -1, -1, -1, -1;
        QVERIFY((ss.decode(ss.majorityVote(scaled)) - meanScale * expected).cwiseAbs().maxCoeff() < 1e-6f);
    }

    void majorityVoteLarge()
    {
        // 5 voters over 1000 elements against a count by hand
        const SignCompressor sc;
        std::vector<Eigen::VectorXf> g;
        std::vector<Encoded> e;
        for (int m = 0; m < 5; ++m) {
            g.push_back(gaussian(1000, 500 + m));
            e.push_back(sc.encode(g.back(), 0));
        }
        std::vector<const Encoded*> parts;
        for (auto& x : e)
            parts.push_back(&x);
        const Eigen::VectorXf vote = sc.decode(sc.majorityVote(parts));
        for (int i = 0; i < 1000; ++i) {
            int neg = 0;
            for (auto& x : g)
                neg += x[i] < 0;
            QCOMPARE(vote[i], neg >= 3 ? -1.0f : 1.0f);
        }
    }

    // ---- fp16 / bf16 --------------------------------------------------------------------------------------------

    void halfPrecisionRoundTrip_data()
    {
        QTest::addColumn<QString>("compressor");
        QTest::addColumn<double>("unitRoundoff"); // relative error bound over the normal range: 2^-(p), p = bits
        QTest::addColumn<double>("minNormal");
        QTest::addColumn<double>("maxFinite");
        QTest::newRow("fp16") << "fp16" << std::ldexp(1.0, -11) << std::ldexp(1.0, -14) << 65504.0;
        QTest::newRow("bf16") << "bf16" << std::ldexp(1.0, -8) << std::ldexp(1.0, -126) << 3.38e38;
    }
    void halfPrecisionRoundTrip()
    {
        QFETCH(QString, compressor);
        QFETCH(double, unitRoundoff);
        QFETCH(double, minNormal);
        QFETCH(double, maxFinite);
        const auto c = make(compressor);
        // log-uniform magnitudes over the normal range, random signs
        const Eigen::Index n = 100001;
        Rng rng(17);
        Eigen::VectorXf x(n);
        const double lo = std::log(minNormal), hi = std::log(std::min(maxFinite, 1e30));
        for (Eigen::Index i = 0; i < n; ++i)
            x[i] = float(std::exp(lo + (hi - lo) * rng.uniform())) * (rng.below(2) ? 1.0f : -1.0f);
        const Encoded e = c->encode(x, 0);
        QCOMPARE(e.bytes(), 2.0 * n);
        const Eigen::VectorXf y = c->decode(e);
        double worst = 0;
        for (Eigen::Index i = 0; i < n; ++i)
            worst = std::max(worst, std::fabs(double(y[i]) - x[i]) / std::fabs(double(x[i])));
        QVERIFY2(worst <= unitRoundoff, qPrintable(QString("relative error %1").arg(worst)));
        QVERIFY(worst > unitRoundoff / 2); // the bound is tight: it rounds, at 16 bits
        // round to nearest, ties to even: 1 + u is halfway between 1 and 1 + 2u (even: 1); 1 + 3u between
        // 1 + 2u and 1 + 4u (even: 1 + 4u); just above a tie rounds up
        const float u = float(unitRoundoff);
        Eigen::VectorXf ties(4), expected(4);
        ties << 1 + u, 1 + 3 * u, -(1 + u), std::nextafter(1 + u, 2.0f);
        expected << 1, 1 + 4 * u, -1, 1 + 2 * u;
        QCOMPARE(c->decode(c->encode(ties, 0)), expected);
        // beyond the largest finite value: infinity
        Eigen::VectorXf big(2);
        big << float(compressor == "fp16" ? 65520.0 : 3.4028235e38), float(compressor == "fp16" ? 65519.0 : 1e38);
        const Eigen::VectorXf b = c->decode(c->encode(big, 0));
        QVERIFY(std::isinf(b[0]));
        QVERIFY(std::isfinite(b[1]));
        Eigen::VectorXf nan(1);
        nan << std::numeric_limits<float>::quiet_NaN();
        QVERIFY(std::isnan(c->decode(c->encode(nan, 0))[0]));
    }

    void fp16Subnormals()
    {
        // below 2^-14: absolute error at most 2^-25 (half the subnormal spacing 2^-24)
        const Fp16 h;
        Eigen::VectorXf x = gaussian(10000, 21, 1e-5f);
        const Eigen::VectorXf y = h.decode(h.encode(x, 0));
        QVERIFY((y - x).cwiseAbs().maxCoeff() <= std::ldexp(1.0f, -25));
    }

    void halfPrecisionIsSummable()
    {
        // one reduction step: decode, add in float, round once
        const Fp16 h;
        const Eigen::VectorXf a = gaussian(100, 1), b = gaussian(100, 2);
        const Encoded ea = h.encode(a, 0), eb = h.encode(b, 0);
        const Encoded* parts[] = {&ea, &eb};
        Encoded s;
        h.sum(parts, s);
        QVERIFY(h.summable());
        QCOMPARE(s.payload, h.encode(Eigen::VectorXf(h.decode(ea) + h.decode(eb)), 0).payload);
    }

    // ---- PowerSGD -----------------------------------------------------------------------------------------------

    void powerSgdRecoversRankR_data()
    {
        QTest::addColumn<int>("trueRank");
        QTest::addColumn<int>("rank");
        QTest::addColumn<bool>("exact");
        QTest::newRow("rank 3 of rank 3") << 3 << 3 << true;
        QTest::newRow("rank 4 of rank 2") << 2 << 4 << true;
        QTest::newRow("rank 2 of rank 3") << 3 << 2 << false; // the test can tell
    }
    void powerSgdRecoversRankR()
    {
        // Vogels et al. 2019, Algorithm 1: one step on M = A B^T of rank r: P = M Q spans A's columns (Q random),
        // so P^ P^T M = M.  Layers: a 60 x 40 matrix, a 60-float bias (sent exactly), a 7 x 1 "matrix" (a vector).
        QFETCH(int, trueRank);
        QFETCH(int, rank);
        QFETCH(bool, exact);
        const std::vector<LayerShape> layers{{60, 40}, {60, 1}, {1, 7}};
        const Eigen::MatrixXf M = gaussianMatrix(60, trueRank, 1) * gaussianMatrix(40, trueRank, 2).transpose();
        Eigen::VectorXf g(60 * 40 + 60 + 7);
        g << M.reshaped(), gaussian(67, 3);
        PowerSgd ps(layers, rank, 77, false);
        QCOMPARE(ps.pFloats(), Eigen::Index(60 * std::min(rank, 40) + 67));
        QCOMPARE(ps.qFloats(), Eigen::Index(40 * std::min(rank, 40)));
        Eigen::VectorXf p, q, out;
        ps.computeP(g, p);
        ps.computeQ(p, q);
        ps.decompress(p, q, out);
        QCOMPARE(out.tail(67), g.tail(67)); // vectors are sent as they are
        const float rel = (out.head(2400) - g.head(2400)).norm() / g.head(2400).norm();
        if (exact)
            QVERIFY2(rel < 1e-5f, qPrintable(QString("relative error %1").arg(rel)));
        else
            QVERIFY2(rel > 1e-2f, qPrintable(QString("relative error %1").arg(rel)));
    }

    void powerSgdAcrossRanks()
    {
        // Three ranks, all-reduces (mean) between the steps, done here by hand. Their gradients share A, so the
        // mean A (mean B)^T has rank 2 and is recovered exactly, identically on every rank.
        const int W = 3, r = 2;
        const std::vector<LayerShape> layers = PowerSgd::mlpShapes({30, 20, 5}); // W1 20x30, b1, W2 5x20, b2
        const Eigen::Index n = 20 * 30 + 20 + 5 * 20 + 5;
        const Eigen::MatrixXf A1 = gaussianMatrix(20, r, 1), A2 = gaussianMatrix(5, r, 2);
        std::vector<PowerSgd> ranks;
        std::vector<Eigen::VectorXf> g(W), p(W), q(W), out(W);
        Eigen::VectorXf mean = Eigen::VectorXf::Zero(n);
        for (int w = 0; w < W; ++w) {
            ranks.emplace_back(layers, r, 5, true); // same seed on every rank: the same initial Q
            g[w].resize(n);
            g[w] << (A1 * gaussianMatrix(30, r, 10 + w).transpose()).reshaped(), gaussian(20, 20 + w),
                (A2 * gaussianMatrix(20, r, 30 + w).transpose()).reshaped(), gaussian(5, 40 + w);
            mean += g[w] / W;
        }
        QVERIFY(ranks[0].warmStart() == ranks[2].warmStart());
        QVERIFY(PowerSgd(layers, r, 6).warmStart() != ranks[0].warmStart());
        auto allReduceMean = [&](std::vector<Eigen::VectorXf>& x) {
            Eigen::VectorXf s = Eigen::VectorXf::Zero(x[0].size());
            for (auto& v : x)
                s += v;
            for (auto& v : x)
                v = s / W;
        };
        for (int w = 0; w < W; ++w)
            ranks[w].computeP(g[w], p[w]);
        allReduceMean(p);
        for (int w = 0; w < W; ++w)
            ranks[w].computeQ(p[w], q[w]);
        allReduceMean(q);
        for (int w = 0; w < W; ++w)
            ranks[w].decompress(p[w], q[w], out[w]);
        for (int w = 0; w < W; ++w) {
            QVERIFY(out[w] == out[0]);
            QVERIFY2((out[w] - mean).norm() < 1e-5f * mean.norm(),
                     qPrintable(QString("relative error %1").arg((out[w] - mean).norm() / mean.norm())));
        }
        // out of order is an error
        QVERIFY_THROWS_EXCEPTION(std::logic_error, ranks[0].computeQ(p[0], q[0]));
    }

    void powerSgdWarmStartConverges()
    {
        // Repeated steps on the same M without error feedback are subspace iteration (the paper's warm start): the
        // error approaches the best rank-r one, sqrt(sum_{i > r} sigma_i^2) (Eckart-Young), here within 0.1 %.
        const Eigen::Index rows = 50, cols = 30;
        Eigen::MatrixXf U = gaussianMatrix(rows, cols, 1).householderQr().householderQ() *
                            Eigen::MatrixXf::Identity(rows, cols);
        Eigen::MatrixXf V = gaussianMatrix(cols, cols, 2).householderQr().householderQ();
        Eigen::VectorXf sigma(cols);
        for (Eigen::Index i = 0; i < cols; ++i)
            sigma[i] = std::pow(0.6f, float(i));
        const Eigen::MatrixXf M = U * sigma.asDiagonal() * V.transpose();
        const int r = 2;
        const float best = sigma.tail(cols - r).norm();
        PowerSgd ps({{rows, cols}}, r, 3, false);
        Eigen::VectorXf g = M.reshaped(), p, q, out;
        float first = 0, err = 0;
        for (int t = 0; t < 40; ++t) {
            ps.computeP(g, p);
            ps.computeQ(p, q);
            ps.decompress(p, q, out);
            err = (out - g).norm();
            if (t == 0)
                first = err;
        }
        QVERIFY2(err <= best * 1.001f, qPrintable(QString("error %1, best %2, first step %3").arg(err).arg(best).arg(first)));
        QVERIFY(first > err); // the warm start did something
    }

    void powerSgdErrorFeedbackLosesNothing()
    {
        // one rank: sum_t out_t + e_T = sum_t g_t
        PowerSgd ps({{40, 30}, {40, 1}}, 1, 9, true);
        Eigen::VectorXf p, q, out;
        Eigen::VectorXd sent = Eigen::VectorXd::Zero(1240), raw = sent;
        for (int t = 0; t < 30; ++t) {
            const Eigen::VectorXf g = gaussian(1240, 700 + t);
            ps.computeP(g, p);
            ps.computeQ(p, q);
            ps.decompress(p, q, out);
            sent += out.cast<double>();
            raw += g.cast<double>();
        }
        const double gap = (sent + ps.residual().cast<double>() - raw).cwiseAbs().maxCoeff();
        QVERIFY2(gap < 1e-3, qPrintable(QString("gap %1").arg(gap)));
        QVERIFY(ps.residual().head(1200).norm() > 1.0f);
        QVERIFY(ps.residual().tail(40).isZero());
        // flops of the three steps: 2 rows cols r each, + n for compensation and rows cols for the residual, +
        // rows (2 r^2 + r) for Gram-Schmidt
        QCOMPARE(ps.computePFlops(), 2.0 * 40 * 30 + 1240);
        QCOMPARE(ps.computeQFlops(), 40.0 * 3 + 2.0 * 40 * 30);
        QCOMPARE(ps.decompressFlops(), 2.0 * 40 * 30 + 40 * 30);
    }

    // ---- every compressor --------------------------------------------------------------------------------------

    void bytesFollowTheFormulas_data()
    {
        QTest::addColumn<QString>("compressor");
        QTest::addColumn<int>("n");
        QTest::addColumn<double>("bytes");
        for (int n : {1, 7, 64, 1000, 4099}) {
            const double k5 = std::max(1.0, std::round(0.05 * n));
            const QByteArray tag = QByteArray::number(n);
            QTest::newRow("none " + tag) << "none" << n << 4.0 * n;
            QTest::newRow("topk " + tag) << "topk" << n << 8.0 * k5;
            QTest::newRow("randomk " + tag) << "randomk" << n << 8.0 * k5;
            QTest::newRow("randomk-shared " + tag) << "randomk-shared" << n << 4.0 * std::min(7, n);
            QTest::newRow("qsgd-8bit " + tag) << "qsgd-8bit" << n << 4.0 + n;
            QTest::newRow("qsgd-s5-bucket64 " + tag)
                << "qsgd-s5-bucket64" << n << 4.0 * std::ceil(n / 64.0) + std::ceil(4.0 * n / 8);
            QTest::newRow("qsgd-s1 " + tag) << "qsgd-s1" << n << 4.0 + std::ceil(2.0 * n / 8);
            QTest::newRow("sign " + tag) << "sign" << n << std::ceil(n / 8.0);
            QTest::newRow("sign-meanabs " + tag) << "sign-meanabs" << n << 4.0 + std::ceil(n / 8.0);
            QTest::newRow("fp16 " + tag) << "fp16" << n << 2.0 * n;
            QTest::newRow("bf16 " + tag) << "bf16" << n << 2.0 * n;
        }
    }
    void bytesFollowTheFormulas()
    {
        QFETCH(QString, compressor);
        QFETCH(int, n);
        QFETCH(double, bytes);
        const auto c = make(compressor);
        QCOMPARE(c->encodedBytes(n), bytes);
        const Encoded e = c->encode(gaussian(n, 31), 1);
        QCOMPARE(e.bytes(), bytes);
        QCOMPARE(c->decode(e).size(), Eigen::Index(n));
        // a payload of the wrong size is refused
        Encoded bad = e;
        bad.payload.push_back(0);
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, c->decode(bad));
    }

    void deterministic_data()
    {
        QTest::addColumn<QString>("compressor");
        QTest::addColumn<bool>("random");
        for (const QString& c : kAll)
            QTest::newRow(qPrintable(c)) << c << (c.startsWith("randomk") || c.startsWith("qsgd"));
    }
    void deterministic()
    {
        // Same seed: same bytes and the same decoded vector (from two separate compressor objects). Another seed:
        // the random formats differ, the others ignore it.
        QFETCH(QString, compressor);
        QFETCH(bool, random);
        const auto c1 = make(compressor), c2 = make(compressor);
        const Eigen::VectorXf g = gaussian(5000, 41);
        const Encoded a = c1->encode(g, 1001), b = c2->encode(g, 1001), other = c1->encode(g, 1002);
        QCOMPARE(a.payload, b.payload);
        QVERIFY(c1->decode(a) == c2->decode(b));
        if (random) {
            QVERIFY(a.payload != other.payload);
            QVERIFY(c1->decode(a) != c1->decode(other));
        } else {
            QCOMPARE(a.payload, other.payload);
        }
    }

    void pinnedEncodings()
    {
        // The random streams and the wire layout are pinned, so a change of either shows here: QSGD s = 1 on a
        // small vector, and random-k's indices (the same with and without AVX-512 kernels).
        Eigen::VectorXf g(8);
        g << 0.5f, -0.25f, 1.0f, 0.0f, -2.0f, 0.125f, 0.75f, -0.5f;
        const Qsgd q(1);
        const Encoded e = q.encode(g, 7);
        QCOMPARE(e.bytes(), 4.0 + 2);
        float norm;
        std::memcpy(&norm, e.payload.data(), 4);
        QCOMPARE(norm, float(std::sqrt(g.cast<double>().squaredNorm())));
        // fields: 2 bits each, level in bit 0 and sign in bit 1, element 0 in the lowest bits
        const Eigen::VectorXf x = q.decode(e);
        for (int i = 0; i < 8; ++i) {
            const std::uint32_t field = (e.payload[4 + i / 4] >> (2 * (i % 4))) & 3u;
            QCOMPARE(x[i], float(field & 1u) * norm * ((field & 2u) ? -1.0f : 1.0f));
        }
        std::vector<std::uint32_t> idx;
        RandomK(Keep::exactly(4)).drawIndices(100, 7, idx);
        QCOMPARE(idx, (std::vector<std::uint32_t>{11, 73, 89, 93}));
        QCOMPARE(QByteArray(reinterpret_cast<const char*>(e.payload.data() + 4), 2).toHex(), QByteArray("0c83"));
    }

    void accumulateAddsTheDecoded_data()
    {
        QTest::addColumn<QString>("compressor");
        for (const QString& c : kAll)
            QTest::newRow(qPrintable(c)) << c;
    }
    void accumulateAddsTheDecoded()
    {
        // acc += w decode(e), the sparse formats without a dense decode
        QFETCH(QString, compressor);
        const auto c = make(compressor);
        const Encoded e = c->encode(gaussian(3000, 51), 9);
        const Eigen::VectorXf start = gaussian(3000, 52);
        Eigen::VectorXf acc = start;
        c->accumulate(e, 0.25f, acc);
        const Eigen::VectorXf expected = start + 0.25f * c->decode(e);
        QVERIFY((acc - expected).cwiseAbs().maxCoeff() <= 1e-6f * (1 + expected.cwiseAbs().maxCoeff()));
        QVERIFY(acc != start);
        Eigen::VectorXf wrong(10);
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, c->accumulate(e, 1.0f, wrong));
    }

    void flopCounts()
    {
        const double n = 1e6;
        QCOMPARE(TopK(Keep::ratio(0.01)).encodeFlops(n), 3e6);
        QCOMPARE(TopK(Keep::ratio(0.01)).decodeFlops(n), 1e4);
        QCOMPARE(RandomK(Keep::ratio(0.01)).encodeFlops(n), 2e4);
        QCOMPARE(Qsgd(127).encodeFlops(n), 8e6);
        QCOMPARE(Qsgd(127).decodeFlops(n), 2e6);
        QCOMPARE(SignCompressor().encodeFlops(n), 1e6);
        QCOMPARE(SignCompressor(SignCompressor::Scale::MeanAbs).encodeFlops(n), 3e6);
        QCOMPARE(SignCompressor::voteFlops(n, 4), 4e6);
        QCOMPARE(Fp16().encodeFlops(n), 1e6);
        QCOMPARE(Bf16().decodeFlops(n), 1e6);
        QCOMPARE(NoCompression().encodeFlops(n), 0.0);
        QCOMPARE(ErrorFeedback::flops(n), 2e6);
        QCOMPARE(MomentumCorrection::flops(n), 3e6);
        QCOMPARE(Fp16().sumFlops(n, 2), 4e6);
        QCOMPARE(TopK(Keep::ratio(0.01)).accumulateFlops(n), 2e4);
        QCOMPARE(Qsgd(127).accumulateFlops(n), 4e6);
    }

    void nonSummableRefuseToSum()
    {
        for (const QString& name : kAll) {
            const auto c = make(name);
            const Encoded e = c->encode(gaussian(10, 1), 3);
            const Encoded* parts[] = {&e, &e};
            Encoded s;
            if (c->summable()) {
                c->sum(parts, s);
                QVERIFY((c->decode(s) - 2 * c->decode(e)).cwiseAbs().maxCoeff() < 1e-6f);
            } else {
                QVERIFY_THROWS_EXCEPTION(std::logic_error, c->sum(parts, s));
            }
        }
        QVERIFY(make("none")->summable() && make("fp16")->summable() && make("bf16")->summable());
        QVERIFY(!make("topk")->summable() && !make("qsgd-8bit")->summable() && !make("sign")->summable());
    }
};

QTEST_GUILESS_MAIN(TestCompression)
#include "tst_compression.moc"
