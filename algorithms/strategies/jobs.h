// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Several training jobs on one platform (issue 17 item 5; README "Several jobs on one platform"). Each job is a whole
// strategy of its own (its workload, ranks, sink and evaluator); JobsStrategy lays their ranks end to end, job 0's
// first, so that one simulation runs them all and their messages contend on the links and hosts they share.
#include "strategy.h"

#include <memory>
#include <string>
#include <vector>

namespace dml {

/// What a job's body sees: the platform's transport with the job's ranks renumbered from 0 and its clock started at
/// the job's start. Global rank = local rank + offset. Every Transport virtual is forwarded (ranks translated both
/// ways; Message::source of a received message back to the local rank; peerFailedAt and now() in the job's time).
class JobTransport final : public Transport {
public:
    /// `inner`: the rank's transport on the platform; `offset`: the job's first global rank; `start`: the job's start,
    /// simulated s (>= 0).
    JobTransport(Transport& inner, int offset, double start) : m_inner(inner), m_offset(offset), m_start(start) {}
    int rank() const override { return m_inner.rank() - m_offset; }
    void isend(int dst, int tag, Message m) override { m_inner.isend(dst + m_offset, tag, std::move(m)); }
    void waitAll() override { m_inner.waitAll(); }
    Message recv(int tag) override { return local(m_inner.recv(tag)); }
    std::optional<Message> recv(int tag, double timeout) override
    {
        std::optional<Message> m = m_inner.recv(tag, timeout);
        if (m)
            *m = local(std::move(*m));
        return m;
    }
    bool peerFailed(int rank) const override { return m_inner.peerFailed(rank + m_offset); }
    bool peersCanFail() const override { return m_inner.peersCanFail(); }
    double peerFailedAt(int rank) const override { return m_inner.peerFailedAt(rank + m_offset) - m_start; }
    long incarnation(int rank) const override { return m_inner.incarnation(rank + m_offset); }
    void compute(double flops) override { m_inner.compute(flops); }
    /// Simulated s since the job's start.
    double now() const override { return m_inner.now() - m_start; }
    void launch(int rank) override { m_inner.launch(rank + m_offset); }
    void extendWindow(int rank) override { m_inner.extendWindow(rank + m_offset); }
    void writeCheckpoint(double bytes) override { m_inner.writeCheckpoint(bytes); }
    void readCheckpoint(double bytes) override { m_inner.readCheckpoint(bytes); }
    /// Overlap's background actor gets the job's view too (its ranks and clock).
    void spawnBackground(std::function<void(Transport&)> body) override
    {
        m_inner.spawnBackground([offset = m_offset, start = m_start, body = std::move(body)](Transport& bt) {
            JobTransport view(bt, offset, start);
            body(view);
        });
    }
    void postLocal(int tag, Message m) override { m_inner.postLocal(tag, std::move(m)); }
    Message takeLocal(int tag) override { return local(m_inner.takeLocal(tag)); }

private:
    Message local(Message m) const
    {
        m.source -= m_offset;
        return m;
    }
    Transport& m_inner;
    int m_offset;
    double m_start;
};

/// The ranks of K jobs end to end: global ranks [offset(j), offset(j) + numRanks of job j) are job j's, in the job's
/// own rank order. Each job's body runs through a JobTransport, so a job sees only its own ranks and its own clock,
/// and never a message of another job (their mailboxes are distinct global ranks). Host names are "<job>/<name>"
/// with the job's default names ("a/worker-0", "a/server").
///
/// What a job does not get here: checkpoint-restart and failures (the scenario reader refuses them with jobs).
class JobsStrategy final : public Strategy {
public:
    struct Job {
        std::string name;                  ///< unique, non-empty
        std::unique_ptr<Strategy> strategy; ///< non-null
        double start = 0;                  ///< simulated s (finite, >= 0): when its ranks launched at start begin
    };
    /// Throws std::invalid_argument for no jobs, a null strategy, an empty or duplicate name, or a start that is
    /// negative or not finite.
    explicit JobsStrategy(std::vector<Job> jobs);

    int jobs() const { return int(m_jobs.size()); }
    const Job& job(int j) const { return m_jobs[std::size_t(j)]; }
    /// The first global rank of job j (offset(jobs()) = numRanks()).
    int offset(int j) const { return m_offsets[std::size_t(j)]; }

    int numRanks() const override { return m_offsets.back(); }
    std::string roleOf(int rank) const override;
    void run(int rank, Transport& t) override;
    bool launchedAtStart(int rank) const override;
    double startTime(int rank) const override;
    std::string hostName(int rank) const override;
    int jobOf(int rank) const override;
    /// "<job>: <reason>" for every job, joined by "; ".
    std::string stopReason() const override;
    /// Job 0's model (each job's own: job(j).strategy->finalModel()).
    const Eigen::VectorXf& finalModel() const override { return m_jobs.front().strategy->finalModel(); }

private:
    int local(int rank) const { return rank - m_offsets[std::size_t(jobOf(rank))]; }
    std::vector<Job> m_jobs;
    std::vector<int> m_offsets; ///< jobs() + 1 entries
    std::vector<std::vector<std::string>> m_names; ///< per job: its default host names
};

} // namespace dml
