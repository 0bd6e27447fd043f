// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The platform drawn as a graph (QGraphicsView): hosts with their names, links with their bandwidths, and above
// them, in purple, the strategy's logical communication pattern (the ring of a ring all-reduce, the star of a
// parameter server or of federated clients, the two levels of hierarchical FedAvg). During a run, hosts are
// coloured by what they did lately (compute / communicate / idle) and links by utilization. The legend is drawn
// over the viewport at a fixed size; host names are hidden when they would be too small to read at the current
// zoom, and then groups (sites, or roles) are labelled instead.
#include "commpattern.h"
#include "rundata.h"

#include <QGraphicsView>

#include <map>
#include <utility>
#include <vector>

class QGraphicsItem;
class QGraphicsLineItem;
class QGraphicsRectItem;
class QGraphicsSimpleTextItem;

namespace dml::ui {

class TopologyView : public QGraphicsView {
    Q_OBJECT
public:
    explicit TopologyView(QWidget* parent = nullptr);
    /// Shows this run's platform (redrawn when its graph arrives) and its activity. Null clears the view.
    void setRun(RunDataPtr run);
    /// Updates the colours from the run's data (cheap; call from the replot timer).
    void refresh();
    void fit();
    /// Hosts drawn / coloured as active (for tests): number of host items, and of those not in the idle colour.
    int hostItemCount() const { return int(m_hosts.size()); }
    int colouredHostCount() const;
    /// Scene rectangles of the host items, by rank (for tests: no two may intersect).
    std::vector<QRectF> hostSceneRects() const;
    /// The logical pattern drawn: its caption and its edges (from rank, to rank), one per drawn arrow.
    const CommPattern& logicalPattern() const { return m_pattern; }
    int logicalEdgeCount() const { return int(m_logicalItems.size()); }
    std::vector<std::pair<int, int>> logicalEdges() const;
    /// Host names: shown one by one, or (too small to read) replaced by group labels. Their size on screen, px.
    bool hostLabelsShown() const { return m_labelsShown; }
    /// When the full names are too small: short names ("w3", "c7", "es1"), bigger, while those are legible.
    bool shortLabelsShown() const { return m_shortShown; }
    double hostLabelScreenPixels() const;
    double shortLabelScreenPixels() const;
    int groupLabelCount() const { return int(m_groupLabels.size()); }
    /// Hosts (by name) and links (platform graph ids, e.g. "server_link") drawn with a yellow halo: a lesson's
    /// "highlight" hint. Names not on the platform are ignored.
    void setHighlight(const QStringList& names);
    int highlightedCount() const { return int(m_highlightItems.size()); }
    /// The pace of the runs the view shows (simulated s per wall-clock s; 0 = as fast as possible). At paces of 0.1
    /// and slower, refresh() draws the messages in flight as dots travelling along their routes, replayed behind the
    /// run by about one message time (0.3 to 10 s of wall time: a message is reported when it has arrived); the
    /// legend says how far behind.
    void setPace(double pace);
    /// Draws the messages in flight at simulated time `t` (s): one dot per message, at the fraction of its transfer
    /// time elapsed along the polyline host, links, host. Returns how many dots it drew (at most kMaxDots).
    int drawMessagesAt(double t);
    static constexpr int kMaxDots = 300;
    /// The dots drawn by the last drawMessagesAt(), scene coordinates (for tests).
    std::vector<QPointF> messageDots() const;
    /// Logical edges drawn bold by the last drawMessagesAt(): those carrying a message at that time (the ring's
    /// current step; for a star, an arm in either direction).
    int activeLogicalEdges() const { return m_activeEdges; }

protected:
    void wheelEvent(QWheelEvent* e) override;
    void resizeEvent(QResizeEvent* e) override;
    void drawForeground(QPainter* painter, const QRectF& rect) override;

private:
    void rebuild();
    void applyHighlight();
    void animate();
    void updateLabelDetail();
    void drawLogical(const std::vector<QPointF>& hostPos, const std::vector<QRectF>& hostRects);
    struct LegendEntry {
        QColor colour;
        QString text;
        bool arrow = false;
        QRectF rect; // viewport coordinates
        bool dot = false;
    };
    std::vector<LegendEntry> legend(double width) const;
    double legendHeight() const;

    RunDataPtr m_run;
    QJsonObject m_built; // the graph the scene shows
    int m_seenRevision = -1;
    bool m_userZoomed = false;
    struct HostItem {
        int rank;
        QGraphicsRectItem* box;
        QGraphicsSimpleTextItem* label;
        QGraphicsSimpleTextItem* shortLabel; // "w3" for worker-3, bigger; null for names without a number
        std::vector<int> members{};          // a group box (hundreds of hosts): the ranks it stands for; rank is -1
    };
    std::vector<HostItem> m_hosts;
    std::map<QString, QGraphicsItem*> m_links;         // link node -> its marker
    std::map<QString, std::vector<QGraphicsLineItem*>> m_linkEdges; // link node -> its edges
    CommPattern m_pattern;
    std::vector<QGraphicsItem*> m_logicalItems; // one per arrow drawn; data(0), data(1) = from, to rank
    std::map<std::pair<int, int>, QGraphicsItem*> m_edgeItems; // every logical edge (from, to) -> its arrow
    std::vector<QGraphicsItem*> m_groupLabels;  // shown instead of the host names when those are too small
    std::vector<QGraphicsItem*> m_keptLabels;   // servers' names at screen size when the host names are hidden
    QRectF m_drawing;        // scene rectangle of hosts and links
    double m_labelPixels = 0; // host name font size in scene units
    QSizeF m_groupMargin;     // room (px) the group labels need outside the drawing
    bool m_labelsShown = true;
    bool m_shortShown = false;
    QStringList m_highlight;
    std::vector<QGraphicsItem*> m_highlightItems;
    double m_pace = 0;
    std::vector<QGraphicsItem*> m_dots; // pool of message dots
    int m_dotsShown = 0;
    int m_activeEdges = 0;
    double m_animTime = -1;     // simulated time the dots show
    qint64 m_animWall = 0;      // wall clock (ms) when m_animTime was set
    double m_animLag = 0;       // how far (simulated s) the dots trail the run; 0 when no dots are drawn
};

} // namespace dml::ui
