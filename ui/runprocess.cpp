// SPDX-License-Identifier: GPL-3.0-or-later
#include "runprocess.h"

#include <QJsonDocument>
#include <QTimer>

namespace dml::ui {

void queryPlatform(const QString& exe, const QString& scenarioFile, QObject* context,
                   std::function<void(const QJsonObject&)> done)
{
    auto* p = new QProcess(context);
    p->setProcessChannelMode(QProcess::SeparateChannels);
    QObject::connect(p, &QProcess::finished, context, [p, done](int code, QProcess::ExitStatus st) {
        QJsonObject graph;
        if (st == QProcess::NormalExit && code == 0)
            graph = QJsonDocument::fromJson(p->readAllStandardOutput()).object();
        p->deleteLater();
        done(graph);
    });
    QObject::connect(p, &QProcess::errorOccurred, context, [p, done](QProcess::ProcessError e) {
        if (e == QProcess::FailedToStart) {
            p->deleteLater();
            done({});
        }
    });
    p->start(exe, {"platform", scenarioFile, "--json", "-"});
}

RunProcess::RunProcess(const QString& exe, const QString& scenarioFile, const QString& db, QObject* parent)
    : QObject(parent), m_exe(exe), m_file(scenarioFile), m_db(db), m_data(std::make_shared<RunData>())
{
    m_data->live = true;
    m_data->status = "starting";
}

RunProcess::~RunProcess()
{
    // The run child and a platform query that may still be running.
    for (QProcess* p : findChildren<QProcess*>())
        if (p->state() != QProcess::NotRunning) {
            p->disconnect();
            p->kill();
            p->waitForFinished(2000);
        }
}

void RunProcess::start(double pace)
{
    m_proc = new QProcess(this);
    m_proc->setProcessChannelMode(QProcess::SeparateChannels);
    connect(m_proc, &QProcess::readyReadStandardOutput, this, &RunProcess::readOut);
    connect(m_proc, &QProcess::readyReadStandardError, this, [this] {
        m_stderr += m_proc->readAllStandardError();
        if (m_stderr.size() > 64 * 1024)
            m_stderr = m_stderr.right(32 * 1024);
    });
    connect(m_proc, &QProcess::finished, this, &RunProcess::onFinished);
    connect(m_proc, &QProcess::errorOccurred, this, [this](QProcess::ProcessError e) {
        if (e == QProcess::FailedToStart) {
            m_data->error = "cannot start " + m_exe + ": " + m_proc->errorString();
            onFinished(-1, QProcess::CrashExit);
        }
    });
    m_wall.start();
    m_proc->start(m_exe, {"run", m_file, "--stream", "--db", m_db});
    if (pace > 0)
        command(QString("pace %1").arg(pace));

    queryPlatform(m_exe, m_file, this, [this](const QJsonObject& graph) {
        if (graph.isEmpty())
            return; // the run itself reports what is wrong with the scenario
        m_data->setPlatform(graph);
        emit platformReady();
        emit updated();
    });
}

void RunProcess::command(const QString& line)
{
    if (m_proc && m_proc->state() != QProcess::NotRunning)
        m_proc->write(line.toUtf8() + '\n');
}

void RunProcess::terminate(int graceMs)
{
    if (!m_proc || m_proc->state() == QProcess::NotRunning)
        return;
    m_proc->terminate();
    if (!m_proc->waitForFinished(graceMs)) {
        m_proc->kill();
        m_proc->waitForFinished(2000);
    }
}

bool RunProcess::isRunning() const
{
    return m_proc && !m_done;
}

QString RunProcess::stderrTail() const
{
    QList<QByteArray> lines = m_stderr.trimmed().split('\n');
    if (lines.size() > 6)
        lines = lines.mid(lines.size() - 6);
    return QString::fromUtf8(lines.join('\n'));
}

void RunProcess::readOut()
{
    m_buffer += m_proc->readAllStandardOutput();
    bool changed = false;
    qsizetype start = 0;
    for (qsizetype nl = m_buffer.indexOf('\n'); nl >= 0; nl = m_buffer.indexOf('\n', start)) {
        const QByteArray line = m_buffer.mid(start, nl - start);
        start = nl + 1;
        const QJsonObject e = QJsonDocument::fromJson(line).object();
        if (e.isEmpty())
            continue;
        const QString previous = m_data->status;
        const QString event = m_data->applyEvent(e);
        changed = true;
        if (event == "started")
            emit started();
        if (m_data->status != previous && (m_data->status == "paused" || m_data->status == "running"))
            emit stateChanged();
    }
    m_buffer.remove(0, start);
    if (changed)
        emit updated();
}

void RunProcess::onFinished(int exitCode, QProcess::ExitStatus status)
{
    if (m_done)
        return;
    m_done = true;
    if (m_proc && m_proc->state() == QProcess::NotRunning) {
        m_stderr += m_proc->readAllStandardError();
        if (m_proc->bytesAvailable())
            readOut();
    }
    RunData& d = *m_data;
    if (status == QProcess::NormalExit && exitCode == 0 && d.hasSummary) {
        d.status = "finished";
    } else {
        d.status = "failed";
        if (d.error.isEmpty()) {
            m_crashed = true;
            const QString how = status == QProcess::CrashExit ? QString("the simulation process crashed")
                                                              : QString("the simulation process exited with code %1")
                                                                    .arg(exitCode);
            const QString tail = stderrTail();
            d.error = tail.isEmpty() ? how : how + ": " + tail;
        }
    }
    ++d.revision;
    emit updated();
    emit finished();
}

} // namespace dml::ui
