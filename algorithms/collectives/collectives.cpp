// SPDX-License-Identifier: GPL-3.0-or-later
#include "collectives/collectives.h"

#include "strategies/ringallreduce.h" // ringAllReduce, ringChunk, RingScalars

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>

namespace dml::collectives {

void Inbox::bind(Transport& t, int tag)
{
    if (std::find(m_bound.begin(), m_bound.end(), tag) != m_bound.end())
        return;
    m_bound.push_back(tag);
    if (std::optional<Message> m = t.recv(tag, 0.0))
        m_early.push_back(std::move(*m));
}

Message Inbox::take(Transport& t, int tag, int kind)
{
    return takeAny(t, tag, {kind});
}

Message Inbox::takeAny(Transport& t, int tag, const std::vector<int>& kinds)
{
    auto wanted = [&](const Message& m) { return std::find(kinds.begin(), kinds.end(), m.kind) != kinds.end(); };
    for (auto it = m_early.begin(); it != m_early.end(); ++it)
        if (wanted(*it)) {
            Message m = std::move(*it);
            m_early.erase(it);
            return m;
        }
    for (;;) {
        Message m = t.recv(tag);
        if (wanted(m))
            return m;
        m_early.push_back(std::move(m));
    }
}

namespace {

constexpr const char* Names[] = {"ring",          "halving-doubling",   "recursive-doubling", "binomial-tree",
                                 "double-binary-tree", "hierarchical", "auto"}; // in Algorithm's order

bool isPowerOfTwo(int p)
{
    return p > 0 && (p & (p - 1)) == 0;
}

/// 2^floor(log2 p), p >= 1.
int floorPow2(int p)
{
    int q = 1;
    while (q * 2 <= p)
        q *= 2;
    return q;
}

/// ceil(log2 p), p >= 1 (log2 p for a power of two).
int ceilLog2(int p)
{
    int d = 0;
    while ((1 << d) < p)
        ++d;
    return d;
}

void checkRanks(const char* fn, int rank, int P)
{
    if (P < 1)
        throw std::invalid_argument(std::string(fn) + ": P = " + std::to_string(P) + ", expected at least 1 rank");
    if (rank < 0 || rank >= P)
        throw std::invalid_argument(std::string(fn) + ": rank = " + std::to_string(rank) + " outside [0, " +
                                    std::to_string(P) + ")");
}

/// One rank's view of one collective call: the vector, the byte scale, its channel and inbox, the bytes sent.
struct Call {
    Transport& t;
    int P;
    int me;
    Eigen::VectorXf* data;
    Eigen::Index N;
    double bytesPerElement;
    int tag;
    Inbox& inbox;
    double sent = 0;

    Call(Transport& t, int P, int me, Eigen::VectorXf* data, double totalBytes, int tag, Inbox& inbox)
        : t(t), P(P), me(me), data(data), N(data ? data->size() : Eigen::Index(std::llround(totalBytes / 4.0))),
          bytesPerElement(N > 0 ? totalBytes / double(N) : 0.0), tag(tag), inbox(inbox)
    {
        inbox.bind(t, tag);
    }
    /// Message::kind of step `step`. Every algorithm here has each rank receive each step from one sender only, and
    /// a sender's messages arrive in order, so the step alone tells a message of this call from the next call's.
    int kind(int step) const { return step; }
    /// Starts sending elements [b, b+len) to `dst` as step `step`, with the scalars `s` if given.
    void send(int dst, int step, Eigen::Index b, Eigen::Index len, const RingScalars* s = nullptr)
    {
        Message m{.kind = kind(step), .bytes = bytesPerElement * double(len)};
        if (data)
            m.data = std::make_shared<const Eigen::VectorXf>(data->segment(b, len));
        if (s) {
            m.version = s->flags;
            m.value = s->sum;
        }
        sent += m.bytes;
        t.isend(dst, tag, std::move(m));
    }
    /// Step `step`'s message (from its one sender).
    Message recv(int step) { return inbox.take(t, tag, kind(step)); }
    /// data[b, b+len) += m's payload (charged len flops).
    void add(Eigen::Index b, Eigen::Index len, const Message& m)
    {
        if (data)
            data->segment(b, len) += *m.data;
        if (len > 0)
            t.compute(double(len));
    }
    void store(Eigen::Index b, Eigen::Index len, const Message& m)
    {
        if (data)
            data->segment(b, len) = *m.data;
    }
};

/// Scalars: this rank's partial `acc` += a received message's (a commutative sum, so both partners of an exchange
/// compute the same bits), flags OR-ed.
void addScalars(RingScalars& acc, const Message& m)
{
    acc.sum = m.value + acc.sum;
    acc.flags = m.version | acc.flags;
}
void setScalars(RingScalars& acc, const Message& m)
{
    acc.sum = m.value;
    acc.flags = m.version;
}

/// A ring over `members` (positions, in ring order; this rank is members[i]) on elements [off, off+len) cut into
/// G = members.size() chunks ringChunk(len, G, c). Steps are numbered from `step0` (G-1 of them).
struct SubRing {
    const std::vector<int>& members;
    int i;
    Eigen::Index off, len;

    int G() const { return int(members.size()); }
    int mod(int x) const { return ((x % G()) + G()) % G(); }
    std::pair<Eigen::Index, Eigen::Index> chunk(int c) const
    {
        const auto [b, e] = ringChunk(len, G(), c);
        return {off + b, e - b};
    }

    /// Reduce-scatter: member i ends with the sum of chunk i. Scalars ride with chunk 0 (member 0 ends with the
    /// sum in the order 1, 2, ..., G-1, 0).
    void reduceScatter(Call& call, int step0, RingScalars* acc) const
    {
        const int next = members[std::size_t(mod(i + 1))];
        for (int s = 0; s < G() - 1; ++s) {
            const int out = mod(i - s - 1), in = mod(i - s - 2);
            const auto [ob, ol] = chunk(out);
            call.send(next, step0 + s, ob, ol, out == 0 ? acc : nullptr);
            Message m = call.recv(step0 + s);
            call.t.waitAll();
            const auto [ib, il] = chunk(in);
            call.add(ib, il, m);
            if (in == 0 && acc)
                addScalars(*acc, m);
        }
    }
    /// All-gather: member i holds chunk i; afterwards every member holds all. Scalars ride with chunk 0 from
    /// member 0.
    void allGather(Call& call, int step0, RingScalars* acc) const
    {
        const int next = members[std::size_t(mod(i + 1))];
        for (int s = 0; s < G() - 1; ++s) {
            const int out = mod(i - s), in = mod(i - s - 1);
            const auto [ob, ol] = chunk(out);
            call.send(next, step0 + s, ob, ol, out == 0 ? acc : nullptr);
            Message m = call.recv(step0 + s);
            call.t.waitAll();
            const auto [ib, il] = chunk(in);
            call.store(ib, il, m);
            if (in == 0 && acc)
                setScalars(*acc, m);
        }
    }
};

std::vector<int> iota(int n)
{
    std::vector<int> v(std::size_t(std::max(n, 0)));
    for (int i = 0; i < n; ++i)
        v[std::size_t(i)] = i;
    return v;
}

/// The power-of-two core shared by recursive doubling and halving-doubling, with MPICH's fold for other P:
/// the virtual rank of this position (-1 if it sits out), and the position of a virtual rank.
struct Fold {
    int P, pof2, rem;
    explicit Fold(int P) : P(P), pof2(floorPow2(P)), rem(P - floorPow2(P)) {}
    int virtualRank(int r) const { return r < 2 * rem ? (r % 2 == 0 ? -1 : r / 2) : r - rem; }
    int position(int v) const { return v < rem ? 2 * v + 1 : v + rem; }
    /// Before: even ranks < 2 rem hand their vector to the odd neighbour, which adds it (step `step`).
    /// Returns false if this rank sits out.
    bool in(Call& c, int step, RingScalars* acc) const
    {
        if (c.me >= 2 * rem)
            return true;
        if (c.me % 2 == 0) {
            c.send(c.me + 1, step, 0, c.N, acc);
            c.t.waitAll();
            return false;
        }
        Message m = c.recv(step);
        c.add(0, c.N, m);
        if (acc)
            addScalars(*acc, m);
        return true;
    }
    /// After: the odd neighbours hand the result back (step `step`).
    void out(Call& c, int step, RingScalars* acc) const
    {
        if (c.me >= 2 * rem)
            return;
        if (c.me % 2 == 1) {
            c.send(c.me - 1, step, 0, c.N, acc);
            c.t.waitAll();
            return;
        }
        Message m = c.recv(step);
        c.store(0, c.N, m);
        if (acc)
            setScalars(*acc, m);
    }
};

/// Recursive halving over the p' virtual ranks (fold.position maps them to positions), chunks ringChunk(N, p', c):
/// virtual rank v ends with the sum of chunk v. Steps step0 .. step0 + D - 1.
void recursiveHalving(Call& c, const Fold& f, int v, int step0, RingScalars* acc)
{
    const int p = f.pof2;
    int lo = 0, hi = p; // this rank's range of chunks
    auto range = [&](int a, int b) { // elements of chunks [a, b)
        const Eigen::Index begin = ringChunk(c.N, p, a).first, end = b < p ? ringChunk(c.N, p, b).first : c.N;
        return std::pair<Eigen::Index, Eigen::Index>{begin, end - begin};
    };
    int step = step0;
    for (int d = p / 2; d >= 1; d /= 2, ++step) {
        const int partner = f.position(v ^ d);
        const int mid = lo + (hi - lo) / 2;
        const bool lower = (v & d) == 0;
        const auto [sb, sl] = lower ? range(mid, hi) : range(lo, mid);
        c.send(partner, step, sb, sl, acc);
        Message m = c.recv(step);
        c.t.waitAll();
        if (lower)
            hi = mid;
        else
            lo = mid;
        const auto [kb, kl] = range(lo, hi);
        c.add(kb, kl, m);
        if (acc)
            addScalars(*acc, m);
    }
}

/// Recursive doubling all-gather over the p' virtual ranks: virtual rank v holds chunk v; afterwards all chunks.
void recursiveDoublingGather(Call& c, const Fold& f, int v, int step0)
{
    const int p = f.pof2;
    auto range = [&](int a, int b) {
        const Eigen::Index begin = ringChunk(c.N, p, a).first, end = b < p ? ringChunk(c.N, p, b).first : c.N;
        return std::pair<Eigen::Index, Eigen::Index>{begin, end - begin};
    };
    int step = step0;
    for (int d = 1; d < p; d *= 2, ++step) {
        const int partner = f.position(v ^ d);
        const int mine = v & ~(d - 1), theirs = (v ^ d) & ~(d - 1); // aligned blocks of d chunks
        const auto [sb, sl] = range(mine, mine + d);
        c.send(partner, step, sb, sl);
        Message m = c.recv(step);
        c.t.waitAll();
        const auto [rb, rl] = range(theirs, theirs + d);
        c.store(rb, rl, m);
    }
}

/// NCCL's btree (ncclGetBtree, src/graph/trees.cc): rank's parent (-1 for the root 0) and children (-1: none).
void btree(int P, int rank, int& up, int& d0, int& d1)
{
    int bit = 1;
    for (; bit < P; bit <<= 1)
        if (bit & rank)
            break;
    if (rank == 0) {
        up = -1;
        d0 = P > 1 ? bit >> 1 : -1;
        d1 = -1;
        return;
    }
    up = (rank ^ bit) | (bit << 1);
    if (up >= P)
        up = rank ^ bit;
    int lowbit = bit >> 1;
    d0 = lowbit == 0 ? -1 : rank - lowbit;
    d1 = lowbit == 0 ? -1 : rank + lowbit;
    while (d1 >= P) {
        d1 = lowbit == 0 ? -1 : rank + lowbit;
        lowbit >>= 1;
    }
}

/// NCCL's double binary tree (ncclGetDtree): tree 0 is the btree, tree 1 its mirror (even P) or shift (odd P).
struct TreeNode {
    int up = -1;
    std::vector<int> children; // in NCCL's order d0, d1
};
TreeNode dtreeNode(int P, int rank, int tree)
{
    int u, d0, d1;
    if (tree == 0) {
        btree(P, rank, u, d0, d1);
    } else if (P % 2 == 1) {
        btree(P, (rank - 1 + P) % P, u, d0, d1);
        auto back = [P](int x) { return x == -1 ? -1 : (x + 1) % P; };
        u = back(u), d0 = back(d0), d1 = back(d1);
    } else {
        btree(P, P - 1 - rank, u, d0, d1);
        auto back = [P](int x) { return x == -1 ? -1 : P - 1 - x; };
        u = back(u), d0 = back(d0), d1 = back(d1);
    }
    TreeNode n;
    n.up = u;
    for (int d : {d0, d1})
        if (d != -1)
            n.children.push_back(d);
    return n;
}

void checkPositive(const CostModel& m)
{
    if (!(m.bandwidth > 0) || !std::isfinite(m.bandwidth))
        throw std::invalid_argument("CostModel: bandwidth must be finite and > 0 bytes/s");
    if (!(m.alpha >= 0) || !std::isfinite(m.alpha))
        throw std::invalid_argument("CostModel: alpha must be finite and >= 0 s");
    if (!(m.flopRate >= 0) || std::isnan(m.flopRate))
        throw std::invalid_argument("CostModel: flopRate must be >= 0 flops/s (0: additions are free)");
}

} // namespace

const char* toString(Algorithm a)
{
    return Names[int(a)];
}

std::vector<std::string> algorithmNames()
{
    return {std::begin(Names), std::end(Names)};
}

Algorithm parseAlgorithm(const std::string& name)
{
    for (int i = 0; i < int(std::size(Names)); ++i)
        if (name == Names[i])
            return Algorithm(i);
    std::string list;
    for (const char* n : Names)
        list += std::string(list.empty() ? "" : ", ") + "\"" + n + "\"";
    throw std::invalid_argument("unknown collective \"" + name + "\"; expected one of " + list);
}

double predictedTime(Algorithm a, int P, double S, const CostModel& m, int G)
{
    if (P < 1)
        throw std::invalid_argument("predictedTime: P = " + std::to_string(P) + ", expected at least 1 rank");
    if (!(S >= 0) || !std::isfinite(S))
        throw std::invalid_argument("predictedTime: bytes must be finite and >= 0");
    checkPositive(m);
    if (P == 1)
        return 0;
    const double alpha = m.alpha, beta = 1.0 / m.bandwidth;
    const double gamma = m.flopRate > 0 && std::isfinite(m.flopRate) ? 1.0 / m.flopRate : 0.0;
    const double N = S / 4.0, p = P;
    const int pof2 = floorPow2(P), D = ceilLog2(pof2), L = ceilLog2(P);
    const double q = pof2;
    const double fold = P == pof2 ? 0.0 : 2 * (alpha + S * beta) + N * gamma;
    switch (a) {
    case Algorithm::Ring: return 2 * (p - 1) * (alpha + S * beta / p) + (p - 1) / p * N * gamma;
    case Algorithm::HalvingDoubling:
        return 2 * D * alpha + 2 * (q - 1) / q * S * beta + (q - 1) / q * N * gamma + fold;
    case Algorithm::RecursiveDoubling: return D * (alpha + S * beta + N * gamma) + fold;
    case Algorithm::BinomialTree: return L * (2 * alpha + 2 * S * beta + N * gamma);
    case Algorithm::DoubleBinaryTree: return 2 * L * alpha + (2 * L - 1) * S * beta + (L - 0.5) * N * gamma;
    case Algorithm::Hierarchical: {
        if (G < 1 || P % G != 0)
            throw std::invalid_argument("predictedTime: ranksPerNode = " + std::to_string(G) +
                                        " does not divide P = " + std::to_string(P));
        const double g = G, M = P / G;
        return 2 * (g - 1) * (alpha + S * beta / g) + (g - 1) / g * N * gamma +
               2 * (M - 1) * (alpha + S * beta / (g * M)) + (M - 1) / (g * M) * N * gamma;
    }
    case Algorithm::Auto: return predictedTime(chooseAllReduce(P, S, m), P, S, m);
    }
    return 0;
}

Algorithm chooseAllReduce(int P, double bytes, const CostModel& m, const std::vector<Algorithm>& among,
                          int ranksPerNode)
{
    static const std::vector<Algorithm> flat{Algorithm::Ring, Algorithm::HalvingDoubling,
                                             Algorithm::RecursiveDoubling, Algorithm::BinomialTree,
                                             Algorithm::DoubleBinaryTree};
    std::vector<Algorithm> order = among.empty() ? flat : among;
    if (std::find(order.begin(), order.end(), Algorithm::Auto) != order.end())
        throw std::invalid_argument("chooseAllReduce: \"auto\" cannot be one of the algorithms auto chooses among");
    std::sort(order.begin(), order.end());
    order.erase(std::unique(order.begin(), order.end()), order.end());
    Algorithm best = order.front();
    double bestTime = predictedTime(best, P, bytes, m, ranksPerNode);
    for (Algorithm a : order) {
        const double t = predictedTime(a, P, bytes, m, ranksPerNode);
        if (t < bestTime) {
            best = a;
            bestTime = t;
        }
    }
    return best;
}

double halvingDoublingAllReduce(Transport& t, int rank, int P, Eigen::VectorXf* data, double totalBytes, int tagBase,
                                Inbox& inbox, RingScalars* scalars)
{
    checkRanks("halvingDoublingAllReduce", rank, P);
    if (P == 1)
        return 0;
    Call c(t, P, rank, data, totalBytes, tagBase, inbox);
    const Fold f(P);
    const int D = ceilLog2(f.pof2);
    if (f.in(c, 0, scalars)) {
        const int v = f.virtualRank(rank);
        recursiveHalving(c, f, v, 1, scalars);
        recursiveDoublingGather(c, f, v, 1 + D);
    }
    f.out(c, 1 + 2 * D, scalars);
    return c.sent;
}

double recursiveDoublingAllReduce(Transport& t, int rank, int P, Eigen::VectorXf* data, double totalBytes,
                                  int tagBase, Inbox& inbox, RingScalars* scalars)
{
    checkRanks("recursiveDoublingAllReduce", rank, P);
    if (P == 1)
        return 0;
    Call c(t, P, rank, data, totalBytes, tagBase, inbox);
    const Fold f(P);
    int step = 1;
    if (f.in(c, 0, scalars)) {
        const int v = f.virtualRank(rank);
        for (int mask = 1; mask < f.pof2; mask <<= 1, ++step) {
            const int partner = f.position(v ^ mask);
            c.send(partner, step, 0, c.N, scalars);
            Message m = c.recv(step);
            c.t.waitAll();
            c.add(0, c.N, m); // own + partner's = partner's + own: the same bits on both
            if (scalars)
                addScalars(*scalars, m);
        }
    }
    f.out(c, 1 + ceilLog2(f.pof2), scalars);
    return c.sent;
}

double binomialTreeAllReduce(Transport& t, int rank, int P, Eigen::VectorXf* data, double totalBytes, int tagBase,
                             Inbox& inbox, RingScalars* scalars)
{
    checkRanks("binomialTreeAllReduce", rank, P);
    if (P == 1)
        return 0;
    Call c(t, P, rank, data, totalBytes, tagBase, inbox);
    // Reduce to rank 0 (steps 0..L-1: the step is log2 mask).
    int mask = 1, step = 0;
    for (; mask < P; mask <<= 1, ++step) {
        if (rank & mask) {
            c.send(rank - mask, step, 0, c.N, scalars);
            c.t.waitAll();
            break;
        }
        if (rank + mask < P) {
            Message m = c.recv(step);
            c.add(0, c.N, m);
            if (scalars)
                addScalars(*scalars, m);
        }
    }
    // Broadcast from rank 0 (step L for every message): receive from the parent, then send to the children.
    const int L = ceilLog2(P);
    mask = 1;
    for (; mask < P; mask <<= 1)
        if (rank & mask) {
            Message m = c.recv(L);
            c.store(0, c.N, m);
            if (scalars)
                setScalars(*scalars, m);
            break;
        }
    for (mask >>= 1; mask > 0; mask >>= 1)
        if (rank + mask < P) {
            c.send(rank + mask, L, 0, c.N, scalars);
            c.t.waitAll(); // one child at a time, as MPICH's binomial broadcast
        }
    return c.sent;
}

double doubleBinaryTreeAllReduce(Transport& t, int rank, int P, Eigen::VectorXf* data, double totalBytes,
                                 int tagBase, Inbox& inbox, RingScalars* scalars)
{
    checkRanks("doubleBinaryTreeAllReduce", rank, P);
    if (P == 1)
        return 0;
    Call c(t, P, rank, data, totalBytes, tagBase, inbox);
    // Steps (Message::kind): 2k + i carries the partial sum of a node's child i up tree k, 4 + k the broadcast down
    // tree k; so a rank expects each step from one sender only.
    struct Tree {
        TreeNode node;
        int childIndex = 0;                               // this rank's index among its parent's children
        Eigen::Index b = 0, len = 0;                      // the tree's half of the vector
        std::vector<std::optional<Message>> fromChildren; // until all arrived
        int arrived = 0;
        bool done = false; // holds the final half
    } trees[2];
    RingScalars acc = scalars ? *scalars : RingScalars{};
    for (int k = 0; k < 2; ++k) {
        Tree& tr = trees[k];
        tr.node = dtreeNode(P, rank, k);
        if (tr.node.up >= 0) {
            const std::vector<int> siblings = dtreeNode(P, tr.node.up, k).children;
            tr.childIndex = int(std::find(siblings.begin(), siblings.end(), rank) - siblings.begin());
        }
        const auto [b, e] = ringChunk(c.N, 2, k);
        tr.b = b;
        tr.len = e - b;
        tr.fromChildren.resize(tr.node.children.size());
    }
    auto scal = [&](int k) { return scalars && k == 0 ? &acc : nullptr; };
    auto broadcast = [&](int k) {
        Tree& tr = trees[k];
        tr.done = true;
        for (int ch : tr.node.children)
            c.send(ch, 4 + k, tr.b, tr.len, scal(k)); // to all children at once
    };
    // All children in: add their sums to this rank's in child order, then send up (the root: broadcast).
    auto reduce = [&](int k) {
        Tree& tr = trees[k];
        for (std::optional<Message>& m : tr.fromChildren) {
            c.add(tr.b, tr.len, *m);
            if (scal(k))
                addScalars(acc, *m);
            m.reset();
        }
        if (tr.node.up >= 0)
            c.send(tr.node.up, 2 * k + tr.childIndex, tr.b, tr.len, scal(k));
        else
            broadcast(k);
    };
    for (int k = 0; k < 2; ++k)
        if (trees[k].node.children.empty())
            reduce(k); // a leaf sends its half at once
    while (!trees[0].done || !trees[1].done) {
        std::vector<int> kinds; // the messages this rank waits for now, whichever comes first
        for (int k = 0; k < 2; ++k) {
            const Tree& tr = trees[k];
            if (tr.done)
                continue;
            if (tr.arrived < int(tr.node.children.size())) {
                for (std::size_t i = 0; i < tr.fromChildren.size(); ++i)
                    if (!tr.fromChildren[i])
                        kinds.push_back(c.kind(2 * k + int(i)));
            } else {
                kinds.push_back(c.kind(4 + k));
            }
        }
        Message m = c.inbox.takeAny(t, tagBase, kinds);
        const int step = m.kind;
        if (step < 4) {
            const int k = step / 2;
            Tree& tr = trees[k];
            tr.fromChildren[std::size_t(step % 2)] = std::move(m);
            if (++tr.arrived == int(tr.node.children.size()))
                reduce(k);
        } else {
            const int k = step - 4;
            c.store(trees[k].b, trees[k].len, m);
            if (scal(k))
                setScalars(acc, m);
            broadcast(k);
        }
    }
    c.t.waitAll();
    if (scalars)
        *scalars = acc;
    return c.sent;
}

double hierarchicalAllReduce(Transport& t, int rank, int P, int G, Eigen::VectorXf* data, double totalBytes,
                             int tagBase, Inbox& inbox, RingScalars* scalars)
{
    checkRanks("hierarchicalAllReduce", rank, P);
    if (G < 1 || P % G != 0)
        throw std::invalid_argument("hierarchicalAllReduce: ranksPerNode = " + std::to_string(G) +
                                    " must be at least 1 and divide P = " + std::to_string(P));
    if (P == 1)
        return 0;
    Call c(t, P, rank, data, totalBytes, tagBase, inbox);
    const int M = P / G, node = rank / G, j = rank % G;
    std::vector<int> intra(static_cast<std::size_t>(G)), inter(static_cast<std::size_t>(M));
    for (int i = 0; i < G; ++i)
        intra[std::size_t(i)] = node * G + i;
    for (int n = 0; n < M; ++n)
        inter[std::size_t(n)] = n * G + j;
    const SubRing inNode{intra, j, 0, c.N};
    inNode.reduceScatter(c, 0, scalars);
    const auto [b, len] = inNode.chunk(j);
    const SubRing across{inter, node, b, len};
    RingScalars* leaderScalars = j == 0 ? scalars : nullptr; // the node's sum sits with local rank 0
    across.reduceScatter(c, G, leaderScalars);
    across.allGather(c, G + M, leaderScalars);
    inNode.allGather(c, G + 2 * M, scalars);
    return c.sent;
}

double allReduce(Algorithm a, Transport& t, int rank, int P, Eigen::VectorXf* data, double totalBytes, int tagBase,
                 Inbox& inbox, RingScalars* scalars, int ranksPerNode)
{
    switch (a) {
    case Algorithm::Ring: {
        checkRanks("allReduce", rank, P);
        ringAllReduce(t, rank, P, data, totalBytes, tagBase, scalars);
        const Eigen::Index N = data ? data->size() : Eigen::Index(std::llround(totalBytes / 4.0));
        double sent = 0;
        for (int s = 0; P > 1 && s < P - 1; ++s) { // chunks rank-s (reduce-scatter) and rank+1-s (all-gather)
            for (int c : {((rank - s) % P + P) % P, ((rank + 1 - s) % P + P) % P}) {
                const auto [b, e] = ringChunk(N, P, c);
                sent += N > 0 ? totalBytes * double(e - b) / double(N) : 0.0;
            }
        }
        return sent;
    }
    case Algorithm::HalvingDoubling:
        return halvingDoublingAllReduce(t, rank, P, data, totalBytes, tagBase, inbox, scalars);
    case Algorithm::RecursiveDoubling:
        return recursiveDoublingAllReduce(t, rank, P, data, totalBytes, tagBase, inbox, scalars);
    case Algorithm::BinomialTree:
        return binomialTreeAllReduce(t, rank, P, data, totalBytes, tagBase, inbox, scalars);
    case Algorithm::DoubleBinaryTree:
        return doubleBinaryTreeAllReduce(t, rank, P, data, totalBytes, tagBase, inbox, scalars);
    case Algorithm::Hierarchical:
        return hierarchicalAllReduce(t, rank, P, ranksPerNode, data, totalBytes, tagBase, inbox, scalars);
    case Algorithm::Auto: break;
    }
    throw std::invalid_argument("allReduce: \"auto\" must be resolved with chooseAllReduce first");
}

double ringReduceScatter(Transport& t, int rank, int P, Eigen::VectorXf* data, double totalBytes, int tagBase,
                         Inbox& inbox)
{
    checkRanks("ringReduceScatter", rank, P);
    if (P == 1)
        return 0;
    Call c(t, P, rank, data, totalBytes, tagBase, inbox);
    const std::vector<int> all = iota(P);
    SubRing{all, rank, 0, c.N}.reduceScatter(c, 0, nullptr);
    return c.sent;
}

double ringAllGather(Transport& t, int rank, int P, Eigen::VectorXf* data, double totalBytes, int tagBase,
                     Inbox& inbox)
{
    checkRanks("ringAllGather", rank, P);
    if (P == 1)
        return 0;
    Call c(t, P, rank, data, totalBytes, tagBase, inbox);
    const std::vector<int> all = iota(P);
    SubRing{all, rank, 0, c.N}.allGather(c, 0, nullptr);
    return c.sent;
}

double halvingReduceScatter(Transport& t, int rank, int P, Eigen::VectorXf* data, double totalBytes, int tagBase,
                            Inbox& inbox)
{
    checkRanks("halvingReduceScatter", rank, P);
    if (!isPowerOfTwo(P))
        throw std::invalid_argument("halvingReduceScatter: P = " + std::to_string(P) +
                                    " is not a power of two (use ringReduceScatter)");
    if (P == 1)
        return 0;
    Call c(t, P, rank, data, totalBytes, tagBase, inbox);
    recursiveHalving(c, Fold(P), rank, 0, nullptr);
    return c.sent;
}

double doublingAllGather(Transport& t, int rank, int P, Eigen::VectorXf* data, double totalBytes, int tagBase,
                         Inbox& inbox)
{
    checkRanks("doublingAllGather", rank, P);
    if (!isPowerOfTwo(P))
        throw std::invalid_argument("doublingAllGather: P = " + std::to_string(P) +
                                    " is not a power of two (use ringAllGather)");
    if (P == 1)
        return 0;
    Call c(t, P, rank, data, totalBytes, tagBase, inbox);
    recursiveDoublingGather(c, Fold(P), rank, 0);
    return c.sent;
}

} // namespace dml::collectives
