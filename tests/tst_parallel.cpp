// SPDX-License-Identifier: GPL-3.0-or-later
// The pool of algorithms/parallel.h (issue 16) and the arithmetic that runs on it: jobs run once, at most N at a
// time, errors reach the waiter, an abandoned job is cancelled or awaited; the split element-wise updates, the
// chunked evaluation and concurrent gradients give the same bits as the sequential code.
#include "data/dataset.h"
#include "data/partition.h"
#include "models/model.h"
#include "models/workload.h"
#include "optim/optimizer.h"
#include "parallel.h"
#include "strategies/localtraining.h"
#include "strategies/reportsum.h"
#include "evaluator.h"
#include "vectorpool.h"
#include "rng.h"
#include "threadsoption.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <atomic>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <tuple>
#include <vector>

using namespace dml;

namespace {

Eigen::VectorXf randomVector(Eigen::Index n, std::uint64_t seed)
{
    Rng rng(seed);
    Eigen::VectorXf v(n);
    for (Eigen::Index i = 0; i < n; ++i)
        v[i] = float(rng.normal());
    return v;
}

bool sameBits(const Eigen::VectorXf& a, const Eigen::VectorXf& b)
{
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), sizeof(float) * std::size_t(a.size())) == 0;
}

class Samples : public MetricsSink {
public:
    void sample(const Sample& s) override { samples.push_back(s); }
    std::vector<Sample> samples;
};

} // namespace

class TestParallel : public QObject {
    Q_OBJECT
private slots:
    void cleanup() { parallel::setThreads(1); }

    void badThreadCountsRefused()
    {
        for (int n : {0, -1, parallel::kMaxThreads + 1, 100000}) {
            try {
                parallel::setThreads(n);
                QFAIL(qPrintable(QString("setThreads(%1) was accepted").arg(n)));
            } catch (const std::invalid_argument& e) {
                QVERIFY2(std::strstr(e.what(), "from 1 to 256"), e.what());
            }
        }
        QCOMPARE(parallel::threads(), 1);
        QVERIFY(parallel::availableCores() >= 1);
    }

    void oneThreadRunsInline()
    {
        bool ran = false;
        parallel::Task t = parallel::submit([&] { ran = true; });
        QVERIFY2(ran, "with one thread the job runs inside submit()");
        t.wait();
        QVERIFY_THROWS_EXCEPTION(std::runtime_error, parallel::submit([] { throw std::runtime_error("x"); }));
    }

    void everyJobRunsOnce_data()
    {
        QTest::addColumn<int>("threads");
        for (int n : {1, 2, 3, 8})
            QTest::newRow(qPrintable(QString("%1 threads").arg(n))) << n;
    }
    void everyJobRunsOnce()
    {
        QFETCH(int, threads);
        parallel::setThreads(threads);
        std::vector<std::atomic<int>> runs(500);
        std::vector<parallel::Task> tasks;
        for (std::size_t i = 0; i < runs.size(); ++i)
            tasks.push_back(parallel::submit([&runs, i] { runs[i].fetch_add(1); }));
        for (std::size_t i = tasks.size(); i-- > 0;) // in reverse: the waiter runs queued jobs itself
            tasks[i].wait();
        for (const auto& r : runs)
            QCOMPARE(r.load(), 1);
    }

    void atMostNInFlight()
    {
        parallel::setThreads(3);
        std::atomic<int> running{0}, most{0};
        auto job = [&] {
            const int now = running.fetch_add(1) + 1;
            int seen = most.load();
            while (now > seen && !most.compare_exchange_weak(seen, now)) {
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
            running.fetch_sub(1);
        };
        std::vector<parallel::Task> tasks;
        for (int i = 0; i < 40; ++i)
            tasks.push_back(parallel::submit(job));
        for (auto& t : tasks)
            t.wait();
        QVERIFY2(most.load() <= 3, qPrintable(QString("%1 jobs ran at once with 3 threads").arg(most.load())));
        QVERIFY2(most.load() >= 2, "sleeping jobs overlap on the pool");
    }

    void errorReachesTheWaiter()
    {
        parallel::setThreads(2);
        parallel::Task t = parallel::submit([] { throw std::runtime_error("broken job"); });
        try {
            t.wait();
            QFAIL("the job's exception was lost");
        } catch (const std::runtime_error& e) {
            QCOMPARE(std::string(e.what()), std::string("broken job"));
        }
        QVERIFY_THROWS_EXCEPTION(std::out_of_range,
                                 parallel::forEach(6, [](long i) {
                                     if (i == 4)
                                         throw std::out_of_range("4");
                                 }));
    }

    void abandonedJobCancelledOrAwaited()
    {
        parallel::setThreads(2); // one pool thread, busy with the first job
        std::atomic<bool> firstDone{false}, secondRan{false};
        {
            parallel::Task first = parallel::submit([&] {
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
                firstDone = true;
            });
            std::this_thread::sleep_for(std::chrono::milliseconds(10)); // the pool thread took it
            {
                parallel::Task second = parallel::submit([&] { secondRan = true; });
            } // destroyed unstarted: cancelled
        } // first destroyed while running: waits for it
        QVERIFY2(firstDone.load(), "destroying a running Task waits for its job");
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        QVERIFY2(!secondRan.load(), "a Task destroyed before it started never runs");
    }

    void rangesCoverOnce()
    {
        for (int threads : {1, 2, 3, 4, 7}) {
            parallel::setThreads(threads);
            for (long n : {0L, 1L, 1023L, 1024L, 1025L, 5000L, 203530L}) {
                std::vector<std::atomic<int>> hits(static_cast<std::size_t>(n));
                std::atomic<bool> aligned{true};
                parallel::forRanges(n, 1024, [&](long b, long e) {
                    if (b % 1024 != 0)
                        aligned = false;
                    for (long i = b; i < e; ++i)
                        hits[std::size_t(i)].fetch_add(1);
                });
                QVERIFY2(aligned.load(), "every range starts on a multiple of the grain");
                for (const auto& h : hits)
                    QCOMPARE(h.load(), 1);
            }
        }
    }

    /// Optimizer::stepParallel and stepFused == step, bit for bit, for every kind, size and thread count.
    void optimizerStepSameBits()
    {
        using K = OptimizerSpec::Kind;
        for (K kind : {K::Sgd, K::Momentum, K::Adam})
            for (Eigen::Index n : {Eigen::Index(5), Eigen::Index(1024), Eigen::Index(5003), Eigen::Index(203530)})
                for (int threads : {2, 3, 4}) {
                    const OptimizerSpec spec{.kind = kind, .learningRate = 0.01f};
                    Eigen::VectorXf a = randomVector(n, 1), b = a, c = a;
                    Optimizer oa(spec, n), ob(spec, n), oc(spec, n);
                    for (int step = 0; step < 3; ++step) {
                        const Eigen::VectorXf g = randomVector(n, 10 + std::uint64_t(step));
                        parallel::setThreads(1);
                        oa.step(a.data(), g.data());
                        parallel::setThreads(threads);
                        ob.stepParallel(b.data(), g.data());
                        Eigen::VectorXf filled(n); // stepFused: the gradient made piece by piece
                        oc.stepFused(c.data(), filled.data(), [&](long begin, long end) {
                            filled.segment(begin, end - begin) = g.segment(begin, end - begin);
                        });
                    }
                    QVERIFY2(sameBits(a, b), qPrintable(QString("kind %1, n %2, %3 threads")
                                                            .arg(int(kind)).arg(n).arg(threads)));
                    QVERIFY2(sameBits(a, c), qPrintable(QString("stepFused: kind %1, n %2, %3 threads")
                                                            .arg(int(kind)).arg(n).arg(threads)));
                    QVERIFY(!sameBits(a, randomVector(n, 1))); // the steps changed something
                }
    }

    /// Optimizer::stepFrom(from, params) == copying `from` into params, then step(), bit for bit; `from` is left as
    /// it was. And a client's trainLocallyFrom == copy + trainLocally (FedProx included), whatever the thread.
    void stepFromSameBits()
    {
        using K = OptimizerSpec::Kind;
        for (K kind : {K::Sgd, K::Momentum, K::Adam})
            for (Eigen::Index n : {Eigen::Index(5), Eigen::Index(5003), Eigen::Index(203530)}) {
                const OptimizerSpec spec{.kind = kind, .learningRate = 0.01f};
                const Eigen::VectorXf from = randomVector(n, 1), fromCopy = from;
                Eigen::VectorXf a = from, b = randomVector(n, 2); // b's old contents must not matter
                Optimizer oa(spec, n), ob(spec, n);
                const Eigen::VectorXf g = randomVector(n, 10);
                oa.step(a.data(), g.data());
                ob.stepFrom(from.data(), b.data(), g.data());
                QVERIFY2(sameBits(a, b), qPrintable(QString("kind %1, n %2").arg(int(kind)).arg(n)));
                QVERIFY(sameBits(from, fromCopy));
                QVERIFY(!sameBits(a, from));
            }
        SyntheticSpec d;
        d.features = 30;
        d.trainSamples = 300;
        const TrainTest data = makeSyntheticBlobs(d, 5);
        TrainingConfig cfg;
        cfg.hidden = {16};
        const Workload w(cfg, data.train);
        const Eigen::VectorXf start = w.initialParams(3);
        std::vector<int> batches(7 * 10);
        for (std::size_t i = 0; i < batches.size(); ++i)
            batches[i] = int((i * 37) % 300);
        for (float mu : {0.0f, 0.1f})
            for (K kind : {K::Sgd, K::Adam}) {
                const OptimizerSpec spec{.kind = kind, .learningRate = 0.05f};
                Eigen::VectorXf inPlace = start;
                const double lossA = trainLocally(w, batches.data(), 10, spec, 7, inPlace, mu, &start);
                Eigen::VectorXf out;
                parallel::setThreads(2);
                double lossB = 0;
                parallel::submit([&] { lossB = trainLocallyFrom(w, start, batches.data(), 10, spec, 7, out, mu,
                                                                &start); }).wait();
                parallel::setThreads(1);
                QVERIFY2(sameBits(inPlace, out), qPrintable(QString("mu %1, kind %2").arg(mu).arg(int(kind))));
                QCOMPARE(lossA, lossB);
                QVERIFY(!sameBits(inPlace, start));
            }
    }

    /// VectorPool across threads: jobs acquire and release buffers concurrently; a buffer is never handed to two
    /// owners at once (each job's pattern survives the others' writes), and released buffers are handed out again.
    void vectorPoolAcrossThreads()
    {
        parallel::setThreads(3);
        VectorPool pool;
        std::atomic<int> broken{0};
        std::vector<parallel::Task> jobs;
        for (int j = 0; j < 6; ++j)
            jobs.push_back(parallel::submit([&pool, &broken, j] {
                for (int round = 0; round < 200; ++round) {
                    std::vector<std::shared_ptr<Eigen::VectorXf>> held;
                    for (int k = 0; k < 3; ++k) {
                        held.push_back(pool.acquire(500));
                        held.back()->setConstant(float(j * 1000 + k));
                    }
                    std::this_thread::yield();
                    for (int k = 0; k < 3; ++k)
                        if ((held[std::size_t(k)]->array() != float(j * 1000 + k)).any())
                            broken.fetch_add(1);
                }
            }));
        for (parallel::Task& t : jobs)
            t.wait();
        QCOMPARE(broken.load(), 0);
        // At most 6 jobs x 3 buffers were alive at once: a new acquire reuses one of them.
        std::vector<std::shared_ptr<Eigen::VectorXf>> again;
        for (int k = 0; k < 18; ++k)
            again.push_back(pool.acquire(500));
        QVERIFY(again.back()->size() == 500);
    }

    /// OrderedReportSum: models added from concurrent jobs in a shuffled order give the bits of the end-of-round
    /// sum in position order (the Eigen expression FedAvg used, and weightedAccumulate over ranges); positions not
    /// launched, added twice or out of range are ignored; complete() only with every launched one added and exactly
    /// those reported.
    void orderedReportSumSameBits()
    {
        const Eigen::Index n = 3 * 1024 + 7;
        const int m = 9;
        std::vector<Eigen::VectorXf> x;
        std::vector<float> weights;
        std::vector<char> launched(m, 1);
        launched[0] = launched[4] = 0;
        for (int i = 0; i < m; ++i) {
            x.push_back(randomVector(n, 100 + std::uint64_t(i)));
            weights.push_back(float((i + 1) / 45.0));
        }
        Eigen::VectorXf expected; // FedAvg's end-of-round expression, in position order
        bool first = true;
        for (int i = 0; i < m; ++i)
            if (launched[std::size_t(i)]) {
                if (first)
                    expected = weights[std::size_t(i)] * x[std::size_t(i)];
                else
                    expected += weights[std::size_t(i)] * x[std::size_t(i)];
                first = false;
            }
        Eigen::VectorXf ranged(n); // weightedAccumulate over two ranges, as averageReports runs it
        for (long b : {0L, 2048L}) {
            const long e = b == 0 ? 2048 : long(n);
            first = true;
            for (int i = 0; i < m; ++i)
                if (launched[std::size_t(i)]) {
                    weightedAccumulate(ranged.data() + b, x[std::size_t(i)].data() + b, weights[std::size_t(i)], e - b,
                                       first);
                    first = false;
                }
        }
        QVERIFY(sameBits(ranged, expected));
        std::vector<char> reported = launched;
        for (int threads : {1, 3}) {
            parallel::setThreads(threads);
            for (std::uint64_t shuffle = 0; shuffle < 5; ++shuffle) {
                OrderedReportSum sum(7, weights, launched, Eigen::VectorXf());
                QCOMPARE(sum.round(), 7L);
                std::vector<int> order(m);
                for (int i = 0; i < m; ++i)
                    order[std::size_t(i)] = i;
                Rng rng(shuffle);
                for (int i = m - 1; i > 0; --i)
                    std::swap(order[std::size_t(i)], order[rng.below(std::uint64_t(i) + 1)]);
                std::vector<parallel::Task> adds;
                for (int i : order)
                    adds.push_back(parallel::submit([&sum, &x, i] {
                        sum.add(i, std::make_shared<const Eigen::VectorXf>(x[std::size_t(i)]));
                    }));
                for (parallel::Task& t : adds)
                    t.wait();
                sum.add(-1, std::make_shared<const Eigen::VectorXf>(x[0])); // out of range
                sum.add(m, std::make_shared<const Eigen::VectorXf>(x[0]));
                sum.add(3, std::make_shared<const Eigen::VectorXf>(x[0])); // added before
                QVERIFY(sum.complete(reported));
                QVERIFY2(sameBits(sum.sum(), expected), qPrintable(QString("threads %1, shuffle %2").arg(threads).arg(shuffle)));
                std::vector<char> fewer = reported;
                fewer[2] = 0;
                QVERIFY(!sum.complete(fewer));
                std::vector<char> more = reported;
                more[0] = 1;
                QVERIFY(!sum.complete(more));
            }
        }
        OrderedReportSum partial(1, weights, launched, Eigen::VectorXf());
        partial.add(1, std::make_shared<const Eigen::VectorXf>(x[1]));
        partial.add(3, std::make_shared<const Eigen::VectorXf>(x[3])); // waits for position 2
        QVERIFY(!partial.complete(reported));
        QVERIFY(sameBits(partial.sum(), weights[1] * x[1]));
        try {
            OrderedReportSum bad(1, weights, std::vector<char>(3, 1), Eigen::VectorXf());
            QFAIL("mismatched sizes were accepted");
        } catch (const std::invalid_argument&) {
        }
    }

    /// Evaluator::prestartInitial: the initial evaluation started before the run gives the sample the run would have
    /// produced; one of other numbers is dropped and the model given to initial() is evaluated.
    void evaluatorPrestart()
    {
        SyntheticSpec d;
        d.classes = 3;
        d.features = 20;
        d.trainSamples = 60;
        d.testSamples = 2500;
        const TrainTest data = makeSyntheticBlobs(d, 4);
        const Mlp mlp(20, {16}, 3);
        Eigen::VectorXf p(mlp.numParams()), q(mlp.numParams());
        mlp.initParams(p.data(), 1);
        mlp.initParams(q.data(), 2);
        TrainingConfig cfg;
        cfg.evalEverySteps = 1;
        const auto initialSample = [&](const Eigen::VectorXf* pre, const Eigen::VectorXf& given) {
            Samples sink;
            {
                Evaluator e(data.test, &mlp, cfg, 10.0, 10, "epochs", sink);
                if (pre)
                    e.prestartInitial(pre->data());
                e.initial(0.5, given.data());
                (void)e.state(); // emits the background evaluation's sample
            }
            return sink.samples;
        };
        parallel::setThreads(2);
        const auto plain = initialSample(nullptr, p), same = initialSample(&p, p), other = initialSample(&q, p);
        parallel::setThreads(1);
        const auto sequential = initialSample(&q, p); // one thread: nothing prestarted
        QCOMPARE(int(plain.size()), 1);
        for (const auto* got : {&same, &other, &sequential}) {
            QCOMPARE(int(got->size()), 1);
            QCOMPARE(got->front().time, 0.5);
            QCOMPARE(got->front().testAccuracy, plain.front().testAccuracy);
            QCOMPARE(got->front().testLoss, plain.front().testLoss);
        }
        QVERIFY(initialSample(&q, q).front().testLoss != plain.front().testLoss); // the check can fail
    }

    /// The test-set evaluation in chunk jobs gives the sequential pass's loss and count, bit for bit.
    void evaluationSameBits()
    {
        SyntheticSpec d;
        d.classes = 5;
        d.features = 40;
        d.trainSamples = 100;
        d.testSamples = 7100; // four chunks of 2,000, the last one short
        const TrainTest data = makeSyntheticBlobs(d, 3);
        const Mlp mlp(40, {64}, 5);
        Eigen::VectorXf p(mlp.numParams());
        mlp.initParams(p.data(), 9);
        parallel::setThreads(1);
        const auto [loss1, correct1] = mlp.evaluate(p.data(), data.test.features, data.test.labels.data());
        for (int threads : {2, 3, 5}) {
            parallel::setThreads(threads);
            const auto [loss, correct] = mlp.evaluate(p.data(), data.test.features, data.test.labels.data());
            QCOMPARE(correct, correct1);
            QVERIFY2(std::memcmp(&loss, &loss1, sizeof loss) == 0, qPrintable(QString::number(loss, 'g', 17)));
        }
    }

    /// Gradients computed by four threads at once (each with its own scratch) equal those computed one by one.
    void concurrentGradientsSameBits()
    {
        SyntheticSpec d;
        d.features = 50;
        d.trainSamples = 2000;
        const TrainTest data = makeSyntheticBlobs(d, 4);
        TrainingConfig cfg;
        cfg.hidden = {96, 32};
        const Workload w(cfg, data.train);
        const Eigen::VectorXf p = w.initialParams(2);
        const int jobs = 24, batch = 32;
        std::vector<int> batches(std::size_t(jobs * batch));
        for (std::size_t i = 0; i < batches.size(); ++i)
            batches[i] = int((i * 7919) % 2000);
        std::vector<Eigen::VectorXf> seq(jobs, Eigen::VectorXf(w.numParams())), par = seq;
        std::vector<float> lossSeq(jobs), lossPar(jobs);
        for (int j = 0; j < jobs; ++j)
            lossSeq[std::size_t(j)] = w.gradient(p.data(), &batches[std::size_t(j * batch)], batch, seq[std::size_t(j)].data());
        parallel::setThreads(4);
        parallel::forEach(jobs, [&](long j) {
            lossPar[std::size_t(j)] = w.gradient(p.data(), &batches[std::size_t(j * batch)], batch, par[std::size_t(j)].data());
        });
        for (int j = 0; j < jobs; ++j) {
            QVERIFY(sameBits(seq[std::size_t(j)], par[std::size_t(j)]));
            QCOMPARE(lossSeq[std::size_t(j)], lossPar[std::size_t(j)]);
        }
        QVERIFY(!sameBits(seq[0], seq[1])); // different batches, different gradients: the comparison can fail
    }
};

namespace {

/// Runs dmlsim with `args`; returns its exit code, stdout and stderr.
std::tuple<int, QByteArray, QByteArray> dmlsim(const QStringList& args)
{
    QProcess p;
    p.start(DMLSIM_EXE, args);
    if (!p.waitForFinished(120000))
        return {-1, {}, {}};
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, p.readAllStandardOutput(),
            p.readAllStandardError()};
}

} // namespace

/// --threads on the command line: refused outside [1, 256] with a message naming the option and the limits; the
/// share of the cores a compare or sweep child gets; a run's numbers whatever the thread count.
class TestThreadsOption : public QObject {
    Q_OBJECT
private slots:
    void badValuesRefused()
    {
        for (const char* cmd : {"run", "compare", "sweep"})
            for (const char* v : {"0", "257", "100000", "two", "-1"}) {
                const auto [rc, out, err] = dmlsim({cmd, "whatever.json", "--threads", v});
                QCOMPARE(rc, 2);
                QVERIFY2(err.contains("--threads: expected a whole number from 1 to 256, got '" + QByteArray(v) + "'"),
                         err.constData());
            }
    }

    void childrenShareTheCores()
    {
        QCOMPARE(app::threadsPerChild(8, 2, 12), 4); // two runs at once on 8 cores
        QCOMPARE(app::threadsPerChild(8, 8, 3), 2);  // only 3 runs: 3 at once
        QCOMPARE(app::threadsPerChild(2, 2, 12), 1);
        QCOMPARE(app::threadsPerChild(1, 4, 4), 1);
        QCOMPARE(app::threadsPerChild(64, 1, 1), 64);
        QCOMPARE(app::threadsPerChild(1000, 1, 1), parallel::kMaxThreads);
    }

    /// The same synthetic sync-ps scenario with --threads 1 and --threads 3: the same summary, hosts and links.
    void runSameWithAnyThreads()
    {
        QTemporaryDir dir;
        const QString scenario = dir.filePath("s.json");
        QFile f(scenario);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(R"({"name": "threads", "seed": 3,
                    "platform": {"topology": "star", "workers": 4, "worker_speed": "1Gf", "server_speed": "2Gf",
                                 "link_bandwidth": "10Gbps", "link_latency": "50us", "network_model": "tcp"},
                    "workload": {"dataset": {"name": "synthetic", "classes": 4, "features": 32,
                                             "train_samples": 1024, "test_samples": 4100},
                                 "model": {"type": "mlp", "hidden": [64]}, "batch_size": 16,
                                 "optimizer": {"type": "adam"}},
                    "strategy": {"type": "sync-ps"},
                    "run": {"epochs": 1, "eval_interval_epochs": 0.5}})");
        f.close();
        QJsonObject first;
        for (const char* threads : {"1", "3"}) {
            const auto [rc, out, err] =
                dmlsim({"run", scenario, "--db", dir.filePath("runs.sqlite"), "--json", "--threads", threads});
            QVERIFY2(rc == 0, err.constData());
            QJsonObject o = QJsonDocument::fromJson(out).object();
            QVERIFY(o["final_accuracy"].toDouble() > 0.5);
            o.remove("run_id");
            o.remove("wall_time");
            if (first.isEmpty())
                first = o;
            else
                QVERIFY2(o == first, "the run with --threads 3 differs from the run with --threads 1");
        }
    }
};

int main(int argc, char** argv)
{
    QCoreApplication app(argc, argv);
    int rc = 0;
    {
        TestParallel t;
        rc |= QTest::qExec(&t, argc, argv);
    }
    {
        TestThreadsOption t;
        rc |= QTest::qExec(&t, argc, argv);
    }
    return rc;
}
#include "tst_parallel.moc"
