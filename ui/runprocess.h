// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// One simulation in a child process: `dmlsim run SCENARIO --stream --db DB` (one simulation per process,
// ../shared/SIMGRID-NOTES.md), plus `dmlsim platform SCENARIO --json -` for the host names, roles and links.
// Events are read as they arrive and applied to a RunData; run control goes to the child's stdin.
#include "rundata.h"

#include <QElapsedTimer>
#include <QObject>
#include <QProcess>

#include <functional>

namespace dml::ui {

class RunProcess : public QObject {
    Q_OBJECT
public:
    /// `exe` is the dmlsim executable, `scenarioFile` a scenario on disk, `db` the run store.
    RunProcess(const QString& exe, const QString& scenarioFile, const QString& db, QObject* parent = nullptr);
    ~RunProcess() override;

    /// Starts both children. pace: simulated seconds per wall second, 0 = as fast as possible.
    void start(double pace);
    /// Sends one run-control line ("pause", "resume", "step", "stop", "pace X").
    void command(const QString& line);
    /// Ends the child now (SIGTERM, then SIGKILL after `graceMs`); the run is then marked failed by the owner.
    void terminate(int graceMs);
    bool isRunning() const;
    /// The run's data (shared with the charts).
    const RunDataPtr& data() const { return m_data; }
    /// The child's stderr, last lines.
    QString stderrTail() const;
    double wallSeconds() const { return m_wall.isValid() ? m_wall.elapsed() / 1000.0 : 0; }
    /// True if the run ended without a summary or an error event of its own (crash, kill, failed to start).
    bool crashed() const { return m_crashed; }

signals:
    void started();          ///< the child reported its run id
    void updated();          ///< new data
    void platformReady();
    void stateChanged();     ///< paused / running
    void finished();         ///< the child ended; data()->status is "finished" or "failed"

private:
    void readOut();
    void onFinished(int exitCode, QProcess::ExitStatus status);

    QString m_exe, m_file, m_db;
    QProcess* m_proc = nullptr;
    QProcess* m_platform = nullptr;
    QByteArray m_buffer, m_stderr;
    RunDataPtr m_data;
    QElapsedTimer m_wall;
    bool m_crashed = false;
    bool m_done = false;
};

/// Runs `dmlsim platform FILE --json -` in a child and calls `done(graph)` (empty on failure) in this thread.
void queryPlatform(const QString& exe, const QString& scenarioFile, QObject* context,
                   std::function<void(const QJsonObject&)> done);

} // namespace dml::ui
