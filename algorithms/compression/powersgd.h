// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// PowerSGD: rank-r compression by one step of power iteration with warm start (Vogels, Karimireddy & Jaggi 2019,
// "PowerSGD: practical low-rank gradient compression for distributed optimization", NeurIPS, Algorithm 1, with the
// error feedback of Algorithm 2). Not an encode/decode pair: the factors must be all-reduced between the steps, so
// the all-reduces belong to the caller (a ring all-reduce, or a parameter server that averages and sends back),
// as in PyTorch's powerSGD_hook and unlike GRACE's compressor, which hides them inside compress().
#include <Eigen/Core>

#include <cstdint>
#include <utility>
#include <vector>

namespace dml::compression {

/// One layer's block of the flat gradient: rows x cols floats, column-major (Mlp's W_l is out x in; its bias b_l
/// is out x 1).
struct LayerShape {
    Eigen::Index rows = 0, cols = 1;
};

/// The state of one rank (its warm-start Q and its error-feedback residual). Every rank builds it with the same
/// layers, rank and seed, so the initial Q is the same everywhere. Per step, on every rank:
///
///   computeP(grad, p)     M = grad + e (error feedback); P = M Q per matrix                 (Alg. 1 line 3)
///   [all-reduce p, mean]                                                                    (line 4)
///   computeQ(p, q)        P^ = orthogonalize(P) by Gram-Schmidt, in place in p; Q = M^T P^  (lines 5-6)
///   [all-reduce q, mean]                                                                    (line 7)
///   decompress(p, q, out) out = P^ Q^T per matrix, the averaged vectors as they are; e = M - out for the
///                         matrices; Q is kept as the next step's warm start                 (Alg. 2)
///
/// out is then the same on every rank: the low-rank approximation of the mean of the ranks' (compensated)
/// gradients. With one rank (or a parameter server averaging p and q) the all-reduces are the identity.
///
/// Layers with rows == 1 or cols == 1 (biases) are not compressed, as in the paper: they ride in the first
/// all-reduce after the P factors and get no residual (they are sent exactly). A matrix layer is compressed with
/// rank r_l = min(r, rows, cols).
/// Wire: the first all-reduce carries pFloats() float32 (sum of rows r_l over matrices plus the vectors' lengths),
/// the second qFloats() (sum of cols r_l): pBytes() = 4 pFloats(), qBytes() = 4 qFloats() per rank and step, before
/// the all-reduce's own traffic factor.
/// Variants: the residual is M - (the all-reduced approximation), as in the authors' code and PyTorch's hook; the
/// paper's Algorithm 2 writes it with the local decompression, which PowerSGD never forms. Gram-Schmidt projects each
/// column twice (classical Gram-Schmidt with reorthogonalization), so that P^ stays orthonormal when M's rank is
/// below r; a column that is exactly zero stays zero (PyTorch adds an epsilon to the norm instead).
class PowerSgd {
public:
    /// rank >= 1; every layer rows, cols >= 1. Q_l starts as i.i.d. standard normals drawn column-major from
    /// Rng(deriveSeed(seed, l)), l the layer's index in `layers`. Throws std::invalid_argument otherwise.
    PowerSgd(std::vector<LayerShape> layers, int rank, std::uint64_t seed, bool errorFeedback = true);
    /// The layer shapes of an Mlp with these layer sizes (inputs, hidden..., classes): W_l (out x in), b_l (out x 1).
    static std::vector<LayerShape> mlpShapes(const std::vector<int>& layerSizes);
    /// The layers of any model's flat parameter vector, from Model::parameterBlocks() (rows, cols pairs).
    static std::vector<LayerShape> blockShapes(const std::vector<std::pair<Eigen::Index, Eigen::Index>>& blocks);

    Eigen::Index numParams() const { return m_numParams; }
    int rank() const { return m_rank; }
    Eigen::Index pFloats() const { return m_pFloats; }
    Eigen::Index qFloats() const { return m_qFloats; }
    double pBytes() const { return 4.0 * double(m_pFloats); }
    double qBytes() const { return 4.0 * double(m_qFloats); }

    /// Step 1. grad: numParams() floats; p is resized to pFloats(). Throws std::invalid_argument if the length
    /// differs, std::logic_error if called out of order (computeP, computeQ, decompress).
    void computeP(const Eigen::Ref<const Eigen::VectorXf>& grad, Eigen::VectorXf& p);
    /// Step 2. p: the all-reduced (mean) P buffer, orthogonalized in place; q is resized to qFloats().
    void computeQ(Eigen::VectorXf& p, Eigen::VectorXf& q);
    /// Step 3. p: as computeQ left it; q: the all-reduced (mean) Q buffer; out: numParams() floats.
    void decompress(const Eigen::VectorXf& p, const Eigen::VectorXf& q, Eigen::VectorXf& out);

    /// The receiving side of a parameter server that averages P and Q for its workers (it has no gradient of its
    /// own): orthogonalize() turns the mean P buffer into P^ exactly as computeQ() does on every worker (the same
    /// arithmetic on the same input, so the same bits); approximate() forms out = P^ Q^T per matrix, the averaged
    /// vectors as they are, as decompress() does (without touching any state). Sizes as in computeQ/decompress.
    void orthogonalize(Eigen::VectorXf& p) const;
    void approximate(const Eigen::VectorXf& p, const Eigen::VectorXf& q, Eigen::VectorXf& out) const;
    /// Flops of orthogonalize() (rows (4 r_l^2 - r_l) per matrix) and approximate() (2 rows cols r_l per matrix).
    double orthogonalizeFlops() const;
    double approximateFlops() const;
    /// Flops of each step: computeP 2 rows cols r_l per matrix (+ n for the compensation); computeQ rows (4 r_l^2 -
    /// r_l) for Gram-Schmidt (two projections per pair of columns, 4 rows each; a norm and a division per column)
    /// plus 2 rows cols r_l per matrix; decompress 2 rows cols r_l (+ rows cols for the residual) per matrix.
    double computePFlops() const;
    double computeQFlops() const;
    double decompressFlops() const;

    /// The residual e (numParams() floats, zero on vector layers; empty before the first step or without error
    /// feedback) and the warm-start Q buffer (qFloats()), for checkpoints.
    const Eigen::VectorXf& residual() const { return m_e; }
    const Eigen::VectorXf& warmStart() const { return m_q; }
    void restore(Eigen::VectorXf residual, Eigen::VectorXf warmStart);

private:
    struct Block {
        Eigen::Index offset, rows, cols;
        int r;                  // 0 for an uncompressed vector
        Eigen::Index p, q;      // offsets in the P and Q buffers (or the vector's offset in the P buffer)
    };
    std::vector<Block> m_blocks;
    int m_rank;
    bool m_ef;
    Eigen::Index m_numParams = 0, m_pFloats = 0, m_qFloats = 0;
    Eigen::VectorXf m_m, m_e, m_q;
    enum class Phase { P, Q, Decompress } m_phase = Phase::P;
};

} // namespace dml::compression
