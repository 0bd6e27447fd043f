// SPDX-License-Identifier: GPL-3.0-or-later
// The CNN's arithmetic speed (issue 17): training throughput on Fashion-MNIST, and each convolution layer's
// achieved GFLOP/s against a plain Eigen SGEMM of the same shapes measured in the same run, for LeNet-5 and for
// the model of a scenario (default scenarios/cnn.json, at its batch size).
//
//   ./build/bench/bench_cnn [SCENARIO.json] [--batch B] [--steps N] [--repeat R] [--data DIR]
//
// Training: N gradient evaluations (Cnn::lossAndGradient) plus Adam steps on consecutive batches of B samples
// (default 32 for LeNet-5, the scenario's batch size for its model), one thread; samples/s and the analytic flops
// per second (Cnn::trainFlopsPerSample).
// Per convolution layer: the layer's own forward and backward pass as training runs them (cnnkernel forwardLayer and
// backwardLayer: im2col, GEMM, bias; dW and db, the GEMM of the input's gradient and col2im), timed alone, against
// its three GEMMs (W col, delta col^T, W^T delta) as plain Eigen float products on matrices of the same shapes in a
// loop. Achieved rate = the layer's analytic flops (Cnn::layerFlops, which also charge bias, db and col2im) / its
// time; the SGEMM rate = 2 m n k per product / its time. Each time is the fastest of R (default 9) repetitions, the
// two series interleaved: on a shared machine other processes slow single repetitions down by a factor of 2 or
// more, and the fastest repetition is the one least disturbed (the load average is printed).
#include "data/dataset.h"
#include "data/partition.h"
#include "models/cnn.h"
#include "optim/optimizer.h"
#include "scenario.h"

#include "benchutil.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

using namespace dml;
using namespace dml::bench;

namespace {

double fastest(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }

} // namespace

/// Training throughput of `spec` and its convolution layers against SGEMM (see the top of the file).
void measure(const std::string& name, const CnnSpec& spec, int batch, int steps, int repeat, const TrainTest& data)
{
    const Cnn cnn(spec, data.train.classes);
    Eigen::VectorXf params(cnn.numParams()), grad(cnn.numParams());
    cnn.initParams(params.data(), 1);
    OptimizerSpec adam;
    adam.kind = OptimizerSpec::Kind::Adam;
    adam.learningRate = 1e-3f;
    Optimizer opt(adam, cnn.numParams());
    std::printf("%s: %lld parameters, batch %d, %.3f Mflop per sample forward, %.3f Mflop forward + backward\n",
                name.c_str(), (long long)cnn.numParams(), batch, cnn.forwardFlopsPerSample() / 1e6,
                cnn.trainFlopsPerSample() / 1e6);

    // Training throughput.
    Eigen::MatrixXf x;
    std::vector<std::uint8_t> y;
    std::vector<int> idx(static_cast<std::size_t>(batch));
    long next = 0;
    auto trainSteps = [&](int n) {
        for (int s = 0; s < n; ++s) {
            for (int j = 0; j < batch; ++j)
                idx[std::size_t(j)] = int((next++) % data.train.numSamples());
            gatherBatch(data.train, idx.data(), batch, x, y);
            cnn.lossAndGradient(params.data(), x, y.data(), grad.data());
            opt.step(params.data(), grad.data());
        }
    };
    trainSteps(10); // warm-up: scratch allocated, pages faulted in
    std::vector<double> trainTimes;
    for (int r = 0; r < repeat; ++r) {
        const double t0 = now();
        trainSteps(steps);
        trainTimes.push_back((now() - t0) / steps);
    }
    const double stepTime = fastest(trainTimes);
    std::printf("training: %.0f samples/s, %.2f GFLOP/s (analytic flops; fastest of %d x %d steps, %.3f ms a step)\n",
                batch / stepTime, batch * cnn.trainFlopsPerSample() / stepTime / 1e9, repeat, steps, stepTime * 1e3);

    // Each convolution layer alone, against its GEMMs in a plain loop.
    const std::vector<cnnkernel::Layer>& layers = cnn.layers();
    cnnkernel::Scratch<float> s;
    for (int j = 0; j < batch; ++j)
        idx[std::size_t(j)] = j;
    gatherBatch(data.train, idx.data(), batch, x, y);
    cnnkernel::forward<float>(layers, params.data(), x, s); // every layer's input as training sees it
    double convFlops = 0, convTime = 0, gemmFlops = 0, gemmTime = 0;
    for (std::size_t i = 0; i < layers.size(); ++i) {
        const cnnkernel::Layer& l = layers[i];
        if (l.kind != cnnkernel::Layer::Kind::Conv)
            continue;
        const float* in = i > 0 ? s.act[i - 1].data() : x.data();
        const Eigen::Index m = l.outC, k = l.unrolled(), n = batch * l.outPixels();
        s.delta = Eigen::VectorXf::Random(m * n) * 1e-3f;
        // The same shapes as plain matrices: A (m x k) B (k x n); C (m x n) B^T; A^T C.
        const Eigen::MatrixXf a = Eigen::MatrixXf::Random(m, k), b = Eigen::MatrixXf::Random(k, n);
        const Eigen::MatrixXf c = Eigen::MatrixXf::Random(m, n);
        Eigen::MatrixXf out(m, n), dw(m, k), dcol(k, n);
        const int iters = std::max(3, int(2e8 / (6.0 * double(m) * double(n) * double(k)))); // ~0.1 s at 10 GFLOP/s
        auto layerPass = [&] {
            for (int it = 0; it < iters; ++it) {
                cnnkernel::forwardLayer<float>(layers, i, params.data(), in, batch, s);
                cnnkernel::backwardLayer<float>(layers, i, params.data(), in, batch, grad.data(), s);
            }
        };
        auto gemms = [&] {
            for (int it = 0; it < iters; ++it) {
                out.noalias() = a * b;
                dw.noalias() = c * b.transpose();
                if (l.inputGradient)
                    dcol.noalias() = a.transpose() * c;
            }
        };
        layerPass();
        gemms();
        std::vector<double> tl, tg;
        for (int r = 0; r < repeat; ++r) {
            double t0 = now();
            layerPass();
            tl.push_back((now() - t0) / iters);
            t0 = now();
            gemms();
            tg.push_back((now() - t0) / iters);
        }
        const double lf = double(batch) * cnn.layerFlops()[i].train;
        const double gf = 2.0 * double(m) * double(n) * double(k) * (l.inputGradient ? 3 : 2);
        const double lt = fastest(tl), gt = fastest(tg);
        std::printf("conv layer %zu (%d@%dx%d on %d x %d x %d, GEMMs %lld x %lld x %lld): %.2f GFLOP/s, SGEMM of the "
                    "same shapes %.2f GFLOP/s: %.0f %%\n",
                    i, l.outC, l.kernel, l.kernel, l.inC, l.inH, l.inW, (long long)m, (long long)k, (long long)n,
                    lf / lt / 1e9, gf / gt / 1e9, 100.0 * (lf / lt) / (gf / gt));
        convFlops += lf;
        convTime += lt;
        gemmFlops += gf;
        gemmTime += gt;
    }
    std::printf("convolution layers together: %.2f GFLOP/s against SGEMM %.2f GFLOP/s: %.0f %% (target >= 50 %%)\n",
                convFlops / convTime / 1e9, gemmFlops / gemmTime / 1e9,
                100.0 * (convFlops / convTime) / (gemmFlops / gemmTime));
    std::printf("share of a training step in the convolution layers: %.0f %%\n", 100.0 * convTime / stepTime);
}

int main(int argc, char** argv)
{
    int batch = 0, steps = 200, repeat = 9;
    std::string dir = "/usr/share/datasets/fashion-mnist", scenario = DMLSIM_SOURCE_DIR "/scenarios/cnn.json";
    for (int i = 1; i < argc; ++i) {
        if (i + 1 < argc && !std::strcmp(argv[i], "--batch"))
            batch = std::max(1, std::atoi(argv[++i]));
        else if (i + 1 < argc && !std::strcmp(argv[i], "--steps"))
            steps = std::max(1, std::atoi(argv[++i]));
        else if (i + 1 < argc && !std::strcmp(argv[i], "--repeat"))
            repeat = std::max(1, std::atoi(argv[++i]));
        else if (i + 1 < argc && !std::strcmp(argv[i], "--data"))
            dir = argv[++i];
        else
            scenario = argv[i];
    }
    const app::Scenario sc = app::loadScenario(scenario);
    if (sc.sim.training.cnn.layers.empty()) {
        std::fprintf(stderr, "%s: not a CNN scenario (workload.model.type \"cnn\")\n", scenario.c_str());
        return 2;
    }
    const TrainTest data = loadFashionMnist(dir, 0, 0);
    std::printf("load average %.2f (other processes compete for the cores measured)\n\n", loadAverage());
    measure("LeNet-5", CnnSpec::lenet5(), batch > 0 ? batch : 32, steps, repeat, data);
    std::printf("\n");
    measure(sc.name, sc.sim.training.cnn, batch > 0 ? batch : sc.sim.training.batchSize, steps, repeat, data);
    return 0;
}
