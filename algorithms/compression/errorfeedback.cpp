// SPDX-License-Identifier: GPL-3.0-or-later
#include "compression/errorfeedback.h"

#include "compression/sparsify.h"

#include <stdexcept>

namespace dml::compression {

void ErrorFeedback::compensate(const Eigen::Ref<const Eigen::VectorXf>& g, Eigen::VectorXf& p) const
{
    if (m_e.size() == 0) {
        p = g;
        return;
    }
    if (m_e.size() != g.size())
        throw std::invalid_argument("error feedback: gradient of " + std::to_string(g.size()) +
                                    " floats, residual of " + std::to_string(m_e.size()));
    p = g + m_e;
}

void ErrorFeedback::update(const Eigen::Ref<const Eigen::VectorXf>& p, const Eigen::Ref<const Eigen::VectorXf>& decoded)
{
    if (p.size() != decoded.size())
        throw std::invalid_argument("error feedback: compensated gradient of " + std::to_string(p.size()) +
                                    " floats, decoded of " + std::to_string(decoded.size()));
    m_e = p - decoded;
}

void ErrorFeedback::step(const Compressor& c, const Eigen::Ref<const Eigen::VectorXf>& g, std::uint64_t seed,
                         Encoded& out, Eigen::VectorXf& decoded)
{
    compensate(g, m_p);
    c.encodeInto(m_p, seed, out);
    c.decodeInto(out, decoded);
    update(m_p, decoded);
}

void ErrorFeedback::stepSparse(const Sparsifier& s, const Eigen::Ref<const Eigen::VectorXf>& g, std::uint64_t seed,
                               Encoded& out)
{
    compensate(g, m_p);
    s.encodeInto(m_p, seed, out);
    s.indices(out, m_kept);
    std::swap(m_e, m_p); // e = p, the previous residual's buffer becomes next step's p
    for (const std::uint32_t i : m_kept)
        m_e[Eigen::Index(i)] = 0.0f;
}

} // namespace dml::compression
