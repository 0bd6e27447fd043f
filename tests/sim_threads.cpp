// SPDX-License-Identifier: GPL-3.0-or-later
// One simulation on every core (issue 16): the same scenario and seed give the same numbers bit for bit with 1, 2
// and 4 threads (algorithms/parallel.h), for every strategy and for compression, privacy, secure aggregation, local
// SGD, backup workers, dropouts and failures. What is compared is everything a run produces: the final model, every
// sample, the summary, every host's statistics, every named series and the whole timeline of spans (so the simulated
// times too). Each run is a forked child (one SimGrid simulation per process) that sets its thread count first.
// The model is large enough (4,388 parameters) for the server's element-wise sums to be split into ranges, and the
// test set (4,100 samples) for the evaluations to run as three chunk jobs.
#include "parallel.h"
#include "simcase.h"
#include "simutil.h"

#include <QTest>

#include <cstring>
#include <string>

using namespace dml;
using namespace dml::test;

namespace {

TrainTest data()
{
    SyntheticSpec d;
    d.classes = 4;
    d.features = 32;
    d.trainSamples = 1200;
    d.testSamples = 4100;
    return makeSyntheticBlobs(d, 5);
}

/// 6 ranks on a 100 MFLOP/s star (the server 10x faster; a step takes about 4 ms), MLP 32-64-32-4, Adam, 8 epochs capped at `steps` steps.
sim::SimulationSpec base(StrategyKind kind, int workers = 6, long steps = 24)
{
    sim::SimulationSpec s;
    s.platform = idealStar(workers, 1e8, 1e9);
    s.platform.speeds.list = std::vector<double>(std::size_t(workers), 1e8);
    s.platform.speeds.list.back() = 0.5e8; // a slower last rank: arrival order is not rank order
    s.strategy = {kind, workers};
    s.training.hidden = {64, 32};
    s.training.optimizer = OptimizerSpec{.kind = OptimizerSpec::Kind::Adam, .learningRate = 0.005f};
    s.training.batchSize = 16;
    s.training.epochs = 8;
    s.training.maxSteps = steps;
    s.training.evalEverySteps = 6;
    s.training.seed = 11;
    return s;
}

void add(std::vector<double>& v, const std::string& text)
{
    v.push_back(double(text.size()));
    for (char c : text)
        v.push_back(double(static_cast<unsigned char>(c)));
}

/// The first numbers of everything(): what each variant must have exercised.
enum Indicator { ModelSize, Accuracy, Failures, Restarts, CompressedBytes, Epsilon, SecAggBytes, DroppedClients,
                 Staleness };

/// Everything the run of `s` with `threads` threads produced, as numbers; empty if the child failed.
std::vector<double> everything(const sim::SimulationSpec& s, int threads)
{
    return inChild([=] {
        parallel::setThreads(threads);
        const TrainTest d = data();
        MetricsSink none;
        const sim::SimulationResult r = sim::simulate(s, d, none);
        const Summary& m = r.summary;
        double dropped = 0;
        if (auto it = r.series.find("dropped_clients"); it != r.series.end())
            for (const auto& point : it->second)
                dropped += point.second;
        // The Indicator slots first, then everything else.
        std::vector<double> v{double(r.finalModel.size()), m.finalAccuracy, double(m.failures), double(m.restarts),
                              m.compressedBytes, m.epsilon, m.secAggBytes, dropped, m.stalenessMean};
        v.insert(v.end(), r.finalModel.data(), r.finalModel.data() + r.finalModel.size());
        for (const Sample& x : r.samples)
            v.insert(v.end(), {x.time, double(x.step), x.epoch, x.trainLoss, x.testLoss, x.testAccuracy});
        v.insert(v.end(), {m.finalAccuracy, m.finalTestLoss, m.bestAccuracy, m.simulatedTime, m.timeToTarget,
                           m.communicationOverhead, m.utilization, m.idleFraction, m.bytesOnWire, m.bytesLost,
                           m.stalenessMean, m.stalenessMax, double(m.steps), m.epochs, m.uncompressedBytes,
                           m.compressedBytes, m.codecSeconds, m.epsilon, m.delta, m.secAggSeconds, m.secAggBytes,
                           double(m.secAggFailedRounds), double(m.failures), double(m.restarts), double(m.lostSteps),
                           m.lostComputeSeconds, m.recoverySeconds, double(m.checkpoints), m.checkpointSeconds,
                           m.goodput});
        add(v, m.stopReason);
        add(v, m.compressor);
        add(v, m.privacy);
        add(v, m.secureAggregation);
        for (const HostStats& h : r.hosts)
            v.insert(v.end(), {h.elapsed, h.finish, h.compute, h.communication, h.idle, h.bytesSent, h.bytesReceived,
                               h.bytesLost, h.flops});
        for (const auto& [name, points] : r.series) {
            add(v, name);
            for (const auto& [t, y] : points)
                v.insert(v.end(), {t, y});
        }
        for (const Span& x : r.timeline)
            v.insert(v.end(), {double(x.rank), double(x.kind), double(x.peer), x.start, x.end, x.amount});
        return v;
    });
}

bool sameBits(const std::vector<double>& a, const std::vector<double>& b)
{
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), sizeof(double) * a.size()) == 0;
}

/// The run of `s` with 1, 2 and 4 threads: all three bit-identical, with a real model that learned something and,
/// for each indicator in `positive`, a positive value (the variant did what it is there for: a failure happened,
/// bytes were compressed, ...). With `control`, the same scenario with another seed must differ (the comparison
/// can fail).
void checkThreads(const sim::SimulationSpec& s, std::initializer_list<Indicator> positive = {}, bool control = false)
{
    const std::vector<double> one = everything(s, 1);
    QVERIFY2(!one.empty(), "the run with 1 thread failed");
    QVERIFY2(one[ModelSize] > 1000, "a real model with more than 1,000 parameters");
    QVERIFY2(one[Accuracy] > 0.4, qPrintable(QString("accuracy %1: the model learned").arg(one[Accuracy])));
    for (Indicator i : positive)
        QVERIFY2(one[i] > 0, qPrintable(QString("indicator %1 is %2, expected > 0").arg(int(i)).arg(one[i])));
    for (int threads : {2, 4}) {
        const std::vector<double> other = everything(s, threads);
        QVERIFY2(!other.empty(), qPrintable(QString("the run with %1 threads failed").arg(threads)));
        if (!sameBits(one, other)) {
            std::size_t i = 0;
            while (i < std::min(one.size(), other.size()) && std::memcmp(&one[i], &other[i], sizeof(double)) == 0)
                ++i;
            qWarning("sizes %zu %zu, first difference at %zu: %.17g vs %.17g (model size %g)", one.size(),
                     other.size(), i, i < one.size() ? one[i] : -1.0, i < other.size() ? other[i] : -1.0, one[0]);
        }
        QVERIFY2(sameBits(one, other),
                 qPrintable(QString("the run with %1 threads differs from the run with 1 thread").arg(threads)));
    }
    if (control) {
        sim::SimulationSpec t = s;
        t.training.seed += 1;
        QVERIFY2(!sameBits(one, everything(t, 2)), "another seed must give other numbers");
    }
}

} // namespace

class ThreadsSyncPs : public QObject {
    Q_OBJECT
private slots:
    void plain() { checkThreads(base(StrategyKind::SyncPs), {}, true); }
    void overlap() // issue 17: buckets pushed during the backward pass, added at the server as they arrive
    {
        sim::SimulationSpec s = base(StrategyKind::SyncPs);
        s.strategy.overlap = {true, 4.0 * 1200}; // two buckets
        checkThreads(s, {}, true);
    }
    void backupWorkers()
    {
        sim::SimulationSpec s = base(StrategyKind::SyncPs);
        s.strategy.backupWorkers = 2;
        checkThreads(s);
    }
    void localSgdTopK()
    {
        sim::SimulationSpec s = base(StrategyKind::SyncPs);
        s.strategy.localSteps = 3;
        s.strategy.compression.kind = compression::CompressionSpec::Kind::TopK;
        s.strategy.compression.ratio = 0.1;
        s.strategy.compression.errorFeedback = true;
        checkThreads(s, {CompressedBytes});
    }
    void powerSgd()
    {
        sim::SimulationSpec s = base(StrategyKind::SyncPs);
        s.strategy.compression.kind = compression::CompressionSpec::Kind::PowerSgd;
        s.strategy.compression.errorFeedback = true;
        checkThreads(s, {CompressedBytes});
    }
    void dpSgd()
    {
        sim::SimulationSpec s = base(StrategyKind::SyncPs, 6, 12);
        s.strategy.privacy.kind = privacy::PrivacySpec::Kind::DpSgd;
        s.strategy.privacy.clip = 1.0;
        s.strategy.privacy.noiseMultiplier = 0.8;
        checkThreads(s, {Epsilon});
    }
    void elasticWorkerFails()
    {
        sim::SimulationSpec s = base(StrategyKind::SyncPs);
        s.strategy.recovery = StrategySpec::Recovery::Elastic;
        s.strategy.failureDetection = 0.005;
        s.platform.faults.events = {{sim::FaultEvent::Type::Crash, 0.02, "worker-1", "", -1, "", "t"},
                                    {sim::FaultEvent::Type::Recover, 0.05, "worker-1", "", -1, "", "t"}};
        checkThreads(s, {Failures});
    }
    void checkpointRestart()
    {
        sim::SimulationSpec s = base(StrategyKind::SyncPs);
        s.strategy.recovery = StrategySpec::Recovery::CheckpointRestart;
        s.strategy.failureDetection = 0.005;
        s.strategy.checkpoint.everySteps = 5;
        s.strategy.checkpoint.restartDelay = 0.01;
        s.platform.faults.events = {{sim::FaultEvent::Type::Crash, 0.03, "worker-2", "", -1, "", "t"}};
        checkThreads(s, {Failures, Restarts});
    }
};
DML_SIM_CASE(ThreadsSyncPs);

class ThreadsAsyncPs : public QObject {
    Q_OBJECT
private slots:
    void plain() { checkThreads(base(StrategyKind::AsyncPs, 6, 60), {Staleness}, true); }
    void boundedQsgd()
    {
        sim::SimulationSpec s = base(StrategyKind::AsyncPs, 6, 60);
        s.strategy.stalenessBound = 1;
        s.strategy.compression.kind = compression::CompressionSpec::Kind::Qsgd;
        s.strategy.compression.bits = 4;
        s.strategy.compression.errorFeedback = true;
        checkThreads(s, {CompressedBytes, Staleness});
    }
    void workerFails()
    {
        sim::SimulationSpec s = base(StrategyKind::AsyncPs, 6, 60);
        s.strategy.failureDetection = 0.005;
        s.platform.faults.events = {{sim::FaultEvent::Type::Crash, 0.02, "worker-3", "", -1, "", "t"}};
        checkThreads(s, {Failures});
    }
};
DML_SIM_CASE(ThreadsAsyncPs);

class ThreadsRing : public QObject {
    Q_OBJECT
private slots:
    void plain() { checkThreads(base(StrategyKind::RingAllReduce), {}, true); }
    void cnn() // issue 17: the convolutional model, its evaluation chunks as parallel jobs
    {
        using K = CnnLayerSpec::Kind;
        sim::SimulationSpec s = base(StrategyKind::RingAllReduce);
        s.training.cnn.channels = 2; // the 32 features as 2 x 4 x 4 images
        s.training.cnn.height = s.training.cnn.width = 4;
        s.training.cnn.layers = {{K::Conv, 6, 3, 1, 1}, {K::Relu, 0, 0, 0, 0}, {K::MaxPool, 0, 2, 0, 0},
                                 {K::Dense, 48, 0, 0, 0}, {K::Relu, 0, 0, 0, 0}};
        checkThreads(s, {}, true);
    }
    void overlap() // issue 17: the background actors' bucket all-reduces beside the workers' backward passes
    {
        sim::SimulationSpec s = base(StrategyKind::RingAllReduce);
        s.strategy.overlap = {true, 4.0 * 1200}; // two buckets
        checkThreads(s, {}, true);
    }
    void summableQsgd()
    {
        sim::SimulationSpec s = base(StrategyKind::RingAllReduce);
        s.strategy.compression.kind = compression::CompressionSpec::Kind::Qsgd;
        s.strategy.compression.errorFeedback = true;
        checkThreads(s, {CompressedBytes});
    }
    void gatheredTopKLocalSgd()
    {
        sim::SimulationSpec s = base(StrategyKind::RingAllReduce);
        s.strategy.localSteps = 2;
        s.strategy.compression.kind = compression::CompressionSpec::Kind::TopK;
        s.strategy.compression.ratio = 0.05;
        s.strategy.compression.errorFeedback = true;
        checkThreads(s, {CompressedBytes});
    }
    void dpSgd()
    {
        sim::SimulationSpec s = base(StrategyKind::RingAllReduce, 6, 12);
        s.strategy.privacy.kind = privacy::PrivacySpec::Kind::DpSgd;
        s.strategy.privacy.noiseMultiplier = 0.8;
        checkThreads(s, {Epsilon});
    }
    void elasticCrash()
    {
        sim::SimulationSpec s = base(StrategyKind::RingAllReduce);
        s.strategy.recovery = StrategySpec::Recovery::Elastic;
        s.strategy.failureDetection = 0.005;
        s.platform.faults.events = {{sim::FaultEvent::Type::Crash, 0.02, "worker-4", "", -1, "", "t"}};
        checkThreads(s, {Failures});
    }
    void checkpointRestart()
    {
        sim::SimulationSpec s = base(StrategyKind::RingAllReduce);
        s.strategy.recovery = StrategySpec::Recovery::CheckpointRestart;
        s.strategy.failureDetection = 0.005;
        s.strategy.checkpoint.everySteps = 5;
        s.strategy.checkpoint.restartDelay = 0.01;
        s.platform.faults.events = {{sim::FaultEvent::Type::Crash, 0.03, "worker-2", "", -1, "", "t"}};
        checkThreads(s, {Failures, Restarts});
    }
};
DML_SIM_CASE(ThreadsRing);

namespace {
/// 12 clients (Dirichlet non-IID), half of them per round, 2 local epochs, 4 rounds, SGD.
sim::SimulationSpec federated(StrategyKind kind)
{
    sim::SimulationSpec s = base(kind, 12, 0);
    s.strategy.clientFraction = 0.5;
    s.strategy.localEpochs = 2;
    s.strategy.rounds = 4;
    s.training.optimizer = OptimizerSpec{.kind = OptimizerSpec::Kind::Sgd, .learningRate = 0.05f};
    s.training.partition.kind = PartitionSpec::Kind::Dirichlet;
    s.training.partition.alpha = 0.5;
    s.training.evalEverySteps = 1;
    return s;
}
} // namespace

class ThreadsFedAvg : public QObject {
    Q_OBJECT
private slots:
    void fedProx()
    {
        sim::SimulationSpec s = federated(StrategyKind::FedAvg);
        s.strategy.proxMu = 0.1;
        checkThreads(s, {}, true);
    }
    void compressed()
    {
        sim::SimulationSpec s = federated(StrategyKind::FedAvg);
        s.strategy.compression.kind = compression::CompressionSpec::Kind::RandomK;
        s.strategy.compression.ratio = 0.2;
        s.strategy.compression.errorFeedback = true;
        checkThreads(s, {CompressedBytes});
    }
    void dpFedAvg()
    {
        sim::SimulationSpec s = federated(StrategyKind::FedAvg);
        s.strategy.privacy.kind = privacy::PrivacySpec::Kind::DpFedAvg;
        s.strategy.privacy.clip = 0.5;
        s.strategy.privacy.noiseMultiplier = 0.5;
        checkThreads(s, {Epsilon});
    }
    void secureAggregation()
    {
        sim::SimulationSpec s = federated(StrategyKind::FedAvg);
        s.strategy.secureAggregation.enabled = true;
        checkThreads(s, {SecAggBytes});
    }
    /// The plain average summed as the clients finish (strategies/reportsum.h). Without an observer, on a platform
    /// where nobody can fail, the clients send no model: every round is averaged from the sum alone. With an
    /// observer the models are sent too, and each round's model must be their weighted mean, recomputed at the
    /// round's end in client-rank order, bit for bit. Both runs must end with the same model, with 1 and 2 threads.
    void streamedAverage()
    {
        const sim::SimulationSpec s = federated(StrategyKind::FedAvg);
        const auto run = [&s](bool observe, int threads) {
            return inChild([=] {
                parallel::setThreads(threads);
                const TrainTest d = data();
                Keep keep;
                FederatedAveraging fed(s.strategy.workers, s.strategy.clientFraction, s.strategy.localEpochs, 0,
                                       s.strategy.rounds, s.training, d, keep);
                std::vector<Round> seen;
                if (observe)
                    fed.setRoundObserver(recordRounds(seen));
                const sim::SimulationResult r = sim::simulateStrategy(s.platform, fed, 0, true);
                double exact = 0;
                for (const Round& x : seen)
                    exact += x.meanExact ? 1 : 0;
                std::vector<double> v{double(fed.streamedRounds()), double(fed.roundsWithoutModels()),
                                      double(seen.size()), exact,
                                      keep.samples.empty() ? 0.0 : keep.samples.back().testAccuracy};
                v.insert(v.end(), r.finalModel.data(), r.finalModel.data() + r.finalModel.size());
                return v;
            });
        };
        const double rounds = s.strategy.rounds;
        const std::vector<double> plain = run(false, 1);
        QVERIFY2(plain.size() > 1000, "the run without an observer failed");
        QCOMPARE(plain[0], rounds); // summed as they came
        QCOMPARE(plain[1], rounds); // and without the models
        QVERIFY2(plain[4] > 0.4, qPrintable(QString("accuracy %1").arg(plain[4])));
        for (int threads : {1, 2}) {
            const std::vector<double> observed = run(true, threads);
            QVERIFY2(observed.size() == plain.size(), "the run with an observer failed");
            QCOMPARE(observed[0], rounds);
            QCOMPARE(observed[1], 0.0);
            QCOMPARE(observed[2], rounds);
            QCOMPARE(observed[3], rounds); // every round the exact weighted mean of the models sent
            QVERIFY2(sameBits({observed.begin() + 4, observed.end()}, {plain.begin() + 4, plain.end()}),
                     qPrintable(QString("%1 thread(s): the observed run ends with another model").arg(threads)));
            const std::vector<double> again = run(false, threads);
            QVERIFY2(sameBits(again, plain), qPrintable(QString("%1 thread(s) differ from 1").arg(threads)));
        }
    }
    void deadlineAndDropOuts()
    {
        sim::SimulationSpec s = federated(StrategyKind::FedAvg);
        s.strategy.roundDeadline = 0.06; // the slow client (about 85 ms per round) misses it
        s.platform.availability.model = sim::AvailabilitySpec::Model::Random;
        s.platform.availability.meanUp = 0.3;
        s.platform.availability.meanDown = 0.2;
        s.platform.availability.roles = {"client"};
        s.training.maxSimulatedTime = 2; // also the horizon of the availability model
        checkThreads(s, {DroppedClients});
    }
};
DML_SIM_CASE(ThreadsFedAvg);

class ThreadsHierFavgFedBuff : public QObject {
    Q_OBJECT
private slots:
    void hierFavg()
    {
        sim::SimulationSpec s = federated(StrategyKind::HierFavg);
        s.platform.topology = sim::Topology::Edge;
        s.platform.edge.sites = 2;
        s.platform.edge.devicesPerSite = 6;
        s.platform.edge.serverAt = "cloud";
        s.platform.speeds.list.clear();
        s.strategy.edgeServers = 2;
        s.strategy.cloudInterval = 2;
        s.strategy.rounds = 3;
        checkThreads(s, {}, true);
    }
    void fedBuffClientsOff()
    {
        sim::SimulationSpec s = federated(StrategyKind::FedBuff);
        s.strategy.concurrency = 4;
        s.strategy.bufferSize = 3;
        s.strategy.rounds = 6;
        s.strategy.failureDetection = 0.05;
        s.platform.availability.model = sim::AvailabilitySpec::Model::Trace;
        s.platform.availability.traceFile = "test";
        s.platform.availability.events = {{"client-1", 0.05, false, 1}, {"client-4", 0.08, false, 2}};
        checkThreads(s, {Failures, Staleness}, true);
    }
};
DML_SIM_CASE(ThreadsHierFavgFedBuff);

#include "sim_threads.moc"
