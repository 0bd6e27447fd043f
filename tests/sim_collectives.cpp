// SPDX-License-Identifier: GPL-3.0-or-later
// Collective algorithms (collectives/collectives.h) run in SimGrid: their time on an ideal full-duplex star against
// the alpha-beta formulas, their results against a double-precision sum, bit-identical replicas, the `auto`
// switch point, and the ring-allreduce strategy's collective option. One simulation per class (simcase.h).
#include "simcase.h"
#include "simutil.h"

#include "collectives/collectives.h"
#include "rng.h"
#include "strategies/ringallreduce.h"

#include <QTest>

#include <cmath>
#include <cstring>
#include <functional>
#include <optional>
#include <stdexcept>

using namespace dml;
using namespace dml::test;
using collectives::Algorithm;

namespace {

bool bitIdentical(const Eigen::VectorXf& a, const Eigen::VectorXf& b)
{
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), sizeof(float) * std::size_t(a.size())) == 0;
}

QString name(Algorithm a)
{
    return collectives::toString(a);
}

bool sameBits(const float* a, const float* b, Eigen::Index n)
{
    return n == 0 || std::memcmp(a, b, sizeof(float) * std::size_t(n)) == 0;
}

bool isPow2(int p)
{
    return p > 0 && (p & (p - 1)) == 0;
}

int ceilLog2(int p)
{
    int d = 0;
    while ((1 << d) < p)
        ++d;
    return d;
}

/// What a probe call runs.
enum class Op { AllReduce, RingReduceScatter, RingAllGather, HalvingReduceScatter, DoublingAllGather };

const char* opName(Op op, Algorithm a)
{
    switch (op) {
    case Op::AllReduce: return collectives::toString(a);
    case Op::RingReduceScatter: return "ring reduce-scatter";
    case Op::RingAllGather: return "ring all-gather";
    case Op::HalvingReduceScatter: return "halving reduce-scatter";
    case Op::DoublingAllGather: return "doubling all-gather";
    }
    return "?";
}

struct Call {
    Op op = Op::AllReduce;
    Algorithm algorithm = Algorithm::Ring;
    int P = 1;              ///< ranks 0..P-1 take part
    int G = 1;              ///< hierarchical: ranks per node
    Eigen::Index n = 0;     ///< real floats (0 with a proxy)
    double proxyBytes = 0;  ///< > 0: a proxy of that many bytes
    double start = -1;      ///< >= 0: every rank starts at this simulated time
};

/// A test strategy: `ranks` ranks run a list of collective calls; call c uses channel 100 + c and ranks 0..P-1.
class CollectiveProbe final : public Strategy {
public:
    static constexpr int SleepTag = 99; // nothing is ever sent on it: a receive with a timeout is a sleep

    CollectiveProbe(int ranks, std::vector<Call> calls, std::uint64_t seed) : m_ranks(ranks), m_calls(std::move(calls))
    {
        for (std::size_t c = 0; c < m_calls.size(); ++c) {
            std::vector<Eigen::VectorXf> perRank;
            for (int r = 0; r < m_calls[c].P; ++r) {
                Rng rng(deriveSeed(seed, c, std::uint64_t(r)));
                Eigen::VectorXf v(m_calls[c].n);
                for (Eigen::Index i = 0; i < v.size(); ++i)
                    v[i] = float(0.5 + rng.uniform()); // no cancellation in the sums
                perRank.push_back(std::move(v));
            }
            inputs.push_back(perRank);
            outputs.push_back(perRank);
            scalars.emplace_back(std::size_t(m_calls[c].P));
            times.emplace_back(std::size_t(m_calls[c].P));
            leftover.emplace_back(std::size_t(m_calls[c].P), 0);
        }
    }
    int numRanks() const override { return m_ranks; }
    std::string roleOf(int) const override { return "worker"; }
    void run(int rank, Transport& t) override
    {
        for (std::size_t c = 0; c < m_calls.size(); ++c) {
            const Call& k = m_calls[c];
            if (rank >= k.P)
                continue;
            if (k.start >= 0 && t.now() < k.start)
                t.recv(SleepTag, k.start - t.now());
            RingScalars s{.sum = 0.1 * (rank + 1) + 1e-9 * rank, .flags = 1L << (rank % 62)};
            collectives::Inbox inbox;
            Eigen::VectorXf* v = k.proxyBytes > 0 ? nullptr : &outputs[c][std::size_t(rank)];
            const double bytes = k.proxyBytes > 0 ? k.proxyBytes : 4.0 * double(k.n);
            const int tag = 100 + int(c);
            const double t0 = t.now();
            switch (k.op) {
            case Op::AllReduce: collectives::allReduce(k.algorithm, t, rank, k.P, v, bytes, tag, inbox, &s, k.G); break;
            case Op::RingReduceScatter: collectives::ringReduceScatter(t, rank, k.P, v, bytes, tag, inbox); break;
            case Op::RingAllGather: collectives::ringAllGather(t, rank, k.P, v, bytes, tag, inbox); break;
            case Op::HalvingReduceScatter: collectives::halvingReduceScatter(t, rank, k.P, v, bytes, tag, inbox); break;
            case Op::DoublingAllGather: collectives::doublingAllGather(t, rank, k.P, v, bytes, tag, inbox); break;
            }
            times[c][std::size_t(rank)] = {t0, t.now()};
            scalars[c][std::size_t(rank)] = s;
            leftover[c][std::size_t(rank)] = int(inbox.waiting());
        }
    }
    std::string stopReason() const override { return "done"; }
    const Eigen::VectorXf& finalModel() const override { return m_none; }

    /// Call c's duration: from its common start to the last rank's end.
    double duration(std::size_t c) const
    {
        double end = 0;
        for (const auto& [t0, t1] : times[c])
            end = std::max(end, t1);
        return end - m_calls[c].start;
    }

    std::vector<std::vector<Eigen::VectorXf>> inputs, outputs; // [call][rank]
    std::vector<std::vector<RingScalars>> scalars;             // [call][rank]
    std::vector<std::vector<std::pair<double, double>>> times; // [call][rank]: start, end
    std::vector<std::vector<int>> leftover;                    // [call][rank]: messages left in the inbox

private:
    int m_ranks;
    std::vector<Call> m_calls;
    Eigen::VectorXf m_none;
};

/// The alpha-beta-gamma formulas, written out here from the papers (not taken from collectives::predictedTime):
/// S bytes, N = S/4 elements, alpha route latency, B link bandwidth, F flop rate. `exact`: whether the schedule
/// is free of contention on the star for this P, so that the formula is the simulated time.
struct Expected {
    double time;
    bool exact;
};
Expected formula(Op op, Algorithm a, int P, int G, double S, double alpha, double B, double F)
{
    const double p = P, N = S / 4;
    const int q = 1 << (ceilLog2(P + 1) - 1); // 2^floor(log2 P)
    const double D = ceilLog2(q), L = ceilLog2(P), Q = q;
    const double fold = P == q ? 0 : 2 * (alpha + S / B) + N / F;
    switch (op) {
    case Op::RingReduceScatter: return {(p - 1) * (alpha + S / (p * B)) + (p - 1) * (N / p) / F, true};
    case Op::RingAllGather: return {(p - 1) * (alpha + S / (p * B)), true};
    case Op::HalvingReduceScatter: return {D * alpha + (p - 1) / p * (S / B + N / F), true};
    case Op::DoublingAllGather: return {D * alpha + (p - 1) / p * S / B, true};
    case Op::AllReduce: break;
    }
    switch (a) {
    case Algorithm::Ring: // Patarasuk & Yuan 2009: 2(P-1) steps of S/P bytes, P-1 chunk additions
        return {2 * (p - 1) * (alpha + S / (p * B)) + (p - 1) * (N / p) / F, true};
    case Algorithm::HalvingDoubling: // Thakur et al. 2005: 2 lg p alpha + 2 (p-1)/p S beta + (p-1)/p N gamma
        return {2 * D * alpha + 2 * (Q - 1) / Q * S / B + (Q - 1) / Q * N / F + fold, P == q};
    case Algorithm::RecursiveDoubling: // lg p (alpha + S beta + N gamma)
        return {D * (alpha + S / B + N / F) + fold, P == q};
    case Algorithm::BinomialTree: // reduce lg p (alpha + S beta + N gamma), broadcast lg p (alpha + S beta)
        return {L * (2 * alpha + 2 * S / B + N / F), P == q};
    case Algorithm::DoubleBinaryTree: {
        // Per tree (half the vector): L-1 levels whose node receives two halves at once (alpha + S/B, adds N),
        // the root's one child (alpha + S/(2B), adds N/2); the broadcast back the same way.
        return {2 * L * alpha + (2 * L - 1) * S / B + (L - 0.5) * N / F, P == q};
    }
    case Algorithm::Hierarchical: { // ring reduce-scatter in the node, ring all-reduce across, ring all-gather
        const double g = G, M = p / g;
        return {2 * (g - 1) * (alpha + S / (g * B)) + (g - 1) * (N / g) / F + 2 * (M - 1) * (alpha + S / (g * M * B)) +
                    (M - 1) * (N / (g * M)) / F,
                true};
    }
    case Algorithm::Auto: break;
    }
    return {0, false};
}

/// A node size for hierarchical runs at P ranks (nodes of G, M = P/G > 1 nodes when possible).
int nodeSize(int P)
{
    switch (P) {
    case 4: return 2;
    case 6: return 2;
    case 8: return 2;
    case 12: return 4;
    case 16: return 4;
    case 64: return 8;
    default: return 1;
    }
}

const Algorithm AllReduces[] = {Algorithm::Ring, Algorithm::HalvingDoubling, Algorithm::RecursiveDoubling,
                                Algorithm::BinomialTree, Algorithm::DoubleBinaryTree, Algorithm::Hierarchical};

} // namespace

/// Every collective's simulated time on an ideal star (CM02, no cross-traffic, full-duplex private links: route
/// latency alpha = 11 us, B = 1.25 GB/s, workers at 1 GFLOP/s so the additions count) against its alpha-beta
/// formula, within 0.1 %, for P = 4, 8, 16, 64 and 6, 12, for a latency-bound (7.68 kB) and a bandwidth-bound
/// (3.84 MB) proxy vector. Every call starts at the same simulated time on all its ranks. Non-powers of two are
/// exact for the ring, the hierarchical all-reduce and the ring reduce-scatter and all-gather; for the folded
/// (halving-doubling, recursive doubling) and irregular-tree algorithms the formula is the papers' estimate: the
/// measured times are printed and must lie within 25 % of it. predictedTime() must equal the formulas.
class CollectivesTimeIdeal : public QObject {
    Q_OBJECT
private slots:
    void matchesAlphaBeta()
    {
        sim::PlatformSpec p = idealStar(64);
        p.workerSpeed = 1e9;
        const double alpha = routeLatency(p), B = p.linkBandwidth, F = p.workerSpeed;
        const std::vector<int> Ps{4, 8, 16, 64, 6, 12};
        const std::vector<double> sizes{4.0 * 1920, 4.0 * 1920 * 500}; // multiples of 4 x 64 x 3
        std::vector<Call> calls;
        double start = 0;
        for (int P : Ps)
            for (double S : sizes) {
                for (Algorithm a : AllReduces)
                    calls.push_back({.op = Op::AllReduce, .algorithm = a, .P = P, .G = nodeSize(P),
                                     .proxyBytes = S, .start = start += 0.1});
                for (Op op : {Op::RingReduceScatter, Op::RingAllGather, Op::HalvingReduceScatter,
                              Op::DoublingAllGather})
                    if (isPow2(P) || op == Op::RingReduceScatter || op == Op::RingAllGather)
                        calls.push_back({.op = op, .P = P, .proxyBytes = S, .start = start += 0.1});
            }
        CollectiveProbe probe(64, calls, 1);
        sim::simulateStrategy(p, probe, 0, true);
        int exact = 0;
        double worst = 0;
        for (std::size_t c = 0; c < calls.size(); ++c) {
            const Call& k = calls[c];
            const Expected want = formula(k.op, k.algorithm, k.P, k.G, k.proxyBytes, alpha, B, F);
            const double got = probe.duration(c);
            const double rel = got / want.time - 1;
            qInfo("%-22s P=%2d G=%d S=%9.0f B: %.7f s, formula %.7f s (%+.2e)%s", opName(k.op, k.algorithm), k.P,
                  k.op == Op::AllReduce && k.algorithm == Algorithm::Hierarchical ? k.G : 1, k.proxyBytes, got,
                  want.time, rel, want.exact ? "" : "  [estimate]");
            if (want.exact)
                worst = std::max(worst, std::fabs(rel));
            const QString what = QString("%1 P=%2 S=%3: ").arg(opName(k.op, k.algorithm)).arg(k.P).arg(k.proxyBytes);
            if (want.exact) {
                ++exact;
                QVERIFY2(nearRel(got, want.time, 1e-3), qPrintable(what + mismatch(got, want.time)));
            } else {
                QVERIFY2(nearRel(got, want.time, 0.25), qPrintable(what + mismatch(got, want.time)));
            }
            if (k.op == Op::AllReduce) {
                const double predicted = collectives::predictedTime(k.algorithm, k.P, k.proxyBytes,
                                                                    {.alpha = alpha, .bandwidth = B, .flopRate = F}, k.G);
                QVERIFY2(nearRel(predicted, want.time, 1e-12), qPrintable(what + "predictedTime " +
                                                                           mismatch(predicted, want.time)));
            }
        }
        // Powers of two: 6 all-reduces + 4 reduce-scatters/all-gathers; 6 and 12: ring, hierarchical, ring RS and AG.
        QCOMPARE(exact, 4 * 2 * 10 + 2 * 2 * 4);
        qInfo("%d calls checked against their exact formula; worst relative deviation %.2e", exact, worst);
    }
};
DML_SIM_CASE(CollectivesTimeIdeal);

/// Multi-accelerator nodes (platform.node): G accelerators per node on fast links to the node's switch, M nodes on a
/// star whose node interfaces are slower. The hierarchical all-reduce's inter-node phase runs all G shards at once,
/// so each node's interface carries G flows: 2(M-1)(alpha_out + S/(M B_nic)), not S/(G M B). The flat ring crosses
/// a node boundary at every step (one flow per interface and direction), each step bounded by it:
/// 2(P-1)(alpha_out + S/(P B_nic)). Written out here from the topology, with alpha_in = two node links' latency
/// and alpha_out = node link, interface, backbone, interface, node link. Ideal network: exact within 0.1 %.
class CollectivesOnNodes : public QObject {
    Q_OBJECT
private slots:
    void hierarchicalAndRingMatchTheNodeFormulas()
    {
        sim::PlatformSpec p = idealStar(32);
        p.workerSpeed = 1e13;
        p.node.gpus = 4;
        p.node.bandwidth = 3e11; // NVLink 3, each way
        p.node.latency = 4e-7;
        p.linkBandwidth = 1.25e10; // a 100 Gb/s interface per node
        const double Bin = p.node.bandwidth, Bnic = p.linkBandwidth, F = p.workerSpeed;
        const double alphaIn = 2 * p.node.latency;
        const double alphaOut = 2 * p.node.latency + 2 * p.linkLatency + p.backboneLatency;
        const std::vector<int> Ms{2, 4, 8};
        const double S = 4.0 * 3840 * 1000; // 15.4 MB
        std::vector<Call> calls;
        double start = 0;
        for (int M : Ms)
            for (Algorithm a : {Algorithm::Hierarchical, Algorithm::Ring})
                calls.push_back({.op = Op::AllReduce, .algorithm = a, .P = 4 * M, .G = 4, .proxyBytes = S,
                                 .start = start += 0.1});
        CollectiveProbe probe(32, calls, 1);
        sim::simulateStrategy(p, probe, 0, true);
        const double N = S / 4, G = 4;
        for (std::size_t c = 0; c < calls.size(); ++c) {
            const Call& k = calls[c];
            const double P = k.P, M = P / G;
            const double want =
                k.algorithm == Algorithm::Hierarchical
                    ? 2 * (G - 1) * (alphaIn + S / (G * Bin)) + (G - 1) * (N / G) / F +
                          2 * (M - 1) * (alphaOut + S / (M * Bnic)) + (M - 1) * (N / (G * M)) / F
                    : 2 * (P - 1) * (alphaOut + S / (P * Bnic)) + (P - 1) * (N / P) / F;
            const double got = probe.duration(c);
            qInfo("%-12s on %d nodes of 4: %.7f s, formula %.7f s (%+.2e)", opName(k.op, k.algorithm), int(M), got,
                  want, got / want - 1);
            QVERIFY2(nearRel(got, want, 1e-3), qPrintable(QString("%1 P=%2: ").arg(name(k.algorithm)).arg(k.P) +
                                                          mismatch(got, want)));
        }
        // What the nodes are for: the hierarchical all-reduce beats the flat ring once the interface is the limit.
        for (std::size_t c = 0; c < calls.size(); c += 2)
            QVERIFY(probe.duration(c) < probe.duration(c + 1));
    }
};
DML_SIM_CASE(CollectivesOnNodes);

/// Every collective's result on real vectors equals the element-wise sum (divided by P: the mean) of a
/// double-precision reference within 1e-6 relative, every rank holds bit-identical results (all-reduce: the whole
/// vector; reduce-scatter: its chunk, all-gather: exact copies of every rank's chunk), the scalars come out the same
/// on every rank (sum within 1e-12 of the reference, flags OR-ed), and no message is left in any inbox. P from 2 to
/// 64 with powers of two and not (hierarchical with several node sizes); N = 1000 (chunks of unequal length) and
/// N = 5 (fewer elements than ranks: empty chunks).
class CollectivesMeanExactly : public QObject {
    Q_OBJECT
private slots:
    void meanOfInputs()
    {
        std::vector<Call> calls;
        for (int P : {2, 3, 4, 5, 6, 7, 8, 12, 16, 64})
            for (Eigen::Index n : {Eigen::Index(1000), Eigen::Index(5)}) {
                for (Algorithm a : AllReduces) {
                    if (a != Algorithm::Hierarchical) {
                        calls.push_back({.op = Op::AllReduce, .algorithm = a, .P = P, .n = n});
                        continue;
                    }
                    for (int G = 1; G <= P; ++G) // every node size up to 8 that divides P, and P itself
                        if (P % G == 0 && (G <= 8 || G == P))
                            calls.push_back({.op = Op::AllReduce, .algorithm = a, .P = P, .G = G, .n = n});
                }
                calls.push_back({.op = Op::RingReduceScatter, .P = P, .n = n});
                calls.push_back({.op = Op::RingAllGather, .P = P, .n = n});
                if (isPow2(P)) {
                    calls.push_back({.op = Op::HalvingReduceScatter, .P = P, .n = n});
                    calls.push_back({.op = Op::DoublingAllGather, .P = P, .n = n});
                }
            }
        CollectiveProbe probe(64, calls, 23);
        sim::simulateStrategy(idealStar(64), probe, 0, true);
        double worst = 0;
        for (std::size_t c = 0; c < calls.size(); ++c) {
            const Call& k = calls[c];
            const int P = k.P;
            const QString what = QString("%1 P=%2 G=%3 N=%4: ").arg(opName(k.op, k.algorithm)).arg(P).arg(k.G).arg(k.n);
            for (int r = 0; r < P; ++r)
                QVERIFY2(probe.leftover[c][std::size_t(r)] == 0, qPrintable(what + "messages left in an inbox"));
            // Elements each rank must hold: all of them, or its chunk.
            auto owned = [&](int r) -> std::pair<Eigen::Index, Eigen::Index> {
                if (k.op == Op::RingReduceScatter || k.op == Op::HalvingReduceScatter)
                    return ringChunk(k.n, P, r);
                return {0, k.n};
            };
            if (k.op == Op::RingAllGather || k.op == Op::DoublingAllGather) {
                for (int r = 0; r < P; ++r)
                    for (int src = 0; src < P; ++src) {
                        const auto [b, e] = ringChunk(k.n, P, src);
                        QVERIFY2(sameBits(probe.outputs[c][std::size_t(r)].data() + b,
                                          probe.inputs[c][std::size_t(src)].data() + b, e - b),
                                 qPrintable(what + QString("rank %1 lacks rank %2's chunk").arg(r).arg(src)));
                    }
                continue;
            }
            for (int r = 0; r < P; ++r) {
                const auto [b, e] = owned(r);
                for (Eigen::Index i = b; i < e; ++i) {
                    double mean = 0;
                    for (int q = 0; q < P; ++q)
                        mean += probe.inputs[c][std::size_t(q)][i];
                    mean /= P;
                    const double got = double(probe.outputs[c][std::size_t(r)][i]) / P;
                    worst = std::max(worst, std::fabs(got - mean) / mean);
                    QVERIFY2(std::fabs(got - mean) <= 1e-6 * mean,
                             qPrintable(what + QString("rank %1 element %2: ").arg(r).arg(i) + mismatch(got, mean)));
                }
                if (k.op == Op::AllReduce && r > 0)
                    QVERIFY2(bitIdentical(probe.outputs[c][std::size_t(r)], probe.outputs[c][0]),
                             qPrintable(what + QString("rank %1 differs from rank 0").arg(r)));
            }
            if (k.op != Op::AllReduce)
                continue;
            double sum = 0;
            long flags = 0;
            for (int r = 0; r < P; ++r) {
                sum += 0.1 * (r + 1) + 1e-9 * r;
                flags |= 1L << (r % 62);
            }
            for (int r = 0; r < P; ++r) {
                const RingScalars& s = probe.scalars[c][std::size_t(r)];
                QVERIFY2(std::memcmp(&s.sum, &probe.scalars[c][0].sum, sizeof s.sum) == 0,
                         qPrintable(what + QString("rank %1's scalar sum differs from rank 0's").arg(r)));
                QVERIFY2(nearRel(s.sum, sum, 1e-12), qPrintable(what + "scalar sum " + mismatch(s.sum, sum)));
                QCOMPARE(s.flags, flags);
            }
        }
        qInfo("%zu calls; worst relative error of the mean: %.3g", calls.size(), worst);
    }
};
DML_SIM_CASE(CollectivesMeanExactly);

/// `auto` among NCCL's two algorithms (strategy.auto_among: ["ring", "double-binary-tree"]): the tree below
/// S* = 2(P-1-L) alpha / ((2L-1 - 2(P-1)/P) beta + (L - 1/2 - (P-1)/P) gamma/4), where the formulas cross, the ring
/// above; so the tree for small messages at large scale, the ring for large messages. At P = 64 the simulated times
/// agree: at 0.8 S* the tree is faster than the ring, at 1.25 S* slower.
class CollectivesAutoNccl : public QObject {
    Q_OBJECT
private slots:
    void treeForSmallMessagesAtScaleRingForLarge()
    {
        sim::PlatformSpec p = idealStar(64);
        p.workerSpeed = 1e12;
        const collectives::CostModel m{.alpha = routeLatency(p), .bandwidth = p.linkBandwidth, .flopRate = p.workerSpeed};
        const std::vector<Algorithm> nccl{Algorithm::Ring, Algorithm::DoubleBinaryTree};
        const double beta = 1 / m.bandwidth, gamma = 1 / m.flopRate;
        auto crossing = [&](int P) {
            const double L = ceilLog2(P), q = P;
            return 2 * (q - 1 - L) * m.alpha / ((2 * L - 1 - 2 * (q - 1) / q) * beta + (L - 0.5 - (q - 1) / q) * gamma / 4);
        };
        for (int P : {4, 8, 16, 64, 256, 1024}) {
            const double star = crossing(P);
            qInfo("P = %4d: double binary tree up to S* = %.0f bytes (%.1f alpha B), then ring", P, star,
                  star / (m.alpha * m.bandwidth));
            QCOMPARE(name(collectives::chooseAllReduce(P, star * (1 - 1e-9), m, nccl)), name(Algorithm::DoubleBinaryTree));
            QCOMPARE(name(collectives::chooseAllReduce(P, star * (1 + 1e-9), m, nccl)), name(Algorithm::Ring));
        }
        QCOMPARE(name(collectives::chooseAllReduce(2, 64, m, nccl)), name(Algorithm::Ring)); // L = 1: never the tree
        QCOMPARE(name(collectives::chooseAllReduce(64, 1e9, m, nccl)), name(Algorithm::Ring));
        QCOMPARE(name(collectives::chooseAllReduce(64, 1e9, m, {Algorithm::DoubleBinaryTree})),
                 name(Algorithm::DoubleBinaryTree));
        bool refused = false;
        try {
            collectives::chooseAllReduce(64, 1e3, m, {Algorithm::Ring, Algorithm::Auto});
        } catch (const std::invalid_argument&) {
            refused = true;
        }
        QVERIFY(refused);

        const int P = 64;
        auto round256 = [](double s) { return 256.0 * std::round(s / 256.0); };
        std::vector<Call> calls;
        double start = 0;
        for (double S : {round256(0.8 * crossing(P)), round256(1.25 * crossing(P))})
            for (Algorithm a : nccl)
                calls.push_back({.algorithm = a, .P = P, .proxyBytes = S, .start = start += 0.1});
        CollectiveProbe probe(64, calls, 3);
        sim::simulateStrategy(p, probe, 0, true);
        for (std::size_t c = 0; c < calls.size(); ++c)
            qInfo("%-20s P=%2d S=%8.0f B: %.7f s", collectives::toString(calls[c].algorithm), calls[c].P,
                  calls[c].proxyBytes, probe.duration(c));
        QVERIFY2(probe.duration(1) < probe.duration(0), "below S*, the tree is faster in the simulation");
        QVERIFY2(probe.duration(2) < probe.duration(3), "above S*, the ring is faster in the simulation");
    }
};
DML_SIM_CASE(CollectivesAutoNccl);

/// `auto` (collectives::chooseAllReduce) against the formulas and the simulation. At P = 64 on the ideal star it
/// picks recursive doubling below S* = D alpha / ((D - 2(P-1)/P) beta + (D - (P-1)/P) gamma / 4) (the point where
/// the two formulas cross) and halving-doubling above; at P = 12 (not a power of two) the ring for large vectors.
/// The simulated times agree: at 0.8 S* recursive doubling is faster than halving-doubling, at 1.25 S* slower, and
/// at P = 12 with 3.84 MB the ring beats both folded algorithms.
class CollectivesAutoSwitch : public QObject {
    Q_OBJECT
private slots:
    void switchesWhereFormulasCross()
    {
        sim::PlatformSpec p = idealStar(64);
        p.workerSpeed = 1e9;
        const collectives::CostModel m{.alpha = routeLatency(p), .bandwidth = p.linkBandwidth, .flopRate = p.workerSpeed};
        const int P = 64;
        const double D = 6, beta = 1 / m.bandwidth, gamma = 1 / m.flopRate;
        const double star = D * m.alpha / ((D - 2.0 * (P - 1) / P) * beta + (D - double(P - 1) / P) * gamma / 4);
        qInfo("P = 64: recursive doubling up to S* = %.0f bytes (alpha B = %.0f bytes), then halving-doubling", star,
              m.alpha * m.bandwidth);
        QCOMPARE(name(collectives::chooseAllReduce(P, star * (1 - 1e-9), m)), name(Algorithm::RecursiveDoubling));
        QCOMPARE(name(collectives::chooseAllReduce(P, star * (1 + 1e-9), m)), name(Algorithm::HalvingDoubling));
        QCOMPARE(name(collectives::chooseAllReduce(P, 1e9, m)), name(Algorithm::HalvingDoubling));
        QCOMPARE(name(collectives::chooseAllReduce(P, 64, m)), name(Algorithm::RecursiveDoubling));
        QCOMPARE(name(collectives::chooseAllReduce(12, 4.0 * 1920 * 500, m)), name(Algorithm::Ring));
        // P = 2: the same bytes either way; recursive doubling saves one latency but adds N elements, the ring N/2.
        QCOMPARE(name(collectives::chooseAllReduce(2, 1e9, m)), name(Algorithm::Ring));
        const collectives::CostModel freeAdds{.alpha = m.alpha, .bandwidth = m.bandwidth};
        QCOMPARE(name(collectives::chooseAllReduce(2, 1e9, freeAdds)), name(Algorithm::RecursiveDoubling));
        for (int q : {4, 6, 8, 12, 16, 32, 64, 128, 1000})
            for (double S : {1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8}) {
                const Algorithm a = collectives::chooseAllReduce(q, S, m);
                for (Algorithm b : AllReduces)
                    if (b != Algorithm::Hierarchical)
                        QVERIFY(collectives::predictedTime(a, q, S, m) <= collectives::predictedTime(b, q, S, m));
            }

        auto round256 = [](double s) { return 256.0 * std::round(s / 256.0); }; // N divisible by 64
        const double below = round256(0.8 * star), above = round256(1.25 * star), large = 4.0 * 1920 * 500;
        std::vector<Call> calls;
        double start = 0;
        for (double S : {below, above})
            for (Algorithm a : {Algorithm::RecursiveDoubling, Algorithm::HalvingDoubling})
                calls.push_back({.algorithm = a, .P = P, .proxyBytes = S, .start = start += 0.1});
        for (Algorithm a : {Algorithm::Ring, Algorithm::HalvingDoubling, Algorithm::RecursiveDoubling})
            calls.push_back({.algorithm = a, .P = 12, .proxyBytes = large, .start = start += 0.1});
        CollectiveProbe probe(64, calls, 2);
        sim::simulateStrategy(p, probe, 0, true);
        for (std::size_t c = 0; c < calls.size(); ++c)
            qInfo("%-20s P=%2d S=%8.0f B: %.7f s", collectives::toString(calls[c].algorithm), calls[c].P,
                  calls[c].proxyBytes, probe.duration(c));
        QCOMPARE(name(collectives::chooseAllReduce(P, below, m)), name(Algorithm::RecursiveDoubling));
        QVERIFY2(probe.duration(0) < probe.duration(1), "below S*, recursive doubling is faster in the simulation");
        QCOMPARE(name(collectives::chooseAllReduce(P, above, m)), name(Algorithm::HalvingDoubling));
        QVERIFY2(probe.duration(3) < probe.duration(2), "above S*, halving-doubling is faster in the simulation");
        QVERIFY2(probe.duration(4) < probe.duration(5) && probe.duration(4) < probe.duration(6),
                 "at P = 12 and 3.84 MB the ring is the fastest in the simulation");
    }


    /// Bad arguments are refused before anything is sent, naming the argument.
    void badArgumentsRefused()
    {
        class NoNetwork final : public Transport {
        public:
            int rank() const override { return 0; }
            void isend(int, int, Message) override { throw std::logic_error("sent"); }
            void waitAll() override {}
            Message recv(int) override { throw std::logic_error("received"); }
            std::optional<Message> recv(int, double) override { throw std::logic_error("received"); }
            void compute(double) override {}
            double now() const override { return 0; }
            void launch(int) override {}
        } t;
        collectives::Inbox inbox;
        auto refused = [](const std::function<void()>& f, const std::string& word) {
            try {
                f();
            } catch (const std::invalid_argument& e) {
                return std::string(e.what()).find(word) != std::string::npos;
            }
            return false;
        };
        QVERIFY(refused([&] { collectives::halvingReduceScatter(t, 0, 6, nullptr, 1e3, 1, inbox); }, "P = 6"));
        QVERIFY(refused([&] { collectives::doublingAllGather(t, 0, 12, nullptr, 1e3, 1, inbox); }, "P = 12"));
        QVERIFY(refused([&] { collectives::hierarchicalAllReduce(t, 0, 8, 3, nullptr, 1e3, 1, inbox); },
                        "ranksPerNode = 3"));
        QVERIFY(refused([&] { collectives::ringAllGather(t, 4, 4, nullptr, 1e3, 1, inbox); }, "rank = 4"));
        QVERIFY(refused([&] { collectives::allReduce(Algorithm::Auto, t, 0, 4, nullptr, 1e3, 1, inbox); }, "auto"));
        QVERIFY(refused([&] { collectives::parseAlgorithm("tree"); }, "\"double-binary-tree\""));
        QVERIFY(refused([&] { collectives::predictedTime(Algorithm::Ring, 4, 1e3, {.alpha = 1e-6}); }, "bandwidth"));
        QVERIFY(refused([&] { collectives::predictedTime(Algorithm::Ring, 0, 1e3, {.bandwidth = 1}); }, "P = 0"));
        for (const std::string& n : collectives::algorithmNames())
            QCOMPARE(std::string(collectives::toString(collectives::parseAlgorithm(n))), n);
        Eigen::VectorXf one = Eigen::VectorXf::Constant(3, 2.0f); // P = 1: nothing sent, the vector unchanged
        for (Algorithm a : AllReduces)
            QCOMPARE(collectives::allReduce(a, t, 0, 1, &one, 12, 1, inbox), 0.0);
        QVERIFY(one.isApproxToConstant(2.0f));
    }
};
DML_SIM_CASE(CollectivesAutoSwitch);

namespace {
/// RingAllReduceStrategy with `spec` on 6 workers (SGD, 2 epochs of the small blobs), in a forked child: returns
/// {1 if every step's replicas were bit-identical else 0, the chosen algorithm, final test accuracy, simulated
/// time, last train loss (the workers' losses summed along the all-reduce), the final parameters...}.
std::vector<double> trainWith(const collectives::AllReduceSpec& spec, int workers)
{
    return inChild([=] {
        const TrainTest data = smallData(7);
        TrainingConfig cfg;
        cfg.hidden = {16};
        cfg.optimizer.kind = OptimizerSpec::Kind::Sgd;
        cfg.optimizer.learningRate = 0.1f;
        cfg.batchSize = 20;
        cfg.epochs = 2;
        cfg.evalEverySteps = 5;
        cfg.seed = 5;
        Keep sink;
        RingAllReduceStrategy ring(workers, cfg, data, sink);
        ring.setCollective(spec);
        std::map<long, std::vector<Eigen::VectorXf>> replicas;
        ring.setReplicaObserver([&](int rank, long step, const Eigen::VectorXf& params) {
            auto& v = replicas[step];
            v.resize(std::size_t(workers));
            v[std::size_t(rank)] = params;
        });
        const sim::SimulationResult r = sim::simulateStrategy(idealStar(workers), ring, 0, true);
        bool identical = !replicas.empty();
        for (const auto& [step, v] : replicas)
            for (int k = 1; k < workers; ++k)
                identical = identical && bitIdentical(v[std::size_t(k)], v[0]);
        if (sink.samples.empty())
            return std::vector<double>{};
        std::vector<double> out{identical ? 1.0 : 0.0, double(int(ring.collective())),
                                sink.samples.back().testAccuracy, r.summary.simulatedTime,
                                sink.samples.back().trainLoss};
        for (float x : ring.finalModel())
            out.push_back(x);
        return out;
    });
}
} // namespace

/// The ring-allreduce strategy with each collective (strategy.collective): the replicas stay bit-identical after
/// every step, the model matches the ring's (the same averaged gradients up to float summation order: within
/// 1e-4), "auto" resolves by chooseAllReduce (recursive doubling for this 1.5 kB model: latency-bound), and the
/// options that do not fit are refused naming the field.
class RingStrategyCollectives : public QObject {
    Q_OBJECT
private slots:
    void everyAlgorithmTrainsTheSameModel()
    {
        const int P = 6;
        const std::vector<double> ring = trainWith({}, P);
        QVERIFY(ring.size() > 5);
        QCOMPARE(ring[0], 1.0);
        QVERIFY2(ring[2] > 0.5, qPrintable(QString("the model learns: accuracy %1").arg(ring[2])));
        for (Algorithm a : AllReduces) {
            const collectives::AllReduceSpec spec{.algorithm = a, .ranksPerNode = a == Algorithm::Hierarchical ? 3 : 1};
            const std::vector<double> v = trainWith(spec, P);
            QVERIFY2(v.size() == ring.size(), collectives::toString(a));
            QVERIFY2(v[0] == 1.0, qPrintable(QString("%1: replicas differ").arg(collectives::toString(a))));
            QCOMPARE(int(v[1]), int(a));
            double worst = 0;
            for (std::size_t i = 5; i < v.size(); ++i)
                worst = std::max(worst, std::fabs(v[i] - ring[i]) / (1 + std::fabs(ring[i])));
            qInfo("%-20s accuracy %.4f, train loss %.6f, simulated %.6f s, max parameter difference from the ring "
                  "%.3g", collectives::toString(a), v[2], v[4], v[3], worst);
            QVERIFY2(worst < 1e-4, collectives::toString(a));
            QVERIFY2(v[2] > 0.5, "the model learns");
            QVERIFY(std::fabs(v[2] - ring[2]) < 0.02);
            QVERIFY2(nearRel(v[4], ring[4], 1e-5), "the train loss summed along the all-reduce");
        }
        const collectives::AllReduceSpec automatic{
            .algorithm = Algorithm::Auto, .cost = {.alpha = 11e-6, .bandwidth = 1.25e9, .flopRate = 1e12}};
        const std::vector<double> v = trainWith(automatic, P);
        QVERIFY(v.size() == ring.size());
        QCOMPARE(int(v[1]), int(Algorithm::RecursiveDoubling));
    }

    void refusedWhereTheyDoNotFit()
    {
        auto spec = [](Algorithm a) {
            sim::SimulationSpec s;
            s.platform = idealStar(4);
            s.strategy.kind = StrategyKind::RingAllReduce;
            s.strategy.workers = 4;
            s.strategy.collective.algorithm = a;
            s.training.proxy.parameters = 1000;
            s.training.proxy.trainFlopsPerSample = 1e3;
            return s;
        };
        QVERIFY(!refusedAt(spec(Algorithm::BinomialTree), "strategy.collective"));
        sim::SimulationSpec s = spec(Algorithm::BinomialTree);
        s.strategy.kind = StrategyKind::SyncPs;
        QVERIFY(refusedAt(s, "strategy.collective"));
        s = spec(Algorithm::HalvingDoubling);
        s.strategy.compression.kind = compression::CompressionSpec::Kind::Fp16;
        QVERIFY(refusedAt(s, "strategy.collective"));
        s = spec(Algorithm::DoubleBinaryTree);
        s.strategy.recovery = StrategySpec::Recovery::Elastic;
        QVERIFY(refusedAt(s, "strategy.collective"));
        s = spec(Algorithm::Hierarchical);
        s.strategy.collective.ranksPerNode = 3;
        QVERIFY(refusedAt(s, "strategy.ranks_per_node"));
        s = spec(Algorithm::Ring);
        s.strategy.collective.ranksPerNode = 2;
        QVERIFY(refusedAt(s, "strategy.ranks_per_node"));
        QVERIFY(refusedAt(spec(Algorithm::Auto), "strategy.auto_bandwidth"));
    }
};
DML_SIM_CASE(RingStrategyCollectives);

#include "sim_collectives.moc"
