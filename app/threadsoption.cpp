// SPDX-License-Identifier: GPL-3.0-or-later
#include "threadsoption.h"

#include "parallel.h"

#include <QCommandLineParser>

#include <algorithm>
#include <cstdio>

namespace dml::app {

QCommandLineOption threadsOption(const QString& fallback)
{
    return QCommandLineOption("threads",
                              QString("Computations of one simulation that run at once, 1 to %1 (default: %2). The "
                                      "results are the same bit for bit whatever the number.")
                                  .arg(parallel::kMaxThreads)
                                  .arg(fallback),
                              "n");
}

std::optional<int> threadsValue(const QCommandLineParser& p, const QCommandLineOption& o, const char* command,
                                int fallback)
{
    if (!p.isSet(o))
        return fallback;
    bool ok = false;
    const int n = p.value(o).toInt(&ok);
    if (!ok || n < 1 || n > parallel::kMaxThreads) {
        std::fprintf(stderr, "dmlsim %s: --threads: expected a whole number from 1 to %d, got '%s'\n", command,
                     parallel::kMaxThreads, qPrintable(p.value(o)));
        return std::nullopt;
    }
    return n;
}

int threadsPerChild(int cores, int jobs, int runs)
{
    const int atOnce = std::max(1, std::min(jobs, runs));
    return std::clamp(cores / atOnce, 1, parallel::kMaxThreads);
}

int availableCores()
{
    return parallel::availableCores();
}

QStringList withThreads(QStringList args, int threads)
{
    args << "--threads" << QString::number(threads);
    return args;
}

} // namespace dml::app
