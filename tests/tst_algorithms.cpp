// SPDX-License-Identifier: GPL-3.0-or-later
// algorithms/: gradient check, loss, flop counts, optimizers, dataset files, partitioning and sampling.
#include "data/dataset.h"
#include "error.h"
#include "models/cnn.h"
#include "models/mlpkernel.h"
#include "models/model.h"
#include "models/presets.h"
#include "strategies/overlap.h"
#include "optim/optimizer.h"
#include "data/partition.h"
#include "rng.h"

#include <QTemporaryDir>
#include <QTest>

#include <zlib.h>

#include <cmath>
#include <limits>
#include <set>
#include <type_traits>

using namespace dml;

// A float that counts the arithmetic done on it, so that the flop-count test counts what mlpkernel.h executes
// rather than re-deriving Mlp's formula. Every operation counts one flop (add or subtract, multiply, divide,
// compare, max, exp, log, sqrt) except the ones no machine needs to run, which Eigen's general code performs:
// values built from a number (Eigen's Scalar(0) and Scalar(1), the kernel's S(0) and S(1)) are literals, and
// multiplying by a literal 1, adding a literal 0 (a zeroed accumulator) or combining two literals (constant
// folding, e.g. Eigen's alpha = 1 * 1 * 1) costs nothing. Data must be made with Counted::data().
namespace counting {

struct Ops {
    long long add = 0, mul = 0, div = 0, cmp = 0, fn = 0;
    long long total() const { return add + mul + div + cmp + fn; }
};
inline Ops ops;

struct Counted {
    float v = 0;
    bool literal = true;
    Counted() = default;
    template <class T, class = std::enable_if_t<std::is_arithmetic_v<T>>>
    Counted(T x) : v(float(x)) {}
    static Counted data(float x)
    {
        Counted c(x);
        c.literal = false;
        return c;
    }
    explicit operator double() const { return v; }
    Counted& operator+=(const Counted& o) { return *this = *this + o; }
    Counted& operator-=(const Counted& o) { return *this = *this - o; }
    Counted& operator*=(const Counted& o) { return *this = *this * o; }
    Counted& operator/=(const Counted& o) { return *this = *this / o; }
    Counted operator-() const { return {-v, literal}; }

    friend Counted operator+(const Counted& a, const Counted& b)
    {
        if (a.literal && a.v == 0 && !b.literal)
            return b;
        if (b.literal && b.v == 0 && !a.literal)
            return a;
        return counted(a, b, a.v + b.v, ops.add);
    }
    friend Counted operator-(const Counted& a, const Counted& b)
    {
        if (b.literal && b.v == 0 && !a.literal)
            return a;
        return counted(a, b, a.v - b.v, ops.add);
    }
    friend Counted operator*(const Counted& a, const Counted& b)
    {
        if (a.literal && a.v == 1 && !b.literal)
            return b;
        if (b.literal && b.v == 1 && !a.literal)
            return a;
        return counted(a, b, a.v * b.v, ops.mul);
    }
    friend Counted operator/(const Counted& a, const Counted& b) { return counted(a, b, a.v / b.v, ops.div); }
    friend bool operator<(const Counted& a, const Counted& b) { return compare(a, b), a.v < b.v; }
    friend bool operator>(const Counted& a, const Counted& b) { return compare(a, b), a.v > b.v; }
    friend bool operator<=(const Counted& a, const Counted& b) { return compare(a, b), a.v <= b.v; }
    friend bool operator>=(const Counted& a, const Counted& b) { return compare(a, b), a.v >= b.v; }
    friend bool operator==(const Counted& a, const Counted& b) { return a.v == b.v; } // control flow, not work
    friend bool operator!=(const Counted& a, const Counted& b) { return a.v != b.v; }
    // Found by argument-dependent lookup from Eigen's numext (cwiseMax, maxCoeff, exp) and from the kernel.
    friend Counted max(const Counted& a, const Counted& b) { return function(a.v < b.v ? b.v : a.v, ops.cmp); }
    friend Counted min(const Counted& a, const Counted& b) { return function(b.v < a.v ? b.v : a.v, ops.cmp); }
    friend Counted exp(const Counted& a) { return function(std::exp(a.v), ops.fn); }
    friend Counted log(const Counted& a) { return function(std::log(a.v), ops.fn); }
    friend Counted sqrt(const Counted& a) { return function(std::sqrt(a.v), ops.fn); }
    friend Counted abs(const Counted& a) { return function(std::fabs(a.v), ops.fn); }

private:
    Counted(float x, bool lit) : v(x), literal(lit) {}
    static Counted counted(const Counted& a, const Counted& b, float r, long long& counter)
    {
        if (!(a.literal && b.literal))
            ++counter;
        return {r, a.literal && b.literal};
    }
    static void compare(const Counted& a, const Counted& b)
    {
        if (!(a.literal && b.literal))
            ++ops.cmp;
    }
    static Counted function(float r, long long& counter) // a result of data: never a literal
    {
        ++counter;
        return {r, false};
    }
};

} // namespace counting

template <>
struct Eigen::NumTraits<counting::Counted> : Eigen::GenericNumTraits<float> {
    using Real = counting::Counted;
    using NonInteger = counting::Counted;
    using Nested = counting::Counted;
    using Literal = counting::Counted;
    enum { IsComplex = 0, IsInteger = 0, IsSigned = 1, RequireInitialization = 1, ReadCost = 1, AddCost = 1,
           MulCost = 1 };
    static Real epsilon() { return std::numeric_limits<float>::epsilon(); }
    static Real dummy_precision() { return 1e-5f; }
    static Real highest() { return std::numeric_limits<float>::max(); }
    static Real lowest() { return std::numeric_limits<float>::lowest(); }
    static Real infinity() { return std::numeric_limits<float>::infinity(); }
    static Real quiet_NaN() { return std::numeric_limits<float>::quiet_NaN(); }
};

namespace counting {
/// x (rows x cols) as non-literal counted values.
mlpkernel::Mat<Counted> data(const Eigen::MatrixXf& x)
{
    mlpkernel::Mat<Counted> c(x.rows(), x.cols());
    for (Eigen::Index i = 0; i < x.size(); ++i)
        c.data()[i] = Counted::data(x.data()[i]);
    return c;
}

} // namespace counting

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


namespace cnntest {

using K = CnnLayerSpec::Kind;

/// The test networks (issue 17): small, with every layer kind, padding, strides, several channels, non-square and
/// overlapping pooling windows, and a first layer without parameters.
CnnSpec net(int variant)
{
    CnnSpec c;
    if (variant == 0) { // LeNet-like: conv, ReLU, max-pool, conv, ReLU, dense, ReLU
        c.channels = 1;
        c.height = c.width = 8;
        c.layers = {{K::Conv, 3, 3, 1, 1}, {K::Relu, 0, 0, 0, 0}, {K::MaxPool, 0, 2, 0, 0}, {K::Conv, 4, 2, 1, 0},
                    {K::Relu, 0, 0, 0, 0}, {K::Dense, 6, 0, 0, 0}, {K::Relu, 0, 0, 0, 0}};
    } else if (variant == 1) { // 2 channels, 9 x 7, stride 2 with padding, overlapping 3 x 3 windows at stride 1
        c.channels = 2;
        c.height = 9;
        c.width = 7;
        c.layers = {{K::Conv, 3, 3, 2, 1}, {K::Relu, 0, 0, 0, 0}, {K::MaxPool, 0, 3, 1, 0}, {K::Dense, 5, 0, 0, 0}};
    } else { // a ReLU and a max-pool before the first parameters: nothing flows back into them
        c.channels = 1;
        c.height = c.width = 6;
        c.layers = {{K::Relu, 0, 0, 0, 0}, {K::MaxPool, 0, 2, 0, 0}, {K::Conv, 2, 2, 1, 0}};
    }
    return c;
}

/// The network of `cnn` on one sample x (channels x height x width, row by row), computed directly from the
/// definitions with the documented parameter layouts: each output of a convolution as a sum over every tap of its
/// window (zero outside the image), each max-pool output as the maximum of its window, each dense output as a sum
/// over its inputs taken pixel by pixel, channels fastest. Works out every layer's output size itself (ok = false
/// if Cnn's differs) and adds to `flops` what it executes in Cnn's convention: 2 per multiply-add (padding taps
/// included: the GEMM multiplies them too), 1 per bias, ReLU and window element, 5 per class for the softmax.
std::vector<double> direct(const Cnn& cnn, const std::vector<double>& p, const double* x, double& flops, bool& ok)
{
    const cnnkernel::Layer& first = cnn.layers().front();
    int C = first.inC, H = first.inH, W = first.inW;
    std::vector<double> t(x, x + std::size_t(C) * H * W); // CHW
    for (const cnnkernel::Layer& l : cnn.layers()) {
        std::vector<double> o;
        if (l.kind == K::Conv || l.kind == K::MaxPool) {
            const int k = l.kernel, s = l.stride, pad = l.padding;
            const int oh = (H + 2 * pad - k) / s + 1, ow = (W + 2 * pad - k) / s + 1;
            const int oc = l.kind == K::Conv ? l.outC : C;
            ok = ok && oh == l.outH && ow == l.outW;
            o.assign(std::size_t(oc) * oh * ow, 0.0);
            for (int c2 = 0; c2 < oc; ++c2)
                for (int y = 0; y < oh; ++y)
                    for (int xx = 0; xx < ow; ++xx) {
                        double v = l.kind == K::Conv ? p[std::size_t(l.offset + Eigen::Index(oc) * k * k * C + c2)]
                                                     : -std::numeric_limits<double>::infinity();
                        flops += 1; // the bias, or the first element of the window
                        for (int ky = 0; ky < k; ++ky)
                            for (int kx = 0; kx < k; ++kx) {
                                const int iy = y * s - pad + ky, ix = xx * s - pad + kx;
                                const bool inside = iy >= 0 && iy < H && ix >= 0 && ix < W;
                                if (l.kind == K::MaxPool) {
                                    v = std::max(v, t[std::size_t((c2 * H + iy) * W + ix)]);
                                    continue;
                                }
                                for (int c = 0; c < C; ++c) {
                                    const std::size_t r = std::size_t((ky * k + kx) * C + c);
                                    const double w = p[std::size_t(l.offset) + std::size_t(c2) + std::size_t(oc) * r];
                                    v += w * (inside ? t[std::size_t((c * H + iy) * W + ix)] : 0.0);
                                    flops += 2;
                                }
                            }
                        if (l.kind == K::MaxPool)
                            flops += k * k - 1;
                        o[std::size_t((c2 * oh + y) * ow + xx)] = v;
                    }
            C = oc;
            H = oh;
            W = ow;
        } else if (l.kind == K::Relu) {
            o = t;
            for (double& v : o) {
                v = std::max(v, 0.0);
                flops += 1;
            }
        } else { // dense over the pixel-by-pixel, channels-fastest order
            const int in = C * H * W, out = l.outC;
            ok = ok && in == l.inC;
            o.assign(std::size_t(out), 0.0);
            for (int j = 0; j < out; ++j) {
                double v = p[std::size_t(l.offset + Eigen::Index(out) * in + j)];
                flops += 1;
                for (int y = 0; y < H; ++y)
                    for (int xx = 0; xx < W; ++xx)
                        for (int c = 0; c < C; ++c) {
                            const std::size_t f = std::size_t((y * W + xx) * C + c);
                            v += p[std::size_t(l.offset) + std::size_t(j) + std::size_t(out) * f] *
                                 t[std::size_t((c * H + y) * W + xx)];
                            flops += 2;
                        }
                o[std::size_t(j)] = v;
            }
            C = out;
            H = W = 1;
        }
        t = std::move(o);
    }
    flops += 5.0 * double(t.size()); // softmax
    return t;
}

/// x (inputs x B) in (0, 1) and labels cycling through the classes.
void batch(const Cnn& cnn, int b, Eigen::MatrixXd& x, std::vector<std::uint8_t>& y)
{
    x = (Eigen::MatrixXd::Random(cnn.inputs(), b).array() + 1.0) * 0.5;
    y.resize(std::size_t(b));
    for (int j = 0; j < b; ++j)
        y[std::size_t(j)] = std::uint8_t(j % cnn.classes());
}

/// He-initialised parameters with non-zero biases (so that their gradients are exercised), in double.
std::vector<double> params(const Cnn& cnn)
{
    Eigen::VectorXf p(cnn.numParams());
    cnn.initParams(p.data(), 9);
    std::vector<double> d(std::size_t(p.size()));
    for (Eigen::Index i = 0; i < p.size(); ++i)
        d[std::size_t(i)] = double(p[i]) + 0.05;
    return d;
}

} // namespace cnntest

class TestAlgorithms : public QObject {
    Q_OBJECT
private slots:
    // Overlap (issue 17 item 2): every model's layers add up to its own counts; DDP's bucketing; the proxy presets
    // against the parameter counts their reference implementations report.
    void layerCostsAddUpToTheModel()
    {
        using K = CnnLayerSpec::Kind;
        CnnSpec c;
        c.channels = 1;
        c.height = c.width = 8;
        c.layers = {{K::Conv, 4, 3, 1, 1}, {K::Relu, 0, 0, 0, 0}, {K::MaxPool, 0, 2, 0, 0}, {K::Dense, 16, 0, 0, 0}};
        const Mlp mlp(784, {256, 64}, 10);
        const Cnn cnn(c, 4);
        for (const Model* m : std::initializer_list<const Model*>{&mlp, &cnn}) {
            const std::vector<LayerCost> l = m->layerCosts();
            QCOMPARE(totalParameters(l), (long long)m->numParams());
            QVERIFY(std::fabs(totalForward(l) - m->forwardFlopsPerSample()) <= 1e-9 * m->forwardFlopsPerSample());
            QVERIFY(std::fabs(totalTrain(l) - m->trainFlopsPerSample()) <= 1e-9 * m->trainFlopsPerSample());
        }
        const std::vector<LayerCost> l = mlp.layerCosts();
        QCOMPARE(int(l.size()), 3);
        QCOMPARE(l[0].parameters, 784LL * 256 + 256);
        QCOMPARE(l[0].backward, 2.0 * 784 * 256 + 256); // the first layer computes no input gradient
        QCOMPARE(int(cnn.layerCosts().size()), 5);      // conv, relu, pool, dense, output
        QCOMPARE(cnn.layerCosts()[1].parameters, 0LL);
    }
    void bucketsFollowDdp()
    {
        // parameters per layer 10, 0, 20, 30, 5; cap 100 bytes = 25 floats
        const std::vector<LayerCost> layers = {{"a", 10, 1, 2}, {"relu", 0, 1, 1}, {"b", 20, 1, 2}, {"c", 30, 1, 2},
                                               {"d", 5, 1, 2}};
        const std::vector<GradientBucket> b = makeBuckets(layers, 100);
        QCOMPARE(int(b.size()), 2);
        // d (5) + c (30) = 35 >= 25: closed after c's backward; b (20) < 25, + a (10) = 30: closed after a's
        QCOMPARE(b[0].begin, 30LL);
        QCOMPARE(b[0].end, 65LL);
        QCOMPARE(b[0].readyAfter, 3);
        QCOMPARE(b[1].begin, 0LL);
        QCOMPARE(b[1].end, 30LL);
        QCOMPARE(b[1].readyAfter, 0);
        QCOMPARE(b[1].index, 1);
    }
    void bucketEdgeCases()
    {
        const std::vector<LayerCost> layers = {{"a", 10, 1, 2}, {"b", 20, 1, 2}, {"relu", 0, 1, 1}};
        // one bucket for everything when the cap is larger than the model; it is ready after layer 0
        std::vector<GradientBucket> b = makeBuckets(layers, 1e12);
        QCOMPARE(int(b.size()), 1);
        QCOMPARE(b[0].begin, 0LL);
        QCOMPARE(b[0].end, 30LL);
        QCOMPARE(b[0].readyAfter, 0);
        // a cap of one float: a bucket per layer with parameters, last layer first
        b = makeBuckets(layers, 4);
        QCOMPARE(int(b.size()), 2);
        QCOMPARE(b[0].readyAfter, 1);
        QCOMPARE(b[1].readyAfter, 0);
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, makeBuckets(layers, 0));
        QVERIFY(makeBuckets({{"relu", 0, 1, 1}}, 100).empty());
    }
    void proxyPresetsMatchTheirReferences()
    {
        // torchvision's resnet50: 25,557,032 parameters, 4.09 G multiply-adds forward (its model card)
        const std::vector<LayerCost> r = proxyPreset("resnet50");
        QCOMPARE(totalParameters(r), 25557032LL);
        QVERIFY(totalForward(r) > 2 * 4.08e9 && totalForward(r) < 2 * 4.14e9);
        QCOMPARE(r.front().backward, r.front().forward); // no input gradient for the image
        // Hugging Face BertForSequenceClassification (2 labels): bert-base-uncased 109,482,240 + 1,538
        QCOMPARE(totalParameters(proxyPreset("bert-base")), 109483778LL);
        QCOMPARE(totalParameters(proxyPreset("bert-large")), 335143938LL);
        // about 2 x (non-embedding parameters) x 128 tokens forward (Kaplan et al. 2020, Sec. 2.1), plus attention
        const double base = totalForward(proxyPreset("bert-base"));
        QVERIFY(base > 2 * 85e6 * 128 && base < 1.15 * 2 * 85.6e6 * 128);
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, proxyPreset("resnet-50"));
    }
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

    void cnnGradientMatchesFiniteDifferences_data()
    {
        QTest::addColumn<int>("variant");
        QTest::newRow("lenet-like") << 0;
        QTest::newRow("strided, 2 channels, overlapping pool") << 1;
        QTest::newRow("no parameters before the conv") << 2;
    }
    void cnnGradientMatchesFiniteDifferences()
    {
        // cnnkernel.h's backward pass, run in double, against central differences of its loss (the mean over a
        // batch of 3) for every parameter: within 1e-6 relative (plus 1e-9 absolute), where the differences' own
        // error is about 1e-10. A wrong index in im2col, col2im or the max-pool routing shows as a mismatch of order 1.
        QFETCH(int, variant);
        const Cnn cnn(cnntest::net(variant), 3);
        std::vector<double> p = cnntest::params(cnn);
        Eigen::MatrixXd x;
        std::vector<std::uint8_t> y;
        std::srand(unsigned(17 + variant));
        cnntest::batch(cnn, 3, x, y);
        cnnkernel::Scratch<double> s;
        std::vector<double> grad(p.size()), scratchGrad(p.size());
        cnnkernel::lossAndGradient<double>(cnn.layers(), p.data(), x, y.data(), grad.data(), s);
        const double eps = 1e-6, B = double(x.cols());
        for (std::size_t i = 0; i < p.size(); ++i) {
            const double keep = p[i];
            p[i] = keep + eps;
            const double up = cnnkernel::lossAndGradient<double>(cnn.layers(), p.data(), x, y.data(), scratchGrad.data(), s);
            p[i] = keep - eps;
            const double down =
                cnnkernel::lossAndGradient<double>(cnn.layers(), p.data(), x, y.data(), scratchGrad.data(), s);
            p[i] = keep;
            const double numeric = (up - down) / (2 * eps * B);
            QVERIFY2(std::fabs(numeric - grad[i]) <= 1e-6 * std::fabs(numeric) + 1e-9,
                     qPrintable(QString("param %1 of %2: analytic %3, numeric %4").arg(i).arg(p.size())
                                    .arg(grad[i], 0, 'g', 12).arg(numeric, 0, 'g', 12)));
        }
        // The float model runs the same arithmetic: its loss and gradient agree to float rounding.
        Eigen::VectorXf pf(cnn.numParams()), gf(cnn.numParams());
        for (Eigen::Index i = 0; i < pf.size(); ++i)
            pf[i] = float(p[std::size_t(i)]);
        const Eigen::MatrixXf xf = x.cast<float>();
        const double loss = cnnkernel::lossAndGradient<double>(cnn.layers(), p.data(), x, y.data(), grad.data(), s) / B;
        QVERIFY(std::fabs(cnn.lossAndGradient(pf.data(), xf, y.data(), gf.data()) - loss) <= 1e-5 * loss);
        const double gMax = Eigen::Map<const Eigen::VectorXd>(grad.data(), Eigen::Index(grad.size())).cwiseAbs().maxCoeff();
        QVERIFY(gMax > 0);
        for (Eigen::Index i = 0; i < gf.size(); ++i)
            QVERIFY2(std::fabs(gf[i] - grad[std::size_t(i)]) <= 1e-4 * gMax, qPrintable(QString("float gradient %1").arg(i)));
    }

    void cnnForwardAndFlopsMatchDirectComputation_data()
    {
        QTest::addColumn<int>("variant");
        QTest::newRow("lenet-like") << 0;
        QTest::newRow("strided, 2 channels, overlapping pool") << 1;
        QTest::newRow("no parameters before the conv") << 2;
        QTest::newRow("LeNet-5 on 28 x 28") << 3;
    }
    void cnnForwardAndFlopsMatchDirectComputation()
    {
        // The im2col forward pass (in double) against a direct computation of every output from the definitions
        // (cnntest::direct), sample by sample; and Cnn's analytic flop counts against an independent count:
        //  - forward: the operations the direct computation executes, tallied as it runs;
        //  - backward: the GEMMs and element-wise passes backpropagation runs, from the shapes of the buffers the
        //    kernel actually filled (s.col, s.act): per conv layer dW = delta col^T (2 C' K N, N = B P pixels),
        //    db (C' N) and, if an earlier layer has parameters, W^T delta (2 K C' N) and col2im (K N); per dense
        //    layer 2 C' C B + C' B (+ 2 C C' B); per ReLU or max-pool with an earlier parametrised layer, one per
        //    output; 1 per class and sample for the softmax's error.
        QFETCH(int, variant);
        const Cnn cnn(variant == 3 ? CnnSpec::lenet5() : cnntest::net(variant), variant == 3 ? 10 : 3);
        const std::vector<double> p = cnntest::params(cnn);
        Eigen::MatrixXd x;
        std::vector<std::uint8_t> y;
        std::srand(unsigned(29 + variant));
        const int B = 3;
        cnntest::batch(cnn, B, x, y);
        cnnkernel::Scratch<double> s;
        std::vector<double> grad(p.size());
        cnnkernel::lossAndGradient<double>(cnn.layers(), p.data(), x, y.data(), grad.data(), s);
        double forward = 0;
        for (int b = 0; b < B; ++b) {
            bool ok = true;
            double flops = 0;
            const std::vector<double> logits = cnntest::direct(cnn, p, x.col(b).data(), flops, ok);
            QVERIFY2(ok, "an output size differs from the direct computation's");
            QCOMPARE(int(logits.size()), cnn.classes());
            for (int c = 0; c < cnn.classes(); ++c)
                QVERIFY2(std::fabs(logits[std::size_t(c)] - s.act.back()(c, b)) <= 1e-12 * (1 + std::fabs(logits[std::size_t(c)])),
                         qPrintable(QString("sample %1, logit %2: direct %3, im2col %4").arg(b).arg(c)
                                        .arg(logits[std::size_t(c)]).arg(s.act.back()(c, b))));
            forward += flops;
        }
        QCOMPARE(forward, B * cnn.forwardFlopsPerSample());

        using K = CnnLayerSpec::Kind;
        double backward = double(cnn.classes()) * B;
        bool paramsBefore = false;
        std::vector<bool> earlier; // earlier[i]: a layer before i has parameters
        for (const cnnkernel::Layer& l : cnn.layers()) {
            earlier.push_back(paramsBefore);
            paramsBefore = paramsBefore || l.kind == K::Conv || l.kind == K::Dense;
        }
        for (std::size_t i = 0; i < cnn.layers().size(); ++i) {
            const cnnkernel::Layer& l = cnn.layers()[i];
            const double out = double(s.act[i].size()), co = double(s.act[i].rows());
            if (l.kind == K::Conv) {
                const double k = double(s.col[i].rows()), n = double(s.col[i].cols());
                QCOMPARE(n * co, out);
                backward += 2 * co * k * n + out + (earlier[i] ? 2 * k * co * n + k * n : 0);
            } else if (l.kind == K::Dense) {
                const double in = i > 0 ? double(s.act[i - 1].size()) / B : double(x.rows());
                backward += 2 * co * in * B + out + (earlier[i] ? 2 * in * co * B : 0);
            } else if (earlier[i]) {
                backward += out;
            }
        }
        QCOMPARE(forward + backward, B * cnn.trainFlopsPerSample());
        double perLayer = 0;
        for (const Cnn::LayerFlops& f : cnn.layerFlops())
            perLayer += f.train;
        QCOMPARE(perLayer + 6.0 * cnn.classes(), cnn.trainFlopsPerSample());
        qDebug("%.0f flops forward, %.0f forward + backward per sample", cnn.forwardFlopsPerSample(),
               cnn.trainFlopsPerSample());
    }

    void lenet5Shapes()
    {
        // LeNet-5 (LeCun et al. 1998, Sec. II.B) on a 28 x 28 image padded to 32 x 32, with full connection tables:
        // C1 6 x 28 x 28 (6 x (25 + 1) parameters), S2 6 x 14 x 14, C3 16 x 10 x 10 (16 x (150 + 1)), S4 16 x 5 x 5,
        // F5 120 (120 x (400 + 1)), F6 84 (84 x (120 + 1)), output 10 (10 x (84 + 1)).
        const Cnn cnn(CnnSpec::lenet5(), 10);
        QCOMPARE(cnn.inputs(), 784);
        QCOMPARE(cnn.numParams(), Eigen::Index(6 * 26 + 16 * 151 + 120 * 401 + 84 * 121 + 10 * 85));
        const std::vector<cnnkernel::Layer>& l = cnn.layers();
        QCOMPARE(int(l.size()), 11);
        QCOMPARE(l[0].outSize(), Eigen::Index(6 * 28 * 28));
        QCOMPARE(l[2].outSize(), Eigen::Index(6 * 14 * 14));
        QCOMPARE(l[3].outSize(), Eigen::Index(16 * 10 * 10));
        QCOMPARE(l[5].outSize(), Eigen::Index(16 * 5 * 5));
        Eigen::Index blocks = 0;
        for (const auto& [rows, cols] : cnn.parameterBlocks())
            blocks += rows * cols;
        QCOMPARE(blocks, cnn.numParams());
        // Shapes that cannot be built name their layer.
        CnnSpec bad = CnnSpec::lenet5();
        bad.layers[3].kernel = 15; // 15 x 15 on the 14 x 14 map
        try {
            Cnn c(bad, 10);
            QFAIL("no error");
        } catch (const CnnShapeError& e) {
            QCOMPARE(e.layer, 3);
            QCOMPARE(QString(e.what()), QString("the 15 x 15 window does not fit its 14 x 14 input"));
        }
    }

    void countingScalarSeesEigenProducts_data()
    {
        QTest::addColumn<int>("m");
        QTest::addColumn<int>("k");
        QTest::addColumn<int>("n");
        QTest::addColumn<bool>("transposed");
        // Eigen 3.4 computes small products coefficient by coefficient (rows + cols + depth < 20) and larger
        // ones with its blocked GEMM, which zeroes C and adds alpha * (A B) with alpha = 1.
        QTest::newRow("coefficient-based") << 3 << 4 << 2 << false;
        QTest::newRow("coefficient-based, A^T") << 3 << 4 << 2 << true;
        QTest::newRow("blocked") << 30 << 40 << 20 << false;
        QTest::newRow("blocked, A^T") << 30 << 40 << 20 << true;
        QTest::newRow("blocked, depth 1") << 25 << 1 << 9 << false;
    }
    void countingScalarSeesEigenProducts()
    {
        // The rule flopCountsMatchExecution relies on: a k-term dot product runs k multiplications and k - 1
        // additions, in either of Eigen's product paths, and a sum of n terms n - 1 additions.
        using counting::Counted;
        QFETCH(int, m);
        QFETCH(int, k);
        QFETCH(int, n);
        QFETCH(bool, transposed);
        const auto a = counting::data(Eigen::MatrixXf::Random(transposed ? k : m, transposed ? m : k));
        const auto b = counting::data(Eigen::MatrixXf::Random(k, n));
        mlpkernel::Mat<Counted> c(m, n);
        counting::ops = {};
        if (transposed)
            c.noalias() = a.transpose() * b;
        else
            c.noalias() = a * b;
        QCOMPARE(counting::ops.mul, (long long)m * n * k);
        QCOMPARE(counting::ops.add, (long long)m * n * (k - 1));
        QCOMPARE(counting::ops.total(), counting::ops.mul + counting::ops.add);
        counting::ops = {};
        Eigen::Matrix<Counted, Eigen::Dynamic, 1> sums = c.rowwise().sum();
        QCOMPARE(counting::ops.add, (long long)m * (n - 1));
        QCOMPARE(counting::ops.total(), counting::ops.add);
        QCOMPARE(double(sums[0]), double(c.row(0).sum())); // it computes, too
    }

    void flopCountsMatchExecution_data()
    {
        QTest::addColumn<int>("inputs");
        QTest::addColumn<QList<int>>("hidden");
        QTest::addColumn<int>("classes");
        QTest::addColumn<int>("batch");
        QTest::newRow("logistic 6-3, B 2") << 6 << QList<int>{} << 3 << 2;
        QTest::newRow("logistic 40-10, B 33") << 40 << QList<int>{} << 10 << 33;
        QTest::newRow("1 hidden 20-16-5, B 7") << 20 << QList<int>{16} << 5 << 7;
        QTest::newRow("1 hidden 64-32-10, B 32") << 64 << QList<int>{32} << 10 << 32;
        QTest::newRow("2 hidden 9-7-5-3, B 2") << 9 << QList<int>{7, 5} << 3 << 2;
        QTest::newRow("2 hidden 40-24-12-10, B 33") << 40 << QList<int>{24, 12} << 10 << 33;
        QTest::newRow("quickstart 784-256-10, B 32") << 784 << QList<int>{256} << 10 << 32;
    }
    void flopCountsMatchExecution()
    {
        // Runs mlpkernel.h's forward and backward pass (the code Mlp runs on float) on the counting scalar and
        // compares every flop executed with Mlp's analytic count, exactly, after the two stated differences
        // (Mlp::forwardFlopsPerSample):
        //  - one flop fewer per dot product and per sum or maximum (countingScalarSeesEigenProducts): the
        //    analytic count charges 2 per multiply-add and n per n-term sum;
        //  - 3 per sample that the analytic count leaves out: the loss's log and subtraction, and the one-hot
        //    subtraction (training only).
        // Batches of 2 or more: with B = 1 the gradient's scaling by 1/B is by the constant 1, which the counter
        // would fold like Eigen's alpha. All inputs, weights and biases are positive, so every ReLU is active and
        // no masked literal 0 reaches a sum (the counter would not count adding it).
        QFETCH(int, inputs);
        QFETCH(QList<int>, hidden);
        QFETCH(int, classes);
        QFETCH(int, batch);
        using counting::Counted;
        const Mlp arch(inputs, std::vector<int>(hidden.begin(), hidden.end()), classes);
        const std::vector<int>& sizes = arch.layerSizes();
        const std::vector<Eigen::Index> off = mlpkernel::offsets(sizes);
        QCOMPARE(off.back(), arch.numParams());
        Eigen::VectorXf p = (Eigen::VectorXf::Random(arch.numParams()).array() + 1.5f) * 0.05f; // in (0.025, 0.125)
        const auto params = counting::data(p);
        const auto x = counting::data((Eigen::MatrixXf::Random(inputs, batch).array() + 1.0f) * 0.5f);
        std::vector<std::uint8_t> y(std::size_t(batch), 0);
        for (int j = 0; j < batch; ++j)
            y[std::size_t(j)] = std::uint8_t(j % classes);
        std::vector<Counted> grad(std::size_t(arch.numParams()));
        mlpkernel::Scratch<Counted> scratch;

        // Dot products and sums/maxima of the pass, from the layer shapes: what the analytic count over-charges.
        const double B = batch;
        double fwdDots = 0, trainDots = 0, dbSums = 0;
        for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
            const double in = sizes[l], out = sizes[l + 1];
            fwdDots += B * out;                        // W a: one per output
            trainDots += in * out + (l > 0 ? B * in : 0); // dW = delta a^T (over the batch); W^T delta
            dbSums += out;                             // db: a sum over the batch per output
        }
        const double softmaxReductions = 2 * B; // max and sum per sample

        counting::ops = {};
        const double loss = mlpkernel::evaluate<Counted>(sizes, off, params.data(), x, y.data(), scratch).first;
        const double evalExecuted = double(counting::ops.total());
        QCOMPARE(evalExecuted, B * arch.forwardFlopsPerSample() - fwdDots - softmaxReductions + 2 * B);

        counting::ops = {};
        const double trainLoss =
            mlpkernel::lossAndGradient<Counted>(sizes, off, params.data(), x, y.data(), grad.data(), scratch);
        const double trainExecuted = double(counting::ops.total());
        QCOMPARE(trainExecuted, B * arch.trainFlopsPerSample() - fwdDots - trainDots - dbSums - softmaxReductions +
                                    3 * B);
        QCOMPARE(trainLoss, loss); // the same arithmetic as evaluate's
        qDebug("executed: forward %.0f (analytic %.0f), forward + backward %.0f (analytic %.0f) flops", evalExecuted,
               B * arch.forwardFlopsPerSample(), trainExecuted, B * arch.trainFlopsPerSample());

        // The counted run is the float model's arithmetic: the same loss and gradient, to float rounding (the
        // vectorised float products sum in another order).
        Mlp model = arch;
        Eigen::VectorXf g(arch.numParams());
        Eigen::MatrixXf xf(inputs, batch);
        for (Eigen::Index i = 0; i < xf.size(); ++i)
            xf.data()[i] = x.data()[i].v;
        QVERIFY(std::fabs(model.lossAndGradient(p.data(), xf, y.data(), g.data()) - loss / B) <= 1e-6 * loss / B);
        const float gMax = g.cwiseAbs().maxCoeff();
        QVERIFY(gMax > 0);
        for (Eigen::Index i = 0; i < g.size(); ++i)
            QVERIFY2(std::fabs(g[i] - grad[std::size_t(i)].v) <= 1e-4f * gMax,
                     qPrintable(QString("gradient %1: %2 and %3").arg(i).arg(g[i]).arg(grad[std::size_t(i)].v)));
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
        // Issue 18: a name too long for the file system is an error naming the file, not an uncaught exception.
        try {
            loadFashionMnist("/" + std::string(300, 'a'));
            QFAIL("no error");
        } catch (const DatasetError& e) {
            QVERIFY2(QString(e.what()).contains("cannot read: File name too long"), e.what());
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
