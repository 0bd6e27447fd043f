// SPDX-License-Identifier: GPL-3.0-or-later
#include "childpool.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QFileInfo>
#include <QProcess>

#include <memory>

namespace dml::app {

QString selfExecutable()
{
    return QFileInfo("/proc/self/exe").canonicalFilePath();
}

void runChildren(std::vector<ChildJob>& jobs, int parallel, const std::function<void(std::size_t)>& onDone)
{
    static int argc = 1;
    static char arg0[] = "dmlsim";
    static char* argv[] = {arg0, nullptr};
    std::unique_ptr<QCoreApplication> app;
    if (!QCoreApplication::instance())
        app = std::make_unique<QCoreApplication>(argc, argv);

    const QString exe = selfExecutable();
    QEventLoop loop;
    std::size_t next = 0, running = 0, done = 0;
    std::vector<std::unique_ptr<QProcess>> procs(jobs.size());
    std::vector<QElapsedTimer> timers(jobs.size());

    std::function<void()> startMore;
    auto ended = [&](std::size_t i) { // bookkeeping once job i is over, however it ended
        --running;
        ++done;
        onDone(i);
        startMore();
        if (done == jobs.size())
            loop.quit();
    };
    startMore = [&] {
        while (running < std::size_t(std::max(1, parallel)) && next < jobs.size()) {
            const std::size_t i = next++;
            auto& p = procs[i];
            p = std::make_unique<QProcess>();
            p->setProcessChannelMode(QProcess::SeparateChannels);
            QObject::connect(p.get(), &QProcess::finished, &loop, [&, i](int code, QProcess::ExitStatus st) {
                ChildJob& j = jobs[i];
                j.exitCode = st == QProcess::NormalExit ? code : -1;
                j.out += procs[i]->readAllStandardOutput();
                j.err += procs[i]->readAllStandardError();
                j.wallTime = double(timers[i].elapsed()) / 1000.0;
                ended(i);
            });
            QObject::connect(p.get(), &QProcess::errorOccurred, &loop, [&, i](QProcess::ProcessError e) {
                if (e != QProcess::FailedToStart)
                    return;
                jobs[i].exitCode = -1;
                jobs[i].err = "cannot start " + exe.toUtf8();
                ended(i);
            });
            timers[i].start();
            ++running;
            p->start(exe, jobs[i].args);
        }
    };
    if (jobs.empty())
        return;
    startMore();
    loop.exec();
}

} // namespace dml::app
