// SPDX-License-Identifier: GPL-3.0-or-later
#include "topologyview.h"

#include "platform.h"

#include <QDateTime>
#include <QFontMetricsF>
#include <QGraphicsEllipseItem>
#include <QGraphicsPathItem>
#include <QGraphicsRectItem>
#include <QGraphicsScene>
#include <QGraphicsSimpleTextItem>
#include <QJsonArray>
#include <QPainter>
#include <QPainterPath>
#include <QRegularExpression>
#include <QWheelEvent>

#include <algorithm>
#include <climits>
#include <cmath>
#include <deque>
#include <limits>
#include <map>
#include <set>
#include <numbers>

namespace dml::ui {
namespace {

constexpr int kMaxHosts = 256;   // boxes drawn at most
constexpr int kGroupAbove = 128; // more hosts than this: workers and clients behind a shared node form one box
constexpr double kNamePixels = 26;    // host names, scene units
constexpr double kShortPixels = 40;   // short host names ("w3"), scene units
constexpr double kMinLabelPixels = 13; // below this on screen (about 10 pt), names give way to group labels
constexpr double kPi = std::numbers::pi;
const QColor kCompute(46, 160, 67), kComm(31, 119, 180), kIdle(205, 205, 205);
const QColor kLogical(142, 68, 173); // the logical pattern's arrows (purple: no activity or link colour)

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


/// Distance from the centre of a w x h box to its border along the unit vector u.
double borderDistance(double w, double h, QPointF u)
{
    const double ax = std::abs(u.x()), ay = std::abs(u.y());
    return std::min(ax > 1e-9 ? w / 2 / ax : std::numeric_limits<double>::infinity(),
                    ay > 1e-9 ? h / 2 / ay : std::numeric_limits<double>::infinity());
}

/// A filled arrowhead with its tip at `tip`, pointing along `dir`, `size` long.
QPainterPath arrowHead(QPointF tip, QPointF dir, double size)
{
    const double len = std::hypot(dir.x(), dir.y());
    QPainterPath p;
    if (len <= 0)
        return p;
    const QPointF u = dir / len, n(-u.y(), u.x());
    p.moveTo(tip);
    p.lineTo(tip - size * u + 0.45 * size * n);
    p.lineTo(tip - size * u - 0.45 * size * n);
    p.closeSubpath();
    return p;
}

/// A label that keeps its size on screen whatever the zoom: text on a translucent white box, placed at `anchor`
/// and shifted by `align` (in half box sizes: (0, 0) centred, (1, 0) to the right of the anchor).
QGraphicsRectItem* screenLabel(QGraphicsScene* scene, const QString& text, const QFont& font, QPointF anchor,
                               QPointF align)
{
    auto* bg = new QGraphicsRectItem;
    bg->setFlag(QGraphicsItem::ItemIgnoresTransformations);
    auto* t = new QGraphicsSimpleTextItem(text, bg);
    t->setFont(font);
    const QRectF tr = t->boundingRect();
    QRectF r(-tr.width() / 2 - 5, -tr.height() / 2 - 2, tr.width() + 10, tr.height() + 4);
    r.translate(align.x() * r.width() / 2, align.y() * r.height() / 2);
    bg->setRect(r);
    t->setPos(r.left() + 5, r.top() + 2);
    bg->setBrush(QColor(255, 255, 255, 215));
    bg->setPen(QPen(QColor(120, 120, 120), 0.8));
    bg->setPos(anchor);
    bg->setZValue(5);
    scene->addItem(bg);
    return bg;
}

} // namespace

TopologyView::TopologyView(QWidget* parent) : QGraphicsView(parent)
{
    setScene(new QGraphicsScene(this));
    setRenderHint(QPainter::Antialiasing);
    setDragMode(QGraphicsView::ScrollHandDrag);
    setTransformationAnchor(QGraphicsView::AnchorUnderMouse);
    setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    setViewportUpdateMode(QGraphicsView::FullViewportUpdate); // the legend is drawn over the viewport
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

std::vector<QRectF> TopologyView::hostSceneRects() const
{
    std::vector<QRectF> out;
    for (const HostItem& h : m_hosts)
        out.push_back(h.box->mapRectToScene(h.box->rect()));
    return out;
}

std::vector<std::pair<int, int>> TopologyView::logicalEdges() const
{
    std::vector<std::pair<int, int>> out;
    for (const QGraphicsItem* i : m_logicalItems)
        out.emplace_back(i->data(0).toInt(), i->data(1).toInt());
    return out;
}

double TopologyView::hostLabelScreenPixels() const
{
    return m_labelPixels * transform().m11();
}

void TopologyView::rebuild()
{
    scene()->clear();
    m_highlightItems.clear();
    m_dots.clear();
    m_dotsShown = 0;
    m_hosts.clear();
    m_links.clear();
    m_linkEdges.clear();
    m_logicalItems.clear();
    m_edgeItems.clear();
    m_groupLabels.clear();
    m_keptLabels.clear();
    m_pattern = {};
    m_drawing = {};
    m_labelPixels = 0;
    m_groupMargin = {};
    m_labelsShown = true;
    m_shortShown = false;
    auto message = [this](const QString& text) {
        auto* t = scene()->addSimpleText(text);
        t->setFont(QFont(font().family(), 14));
        fit();
    };
    if (!m_run || m_run->platform().isEmpty()) {
        message(m_run ? "Waiting for the platform..." : "Run a scenario to see its platform.");
        return;
    }
    m_built = m_run->platform();
    struct Node {
        QString id, kind, role;
        double speed = 0, bandwidth = 0, latency = 0;
        std::vector<int> adj;
        int rank = -1; // hosts: their rank (hosts are listed in rank order)
        std::vector<int> members{}; // a group box: the ranks it stands for
    };
    std::vector<Node> nodes;
    std::map<QString, int> index;
    std::vector<HostInfo> hostsByRank;
    for (const QJsonValue& v : m_built["nodes"].toArray()) {
        index[v["id"].toString()] = int(nodes.size());
        nodes.push_back({v["id"].toString(), v["kind"].toString(), v["role"].toString(), v["speed"].toDouble(),
                         v["bandwidth"].toDouble(), v["latency"].toDouble(), {}, -1});
        if (nodes.back().kind == "host") {
            nodes.back().rank = int(hostsByRank.size());
            hostsByRank.push_back({nodes.back().id, nodes.back().role});
        }
    }
    for (const QJsonValue& v : m_built["edges"].toArray()) {
        const auto a = index.find(v["source"].toString()), b = index.find(v["target"].toString());
        if (a != index.end() && b != index.end()) {
            nodes[std::size_t(a->second)].adj.push_back(b->second);
            nodes[std::size_t(b->second)].adj.push_back(a->second);
        }
    }
    const int hostCount = int(hostsByRank.size());
    if (nodes.empty())
        return message("The platform has no hosts.");
    // Hundreds of hosts: the workers or clients behind one shared node (a star's backbone, a site's Wi-Fi cell)
    // become one group box ("100 clients"), coloured by their mean activity; their private links are not drawn.
    if (hostCount > kGroupAbove) {
        std::vector<bool> removed(nodes.size(), false);
        std::map<int, std::vector<int>> groups; // shared node -> member host nodes
        for (std::size_t n = 0; n < nodes.size(); ++n) {
            if (nodes[n].kind != "host" || (nodes[n].role != "worker" && nodes[n].role != "client") ||
                nodes[n].adj.size() != 1)
                continue;
            std::vector<int> path{int(n)};
            int prev = int(n), cur = nodes[n].adj.front();
            while (nodes[std::size_t(cur)].kind != "host" && nodes[std::size_t(cur)].adj.size() == 2) {
                path.push_back(cur);
                const auto& a = nodes[std::size_t(cur)].adj;
                const int next = a[0] == prev ? a[1] : a[0];
                prev = cur;
                cur = next;
            }
            if (nodes[std::size_t(cur)].kind == "host")
                continue; // two hosts joined by private links: nothing shared to group behind
            for (int k : path)
                removed[std::size_t(k)] = true;
            groups[cur].push_back(int(n));
        }
        for (const auto& [shared, members] : groups) {
            Node g{"", "host", nodes[std::size_t(members.front())].role, 0, 0, 0, {shared}, -1, {}};
            for (int m : members)
                g.members.push_back(nodes[std::size_t(m)].rank);
            g.id = QString("%1 %2s").arg(members.size()).arg(g.role);
            nodes[std::size_t(shared)].adj.push_back(int(nodes.size()));
            nodes.push_back(std::move(g));
            removed.push_back(false);
        }
        // Compact: drop the grouped hosts and their private links, renumber the adjacency.
        std::vector<int> to(nodes.size(), -1);
        std::vector<Node> kept;
        for (std::size_t n = 0; n < nodes.size(); ++n)
            if (!removed[n]) {
                to[n] = int(kept.size());
                kept.push_back(std::move(nodes[n]));
            }
        for (Node& n : kept) {
            std::vector<int> adj;
            for (int a : n.adj)
                if (to[std::size_t(a)] >= 0)
                    adj.push_back(to[std::size_t(a)]);
            n.adj = std::move(adj);
        }
        nodes = std::move(kept);
    }
    int boxes = 0;
    for (const Node& n : nodes)
        boxes += n.kind == "host";
    if (boxes > kMaxHosts)
        return message(QString("%1 hosts: too many to draw (the view shows up to %2).").arg(boxes).arg(kMaxHosts));
    const std::size_t N = nodes.size();

    // The centre: the node with the smallest eccentricity (a star's backbone), ties going to the server (the cloud
    // of an edge network) and then to the best-connected node.
    int centre = 0;
    if (N <= 1500) {
        long best = LONG_MAX;
        for (std::size_t c = 0; c < N; ++c) {
            std::vector<int> dist(N, -1);
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
            const long score = long(ecc) * 1000000 - (nodes[c].role == "server" ? 100000 : 0) - long(nodes[c].adj.size());
            if (score < best) {
                best = score;
                centre = int(c);
            }
        }
    }
    // Breadth-first tree from the centre (nodes it does not reach hang off the centre).
    std::vector<int> parent(N, -1), level(N, -1), order;
    std::vector<std::vector<int>> children(N);
    for (std::size_t root = 0; root <= N; ++root) {
        const int r = root == 0 ? centre : int(root - 1);
        if (level[std::size_t(r)] >= 0)
            continue;
        if (r != centre) { // unreachable: a child of the centre
            level[std::size_t(r)] = 1;
            parent[std::size_t(r)] = centre;
            children[std::size_t(centre)].push_back(r);
        } else
            level[std::size_t(r)] = 0;
        std::deque<int> queue{r};
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
    }
    // The server's branch first (at the top), then by rank, so that rank order runs clockwise.
    std::vector<bool> hasServer(N, false);
    std::vector<int> minRank(N, INT_MAX);
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
        const auto n = std::size_t(*it);
        hasServer[n] = hasServer[n] || nodes[n].role == "server";
        if (nodes[n].rank >= 0)
            minRank[n] = std::min(minRank[n], nodes[n].rank);
        for (int m : nodes[n].members)
            minRank[n] = std::min(minRank[n], m);
        if (parent[n] >= 0) {
            const auto p = std::size_t(parent[n]);
            hasServer[p] = hasServer[p] || hasServer[n];
            minRank[p] = std::min(minRank[p], minRank[n]);
        }
    }
    for (auto& c : children)
        std::stable_sort(c.begin(), c.end(), [&](int a, int b) {
            const auto sa = std::size_t(a), sb = std::size_t(b);
            return hasServer[sa] != hasServer[sb] ? bool(hasServer[sa]) : minRank[sa] < minRank[sb];
        });

    // Host boxes fit their names.
    QFont nameFont(font().family());
    nameFont.setPixelSize(int(kNamePixels));
    nameFont.setBold(true);
    const QFontMetricsF nameMetrics(nameFont);
    const double boxH = std::round(kShortPixels * 1.2), gap = 14, dot = 16;
    std::vector<double> boxW(N, dot);
    for (std::size_t n = 0; n < N; ++n)
        if (nodes[n].kind == "host")
            boxW[n] = std::ceil(nameMetrics.horizontalAdvance(nodes[n].id)) + 20;
    auto sizeOf = [&](std::size_t n) { return nodes[n].kind == "host" ? QSizeF(boxW[n], boxH) : QSizeF(dot, dot); };

    // Rings: a level holding hosts is one unit further out than the previous level, a level of links only half a
    // unit. The unit R and the angles follow from the room each node needs along its ring, in pixels: a box needs
    // its width at the top and bottom of the ring but only its height at the sides (and a link very little).
    const int maxLevel = *std::max_element(level.begin(), level.end());
    std::vector<double> rel(std::size_t(maxLevel) + 1, 0.0);
    {
        std::vector<bool> hostLevel(rel.size(), false);
        for (std::size_t n = 0; n < N; ++n)
            hostLevel[std::size_t(level[n])] = hostLevel[std::size_t(level[n])] || nodes[n].kind == "host";
        for (std::size_t l = 1; l < rel.size(); ++l)
            rel[l] = rel[l - 1] + (hostLevel[l] ? 1.0 : 0.5);
    }
    std::vector<double> phi(N, 0.0), weight(N, 0.0), range0(N, 0.0), range1(N, 0.0);
    std::vector<QPointF> pos(N);
    double R = 150;
    auto place = [&] {
        for (std::size_t n = 0; n < N; ++n) {
            const double mid = (range0[n] + range1[n]) / 2, r = R * rel[std::size_t(level[n])];
            phi[n] = mid;
            pos[n] = QPointF(r * std::cos(mid), r * std::sin(mid));
        }
    };
    for (int pass = 0; pass < 4; ++pass) {
        for (auto it = order.rbegin(); it != order.rend(); ++it) {
            const auto n = std::size_t(*it);
            double need = 0;
            if (level[n] > 0) {
                const QSizeF s = sizeOf(n);
                const double w = s.width() + gap, h = s.height() + gap;
                double px = nodes[n].kind == "host" ? std::hypot(w, h) : 2 * dot;
                if (pass > 0 && nodes[n].kind == "host") {
                    const double sn = std::abs(std::sin(phi[n])), cs = std::abs(std::cos(phi[n]));
                    px = std::min(sn > 1e-6 ? w / sn : 1e18, cs > 1e-6 ? h / cs : 1e18);
                }
                need = px / rel[std::size_t(level[n])]; // angle at R = 1
            }
            double sum = 0;
            for (int c : children[n])
                sum += weight[std::size_t(c)];
            weight[n] = std::max(need, sum);
        }
        const double total = std::max(1e-9, weight[std::size_t(centre)]);
        R = std::max(130.0, total / (2 * kPi));
        const auto& top = children[std::size_t(centre)];
        const double first = top.empty() ? 0 : weight[std::size_t(top.front())] * 2 * kPi / total;
        range0[std::size_t(centre)] = -kPi / 2 - first / 2;
        range1[std::size_t(centre)] = range0[std::size_t(centre)] + 2 * kPi;
        for (int n : order) {
            double a = range0[std::size_t(n)];
            const double span = range1[std::size_t(n)] - range0[std::size_t(n)];
            double sum = 0;
            for (int c : children[std::size_t(n)])
                sum += weight[std::size_t(c)];
            for (int c : children[std::size_t(n)]) {
                const double w = span * weight[std::size_t(c)] / std::max(1e-12, sum);
                range0[std::size_t(c)] = a;
                range1[std::size_t(c)] = a + w;
                a += w;
            }
        }
        place();
    }
    // Whatever the estimate missed: spread the rings until no host box touches another box or a link.
    auto rectOf = [&](std::size_t n) {
        const QSizeF s = sizeOf(n);
        return QRectF(pos[n].x() - s.width() / 2, pos[n].y() - s.height() / 2, s.width(), s.height());
    };
    auto overlaps = [&] {
        for (std::size_t a = 0; a < N; ++a) {
            if (nodes[a].kind != "host")
                continue;
            const QRectF ra = rectOf(a).adjusted(-gap / 2, -gap / 2, gap / 2, gap / 2);
            for (std::size_t b = 0; b < N; ++b)
                if (b != a && (nodes[b].kind != "host" || b > a) && ra.intersects(rectOf(b)))
                    return true;
        }
        return false;
    };
    for (int k = 0; k < 80 && overlaps(); ++k) {
        R *= 1.06;
        place();
    }

    const QFont smallFont(font().family(), 12);
    int linkCount = 0;
    for (const Node& n : nodes)
        linkCount += n.kind == "link";
    for (std::size_t n = 0; n < N; ++n)
        for (int m : nodes[n].adj)
            if (int(n) < m) {
                auto* line = scene()->addLine(QLineF(pos[n], pos[std::size_t(m)]), QPen(QColor(150, 150, 150), 3));
                line->setZValue(0);
                for (std::size_t k : {n, std::size_t(m)})
                    if (nodes[k].kind == "link")
                        m_linkEdges[nodes[k].id].push_back(line);
            }
    std::vector<QPointF> hostPos(static_cast<std::size_t>(hostCount));
    std::vector<QRectF> hostRects(static_cast<std::size_t>(hostCount));
    for (std::size_t n = 0; n < N; ++n) {
        const Node& node = nodes[n];
        if (node.kind == "host") {
            const QRectF r = rectOf(n);
            const bool server = sim::isAggregator(node.role.toStdString());
            const bool group = !node.members.empty();
            auto* box = scene()->addRect(r, QPen(server ? QColor(40, 40, 40) : QColor(90, 90, 90),
                                                 server ? 4 : group ? 3 : 1.5, group ? Qt::DashLine : Qt::SolidLine),
                                         kIdle);
            box->setZValue(2);
            box->setToolTip(group ? QString("%1: %2 to %3, drawn as one box (more than %4 hosts)\ncoloured by their mean activity")
                                        .arg(node.id, hostsByRank[std::size_t(node.members.front())].name,
                                             hostsByRank[std::size_t(node.members.back())].name)
                                        .arg(kGroupAbove)
                                  : QString("%1 (%2)\n%3").arg(node.id, node.role.isEmpty() ? "no role" : node.role,
                                                                flops(node.speed)));
            auto* name = scene()->addSimpleText(node.id, nameFont);
            name->setParentItem(box);
            name->setPos(r.center().x() - name->boundingRect().width() / 2,
                         r.center().y() - name->boundingRect().height() / 2);
            // "worker-3" -> "w3", "edge-server-1" -> "es1"; names without a trailing number have none.
            QGraphicsSimpleTextItem* shortName = nullptr;
            static const QRegularExpression numbered("^(.*)-([0-9]+)$");
            if (const auto m = numbered.match(node.id); m.hasMatch()) {
                QString initials;
                for (const QString& part : m.captured(1).split('-', Qt::SkipEmptyParts))
                    initials += part.front();
                QFont shortFont = nameFont;
                shortFont.setPixelSize(int(kShortPixels));
                shortName = scene()->addSimpleText(initials + m.captured(2), shortFont);
                shortName->setParentItem(box);
                if (shortName->boundingRect().width() > r.width() - 4) { // does not fit: no short name
                    delete shortName;
                    shortName = nullptr;
                } else
                    shortName->setPos(r.center().x() - shortName->boundingRect().width() / 2,
                                      r.center().y() - shortName->boundingRect().height() / 2);
            }
            m_hosts.push_back({node.rank, box, name, shortName, node.members});
            for (int rank : group ? node.members : std::vector<int>{node.rank}) {
                hostPos[std::size_t(rank)] = pos[n];
                hostRects[std::size_t(rank)] = r;
            }
        } else {
            auto* d = scene()->addEllipse(pos[n].x() - dot / 2, pos[n].y() - dot / 2, dot, dot, QPen(Qt::black, 1),
                                          QColor(150, 150, 150));
            d->setZValue(1);
            d->setToolTip(QString("%1\n%2, latency %3 µs").arg(node.id, rate(node.bandwidth)).arg(node.latency * 1e6));
            if (linkCount <= 12) { // more labels would hide the drawing; the tool tip has them
                auto* t = scene()->addSimpleText(rate(node.bandwidth), smallFont);
                t->setParentItem(d);
                t->setPos(pos[n].x() + dot / 2 + 2, pos[n].y() - dot - 4);
            }
            m_links[node.id] = d;
        }
    }
    m_drawing = scene()->itemsBoundingRect();
    m_labelPixels = kNamePixels;

    m_pattern = commPattern(hostsByRank);
    drawLogical(hostPos, hostRects);

    // Labels for when the names are too small to read: the servers by name, workers and clients by group (the
    // centre's branch they hang from, e.g. a site of an edge network, when it holds several; else their role).
    QFont groupFont = font();
    groupFont.setPointSizeF(std::max(10.0, font().pointSizeF()));
    groupFont.setBold(true);
    std::map<int, std::vector<std::size_t>> byBranch; // branch node -> its worker / client hosts
    for (std::size_t n = 0; n < N; ++n) {
        if (nodes[n].kind != "host" || !nodes[n].members.empty()) // a group box names itself
            continue;
        if (nodes[n].role != "worker" && nodes[n].role != "client") {
            auto* label = screenLabel(scene(), nodes[n].id, groupFont, pos[n], {0, 0});
            // The server's name first: it wins when labels would overlap.
            m_keptLabels.insert(nodes[n].role == "server" ? m_keptLabels.begin() : m_keptLabels.end(), label);
            continue;
        }
        int b = int(n);
        while (level[std::size_t(b)] > 1)
            b = parent[std::size_t(b)];
        byBranch[level[std::size_t(b)] == 1 ? b : -1].push_back(n);
    }
    std::map<QString, int> loose; // role -> hosts in no group
    for (const auto& [branch, members] : byBranch) {
        if (branch < 0 || members.size() < 2) {
            for (std::size_t n : members)
                ++loose[nodes[n].role];
            continue;
        }
        QString name = nodes[std::size_t(branch)].id;
        if (nodes[std::size_t(branch)].kind == "link" && name.contains('-'))
            name = name.left(name.lastIndexOf('-'));
        double outer = 0;
        for (std::size_t n : members)
            outer = std::max(outer, std::hypot(pos[n].x(), pos[n].y()));
        const double a = (range0[std::size_t(branch)] + range1[std::size_t(branch)]) / 2;
        const QPointF u(std::cos(a), std::sin(a));
        m_groupLabels.push_back(screenLabel(scene(), QString("%1: %2 %3s").arg(name).arg(members.size()).arg(nodes[members.front()].role),
                                            groupFont, outer * u, {0, 0}));
    }
    for (const QGraphicsItem* g : m_groupLabels) // the site labels, around the drawing
        m_groupMargin = m_groupMargin.expandedTo(QSizeF(g->boundingRect().width() / 2, g->boundingRect().height() / 2));
    // The others, e.g. "16 workers", under the drawing.
    double below = 0;
    for (const auto& [role, count] : loose) {
        auto* g = screenLabel(scene(), QString("%1 %2%3").arg(count).arg(role).arg(count > 1 ? "s" : ""), groupFont,
                              {0, m_drawing.bottom()}, {0, 1 + 2 * double(loose.size() - 1 - below)});
        below += 1;
        m_groupLabels.push_back(g);
        m_groupMargin.setHeight(std::max(m_groupMargin.height(), below * g->boundingRect().height() + 6));
    }
    applyHighlight();
    m_seenRevision = -1;
    refresh();
    fit();
}

void TopologyView::setHighlight(const QStringList& names)
{
    if (names == m_highlight)
        return;
    m_highlight = names;
    applyHighlight();
}

void TopologyView::applyHighlight()
{
    for (QGraphicsItem* i : m_highlightItems)
        delete i;
    m_highlightItems.clear();
    if (m_highlight.isEmpty())
        return;
    const QColor halo(255, 200, 0, 170);
    for (const HostItem& h : m_hosts) {
        if (!m_run || h.rank < 0 || std::size_t(h.rank) >= m_run->hosts.size() ||
            !m_highlight.contains(m_run->hosts[std::size_t(h.rank)].name))
            continue;
        const QRectF r = h.box->rect();
        const double m = 0.35 * r.height();
        QPainterPath path;
        path.addRoundedRect(r.adjusted(-m, -m, m, m), m, m);
        auto* item = scene()->addPath(path, Qt::NoPen, halo);
        item->setZValue(1.8); // under the host box, over the lines
        m_highlightItems.push_back(item);
    }
    for (const auto& [id, dot] : m_links) {
        if (!m_highlight.contains(id))
            continue;
        // A disc of fixed size on screen around the link's marker, and a wide band under its edges.
        auto* ring = scene()->addEllipse(-16, -16, 32, 32, QPen(QColor(230, 150, 0), 2), halo);
        ring->setFlag(QGraphicsItem::ItemIgnoresTransformations);
        ring->setPos(static_cast<QGraphicsEllipseItem*>(dot)->rect().center());
        ring->setZValue(0.9);
        m_highlightItems.push_back(ring);
        for (QGraphicsLineItem* line : m_linkEdges[id]) {
            QPen pen(halo, 16, Qt::SolidLine, Qt::RoundCap);
            pen.setCosmetic(true); // 16 px at any zoom
            auto* band = scene()->addLine(line->line(), pen);
            band->setZValue(-0.5);
            m_highlightItems.push_back(band);
        }
    }
}

void TopologyView::setPace(double pace)
{
    m_pace = pace;
    m_animTime = -1;
}

std::vector<QPointF> TopologyView::messageDots() const
{
    std::vector<QPointF> out;
    for (int i = 0; i < m_dotsShown; ++i)
        out.push_back(m_dots[std::size_t(i)]->pos());
    return out;
}

int TopologyView::drawMessagesAt(double t)
{
    int shown = 0;
    if (m_run && !m_hosts.empty()) {
        std::map<int, QPointF> hostAt;
        for (const HostItem& h : m_hosts) {
            hostAt[h.rank] = h.box->rect().center();
            for (int m : h.members)
                hostAt[m] = h.box->rect().center();
        }
        const auto& recent = m_run->recentTransfers();
        for (auto it = recent.rbegin(); it != recent.rend() && shown < kMaxDots; ++it) {
            const RunData::Transfer& x = *it;
            if (!(x.start <= t && t < x.end))
                continue;
            const auto a = hostAt.find(x.from), b = hostAt.find(x.to);
            if (a == hostAt.end() || b == hostAt.end())
                continue;
            std::vector<QPointF> pts{a->second};
            for (const auto& [link, dir] : m_run->route(x.from, x.to))
                if (const auto l = m_links.find(link); l != m_links.end())
                    pts.push_back(static_cast<QGraphicsEllipseItem*>(l->second)->rect().center());
            pts.push_back(b->second);
            double length = 0;
            for (std::size_t k = 1; k < pts.size(); ++k)
                length += QLineF(pts[k - 1], pts[k]).length();
            double along = length * (t - x.start) / (x.end - x.start);
            QPointF p = pts.back();
            for (std::size_t k = 1; k < pts.size(); ++k) {
                const double seg = QLineF(pts[k - 1], pts[k]).length();
                if (along <= seg && seg > 0) {
                    p = pts[k - 1] + (pts[k] - pts[k - 1]) * (along / seg);
                    break;
                }
                along -= seg;
            }
            if (std::size_t(shown) == m_dots.size()) {
                auto* d = scene()->addEllipse(-7, -7, 14, 14, QPen(Qt::white, 2), QColor(13, 71, 161));
                d->setFlag(QGraphicsItem::ItemIgnoresTransformations); // the same size on screen at any zoom
                d->setZValue(4);
                d->setToolTip("a message in flight");
                m_dots.push_back(d);
            }
            QGraphicsItem* d = m_dots[std::size_t(shown)];
            d->setPos(p);
            d->setToolTip(QString("%1 \u2192 %2, %3 bytes")
                              .arg(m_run->hosts.size() > std::size_t(x.from) ? m_run->hosts[std::size_t(x.from)].name : QString())
                              .arg(m_run->hosts.size() > std::size_t(x.to) ? m_run->hosts[std::size_t(x.to)].name : QString())
                              .arg(x.bytes, 0, 'f', 0));
            d->show();
            ++shown;
        }
    }
    for (std::size_t i = std::size_t(shown); i < m_dots.size(); ++i)
        m_dots[i]->hide();
    m_dotsShown = shown;
    // The logical edges carrying a message now are drawn bold: the ring's current step, the star's active arms.
    std::set<QGraphicsItem*> active;
    if (shown > 0 && m_run)
        for (const RunData::Transfer& x : m_run->recentTransfers())
            if (x.start <= t && t < x.end) {
                if (const auto e = m_edgeItems.find({x.from, x.to}); e != m_edgeItems.end())
                    active.insert(e->second);
                else if (const auto b = m_edgeItems.find({x.to, x.from}); m_pattern.bothWays && b != m_edgeItems.end())
                    active.insert(b->second);
            }
    m_activeEdges = 0;
    for (QGraphicsItem* item : m_logicalItems) {
        auto* path = static_cast<QGraphicsPathItem*>(item);
        const bool on = active.count(item);
        m_activeEdges += on;
        QPen pen = path->pen();
        const double base = item->data(2).toDouble();
        if (base <= 0)
            item->setData(2, pen.widthF());
        pen.setWidthF(on ? 3 * (base > 0 ? base : pen.widthF()) : (base > 0 ? base : pen.widthF()));
        path->setPen(pen);
    }
    return shown;
}

void TopologyView::animate()
{
    const bool live = m_run && (m_run->status == "running" || m_run->status == "starting");
    if (!live || m_pace <= 0 || m_pace > 0.1) {
        if (m_dotsShown > 0)
            drawMessagesAt(-1);
        m_animTime = -1;
        if (m_animLag > 0) { // the legend loses its line
            m_animLag = 0;
            if (!m_userZoomed)
                fit();
            viewport()->update();
        }
        return;
    }
    // The child reports a message once it has arrived (in batches at most 50 ms apart), so the dots replay the
    // messages a little behind the run: by the longest of the last messages' transfer times, at least 0.3 s and at
    // most 10 s of wall time. The display clock runs at the pace and never passes that point.
    const auto& recent = m_run->recentTransfers();
    double longest = 0;
    int k = 0;
    for (auto it = recent.rbegin(); it != recent.rend() && k < 32; ++it, ++k)
        longest = std::max(longest, it->end - it->start);
    const double lag = std::clamp(1.2 * longest, 0.3 * m_pace, 10 * m_pace);
    const qint64 wall = QDateTime::currentMSecsSinceEpoch();
    const double target = m_run->now() - lag;
    if (m_animTime < 0)
        m_animTime = target;
    else
        m_animTime = std::clamp(m_animTime + m_pace * double(wall - m_animWall) / 1000.0, target - lag, target);
    m_animWall = wall;
    if (std::abs(lag - m_animLag) > 0.2 * m_animLag) { // the legend says how far behind
        const bool newLine = m_animLag <= 0;
        m_animLag = lag;
        if (newLine && !m_userZoomed)
            fit();
        viewport()->update();
    }
    drawMessagesAt(m_animTime);
}

void TopologyView::drawLogical(const std::vector<QPointF>& hostPos, const std::vector<QRectF>& hostRects)
{
    if (m_pattern.edges.empty())
        return;
    double extent = 0;
    for (const QPointF& p : hostPos)
        extent = std::max(extent, std::hypot(p.x(), p.y()));
    const bool many = m_pattern.edges.size() > 40;
    const double head = std::max(0.55 * hostRects.front().height(), 0.03 * extent);
    QColor colour = kLogical;
    colour.setAlpha(many ? 130 : 200);
    QPen pen(colour, many ? 1.5 : 3);
    pen.setCosmetic(true); // the same width on screen at any zoom
    pen.setCapStyle(Qt::RoundCap);
    const auto hostCount = hostPos.size();
    auto valid = [&](int r) { return r >= 0 && std::size_t(r) < hostCount; };

    // A ring whose hosts sit on one circle in rank order is drawn as arcs along a circle just inside them.
    bool circle = m_pattern.kind == CommPattern::Ring;
    std::vector<double> angle;
    double radius = std::numeric_limits<double>::infinity(), r0 = -1;
    for (const auto& [from, to] : m_pattern.edges) {
        if (!circle || !valid(from) || !valid(to)) {
            circle = false;
            break;
        }
        const QPointF p = hostPos[std::size_t(from)];
        const double r = std::hypot(p.x(), p.y());
        r0 = r0 < 0 ? r : r0;
        if (r < 1 || std::abs(r - r0) > 0.02 * r0) {
            circle = false;
            break;
        }
        double a = std::atan2(p.y(), p.x());
        while (!angle.empty() && a <= angle.back())
            a += 2 * kPi;
        angle.push_back(a);
        const QPointF u = p / r;
        const QRectF box = hostRects[std::size_t(from)];
        radius = std::min(radius, r - borderDistance(box.width(), box.height(), u) - 0.6 * head);
    }
    circle = circle && angle.size() >= 2 && angle.back() - angle.front() < 2 * kPi && radius > 0.3 * r0;
    std::map<std::pair<long long, long long>, QGraphicsItem*> drawn; // grouped hosts share their box's arrow
    auto place = [](QPointF p) { return (long long)std::llround(p.x() * 8) * 1000000007LL + std::llround(p.y() * 8); };
    for (std::size_t i = 0; i < m_pattern.edges.size(); ++i) {
        const auto [from, to] = m_pattern.edges[i];
        if (!valid(from) || !valid(to))
            continue;
        const std::pair<long long, long long> key{place(hostPos[std::size_t(from)]), place(hostPos[std::size_t(to)])};
        if (const auto d = drawn.find(key); d != drawn.end() && !circle) {
            m_edgeItems[{from, to}] = d->second;
            continue;
        }
        QPainterPath path, heads;
        if (circle) {
            const double a0 = angle[i], a1 = i + 1 < angle.size() ? angle[i + 1] : angle.front() + 2 * kPi;
            const double trim = std::min(0.12 * (a1 - a0), 0.35 * head / radius);
            const int steps = 48;
            for (int k = 0; k <= steps; ++k) {
                const double a = a0 + trim + (a1 - a0 - 2 * trim) * k / steps;
                const QPointF p(radius * std::cos(a), radius * std::sin(a));
                k == 0 ? path.moveTo(p) : path.lineTo(p);
            }
            const double aEnd = a1 - trim;
            heads.addPath(arrowHead(QPointF(radius * std::cos(aEnd), radius * std::sin(aEnd)),
                                    QPointF(-std::sin(aEnd), std::cos(aEnd)), head));
        } else {
            // A slightly bent curve from box border to box border (bent to the right of its direction, so that
            // the two directions between a pair of hosts stay apart).
            const QPointF a = hostPos[std::size_t(from)], b = hostPos[std::size_t(to)], d = b - a;
            const double len = std::hypot(d.x(), d.y());
            if (len < 1)
                continue;
            const QPointF c = (a + b) / 2 + 0.12 * QPointF(-d.y(), d.x());
            const QRectF ra = hostRects[std::size_t(from)].adjusted(-3, -3, 3, 3),
                         rb = hostRects[std::size_t(to)].adjusted(-3, -3, 3, 3);
            std::vector<QPointF> pts;
            const int steps = 64;
            for (int k = 0; k <= steps; ++k) {
                const double t = double(k) / steps;
                const QPointF p = (1 - t) * (1 - t) * a + 2 * t * (1 - t) * c + t * t * b;
                if (!ra.contains(p) && !rb.contains(p))
                    pts.push_back(p);
            }
            if (pts.size() < 2)
                pts = {a, b};
            path.moveTo(pts.front());
            for (std::size_t k = 1; k < pts.size(); ++k)
                path.lineTo(pts[k]);
            const std::size_t back = std::min<std::size_t>(3, pts.size() - 1);
            heads.addPath(arrowHead(pts.back(), pts.back() - pts[pts.size() - 1 - back], head));
            if (m_pattern.bothWays)
                heads.addPath(arrowHead(pts.front(), pts.front() - pts[back], 0.8 * head));
        }
        auto* item = scene()->addPath(path, pen);
        item->setZValue(1.5);
        item->setData(0, from);
        item->setData(1, to);
        item->setToolTip(QString("%1 \u2192 %2 (%3)")
                             .arg(m_run->hosts.size() > std::size_t(from) ? m_run->hosts[std::size_t(from)].name : QString::number(from),
                                  m_run->hosts.size() > std::size_t(to) ? m_run->hosts[std::size_t(to)].name : QString::number(to),
                                  m_pattern.caption.section(':', 0, 0)));
        auto* h = new QGraphicsPathItem(heads, item);
        h->setPen(Qt::NoPen);
        h->setBrush(colour);
        m_logicalItems.push_back(item);
        m_edgeItems[{from, to}] = item;
        drawn[key] = item;
    }
}

std::vector<TopologyView::LegendEntry> TopologyView::legend(double width) const
{
    std::vector<LegendEntry> out;
    if (m_drawing.isNull())
        return out;
    const QFontMetricsF fm(font());
    const double sw = std::round(fm.height() * 0.8), line = fm.height() + 4;
    std::vector<std::pair<QColor, QString>> items{{kCompute, "compute"}, {kComm, "communicate"}, {kIdle, "idle"},
                                                  {utilizationColour(0.5), "link 50 %"}, {utilizationColour(1), "link 100 %"}};
    double x = 6, y = 4;
    for (const auto& [c, t] : items) {
        const double w = sw + 4 + fm.horizontalAdvance(t) + 10;
        if (x > 6 && x + w > width) {
            x = 6;
            y += line;
        }
        out.push_back({c, t, false, QRectF(x, y, w, line)});
        x += w;
    }
    if (m_animLag > 0) { // the travelling messages (drawn as a dot in the legend)
        x = 6;
        y += line;
        const QString t = QString("message in flight (replayed %1 s behind)").arg(m_animLag / m_pace, 0, 'f', 1);
        LegendEntry e{QColor(13, 71, 161), fm.elidedText(t, Qt::ElideRight, std::max(40.0, width - sw - 16)), false,
                      QRectF(x, y, std::min(sw + 4 + fm.horizontalAdvance(t) + 10, width - 6), line)};
        e.dot = true;
        out.push_back(e);
    }
    if (!m_pattern.edges.empty()) {
        x = 6;
        y += line;
        const double w = 2.5 * sw + 4 + fm.horizontalAdvance(m_pattern.caption);
        out.push_back({kLogical, fm.elidedText(m_pattern.caption, Qt::ElideRight, std::max(40.0, width - 2.5 * sw - 16)),
                       true, QRectF(x, y, std::min(w, width - 6), line)});
    }
    return out;
}

double TopologyView::legendHeight() const
{
    const auto l = legend(viewport()->width());
    return l.empty() ? 0 : l.back().rect.bottom() + 4;
}

void TopologyView::drawForeground(QPainter* painter, const QRectF&)
{
    const auto entries = legend(viewport()->width());
    if (entries.empty())
        return;
    painter->save();
    painter->resetTransform();
    painter->setFont(font());
    const QFontMetricsF fm(font());
    const double sw = std::round(fm.height() * 0.8);
    painter->setPen(Qt::NoPen);
    painter->setBrush(QColor(255, 255, 255, 225));
    painter->drawRect(QRectF(0, 0, viewport()->width(), entries.back().rect.bottom() + 2));
    for (const LegendEntry& e : entries) {
        const double cy = e.rect.center().y();
        double tx = e.rect.left() + sw + 4;
        if (e.arrow) {
            QPen pen(e.colour, 3);
            painter->setPen(pen);
            painter->drawLine(QPointF(e.rect.left(), cy), QPointF(e.rect.left() + 2.5 * sw - 6, cy));
            painter->setPen(Qt::NoPen);
            painter->setBrush(e.colour);
            painter->drawPath(arrowHead(QPointF(e.rect.left() + 2.5 * sw, cy), QPointF(1, 0), 9));
            tx = e.rect.left() + 2.5 * sw + 4;
        } else if (e.dot) {
            painter->setPen(QPen(Qt::white, 2));
            painter->setBrush(e.colour);
            painter->drawEllipse(QPointF(e.rect.left() + sw / 2, cy), sw / 2, sw / 2);
        } else {
            painter->setPen(QPen(Qt::black, 0.5));
            painter->setBrush(e.colour);
            painter->drawRect(QRectF(e.rect.left(), cy - sw / 2, sw, sw));
        }
        painter->setPen(Qt::black);
        painter->drawText(QRectF(tx, e.rect.top(), e.rect.right() - tx, e.rect.height()), Qt::AlignVCenter | Qt::AlignLeft, e.text);
    }
    painter->restore();
}

void TopologyView::updateLabelDetail()
{
    m_labelsShown = m_labelPixels <= 0 || hostLabelScreenPixels() >= kMinLabelPixels;
    bool anyShort = false;
    for (const HostItem& h : m_hosts)
        anyShort = anyShort || h.shortLabel;
    m_shortShown = !m_labelsShown && anyShort && shortLabelScreenPixels() >= kMinLabelPixels - 1;
    for (const HostItem& h : m_hosts) {
        h.label->setVisible(m_labelsShown);
        if (h.shortLabel)
            h.shortLabel->setVisible(m_shortShown);
    }
    for (QGraphicsItem* g : m_groupLabels)
        g->setVisible(!m_labelsShown && !m_shortShown);
    for (QGraphicsItem* g : m_keptLabels) // the servers (no short name) by name
        g->setVisible(!m_labelsShown);
    // Screen-size labels must not cover each other: in order (the server, the groups, the other servers), a label
    // that would touch one already shown is hidden (its host keeps its tool tip).
    std::vector<QRectF> taken;
    std::vector<QGraphicsItem*> order; // the server, the groups, then the other servers (edge servers)
    if (!m_keptLabels.empty())
        order.push_back(m_keptLabels.front());
    order.insert(order.end(), m_groupLabels.begin(), m_groupLabels.end());
    if (m_keptLabels.size() > 1)
        order.insert(order.end(), m_keptLabels.begin() + 1, m_keptLabels.end());
    for (QGraphicsItem* g : order) {
        if (!g->isVisible())
            continue;
        const QRectF b = g->boundingRect();
        const QRectF r = QRectF(QPointF(mapFromScene(g->pos())) + b.topLeft(), b.size()).adjusted(-2, -2, 2, 2);
        if (std::any_of(taken.begin(), taken.end(), [&](const QRectF& t) { return t.intersects(r); }))
            g->setVisible(false);
        else
            taken.push_back(r);
    }
}

double TopologyView::shortLabelScreenPixels() const
{
    return kShortPixels * transform().m11();
}
void TopologyView::refresh()
{
    if (!m_run)
        return;
    if (m_run->platform() != m_built) {
        rebuild();
        return;
    }
    animate();
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
        auto [compute, comm] = h.members.empty() ? m_run->hostActivity(h.rank, t0) : std::pair{0.0, 0.0};
        for (int m : h.members) { // a group box: its members' mean
            const auto [c, k] = m_run->hostActivity(m, t0);
            compute += c / double(h.members.size());
            comm += k / double(h.members.size());
        }
        const QColor fill = blend(compute, comm);
        h.box->setBrush(fill);
        const QBrush text = fill.lightnessF() < 0.45 ? Qt::white : Qt::black; // readable on dark blue and green
        h.label->setBrush(text);
        if (h.shortLabel)
            h.shortLabel->setBrush(text);
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
    m_userZoomed = false;
    if (m_drawing.isNull()) { // a message
        const QRectF b = scene()->itemsBoundingRect();
        setSceneRect(b.adjusted(-b.width(), -b.height(), b.width(), b.height()));
        resetTransform();
        centerOn(b.center());
        return;
    }
    const QRectF vp = viewport()->rect();
    const double top = legendHeight();
    auto scaleFor = [&](QSizeF margin) {
        const QRectF avail = vp.adjusted(8 + margin.width(), top + 8 + margin.height(), -8 - margin.width(), -8 - margin.height());
        return std::max(1e-3, std::min(avail.width() / m_drawing.width(), avail.height() / m_drawing.height()));
    };
    double s = scaleFor({});
    const bool anyShort = std::any_of(m_hosts.begin(), m_hosts.end(), [](const HostItem& h) { return h.shortLabel; });
    const bool grouped = m_labelPixels * s < kMinLabelPixels && !(anyShort && kShortPixels * s >= kMinLabelPixels - 1);
    if (grouped && !m_groupMargin.isEmpty())
        s = scaleFor(m_groupMargin);
    const double w = std::max(m_drawing.width(), vp.width() / s), h = std::max(m_drawing.height(), vp.height() / s);
    setSceneRect(m_drawing.adjusted(-2 * w, -2 * h, 2 * w, 2 * h));
    setTransform(QTransform::fromScale(s, s));
    centerOn(m_drawing.center() - QPointF(0, top / 2 / s));
    updateLabelDetail();
}

void TopologyView::wheelEvent(QWheelEvent* e)
{
    const double f = std::pow(1.0015, e->angleDelta().y());
    scale(f, f);
    m_userZoomed = true;
    updateLabelDetail();
}

void TopologyView::resizeEvent(QResizeEvent* e)
{
    QGraphicsView::resizeEvent(e);
    if (!m_userZoomed)
        fit();
}

} // namespace dml::ui
