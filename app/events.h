// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The JSON-lines event protocol of `dmlsim run --stream` (read by the GUI; README.md, "Stream protocol"):
// one compact JSON object per line with an "event" key: started, sample, host_stats, summary, error.
#include "metrics.h"

#include <QJsonArray>
#include <QJsonObject>

#include <cstdio>
#include <string>
#include <vector>

namespace dml::app {

QJsonObject toJson(const Sample& s);
QJsonObject toJson(const HostStats& h);
QJsonObject toJson(const Summary& s);
/// Links' traffic, for `run --json` ("links") and the `link_stats` stream event.
QJsonArray toJson(const std::vector<LinkStats>& links);

/// Writes one event as a line on `out` and flushes it.
void writeEvent(std::FILE* out, const QString& event, QJsonObject body);

/// MetricsSink that streams sample / host_stats / summary events.
class StreamSink final : public MetricsSink {
public:
    explicit StreamSink(std::FILE* out) : m_out(out) {}
    void sample(const Sample& s) override;
    void hostStats(const std::vector<HostStats>& h) override;
    void linkStats(const std::vector<LinkStats>& l) override;
    void spans(const std::vector<Span>& s) override;
    void labelHistogram(const std::vector<std::vector<int>>& counts) override;
    void point(const std::string& series, double time, double value) override;
    void summary(const Summary& s) override;

private:
    std::FILE* m_out;
};

/// Progress on stderr: a redrawn bar on a terminal, else one line per evaluation.
class ProgressSink final : public MetricsSink {
public:
    explicit ProgressSink(bool terminal) : m_terminal(terminal) {}
    void sample(const Sample& s) override;
    void progress(long step, long totalSteps, double time) override;
    void finish();

private:
    void draw(long step, long total, double time);
    bool m_terminal;
    double m_lastDraw = -1;
    double m_accuracy = -1;
    long m_lastStep = 0, m_total = 0;
    double m_lastTime = 0;
};

} // namespace dml::app
