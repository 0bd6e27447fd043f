// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The narrow transport every strategy is written against (as ASTRA-sim's collectives see only
// sim_send / sim_recv / sim_schedule). simcore/ implements it with SimGrid actors and mailboxes.
#include <Eigen/Core>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>

namespace dml {
namespace compression {
struct Encoded;
}

/// One message between ranks. `bytes` is what crosses the simulated network; `data` is the real payload
/// (shared, never copied by the transport), which may be null for control messages or differ in size from
/// `bytes` (e.g. a proxy workload sends no real numbers).
struct Message {
    int source = -1;   ///< filled in by the transport
    int kind = 0;      ///< strategy-defined (e.g. model, gradient, stop)
    double bytes = 0;  ///< simulated size on the wire, bytes
    std::shared_ptr<const Eigen::VectorXf> data{};
    long version = 0;  ///< strategy-defined (model version, step)
    double value = 0;  ///< strategy-defined scalar (e.g. the mini-batch loss)
    /// A compressed payload (compression/codec.h), shared like `data`; `bytes` is then its encoded size.
    std::shared_ptr<const compression::Encoded> encoded{};
    /// Strategy-defined: the membership generation a message belongs to (elastic ring all-reduce drops messages of
    /// an aborted ring, whose generation is not its current one).
    long generation = 0;
};

/// Failure semantics (dynamic platforms, README "Availability"): when the host of a rank goes off,
/// that rank's body is killed where it stands (it never returns; the stack unwinds) and any of its messages in
/// flight are lost. The transport hides SimGrid's failures from the other ranks:
///  - isend() to a rank whose host is off, or whose transfer fails midway, is silently dropped (waitAll()
///    returns normally);
///  - recv() only ever returns complete messages; one whose sender failed midway is skipped;
///  - peerFailed() tells a rank that a peer it launched was lost, so it can stop waiting for it.
/// A rank whose host stays on never sees a failure.
class Transport {
public:
    virtual ~Transport() = default;
    /// This actor's rank in [0, ranks).
    virtual int rank() const = 0;
    /// Starts sending `m` to rank `dst` on channel `tag` and returns at once; waitAll() completes it.
    virtual void isend(int dst, int tag, Message m) = 0;
    /// Blocks until every isend() of this rank has been delivered.
    virtual void waitAll() = 0;
    /// Blocks until a message sent to this rank on channel `tag` has fully arrived (FIFO per channel).
    virtual Message recv(int tag) = 0;
    /// Like recv(tag), but waits at most `timeout` seconds of simulated time (>= 0): returns std::nullopt if no
    /// complete message arrived by then. For round deadlines and failure detection.
    virtual std::optional<Message> recv(int tag, double timeout) = 0;
    /// True if rank `rank`'s host went off while its current body ran (or was off when launch() was called):
    /// that body will never send anything again. Reset by launch(). Always false on a platform without
    /// availability changes.
    virtual bool peerFailed(int /*rank*/) const { return false; }
    /// When rank `rank`'s failure happened (simulated s), if peerFailed(rank); undefined otherwise. A strategy that
    /// models a heartbeat timeout treats the failure as known only `detection` seconds later.
    virtual double peerFailedAt(int /*rank*/) const { return 0; }
    /// False only if no host can go off and no link can fail during this run, so peerFailed() stays false for every
    /// rank: a strategy may then drop what it keeps only to recover from a lost peer. True (the safe answer) by
    /// default.
    virtual bool peersCanFail() const { return true; }
    /// How many bodies of rank `rank` have been started so far (1 for a rank launched at the start and never
    /// again). A message that carries its sender's tells a relaunched body's messages from those its failed
    /// predecessor left in flight or queued.
    virtual long incarnation(int /*rank*/) const { return 1; }
    /// Occupies this rank's host for `flops` floating-point operations (simulated time: flops / speed).
    virtual void compute(double flops) = 0;
    /// Current simulated time, seconds.
    virtual double now() const = 0;
    /// Starts the body of rank `rank` (Strategy::run) as an actor on its host. For ranks whose
    /// Strategy::launchedAtStart() is false, e.g. the clients a federated server samples for a round
    /// (simulating only the active clients keeps a 10,000-client population cheap). A rank may be launched
    /// again after its previous body returned.
    virtual void launch(int rank) = 0;
    /// Accounting only (no simulated time passes): rank `rank`, which this rank launched and whose body has
    /// returned, stays in the training until now, and the time since its return counts as its idle time. A
    /// federated server calls it at each round's aggregation for the clients that reported, so a client that
    /// finished early waits for the round's stragglers exactly as a worker waits at a synchronous barrier
    /// (README "Glossary"). No effect on a rank whose body is still running or whose host is off.
    virtual void extendWindow(int /*rank*/) {}
    /// Writes `bytes` (>= 0) to this rank's checkpoint storage and returns when they are written (simulated time:
    /// the storage's write bandwidth, shared with this host's other checkpoint I/O). No time passes on a
    /// platform without checkpoint storage.
    virtual void writeCheckpoint(double /*bytes*/) {}
    /// Reads `bytes` (>= 0) from this rank's checkpoint storage (its read bandwidth).
    virtual void readCheckpoint(double /*bytes*/) {}

    /// Overlap of computation and communication (README "Overlap"): starts `body` as a second actor of this rank on
    /// the same host, a background communication thread as PyTorch DDP's reducer and Horovod's background thread
    /// are (Li et al. 2020, Sec. 3.2.3; Sergeev & Del Balso 2018). It gets its own Transport: the same rank, its own
    /// sends, and the channels it receives on (each channel is read by one actor only). It shares the host's
    /// processor with the rank's body and its time counts as the rank's. The rank's body must not return before
    /// the background body has (wait for its last local message); if the host goes off, both are killed; an
    /// exception in it fails the simulation. Throws std::logic_error on a transport without background actors.
    virtual void spawnBackground(std::function<void(Transport&)> /*body*/)
    {
        throw std::logic_error("Transport::spawnBackground: not supported by this transport");
    }
    /// Hands `m` to the other actor of this rank (the body or its background actor), which takes it with
    /// takeLocal(tag): no network and no simulated time; never blocks; FIFO per tag.
    virtual void postLocal(int /*tag*/, Message /*m*/)
    {
        throw std::logic_error("Transport::postLocal: not supported by this transport");
    }
    /// Blocks until a message posted with postLocal(tag) by the other actor of this rank is there, and returns it.
    /// The rank's body counts the wait as blocked (communication while its messages are in flight, idle otherwise);
    /// the background actor's wait for work counts as nothing.
    virtual Message takeLocal(int /*tag*/)
    {
        throw std::logic_error("Transport::takeLocal: not supported by this transport");
    }

    /// Blocking send: isend() then waitAll().
    void send(int dst, int tag, Message m)
    {
        isend(dst, tag, std::move(m));
        waitAll();
    }
};

} // namespace dml
