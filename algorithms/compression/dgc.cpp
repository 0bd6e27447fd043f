// SPDX-License-Identifier: GPL-3.0-or-later
#include "compression/dgc.h"

#include <stdexcept>

namespace dml::compression {

MomentumCorrection::MomentumCorrection(float momentum) : m_momentum(momentum)
{
    if (!(momentum >= 0.0f && momentum < 1.0f))
        throw std::invalid_argument("momentum correction: momentum " + std::to_string(momentum) +
                                    " not in [0, 1)");
}

const Eigen::VectorXf& MomentumCorrection::accumulate(const Eigen::Ref<const Eigen::VectorXf>& g)
{
    if (m_u.size() == 0) {
        m_u = Eigen::VectorXf::Zero(g.size());
        m_v = Eigen::VectorXf::Zero(g.size());
    }
    if (m_u.size() != g.size())
        throw std::invalid_argument("momentum correction: gradient of " + std::to_string(g.size()) +
                                    " floats, state of " + std::to_string(m_u.size()));
    m_u = m_momentum * m_u + g;
    m_v += m_u;
    return m_v;
}

void MomentumCorrection::mask(std::span<const std::uint32_t> sent)
{
    for (std::uint32_t i : sent) {
        if (Eigen::Index(i) >= m_u.size())
            throw std::invalid_argument("momentum correction: index " + std::to_string(i) + " out of " +
                                        std::to_string(m_u.size()));
        m_u[i] = 0.0f;
        m_v[i] = 0.0f;
    }
}

void MomentumCorrection::step(const Sparsifier& s, const Eigen::Ref<const Eigen::VectorXf>& g, std::uint64_t seed,
                              Encoded& out, Eigen::VectorXf& decoded)
{
    accumulate(g);
    s.encodeInto(m_v, seed, out);
    s.decodeInto(out, decoded);
    s.indices(out, m_sent);
    mask(m_sent);
}

} // namespace dml::compression
