// SPDX-License-Identifier: GPL-3.0-or-later
#include "compression/powersgd.h"

#include "rng.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace dml::compression {

namespace {

using MapM = Eigen::Map<Eigen::MatrixXf>;
using CMapM = Eigen::Map<const Eigen::MatrixXf>;

/// Gram-Schmidt on the columns of P (rows x r), in place, column by column, each column projected twice against
/// the ones before it ("twice is enough", Giraud, Langou & Rozloznik 2005): when P's rank is below r (M's rank is
/// below r), a column is left with rounding noise only, and a single projection would leave that noise far from
/// orthogonal to the columns before once normalized. A column that is exactly zero stays zero.
void gramSchmidt(MapM P)
{
    for (Eigen::Index i = 0; i < P.cols(); ++i) {
        for (int pass = 0; pass < 2; ++pass)
            for (Eigen::Index j = 0; j < i; ++j)
                P.col(i) -= P.col(j).dot(P.col(i)) * P.col(j);
        const float norm = P.col(i).norm();
        if (norm > 0.0f)
            P.col(i) /= norm;
    }
}

} // namespace

PowerSgd::PowerSgd(std::vector<LayerShape> layers, int rank, std::uint64_t seed, bool errorFeedback)
    : m_rank(rank), m_ef(errorFeedback)
{
    if (rank < 1)
        throw std::invalid_argument("powersgd: rank " + std::to_string(rank) + " < 1");
    for (std::size_t l = 0; l < layers.size(); ++l) {
        const LayerShape& s = layers[l];
        if (s.rows < 1 || s.cols < 1)
            throw std::invalid_argument("powersgd: layer " + std::to_string(l) + " is " + std::to_string(s.rows) +
                                        " x " + std::to_string(s.cols));
        Block b{m_numParams, s.rows, s.cols, 0, 0, 0};
        if (s.rows > 1 && s.cols > 1)
            b.r = int(std::min<Eigen::Index>({rank, s.rows, s.cols}));
        m_blocks.push_back(b);
        m_numParams += s.rows * s.cols;
    }
    // P buffer: the matrices' P factors, then the vectors; Q buffer: the matrices' Q factors.
    for (Block& b : m_blocks)
        if (b.r) {
            b.p = m_pFloats;
            m_pFloats += b.rows * b.r;
            b.q = m_qFloats;
            m_qFloats += b.cols * b.r;
        }
    for (Block& b : m_blocks)
        if (!b.r) {
            b.p = m_pFloats;
            m_pFloats += b.rows * b.cols;
        }
    m_q.resize(m_qFloats);
    for (std::size_t l = 0; l < m_blocks.size(); ++l) {
        const Block& b = m_blocks[l];
        if (!b.r)
            continue;
        Rng rng(deriveSeed(seed, l));
        for (Eigen::Index i = 0; i < b.cols * b.r; ++i)
            m_q[b.q + i] = float(rng.normal());
    }
}

std::vector<LayerShape> PowerSgd::mlpShapes(const std::vector<int>& layerSizes)
{
    std::vector<LayerShape> shapes;
    for (std::size_t l = 0; l + 1 < layerSizes.size(); ++l) {
        shapes.push_back({layerSizes[l + 1], layerSizes[l]});
        shapes.push_back({layerSizes[l + 1], 1});
    }
    return shapes;
}

std::vector<LayerShape> PowerSgd::blockShapes(const std::vector<std::pair<Eigen::Index, Eigen::Index>>& blocks)
{
    std::vector<LayerShape> shapes;
    for (const auto& [rows, cols] : blocks)
        shapes.push_back({rows, cols});
    return shapes;
}

void PowerSgd::computeP(const Eigen::Ref<const Eigen::VectorXf>& grad, Eigen::VectorXf& p)
{
    if (m_phase != Phase::P)
        throw std::logic_error("powersgd: computeP called before the previous step's decompress");
    if (grad.size() != m_numParams)
        throw std::invalid_argument("powersgd: gradient of " + std::to_string(grad.size()) + " floats, layers hold " +
                                    std::to_string(m_numParams));
    if (m_ef && m_e.size() == m_numParams)
        m_m = grad + m_e;
    else
        m_m = grad;
    p.resize(m_pFloats);
    for (const Block& b : m_blocks) {
        if (b.r)
            MapM(p.data() + b.p, b.rows, b.r).noalias() =
                CMapM(m_m.data() + b.offset, b.rows, b.cols) * CMapM(m_q.data() + b.q, b.cols, b.r);
        else
            p.segment(b.p, b.rows * b.cols) = m_m.segment(b.offset, b.rows * b.cols);
    }
    m_phase = Phase::Q;
}

void PowerSgd::computeQ(Eigen::VectorXf& p, Eigen::VectorXf& q)
{
    if (m_phase != Phase::Q)
        throw std::logic_error("powersgd: computeQ called out of order (computeP first)");
    if (p.size() != m_pFloats)
        throw std::invalid_argument("powersgd: P buffer of " + std::to_string(p.size()) + " floats, expected " +
                                    std::to_string(m_pFloats));
    orthogonalize(p);
    q.resize(m_qFloats);
    for (const Block& b : m_blocks)
        if (b.r)
            MapM(q.data() + b.q, b.cols, b.r).noalias() =
                CMapM(m_m.data() + b.offset, b.rows, b.cols).transpose() * CMapM(p.data() + b.p, b.rows, b.r);
    m_phase = Phase::Decompress;
}

void PowerSgd::decompress(const Eigen::VectorXf& p, const Eigen::VectorXf& q, Eigen::VectorXf& out)
{
    if (m_phase != Phase::Decompress)
        throw std::logic_error("powersgd: decompress called out of order (computeQ first)");
    if (p.size() != m_pFloats || q.size() != m_qFloats)
        throw std::invalid_argument("powersgd: buffers of " + std::to_string(p.size()) + " and " +
                                    std::to_string(q.size()) + " floats, expected " + std::to_string(m_pFloats) +
                                    " and " + std::to_string(m_qFloats));
    approximate(p, q, out);
    if (m_ef) {
        m_e.resize(m_numParams);
        for (const Block& b : m_blocks) {
            const Eigen::Index len = b.rows * b.cols;
            if (b.r)
                m_e.segment(b.offset, len) = m_m.segment(b.offset, len) - out.segment(b.offset, len);
            else
                m_e.segment(b.offset, len).setZero();
        }
    }
    m_q = q;
    m_phase = Phase::P;
}

void PowerSgd::orthogonalize(Eigen::VectorXf& p) const
{
    if (p.size() != m_pFloats)
        throw std::invalid_argument("powersgd: P buffer of " + std::to_string(p.size()) + " floats, expected " +
                                    std::to_string(m_pFloats));
    for (const Block& b : m_blocks)
        if (b.r)
            gramSchmidt(MapM(p.data() + b.p, b.rows, b.r));
}

void PowerSgd::approximate(const Eigen::VectorXf& p, const Eigen::VectorXf& q, Eigen::VectorXf& out) const
{
    if (p.size() != m_pFloats || q.size() != m_qFloats)
        throw std::invalid_argument("powersgd: buffers of " + std::to_string(p.size()) + " and " +
                                    std::to_string(q.size()) + " floats, expected " + std::to_string(m_pFloats) +
                                    " and " + std::to_string(m_qFloats));
    out.resize(m_numParams);
    for (const Block& b : m_blocks) {
        if (b.r)
            MapM(out.data() + b.offset, b.rows, b.cols).noalias() =
                CMapM(p.data() + b.p, b.rows, b.r) * CMapM(q.data() + b.q, b.cols, b.r).transpose();
        else
            out.segment(b.offset, b.rows * b.cols) = p.segment(b.p, b.rows * b.cols);
    }
}

double PowerSgd::orthogonalizeFlops() const
{
    double f = 0.0;
    for (const Block& b : m_blocks)
        if (b.r)
            f += double(b.rows) * (4.0 * b.r * b.r - b.r);
    return f;
}

double PowerSgd::approximateFlops() const
{
    double f = 0.0;
    for (const Block& b : m_blocks)
        if (b.r)
            f += 2.0 * double(b.rows) * double(b.cols) * b.r;
    return f;
}

double PowerSgd::computePFlops() const
{
    double f = m_ef ? double(m_numParams) : 0.0;
    for (const Block& b : m_blocks)
        if (b.r)
            f += 2.0 * double(b.rows) * double(b.cols) * b.r;
    return f;
}

double PowerSgd::computeQFlops() const
{
    double f = 0.0;
    for (const Block& b : m_blocks)
        if (b.r)
            f += double(b.rows) * (4.0 * b.r * b.r - b.r) + 2.0 * double(b.rows) * double(b.cols) * b.r;
    return f;
}

double PowerSgd::decompressFlops() const
{
    double f = 0.0;
    for (const Block& b : m_blocks)
        if (b.r)
            f += 2.0 * double(b.rows) * double(b.cols) * b.r + (m_ef ? double(b.rows) * double(b.cols) : 0.0);
    return f;
}

void PowerSgd::restore(Eigen::VectorXf residual, Eigen::VectorXf warmStart)
{
    if ((residual.size() != 0 && residual.size() != m_numParams) || warmStart.size() != m_qFloats)
        throw std::invalid_argument("powersgd: restored state of " + std::to_string(residual.size()) + " and " +
                                    std::to_string(warmStart.size()) + " floats, expected " +
                                    std::to_string(m_numParams) + " and " + std::to_string(m_qFloats));
    m_e = std::move(residual);
    m_q = std::move(warmStart);
    m_phase = Phase::P;
}

} // namespace dml::compression
