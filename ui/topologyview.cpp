// SPDX-License-Identifier: GPL-3.0-or-later
#include "topologyview.h"

#include <QGraphicsEllipseItem>
#include <QGraphicsRectItem>
#include <QGraphicsScene>
#include <QGraphicsSimpleTextItem>
#include <QJsonArray>
#include <QWheelEvent>

#include <algorithm>
#include <map>
#include <climits>
#include <cmath>
#include <deque>
#include <numbers>

namespace dml::ui {
namespace {

constexpr int kMaxHosts = 256;
const QColor kCompute(46, 160, 67), kComm(31, 119, 180), kIdle(205, 205, 205);

QColor blend(double compute, double comm)
{
    compute = std::clamp(compute, 0.0, 1.0);
    comm = std::clamp(comm, 0.0, 1.0 - compute);
    const double idle = 1 - compute - comm;
    return QColor::fromRgbF(float(compute * kCompute.redF() + comm * kComm.redF() + idle * kIdle.redF()),
                            float(compute * kCompute.greenF() + comm * kComm.greenF() + idle * kIdle.greenF()),
                            float(compute * kCompute.blueF() + comm * kComm.blueF() + idle * kIdle.blueF()));
}

QColor mix(const QColor& a, const QColor& b, double f)
{
    return QColor::fromRgbF(float(a.redF() + f * (b.redF() - a.redF())), float(a.greenF() + f * (b.greenF() - a.greenF())),
                            float(a.blueF() + f * (b.blueF() - a.blueF())));
}

/// 0 grey, 0.5 orange, 1 red.
QColor utilizationColour(double u)
{
    u = std::clamp(u, 0.0, 1.0);
    const QColor grey(165, 165, 165), orange(255, 160, 0), red(215, 25, 28);
    return u < 0.5 ? mix(grey, orange, 2 * u) : mix(orange, red, 2 * u - 1);
}

QString rate(double bytesPerSecond)
{
    const double bits = 8 * bytesPerSecond;
    if (bits >= 1e9)
        return QString::number(bits / 1e9, 'g', 3) + " Gb/s";
    if (bits >= 1e6)
        return QString::number(bits / 1e6, 'g', 3) + " Mb/s";
    return QString::number(bits / 1e3, 'g', 3) + " kb/s";
}

QString flops(double f)
{
    if (f >= 1e12)
        return QString::number(f / 1e12, 'g', 3) + " TFLOP/s";
    if (f >= 1e9)
        return QString::number(f / 1e9, 'g', 3) + " GFLOP/s";
    return QString::number(f / 1e6, 'g', 3) + " MFLOP/s";
}

} // namespace

TopologyView::TopologyView(QWidget* parent) : QGraphicsView(parent)
{
    setScene(new QGraphicsScene(this));
    setRenderHint(QPainter::Antialiasing);
    setDragMode(QGraphicsView::ScrollHandDrag);
    setTransformationAnchor(QGraphicsView::AnchorUnderMouse);
    setBackgroundBrush(Qt::white);
    setObjectName("topology");
}

void TopologyView::setRun(RunDataPtr run)
{
    m_run = std::move(run);
    m_built = {};
    m_seenRevision = -1;
    m_userZoomed = false;
    rebuild();
}

int TopologyView::colouredHostCount() const
{
    int n = 0;
    for (const HostItem& h : m_hosts)
        n += h.box->brush().color() != kIdle;
    return n;
}

void TopologyView::rebuild()
{
    scene()->clear();
    m_hosts.clear();
    m_links.clear();
    m_linkEdges.clear();
    if (!m_run || m_run->platform().isEmpty()) {
        auto* t = scene()->addSimpleText(m_run ? "Waiting for the platform..." : "Run a scenario to see its platform.");
        t->setFont(QFont(font().family(), 14));
        return;
    }
    m_built = m_run->platform();
    struct Node {
        QString id, kind, role;
        double speed = 0, bandwidth = 0, latency = 0;
        std::vector<int> adj;
    };
    std::vector<Node> nodes;
    std::map<QString, int> index;
    for (const QJsonValue& v : m_built["nodes"].toArray()) {
        index[v["id"].toString()] = int(nodes.size());
        nodes.push_back({v["id"].toString(), v["kind"].toString(), v["role"].toString(), v["speed"].toDouble(),
                         v["bandwidth"].toDouble(), v["latency"].toDouble(), {}});
    }
    for (const QJsonValue& v : m_built["edges"].toArray()) {
        const auto a = index.find(v["source"].toString()), b = index.find(v["target"].toString());
        if (a != index.end() && b != index.end()) {
            nodes[std::size_t(a->second)].adj.push_back(b->second);
            nodes[std::size_t(b->second)].adj.push_back(a->second);
        }
    }
    int hostCount = 0;
    for (const Node& n : nodes)
        hostCount += n.kind == "host";
    if (nodes.empty())
        return;
    if (hostCount > kMaxHosts) {
        auto* t = scene()->addSimpleText(QString("%1 hosts: too many to draw (the view shows up to %2).")
                                             .arg(hostCount)
                                             .arg(kMaxHosts));
        t->setFont(QFont(font().family(), 14));
        return;
    }

    // Radial tree layout from the best-connected node (a star's backbone): breadth-first levels, each subtree
    // getting an angle range proportional to its leaves; the server's branch starts at the top.
    // The centre: the node with the smallest eccentricity (a star's backbone, an edge network's WAN), ties going
    // to the best-connected node.
    int centre = 0;
    {
        int best = INT_MAX;
        for (std::size_t c = 0; c < nodes.size() && nodes.size() <= 1500; ++c) {
            std::vector<int> dist(nodes.size(), -1);
            std::deque<int> q{int(c)};
            dist[c] = 0;
            int ecc = 0;
            while (!q.empty()) {
                const int n = q.front();
                q.pop_front();
                ecc = std::max(ecc, dist[std::size_t(n)]);
                for (int m : nodes[std::size_t(n)].adj)
                    if (dist[std::size_t(m)] < 0) {
                        dist[std::size_t(m)] = dist[std::size_t(n)] + 1;
                        q.push_back(m);
                    }
            }
            const int score = ecc * 100000 - int(nodes[c].adj.size());
            if (score < best) {
                best = score;
                centre = int(c);
            }
        }
    }
    std::vector<int> parent(nodes.size(), -1), level(nodes.size(), -1), order;
    std::vector<std::vector<int>> children(nodes.size());
    std::deque<int> queue{centre};
    level[std::size_t(centre)] = 0;
    while (!queue.empty()) {
        const int n = queue.front();
        queue.pop_front();
        order.push_back(n);
        for (int m : nodes[std::size_t(n)].adj)
            if (level[std::size_t(m)] < 0) {
                level[std::size_t(m)] = level[std::size_t(n)] + 1;
                parent[std::size_t(m)] = n;
                children[std::size_t(n)].push_back(m);
                queue.push_back(m);
            }
    }
    std::vector<int> leaves(nodes.size(), 0);
    std::vector<bool> hasServer(nodes.size(), false);
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
        const auto n = std::size_t(*it);
        leaves[n] = std::max(1, leaves[n]);
        hasServer[n] = hasServer[n] || nodes[n].role == "server";
        if (parent[n] >= 0) {
            leaves[std::size_t(parent[n])] += leaves[n];
            hasServer[std::size_t(parent[n])] = hasServer[std::size_t(parent[n])] || hasServer[n];
        }
    }
    for (auto& c : children)
        std::stable_sort(c.begin(), c.end(), [&](int a, int b) { return hasServer[std::size_t(a)] > hasServer[std::size_t(b)]; });
    const int maxLevel = *std::max_element(level.begin(), level.end());
    const double ring = std::max(170.0, leaves[std::size_t(centre)] * 175.0 / (2 * std::numbers::pi) / std::max(1, maxLevel));
    std::vector<QPointF> pos(nodes.size());
    std::vector<std::pair<double, double>> range(nodes.size());
    const double start = -std::numbers::pi / 2 - std::numbers::pi / std::max(1, leaves[std::size_t(centre)]);
    range[std::size_t(centre)] = {start, start + 2 * std::numbers::pi};
    for (int n : order) {
        const auto [a0, a1] = range[std::size_t(n)];
        const double mid = (a0 + a1) / 2, r = ring * level[std::size_t(n)];
        pos[std::size_t(n)] = QPointF(r * std::cos(mid), r * std::sin(mid));
        double a = a0;
        for (int c : children[std::size_t(n)]) {
            const double w = (a1 - a0) * leaves[std::size_t(c)] / std::max(1, leaves[std::size_t(n)]);
            range[std::size_t(c)] = {a, a + w};
            a += w;
        }
    }

    QFont labelFont(font().family(), 15);
    labelFont.setBold(true);
    const QFont smallFont(font().family(), 12);
    int linkCount = 0;
    for (const Node& n : nodes)
        linkCount += n.kind == "link";
    for (std::size_t n = 0; n < nodes.size(); ++n)
        for (int m : nodes[n].adj)
            if (int(n) < m) {
                auto* line = scene()->addLine(QLineF(pos[n], pos[std::size_t(m)]), QPen(QColor(150, 150, 150), 3));
                line->setZValue(0);
                for (std::size_t k : {n, std::size_t(m)})
                    if (nodes[k].kind == "link")
                        m_linkEdges[nodes[k].id].push_back(line);
            }
    int rank = 0;
    for (std::size_t n = 0; n < nodes.size(); ++n) {
        const Node& node = nodes[n];
        if (node.kind == "host") {
            const QRectF r(pos[n].x() - 75, pos[n].y() - 30, 150, 60);
            auto* box = scene()->addRect(r, QPen(node.role == "server" ? QColor(40, 40, 40) : QColor(90, 90, 90),
                                                 node.role == "server" ? 3 : 1.5),
                                         kIdle);
            box->setZValue(2);
            box->setToolTip(QString("%1 (%2)\n%3").arg(node.id, node.role, flops(node.speed)));
            auto* name = scene()->addSimpleText(node.id, labelFont);
            name->setParentItem(box);
            name->setPos(r.center().x() - name->boundingRect().width() / 2, r.top() + 4);
            auto* role = scene()->addSimpleText(node.role, smallFont);
            role->setParentItem(box);
            role->setPos(r.center().x() - role->boundingRect().width() / 2, r.top() + 32);
            m_hosts.push_back({rank++, box});
        } else {
            auto* dot = scene()->addEllipse(pos[n].x() - 7, pos[n].y() - 7, 14, 14, QPen(Qt::black, 1),
                                            QColor(150, 150, 150));
            dot->setZValue(1);
            dot->setToolTip(QString("%1\n%2, latency %3 µs").arg(node.id, rate(node.bandwidth)).arg(node.latency * 1e6));
            if (linkCount <= 12) { // more labels would hide the drawing; the tool tip has them
                auto* t = scene()->addSimpleText(rate(node.bandwidth), smallFont);
                t->setParentItem(dot);
                t->setPos(pos[n].x() + 9, pos[n].y() - 16);
            }
            m_links[node.id] = dot;
        }
    }
    // Legend, above the drawing.
    const QRectF bounds = scene()->itemsBoundingRect();
    double x = bounds.left();
    const double y = bounds.top() - 50;
    for (const auto& [colour, text] : {std::pair{kCompute, "compute"}, std::pair{kComm, "communicate"},
                                       std::pair{kIdle, "idle"}, std::pair{utilizationColour(0.5), "link 50 %"},
                                       std::pair{utilizationColour(1), "link 100 %"}}) {
        scene()->addRect(x, y, 24, 24, QPen(Qt::black, 0.5), colour);
        auto* t = scene()->addSimpleText(text, labelFont);
        t->setPos(x + 30, y);
        x += 44 + t->boundingRect().width();
    }
    m_seenRevision = -1;
    refresh();
    fit();
}

void TopologyView::refresh()
{
    if (!m_run)
        return;
    if (m_run->platform() != m_built) {
        rebuild();
        return;
    }
    if (m_run->revision == m_seenRevision || m_hosts.empty())
        return;
    m_seenRevision = m_run->revision;
    const double now = m_run->now();
    const bool live = m_run->status == "running" || m_run->status == "paused" || m_run->status == "starting";
    // Live: the last 5 % of the elapsed simulated time (at least 4 bins); afterwards: the whole run.
    const double t0 = live ? std::max(0.0, now - std::max(0.05 * now, 4 * m_run->binWidth())) : 0.0;
    // Failed ranks (series "rank_failed", issue 11): a thick red border and when, in the tooltip.
    std::map<int, std::vector<double>> failedAt;
    if (const auto f = m_run->series.find("rank_failed"); f != m_run->series.end())
        for (const auto& [time, rank] : f->second)
            failedAt[int(rank)].push_back(time);
    for (const HostItem& h : m_hosts) {
        const auto [compute, comm] = m_run->hostActivity(h.rank, t0);
        h.box->setBrush(blend(compute, comm));
        const auto f = failedAt.find(h.rank);
        if (f == failedAt.end())
            continue;
        h.box->setPen(QPen(QColor(214, 39, 40), 5, Qt::DashLine));
        QStringList times;
        for (double t : f->second)
            times << QString::number(t, 'g', 4) + " s";
        h.box->setToolTip(h.box->toolTip().section('\n', 0, 1) + "\nfailed at " + times.join(", "));
    }
    for (const auto& [id, dot] : m_links) {
        const double u = m_run->linkUtilization(id, t0);
        const QColor c = utilizationColour(u);
        static_cast<QGraphicsEllipseItem*>(dot)->setBrush(c);
        dot->setToolTip(dot->toolTip().section('\n', 0, 1) + QString("\nutilization %1 %").arg(100 * u, 0, 'f', 1));
        // A failed link (series "link_down:ID", issue 11): black and dashed while it is down, and when in the tooltip.
        bool down = false;
        QStringList when;
        if (const auto f = m_run->series.find("link_down:" + id); f != m_run->series.end())
            for (const auto& [time, state] : f->second) {
                down = state > 0;
                when << QString("%1 at %2 s").arg(down ? "down" : "up").arg(time, 0, 'g', 4);
            }
        if (!when.isEmpty())
            dot->setToolTip(dot->toolTip() + "\n" + when.join(", "));
        if (down)
            static_cast<QGraphicsEllipseItem*>(dot)->setBrush(Qt::black);
        for (QGraphicsLineItem* line : m_linkEdges[id])
            line->setPen(down ? QPen(QColor(214, 39, 40), 4, Qt::DashLine) : QPen(c, 3 + 7 * u));
    }
}

void TopologyView::fit()
{
    if (!scene()->items().isEmpty())
        fitInView(scene()->itemsBoundingRect().adjusted(-20, -20, 20, 20), Qt::KeepAspectRatio);
    m_userZoomed = false;
}

void TopologyView::wheelEvent(QWheelEvent* e)
{
    const double f = std::pow(1.0015, e->angleDelta().y());
    scale(f, f);
    m_userZoomed = true;
}

void TopologyView::resizeEvent(QResizeEvent* e)
{
    QGraphicsView::resizeEvent(e);
    if (!m_userZoomed)
        fit();
}

} // namespace dml::ui
