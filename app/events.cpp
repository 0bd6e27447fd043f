// SPDX-License-Identifier: GPL-3.0-or-later
#include "events.h"

#include <QJsonArray>
#include <QJsonDocument>

#include <chrono>
#include <cmath>

namespace dml::app {
namespace {
QJsonValue num(double v)
{
    return std::isfinite(v) ? QJsonValue(v) : QJsonValue(QJsonValue::Null);
}
} // namespace

QJsonObject toJson(const Sample& s)
{
    return {{"time", s.time},          {"step", double(s.step)},   {"epoch", s.epoch},
            {"train_loss", num(s.trainLoss)}, {"test_loss", num(s.testLoss)}, {"test_accuracy", num(s.testAccuracy)}};
}

QJsonObject toJson(const HostStats& h)
{
    return {{"name", QString::fromStdString(h.name)},
            {"role", QString::fromStdString(h.role)},
            {"speed", h.speed},
            {"elapsed", h.elapsed},
            {"finish", h.finish},
            {"compute", h.compute},
            {"communication", h.communication},
            {"idle", h.idle},
            {"bytes_sent", h.bytesSent},
            {"bytes_received", h.bytesReceived},
            {"bytes_lost", h.bytesLost},
            {"flops", h.flops}};
}

QJsonObject toJson(const Summary& s)
{
    return {{"final_accuracy", s.finalAccuracy},
            {"best_accuracy", s.bestAccuracy},
            {"final_test_loss", num(s.finalTestLoss)},
            {"simulated_time", s.simulatedTime},
            {"target_accuracy", s.targetAccuracy},
            {"time_to_target", s.timeToTarget < 0 ? QJsonValue(QJsonValue::Null) : QJsonValue(s.timeToTarget)},
            {"communication_overhead", s.communicationOverhead},
            {"utilization", s.utilization},
            {"idle_fraction", s.idleFraction},
            {"bytes_on_wire", s.bytesOnWire},
            {"bytes_lost", s.bytesLost},
            {"accuracy_simulated", s.accuracySimulated},
            {"staleness_mean", s.stalenessMean < 0 ? QJsonValue(QJsonValue::Null) : QJsonValue(s.stalenessMean)},
            {"staleness_max", s.stalenessMax < 0 ? QJsonValue(QJsonValue::Null) : QJsonValue(s.stalenessMax)},
            {"steps", double(s.steps)},
            {"epochs", s.epochs},
            {"partition_parts", s.partitionParts},
            {"partition_size_min", s.partitionSizeMin},
            {"partition_size_max", s.partitionSizeMax},
            {"partition_label_skew", s.partitionLabelSkew},
            {"partition_largest_class_share", s.partitionLargestClassShare},
            {"eval_interval_epochs", s.evalIntervalEpochs},
            {"epochs_per_step", s.epochsPerStep},
            {"eval_note", QString::fromStdString(s.evalNote)},
            {"compressor", QString::fromStdString(s.compressor)},
            {"uncompressed_bytes", s.uncompressedBytes},
            {"compressed_bytes", s.compressedBytes},
            {"compression_ratio", s.compressedBytes > 0 ? QJsonValue(s.uncompressedBytes / s.compressedBytes)
                                                        : QJsonValue(QJsonValue::Null)},
            {"codec_seconds", s.codecSeconds},
            {"local_steps", s.localSteps},
            {"privacy", QString::fromStdString(s.privacy)},
            {"epsilon", s.epsilon < 0 ? QJsonValue(QJsonValue::Null) : QJsonValue(s.epsilon)},
            {"delta", s.delta},
            {"secure_aggregation", QString::fromStdString(s.secureAggregation)},
            {"secagg_seconds", s.secAggSeconds},
            {"secagg_bytes", s.secAggBytes},
            {"secagg_failed_rounds", double(s.secAggFailedRounds)},
            {"failures", s.failures},
            {"restarts", s.restarts},
            {"lost_steps", double(s.lostSteps)},
            {"lost_compute_seconds", s.lostComputeSeconds},
            {"recovery_seconds", s.recoverySeconds},
            {"checkpoints", s.checkpoints},
            {"checkpoint_seconds", s.checkpointSeconds},
            {"goodput", s.goodput < 0 ? QJsonValue(QJsonValue::Null) : QJsonValue(s.goodput)},
            {"stop_reason", QString::fromStdString(s.stopReason)}};
}

QJsonArray toJson(const std::vector<LinkStats>& links)
{
    QJsonArray a;
    for (const auto& l : links)
        a.append(QJsonObject{{"name", QString::fromStdString(l.name)}, {"bandwidth", l.bandwidth},
                             {"latency", l.latency}, {"bytes", l.bytes}, {"average_load", l.averageLoad},
                             {"utilization", l.utilization}});
    return a;
}

void writeEvent(std::FILE* out, const QString& event, QJsonObject body)
{
    body.insert("event", event);
    const QByteArray line = QJsonDocument(body).toJson(QJsonDocument::Compact);
    std::fwrite(line.constData(), 1, std::size_t(line.size()), out);
    std::fputc('\n', out);
    std::fflush(out);
}

void StreamSink::sample(const Sample& s)
{
    writeEvent(m_out, "sample", toJson(s));
}

void StreamSink::hostStats(const std::vector<HostStats>& hosts)
{
    QJsonArray a;
    for (const auto& h : hosts)
        a.append(toJson(h));
    writeEvent(m_out, "host_stats", {{"hosts", a}});
}

void StreamSink::spans(const std::vector<Span>& spans)
{
    // Compact rows: [rank, kind, peer, start, end, amount]; kind 0 compute, 1 send, 2 receive.
    QJsonArray rows;
    for (const Span& x : spans)
        rows.append(QJsonArray{x.rank, int(x.kind), x.peer, x.start, x.end, x.amount});
    writeEvent(m_out, "spans", {{"spans", rows}});
}

void StreamSink::labelHistogram(const std::vector<std::vector<int>>& counts)
{
    QJsonArray rows;
    for (const auto& shard : counts) {
        QJsonArray row;
        for (int c : shard)
            row.append(c);
        rows.append(row);
    }
    writeEvent(m_out, "label_histogram", {{"counts", rows}});
}

void StreamSink::point(const std::string& series, double time, double value)
{
    writeEvent(m_out, "point", {{"series", QString::fromStdString(series)}, {"time", time}, {"value", value}});
}

void StreamSink::linkStats(const std::vector<LinkStats>& links)
{
    writeEvent(m_out, "link_stats", {{"links", toJson(links)}});
}

void StreamSink::summary(const Summary& s)
{
    writeEvent(m_out, "summary", toJson(s));
}

namespace {
double wallNow()
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
} // namespace

void ProgressSink::sample(const Sample& s)
{
    m_accuracy = s.testAccuracy;
    if (!m_terminal)
        std::fprintf(stderr, "step %ld  epoch %.2f  simulated %.4g s  test accuracy %.4f  test loss %.4f\n", s.step,
                     s.epoch, s.time, s.testAccuracy, s.testLoss);
    else
        draw(s.step, m_total, s.time);
}

void ProgressSink::progress(long step, long totalSteps, double time)
{
    m_lastStep = step;
    m_total = totalSteps;
    m_lastTime = time;
    if (!m_terminal)
        return;
    const double now = wallNow();
    if (now - m_lastDraw < 0.1 && step < totalSteps)
        return;
    m_lastDraw = now;
    draw(step, totalSteps, time);
}

void ProgressSink::draw(long step, long total, double time)
{
    constexpr int width = 30;
    const double f = total > 0 ? std::min(1.0, double(step) / double(total)) : 0.0;
    const int filled = int(f * width);
    char bar[width + 1];
    for (int i = 0; i < width; ++i)
        bar[i] = i < filled ? '#' : '.';
    bar[width] = 0;
    std::fprintf(stderr, "\r[%s] %3.0f%%  step %ld/%ld  simulated %.4g s", bar, f * 100, step, total, time);
    if (m_accuracy >= 0)
        std::fprintf(stderr, "  accuracy %.4f", m_accuracy);
    std::fprintf(stderr, "\033[K");
    std::fflush(stderr);
}

void ProgressSink::finish()
{
    if (m_terminal) {
        draw(m_lastStep, m_total, m_lastTime);
        std::fputc('\n', stderr);
    }
}

} // namespace dml::app
