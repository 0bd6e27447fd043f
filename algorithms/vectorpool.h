// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
#include "parallel.h"

#include <Eigen/Core>

#include <atomic>
#include <memory>
#include <vector>

namespace dml {

/// Recycles parameter-sized vectors (models, gradients) across steps and clients. Without it, each sampled
/// federated client or each step's gradient allocates fresh memory that glibc hands back to the kernel, and
/// every reuse pays a page fault per 4 KiB (measured: a third of the wall time of a 10,000-client FedAvg run).
/// Not thread-safe: a simulation runs in one thread.
class VectorPool {
public:
    /// Prepares up to `count` vectors of `n` floats, their memory written once (so faulted in), as a pool job
    /// (parallel.h): with several threads it runs on an idle core while the simulation builds its platform, and the
    /// first round's models then cost fewer page faults (11 to 13 us each on a virtual machine). The first acquire()
    /// stops it and takes the buffers prepared so far (it never waits for more than the one in progress). With one
    /// thread it does nothing (the buffers are made as needed). Call before the first acquire().
    void warm(int count, Eigen::Index n)
    {
        if (count <= 0 || n <= 0 || parallel::threads() == 1)
            return;
        auto w = m_warming.state = std::make_shared<Warming>();
        m_warming.job = parallel::submit([w, count, n] {
            for (int i = 0; i < count && !w->stop.load(std::memory_order_relaxed); ++i)
                w->ready.push_back(std::make_unique<Eigen::VectorXf>(Eigen::VectorXf::Zero(n)));
        });
    }

    /// A vector of `n` floats (contents unspecified) that returns to the pool when the last owner lets go.
    /// Buffers still held when the pool is destroyed are simply freed.
    std::shared_ptr<Eigen::VectorXf> acquire(Eigen::Index n)
    {
        if (m_warming.state)
            adoptWarm();
        std::unique_ptr<Eigen::VectorXf> v;
        if (!m_free->empty()) {
            v = std::move(m_free->back());
            m_free->pop_back();
        } else {
            v = std::make_unique<Eigen::VectorXf>();
        }
        v->resize(n);
        std::weak_ptr<FreeList> home = m_free;
        return {v.release(), [home](Eigen::VectorXf* p) {
                    if (auto list = home.lock())
                        list->emplace_back(p);
                    else
                        delete p;
                }};
    }

    /// A copy of `x` in a pooled vector.
    std::shared_ptr<Eigen::VectorXf> copyOf(const Eigen::VectorXf& x)
    {
        auto v = acquire(x.size());
        *v = x;
        return v;
    }

private:
    using FreeList = std::vector<std::unique_ptr<Eigen::VectorXf>>;
    struct Warming {
        FreeList ready; ///< filled by the job
        std::atomic<bool> stop{false};
    };
    void adoptWarm()
    {
        m_warming.state->stop.store(true, std::memory_order_relaxed);
        m_warming.job.wait();
        for (auto& v : m_warming.state->ready)
            m_free->push_back(std::move(v));
        m_warming.state.reset();
    }
    std::shared_ptr<FreeList> m_free = std::make_shared<FreeList>();
    struct {
        std::shared_ptr<Warming> state; ///< shared with the job, which keeps it alive while it runs
        parallel::Task job;             ///< destroying it waits for a running warm-up (parallel.h)
    } m_warming;
};

} // namespace dml
