// SPDX-License-Identifier: GPL-3.0-or-later
#include "parallel.h"

#include <Eigen/Core>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cfenv>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <sched.h>
#include <sys/mman.h>
#include <ucontext.h>

#if defined(__SANITIZE_ADDRESS__)
// ASan must be told about the switches to and from a job stack (README "Sanitizers and fuzzing"): without that, an
// exception thrown in a job leaves the unwound frames' redzones poisoned ("ASan is ignoring requested
// __asan_handle_no_return") and the next job on the same stack can be reported as a stack-buffer-overflow.
#include <sanitizer/common_interface_defs.h>
#define DML_PARALLEL_ASAN_FIBERS 1
#endif

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

#if defined(__x86_64__) && defined(__ELF__)
// Switches stacks without a system call (ucontext's swapcontext saves the signal mask: a syscall, 2 to 5 us on a
// virtual machine, per job): saves the callee-saved registers on the current stack, stores its pointer in *from,
// continues on the stack `to` where the same switch left it (or as JobStack::reserve prepared it). The MXCSR and
// x87 control words are thread state and stay as they are (a pool thread sets them per job, see execute()).
extern "C" void dml_parallel_switch(void** from, void* to);
asm(R"(
    .text
    .globl dml_parallel_switch
    .hidden dml_parallel_switch
    .type dml_parallel_switch, @function
dml_parallel_switch:
    .cfi_startproc
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .cfi_endproc
    .size dml_parallel_switch, .-dml_parallel_switch
)");
#define DML_PARALLEL_FAST_SWITCH 1
#endif

/// A stack that jobs run on instead of the stack of the code that runs them (one per thread, reused). SimGrid gives
/// every actor a fresh stack, and a job run inline on it faults in the pages its matrix products touch: a page fault
/// costs 15 to 20 us on a virtual machine, more than a small client's arithmetic. A job run here touches pages that
/// are already there.
class JobStack {
public:
    /// Runs fn() on this thread's job stack; its exception is rethrown on the caller's stack.
    static void run(const std::function<void()>& fn)
    {
        JobStack& s = current();
        if (s.m_active || !s.reserve()) { // a job that runs a job (forEach in a job), or no memory: run here
            fn();
            return;
        }
        s.m_fn = &fn;
        s.m_active = true;
        s.enter();
        s.m_active = false;
        if (s.m_error)
            std::rethrow_exception(std::exchange(s.m_error, nullptr));
    }
    JobStack() = default;
    JobStack(const JobStack&) = delete;
    JobStack& operator=(const JobStack&) = delete;
    ~JobStack()
    {
        if (m_memory)
            munmap(m_memory, kSize);
    }

private:
    static constexpr std::size_t kSize = std::size_t(8) << 20; // as SimGrid's actors' (reserved, not touched)
    static constexpr std::size_t kGuard = 4096;
    static JobStack& current()
    {
        thread_local JobStack s;
        return s;
    }
    bool reserve()
    {
        if (m_memory)
            return true;
        void* m = mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                       -1, 0);
        if (m == MAP_FAILED)
            return false;
        mprotect(m, kGuard, PROT_NONE); // below the stack: an overflow faults instead of writing elsewhere
        m_memory = m;
#ifdef DML_PARALLEL_FAST_SWITCH
        // The first switch "returns" into entry(): at the top, entry's address (16-byte aligned slot, so that entry
        // starts as if called) under a null return address that ends backtraces, and six zero registers below it.
        auto* top = reinterpret_cast<std::uintptr_t*>((reinterpret_cast<std::uintptr_t>(m) + kSize) & ~std::uintptr_t(15));
        top[-1] = 0;                                           // entry's return address: none
        top[-2] = reinterpret_cast<std::uintptr_t>(&entry);    // where the switch's ret goes
        for (int r = 3; r <= 8; ++r)
            top[-r] = 0;                                       // r15 ... rbp
        m_jobSp = top - 8;
#endif
        return true;
    }
#ifdef DML_PARALLEL_FAST_SWITCH
    void enter()
    {
#ifdef DML_PARALLEL_ASAN_FIBERS
        void* callerFake = nullptr;
        __sanitizer_start_switch_fiber(&callerFake, static_cast<char*>(m_memory) + kGuard, kSize - kGuard);
#endif
        dml_parallel_switch(&m_callerSp, m_jobSp);
#ifdef DML_PARALLEL_ASAN_FIBERS
        __sanitizer_finish_switch_fiber(callerFake, nullptr, nullptr);
#endif
    }
    [[noreturn]] static void entry()
    {
        for (;;) {
            JobStack& s = current();
#ifdef DML_PARALLEL_ASAN_FIBERS
            __sanitizer_finish_switch_fiber(s.m_jobFake, &s.m_callerBottom, &s.m_callerSize);
#endif
            try {
                (*s.m_fn)();
            } catch (...) {
                s.m_error = std::current_exception();
            }
#ifdef DML_PARALLEL_ASAN_FIBERS
            __sanitizer_start_switch_fiber(&s.m_jobFake, s.m_callerBottom, s.m_callerSize);
#endif
            dml_parallel_switch(&s.m_jobSp, s.m_callerSp); // resumes here with the next job
        }
    }
    void* m_callerSp = nullptr;
    void* m_jobSp = nullptr;
#ifdef DML_PARALLEL_ASAN_FIBERS
    void* m_jobFake = nullptr;             ///< ASan's fake stack of the job stack while it is switched out
    const void* m_callerBottom = nullptr;  ///< the stack enter() was called on, as ASan knows it
    std::size_t m_callerSize = 0;
#endif
#else
    void enter()
    {
        getcontext(&m_job);
        m_job.uc_stack.ss_sp = static_cast<char*>(m_memory) + kGuard;
        m_job.uc_stack.ss_size = kSize - kGuard;
        m_job.uc_link = &m_caller;
        makecontext(&m_job, &JobStack::entry, 0);
        swapcontext(&m_caller, &m_job);
    }
    static void entry()
    {
        JobStack& s = current();
        try {
            (*s.m_fn)();
        } catch (...) {
            s.m_error = std::current_exception();
        }
    } // returns to m_caller (uc_link)
    ucontext_t m_job{}, m_caller{};
#endif
    void* m_memory = nullptr;
    const std::function<void()>* m_fn = nullptr;
    std::exception_ptr m_error;
    bool m_active = false;
};

void execute(TaskState& s)
{
    if (std::this_thread::get_id() != s.submitter)
        std::fesetenv(&s.env);
    try {
        JobStack::run(s.job);
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
            m_stopping = true;
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
            m_queued.store(m_queue.size(), std::memory_order_relaxed);
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
                m_queued.store(m_queue.size(), std::memory_order_relaxed);
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
            // A simulation hands out jobs in bursts (a step's gradients, a round's clients) a fraction of a
            // millisecond apart; waking a sleeping thread takes tens of microseconds on a virtual machine. So look
            // for work for 200 us before sleeping, yielding the core to anyone else who wants it (an idle core
            // loses nothing; a busy machine gets it back at once).
            const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(200);
            while (m_queued.load(std::memory_order_relaxed) == 0 && !m_stopping.load(std::memory_order_relaxed) &&
                   std::chrono::steady_clock::now() < until)
                std::this_thread::yield();
            std::shared_ptr<TaskState> s;
            {
                std::unique_lock lock(m_mutex);
                m_wake.wait(lock, [this] { return m_stop || !m_queue.empty(); });
                if (m_stop)
                    return;
                s = std::move(m_queue.front());
                m_queue.pop_front();
                m_queued.store(m_queue.size(), std::memory_order_relaxed);
            }
            if (claim(*s))
                execute(*s);
        }
    }
    std::mutex m_mutex;
    std::condition_variable m_wake;
    std::deque<std::shared_ptr<TaskState>> m_queue;
    bool m_stop = false;
    std::atomic<bool> m_stopping{false};       ///< m_stop, readable without the lock
    std::atomic<std::size_t> m_queued{0};      ///< m_queue.size(), readable without the lock
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

bool Task::ready() const
{
    return !m_state || m_state->status.load(std::memory_order_acquire) == detail::Done;
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
        JobStack::run(job);
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
        JobStack::run([&] {
            for (long i = 0; i < n; ++i)
                body(i);
        });
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
