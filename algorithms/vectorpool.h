// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
#include <Eigen/Core>

#include <memory>
#include <mutex>
#include <vector>

namespace dml {

/// Recycles parameter-sized vectors (models, gradients) across steps and clients. Without it, each sampled
/// federated client or each step's gradient allocates fresh memory that glibc hands back to the kernel, and
/// every reuse pays a page fault per 4 KiB (measured: a third of the wall time of a 10,000-client FedAvg run).
/// Thread-safe: pool jobs (parallel.h) acquire and release buffers, so that a federated client's model lives only
/// while its training and its addition to the round's sum run (strategies/reportsum.h). The buffer returned last is
/// handed out first: the one most likely still in cache.
class VectorPool {
public:
    /// A vector of `n` floats (contents unspecified) that returns to the pool when the last owner lets go (on any
    /// thread). Buffers still held when the pool is destroyed are simply freed.
    std::shared_ptr<Eigen::VectorXf> acquire(Eigen::Index n)
    {
        std::unique_ptr<Eigen::VectorXf> v;
        {
            std::lock_guard lock(m_free->mutex);
            if (!m_free->buffers.empty()) {
                v = std::move(m_free->buffers.back());
                m_free->buffers.pop_back();
            }
        }
        if (!v)
            v = std::make_unique<Eigen::VectorXf>();
        v->resize(n);
        std::weak_ptr<FreeList> home = m_free;
        return {v.release(), [home](Eigen::VectorXf* p) {
                    if (auto list = home.lock()) {
                        std::lock_guard lock(list->mutex);
                        list->buffers.emplace_back(p);
                    } else {
                        delete p;
                    }
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
    using Buffers = std::vector<std::unique_ptr<Eigen::VectorXf>>;
    struct FreeList {
        std::mutex mutex;
        Buffers buffers;
    };
    std::shared_ptr<FreeList> m_free = std::make_shared<FreeList>();
};

} // namespace dml
