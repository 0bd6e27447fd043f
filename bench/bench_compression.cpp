// SPDX-License-Identifier: GPL-3.0-or-later
// Throughput of the gradient compressors (issue 13) on one core: encode + decode of an n-float gradient (default
// 10M floats, 40 MB), in GB/s of float gradient (4n bytes / (encode + decode time)), with two baselines measured in
// the same run and interleaved with the compressors: a plain memcpy of the vector and an axpy y += a x (Eigen) over
// it. Each figure is the median of the repetitions; "x memcpy" is the compressor's time over memcpy's.
//
//   bench_compression [n] [repetitions]          defaults: 10000000 7
#include "compression/compressor.h"
#include "compression/dgc.h"
#include "compression/errorfeedback.h"
#include "compression/halfprecision.h"
#include "compression/powersgd.h"
#include "compression/qsgd.h"
#include "compression/signsgd.h"
#include "compression/sparsify.h"
#include "rng.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

using namespace dml;
using namespace dml::compression;

namespace {

double now()
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
}

/// One row: a first phase (encode) and a second (decode), each timed.
struct Case {
    std::string name;
    std::function<void()> first, second;
    std::string note;
    std::vector<double> t1, t2;
};

} // namespace

int main(int argc, char** argv)
{
    const Eigen::Index n = argc > 1 ? std::atol(argv[1]) : 10'000'000;
    const int reps = argc > 2 ? std::atoi(argv[2]) : 7;
    if (n < 1000 || reps < 1) {
        std::fprintf(stderr, "usage: bench_compression [n >= 1000] [repetitions >= 1]\n");
        return 2;
    }
    Eigen::VectorXf g(n), y(n), decoded(n), x2(n);
    Rng rng(1);
    for (Eigen::Index i = 0; i < n; ++i)
        g[i] = float(rng.normal());
    y.setZero();

    std::vector<Case> cases;
    cases.push_back({"memcpy (baseline)", [&] { std::memcpy(y.data(), g.data(), std::size_t(n) * 4); }, {}, "", {}, {}});
    cases.push_back({"axpy y += a x (baseline)", [&] { y.noalias() += 0.5f * g; }, {}, "", {}, {}});

    // The encode/decode compressors.
    std::vector<std::unique_ptr<Compressor>> owned;
    owned.push_back(std::make_unique<NoCompression>());
    owned.push_back(std::make_unique<Fp16>());
    owned.push_back(std::make_unique<Bf16>());
    owned.push_back(std::make_unique<TopK>(Keep::ratio(0.01)));
    owned.push_back(std::make_unique<TopK>(Keep::ratio(0.001)));
    owned.push_back(std::make_unique<RandomK>(Keep::ratio(0.01)));
    owned.push_back(std::make_unique<RandomK>(Keep::ratio(0.01), true));
    owned.push_back(std::make_unique<Qsgd>(Qsgd::levelsForBits(8), 512));
    owned.push_back(std::make_unique<Qsgd>(Qsgd::levelsForBits(4), 512));
    owned.push_back(std::make_unique<Qsgd>(Qsgd::levelsForBits(8)));
    owned.push_back(std::make_unique<Qsgd>(5));
    owned.push_back(std::make_unique<SignCompressor>(SignCompressor::Scale::None));
    owned.push_back(std::make_unique<SignCompressor>(SignCompressor::Scale::MeanAbs));
    std::vector<Encoded> enc(owned.size());
    for (std::size_t c = 0; c < owned.size(); ++c) {
        Compressor* comp = owned[c].get();
        Encoded* e = &enc[c];
        char note[96];
        std::snprintf(note, sizeof note, "%.4g MB, %.3g%% of fp32", comp->encodedBytes(n) / 1e6, 100 * comp->ratio(n));
        cases.push_back({comp->name(), [=, &g] { comp->encodeInto(g, 42, *e); },
                         [=, &decoded] { comp->decodeInto(*e, decoded); }, note, {}, {}});
    }

    // Error feedback around top-k 1 %, DGC momentum correction around it: their own cost (step minus top-k's).
    TopK topk(Keep::ratio(0.01));
    ErrorFeedback ef;
    MomentumCorrection dgc(0.9f);
    Encoded efEnc, dgcEnc;
    cases.push_back({"topk(0.01) + error feedback", [&] { ef.step(topk, g, 42, efEnc, decoded); }, {},
                     "compensate, encode, decode, update", {}, {}});
    cases.push_back({"topk(0.01) + DGC momentum corr.", [&] { dgc.step(topk, g, 42, dgcEnc, decoded); }, {},
                     "accumulate, encode, decode, mask", {}, {}});

    // Majority vote over 4 sign encodings (the server's aggregation; GB/s of one worker's gradient).
    const SignCompressor sign;
    std::vector<Encoded> votes(4);
    for (int m = 0; m < 4; ++m) {
        x2 = g;
        x2.head(n / (m + 2)) *= -1.0f;
        sign.encodeInto(x2, 0, votes[std::size_t(m)]);
    }
    const Encoded* voteParts[] = {&votes[0], &votes[1], &votes[2], &votes[3]};
    Encoded voted;
    cases.push_back({"sign majority vote of 4", [&] { sign.majorityVote(voteParts, voted); },
                     [&] { sign.decodeInto(voted, decoded); }, "vote, decode", {}, {}});

    // PowerSGD, one rank (the all-reduces are the identity): the vector as one matrix of 2500 x (n / 2500).
    const Eigen::Index rows = 2500, cols = n / rows;
    std::vector<std::unique_ptr<PowerSgd>> powers;
    std::vector<Eigen::VectorXf> pbuf(2), qbuf(2);
    for (int r : {2, 4}) {
        auto ps = std::make_unique<PowerSgd>(std::vector<LayerShape>{{rows, cols}}, r, 7, true);
        PowerSgd* p = ps.get();
        Eigen::VectorXf* pb = &pbuf[std::size_t(r / 4)];
        Eigen::VectorXf* qb = &qbuf[std::size_t(r / 4)];
        char note[96];
        std::snprintf(note, sizeof note, "%.4g MB, %.3g%% of fp32 (P + Q)", (p->pBytes() + p->qBytes()) / 1e6,
                      100 * (p->pBytes() + p->qBytes()) / (4.0 * double(rows * cols)));
        cases.push_back({"powersgd rank " + std::to_string(r) + " (" + std::to_string(rows) + "x" +
                             std::to_string(cols) + ")",
                         [=, &g] {
                             p->computeP(g.head(rows * cols), *pb);
                             p->computeQ(*pb, *qb);
                         },
                         [=, &decoded] { p->decompress(*pb, *qb, decoded); }, note, {}, {}});
        powers.push_back(std::move(ps));
    }

    for (int rep = 0; rep < reps; ++rep)
        for (Case& c : cases) {
            double t0 = now();
            c.first();
            double t1 = now();
            c.t1.push_back(t1 - t0);
            if (c.second) {
                c.second();
                c.t2.push_back(now() - t1);
            }
        }

    const double gb = 4.0 * double(n) / 1e9;
    const double memcpyTime = median(cases[0].t1);
    std::printf("bench_compression: n = %ld floats (%.0f MB), %d repetitions, medians, one thread\n", long(n),
                4.0 * double(n) / 1e6, reps);
    std::printf("%-34s %10s %10s %10s %9s  %s\n", "", "encode ms", "decode ms", "GB/s", "x memcpy", "encoded size");
    for (const Case& c : cases) {
        const double a = median(c.t1), b = median(c.t2), t = a + b;
        char decode[16] = "-";
        if (c.second)
            std::snprintf(decode, sizeof decode, "%.2f", 1e3 * b);
        std::printf("%-34s %10.2f %10s %10.2f %9.2f  %s\n", c.name.c_str(), 1e3 * a, decode, gb / t, t / memcpyTime,
                    c.note.c_str());
    }
    return 0;
}
