// SPDX-License-Identifier: GPL-3.0-or-later
#include "strategies/fedavg.h"

#include "error.h"
#include "parallel.h"
#include "privacy/dp.h"
#include "strategies/localtraining.h"
#include "strategies/reportsum.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>

namespace dml {
namespace {

int clientsPerRound(int clients, double fraction)
{
    if (!(fraction > 0.0 && fraction <= 1.0))
        throw ConfigError("strategy.client_fraction",
                          "expected a fraction C in (0, 1], got " + std::to_string(fraction));
    return std::max(1, int(std::lround(fraction * double(clients))));
}

long plannedRounds(int rounds, int epochs, int clients, int perRound, int localEpochs)
{
    if (rounds < 0)
        throw ConfigError("strategy.rounds", "expected 0 (derived from run.epochs) or more, got " +
                                                 std::to_string(rounds));
    if (localEpochs < 1)
        throw ConfigError("strategy.local_epochs", "expected 1 or more, got " + std::to_string(localEpochs));
    if (rounds > 0)
        return rounds;
    // epochs * K / (m E), rounded up, in integers.
    const long long num = (long long)epochs * clients, den = (long long)perRound * localEpochs;
    return long((num + den - 1) / den);
}

} // namespace

FederatedAveraging::FederatedAveraging(int clients, double clientFraction, int localEpochs, double proxMu,
                                       int rounds, const TrainingConfig& cfg, const TrainTest& data,
                                       MetricsSink& sink)
    : m_clients(clients), m_perRound(dml::clientsPerRound(clients, clientFraction)), m_localEpochs(localEpochs),
      m_mu(proxMu), m_cfg(cfg), m_data(data), m_workload(cfg, data.train),
      m_partition(makePartition(cfg.partition, data.train, clients, cfg.seed)),
      m_plannedRounds(dml::plannedRounds(rounds, cfg.epochs, clients, m_perRound, localEpochs)),
      m_evaluator(data.test, m_workload.model(), cfg, double(clients) / (double(m_perRound) * localEpochs),
                  m_plannedRounds, rounds > 0 ? "rounds" : "epochs", sink, "round"),
      m_samplers(static_cast<std::size_t>(clients)), m_sink(sink), m_busy(static_cast<std::size_t>(clients), 0)
{
    if (!(proxMu >= 0.0) || !std::isfinite(proxMu))
        throw ConfigError("strategy.prox_mu", "expected a proximal coefficient mu >= 0, got " +
                                                  std::to_string(proxMu));
    if (cfg.batchSize < 1)
        throw ConfigError("workload.batch_size", "expected 1 or more, got " + std::to_string(cfg.batchSize));
}

void FederatedAveraging::setRoundRules(const RoundRules& rules)
{
    if (!(rules.deadline >= 0) || !std::isfinite(rules.deadline))
        throw ConfigError("strategy.round_deadline", "expected 0 (no deadline) or a time in simulated seconds, got " +
                                                         std::to_string(rules.deadline));
    if (rules.targetClients < 0 || rules.targetClients > m_perRound)
        throw ConfigError("strategy.target_clients",
                          "expected 0 (all sampled clients) to " + std::to_string(m_perRound) +
                              " (the clients sampled per round, round(client_fraction x workers)), got " +
                              std::to_string(rules.targetClients));
    if (!(rules.failureDetection > 0) || !std::isfinite(rules.failureDetection))
        throw ConfigError("strategy.failure_detection", "expected a finite time greater than zero, got " +
                                                            std::to_string(rules.failureDetection));
    m_rules = rules;
}

void FederatedAveraging::setCompression(const compression::CompressionSpec& spec)
{
    m_compression = spec;
    m_compressor = compression::makeCompressor(spec);
    m_encoders.clear();
    if (m_compressor)
        m_encoders.resize(std::size_t(m_clients));
}

void FederatedAveraging::setPrivacy(const privacy::PrivacySpec& spec)
{
    m_privacy.setSpec(spec);
}

/// One round of secure aggregation: the protocol instance (real workloads only) and the sets the server announced,
/// shared by the server and the round's client bodies (the messages carry the sizes; the values stay here).
struct FederatedAveraging::SecAggRound {
    long round = 0;
    std::vector<int> selected;                       ///< position -> client rank
    std::unique_ptr<privacy::SecAggProtocol> protocol; ///< nullptr for a proxy workload
    std::vector<int> u1, u2;                         ///< positions, sorted
    std::vector<std::vector<std::uint32_t>> masked;  ///< by position: y_u, written when u sends it
    int position(int rank) const
    {
        const auto it = std::lower_bound(selected.begin(), selected.end(), rank);
        return it != selected.end() && *it == rank ? int(it - selected.begin()) : -1;
    }
};

void FederatedAveraging::setSecureAggregation(const privacy::SecAggSpec& spec)
{
    m_secAgg = spec;
    m_secThreshold = 0;
    if (!spec.enabled)
        return;
    if (m_compressor)
        throw ConfigError("strategy.secure_aggregation.enabled", "not with compression");
    if (m_perRound < 2)
        throw ConfigError("strategy.secure_aggregation.enabled", "needs at least 2 clients per round");
    if (spec.threshold < 0 || spec.threshold > m_perRound)
        throw ConfigError("strategy.secure_aggregation.threshold",
                          "expected 0 (floor(2m/3) + 1) or 1 to " + std::to_string(m_perRound) + ", got " +
                              std::to_string(spec.threshold));
    m_secThreshold = spec.threshold > 0 ? spec.threshold : privacy::secAggDefaultThreshold(m_perRound);
    const bool dp = m_privacy.spec().kind == privacy::PrivacySpec::Kind::DpFedAvg;
    m_secMaxWeight = 1;
    if (!dp)
        for (const auto& part : m_partition)
            m_secMaxWeight = std::max(m_secMaxWeight, long(part.size()));
    m_fixed = dp ? privacy::makeFixedPoint(spec.bits, m_privacy.spec().clip, m_perRound, 1, "strategy.privacy.clip")
                 : privacy::makeFixedPoint(spec.bits, spec.range, m_perRound, double(m_secMaxWeight));
}

void FederatedAveraging::completeSummary(Summary& s) const
{
    m_evaluator.completeSummary(s);
    m_counters.fill(m_compression, 1, s);
    m_privacy.fill(s);
    if (m_secAgg.enabled) {
        char label[96];
        std::snprintf(label, sizeof label, "secagg %d-bit t=%d%s", m_secAgg.bits, m_secThreshold,
                      m_secMaxWeight > 1 ? " weighted" : "");
        s.secureAggregation = label;
        s.secAggSeconds = m_secSeconds;
        s.secAggBytes = m_secBytes;
        s.secAggFailedRounds = m_secFailed;
    }
}

void FederatedAveraging::secAggSend(Transport& t, int dst, int tag, Message m)
{
    m_secBytes += m.bytes;
    t.isend(dst, tag, std::move(m));
}

void FederatedAveraging::secAggServerRound(Transport& t, long round, const std::vector<int>& selected,
                                           std::vector<char>& done, std::vector<Message>& replies,
                                           Eigen::VectorXf& params, bool& failed)
{
    using privacy::secAggCost;
    const bool proxy = m_workload.isProxy();
    const bool dp = m_privacy.spec().kind == privacy::PrivacySpec::Kind::DpFedAvg;
    const std::size_t N = std::size_t(m_workload.numParams());
    const std::size_t len = N + (dp ? 0 : 1); // + the weight n_k without DP
    const std::size_t n = selected.size();
    const int thr = m_secThreshold;
    auto state = std::make_shared<SecAggRound>();
    state->round = round;
    state->selected = selected;
    state->masked.resize(n);
    if (!proxy)
        state->protocol = std::make_unique<privacy::SecAggProtocol>(int(n), thr, len, m_secAgg.bits,
                                                                    deriveSeed(m_cfg.seed, 0x5ECA, std::uint64_t(round)));
    m_secRounds.clear(); // bodies of earlier rounds keep theirs
    m_secRounds[round] = state;

    // owes[i]: the kind client i sends next (0: nothing; it waits for the server, is done, or is out).
    std::vector<int> owes(n, 0);
    for (std::size_t i = 0; i < n; ++i)
        if (done[i] == 0)
            owes[i] = AdvertiseKeys;
    const double start = t.now();
    const double closeAt = m_rules.deadline > 0 ? start + m_rules.deadline : -1;
    // Waits for `kind` from every client that owes it (at most `target`, until closeAt if >= 0), checking for
    // clients that went off every failureDetection seconds. Returns the positions that sent it, sorted.
    auto collect = [&](int kind, double until, std::size_t target) {
        std::vector<int> got;
        for (;;) {
            std::size_t outstanding = 0;
            for (std::size_t i = 0; i < n; ++i)
                if (owes[i] == kind) {
                    if (t.peerFailed(selected[i]))
                        owes[i] = 0;
                    else
                        ++outstanding;
                }
            if (outstanding == 0 || got.size() >= target)
                break;
            double wait = m_rules.failureDetection;
            if (until >= 0) {
                if (t.now() >= until)
                    break;
                wait = std::min(wait, until - t.now());
            }
            std::optional<Message> m = t.recv(ToServer, wait);
            if (!m)
                continue;
            const int at = state->position(m->source);
            if (m->kind == Bye) { // a client aborted in an earlier round is done
                if (m->version != round)
                    m_busy[std::size_t(m->source)] = 0;
                continue;
            }
            if (m->version != round || at < 0 || m->kind != kind || owes[std::size_t(at)] != kind)
                continue; // stale: an abandoned body's late message (its goodbye follows its abort)
            owes[std::size_t(at)] = 0;
            got.push_back(at);
            if (kind == MaskedInput)
                replies[std::size_t(at)] = std::move(*m);
        }
        for (int& o : owes) // the phase is closed: what still comes is stale (the client is abandoned)
            if (o == kind)
                o = 0;
        std::sort(got.begin(), got.end());
        return got;
    };

    failed = true;
    double phase = 0; // this round's time in the protocol's extra rounds
    std::vector<int> u3, u4;
    const std::vector<int> u1 = collect(AdvertiseKeys, closeAt, n); // Round 0: AdvertiseKeys
    if (int(u1.size()) >= thr) {
        state->u1 = u1;
        const privacy::SecAggCost c1 = secAggCost(long(u1.size()), long(len), 0, m_secAgg.bits, m_secCosts, thr);
        for (int i : u1) {
            owes[std::size_t(i)] = ShareKeys;
            secAggSend(t, selected[std::size_t(i)], ToClient,
                       Message{.kind = KeyList, .bytes = c1.advertiseKeys.clientReceivedBytes, .version = round});
        }
        const std::vector<int> u2 = collect(ShareKeys, closeAt, n); // Round 1: ShareKeys
        if (int(u2.size()) >= thr) {
            state->u2 = u2;
            const privacy::SecAggCost c2 = secAggCost(long(u2.size()), long(len), 0, m_secAgg.bits, m_secCosts, thr);
            for (int i : u2) {
                owes[std::size_t(i)] = MaskedInput;
                secAggSend(t, selected[std::size_t(i)], ToClient,
                           Message{.kind = SharesForYou, .bytes = c2.shareKeys.clientReceivedBytes, .version = round});
            }
            phase += t.now() - start;
            // Round 2: MaskedInputCollection, under the round rules (the report phase of plain FedAvg).
            u3 = collect(MaskedInput, closeAt,
                         m_rules.targetClients > 0 ? std::size_t(m_rules.targetClients) : n);
            if (int(u3.size()) >= thr) {
                const double unmaskStart = t.now();
                const privacy::SecAggCost c3 = secAggCost(long(u2.size()), long(len), long(u2.size() - u3.size()),
                                                          m_secAgg.bits, m_secCosts, thr);
                for (int i : u3) {
                    owes[std::size_t(i)] = UnmaskShares;
                    secAggSend(t, selected[std::size_t(i)], ToClient,
                               Message{.kind = UnmaskRequest, .bytes = c3.unmasking.clientReceivedBytes,
                                       .version = round});
                }
                u4 = collect(UnmaskShares, -1, n); // Round 3: Unmasking (waits for every survivor that is on)
                if (int(u4.size()) >= thr) {
                    failed = false;
                    if (!proxy) {
                        std::vector<std::uint32_t> sum(len, 0);
                        const std::uint32_t mask = m_fixed.mask;
                        for (int i : u3) {
                            const std::vector<std::uint32_t>& y = state->masked[std::size_t(i)];
                            for (std::size_t j = 0; j < len; ++j)
                                sum[j] = (sum[j] + y[j]) & mask;
                        }
                        const std::optional<std::vector<std::uint32_t>> z =
                            state->protocol->unmask(std::move(sum), u2, u3, u4);
                        // The decoded sum, w_{t+1} below: DP adds noise and divides by m; otherwise by sum n_k.
                        Eigen::VectorXf delta(static_cast<Eigen::Index>(N));
                        for (std::size_t j = 0; j < N; ++j)
                            delta[Eigen::Index(j)] = float(m_fixed.decode((*z)[j]));
                        if (dp) {
                            const privacy::PrivacySpec& p = m_privacy.spec();
                            privacy::addGaussianNoise(delta, p.noiseMultiplier * p.clip,
                                                      deriveSeed(m_cfg.seed, 0xD9, std::uint64_t(round)));
                            params += (1.0f / float(m_perRound)) * delta;
                        } else {
                            const long long weight = m_fixed.signedValue((*z)[N]);
                            if (weight > 0)
                                params += float(1.0 / double(weight)) * delta;
                        }
                    }
                    t.compute(c3.maskedInput.serverFlops + c3.unmasking.serverFlops);
                    for (int i : u3)
                        done[std::size_t(i)] = 2;
                }
                phase += t.now() - unmaskStart;
            }
        }
    }
    if (int(state->u2.size()) < thr) // failed in the key rounds: all of the round so far was the protocol's
        phase = t.now() - start;
    m_secSeconds += phase;
    m_sink.point("secagg_seconds", t.now(), phase);
    // Every client still on that is not done (the responders of the unmasking returned) gets an abort; it answers
    // with a goodbye and is busy until then.
    for (std::size_t i = 0; i < n; ++i) {
        if (done[i] == 1 || t.peerFailed(selected[i]) || std::binary_search(u4.begin(), u4.end(), int(i)))
            continue;
        secAggSend(t, selected[i], ToClient,
                   Message{.kind = Abort, .bytes = m_secCosts.controlBytes, .version = round});
        m_busy[std::size_t(selected[i])] = 1;
    }
    if (failed) {
        ++m_secFailed;
        for (std::size_t i = 0; i < n; ++i)
            if (done[i] == 2)
                done[i] = 0;
        for (Message& m : replies)
            m = Message{};
    }
}

/// The round's selection and sum; `keepReports`: the clients also send their models (the server needs them if the sum
/// turns out not to match the reports, or to show them to the round observer).
struct FederatedAveraging::StreamedRound {
    StreamedRound(std::vector<int> s, bool keep, long round, std::vector<float> weights, std::vector<char> launched,
                  Eigen::VectorXf storage)
        : selected(std::move(s)), keepReports(keep),
          sum(round, std::move(weights), std::move(launched), std::move(storage)), losses(selected.size(), 0.0),
          tasks(selected.size())
    {
    }
    const std::vector<int> selected;
    const bool keepReports;
    OrderedReportSum sum;
    std::vector<double> losses;         ///< without kept reports: by position, the mean local loss (from the job)
    std::vector<parallel::Task> tasks;  ///< without kept reports: by position; last, so they end first
};

bool FederatedAveraging::streamsReports() const
{
    return m_workload.model() && !m_compressor && !m_secAgg.enabled &&
           m_privacy.spec().kind != privacy::PrivacySpec::Kind::DpFedAvg;
}

bool FederatedAveraging::keepsReports(bool peersCanFail) const
{
    // Only a round that may close without a launched client (or an observer) needs the models themselves.
    return m_roundObserver || m_rules.deadline > 0 || m_rules.targetClients > 0 || peersCanFail;
}

void FederatedAveraging::prepare(bool peersCanFail)
{
    if (!m_workload.model())
        return;
    // Both on an idle core while the platform is built: the initial evaluation (with several threads) and, where
    // no client can drop out, round 1's training.
    m_initialParams = m_workload.initialParams(m_cfg.seed);
    m_evaluator.prestartInitial(m_initialParams.data());
    if (!streamsReports() || keepsReports(peersCanFail))
        return;
    const std::vector<int> selected = sampleClients(1);
    beginStreamedRound(false, 1, selected, std::vector<char>(selected.size(), 0), m_pool.copyOf(m_initialParams));
}

FederatedAveraging::StreamedRound* FederatedAveraging::streamedRound(long round) const
{
    return m_streamed && m_streamed->sum.round() == round ? m_streamed.get() : nullptr;
}

void FederatedAveraging::beginStreamedRound(bool keep, long round, const std::vector<int>& selected,
                                            const std::vector<char>& done,
                                            const std::shared_ptr<const Eigen::VectorXf>& global)
{
    // The weights averageReports() gives when every launched client reports: n_k / sum n_k, summed in rank order.
    std::vector<char> launched(selected.size(), 0);
    double total = 0;
    for (std::size_t i = 0; i < selected.size(); ++i)
        if (done[i] == 0) {
            launched[i] = 1;
            total += double(m_partition[std::size_t(selected[i])].size());
        }
    std::vector<float> weights(selected.size(), 0.0f);
    for (std::size_t i = 0; i < selected.size(); ++i)
        if (launched[i])
            weights[i] = float(double(m_partition[std::size_t(selected[i])].size()) / total);
    m_streamed = std::make_shared<StreamedRound>(selected, keep, round, std::move(weights), std::move(launched),
                                                 std::move(m_sumStorage));
    m_sumStorage = Eigen::VectorXf();
    // Without kept reports no launched client can drop out: each will train exactly once this round, so its
    // training can start now, in rank order (the order the sum takes them), while SimGrid simulates the broadcast.
    // Its batches come from its own sampler, so who draws them and when changes nothing. The client's body then
    // only lets the simulated time pass (runStreamedClient).
    if (!keep)
        for (std::size_t i = 0; i < selected.size(); ++i)
            if (done[i] == 0)
                submitStreamedTraining(*m_streamed, int(i), global);
}

bool FederatedAveraging::takeStreamedAverage(long round, const std::vector<char>& done,
                                             std::vector<Message>& replies, Eigen::VectorXf& params)
{
    StreamedRound* const streamed = streamedRound(round);
    if (!streamed)
        return false;
    for (parallel::Task& task : streamed->tasks) // in rank order, as the sum takes them
        task.wait();
    std::vector<char> reported(done.size());
    for (std::size_t i = 0; i < done.size(); ++i)
        reported[i] = done[i] == 2;
    if (!streamed->sum.complete(reported))
        return false;
    if (!streamed->keepReports) {
        for (std::size_t i = 0; i < done.size(); ++i)
            if (done[i] == 2)
                replies[i].value = streamed->losses[i];
        ++m_roundsWithoutModels;
    }
    ++m_streamedRounds;
    params.swap(streamed->sum.sum());
    m_sumStorage = std::move(streamed->sum.sum()); // the previous model's buffer, for the next round's sum
    return true;
}

std::vector<int> FederatedAveraging::sampleClients(long round) const
{
    // Partial Fisher-Yates: the first m entries of a seeded shuffle of 0..K-1.
    std::vector<int> all(static_cast<std::size_t>(m_clients));
    std::iota(all.begin(), all.end(), 0);
    Rng rng(deriveSeed(m_cfg.seed, 0xFEDA, std::uint64_t(round)));
    for (int i = 0; i < m_perRound; ++i)
        std::swap(all[std::size_t(i)], all[std::size_t(i) + rng.below(std::uint64_t(m_clients - i))]);
    all.resize(std::size_t(m_perRound));
    std::sort(all.begin(), all.end());
    return all;
}

void FederatedAveraging::run(int rank, Transport& t)
{
    if (rank == m_clients)
        runServer(t);
    else
        runClient(rank, t);
}

int FederatedAveraging::collectReports(Transport& t, const std::vector<int>& selected, std::vector<char>& done,
                                       std::size_t outstanding, std::vector<Message>& replies)
{
    int dropped = 0;
    // Collect the replies until the target is met or the deadline passes. A client whose device goes off
    // (Transport::peerFailed) drops out of the round: without a deadline the server stops waiting for it,
    // checking every failureDetection seconds; with one, the deadline bounds the wait.
    const double closeAt = m_rules.deadline > 0 ? t.now() + m_rules.deadline : -1;
    const std::size_t target =
        m_rules.targetClients > 0 ? std::size_t(m_rules.targetClients) : selected.size();
    std::size_t reported = 0;
    while (outstanding > 0 && reported < target) {
        for (std::size_t i = 0; i < selected.size(); ++i)
            if (!done[i] && t.peerFailed(selected[i])) {
                done[i] = 1;
                --outstanding;
            }
        if (outstanding == 0)
            break;
        std::optional<Message> m;
        if (closeAt >= 0) {
            if (t.now() >= closeAt)
                break;
            m = t.recv(ToServer, closeAt - t.now());
        } else {
            m = t.recv(ToServer, m_rules.failureDetection);
        }
        if (!m)
            continue;
        const auto at = std::size_t(std::lower_bound(selected.begin(), selected.end(), m->source) -
                                    selected.begin());
        if (at >= selected.size() || selected[at] != m->source || done[at]) {
            m_busy[std::size_t(m->source)] = 0; // a late report of an abandoned round: discarded
            continue;
        }
        done[at] = 2;
        --outstanding;
        ++reported;
        replies[at] = std::move(*m);
    }
    // Clients still training are abandoned: their reports, when they come, are stale.
    for (std::size_t i = 0; i < selected.size(); ++i) {
        if (done[i] == 0 && !t.peerFailed(selected[i]))
            m_busy[std::size_t(selected[i])] = 1;
        if (done[i] != 2)
            ++dropped;
    }
    return dropped;
}

void FederatedAveraging::averageReports(Transport& t, long round, const std::vector<const Message*>& counted,
                                        Eigen::VectorXf& params)
{
    const bool proxy = m_workload.isProxy();
    const privacy::PrivacySpec& dpSpec = m_privacy.spec();
    const bool dp = dpSpec.kind == privacy::PrivacySpec::Kind::DpFedAvg;
    double total = 0;
    for (const Message* m : counted)
        total += double(m->version);
    // Compressed: acc = sum_k weight(k) decode(Delta_k) over the reports, in client-rank order.
    auto decodeSum = [&](const std::function<float(const Message&)>& weight, Eigen::VectorXf& acc) {
        std::vector<const compression::Encoded*> parts;
        std::vector<float> weights;
        for (const Message* m : counted) {
            parts.push_back(m->encoded.get());
            weights.push_back(weight(*m));
        }
        m_counters.compute(t, compression::aggregate(*m_compressor, false, parts, weights, acc));
    };
    if (dp) {
        // DP-FedAvg: w_{t+1} = w_t + (sum_k clip(Delta_k) + N(0, (z C)^2 I)) / m, m fixed (McMahan et al. 2018).
        const double n = double(m_workload.numParams());
        const float inv = 1.0f / float(m_perRound);
        if (proxy) {
            m_counters.compute(t, m_compressor ? compression::aggregateFlops(*m_compressor, false, n,
                                                                             int(counted.size()))
                                               : 0.0);
        } else if (m_compressor) { // the encoded clipped updates: w_t + (sum_k Delta_k + noise) / m
            Eigen::VectorXf sum = Eigen::VectorXf::Zero(params.size());
            if (!counted.empty())
                decodeSum([](const Message&) { return 1.0f; }, sum);
            privacy::addGaussianNoise(sum, dpSpec.noiseMultiplier * dpSpec.clip,
                                      deriveSeed(m_cfg.seed, 0xD9, std::uint64_t(round)));
            params += inv * sum;
        } else {
            // The clipped models w~_k = w_t + clip(Delta_k) (w_k itself when within the bound), averaged as
            // plain FedAvg averages (so with z = 0, no clipping and equal parts it is FedAvg bit for bit):
            // w_{t+1} = sum_k w~_k / m + (m - r) / m w_t + noise / m, r = the clients that reported.
            const Eigen::VectorXf global = params;
            for (std::size_t i = 0; i < counted.size(); ++i) {
                if (i == 0)
                    params = inv * *counted[0]->data;
                else
                    params += inv * *counted[i]->data;
            }
            if (int(counted.size()) < m_perRound)
                params = (counted.empty() ? Eigen::VectorXf::Zero(global.size()) : params) +
                         (float(m_perRound - int(counted.size())) * inv) * global;
            if (dpSpec.noiseMultiplier > 0) {
                Eigen::VectorXf noise = Eigen::VectorXf::Zero(params.size());
                privacy::addGaussianNoise(noise, dpSpec.noiseMultiplier * dpSpec.clip,
                                          deriveSeed(m_cfg.seed, 0xD9, std::uint64_t(round)));
                params += inv * noise;
            }
        }
        t.compute((m_compressor ? 0.0 : double(counted.size()) * n) + privacy::noiseFlops(n) + 2.0 * n);
        if (m_privacy.step(double(m_perRound) / double(m_clients), t.now(), m_sink))
            m_evaluator.requestStop("privacy_budget"); // the next round would exceed the budget
    } else if (m_compressor && !counted.empty()) {
        // w_{t+1} = w_t + sum_k (n_k / n) decode(Delta_k): the clients sent their updates, encoded.
        const double n = double(m_workload.numParams());
        if (proxy) {
            m_counters.compute(t, compression::aggregateFlops(*m_compressor, false, n, int(counted.size())));
        } else {
            Eigen::VectorXf update;
            decodeSum([total](const Message& m) { return float(double(m.version) / total); }, update);
            params += update;
        }
    } else if (!proxy && !counted.empty()) { // nobody replied: the global model stays as it was
        // Element-wise, in client-rank order for every element: split over the pool in ranges of whole pages
        // (parallel::forRanges), the same bits whatever the thread count.
        std::vector<float> weights;
        for (const Message* m : counted) {
            if (!m->data) // a streamed round's report whose model went into the sum (streamsReports)
                throw std::logic_error("FedAvg: a report without its model in a round whose sum does not match");
            weights.push_back(float(double(m->version) / total));
        }
        params.resize(counted[0]->data->size());
        parallel::forRanges(long(params.size()), 1024, [&](long b, long e) {
            for (std::size_t i = 0; i < counted.size(); ++i)
                weightedAccumulate(params.data() + b, counted[i]->data->data() + b, weights[i], e - b, i == 0);
        });
    }
}

void FederatedAveraging::runServer(Transport& t)
{
    const bool proxy = m_workload.isProxy();
    // A proxy allocates no parameter vector.
    Eigen::VectorXf params = proxy ? Eigen::VectorXf()
                                   : m_initialParams.size() ? std::move(m_initialParams)
                                                            : m_workload.initialParams(m_cfg.seed);
    std::vector<Message> replies(static_cast<std::size_t>(m_perRound)); // by position in the sorted selection

    m_evaluator.initial(t.now(), proxy ? nullptr : params.data());
    for (long round = 1;; ++round) {
        const std::vector<int> selected = sampleClients(round);
        std::shared_ptr<const Eigen::VectorXf> global = proxy ? nullptr : m_pool.copyOf(params);
        // done[i]: 0 = waiting for its report, 1 = out of the round (off, busy, failed), 2 = reported.
        std::vector<char> done(selected.size(), 0);
        std::size_t outstanding = selected.size();
        // Where no client can be out of the round, its training jobs start before the launches are simulated.
        const bool streamedEarly = streamsReports() && !keepsReports(t.peersCanFail());
        if (streamedEarly && !streamedRound(round)) // round 1 may be prepared
            beginStreamedRound(false, round, selected, done, global);
        for (std::size_t i = 0; i < selected.size(); ++i) {
            const int k = selected[i];
            if (m_busy[std::size_t(k)] && t.peerFailed(k))
                m_busy[std::size_t(k)] = 0; // its abandoned body was killed by its device going off
            if (m_busy[std::size_t(k)]) { // still training for an earlier round
                done[i] = 1;
                --outstanding;
                continue;
            }
            t.launch(k);
            if (t.peerFailed(k)) { // its device is off: not in this round
                done[i] = 1;
                --outstanding;
                continue;
            }
            t.isend(k, ToClient, Message{.kind = Model, .bytes = m_workload.modelBytes(), .data = global,
                                         .version = round});
        }
        if (streamsReports() && !streamedEarly) {
            if (streamedRound(round)) // its samplers have moved on
                throw std::logic_error("FedAvg: round 1 was prepared for a platform where no peer can fail");
            beginStreamedRound(true, round, selected, done, global);
        }
        const bool rules = m_rules.deadline > 0 || m_rules.targetClients > 0;
        int dropped = 0;
        std::vector<const Message*> counted;
        const privacy::PrivacySpec& dpSpec = m_privacy.spec();
        const bool dp = dpSpec.kind == privacy::PrivacySpec::Kind::DpFedAvg;
        if (m_secAgg.enabled) {
            bool failed = false;
            secAggServerRound(t, round, selected, done, replies, params, failed);
            t.waitAll();
            for (std::size_t i = 0; i < selected.size(); ++i) {
                if (done[i] == 2) {
                    t.extendWindow(selected[i]);
                    counted.push_back(&replies[i]);
                } else {
                    ++dropped;
                }
            }
            if (!failed) {
                t.compute(dp ? privacy::noiseFlops(double(m_workload.numParams())) + 2.0 * double(m_workload.numParams())
                             : 2.0 * double(m_workload.numParams()));
                if (dp && m_privacy.step(double(m_perRound) / double(m_clients), t.now(), m_sink))
                    m_evaluator.requestStop("privacy_budget");
            }
        } else {
            dropped = collectReports(t, selected, done, outstanding, replies);
            t.waitAll();
            // The round's aggregation: each client that reported took part until now, so the time it waited for the
            // round's stragglers is idle time, as at a synchronous barrier.
            for (std::size_t i = 0; i < selected.size(); ++i)
                if (done[i] == 2)
                    t.extendWindow(selected[i]);
            // w_{t+1} = sum_k (n_k / n) w^k over the clients that replied, in client-rank order (not arrival order).
            for (std::size_t i = 0; i < selected.size(); ++i)
                if (done[i] == 2)
                    counted.push_back(&replies[i]);
            if (!takeStreamedAverage(round, done, replies, params))
                averageReports(t, round, counted, params);
        }
        if (dropped > 0 || rules || m_dropOutsReported) {
            m_dropOutsReported = true;
            m_sink.point("dropped_clients", t.now(), double(dropped));
            m_sink.point("reporting_clients", t.now(), double(counted.size()));
        }
        m_droppedTotal += dropped;
        if (m_roundObserver)
            m_roundObserver(round, selected, counted, params);
        for (const Message* m : counted)
            m_evaluator.addTrainLoss(m->value);
        // Dense: n_k/n times each model, summed; compressed: the decoding and weighting were charged with the
        // codec, then one addition to w_t. DP-FedAvg and secure aggregation were charged above.
        if (!dp && !m_secAgg.enabled)
            t.compute(m_compressor ? (counted.empty() ? 0.0 : double(m_workload.numParams()))
                                   : 2.0 * double(counted.size()) * double(m_workload.numParams()));
        for (Message& m : replies)
            m = Message{};
        if (m_evaluator.afterStep(t.now(), round, proxy ? nullptr : params.data())) {
            m_final = params;
            return;
        }
    }
}

void FederatedAveraging::submitStreamedTraining(StreamedRound& round, int pos,
                                                std::shared_ptr<const Eigen::VectorXf> global)
{
    const int rank = round.selected[std::size_t(pos)];
    BatchSampler& sampler = clientSampler(m_samplers, m_partition, rank, m_cfg.batchSize, m_cfg.seed);
    const long localSteps = long(m_localEpochs) * sampler.batchesPerEpoch();
    round.tasks[std::size_t(pos)] = parallel::submit(
        [this, &round, pos, localSteps, batch = sampler.batchSize(), model = std::move(global),
         batches = drawBatches(sampler, localSteps)] {
            std::shared_ptr<Eigen::VectorXf> trained = m_pool.acquire(model->size());
            const double lossSum = trainLocallyFrom(m_workload, *model, batches.data(), batch, m_cfg.optimizer,
                                                    localSteps, *trained, float(m_mu), model.get());
            round.losses[std::size_t(pos)] = lossSum / double(localSteps);
            round.sum.add(pos, std::move(trained));
        });
}

void FederatedAveraging::runStreamedClient(int rank, Transport& t)
{
    // Its training job was submitted by the server at the launch (beginStreamedRound), and the server waits for it
    // (takeStreamedAverage): here only the simulated time passes, and the report leaves when the simulated
    // training ends, whether or not the real one has.
    const BatchSampler& sampler = clientSampler(m_samplers, m_partition, rank, m_cfg.batchSize, m_cfg.seed);
    const long localSteps = long(m_localEpochs) * sampler.batchesPerEpoch();
    t.compute(double(localSteps) * localStepFlops(m_workload, sampler.batchSize(), m_cfg.optimizer, m_mu > 0));
    t.send(m_clients, ToServer,
           Message{.kind = Model, .bytes = m_workload.modelBytes(), .version = long(m_partition[std::size_t(rank)].size()),
                   .value = std::numeric_limits<double>::quiet_NaN()});
}

void FederatedAveraging::runClient(int rank, Transport& t)
{
    const std::vector<int>& part = m_partition[std::size_t(rank)];
    BatchSampler& sampler = clientSampler(m_samplers, m_partition, rank, m_cfg.batchSize, m_cfg.seed);
    const dml::Model* arch = m_workload.model(); // nullptr for a proxy: no arithmetic on data
    const double nParams = double(m_workload.numParams());
    const double flopsPerLocalStep = localStepFlops(m_workload, sampler.batchSize(), m_cfg.optimizer, m_mu > 0);
    const long localSteps = long(m_localEpochs) * sampler.batchesPerEpoch();

    Message global = t.recv(ToClient);
    // Secure aggregation's AdvertiseKeys and ShareKeys (setSecureAggregation), before the local training.
    std::shared_ptr<SecAggRound> sec;
    int pos = -1;
    const bool dp = m_privacy.spec().kind == privacy::PrivacySpec::Kind::DpFedAvg;
    const std::size_t secLen = std::size_t(m_workload.numParams()) + (dp ? 0 : 1);
    auto goodbye = [&] { // after an abort: the server counts this client busy until this arrives
        m_secBytes += m_secCosts.controlBytes;
        t.send(m_clients, ToServer, Message{.kind = Bye, .bytes = m_secCosts.controlBytes, .version = global.version});
    };
    if (m_secAgg.enabled) {
        const auto it = m_secRounds.find(global.version);
        if (it != m_secRounds.end()) {
            sec = it->second;
            pos = sec->position(rank);
        }
        const privacy::SecAggCost c0 = privacy::secAggCost(1, long(secLen), 0, m_secAgg.bits, m_secCosts);
        t.compute(c0.advertiseKeys.clientFlops);
        m_secBytes += c0.advertiseKeys.clientSentBytes;
        t.send(m_clients, ToServer, Message{.kind = AdvertiseKeys, .bytes = c0.advertiseKeys.clientSentBytes,
                                            .version = global.version});
        if (t.recv(ToClient).kind == Abort || !sec) // otherwise the key list U1 (no state: the round is over)
            return goodbye();
        const privacy::SecAggCost c1 =
            privacy::secAggCost(long(sec->u1.size()), long(secLen), 0, m_secAgg.bits, m_secCosts, m_secThreshold);
        if (sec->protocol)
            sec->protocol->shareKeys(pos, sec->u1);
        t.compute(c1.shareKeys.clientFlops);
        m_secBytes += c1.shareKeys.clientSentBytes;
        t.send(m_clients, ToServer, Message{.kind = ShareKeys, .bytes = c1.shareKeys.clientSentBytes,
                                            .version = global.version});
        if (t.recv(ToClient).kind == Abort) // otherwise the shares addressed to this client
            return goodbye();
    }
    std::shared_ptr<StreamedRound> streamed; // this round's sum, if the server streams it
    if (arch && streamedRound(global.version)) {
        streamed = m_streamed;
        if (!streamed->keepReports)
            return runStreamedClient(rank, t);
    }
    std::shared_ptr<Eigen::VectorXf> w; // the trained model
    double lossSum = 0;
    std::vector<int> batches;
    parallel::Task training; // after what it writes: destroyed (so finished) first if this body is killed
    if (arch) {
        // The arithmetic (and the addition to the round's sum) runs as a pool job while the training's simulated
        // time passes, beside the other clients of the round (parallel.h).
        const int pos = streamed ? int(std::lower_bound(streamed->selected.begin(), streamed->selected.end(), rank) -
                                       streamed->selected.begin())
                                 : 0;
        // Drawn here, not in the job: a body killed before its job started cancels the job, and the sampler must
        // advance all the same (whatever the thread count).
        batches = drawBatches(sampler, localSteps);
        training = parallel::submit([&, model = global.data.get(), streamed, pos] {
            w = m_pool.acquire(model->size());
            lossSum = trainLocallyFrom(m_workload, *model, batches.data(), sampler.batchSize(), m_cfg.optimizer,
                                       localSteps, *w, float(m_mu), model);
            if (streamed) // summed now, sent all the same (keepsReports)
                streamed->sum.add(pos, w);
        });
    } else {
        lossSum = std::numeric_limits<double>::quiet_NaN();
    }
    // The whole local training is charged at once: the simulated time is the same (the client is alone on its
    // host), and the real arithmetic of one client runs start to finish in a warm cache instead of interleaving
    // step by step with every other sampled client (2x slower at 100 per round).
    t.compute(double(localSteps) * flopsPerLocalStep);
    training.wait();
    if (m_secAgg.enabled) { // MaskedInputCollection, then Unmasking
        const privacy::SecAggCost c2 =
            privacy::secAggCost(long(sec->u2.size()), long(secLen), 0, m_secAgg.bits, m_secCosts, m_secThreshold);
        if (arch) {
            Eigen::VectorXf delta = *w - *global.data;
            if (dp)
                privacy::clipToNorm(delta, m_privacy.spec().clip);
            std::vector<std::uint32_t> x(secLen);
            const double weight = dp ? 1.0 : double(part.size());
            for (std::size_t j = 0; j < std::size_t(delta.size()); ++j)
                x[j] = m_fixed.encode(double(delta[Eigen::Index(j)]), weight);
            if (!dp)
                x.back() = m_fixed.encodeCount(long(part.size()));
            sec->masked[std::size_t(pos)] = sec->protocol->maskedInput(pos, x, sec->u2);
        }
        if (dp)
            t.compute(privacy::clipFlops(nParams) + 2.0 * nParams);
        t.compute(c2.maskedInput.clientFlops);
        t.send(m_clients, ToServer, Message{.kind = MaskedInput, .bytes = c2.maskedInput.clientSentBytes,
                                            .version = global.version, .value = lossSum / double(localSteps)});
        if (t.recv(ToClient).kind == Abort) // otherwise the survivor list U3
            return goodbye();
        m_secBytes += c2.unmasking.clientSentBytes;
        t.send(m_clients, ToServer, Message{.kind = UnmaskShares, .bytes = c2.unmasking.clientSentBytes,
                                            .version = global.version});
        return;
    }
    Message out{.kind = Model, .bytes = m_workload.modelBytes(), .data = std::move(w), .version = long(part.size()),
                .value = lossSum / double(localSteps)};
    std::shared_ptr<Eigen::VectorXf> delta; // the update Delta_k = w_k - w_t (compressed or private runs)
    if ((m_compressor || dp) && arch) {
        delta = m_pool.acquire(global.data->size());
        *delta = *out.data - *global.data;
    }
    if (dp) { // DP-FedAvg's ClipFn: the update's L2 norm bounded by C
        if (delta && privacy::clipToNorm(*delta, m_privacy.spec().clip) < 1.0 && !m_compressor) {
            auto clipped = m_pool.acquire(delta->size()); // w~_k = w_t + clip(Delta_k); w_k itself when unclipped
            *clipped = *global.data + *delta;
            out.data = std::move(clipped);
        }
        t.compute(privacy::clipFlops(nParams) + 2.0 * nParams);
    }
    if (m_compressor) { // send the update encoded with this client's memory
        auto& encoder = m_encoders[std::size_t(rank)];
        if (!encoder)
            encoder = std::make_unique<compression::GradientEncoder>(*m_compressor, m_compression);
        encoder->encodeMessage(delta.get(), nParams,
                               deriveSeed(m_cfg.seed, 0xC0DE0000u + unsigned(rank), std::uint64_t(global.version)), t,
                               m_counters, out);
    }
    t.send(m_clients, ToServer, std::move(out));
}

} // namespace dml
