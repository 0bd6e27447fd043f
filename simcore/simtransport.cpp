// SPDX-License-Identifier: GPL-3.0-or-later
#include "simtransport.h"

#include "platform_impl.h"
#include "strategy.h"

#include <simgrid/Exception.hpp>
#include <simgrid/kernel/Timer.hpp>
#include <simgrid/s4u/Actor.hpp>
#include <simgrid/s4u/Engine.hpp>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

namespace sg4 = simgrid::s4u;

namespace dml::sim {

namespace {

using Intervals = std::vector<RankAccount::Interval>;

/// Sorted, disjoint, non-empty intervals covering the same time as `v`.
Intervals merged(Intervals v)
{
    std::sort(v.begin(), v.end());
    Intervals out;
    for (const auto& [a, b] : v) {
        if (!(b > a))
            continue;
        if (!out.empty() && a <= out.back().second)
            out.back().second = std::max(out.back().second, b);
        else
            out.emplace_back(a, b);
    }
    return out;
}

/// a ∩ b, both merged.
Intervals intersect(const Intervals& a, const Intervals& b)
{
    Intervals out;
    for (std::size_t i = 0, j = 0; i < a.size() && j < b.size();) {
        const double lo = std::max(a[i].first, b[j].first), hi = std::min(a[i].second, b[j].second);
        if (hi > lo)
            out.emplace_back(lo, hi);
        (a[i].second < b[j].second ? i : j)++;
    }
    return out;
}

double length(const Intervals& v)
{
    double total = 0;
    for (const auto& [a, b] : v)
        total += b - a;
    return total;
}

/// |a \ b| for merged a and b.
double lengthWithout(const Intervals& a, const Intervals& b)
{
    return length(a) - length(intersect(a, b));
}

} // namespace

RankAccount::Times RankAccount::accounting() const
{
    const Intervals w = merged(windows);
    const Intervals c = intersect(merged(computing), w);
    const Intervals m = intersect(merged(commIntervals), w);
    const Intervals b = intersect(merged(blocked), w);
    Times t;
    t.elapsed = length(w);
    t.compute = length(c);
    t.communication = lengthWithout(m, c);
    // Blocked time during which the rank's other actor computes (overlap: spawnBackground) is not idle.
    t.idle = lengthWithout(b, merged([&] {
        Intervals u = m;
        u.insert(u.end(), c.begin(), c.end());
        return u;
    }()));
    return t;
}

Mailboxes::Channel& Mailboxes::channel(int rank, int tag)
{
    Channel& c = m_boxes[(long long)rank << 20 | tag];
    if (!c.box)
        c.box = sg4::Mailbox::by_name((m_generation > 0 ? "g" + std::to_string(m_generation) + "." : std::string()) +
                                      "r" + std::to_string(rank) + ".t" + std::to_string(tag));
    return c;
}

void Mailboxes::newGeneration()
{
    unbindAll();
    m_boxes.clear();
    m_boundBy.clear();
    ++m_generation;
}

sg4::Mailbox* Mailboxes::get(int rank, int tag)
{
    return channel(rank, tag).box;
}

sg4::Mailbox* Mailboxes::receiving(int rank, int tag)
{
    Channel& c = channel(rank, tag);
    if (!c.bound) { // from now on, messages move without waiting for recv
        c.box->set_receiver(sg4::Actor::self());
        c.bound = true;
        m_boundBy[rank].push_back(c.box);
    }
    return c.box;
}

void Mailboxes::unbind(int rank)
{
    const auto it = m_boundBy.find(rank);
    if (it == m_boundBy.end())
        return;
    sg4::Actor* self = sg4::Actor::self();
    std::erase_if(it->second, [self](sg4::Mailbox* box) {
        if (box->get_receiver() != self)
            return false;
        box->set_receiver(nullptr);
        return true;
    });
}

void Mailboxes::unbindAll()
{
    for (auto& [key, c] : m_boxes)
        if (c.bound)
            c.box->set_receiver(nullptr);
}

void World::prepare()
{
    running.assign(accounts.size(), 0);
    lost.assign(accounts.size(), 0);
    lostAt.assign(accounts.size(), 0);
    starts.assign(accounts.size(), 0);
    actors.assign(accounts.size(), nullptr);
    disks.resize(accounts.size(), nullptr);
    jobOfRank.assign(accounts.size(), 0);
    int jobs = 1;
    for (std::size_t r = 0; r < accounts.size() && strategy; ++r) {
        jobOfRank[r] = strategy->jobOf(int(r));
        jobs = std::max(jobs, jobOfRank[r] + 1);
    }
    jobLinkBytes.clear();
    if (jobs > 1)
        jobLinkBytes.resize(std::size_t(jobs));
}

void World::markLost(int rank)
{
    if (!lost[std::size_t(rank)]) {
        lost[std::size_t(rank)] = 1;
        lostAt[std::size_t(rank)] = sg4::Engine::get_clock();
    }
}

void World::hostTurnedOff(const sg4::Host* host)
{
    for (std::size_t r = 0; r < accounts.size(); ++r)
        if (accounts[r].host == host && running[r] && !lost[r]) {
            markLost(int(r));
            rankFailed(int(r));
        }
}

void World::rankFailed(int rank, bool notify)
{
    ++failures;
    if (report)
        report("rank_failed", sg4::Engine::get_clock(), double(rank));
    if (notify && rankLost)
        rankLost(rank);
}

std::vector<int> World::cutBy(const sg4::Link* link) const
{
    std::vector<sg4::Host*> hosts;
    std::vector<std::string> roles;
    for (std::size_t r = 0; r < accounts.size(); ++r) {
        hosts.push_back(accounts[r].host);
        roles.push_back(strategy->roleOf(int(r)));
    }
    return ranksCutOff(hosts, roles, link);
}

void World::linkTurnedOff(const sg4::Link* link)
{
    for (int r : cutBy(link)) {
        if (!running[std::size_t(r)] || lost[std::size_t(r)])
            continue;
        markLost(r);
        actors[std::size_t(r)]->kill();
        rankFailed(r);
    }
}

void World::countTraffic(sg4::Host* src, sg4::Host* dst, double bytes, int job)
{
    auto [it, fresh] = m_routes.try_emplace({src, dst});
    if (fresh) {
        double latency = 0;
        src->route_to(dst, it->second, &latency);
    }
    for (sg4::Link* l : it->second)
        linkBytes[l] += bytes;
    if (!jobLinkBytes.empty())
        for (sg4::Link* l : it->second)
            jobLinkBytes[std::size_t(job)][l] += bytes;
}

bool World::cutOff(int rank) const
{
    for (const sg4::Link* l : linksDown) {
        const std::vector<int> cut = cutBy(l);
        if (std::find(cut.begin(), cut.end(), rank) != cut.end())
            return true;
    }
    return false;
}

void World::start(int rank, double at)
{
    RankAccount& acc = accounts[std::size_t(rank)];
    // A device that is off, or that a failed link cuts off, cannot take part: its launcher sees peerFailed().
    if (!acc.host->is_on() || cutOff(rank)) {
        lost[std::size_t(rank)] = 0;
        markLost(rank);
        return;
    }
    lost[std::size_t(rank)] = 0;
    running[std::size_t(rank)] = 1;
    ++starts[std::size_t(rank)];
    ++m_bodies;
    // A later start (a job of several that begins at its start time): the actor exists from now on, but its
    // window opens at `at`; the sleep before is neither computing nor blocked, so it counts as nothing.
    const double started = std::max(sg4::Engine::get_clock(), at);
    const bool reused = !m_parked.empty();
    Runner* r = reused ? m_parked.back() : m_runners.emplace_back(std::make_unique<Runner>()).get();
    r->rank = rank;
    r->started = started;
    if (reused) {
        m_parked.pop_back();
        r->actor->set_host(acc.host);
        r->wake->release();
    } else {
        r->wake = sg4::Semaphore::create(0);
        r->actor = sg4::Actor::create(names[std::size_t(rank)], acc.host, [this, r] { runBodies(*r); });
        // Runs when the actor ends: after a body that was killed (host off, or another actor failed), the rank's
        // time ends here; a parked actor killed with its host leaves the parking.
        r->actor->on_exit([this, r](bool /*failed*/) {
            if (r->rank < 0) {
                std::erase(m_parked, r);
                return;
            }
            endBody(*r);
            if (m_bodies == 0 && !m_parked.empty()) // no simcall from an ending actor: from maestro, at once
                simgrid::kernel::timer::Timer::set(sg4::Engine::get_clock(), [this] {
                    if (m_bodies == 0)
                        releaseParked();
                });
        });
    }
    actors[std::size_t(rank)] = r->actor;
}

void World::runBodies(Runner& r)
{
    for (;;) {
        const int rank = r.rank;
        if (r.started > sg4::Engine::get_clock())
            sg4::this_actor::sleep_until(r.started);
        bool failed = false;
        {
            SimTransport transport(rank, *this);
            try {
                strategy->run(rank, transport);
                finishing = true;
                transport.waitAll();
                transport.cancelPendingReceives();
            } catch (const simgrid::ForcefulKillException&) {
                throw; // killed: another actor failed, or the host went off (on_exit does the accounting)
            } catch (...) {
                if (!failure)
                    failure = std::current_exception();
                failed = true;
            }
        }
        if (failed) { // on_exit does the accounting
            sg4::Actor::kill_all();
            return;
        }
        boxes.unbind(rank);
        endBody(r);
        if (m_bodies == 0) { // no body can start another: the parked actors end, and so does this one
            releaseParked();
            return;
        }
        m_parked.push_back(&r);
        r.wake->acquire();
        if (r.quit)
            return;
    }
}

void World::endBody(Runner& r)
{
    const int rank = r.rank;
    RankAccount& a = accounts[std::size_t(rank)];
    a.end = sg4::Engine::get_clock();
    a.windows.emplace_back(r.started, a.end);
    if (!a.host->is_on()) // killed by its host going off (whichever of the two callbacks SimGrid runs first)
        markLost(rank);
    running[std::size_t(rank)] = 0;
    if (actors[std::size_t(rank)] == r.actor)
        actors[std::size_t(rank)] = nullptr;
    r.rank = -1;
    --m_bodies;
}

void World::releaseParked()
{
    for (Runner* p : std::exchange(m_parked, {})) {
        p->quit = true;
        p->wake->release();
    }
}

void World::startBackground(int rank, std::function<void(Transport&)> body)
{
    RankAccount& acc = accounts[std::size_t(rank)];
    sg4::Actor::create(names[std::size_t(rank)] + "-background", acc.host, [this, rank, body = std::move(body)] {
        SimTransport transport(rank, *this, /*background=*/true);
        try {
            body(transport);
            transport.waitAll();
            transport.cancelPendingReceives();
        } catch (const simgrid::ForcefulKillException&) {
            throw;
        } catch (...) {
            if (!failure)
                failure = std::current_exception();
            sg4::Actor::kill_all();
        }
    });
}

World::LocalQueue& World::localQueue(int rank, int tag)
{
    LocalQueue& q = m_local[(long long)rank << 20 | tag];
    if (!q.mutex) {
        q.mutex = sg4::Mutex::create();
        q.ready = sg4::ConditionVariable::create();
    }
    return q;
}

void World::extendWindow(int rank)
{
    RankAccount& a = accounts[std::size_t(rank)];
    const double now = sg4::Engine::get_clock();
    if (running[std::size_t(rank)] || lost[std::size_t(rank)] || !a.host->is_on() || a.windows.empty() ||
        a.windows.back().second != a.end || !(now > a.end))
        return;
    a.blocked.emplace_back(a.end, now); // waiting for the round to close
    a.windows.back().second = now;
    a.end = now;
}

void World::span(const Span& s)
{
    if (m_lastCompute.size() <= std::size_t(s.rank))
        m_lastCompute.resize(accounts.size(), std::size_t(-1));
    std::size_t& last = m_lastCompute[std::size_t(s.rank)];
    if (s.kind == Span::Compute && last != std::size_t(-1) && timeline[last].end == s.start) {
        timeline[last].end = s.end; // back-to-back computation (e.g. local epochs) is one span
        timeline[last].amount += s.amount;
        if (last < m_flushed) // the sink has the span as it was: it gets the added part
            m_grown.push_back(s);
    } else {
        if (s.kind == Span::Compute)
            last = timeline.size();
        timeline.push_back(s);
    }
    // The sink (the workbench's live timeline) gets batches every 50 ms of wall time; what they hold depends on
    // the wall clock, the timeline itself does not.
    const auto now = std::chrono::steady_clock::now();
    if (timeline.size() - m_flushed + m_grown.size() >= 4096 || now - m_lastFlush > std::chrono::milliseconds(50)) {
        m_lastFlush = now;
        flushSpans();
    }
}

void World::flushSpans()
{
    if (!sink || (m_flushed == timeline.size() && m_grown.empty()))
        return;
    std::vector<Span> batch(timeline.begin() + std::ptrdiff_t(m_flushed), timeline.end());
    batch.insert(batch.end(), m_grown.begin(), m_grown.end());
    sink->spans(batch);
    m_flushed = timeline.size();
    m_grown.clear();
}

void SimTransport::record(const sg4::CommPtr& c, Span::Kind kind, int peer, double bytes)
{
    m_acc.commIntervals.emplace_back(c->get_start_time(), c->get_finish_time());
    m_world.span({m_rank, kind, peer, c->get_start_time(), c->get_finish_time(), bytes});
}

bool SimTransport::finishSend(Pending& p, bool testOnly)
{
    try {
        if (testOnly) {
            if (!p.comm->test())
                return false;
        } else {
            p.comm->wait();
        }
    } catch (const simgrid::NetworkFailureException&) {
        delete p.payload; // never delivered: a host on the route went off
        m_acc.bytesLost += p.bytes;
        return true;
    } catch (const simgrid::CancelException&) {
        delete p.payload;
        m_acc.bytesLost += p.bytes;
        return true;
    }
    delivered(p);
    return true;
}

void SimTransport::delivered(const Pending& p)
{
    record(p.comm, Span::Send, p.peer, p.bytes);
    m_acc.bytesSent += p.bytes;
    m_world.countTraffic(m_acc.host, m_world.accounts[std::size_t(p.peer)].host, p.bytes,
                         m_world.jobOfRank[std::size_t(m_rank)]);
}

SimTransport::~SimTransport()
{
    // Normally empty (the body's end waits for every send). A body killed by its host going off leaves here the
    // sends it had not waited for: finished ones were delivered, the others are lost with the host.
    for (const Pending& p : m_pending) {
        if (p.comm->get_state() == sg4::Activity::State::FINISHED)
            delivered(p);
        else
            m_acc.bytesLost += p.bytes;
    }
}

namespace {
/// Appends [construction, destruction] to `out`: the destructor also runs when the body is killed while it waits
/// or computes (its host went off), so that time is accounted too.
struct IntervalScope {
    explicit IntervalScope(std::vector<RankAccount::Interval>& out) : out(out), start(sg4::Engine::get_clock()) {}
    ~IntervalScope()
    {
        const double now = sg4::Engine::get_clock();
        if (now > start)
            out.emplace_back(start, now);
    }
    std::vector<RankAccount::Interval>& out;
    double start;
};
} // namespace

void SimTransport::isend(int dst, int tag, Message m)
{
    // A rank that never waits (e.g. an asynchronous server replying to workers) would pile up finished sends.
    if (m_pending.size() >= 64)
        std::erase_if(m_pending, [this](Pending& p) { return finishSend(p, true); });
    if (!m_world.accounts[std::size_t(dst)].host->is_on()) {
        m_acc.bytesLost += m.bytes; // the destination's host is off: the message is lost (Transport's semantics)
        return;
    }
    m.source = m_rank;
    const double bytes = m.bytes;
    auto* payload = new Message(std::move(m));
    sg4::Mailbox* box = m_boxes.get(dst, tag);
    m_pending.push_back({box->put_async(payload, std::uint64_t(std::llround(bytes))), dst, bytes, payload});
}

void SimTransport::waitAll()
{
    IntervalScope blocked(m_acc.blocked);
    for (auto& p : m_pending)
        finishSend(p, false);
    m_pending.clear();
}

std::optional<Message> SimTransport::receive(int tag, double timeout)
{
    IntervalScope blocked(m_acc.blocked);
    const double deadline = timeout < 0 ? -1 : sg4::Engine::get_clock() + timeout;
    for (;;) {
        auto& slot = m_receives[tag];
        if (!slot) { // no receive left over from a timed-out call: post one
            slot = std::make_unique<PendingReceive>();
            slot->comm = m_boxes.receiving(m_rank, tag)->get_async<Message>(&slot->raw);
        }
        try {
            if (deadline >= 0) {
                // Not Comm::wait_for: its timeout would fail the transfer on both sides. wait_any_for only stops
                // waiting and leaves the receive posted; the next call resumes it.
                if (sg4::Comm::wait_any_for({slot->comm}, std::max(0.0, deadline - sg4::Engine::get_clock())) < 0)
                    return std::nullopt;
            }
            slot->comm->wait();
        } catch (const simgrid::NetworkFailureException&) {
            slot.reset(); // the sender's host went off mid-transfer: skip that message
            if (deadline >= 0 && sg4::Engine::get_clock() >= deadline)
                return std::nullopt;
            continue;
        }
        std::unique_ptr<Message> owned(slot->raw);
        const sg4::CommPtr c = slot->comm;
        slot.reset();
        record(c, Span::Receive, owned->source, owned->bytes);
        m_acc.bytesReceived += owned->bytes;
        return std::move(*owned);
    }
}

Message SimTransport::recv(int tag)
{
    return *receive(tag, -1);
}

std::optional<Message> SimTransport::recv(int tag, double timeout)
{
    return receive(tag, std::max(0.0, timeout));
}

void SimTransport::cancelPendingReceives()
{
    for (auto& [tag, slot] : m_receives)
        if (slot)
            slot->comm->cancel();
    m_receives.clear();
}

void SimTransport::compute(double flops)
{
    const double t0 = sg4::Engine::get_clock();
    IntervalScope computing(m_acc.computing); // also records a computation cut short by the host going off
    sg4::this_actor::execute(flops);
    const double t1 = sg4::Engine::get_clock();
    m_acc.flops += flops;
    m_world.span({m_rank, Span::Compute, -1, t0, t1, flops});
}

void SimTransport::writeCheckpoint(double bytes)
{
    sg4::Disk* disk = m_world.disks[std::size_t(m_rank)];
    if (!disk || !(bytes > 0))
        return;
    IntervalScope blocked(m_acc.blocked); // waiting for its storage
    disk->write(sg_size_t(std::llround(bytes)));
}

void SimTransport::readCheckpoint(double bytes)
{
    sg4::Disk* disk = m_world.disks[std::size_t(m_rank)];
    if (!disk || !(bytes > 0))
        return;
    IntervalScope blocked(m_acc.blocked);
    disk->read(sg_size_t(std::llround(bytes)));
}

void SimTransport::spawnBackground(std::function<void(Transport&)> body)
{
    m_world.startBackground(m_rank, std::move(body));
}

void SimTransport::postLocal(int tag, Message m)
{
    World::LocalQueue& q = m_world.localQueue(m_rank, tag);
    std::unique_lock lock(*q.mutex);
    m.source = m_rank;
    q.messages.push_back(std::move(m));
    q.ready->notify_all();
}

Message SimTransport::takeLocal(int tag)
{
    std::optional<IntervalScope> blocked;
    if (!m_background)
        blocked.emplace(m_acc.blocked);
    World::LocalQueue& q = m_world.localQueue(m_rank, tag);
    std::unique_lock lock(*q.mutex);
    while (q.messages.empty())
        q.ready->wait(lock);
    Message m = std::move(q.messages.front());
    q.messages.pop_front();
    return m;
}

double SimTransport::now() const
{
    return sg4::Engine::get_clock();
}

} // namespace dml::sim
