// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Internal to simcore: the Transport over SimGrid s4u mailboxes, with per-rank time and traffic accounting.
#include "metrics.h"
#include "transport.h"

#include <simgrid/s4u/Actor.hpp>
#include <simgrid/s4u/Comm.hpp>
#include <simgrid/s4u/Disk.hpp>
#include <simgrid/s4u/Host.hpp>
#include <simgrid/s4u/Link.hpp>
#include <simgrid/s4u/ConditionVariable.hpp>
#include <simgrid/s4u/Mailbox.hpp>
#include <simgrid/s4u/Mutex.hpp>
#include <simgrid/s4u/Semaphore.hpp>

#include <chrono>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace dml {
class Strategy;
}

namespace dml::sim {

/// Bookkeeping of one rank, filled in by its SimTransport. Every quantity is measured where it happens:
/// compute intervals by compute(), blocked intervals by every call that waits (recv, waitAll, the wait after a
/// federated client reports), message intervals by each completed transfer, participation windows by launch and
/// return (or extendWindow). accounting() turns them into compute, communication and idle time; their sum equals
/// the windows' length only if the three measurements agree, which the tests check.
struct RankAccount {
    using Interval = std::pair<double, double>;
    simgrid::s4u::Host* host = nullptr;
    double flops = 0, bytesSent = 0, bytesReceived = 0, bytesLost = 0;
    double end = 0;                  ///< when its last participation window ended
    std::vector<Interval> windows;   ///< participation windows [join, leave]
    std::vector<Interval> computing; ///< [start, end] of each computation
    std::vector<Interval> blocked;   ///< [start, end] of each wait (receive, send completion, end of round)
    std::vector<Interval> commIntervals; ///< [start, finish] of each of its own delivered messages
    struct Times {
        double elapsed = 0, compute = 0, communication = 0, idle = 0;
    };
    /// elapsed = total window length; compute = computation inside the windows; communication = time inside the
    /// windows with one of its own messages in flight and no computation; idle = blocked time with none of its own
    /// messages in flight. Overlapping intervals count once.
    Times accounting() const;
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
    /// Drops the calling actor's permanent receivership of `rank`'s channels, as SimGrid does when an actor ends,
    /// so that an actor reused for another rank on another host receives nothing of this one's. The channels stay
    /// marked bound, as after the end of an actor: a later body of `rank` receives without a permanent receiver.
    void unbind(int rank);
    /// Checkpoint-restart: drops every channel and opens fresh ones (new mailbox names), so that messages of the
    /// killed bodies still in flight or queued never reach the relaunched ones.
    void newGeneration();

private:
    struct Channel {
        simgrid::s4u::Mailbox* box = nullptr;
        bool bound = false;
    };
    Channel& channel(int rank, int tag);
    std::unordered_map<long long, Channel> m_boxes;
    std::unordered_map<int, std::vector<simgrid::s4u::Mailbox*>> m_boundBy; ///< per rank: channels it bound
    int m_generation = 0;
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
    /// Records a finished activity; merges a compute span into the rank's previous one when they touch. The merges
    /// depend on simulated times only, so the timeline does not depend on the wall clock (nor on the thread count).
    void span(const Span& s);
    /// Sends the spans not yet sent to the sink. A compute span that grew after it was sent reaches the sink as a
    /// second, back-to-back span with the added part.
    void flushSpans();

    /// Runs strategy->run(rank, ...) as an actor on the rank's host. If the host is off, nothing runs and the rank
    /// is marked lost. With `at` (simulated s) later than now, the body begins at `at`: its participation window
    /// opens then, and the wait before it counts as nothing (neither idle nor compute). The actor is one whose
    /// previous body has returned, moved to this host, when one is waiting (see Runner); otherwise a new one.
    void start(int rank, double at = 0);
    /// Creates rank `rank`'s background actor (Transport::spawnBackground) on its host.
    void startBackground(int rank, std::function<void(Transport&)> body);
    /// The queue of Transport::postLocal / takeLocal on (rank, tag).
    struct LocalQueue {
        std::deque<Message> messages;
        simgrid::s4u::MutexPtr mutex;
        simgrid::s4u::ConditionVariablePtr ready;
    };
    LocalQueue& localQueue(int rank, int tag);
    /// Per rank: the actor of its current body (null before its first start).
    std::vector<simgrid::s4u::ActorPtr> actors;
    /// Per rank: its checkpoint storage (a SimGrid disk on its host), or null without checkpointing.
    std::vector<simgrid::s4u::Disk*> disks;
    /// Called (in SimGrid's maestro context) when a running rank is lost: its host went off, or a failed link cut
    /// it off (cutOff). Set by the supervisor of a checkpoint-restart run.
    std::function<void(int rank)> rankLost;
    /// Reports a point of a named series to the run's sinks (set by simulation.cpp).
    std::function<void(const std::string& series, double time, double value)> report;
    /// A rank's body returned normally: the strategy is finishing, failures no longer restart anything.
    bool finishing = false;
    /// Ranks whose host went off or that a failed link cut off while they ran, over the run.
    int failures = 0;
    /// A link went off: every running rank that the link cuts off is killed (a watchdog ends a process whose
    /// connections timed out) and marked lost. A rank is cut off when the link lies on its route to the server
    /// rank (the server itself: on its routes to every other rank); without a server, on its routes to every other
    /// rank.
    void linkTurnedOff(const simgrid::s4u::Link* link);
    /// Links that are off now (maintained by simulation.cpp's link callback): start() does not launch a rank they
    /// cut off, as it does not launch one whose host is off.
    std::vector<const simgrid::s4u::Link*> linksDown;
    /// Whether a link that is off now cuts rank `rank` off (ranksCutOff).
    bool cutOff(int rank) const;
    /// The ranks a failure of `link` cuts off (ranksCutOff over the ranks' hosts and roles).
    std::vector<int> cutBy(const simgrid::s4u::Link* link) const;
    /// Counts rank `rank`'s failure now: series "rank_failed", and rankLost if `notify`.
    void rankFailed(int rank, bool notify = true);
    /// Per rank: its body is running now.
    std::vector<char> running;
    /// Per rank: its host went off while its body ran (see Transport::peerFailed); reset by start().
    std::vector<char> lost;
    /// False if no host or link of the platform can go off (sim::peersCanFail): Transport::peersCanFail.
    bool peersCanFail = true;
    /// Per rank: when it was marked lost (simulated s).
    std::vector<double> lostAt;
    /// Per rank: bodies started so far (Transport::incarnation).
    std::vector<long> starts;
    /// Marks `rank` lost now (if it is not already).
    void markLost(int rank);
    /// Ends the participation window of `rank`, whose body has returned, at the current time instead of at its
    /// return; the time in between is blocked (idle) time. No effect if its body is running or its host is off.
    void extendWindow(int rank);
    /// Marks the running ranks on `host` as lost (called when a host goes off).
    void hostTurnedOff(const simgrid::s4u::Host* host);
    /// Sizes the per-rank vectors after `accounts` is filled in.
    void prepare();
    /// Payload bytes per link: `bytes` delivered from `src` to `dst` by a rank of job `job` are added to every link
    /// of their route (in linkBytes, and with several jobs in jobLinkBytes[job]).
    void countTraffic(simgrid::s4u::Host* src, simgrid::s4u::Host* dst, double bytes, int job = 0);
    std::unordered_map<simgrid::s4u::Link*, double> linkBytes;
    /// Per rank: its job (Strategy::jobOf); filled in by prepare().
    std::vector<int> jobOfRank;
    /// Several jobs (Strategy::jobOf not always 0): per job, the payload bytes of its messages per link; empty with one.
    std::vector<std::unordered_map<simgrid::s4u::Link*, double>> jobLinkBytes;

private:
    /// An actor that runs rank bodies one after another. Creating a SimGrid actor allocates, guards and faults in an
    /// 8 MiB stack, and the stack is freed only with the actor; a 10,000-client federated run launches 2,000 client
    /// bodies, and creating their actors was the largest part of its sequential SimGrid work (README "One simulation
    /// on every core"). So an
    /// actor whose body returned waits (parked) for the next start(), which moves it to the new rank's host (a
    /// parked actor has no activity to migrate) and wakes it. When no body runs any more, the parked actors end,
    /// so that the simulation ends as it did with one actor per body. A body that is killed (its host went off, or
    /// another failed) ends its actor for good.
    struct Runner {
        simgrid::s4u::ActorPtr actor;
        simgrid::s4u::SemaphorePtr wake; ///< released by start() (a body to run) or by the end of the last body
        int rank = -1;                   ///< whose body it runs; -1 while parked
        double started = 0;              ///< when that body's window opened
        bool quit = false;
    };
    void runBodies(Runner& r);
    /// The accounting at the end of r's body (returned or killed): the rank's window closes now.
    void endBody(Runner& r);
    /// Wakes the parked runners to end, once no body runs (none can start another).
    void releaseParked();
    std::vector<std::unique_ptr<Runner>> m_runners;
    std::vector<Runner*> m_parked;
    int m_bodies = 0; ///< bodies running now
    std::unordered_map<long long, LocalQueue> m_local;
    std::size_t m_flushed = 0;
    std::vector<Span> m_grown; ///< the parts added to spans already sent, for the next flush
    std::vector<std::size_t> m_lastCompute; ///< per rank: index in timeline of its last compute span, or npos
    std::chrono::steady_clock::time_point m_lastFlush{};
    std::map<std::pair<simgrid::s4u::Host*, simgrid::s4u::Host*>, std::vector<simgrid::s4u::Link*>> m_routes;
};

class SimTransport final : public Transport {
public:
    /// `background`: the transport of a rank's background actor (spawnBackground).
    SimTransport(int rank, World& world, bool background = false) : m_rank(rank), m_world(world),
        m_boxes(world.boxes), m_acc(world.accounts[std::size_t(rank)]), m_background(background) {}
    int rank() const override { return m_rank; }
    void isend(int dst, int tag, Message m) override;
    void waitAll() override;
    Message recv(int tag) override;
    std::optional<Message> recv(int tag, double timeout) override;
    void writeCheckpoint(double bytes) override;
    void readCheckpoint(double bytes) override;
    bool peerFailed(int rank) const override { return m_world.lost[std::size_t(rank)] != 0; }
    bool peersCanFail() const override { return m_world.peersCanFail; }
    double peerFailedAt(int rank) const override { return m_world.lostAt[std::size_t(rank)]; }
    long incarnation(int rank) const override { return m_world.starts[std::size_t(rank)]; }
    /// Cancels a receive left pending by a timed-out recv (call before the body ends).
    void cancelPendingReceives();
    void compute(double flops) override;
    double now() const override;
    void launch(int rank) override { m_world.start(rank); }
    void spawnBackground(std::function<void(Transport&)> body) override;
    void postLocal(int tag, Message m) override;
    Message takeLocal(int tag) override;
    void extendWindow(int rank) override { m_world.extendWindow(rank); }
    /// A body that is killed (its host went off) unwinds through here: sends still pending are counted as
    /// delivered if their transfer had finished, as lost otherwise.
    ~SimTransport() override;

private:
    void record(const simgrid::s4u::CommPtr& c, Span::Kind kind, int peer, double bytes);
    /// Waits up to `timeout` s (< 0: forever) for the next complete message on `tag`.
    std::optional<Message> receive(int tag, double timeout);
    int m_rank;
    World& m_world;
    Mailboxes& m_boxes;
    RankAccount& m_acc;
    bool m_background = false;
    struct Pending {
        simgrid::s4u::CommPtr comm;
        int peer;
        double bytes;
        Message* payload;
    };
    std::vector<Pending> m_pending;
    /// Waits for a send (or only tests it, if `testOnly`); records it. Returns false while it is still going
    /// (testOnly). A transfer that failed because a host went off is dropped and its payload freed.
    bool finishSend(Pending& p, bool testOnly);
    /// Accounts a delivered send: its span, bytes and route traffic.
    void delivered(const Pending& p);
    struct PendingReceive {
        simgrid::s4u::CommPtr comm;
        Message* raw = nullptr;
    };
    /// Per tag: a receive that timed out; the next recv on that tag resumes it (so no message is lost).
    std::unordered_map<int, std::unique_ptr<PendingReceive>> m_receives;
};

} // namespace dml::sim
