// SPDX-License-Identifier: GPL-3.0-or-later
#include "strategies/hierfavg.h"

#include "error.h"
#include "parallel.h"
#include "strategies/localtraining.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <string>

namespace dml {
namespace {

/// Cloud rounds per pass over the training set (see the class comment). Checks the settings it depends on first:
/// throws ConfigError naming "strategy.edge_interval", "strategy.cloud_interval", "strategy.rounds" or
/// "workload.batch_size".
double cloudRoundsPerEpoch(int edgeInterval, int cloudInterval, int rounds, int clients, const TrainingConfig& cfg,
                           int samples)
{
    if (edgeInterval < 0)
        throw ConfigError("strategy.edge_interval", "expected 0 (one local epoch) or more local steps, got " +
                                                        std::to_string(edgeInterval));
    if (cloudInterval < 1)
        throw ConfigError("strategy.cloud_interval", "expected 1 or more edge rounds per cloud round, got " +
                                                         std::to_string(cloudInterval));
    if (rounds < 0)
        throw ConfigError("strategy.rounds", "expected 0 (derived from run.epochs) or more, got " +
                                                 std::to_string(rounds));
    if (cfg.batchSize < 1)
        throw ConfigError("workload.batch_size", "expected 1 or more, got " + std::to_string(cfg.batchSize));
    if (edgeInterval == 0)
        return 1.0 / double(cloudInterval);
    return double(samples) / (double(clients) * double(edgeInterval) * double(cloudInterval) * double(cfg.batchSize));
}

int checkedEdges(int edges, int clients)
{
    if (edges < 1 || edges > clients)
        throw ConfigError("strategy.edge_servers", "expected 1 to " + std::to_string(clients) +
                                                       " (the clients, strategy.workers), got " + std::to_string(edges));
    return edges;
}

} // namespace

HierarchicalFedAvg::HierarchicalFedAvg(int clients, int edgeServers, int edgeInterval, int cloudInterval, int rounds,
                                       double failureDetection, const TrainingConfig& cfg, const TrainTest& data,
                                       MetricsSink& sink)
    : m_clients(clients), m_edges(checkedEdges(edgeServers, clients)), m_edgeInterval(edgeInterval),
      m_cloudInterval(cloudInterval), m_failureDetection(failureDetection), m_cfg(cfg), m_data(data),
      m_workload(cfg, data.train), m_partition(makePartition(cfg.partition, data.train, clients, cfg.seed)),
      m_roundsPerEpoch(cloudRoundsPerEpoch(edgeInterval, cloudInterval, rounds, clients, cfg, data.train.numSamples())),
      m_plannedRounds(rounds > 0 ? rounds : long(std::ceil(double(cfg.epochs) * m_roundsPerEpoch - 1e-9))),
      m_evaluator(data.test, m_workload.model(), cfg, m_roundsPerEpoch, m_plannedRounds, rounds > 0 ? "rounds" : "epochs",
                  sink, "cloud round"),
      m_samplers(std::size_t(clients))
{
    if (!(failureDetection > 0) || !std::isfinite(failureDetection))
        throw ConfigError("strategy.failure_detection", "expected a finite time greater than zero, got " +
                                                            std::to_string(failureDetection));
}

std::string HierarchicalFedAvg::roleOf(int rank) const
{
    return rank < m_clients ? "client" : rank < m_clients + m_edges ? "edge-server" : "server";
}

void HierarchicalFedAvg::run(int rank, Transport& t)
{
    if (rank < m_clients)
        runClient(rank, t);
    else if (rank < m_clients + m_edges)
        runEdge(rank - m_clients, t);
    else
        runCloud(t);
}

void HierarchicalFedAvg::runCloud(Transport& t)
{
    const bool proxy = m_workload.isProxy();
    Eigen::VectorXf params = proxy ? Eigen::VectorXf() : m_workload.initialParams(m_cfg.seed);
    std::vector<Message> replies(static_cast<std::size_t>(m_edges));
    m_evaluator.initial(t.now(), proxy ? nullptr : params.data());
    for (long round = 1;; ++round) {
        std::shared_ptr<const Eigen::VectorXf> global = proxy ? nullptr : m_pool.copyOf(params);
        for (int s = 0; s < m_edges; ++s)
            t.isend(m_clients + s, FromCloud,
                    Message{.kind = Model, .bytes = m_workload.modelBytes(), .data = global, .version = round});
        t.waitAll();
        for (int i = 0; i < m_edges; ++i) {
            Message m = t.recv(ToCloud);
            replies[std::size_t(m.source - m_clients)] = std::move(m);
        }
        // w_{t+1} = sum_s (D_s / D) w^s in edge-server order.
        double total = 0;
        for (const Message& m : replies)
            total += double(m.version);
        if (!proxy)
            for (int s = 0; s < m_edges; ++s) {
                const float wgt = float(double(replies[std::size_t(s)].version) / total);
                if (s == 0)
                    params = wgt * *replies[0].data;
                else
                    params += wgt * *replies[std::size_t(s)].data;
            }
        t.compute(2.0 * double(m_edges) * double(m_workload.numParams()));
        for (Message& m : replies)
            m = Message{};
        if (m_roundObserver)
            m_roundObserver(round, params);
        if (m_evaluator.afterStep(t.now(), round, proxy ? nullptr : params.data())) {
            for (int s = 0; s < m_edges; ++s)
                t.isend(m_clients + s, FromCloud, Message{.kind = Stop, .bytes = 0, .version = round});
            t.waitAll();
            m_final = params;
            return;
        }
    }
}

void HierarchicalFedAvg::runEdge(int edge, Transport& t)
{
    const bool proxy = m_workload.isProxy();
    std::vector<int> mine;
    double siteSamples = 0; // D_s
    for (int k = edge; k < m_clients; k += m_edges) {
        mine.push_back(k);
        siteSamples += double(m_partition[std::size_t(k)].size());
    }
    std::vector<Message> replies(mine.size());
    const double n = double(m_workload.numParams());
    for (;;) {
        Message fromCloud = t.recv(FromCloud);
        if (fromCloud.kind == Stop)
            return;
        Eigen::VectorXf model = proxy ? Eigen::VectorXf() : *fromCloud.data;
        for (int j = 0; j < m_cloudInterval; ++j) {
            const long edgeRound = (fromCloud.version - 1) * m_cloudInterval + j + 1;
            std::shared_ptr<const Eigen::VectorXf> shared = proxy ? nullptr : m_pool.copyOf(model);
            // done[i]: 0 = waiting, 1 = out of the edge round (device off), 2 = reported.
            std::vector<char> done(mine.size(), 0);
            std::size_t outstanding = mine.size();
            for (std::size_t i = 0; i < mine.size(); ++i) {
                t.launch(mine[i]);
                if (t.peerFailed(mine[i])) {
                    done[i] = 1;
                    --outstanding;
                    continue;
                }
                t.isend(mine[i], ToClient,
                        Message{.kind = Model, .bytes = m_workload.modelBytes(), .data = shared, .version = edgeRound});
            }
            while (outstanding > 0) {
                for (std::size_t i = 0; i < mine.size(); ++i)
                    if (!done[i] && t.peerFailed(mine[i])) {
                        done[i] = 1;
                        --outstanding;
                    }
                if (outstanding == 0)
                    break;
                std::optional<Message> m = t.recv(ToEdge, m_failureDetection);
                if (!m)
                    continue;
                const auto at = std::size_t(std::lower_bound(mine.begin(), mine.end(), m->source) - mine.begin());
                if (at >= mine.size() || mine[at] != m->source || done[at] || m->generation != edgeRound)
                    continue; // not this edge round's report
                done[at] = 2;
                --outstanding;
                replies[at] = std::move(*m);
            }
            t.waitAll();
            // w^s = sum_k (n_k / n) w^k over the clients that reported, in client-rank order.
            double total = 0;
            int reported = 0;
            for (std::size_t i = 0; i < mine.size(); ++i)
                if (done[i] == 2) {
                    t.extendWindow(mine[i]); // a client that finished early waited for the edge round's stragglers
                    total += double(replies[i].version);
                    ++reported;
                }
            bool first = true;
            for (std::size_t i = 0; i < mine.size(); ++i) {
                if (done[i] != 2)
                    continue;
                if (!proxy) {
                    const float wgt = float(double(replies[i].version) / total);
                    if (first)
                        model = wgt * *replies[i].data;
                    else
                        model += wgt * *replies[i].data;
                }
                first = false;
                m_evaluator.addTrainLoss(replies[i].value);
                replies[i] = Message{};
            }
            t.compute(2.0 * double(reported) * n);
        }
        t.send(m_clients + m_edges, ToCloud,
               Message{.kind = Model,
                       .bytes = m_workload.modelBytes(),
                       .data = proxy ? nullptr : m_pool.copyOf(model),
                       .version = long(siteSamples)});
    }
}

void HierarchicalFedAvg::runClient(int rank, Transport& t)
{
    const std::vector<int>& part = m_partition[std::size_t(rank)];
    BatchSampler& sampler = clientSampler(m_samplers, m_partition, rank, m_cfg.batchSize, m_cfg.seed);
    const dml::Model* arch = m_workload.model();
    const double flopsPerLocalStep = localStepFlops(m_workload, sampler.batchSize(), m_cfg.optimizer);
    const long localSteps = m_edgeInterval > 0 ? long(m_edgeInterval) : long(sampler.batchesPerEpoch());

    const int edge = m_clients + edgeOf(rank);
    Message model = t.recv(ToClient);
    std::shared_ptr<Eigen::VectorXf> w;
    double lossSum = 0;
    std::vector<int> batches;
    parallel::Task training; // a pool job, as FedAvg's clients' (fedavg.cpp); destroyed first
    if (arch) {
        w = m_pool.acquire(model.data->size());
        batches = drawBatches(sampler, localSteps);
        training = parallel::submit([&, start = model.data.get()] {
            lossSum = trainLocallyFrom(m_workload, *start, batches.data(), sampler.batchSize(), m_cfg.optimizer,
                                       localSteps, *w); // fresh optimizer
        });
    } else {
        lossSum = std::numeric_limits<double>::quiet_NaN();
    }
    t.compute(double(localSteps) * flopsPerLocalStep); // charged at once, as FedAvg's clients (fedavg.cpp)
    training.wait();
    t.send(edge, ToEdge,
           Message{.kind = Model, .bytes = m_workload.modelBytes(), .data = std::move(w), .version = long(part.size()),
                   .value = lossSum / double(localSteps), .generation = model.version});
}

} // namespace dml
