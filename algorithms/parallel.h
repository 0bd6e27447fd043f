// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Real arithmetic on every core while SimGrid runs its actors one at a time (issue 16).
//
// An actor hands a computation to the pool (submit), lets simulated time pass (Transport::compute), and waits for
// the result only when it needs it (Task::wait). The computations of the actors that start at about the same
// simulated time then overlap in wall time. Results never depend on the thread count: a job reads only its inputs,
// writes only its outputs, uses the scratch of the thread that runs it (thread_local, so one per thread), and every
// reduction keeps its fixed order. With one thread (the default) submit() runs the job at once on the caller, as
// sequential code does. Nothing here knows SimGrid: a job must never call the simulation, and the thread that waits
// blocks in wall time only (SimGrid's actors are contexts on one thread, so no other actor runs meanwhile).
//
// Every job runs on a stack of its thread's own, reused from job to job, not on the stack of the code that runs it:
// SimGrid gives each actor a fresh stack, whose pages would fault in anew under every client's matrix products.
#include <functional>
#include <memory>

namespace dml::parallel {

/// The most threads setThreads() accepts.
inline constexpr int kMaxThreads = 256;

/// Sets how many computations may run at once in this process: n - 1 pool threads, plus the thread that waits for a
/// result (it runs queued jobs while it waits). n = 1, the default: no pool thread, every job runs inside submit().
/// Call before a simulation, while no Task is pending. Throws std::invalid_argument naming the limits if n < 1 or
/// n > kMaxThreads.
void setThreads(int n);
/// The current setting (1 until setThreads is called).
int threads();
/// The cores this process may run on (its CPU affinity mask; at least 1).
int availableCores();

namespace detail {
struct TaskState;
}

/// A submitted computation. Move-only. Destroying a Task that was not waited for cancels it if it has not started
/// and otherwise waits until it has finished (an actor killed by a host failure unwinds its stack through here, so a
/// running job never outlives the buffers it writes); its exception, if any, is dropped.
class Task {
public:
    Task() = default;
    Task(Task&&) noexcept = default;
    Task& operator=(Task&& other) noexcept;
    Task(const Task&) = delete;
    Task& operator=(const Task&) = delete;
    ~Task();
    /// Returns once the job has run: runs it on this thread if no pool thread has started it, else runs other queued
    /// jobs (or sleeps) until it is done. Rethrows the job's exception. No effect on an empty or already waited Task.
    void wait();
    /// True if wait() would return at once: the job has run (or the Task is empty). Never blocks, never runs it.
    bool ready() const;

private:
    friend Task submit(std::function<void()> job);
    void release() noexcept;
    std::shared_ptr<detail::TaskState> m_state;
};

/// Queues `job` for the pool; with threads() == 1 runs it at once, on this thread's job stack (and lets its
/// exception through). The job's
/// captures are destroyed by wait() or ~Task() on the submitting side, never on a pool thread, so they may own
/// buffers of a (not thread-safe) VectorPool.
Task submit(std::function<void()> job);

/// Runs body(0) ... body(n - 1), on the pool and the calling thread, and returns when all have run; rethrows the
/// exception of the lowest index that threw. With threads() == 1 a plain loop in index order.
void forEach(long n, const std::function<void(long)>& body);

/// Runs body(begin, end) over [0, n) cut into ranges whose starts are multiples of `grain` (> 0; a multiple of every
/// SIMD packet, e.g. 1024 floats), at most one range per thread; with threads() == 1 (or n <= grain) one call
/// body(0, n). For element-wise arithmetic on float vectors allocated by Eigen (aligned): every element then goes
/// through the same instructions as in one call over [0, n), so the bits are the same whatever the thread count.
void forRanges(long n, long grain, const std::function<void(long, long)>& body);

} // namespace dml::parallel
