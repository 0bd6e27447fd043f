// SPDX-License-Identifier: GPL-3.0-or-later
#include "strategies/reportsum.h"

#include <stdexcept>
#include <string>

namespace dml {

void weightedAccumulate(float* acc, const float* x, float weight, long n, bool first)
{
    Eigen::Map<Eigen::VectorXf> a(acc, n);
    const Eigen::Map<const Eigen::VectorXf> v(x, n);
    if (first)
        a = weight * v;
    else
        a += weight * v;
}

OrderedReportSum::OrderedReportSum(long round, std::vector<float> weights, std::vector<char> launched,
                                   Eigen::VectorXf storage)
    : m_round(round), m_weights(std::move(weights)), m_launched(std::move(launched)), m_waiting(m_weights.size()),
      m_sum(std::move(storage))
{
    if (m_launched.size() != m_weights.size())
        throw std::invalid_argument("OrderedReportSum: " + std::to_string(m_launched.size()) + " launched flags for " +
                                    std::to_string(m_weights.size()) + " weights");
}

void OrderedReportSum::add(int pos, std::shared_ptr<const Eigen::VectorXf> x)
{
    std::unique_lock lock(m_mutex);
    if (pos < 0 || std::size_t(pos) >= m_launched.size() || !m_launched[std::size_t(pos)] ||
        std::size_t(pos) < m_next || m_waiting[std::size_t(pos)] || !x)
        return;
    m_waiting[std::size_t(pos)] = std::move(x);
    if (m_adding) // the adding thread takes it when its turn comes
        return;
    m_adding = true;
    for (;;) {
        while (m_next < m_launched.size() && !m_launched[m_next])
            ++m_next;
        if (m_next == m_launched.size() || !m_waiting[m_next])
            break;
        const std::size_t i = m_next++;
        std::shared_ptr<const Eigen::VectorXf> v = std::move(m_waiting[i]);
        lock.unlock();
        if (m_first)
            m_sum.resize(v->size());
        weightedAccumulate(m_sum.data(), v->data(), m_weights[i], long(v->size()), m_first);
        m_first = false;
        v.reset(); // its buffer may serve the next client now
        lock.lock();
    }
    m_adding = false;
}

bool OrderedReportSum::complete(const std::vector<char>& reported) const
{
    std::lock_guard lock(m_mutex);
    std::size_t next = m_next;
    while (next < m_launched.size() && !m_launched[next])
        ++next;
    if (next < m_launched.size() || m_first || m_adding || reported.size() != m_launched.size())
        return false;
    for (std::size_t i = 0; i < reported.size(); ++i)
        if ((reported[i] != 0) != (m_launched[i] != 0))
            return false;
    return true;
}

} // namespace dml
