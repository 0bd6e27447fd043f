// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Collective algorithms on the narrow Transport: all-reduce (ring, Rabenseifner's halving-doubling, recursive
// doubling, binomial tree, NCCL's double binary tree, hierarchical), reduce-scatter and all-gather, their alpha-beta
// cost formulas and the `auto` choice between them. README-collectives-draft.md has the formulas and a measured table.
//
// Conventions shared by every function here (those of ringAllReduce, strategies/ringallreduce.h):
//  - Called by all P ranks with the same P, data length N, totalBytes and tagBase; `rank` in [0, P) is this rank's
//    position (the Transport's rank numbers). P == 1: nothing happens, 0 is returned.
//  - `data`: N floats, the same N on every rank, or nullptr for a proxy workload, in which case N = round(totalBytes/4)
//    is used for the chunk lengths and the additions are charged but not done. A message holding len elements is
//    sent as totalBytes x len / N bytes.
//  - The reduction is the element-wise SUM (callers divide by P for the mean), charged 1 flop per element added
//    (Transport::compute). Every element is summed on exactly one rank, in an order fixed by the algorithm (never the
//    arrival order), and then copied to the others, or (recursive doubling) summed by both partners of an exchange
//    from the same two operands (IEEE addition is commutative): every rank ends with bit-identical vectors.
//  - Every message goes over channel `tagBase` only; Message::kind numbers the steps (each rank receives each step
//    from one sender). A rank may receive from several peers on that channel, and a fast peer's next step (or next
//    call) may arrive first: such messages wait in `inbox`, which the caller keeps per rank and channel across calls.
//    The first call posts the rank's receive on the channel (Inbox::bind).
//  - Returns the bytes this rank sent.
//  - `scalars` (optional; RingScalars in strategies/ringallreduce.h) ride along at no extra bytes: out, every rank
//    holds the same sum (added in the algorithm's order, documented per function; not necessarily rank order) and
//    the OR of the flags.
//  - Bad arguments (P < 1, rank outside [0, P), P not a power of two where one is required, ranksPerNode not
//    dividing P) throw std::invalid_argument naming the argument; vectors of different lengths on different ranks
//    cannot be detected.
//
// Cost formulas (alpha-beta-gamma model of Thakur, Rabenseifner & Gropp 2005, "Optimization of collective
// communication operations in MPICH", Sec. 2 (cost model) and 4 (algorithms); Patarasuk & Yuan 2009): a message of m
// bytes between two ranks takes alpha + m / B (alpha: route latency, s; B: bandwidth, bytes/s), an addition of n
// elements n / F s (F: the rank's flop rate). S = totalBytes, N = S/4 elements. The formulas are the simulated times
// for the stated P on a full-duplex star of private links (SimGrid CM02 without cross-traffic; checked by
// tests/sim_collectives.cpp) when P (and p', G, M) divide N.
#include "transport.h"

#include <Eigen/Core>

#include <algorithm>
#include <deque>
#include <string>
#include <vector>

namespace dml {

struct RingScalars; // strategies/ringallreduce.h

namespace collectives {

/// Messages that reached a rank before the collective waiting on its channel wanted them. Keep one per rank and
/// channel for as long as collectives run on it (a peer that finished a call may already send the next call's
/// first step). Not shared between ranks.
class Inbox {
public:
    /// The message of kind `kind` on channel `tag`: from the stash if it came early, else received (stashing any
    /// other message that arrives before it). Blocking.
    Message take(Transport& t, int tag, int kind);
    /// The first of the messages of kinds `kinds` to have arrived (stash first, in arrival order), as take().
    Message takeAny(Transport& t, int tag, const std::vector<int>& kinds);
    /// Posts this rank's receive on channel `tag` once (a receive with a zero timeout; whatever it returns is
    /// stashed), so that from then on no transfer to this rank waits for it to call recv: a rank may be sent
    /// to by several peers at once, and on a channel it has never received from, SimTransport would start only one
    /// of their transfers (the others waiting for the next receive). NCCL and MPI post their receive buffers
    /// likewise. Every collective here calls it first; the ring needs it not (one sender per rank).
    void bind(Transport& t, int tag);
    /// Messages waiting (for tests: an algorithm that ends with messages of its own call stashed is wrong).
    std::size_t waiting() const { return m_early.size(); }

private:
    std::deque<Message> m_early;
    std::vector<int> m_bound; // channels bind() posted a receive on
};

/// The all-reduce algorithms (strategy.collective). Auto is resolved by chooseAllReduce before a run.
enum class Algorithm { Ring, HalvingDoubling, RecursiveDoubling, BinomialTree, DoubleBinaryTree, Hierarchical, Auto };

/// "ring", "halving-doubling", "recursive-doubling", "binomial-tree", "double-binary-tree", "hierarchical", "auto".
const char* toString(Algorithm a);
/// The inverse of toString; throws std::invalid_argument listing the names for anything else.
Algorithm parseAlgorithm(const std::string& name);
/// Every name parseAlgorithm accepts, in the enum's order.
std::vector<std::string> algorithmNames();

/// The network as the cost formulas see it: alpha (s, one message's latency between two ranks, the whole route),
/// bandwidth B (bytes/s, one rank's link in each direction) and flopRate F (flops/s of a rank, for the additions;
/// 0 or infinity: additions are free).
struct CostModel {
    double alpha = 0;
    double bandwidth = 0;
    double flopRate = 0;
};

/// How the ring-allreduce strategy all-reduces (StrategySpec::collective).
struct AllReduceSpec {
    Algorithm algorithm = Algorithm::Ring;
    int ranksPerNode = 1; ///< Hierarchical: G, consecutive ranks per node (P must be a multiple)
    CostModel cost{};     ///< Auto: the network the choice is made for (from the platform, or strategy.auto_*)
    /// Auto: the algorithms it chooses among (strategy.auto_among), in any order; empty: the five flat ones
    /// (chooseAllReduce). {Ring, DoubleBinaryTree} is NCCL's choice between its ring and tree.
    std::vector<Algorithm> candidates{};
    /// Whether the run may all-reduce hierarchically (so ranksPerNode applies): Hierarchical, or Auto with it
    /// among the candidates.
    bool mayUseHierarchical() const
    {
        return algorithm == Algorithm::Hierarchical ||
               (algorithm == Algorithm::Auto &&
                std::find(candidates.begin(), candidates.end(), Algorithm::Hierarchical) != candidates.end());
    }
};

/// Predicted time (s) of one all-reduce of S = `bytes` bytes over P ranks (N = S/4 elements), the formulas of the
/// functions below: with p' = 2^floor(log2 P), D = log2 p', L = ceil(log2 P), M = P/G,
///  - Ring:               2(P-1)(alpha + S/(P B)) + (P-1)/P N/F
///  - HalvingDoubling:    2D alpha + 2(p'-1)/p' S/B + (p'-1)/p' N/F, plus 2(alpha + S/B) + N/F if P != p'
///  - RecursiveDoubling:  D (alpha + S/B + N/F),                      plus 2(alpha + S/B) + N/F if P != p'
///  - BinomialTree:       L (2 alpha + 2 S/B + N/F)
///  - DoubleBinaryTree:   2L alpha + (2L-1) S/B + (L - 1/2) N/F
///  - Hierarchical:       2(G-1)(alpha + S/(G B)) + (G-1)/G N/F + 2(M-1)(alpha + S/(G M B)) + (M-1)/(G M) N/F
/// Exact (the simulation matches them within 0.1 %) for powers of two and, for Ring and Hierarchical, for every P;
/// for the folds of HalvingDoubling and RecursiveDoubling and the irregular trees of other P they are the
/// contention-free estimates of the papers (measured deviations: README-collectives-draft.md). Auto: the chosen
/// algorithm's. Throws std::invalid_argument for P < 1, bytes < 0, a CostModel without bandwidth, or Hierarchical
/// with ranksPerNode not dividing P.
double predictedTime(Algorithm a, int P, double bytes, const CostModel& m, int ranksPerNode = 1);

/// `auto`: the algorithm of least predictedTime among Ring, HalvingDoubling, RecursiveDoubling, BinomialTree and
/// DoubleBinaryTree (ties go to the earlier one; Hierarchical is never chosen: on one flat network it only trades
/// latency against HalvingDoubling, and it needs the node size). The choice is that of MPICH (Thakur et al. 2005,
/// Sec. 4, Allreduce: recursive doubling for short messages, Rabenseifner's algorithm for long ones) with the switch
/// point computed from the formulas instead of a fixed 2 KiB: for P = p' and free additions, recursive doubling wins
/// below S* = D alpha B / (D - 2(p'-1)/p') (about 1.49 alpha B at P = 64, 4 alpha B at P = 4; P = 2: always),
/// halving-doubling above; for P not a power of two the ring takes over from the folded algorithms for large S. Throws
/// as predictedTime.
///
/// `among` (not empty) restricts the choice to those algorithms, ties going to the earlier one in the order of
/// Algorithm; Hierarchical among them uses `ranksPerNode`. {Ring, DoubleBinaryTree} is NCCL's choice (its ring and
/// tree; NCCL's own tuning model, src/graph/tuning.cc, also weighs protocols and per-channel bandwidths): the tree's
/// 2L alpha wins for small messages at scale, the ring's 2(P-1)/P S/B for large ones. Throws std::invalid_argument
/// if `among` holds Auto, or Hierarchical with a ranksPerNode that does not divide P.
Algorithm chooseAllReduce(int P, double bytes, const CostModel& m, const std::vector<Algorithm>& among = {},
                          int ranksPerNode = 1);

/// Recursive halving-doubling all-reduce (Rabenseifner's algorithm; Thakur, Rabenseifner & Gropp 2005, Sec. 4,
/// Allreduce; as MPICH's MPIR_Allreduce_intra_reduce_scatter_allgather): a reduce-scatter by recursive halving followed
/// by an all-gather by recursive doubling, over p' = 2^floor(log2 P) ranks.
///  - The vector is cut into p' chunks (ringChunk(N, p', c)). Reduce-scatter step k = 0..D-1: the partner is at
///    distance d = p'/2^(k+1) (virtual rank v XOR d); the current range of chunks is halved, v keeps the lower half
///    if v & d == 0, sends the other half and adds the partner's copy of its own half. Afterwards v holds the sum of
///    chunk v. All-gather: the same exchanges in reverse (d = 1, 2, ..., p'/2), each rank sending what it holds.
///  - P not a power of two (MPICH's fold): with r = P - p', ranks 2i < 2r first send their vector to 2i+1, which
///    adds it (one extra step of S bytes), sit out the power-of-two part and receive the result from 2i+1 at the end;
///    the others take virtual ranks (2i+1 -> i, rank q >= 2r -> q - r).
/// Time: see predictedTime (exact for P a power of two). Scalars: exchanged and added at every reduce-scatter step
/// (and the fold), like recursive doubling.
double halvingDoublingAllReduce(Transport& t, int rank, int P, Eigen::VectorXf* data, double totalBytes, int tagBase,
                                Inbox& inbox, RingScalars* scalars = nullptr);

/// Recursive doubling all-reduce (Thakur, Rabenseifner & Gropp 2005, Sec. 4, Allreduce, short messages; MPICH's
/// MPIR_Allreduce_intra_recursive_doubling): D = log2 p' rounds; in round k each rank exchanges its whole vector
/// with virtual rank v XOR 2^k and adds the partner's (both partners add the same two operands, so they end with
/// the same bits). P not a power of two: MPICH's fold, as halvingDoublingAllReduce. Time: D (alpha + S/B + N/F)
/// for P = p'. Latency-optimal, bandwidth log2(P) times the ring's: for short messages.
double recursiveDoublingAllReduce(Transport& t, int rank, int P, Eigen::VectorXf* data, double totalBytes,
                                  int tagBase, Inbox& inbox, RingScalars* scalars = nullptr);

/// Binomial-tree all-reduce: a binomial-tree reduce to rank 0 followed by a binomial-tree broadcast from it, as
/// MPICH's reduce + bcast (Thakur, Rabenseifner & Gropp 2005, Sec. 4, Allreduce and Broadcast: MPICH's all-reduce
/// before Rabenseifner's). Reduce: for mask = 1, 2, 4, ...: a rank with rank & mask sends its partial sum to rank -
/// mask and stops; the others receive from rank + mask (if < P) and add it to theirs (rank r's sum is thus r's own,
/// then r+1's subtree, r+2's, ...). Broadcast: each rank receives from its parent, then sends to rank + mask for mask =
/// (its highest bit) / 2 down to 1, one message at a time (a blocking send each). Time for P = 2^L: L (2 alpha + 2 S/B
/// + N/F). For other P, ranks whose subtrees are smaller finish early and their messages overlap at the receiver: the
/// formula with L = ceil(log2 P) is then an estimate.
double binomialTreeAllReduce(Transport& t, int rank, int P, Eigen::VectorXf* data, double totalBytes, int tagBase,
                             Inbox& inbox, RingScalars* scalars = nullptr);

/// Double binary tree all-reduce as NCCL's tree algorithm builds it (Sanders, Speck & Traeff 2009, "Two-tree
/// algorithms for full bandwidth broadcast, reduction and scan", Sec. 2-3; NCCL's ncclGetDtree, src/graph/trees.cc):
/// two binary trees span the ranks; tree 0 is NCCL's in-order btree rooted at rank 0 (the root has one child; odd
/// ranks are leaves), tree 1 its mirror (rank r -> P-1-r) for even P or its shift by one for odd P, so that (for
/// even P) every rank is an inner node of at most one tree. Tree 0 all-reduces the first half of the vector
/// (ringChunk(N, 2, 0)) and tree 1 the second: each inner node waits for its children's partial sums, adds them to
/// its own in child order (own + first child + second child), sends the sum to its parent; the roots then
/// broadcast the result down the same tree (a node sends to its children at once). The two trees run
/// concurrently; each rank reacts to whichever message arrives first.
/// Variant, not pipelined: NCCL (and the paper) cut each half into chunks and pipeline them through the tree, which
/// brings the bandwidth term near the ring's; here each half travels as one message per edge, so the time for
/// P = 2^L is 2L alpha + (2L-1) S/B + (L - 1/2) N/F (latency like a binomial tree's, bandwidth about L times the
/// ring's). For P not a power of two the trees are irregular and the formula with L = ceil(log2 P) is an estimate.
/// Scalars ride with tree 0 (summed up it in child order, broadcast down).
double doubleBinaryTreeAllReduce(Transport& t, int rank, int P, Eigen::VectorXf* data, double totalBytes,
                                 int tagBase, Inbox& inbox, RingScalars* scalars = nullptr);

/// Hierarchical (two-level) all-reduce, as Horovod's hierarchical all-reduce (Sergeev & Del Balso 2018;
/// HOROVOD_HIERARCHICAL_ALLREDUCE: NCCL reduce-scatter in the node, MPI all-reduce across nodes, NCCL all-gather in
/// the node) and ASTRA-sim's multi-dimensional all-reduce (Rashidi et al. 2020: reduce-scatter on dimension 0,
/// all-reduce on dimension 1, all-gather on dimension 0). Nodes are G = ranksPerNode consecutive ranks (node n holds
/// ranks nG..nG+G-1; local index j = rank mod G); M = P/G nodes.
///  1. In each node, a ring reduce-scatter (ringReduceScatter over the node's G ranks): local rank j holds the
///     node's sum of chunk j (ringChunk(N, G, j)).
///  2. Across nodes, the G ranks of local index j (one per node) ring-all-reduce chunk j (ring reduce-scatter and
///     all-gather over M ranks), all G rings at once.
///  3. In each node, a ring all-gather of the G chunks.
/// Every rank takes part in the inter-node phase (for its shard), not only a node leader: this is the
/// bandwidth-optimal form; a leader-only variant (reduce to a leader, leaders all-reduce the whole vector, broadcast)
/// moves G times more bytes across nodes. Time: 2(G-1)(alpha + S/(G B)) + (G-1)/G N/F + 2(M-1)(alpha + S/(G M B)) +
/// (M-1)/(G M) N/F with one alpha and B for all links (a flat network: the same bandwidth term as the ring, latency
/// 2(G+M-2) alpha instead of 2(P-1) alpha); with faster links inside nodes the first and third terms shrink. G = 1 or
/// G = P: a plain ring. Scalars: summed in node 0's ring order then across nodes in node order, broadcast back.
/// Throws std::invalid_argument ("ranksPerNode") unless 1 <= G and G divides P.
double hierarchicalAllReduce(Transport& t, int rank, int P, int ranksPerNode, Eigen::VectorXf* data,
                             double totalBytes, int tagBase, Inbox& inbox, RingScalars* scalars = nullptr);

/// The all-reduce `a` (not Auto: resolve it with chooseAllReduce first; std::invalid_argument otherwise). Ring is
/// ringAllReduce itself (strategies/ringallreduce.h: channel tagBase without the inbox, bit for bit the ring of
/// earlier versions); the others are the functions above (ranksPerNode only for Hierarchical). Keep Ring and the
/// others on different channels: the ring reads its channel without the inbox, so it would miss a message stashed
/// there.
double allReduce(Algorithm a, Transport& t, int rank, int P, Eigen::VectorXf* data, double totalBytes, int tagBase,
                 Inbox& inbox, RingScalars* scalars = nullptr, int ranksPerNode = 1);

/// Ring reduce-scatter (the first half of Patarasuk & Yuan 2009's ring all-reduce, Sec. 3; as NCCL's
/// ncclReduceScatter): P-1 steps; in step s rank r sends chunk (r-s-1) mod P to (r+1) mod P and adds the chunk
/// (r-s-2) mod P it receives from (r-1) mod P. Out: elements ringChunk(N, P, rank) of *data hold their sum over the
/// P ranks (summed in the order rank+1, rank+2, ..., rank, mod P); the other elements of *data hold partial sums
/// (unspecified). Time: (P-1)(alpha + S/(P B)) + (P-1)/P N/F, S = totalBytes (the whole vector).
double ringReduceScatter(Transport& t, int rank, int P, Eigen::VectorXf* data, double totalBytes, int tagBase,
                         Inbox& inbox);

/// Ring all-gather (the second half of the ring all-reduce; as NCCL's ncclAllGather): in, rank r's elements
/// ringChunk(N, P, r) of *data (the rest is ignored); out, the whole vector on every rank (copies of each rank's
/// chunk). P-1 steps; in step s rank r forwards chunk (r-s) mod P to (r+1) mod P. Time: (P-1)(alpha + S/(P B)),
/// S = totalBytes (the whole gathered vector). (The all-gather of encoded gradients is dml::ringAllGather.)
double ringAllGather(Transport& t, int rank, int P, Eigen::VectorXf* data, double totalBytes, int tagBase,
                     Inbox& inbox);

/// Reduce-scatter by recursive halving (Thakur, Rabenseifner & Gropp 2005, Sec. 4, Reduce-Scatter, commutative
/// operations; the first half of halvingDoublingAllReduce): the same input and output as ringReduceScatter (rank r ends
/// with the sum of chunk ringChunk(N, P, r)) in log2 P steps. Time: log2(P) alpha + (P-1)/P (S/B + N/F). P must be a
/// power of two (std::invalid_argument "P" otherwise).
double halvingReduceScatter(Transport& t, int rank, int P, Eigen::VectorXf* data, double totalBytes, int tagBase,
                            Inbox& inbox);

/// All-gather by recursive doubling (Thakur, Rabenseifner & Gropp 2005, Sec. 4, Allgather; the second half of
/// halvingDoublingAllReduce): the same input and output as ringAllGather in log2 P steps, exchanging 1, 2, 4, ...
/// chunks. Time: log2(P) alpha + (P-1)/P S/B. P must be a power of two (std::invalid_argument "P" otherwise).
double doublingAllGather(Transport& t, int rank, int P, Eigen::VectorXf* data, double totalBytes, int tagBase,
                         Inbox& inbox);

} // namespace collectives
} // namespace dml
