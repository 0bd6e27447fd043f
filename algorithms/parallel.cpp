// SPDX-License-Identifier: GPL-3.0-or-later
#include "parallel.h"

#include <Eigen/Core>

#include <algorithm>
#include <atomic>
#include <cfenv>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <sched.h>

namespace dml::parallel {
namespace detail {

/// Queued -> Running -> Done, or Queued -> Cancelled. Whoever moves it out of Queued (a pool thread, or the waiter)
/// runs the job; the status is the only arbiter.
enum Status : int { Queued, Running, Done, Cancelled };

struct TaskState {
    std::function<void()> job;
    std::atomic<int> status{Queued};
    std::exception_ptr error;
    std::thread::id submitter;
    std::fenv_t env; ///< the submitter's floating-point environment (rounding, flush-to-zero): the job's too
};

} // namespace detail

namespace {

using detail::TaskState;

void execute(TaskState& s)
{
    if (std::this_thread::get_id() != s.submitter)
        std::fesetenv(&s.env);
    try {
        s.job();
    } catch (...) {
        s.error = std::current_exception();
    }
    s.status.store(detail::Done, std::memory_order_release);
    s.status.notify_all();
}

bool claim(TaskState& s)
{
    int expected = detail::Queued;
    return s.status.compare_exchange_strong(expected, detail::Running, std::memory_order_acq_rel);
}

/// n - 1 threads taking jobs from one FIFO queue.
class Pool {
public:
    explicit Pool(int threads)
    {
        for (int i = 0; i < threads; ++i)
            m_threads.emplace_back([this] { loop(); });
    }
    ~Pool()
    {
        {
            std::lock_guard lock(m_mutex);
            m_stop = true;
        }
        m_wake.notify_all();
        for (std::thread& t : m_threads)
            t.join();
    }
    void push(std::shared_ptr<TaskState> s)
    {
        {
            std::lock_guard lock(m_mutex);
            m_queue.push_back(std::move(s));
        }
        m_wake.notify_one();
    }
    /// Runs one queued job on the calling thread; false if none was waiting.
    bool runOne()
    {
        for (;;) {
            std::shared_ptr<TaskState> s;
            {
                std::lock_guard lock(m_mutex);
                if (m_queue.empty())
                    return false;
                s = std::move(m_queue.front());
                m_queue.pop_front();
            }
            if (claim(*s)) {
                execute(*s);
                return true;
            }
        }
    }

private:
    void loop()
    {
        for (;;) {
            std::shared_ptr<TaskState> s;
            {
                std::unique_lock lock(m_mutex);
                m_wake.wait(lock, [this] { return m_stop || !m_queue.empty(); });
                if (m_stop)
                    return;
                s = std::move(m_queue.front());
                m_queue.pop_front();
            }
            if (claim(*s))
                execute(*s);
        }
    }
    std::mutex m_mutex;
    std::condition_variable m_wake;
    std::deque<std::shared_ptr<TaskState>> m_queue;
    bool m_stop = false;
    std::vector<std::thread> m_threads;
};

int g_threads = 1;
std::unique_ptr<Pool> g_pool; // null while g_threads == 1

/// Waits for a claimed or finished state, helping with queued jobs meanwhile.
void finish(TaskState& s)
{
    for (;;) {
        const int st = s.status.load(std::memory_order_acquire);
        if (st == detail::Done || st == detail::Cancelled)
            return;
        if (!(g_pool && g_pool->runOne()))
            s.status.wait(st, std::memory_order_acquire);
    }
}

} // namespace

void setThreads(int n)
{
    if (n < 1 || n > kMaxThreads)
        throw std::invalid_argument("threads: expected a number from 1 to " + std::to_string(kMaxThreads) + ", got " +
                                    std::to_string(n));
    if (n == g_threads)
        return;
    g_pool.reset();
    Eigen::initParallel(); // Eigen's cache-size query, once, before threads use it
    g_threads = n;
    if (n > 1)
        g_pool = std::make_unique<Pool>(n - 1);
}

int threads()
{
    return g_threads;
}

int availableCores()
{
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        return std::max(1, CPU_COUNT(&set));
    return std::max(1, int(std::thread::hardware_concurrency()));
}

Task& Task::operator=(Task&& other) noexcept
{
    if (this != &other) {
        release();
        m_state = std::move(other.m_state);
    }
    return *this;
}

Task::~Task()
{
    release();
}

void Task::release() noexcept
{
    if (!m_state)
        return;
    TaskState& s = *m_state;
    int expected = detail::Queued;
    if (!s.status.compare_exchange_strong(expected, detail::Cancelled, std::memory_order_acq_rel))
        while (s.status.load(std::memory_order_acquire) == detail::Running)
            s.status.wait(detail::Running, std::memory_order_acquire);
    s.job = nullptr; // the captures die here, on the submitting side
    m_state.reset();
}

void Task::wait()
{
    if (!m_state)
        return;
    TaskState& s = *m_state;
    if (claim(s))
        execute(s);
    else
        finish(s);
    s.job = nullptr;
    const std::exception_ptr error = s.error;
    m_state.reset();
    if (error)
        std::rethrow_exception(error);
}

Task submit(std::function<void()> job)
{
    Task t;
    if (!g_pool) {
        job();
        return t;
    }
    t.m_state = std::make_shared<TaskState>();
    t.m_state->job = std::move(job);
    t.m_state->submitter = std::this_thread::get_id();
    std::fegetenv(&t.m_state->env);
    g_pool->push(t.m_state);
    return t;
}

void forEach(long n, const std::function<void(long)>& body)
{
    if (!g_pool || n <= 1) {
        for (long i = 0; i < n; ++i)
            body(i);
        return;
    }
    std::vector<Task> tasks;
    tasks.reserve(std::size_t(n));
    for (long i = 0; i < n; ++i)
        tasks.push_back(submit([&body, i] { body(i); }));
    std::exception_ptr first;
    for (Task& t : tasks) {
        try {
            t.wait();
        } catch (...) {
            if (!first)
                first = std::current_exception();
        }
    }
    if (first)
        std::rethrow_exception(first);
}

void forRanges(long n, long grain, const std::function<void(long, long)>& body)
{
    if (grain < 1)
        throw std::invalid_argument("forRanges: grain must be > 0");
    const long pieces = std::min<long>(g_threads, (n + grain - 1) / grain);
    if (pieces <= 1) {
        body(0, n);
        return;
    }
    const long grains = (n + grain - 1) / grain;
    forEach(pieces, [&](long i) {
        const long begin = std::min(n, grains * i / pieces * grain);
        const long end = std::min(n, grains * (i + 1) / pieces * grain);
        if (end > begin)
            body(begin, end);
    });
}

} // namespace dml::parallel
