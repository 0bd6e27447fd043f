// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Internal to simcore: the Transport over SimGrid s4u mailboxes, with per-rank time and traffic accounting.
#include "metrics.h"
#include "transport.h"

#include <simgrid/s4u/Comm.hpp>
#include <simgrid/s4u/Host.hpp>
#include <simgrid/s4u/Mailbox.hpp>

#include <chrono>
#include <exception>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace dml {
class Strategy;
}

namespace dml::sim {

/// Bookkeeping of one rank, filled in by its SimTransport.
struct RankAccount {
    simgrid::s4u::Host* host = nullptr;
    double compute = 0, flops = 0, bytesSent = 0, bytesReceived = 0;
    double end = 0;    ///< when its actor last returned
    double active = 0; ///< summed running time of its actors (a rank may be launched several times)
    std::vector<std::pair<double, double>> commIntervals; ///< [start, finish] of each of its own messages
    /// Total length of the union of commIntervals (overlapping messages count once), s.
    double communicationTime() const;
};

/// The mailboxes of all ranks. Each (rank, tag) channel has a permanent receiver, so a message starts moving
/// as soon as it is sent (like TCP, the network does not wait for the application's recv call).
class Mailboxes {
public:
    simgrid::s4u::Mailbox* get(int rank, int tag);
    /// The channel of `rank` on `tag`, with the calling actor made its permanent receiver on first use.
    simgrid::s4u::Mailbox* receiving(int rank, int tag);
    /// Drops the permanent receivers (SimGrid asks for this before the actors end).
    void unbindAll();

private:
    struct Channel {
        simgrid::s4u::Mailbox* box = nullptr;
        bool bound = false;
    };
    Channel& channel(int rank, int tag);
    std::unordered_map<long long, Channel> m_boxes;
};

/// Everything the actors of one simulation share.
struct World {
    dml::Strategy* strategy = nullptr;
    std::vector<std::string> names;
    std::vector<RankAccount> accounts;
    Mailboxes boxes;
    std::exception_ptr failure; ///< the first exception an actor threw
    MetricsSink* sink = nullptr;  ///< receives span batches
    std::vector<Span> timeline;   ///< every span of the run, in the order they ended
    /// Records a finished activity; merges a compute span into the rank's previous one when they touch.
    void span(const Span& s);
    /// Sends the spans not yet sent to the sink.
    void flushSpans();

    /// Creates the actor of `rank` on its host, running strategy->run(rank, ...).
    void start(int rank);

private:
    std::size_t m_flushed = 0;
    std::vector<std::size_t> m_lastCompute; ///< per rank: index in timeline of its last compute span, or npos
    std::chrono::steady_clock::time_point m_lastFlush{};
};

class SimTransport final : public Transport {
public:
    SimTransport(int rank, World& world) : m_rank(rank), m_world(world), m_boxes(world.boxes),
        m_acc(world.accounts[std::size_t(rank)]) {}
    int rank() const override { return m_rank; }
    void isend(int dst, int tag, Message m) override;
    void waitAll() override;
    Message recv(int tag) override;
    void compute(double flops) override;
    double now() const override;
    void launch(int rank) override { m_world.start(rank); }

private:
    void record(const simgrid::s4u::CommPtr& c, Span::Kind kind, int peer, double bytes);
    int m_rank;
    World& m_world;
    Mailboxes& m_boxes;
    RankAccount& m_acc;
    struct Pending {
        simgrid::s4u::CommPtr comm;
        int peer;
        double bytes;
    };
    std::vector<Pending> m_pending;
};

} // namespace dml::sim
