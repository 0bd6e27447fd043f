// SPDX-License-Identifier: GPL-3.0-or-later
#include "strategies/fedbuff.h"

#include "error.h"
#include "parallel.h"
#include "strategies/localtraining.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>
#include <string>

namespace dml {
namespace {

/// Seconds without any client training after which the run gives up ("clients_unavailable"): the horizon up to
/// which the random availability model generates its changes without run.max_simulated_time.
constexpr double kUnavailableFor = 100000;

FedBuff::Settings checked(int clients, const FedBuff::Settings& s)
{
    if (s.concurrency < 1 || s.concurrency > clients)
        throw ConfigError("strategy.concurrency", "expected 1 to " + std::to_string(clients) +
                                                      " (platform.workers, the clients), got " +
                                                      std::to_string(s.concurrency));
    if (s.bufferSize < 1)
        throw ConfigError("strategy.buffer_size", "expected 1 or more updates per aggregation, got " +
                                                      std::to_string(s.bufferSize));
    if (s.refillOnAggregation && s.bufferSize > s.concurrency)
        throw ConfigError("strategy.buffer_size",
                          "expected at most strategy.concurrency (" + std::to_string(s.concurrency) +
                              ") with refill \"aggregation\": the buffer would never fill, got " +
                              std::to_string(s.bufferSize));
    if (!(s.serverLearningRate > 0) || !std::isfinite(s.serverLearningRate))
        throw ConfigError("strategy.server_learning_rate", "expected a finite step size greater than 0, got " +
                                                               std::to_string(s.serverLearningRate));
    if (s.localEpochs < 1)
        throw ConfigError("strategy.local_epochs", "expected 1 or more, got " + std::to_string(s.localEpochs));
    if (s.aggregations < 0)
        throw ConfigError("strategy.rounds", "expected 0 (derived from run.epochs) or more aggregations, got " +
                                                 std::to_string(s.aggregations));
    if (!(s.failureDetection > 0) || !std::isfinite(s.failureDetection))
        throw ConfigError("strategy.failure_detection", "expected a finite time greater than zero, got " +
                                                            std::to_string(s.failureDetection));
    return s;
}

long planned(const FedBuff::Settings& s, int epochs, int clients)
{
    if (s.aggregations > 0)
        return s.aggregations;
    // epochs * N / (K E), rounded up, in integers.
    const long long num = (long long)epochs * clients, den = (long long)s.bufferSize * s.localEpochs;
    return long((num + den - 1) / den);
}

} // namespace

FedBuff::FedBuff(int clients, const Settings& settings, const TrainingConfig& cfg, const TrainTest& data,
                 MetricsSink& sink)
    : m_clients(clients), m_settings(checked(clients, settings)), m_cfg(cfg), m_data(data),
      m_workload(cfg, data.train), m_partition(makePartition(cfg.partition, data.train, clients, cfg.seed)),
      m_planned(planned(m_settings, cfg.epochs, clients)),
      m_evaluator(data.test, m_workload.model(), cfg,
                  double(clients) / (double(m_settings.bufferSize) * m_settings.localEpochs), m_planned,
                  settings.aggregations > 0 ? "rounds" : "epochs", sink, "aggregation"),
      m_samplers(static_cast<std::size_t>(clients)), m_sink(sink)
{
    if (cfg.batchSize < 1)
        throw ConfigError("workload.batch_size", "expected 1 or more, got " + std::to_string(cfg.batchSize));
}

double FedBuff::stalenessWeight(long tau)
{
    return 1.0 / std::sqrt(1.0 + double(tau));
}

void FedBuff::completeSummary(Summary& s) const
{
    m_evaluator.completeSummary(s);
    if (m_stalenessCount == 0)
        return;
    s.stalenessMean = m_stalenessSum / double(m_stalenessCount);
    s.stalenessMax = double(m_stalenessMax);
}

void FedBuff::run(int rank, Transport& t)
{
    if (rank == m_clients)
        runServer(t);
    else
        runClient(rank, t);
}

void FedBuff::runServer(Transport& t)
{
    const bool proxy = m_workload.isProxy();
    const double nParams = double(m_workload.numParams());
    Eigen::VectorXf params = proxy ? Eigen::VectorXf() : m_workload.initialParams(m_cfg.seed);
    Eigen::VectorXf buffer = proxy ? Eigen::VectorXf() : Eigen::VectorXf::Zero(params.size()); // Delta_bar
    long version = 0;
    std::vector<char> active(std::size_t(m_clients), 0); // training for us (launched, device on, not reported)
    std::vector<long> incarnation(std::size_t(m_clients), 0); // of the body launched for its current task
    std::vector<double> reportedAt(std::size_t(m_clients), -1); // when its last update arrived
    int activeCount = 0;
    std::uint64_t event = 0;
    std::vector<Contribution> contributions;
    double lastActive = t.now(); // the last time some client trained

    // The clients that should be training now: all `concurrency`, less (with refillOnAggregation) the slots freed by
    // the reports in the buffer, which wait for the aggregation.
    auto target = [&] {
        return m_settings.concurrency - (m_settings.refillOnAggregation ? int(contributions.size()) : 0);
    };
    // Fill the free slots (see the class comment: a partial Fisher-Yates shuffle of the idle clients per event).
    auto refill = [&] {
        if (activeCount >= target())
            return;
        std::vector<int> idle;
        for (int k = 0; k < m_clients; ++k) // a body whose update arrived at this instant may not have ended yet
            if (!active[std::size_t(k)] && reportedAt[std::size_t(k)] != t.now())
                idle.push_back(k);
        Rng rng(deriveSeed(m_cfg.seed, 0xFEDA, ++event));
        std::shared_ptr<const Eigen::VectorXf> global = proxy ? nullptr : m_pool.copyOf(params);
        std::size_t drawn = 0;
        while (activeCount < target() && drawn < idle.size()) {
            const std::size_t want = std::min(std::size_t(target() - activeCount), idle.size() - drawn);
            for (std::size_t i = drawn; i < drawn + want; ++i)
                std::swap(idle[i], idle[i + rng.below(std::uint64_t(idle.size() - i))]);
            std::vector<int> batch(idle.begin() + std::ptrdiff_t(drawn), idle.begin() + std::ptrdiff_t(drawn + want));
            drawn += want;
            std::sort(batch.begin(), batch.end());
            for (int k : batch) {
                t.launch(k);
                if (t.peerFailed(k)) // its device is off: the next candidate is tried
                    continue;
                active[std::size_t(k)] = 1;
                incarnation[std::size_t(k)] = t.incarnation(k);
                ++activeCount;
                if (m_launchObserver)
                    m_launchObserver(k, version, t.now());
                t.isend(k, ToClient, Message{.kind = Model, .bytes = m_workload.modelBytes(), .data = global,
                                             .version = version});
            }
        }
        if (activeCount > 0)
            lastActive = t.now();
    };

    m_evaluator.initial(t.now(), proxy ? nullptr : params.data());
    refill();
    for (;;) {
        // Clients whose device went off are out; their slots are refilled at once.
        bool lost = false;
        for (int k = 0; k < m_clients; ++k)
            if (active[std::size_t(k)] && t.peerFailed(k)) {
                active[std::size_t(k)] = 0;
                --activeCount;
                ++m_failed;
                m_sink.point("failed_clients", t.now(), 1.0);
                lost = true;
            }
        if (lost)
            refill();
        if (activeCount > 0) {
            lastActive = t.now();
        } else {
            const bool overTime = m_cfg.maxSimulatedTime > 0 && t.now() >= m_cfg.maxSimulatedTime;
            if (overTime || t.now() - lastActive >= kUnavailableFor) { // nobody can train: give up
                if (!overTime)
                    m_evaluator.requestStop("clients_unavailable");
                m_evaluator.afterStep(t.now(), version, proxy ? nullptr : params.data(), true);
                m_final = params;
                m_stopping = true;
                return;
            }
        }
        std::optional<Message> m = t.recv(ToServer, m_settings.failureDetection);
        if (!m) {
            refill(); // devices that were off may be back on
            continue;
        }
        const int k = m->source;
        if (!active[std::size_t(k)] || m->generation != incarnation[std::size_t(k)])
            continue; // from a body given up on (its device went off after it sent): discarded
        active[std::size_t(k)] = 0;
        --activeCount;
        reportedAt[std::size_t(k)] = t.now();
        // Delta_bar += s(tau) Delta_k, tau = the versions applied since the client's download.
        const long tau = version - m->version;
        if (!proxy)
            buffer += float(stalenessWeight(tau)) * *m->data;
        t.compute(2.0 * nParams);
        m_stalenessSum += double(tau);
        ++m_stalenessCount;
        m_stalenessMax = std::max(m_stalenessMax, tau);
        m_sink.point("staleness", t.now(), double(tau));
        m_evaluator.addTrainLoss(m->value);
        contributions.push_back({k, m->version, tau, m_observer ? m->data : nullptr});
        if (int(contributions.size()) == m_settings.bufferSize) {
            // x^{t+1} = x^t - eta_g Delta_bar / K
            if (!proxy) {
                params -= float(m_settings.serverLearningRate / double(m_settings.bufferSize)) * buffer;
                buffer.setZero();
            }
            t.compute(2.0 * nParams);
            ++version;
            if (m_observer)
                m_observer(version, contributions, params);
            contributions.clear();
            if (m_evaluator.afterStep(t.now(), version, proxy ? nullptr : params.data())) {
                m_final = params;
                m_stopping = true; // the clients still training stop at their next local step
                return;
            }
            refill();
        } else {
            refill(); // with refillOnAggregation, only slots freed by failures
        }
    }
}

// The client's local training is a FedAvg client's (trainLocally; without FedProx, compression and privacy); it
// returns the update Delta = y_0 - y_Q and charges its compute step by step, so that it can stop when the run ends.
void FedBuff::runClient(int rank, Transport& t)
{
    BatchSampler& sampler = clientSampler(m_samplers, m_partition, rank, m_cfg.batchSize, m_cfg.seed);
    const dml::Model* arch = m_workload.model(); // nullptr for a proxy: no arithmetic on data
    const double nParams = double(m_workload.numParams());
    const double flopsPerLocalStep = localStepFlops(m_workload, sampler.batchSize(), m_cfg.optimizer);
    const long localSteps = long(m_settings.localEpochs) * sampler.batchesPerEpoch();

    Message global = t.recv(ToClient);
    std::shared_ptr<Eigen::VectorXf> delta;
    double lossSum = 0;
    std::vector<int> batches;
    parallel::Task training; // destroyed first: a body that returns early (the run ended) cancels or awaits it
    if (arch) {
        delta = m_pool.acquire(global.data->size()); // y, trained in place, then turned into y_0 - y_Q
        batches = drawBatches(sampler, localSteps);  // drawn here, in simulation order
        training = parallel::submit([&, start = global.data.get()] {
            const Eigen::VectorXf& y0 = *start;
            Eigen::VectorXf& y = *delta;
            y = y0;
            lossSum = trainLocally(m_workload, batches.data(), sampler.batchSize(), m_cfg.optimizer, localSteps, y);
            y = y0 - y;
        });
    } else {
        lossSum = std::numeric_limits<double>::quiet_NaN();
    }
    // The arithmetic runs start to finish as one pool job (warm cache, as FedAvg's client); its time is charged
    // step by step.
    for (long s = 0; s < localSteps; ++s) {
        if (m_stopping)
            return;
        t.compute(flopsPerLocalStep);
    }
    if (m_stopping)
        return;
    t.compute(nParams); // Delta
    training.wait();
    t.send(m_clients, ToServer,
           Message{.kind = Update, .bytes = m_workload.modelBytes(), .data = std::move(delta),
                   .version = global.version, .value = lossSum / double(localSteps), .generation = t.incarnation(rank)});
}

} // namespace dml
