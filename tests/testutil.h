// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Shared by the tests that drive `dmlsim` as a user does: a child process, a tiny scenario, temporary files.
#include <QFile>
#include <QProcess>
#include <QTemporaryDir>

namespace dml::test {

/// A scenario that runs in milliseconds: 3 workers, synthetic data, 20 steps (10 per epoch), samples every 5.
inline const char* kTiny = R"json({
  "name": "tiny",
  "seed": 5,
  "platform": { "workers": 3, "worker_speed": "1Gf", "link_bandwidth": "1Gbps", "link_latency": "10us" },
  "workload": {
    "dataset": { "name": "synthetic", "classes": 3, "features": 8, "train_samples": 300, "test_samples": 60 },
    "model": { "type": "mlp", "hidden": [8] },
    "batch_size": 10,
    "optimizer": { "type": "sgd", "learning_rate": 0.1 }
  },
  "strategy": { "type": "sync-ps" },
  "run": { "epochs": 2, "eval_interval": 5 }
})json";

struct Result {
    int exitCode = -1; ///< -1 if it crashed
    QByteArray out, err;
};

/// How much longer than usual waits may take: $DMLSIM_TEST_TIME_SCALE (>= 1; `./setup.sh asan` sets 4, sanitized
/// builds being several times slower), else 1.
inline int timeScale()
{
    const int s = qEnvironmentVariableIntValue("DMLSIM_TEST_TIME_SCALE");
    return s >= 1 ? s : 1;
}

/// Runs the built dmlsim with `args` and waits for it (`waitSeconds`, 2 minutes unless said, x timeScale() at most,
/// else the test aborts).
inline Result dmlsim(const QStringList& args, const QString& workDir = {}, const QProcessEnvironment& env = {},
                     int waitSeconds = 120)
{
    QProcess p;
    if (!workDir.isEmpty())
        p.setWorkingDirectory(workDir);
    if (!env.isEmpty())
        p.setProcessEnvironment(env);
    p.start(DMLSIM_EXE, args);
    if (!p.waitForFinished(waitSeconds * 1000 * timeScale()))
        qFatal("dmlsim %s did not finish", qPrintable(args.join(' ')));
    return {p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, p.readAllStandardOutput(),
            p.readAllStandardError()};
}

/// Writes `text` to `name` in `dir` and returns the path.
inline QString writeFile(const QTemporaryDir& dir, const QString& name, const QByteArray& text)
{
    QFile f(dir.filePath(name));
    if (!f.open(QIODevice::WriteOnly))
        qFatal("cannot write %s", qPrintable(f.fileName()));
    f.write(text);
    return f.fileName();
}

} // namespace dml::test
