// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// FedAvg's weighted average, summed while the clients' models are still in cache (issue 16).
#include <Eigen/Core>

#include <memory>
#include <mutex>
#include <vector>

namespace dml {

/// acc = weight * x (first) or acc += weight * x, element-wise over n floats. The one kernel of FedAvg's average,
/// whether it runs over whole models or over ranges of them (parallel::forRanges): every element goes through the
/// same instructions, so the bits do not depend on how the vector is cut.
void weightedAccumulate(float* acc, const float* x, float weight, long n, bool first);

/// One round's sum_i a_i x_i over the launched positions i of the round's sorted selection (FedAvg's
/// w_{t+1} = sum_k (n_k / n) w^k_{t+1}, McMahan et al. 2017, "Communication-efficient learning of deep networks from
/// decentralized data", Algorithm 1: a_i = n_k / n over the launched clients, x_i their trained models), accumulated in position order while the models come in:
/// position i is added as soon as it and every launched position before it are there. A client's model is then
/// summed right after its training, on the thread that trained it, instead of at the round's end when the round's
/// models (100 of 0.4 MB in the FedAvg benchmark) have left the cache; and a model whose addition is done is no
/// longer needed, so its buffer serves the next client. The result is the same bits as adding the same models in
/// the same order at the end (weightedAccumulate over ranges), whatever order they come in.
///
/// Thread-safe: add() may be called from pool jobs (parallel.h), concurrently. The additions run one at a time, on
/// the thread whose add() completed the next position; the others only leave their model. It holds only the models
/// that came ahead of an earlier launched one.
class OrderedReportSum {
public:
    /// Round `round` of `weights.size()` positions: `weights[i]` = a_i; `launched[i]` != 0 for the positions that
    /// may report (add() ignores the others). `storage` becomes the sum's buffer (any contents; reused memory).
    /// Throws std::invalid_argument if the two sizes differ.
    OrderedReportSum(long round, std::vector<float> weights, std::vector<char> launched, Eigen::VectorXf storage);
    long round() const { return m_round; }
    /// Position `pos`'s model (its weight applies). Ignored for a position out of range, not launched, or given
    /// before. Keeps `x` until it has been added, then lets it go (on this or another adding thread).
    void add(int pos, std::shared_ptr<const Eigen::VectorXf> x);
    /// True if every launched position was added and `reported` (per position, != 0: averaged) names exactly the
    /// launched ones: sum() is then the whole round's sum. Call when no add() can be running.
    bool complete(const std::vector<char>& reported) const;
    /// The sum of the positions added so far. Call when no add() can be running.
    Eigen::VectorXf& sum() { return m_sum; }

private:
    const long m_round;
    const std::vector<float> m_weights;
    const std::vector<char> m_launched;
    mutable std::mutex m_mutex; ///< guards m_waiting, m_next and m_adding
    std::vector<std::shared_ptr<const Eigen::VectorXf>> m_waiting; ///< by position: come, not yet added
    std::size_t m_next = 0;                                         ///< the first position not yet added
    bool m_adding = false;                                          ///< a thread is adding (it owns m_sum)
    bool m_first = true;                                            ///< nothing added yet (the adder's)
    Eigen::VectorXf m_sum;
};

} // namespace dml
