// SPDX-License-Identifier: GPL-3.0-or-later
// Asynchronous parameter server, ring all-reduce, federated averaging and proxy workloads, run in SimGrid:
// numeric identities (one worker = plain SGD, all-reduce = sum, FedAvg = weighted mean) and timing identities
// under the ideal network model. One simulation per class: each class is one ctest (simcase.h).
#include "simcase.h"
#include "simutil.h"

#include "strategies/asyncps.h"
#include "strategies/fedavg.h"
#include "models/model.h"
#include "optim/optimizer.h"
#include "data/partition.h"
#include "reference.h"
#include "strategies/ringallreduce.h"
#include "simulation.h"
#include "strategies/syncps.h"

#include <QTest>

#include <sys/resource.h>

#include <cmath>
#include <cstring>
#include <map>
#include <set>

using namespace dml;
using namespace dml::test;

namespace {

bool bitIdentical(const Eigen::VectorXf& a, const Eigen::VectorXf& b)
{
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), sizeof(float) * std::size_t(a.size())) == 0;
}

/// Plain mini-batch SGD on one shard: `steps` batches of `batch` from a BatchSampler seeded `samplerSeed`,
/// starting from `params`, with a fresh optimizer. mu > 0 adds FedProx's mu (w - anchor) to the gradient.
void plainSgd(const TrainTest& data, const TrainingConfig& cfg, BatchSampler& sampler, int batch, long steps,
              Eigen::VectorXf& params, float mu = 0, const Eigen::VectorXf* anchor = nullptr)
{
    Mlp model(data.train.numFeatures(), cfg.hidden, data.train.classes);
    Eigen::VectorXf grad(model.numParams());
    Optimizer opt(cfg.optimizer, model.numParams());
    Eigen::MatrixXf x;
    std::vector<std::uint8_t> y;
    for (long s = 0; s < steps; ++s) {
        gatherBatch(data.train, sampler.next(), batch, x, y);
        model.lossAndGradient(params.data(), x, y.data(), grad.data());
        if (mu > 0)
            grad += mu * (params - *anchor);
        opt.step(params.data(), grad.data());
    }
}

/// Records what a strategy reports.
class Recorder : public MetricsSink {
public:
    void sample(const Sample& s) override { samples.push_back(s); }
    void point(const std::string& name, double t, double v) override { series[name].emplace_back(t, v); }
    std::vector<Sample> samples;
    std::map<std::string, std::vector<std::pair<double, double>>> series;
};

/// A test strategy: P ranks that only run ringAllReduce on given vectors (or proxies) and record the results.
class RingProbe final : public Strategy {
public:
    struct Call {
        Eigen::Index n = 0;     ///< elements (0 with a proxy)
        double proxyBytes = 0;  ///< > 0: a proxy of that many bytes
    };
    RingProbe(int P, std::vector<Call> calls, std::uint64_t seed) : m_P(P), m_calls(std::move(calls))
    {
        // inputs[call][rank]: uniform in [0.5, 1.5), so that sums have no cancellation.
        for (std::size_t c = 0; c < m_calls.size(); ++c) {
            std::vector<Eigen::VectorXf> perRank;
            for (int r = 0; r < P; ++r) {
                Rng rng(deriveSeed(seed, c, std::uint64_t(r)));
                Eigen::VectorXf v(m_calls[c].n);
                for (Eigen::Index i = 0; i < v.size(); ++i)
                    v[i] = float(0.5 + rng.uniform());
                perRank.push_back(std::move(v));
            }
            inputs.push_back(perRank);
            outputs.push_back(perRank);
            scalars.emplace_back(std::size_t(P));
            times.emplace_back(std::size_t(P));
        }
    }
    int numRanks() const override { return m_P; }
    std::string roleOf(int) const override { return "worker"; }
    void run(int rank, Transport& t) override
    {
        for (std::size_t c = 0; c < m_calls.size(); ++c) {
            RingScalars s{.sum = 0.1 * (rank + 1) + 1e-9 * rank, .flags = 1L << rank};
            const double t0 = t.now();
            if (m_calls[c].proxyBytes > 0)
                ringAllReduce(t, rank, m_P, nullptr, m_calls[c].proxyBytes, 7, &s);
            else
                ringAllReduce(t, rank, m_P, &outputs[c][std::size_t(rank)], 4.0 * double(m_calls[c].n), 7, &s);
            times[c][std::size_t(rank)] = {t0, t.now()};
            scalars[c][std::size_t(rank)] = s;
        }
    }
    std::string stopReason() const override { return "done"; }
    const Eigen::VectorXf& finalModel() const override { return m_none; }

    std::vector<std::vector<Eigen::VectorXf>> inputs, outputs;      // [call][rank]
    std::vector<std::vector<RingScalars>> scalars;                  // [call][rank]
    std::vector<std::vector<std::pair<double, double>>> times;      // [call][rank]: start, end

private:
    int m_P;
    std::vector<Call> m_calls;
    Eigen::VectorXf m_none;
};

/// Whether simcore gives every rank a distinct host name (it must, for several fedavg clients).
bool distinctHostNames(const Strategy& s)
{
    const auto names = sim::hostNames(s);
    return std::set<std::string>(names.begin(), names.end()).size() == names.size();
}

} // namespace

// ---------------------------------------------------------------------------------------------------------------
// Ring all-reduce

/// ringAllReduce returns the element-wise sum (so sum / P is the mean) on every rank, bit-identical across ranks,
/// for a length that P divides, one it does not (1003 over 5) and one shorter than P (3 over 5: empty chunks).
/// The scalars ride along: the sum is added in rank order, the flags OR-ed.
class RingAllReduceSumsExactly : public QObject {
    Q_OBJECT
private slots:
    void meanOfInputs()
    {
        const int P = 5;
        RingProbe probe(P, {{1000}, {1003}, {3}}, 17);
        sim::simulateStrategy(idealStar(P), probe, 0, true);
        for (std::size_t c = 0; c < probe.inputs.size(); ++c) {
            const Eigen::Index n = probe.inputs[c][0].size();
            for (Eigen::Index i = 0; i < n; ++i) {
                double mean = 0;
                for (int r = 0; r < P; ++r)
                    mean += probe.inputs[c][std::size_t(r)][i];
                mean /= P;
                const double got = double(probe.outputs[c][0][i]) / P;
                QVERIFY2(std::fabs(got - mean) <= 1e-6 * std::fabs(mean),
                         qPrintable(QString("N=%1, element %2: ").arg(n).arg(i) + mismatch(got, mean)));
            }
            for (int r = 1; r < P; ++r)
                QVERIFY2(bitIdentical(probe.outputs[c][std::size_t(r)], probe.outputs[c][0]),
                         qPrintable(QString("N=%1: rank %2 differs from rank 0").arg(n).arg(r)));
            double rankOrder = 0;
            for (int r = 0; r < P; ++r)
                rankOrder = rankOrder + (0.1 * (r + 1) + 1e-9 * r);
            for (int r = 0; r < P; ++r) {
                QCOMPARE(probe.scalars[c][std::size_t(r)].sum, rankOrder); // exactly: rank order
                QCOMPARE(probe.scalars[c][std::size_t(r)].flags, (1L << P) - 1);
            }
        }
    }
};
DML_SIM_CASE(RingAllReduceSumsExactly);

/// Under the ideal network model, one ring all-reduce of S bytes over P hosts of the star takes
/// 2(P-1)(alpha + S/(P B)) + (P-1) (N/P) / speed, with alpha = 2 x link latency + backbone latency (the route is
/// sender's link, backbone, receiver's link), B = link bandwidth, and the last term the chunk additions of the
/// reduce-scatter (N = S/4 elements, 1 flop each). Checked for a proxy (no data) and for real vectors.
class RingAllReduceTimeIdeal : public QObject {
    Q_OBJECT
private slots:
    void matchesAlphaBeta()
    {
        const int P = 8;
        sim::PlatformSpec p = idealStar(P);
        p.workerSpeed = 1e11;
        const double S = 1e8;         // proxy bytes
        const Eigen::Index n = 400000; // real floats: 1.6 MB
        RingProbe probe(P, {{0, S}, {n, 0}}, 3);
        sim::simulateStrategy(p, probe, 0, true);
        const double alpha = routeLatency(p);
        auto expected = [&](double bytes) {
            const double elements = bytes / 4;
            return 2 * (P - 1) * (alpha + bytes / (P * p.linkBandwidth)) + (P - 1) * (elements / P) / p.workerSpeed;
        };
        const double want[] = {expected(S), expected(4.0 * double(n))};
        for (std::size_t c = 0; c < 2; ++c)
            for (int r = 0; r < P; ++r) {
                const auto [t0, t1] = probe.times[c][std::size_t(r)];
                QVERIFY2(nearRel(t1 - t0, want[c], 1e-3),
                         qPrintable(QString("call %1 rank %2: ").arg(c).arg(r) + mismatch(t1 - t0, want[c])));
            }
        qInfo("P=%d, S=%g B: %.6f s (alpha-beta %.6f s)", P, S, probe.times[0][0].second - probe.times[0][0].first,
              want[0]);
    }
};
DML_SIM_CASE(RingAllReduceTimeIdeal);

/// RingAllReduceStrategy keeps its P replicas bit-identical after every step, and learns.
class RingReplicasIdentical : public QObject {
    Q_OBJECT
private slots:
    void replicasAgreeEveryStep()
    {
        const TrainTest data = smallData(7);
        const int P = 3;
        TrainingConfig cfg;
        cfg.hidden = {16};
        cfg.optimizer.kind = OptimizerSpec::Kind::Adam;
        cfg.optimizer.learningRate = 0.01f;
        cfg.batchSize = 20;
        cfg.epochs = 2;
        cfg.evalEverySteps = 5;
        cfg.seed = 5;
        Recorder rec;
        RingAllReduceStrategy ring(P, cfg, data, rec);
        std::map<long, std::vector<Eigen::VectorXf>> replicas; // step -> replica of each rank
        ring.setReplicaObserver([&](int rank, long step, const Eigen::VectorXf& params) {
            auto& v = replicas[step];
            v.resize(std::size_t(P));
            v[std::size_t(rank)] = params;
        });
        const sim::SimulationResult r = sim::simulateStrategy(idealStar(P), ring, 0, true);
        const long steps = 2 * stepsPerEpoch(600, P, 20); // 20
        QCOMPARE(long(replicas.size()), steps);
        for (const auto& [step, v] : replicas) {
            for (int k = 1; k < P; ++k)
                QVERIFY2(bitIdentical(v[std::size_t(k)], v[0]),
                         qPrintable(QString("step %1: rank %2 differs from rank 0").arg(step).arg(k)));
            if (step > 1)
                QVERIFY(!bitIdentical(v[0], replicas[step - 1][0])); // the model does move
        }
        QVERIFY(bitIdentical(r.finalModel, replicas[steps][0]));
        QCOMPARE(ring.stopReason(), std::string("epochs"));
        QCOMPARE(rec.samples.back().step, steps);
        QVERIFY(std::isfinite(rec.samples.back().trainLoss));
        QVERIFY2(rec.samples.back().testAccuracy > 0.5, qPrintable(QString::number(rec.samples.back().testAccuracy)));
    }
};
DML_SIM_CASE(RingReplicasIdentical);

/// An early stop (target accuracy) is decided by rank 0 after step k and announced in step k+1's all-reduce:
/// every rank stops without applying step k+1 (no rank blocks), and the final model is the one judged at step k.
class RingEarlyStopDrains : public QObject {
    Q_OBJECT
private slots:
    void everyRankStopsAtTheSameStep()
    {
        const TrainTest data = smallData(8);
        const int P = 4;
        TrainingConfig cfg;
        cfg.hidden = {16};
        cfg.optimizer.learningRate = 0.1f;
        cfg.batchSize = 10;
        cfg.epochs = 5; // 75 steps planned
        cfg.evalEverySteps = 1;
        cfg.targetAccuracy = 0.6;
        cfg.stopAtTarget = true;
        cfg.seed = 2;
        Recorder rec;
        RingAllReduceStrategy ring(P, cfg, data, rec);
        std::vector<long> lastStep(std::size_t(P), 0);
        Eigen::VectorXf rank0Last;
        ring.setReplicaObserver([&](int rank, long step, const Eigen::VectorXf& params) {
            lastStep[std::size_t(rank)] = step;
            if (rank == 0)
                rank0Last = params;
        });
        const sim::SimulationResult r = sim::simulateStrategy(idealStar(P), ring, 0, true);
        QCOMPARE(ring.stopReason(), std::string("target_accuracy"));
        const long k = rec.samples.back().step;
        QVERIFY2(k < 75, qPrintable(QString::number(k)));
        QVERIFY(rec.samples.back().testAccuracy >= 0.6);
        for (int w = 0; w < P; ++w)
            QCOMPARE(lastStep[std::size_t(w)], k);
        QVERIFY(bitIdentical(r.finalModel, rank0Last));
    }
};
DML_SIM_CASE(RingEarlyStopDrains);

// ---------------------------------------------------------------------------------------------------------------
// Asynchronous parameter server

/// One worker under the asynchronous parameter server is plain mini-batch SGD (hence equals the synchronous
/// server with one worker, which sim_syncps.cpp checks against the same loop): bit-identical model.
class AsyncPsOneWorkerEqualsSgd : public QObject {
    Q_OBJECT
private slots:
    void identicalToPlainSgd()
    {
        const TrainTest data = smallData(3);
        sim::SimulationSpec spec;
        spec.platform.workers = 1;
        spec.platform.network = sim::NetworkModel::Tcp;
        spec.strategy = {StrategyKind::AsyncPs, 1};
        TrainingConfig& cfg = spec.training;
        cfg.hidden = {16, 8};
        cfg.optimizer.kind = OptimizerSpec::Kind::Adam;
        cfg.optimizer.learningRate = 0.01f;
        cfg.batchSize = 25;
        cfg.epochs = 2;
        cfg.seed = 11;
        MetricsSink none;
        const sim::SimulationResult r = sim::simulate(spec, data, none);

        Mlp model(data.train.numFeatures(), cfg.hidden, data.train.classes);
        Eigen::VectorXf params(model.numParams());
        model.initParams(params.data(), cfg.seed);
        BatchSampler sampler(partitionIid(data.train.numSamples(), 1, cfg.seed)[0], cfg.batchSize,
                             workerSeed(cfg.seed, 0));
        const long steps = 2L * sampler.batchesPerEpoch();
        plainSgd(data, cfg, sampler, cfg.batchSize, steps, params);
        QCOMPARE(r.summary.steps, steps);
        QVERIFY2(bitIdentical(r.finalModel, params), "the simulated model differs from plain SGD");
        QCOMPARE(r.summary.stalenessMean, 0.0);
        QCOMPARE(r.summary.stalenessMax, 0.0);
        QCOMPARE(long(r.series.at("staleness").size()), steps);
        QVERIFY(r.summary.finalAccuracy > 0.5);
    }
};
DML_SIM_CASE(AsyncPsOneWorkerEqualsSgd);

/// P identical workers on identical links: in steady state each worker's update comes once per P updates, so the
/// mean staleness is P-1 (within 10 %, the first round contributing 0, 1, ..., P-1). Individual values vary
/// (replies queue on the server's link: here the steady state cycles through 1, 3, 5, 3).
class AsyncPsStalenessIdenticalWorkers : public QObject {
    Q_OBJECT
private slots:
    void meanIsPMinusOne()
    {
        const TrainTest data = smallData(4);
        const int P = 4;
        sim::SimulationSpec spec;
        spec.platform = idealStar(P);
        spec.strategy = {StrategyKind::AsyncPs, P};
        TrainingConfig& cfg = spec.training;
        cfg.hidden = {16};
        cfg.batchSize = 10;
        cfg.epochs = 4;
        cfg.seed = 3;
        MetricsSink none;
        const sim::SimulationResult r = sim::simulate(spec, data, none);
        const long updates = 4L * P * stepsPerEpoch(600, P, 10); // 240
        QCOMPARE(r.summary.steps, updates);
        QCOMPARE(r.summary.stopReason, std::string("epochs"));
        QCOMPARE(long(r.series.at("staleness").size()), updates);
        QVERIFY2(nearRel(r.summary.stalenessMean, P - 1, 0.1), qPrintable(mismatch(r.summary.stalenessMean, P - 1)));
        QVERIFY(r.summary.stalenessMax >= P - 1); // not P-1 exactly: replies share the server's link
        QVERIFY(std::fabs(r.samples.back().epoch - 4.0) < 1e-12); // one epoch = P x stepsPerEpoch updates
        QVERIFY(r.summary.finalAccuracy > 0.5);
        qInfo("mean staleness %.4f over %ld updates", r.summary.stalenessMean, updates);
    }
};
DML_SIM_CASE(AsyncPsStalenessIdenticalWorkers);

/// Stale-synchronous bound s = 0: no worker may run ahead of the slowest, so workers proceed in rounds of P
/// updates computed on the same version: staleness 0, 1, ..., P-1 in every round, mean (P-1)/2 exactly.
class AsyncPsStalenessBoundZero : public QObject {
    Q_OBJECT
private slots:
    void roundsOfP()
    {
        const TrainTest data = smallData(4);
        const int P = 4;
        sim::SimulationSpec spec;
        spec.platform = idealStar(P);
        spec.strategy = {StrategyKind::AsyncPs, P};
        spec.strategy.stalenessBound = 0;
        TrainingConfig& cfg = spec.training;
        cfg.hidden = {16};
        cfg.batchSize = 10;
        cfg.epochs = 2;
        cfg.seed = 3;
        MetricsSink none;
        const sim::SimulationResult r = sim::simulate(spec, data, none);
        const auto& st = r.series.at("staleness");
        QCOMPARE(long(st.size()), 2L * P * stepsPerEpoch(600, P, 10));
        for (std::size_t i = 0; i < st.size(); i += P) {
            std::multiset<double> round;
            for (int k = 0; k < P; ++k)
                round.insert(st[i + std::size_t(k)].second);
            QCOMPARE(round, (std::multiset<double>{0, 1, 2, 3}));
        }
        QCOMPARE(r.summary.stalenessMean, 1.5);
        QCOMPARE(r.summary.stalenessMax, 3.0);
    }
};
DML_SIM_CASE(AsyncPsStalenessBoundZero);

// ---------------------------------------------------------------------------------------------------------------
// Federated averaging

/// FedAvg with K = 1, C = 1, E = 1 is one epoch of plain mini-batch SGD with the same data order: bit-identical.
class FedAvgOneClientEqualsSgd : public QObject {
    Q_OBJECT
private slots:
    void identicalToPlainSgd()
    {
        const TrainTest data = smallData(3);
        sim::SimulationSpec spec;
        spec.platform.workers = 1;
        spec.strategy = {StrategyKind::FedAvg, 1};
        spec.strategy.clientFraction = 1;
        spec.strategy.localEpochs = 1;
        TrainingConfig& cfg = spec.training;
        cfg.hidden = {16, 8};
        cfg.optimizer.kind = OptimizerSpec::Kind::Adam;
        cfg.optimizer.learningRate = 0.01f;
        cfg.batchSize = 25;
        cfg.epochs = 1;
        cfg.seed = 11;
        MetricsSink none;
        const sim::SimulationResult r = sim::simulate(spec, data, none);

        Mlp model(data.train.numFeatures(), cfg.hidden, data.train.classes);
        Eigen::VectorXf params(model.numParams());
        model.initParams(params.data(), cfg.seed);
        BatchSampler sampler(partitionIid(data.train.numSamples(), 1, cfg.seed)[0], cfg.batchSize,
                             workerSeed(cfg.seed, 0));
        plainSgd(data, cfg, sampler, cfg.batchSize, sampler.batchesPerEpoch(), params);
        QCOMPARE(r.summary.steps, 1L); // one round
        QCOMPARE(r.summary.stopReason, std::string("epochs"));
        QVERIFY2(bitIdentical(r.finalModel, params), "the federated model differs from plain SGD");
        QCOMPARE(r.hosts[0].role, std::string("client"));
        QVERIFY(r.summary.utilization > 0); // clients count as workers in the summary
        QVERIFY(r.summary.finalAccuracy > 0.5);
    }
};
DML_SIM_CASE(FedAvgOneClientEqualsSgd);

namespace {

/// FedAvg / FedProx over K = 4 clients of a per-class Dirichlet partition (unequal sizes, one smaller than a batch),
/// C = 1,
/// E = 2, two rounds: the simulated model equals, bit for bit, the in-test loop of McMahan et al.'s Algorithm 1:
/// each client's local SGD from the global model (its sampler persisting across rounds), then
/// sum_k (n_k / n) w^k in client order.
void checkWeightedMean(float mu)
{
    const TrainTest data = smallData(6, 200);
    const int K = 4;
    sim::SimulationSpec spec;
    spec.platform = idealStar(K);
    spec.strategy = {StrategyKind::FedAvg, K};
    spec.strategy.clientFraction = 1;
    spec.strategy.localEpochs = 2;
    spec.strategy.rounds = 2;
    spec.strategy.proxMu = mu;
    TrainingConfig& cfg = spec.training;
    cfg.hidden = {8};
    cfg.optimizer.kind = OptimizerSpec::Kind::Momentum;
    cfg.optimizer.learningRate = 0.05f;
    cfg.batchSize = 16;
    cfg.partition.kind = PartitionSpec::Kind::DirichletPerClass; // Hsu's "dirichlet" gives equal sizes
    cfg.partition.alpha = 0.3;
    cfg.seed = 21;
    const Partition part = makePartition(cfg.partition, data.train, K, cfg.seed);
    std::size_t smallest = part[0].size();
    for (const auto& p : part)
        smallest = std::min(smallest, p.size());
    QVERIFY2(smallest < 16, qPrintable(QString("smallest part %1: pick a seed with a part below one batch").arg(smallest)));
    {
        MetricsSink none;
        auto strategy = makeStrategy(spec.strategy, cfg, data, none);
        QVERIFY(distinctHostNames(*strategy));
    }
    MetricsSink none;
    const sim::SimulationResult r = sim::simulate(spec, data, none);

    Mlp model(data.train.numFeatures(), cfg.hidden, data.train.classes);
    Eigen::VectorXf global(model.numParams());
    model.initParams(global.data(), cfg.seed);
    std::vector<std::unique_ptr<BatchSampler>> samplers;
    std::vector<int> batch;
    for (int k = 0; k < K; ++k) {
        batch.push_back(std::min(cfg.batchSize, int(part[std::size_t(k)].size())));
        samplers.push_back(std::make_unique<BatchSampler>(part[std::size_t(k)], batch.back(), workerSeed(cfg.seed, k)));
    }
    double total = 0;
    for (const auto& p : part)
        total += double(p.size());
    for (int round = 1; round <= 2; ++round) {
        std::vector<Eigen::VectorXf> local;
        for (int k = 0; k < K; ++k) {
            Eigen::VectorXf w = global;
            plainSgd(data, cfg, *samplers[std::size_t(k)], batch[std::size_t(k)],
                     2L * samplers[std::size_t(k)]->batchesPerEpoch(), w, mu, &global);
            local.push_back(std::move(w));
        }
        global = float(double(part[0].size()) / total) * local[0];
        for (int k = 1; k < K; ++k)
            global += float(double(part[std::size_t(k)].size()) / total) * local[std::size_t(k)];
    }
    QCOMPARE(r.summary.steps, 2L);
    QCOMPARE(r.summary.stopReason, std::string("rounds"));
    QVERIFY2(bitIdentical(r.finalModel, global), "the federated model differs from the weighted mean");
}

} // namespace

class FedAvgWeightedMean : public QObject {
    Q_OBJECT
private slots:
    void equalsAlgorithm1() { checkWeightedMean(0.0f); }
};
DML_SIM_CASE(FedAvgWeightedMean);

class FedProxWeightedMean : public QObject {
    Q_OBJECT
private slots:
    void equalsAlgorithm1WithProximalTerm() { checkWeightedMean(0.5f); }
};
DML_SIM_CASE(FedProxWeightedMean);

/// K = 10,000 clients, C = 0.01 (m = 100 per round), proxy model on a labels-only dataset: only the active
/// clients are simulated, and each round takes exactly, under the ideal network model,
/// 2 (alpha + m S / B) (m models through the server's link, down then up) + the client's local step + 2 m N / server
/// speed (the weighted average).
class FedAvgProxyTenThousandClients : public QObject {
    Q_OBJECT
private slots:
    void roundTimeAndActiveClients()
    {
        const int K = 10000;
        const TrainTest data = labelsOnly(2 * K, 10); // 2 samples per client: one batch of 2 (batch 32 > 2)
        sim::SimulationSpec spec;
        spec.platform = idealStar(K);
        spec.strategy = {StrategyKind::FedAvg, K};
        spec.strategy.clientFraction = 0.01;
        spec.strategy.rounds = 3;
        TrainingConfig& cfg = spec.training;
        cfg.batchSize = 32;
        cfg.proxy.parameters = 250000; // 1 MB messages
        cfg.proxy.trainFlopsPerSample = 1e9;
        cfg.evalEverySteps = 1;
        {
            MetricsSink none;
            auto strategy = makeStrategy(spec.strategy, cfg, data, none);
            QVERIFY(distinctHostNames(*strategy));
        }
        MetricsSink none;
        const sim::SimulationResult r = sim::simulate(spec, data, none);
        QCOMPARE(int(r.samples.size()), 4); // rounds 0..3
        const sim::PlatformSpec& p = spec.platform;
        const double m = 100, S = 4.0 * 250000, N = 250000;
        const double clientStep = (2 * 1e9 + 2 * N) / p.workerSpeed; // batch of 2, SGD update
        const double expected = 2 * (routeLatency(p) + m * S / p.linkBandwidth) + clientStep + 2 * m * N / p.serverSpeed;
        for (std::size_t i = 1; i < r.samples.size(); ++i) {
            const double round = r.samples[i].time - r.samples[i - 1].time;
            QVERIFY2(nearRel(round, expected, 1e-3), qPrintable(QString("round %1: ").arg(i) + mismatch(round, expected)));
            QVERIFY(std::isnan(r.samples[i].testAccuracy));
        }
        int launched = 0;
        for (int k = 0; k < K; ++k)
            launched += r.hosts[std::size_t(k)].elapsed > 0 ? 1 : 0;
        QVERIFY(launched > 100 && launched <= 300); // 3 rounds of 100, some sampled twice
        QVERIFY(!r.summary.accuracySimulated);
        QCOMPARE(r.finalModel.size(), Eigen::Index(0));
        QCOMPARE(r.hosts[std::size_t(K)].role, std::string("server"));
    }
};
DML_SIM_CASE(FedAvgProxyTenThousandClients);

// ---------------------------------------------------------------------------------------------------------------
// Partitioning inside a strategy

/// The synchronous parameter server draws each worker's batches from its part of makePartition: with McMahan's
/// label shards over P = 3 workers it equals, bit for bit, plainDataParallelSgd over the same parts
/// (gradients averaged in rank order).
class SyncPsShardsEqualsPlainLoop : public QObject {
    Q_OBJECT
private slots:
    void identicalToPlainLoop()
    {
        const TrainTest data = smallData(9);
        const int P = 3;
        sim::SimulationSpec spec;
        spec.platform = idealStar(P);
        spec.strategy = {StrategyKind::SyncPs, P};
        TrainingConfig& cfg = spec.training;
        cfg.hidden = {16};
        cfg.optimizer.kind = OptimizerSpec::Kind::Momentum;
        cfg.optimizer.learningRate = 0.05f;
        cfg.batchSize = 20;
        cfg.epochs = 2;
        cfg.partition.kind = PartitionSpec::Kind::Shards;
        cfg.partition.shardsPerClient = 2;
        cfg.seed = 4;
        MetricsSink none;
        const sim::SimulationResult r = sim::simulate(spec, data, none);

        const long steps = 2 * stepsPerEpoch(600, P, 20);
        const Eigen::VectorXf params =
            plainDataParallelSgd(data.train, cfg, partitionShards(data.train.labels, P, 2, cfg.seed), steps);
        QCOMPARE(r.summary.steps, steps);
        QVERIFY2(bitIdentical(r.finalModel, params), "the simulated model differs from the plain loop");
    }
};
DML_SIM_CASE(SyncPsShardsEqualsPlainLoop);

// ---------------------------------------------------------------------------------------------------------------
// Proxy workloads

/// The synchronous parameter server with a proxy model: the step time of the real-model identity
/// (sim_syncps.cpp's SyncPsStepTimeIdeal) with N = proxy parameters, NaN accuracy, no model.
class SyncPsProxyStepTime : public QObject {
    Q_OBJECT
private slots:
    void stepTimeMatchesAnalytic()
    {
        const TrainTest data = labelsOnly(1000, 10);
        const int P = 4;
        sim::SimulationSpec spec;
        spec.platform = idealStar(P);
        spec.strategy = {StrategyKind::SyncPs, P};
        TrainingConfig& cfg = spec.training;
        cfg.optimizer.kind = OptimizerSpec::Kind::Momentum;
        cfg.batchSize = 50;
        cfg.maxSteps = 4;
        cfg.evalEverySteps = 1;
        cfg.proxy.parameters = 2000000;
        cfg.proxy.trainFlopsPerSample = 3e8;
        MetricsSink none;
        const sim::SimulationResult r = sim::simulate(spec, data, none);
        QCOMPARE(int(r.samples.size()), 5);
        const sim::PlatformSpec& p = spec.platform;
        const double n = 2e6, bytes = 4 * n;
        const double transfer = routeLatency(p) + P * bytes / p.linkBandwidth;
        const double expected = 2 * transfer + 50 * 3e8 / p.workerSpeed + (P * n + 4 * n) / p.serverSpeed;
        for (std::size_t i = 1; i < r.samples.size(); ++i) {
            const double step = r.samples[i].time - r.samples[i - 1].time;
            QVERIFY2(nearRel(step, expected, 1e-3), qPrintable(mismatch(step, expected)));
            QVERIFY(std::isnan(r.samples[i].testAccuracy) && std::isnan(r.samples[i].trainLoss));
        }
        QCOMPARE(r.hosts[0].bytesSent, 4 * bytes);
        QCOMPARE(r.summary.stopReason, std::string("max_steps"));
        QVERIFY(!r.summary.accuracySimulated);
        QCOMPARE(r.finalModel.size(), Eigen::Index(0));
    }
};
DML_SIM_CASE(SyncPsProxyStepTime);

/// The asynchronous parameter server with a proxy model: every planned update is applied and charged.
class AsyncPsProxy : public QObject {
    Q_OBJECT
private slots:
    void updatesCharged()
    {
        const TrainTest data = labelsOnly(1000, 10);
        const int P = 4;
        sim::SimulationSpec spec;
        spec.platform = idealStar(P);
        spec.strategy = {StrategyKind::AsyncPs, P};
        TrainingConfig& cfg = spec.training;
        cfg.optimizer.kind = OptimizerSpec::Kind::Adam;
        cfg.batchSize = 50;
        cfg.epochs = 2;
        cfg.proxy.parameters = 1000000;
        cfg.proxy.trainFlopsPerSample = 1e8;
        MetricsSink none;
        const sim::SimulationResult r = sim::simulate(spec, data, none);
        const long updates = 2L * P * stepsPerEpoch(1000, P, 50); // 40
        QCOMPARE(r.summary.steps, updates);
        QCOMPARE(r.hosts[std::size_t(P)].flops, double(updates) * 12e6); // Adam: 12 flops per parameter
        double workerFlops = 0;
        for (int w = 0; w < P; ++w)
            workerFlops += r.hosts[std::size_t(w)].flops;
        // Every applied update was computed; each worker's last gradient (in flight at the stop) is drained.
        QCOMPARE(workerFlops, double(updates + P - 1) * 50 * 1e8);
        QVERIFY(r.summary.stalenessMean > 0);
        QVERIFY(std::isnan(r.samples.back().testAccuracy));
        QCOMPARE(r.finalModel.size(), Eigen::Index(0));
    }
};
DML_SIM_CASE(AsyncPsProxy);

/// Ring all-reduce with a 16.7M-parameter proxy over 64 workers: no parameter vector is allocated (64 replicas
/// of 64 MiB would need 4 GiB), and a step takes compute + 2(P-1)(alpha + S/(P B)) + additions + update.
class RingProxyLarge : public QObject {
    Q_OBJECT
private slots:
    void noAllocationAndStepTime()
    {
        const TrainTest data = labelsOnly(64 * 32, 10);
        const int P = 64;
        sim::SimulationSpec spec;
        spec.platform = idealStar(P);
        spec.strategy = {StrategyKind::RingAllReduce, P};
        TrainingConfig& cfg = spec.training;
        cfg.batchSize = 32;
        cfg.epochs = 5; // 1 step per epoch: 32 samples per worker
        cfg.maxSteps = 2;
        cfg.evalEverySteps = 1;
        const double N = 16777216; // 2^24: 64 MiB of floats, 64 chunks of 1 MiB
        cfg.proxy.parameters = (long long)N;
        cfg.proxy.trainFlopsPerSample = 1e9;
        MetricsSink none;
        const sim::SimulationResult r = sim::simulate(spec, data, none);
        QCOMPARE(int(r.samples.size()), 3);
        const sim::PlatformSpec& p = spec.platform;
        const double S = 4 * N;
        const double expected = 32 * 1e9 / p.workerSpeed +
                                2 * (P - 1) * (routeLatency(p) + S / (P * p.linkBandwidth)) +
                                (P - 1) * (N / P) / p.workerSpeed + (N + 2 * N) / p.workerSpeed;
        for (std::size_t i = 1; i < r.samples.size(); ++i) {
            const double step = r.samples[i].time - r.samples[i - 1].time;
            QVERIFY2(nearRel(step, expected, 1e-3), qPrintable(mismatch(step, expected)));
        }
        rusage usage{};
        getrusage(RUSAGE_SELF, &usage);
        const double peakMiB = double(usage.ru_maxrss) / 1024.0;
        qInfo("peak resident memory %.0f MiB", peakMiB);
        QVERIFY2(peakMiB < 512, qPrintable(QString("peak RSS %1 MiB").arg(peakMiB)));
        QCOMPARE(r.hosts[0].bytesSent, 2 * 2 * (P - 1) * S / P);
    }
};
DML_SIM_CASE(RingProxyLarge);

#include "sim_strategies.moc"
