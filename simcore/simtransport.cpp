// SPDX-License-Identifier: GPL-3.0-or-later
#include "simtransport.h"

#include "strategy.h"

#include <simgrid/Exception.hpp>
#include <simgrid/s4u/Actor.hpp>
#include <simgrid/s4u/Engine.hpp>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

namespace sg4 = simgrid::s4u;

namespace dml::sim {

double RankAccount::communicationTime() const
{
    auto v = commIntervals;
    std::sort(v.begin(), v.end());
    double total = 0, curStart = 0, curEnd = -1;
    for (const auto& [s, e] : v) {
        if (s > curEnd) {
            if (curEnd > curStart)
                total += curEnd - curStart;
            curStart = s;
            curEnd = e;
        } else {
            curEnd = std::max(curEnd, e);
        }
    }
    if (curEnd > curStart)
        total += curEnd - curStart;
    return total;
}

Mailboxes::Channel& Mailboxes::channel(int rank, int tag)
{
    Channel& c = m_boxes[(long long)rank << 20 | tag];
    if (!c.box)
        c.box = sg4::Mailbox::by_name("r" + std::to_string(rank) + ".t" + std::to_string(tag));
    return c;
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
    }
    return c.box;
}

void Mailboxes::unbindAll()
{
    for (auto& [key, c] : m_boxes)
        if (c.bound)
            c.box->set_receiver(nullptr);
}

void World::start(int rank)
{
    RankAccount& acc = accounts[std::size_t(rank)];
    sg4::Actor::create(names[std::size_t(rank)], acc.host, [this, rank, started = sg4::Engine::get_clock()] {
        SimTransport transport(rank, *this);
        try {
            strategy->run(rank, transport);
            transport.waitAll();
        } catch (const simgrid::ForcefulKillException&) {
            throw; // killed because another actor failed: let SimGrid unwind it
        } catch (...) {
            if (!failure)
                failure = std::current_exception();
            sg4::Actor::kill_all();
        }
        RankAccount& a = accounts[std::size_t(rank)];
        a.end = sg4::Engine::get_clock();
        a.active += a.end - started;
    });
}

void World::span(const Span& s)
{
    if (m_lastCompute.size() <= std::size_t(s.rank))
        m_lastCompute.resize(accounts.size(), std::size_t(-1));
    std::size_t& last = m_lastCompute[std::size_t(s.rank)];
    if (s.kind == Span::Compute && last != std::size_t(-1) && last >= m_flushed && timeline[last].end == s.start) {
        timeline[last].end = s.end; // back-to-back computation (e.g. local epochs) is one span
        timeline[last].amount += s.amount;
        return;
    }
    if (s.kind == Span::Compute)
        last = timeline.size();
    timeline.push_back(s);
    const auto now = std::chrono::steady_clock::now();
    if (timeline.size() - m_flushed >= 4096 || now - m_lastFlush > std::chrono::milliseconds(50)) {
        m_lastFlush = now;
        flushSpans();
    }
}

void World::flushSpans()
{
    if (!sink || m_flushed == timeline.size())
        return;
    sink->spans(std::vector<Span>(timeline.begin() + std::ptrdiff_t(m_flushed), timeline.end()));
    m_flushed = timeline.size();
}

void SimTransport::record(const sg4::CommPtr& c, Span::Kind kind, int peer, double bytes)
{
    m_acc.commIntervals.emplace_back(c->get_start_time(), c->get_finish_time());
    m_world.span({m_rank, kind, peer, c->get_start_time(), c->get_finish_time(), bytes});
}

void SimTransport::isend(int dst, int tag, Message m)
{
    // A rank that never waits (e.g. an asynchronous server replying to workers) would pile up finished sends.
    if (m_pending.size() >= 64)
        std::erase_if(m_pending, [this](const Pending& p) {
            if (!p.comm->test())
                return false;
            record(p.comm, Span::Send, p.peer, p.bytes);
            return true;
        });
    m.source = m_rank;
    const double bytes = m.bytes;
    auto* payload = new Message(std::move(m));
    sg4::Mailbox* box = m_boxes.get(dst, tag);
    m_pending.push_back({box->put_async(payload, std::uint64_t(std::llround(bytes))), dst, bytes});
    m_acc.bytesSent += bytes;
}

void SimTransport::waitAll()
{
    for (auto& p : m_pending) {
        p.comm->wait();
        record(p.comm, Span::Send, p.peer, p.bytes);
    }
    m_pending.clear();
}

Message SimTransport::recv(int tag)
{
    sg4::Mailbox* box = m_boxes.receiving(m_rank, tag);
    Message* raw = nullptr;
    sg4::CommPtr c = box->get_async<Message>(&raw);
    c->wait();
    std::unique_ptr<Message> owned(raw);
    record(c, Span::Receive, owned->source, owned->bytes);
    m_acc.bytesReceived += owned->bytes;
    return std::move(*owned);
}

void SimTransport::compute(double flops)
{
    const double t0 = sg4::Engine::get_clock();
    sg4::this_actor::execute(flops);
    const double t1 = sg4::Engine::get_clock();
    m_acc.compute += t1 - t0;
    m_acc.flops += flops;
    m_world.span({m_rank, Span::Compute, -1, t0, t1, flops});
}

double SimTransport::now() const
{
    return sg4::Engine::get_clock();
}

} // namespace dml::sim
