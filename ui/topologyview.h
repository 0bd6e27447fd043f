// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The platform drawn as a graph (QGraphicsView): hosts with their roles, links with their bandwidths. During a
// run, hosts are coloured by what they did lately (compute / communicate / idle) and links by utilization.
#include "rundata.h"

#include <QGraphicsView>

#include <map>

class QGraphicsItem;
class QGraphicsLineItem;
class QGraphicsRectItem;

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

protected:
    void wheelEvent(QWheelEvent* e) override;
    void resizeEvent(QResizeEvent* e) override;

private:
    void rebuild();

    RunDataPtr m_run;
    QJsonObject m_built; // the graph the scene shows
    int m_seenRevision = -1;
    bool m_userZoomed = false;
    struct HostItem {
        int rank;
        QGraphicsRectItem* box;
    };
    std::vector<HostItem> m_hosts;
    std::map<QString, QGraphicsItem*> m_links;         // link node -> its marker
    std::map<QString, std::vector<QGraphicsLineItem*>> m_linkEdges; // link node -> its edges
};

} // namespace dml::ui
