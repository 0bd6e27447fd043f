// SPDX-License-Identifier: GPL-3.0-or-later
// Sweep throughput: the same sweep with --jobs 1 and --jobs N (default 2), each into a fresh store; prints
// wall(--jobs 1) / wall(--jobs N), which approaches N when N cores are free (the runs are independent processes),
// and checks that both stores hold the same figures (parallelism changes nothing in the results).
//   build/bench/bench_sweep [SWEEP.json] [N]      (default scenarios/sweeps/workers-strategies.json, 2)
#include "runstore.h"

#include <QElapsedTimer>
#include <QProcess>
#include <QTemporaryDir>

#include <sys/resource.h>

#include <cstdio>
#include <map>
#include <tuple>

using namespace dml::app;

namespace {

/// CPU seconds (user + system) of the waited-for descendants so far: the sweep and its child runs.
double childCpu()
{
    rusage u{};
    getrusage(RUSAGE_CHILDREN, &u);
    return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + 1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

double runSweep(const QString& sweep, int jobs, const QString& db)
{
    QElapsedTimer t;
    t.start();
    QProcess p;
    p.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    p.start(DMLSIM_EXE, {"sweep", sweep, "--jobs", QString::number(jobs), "--db", db});
    if (!p.waitForFinished(-1) || p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0) {
        std::fprintf(stderr, "bench_sweep: the sweep with --jobs %d failed\n", jobs);
        std::exit(1);
    }
    return double(t.nsecsElapsed()) * 1e-9;
}

std::map<std::pair<int, int>, std::tuple<double, double, double>> figures(const QString& db)
{
    RunStore store(db.toStdString());
    std::map<std::pair<int, int>, std::tuple<double, double, double>> out;
    for (const SweepRunTag& t : store.sweepRuns(store.sweeps().at(0).id)) {
        const dml::Summary s = store.run(t.runId).summary;
        out[{t.point, t.rep}] = {s.finalAccuracy, s.simulatedTime, s.bytesOnWire};
    }
    return out;
}

} // namespace

int main(int argc, char** argv)
{
    const QString sweep = argc > 1 ? argv[1] : DMLSIM_SOURCE_DIR "/scenarios/sweeps/workers-strategies.json";
    const int jobs = argc > 2 ? std::atoi(argv[2]) : 2;
    QTemporaryDir dir;
    const QString one = dir.filePath("jobs1.sqlite"), many = dir.filePath("jobsN.sqlite");
    std::fprintf(stderr, "bench_sweep: %s with --jobs 1\n", qPrintable(sweep));
    const double c0 = childCpu();
    const double w1 = runSweep(sweep, 1, one);
    const double c1 = childCpu();
    std::fprintf(stderr, "bench_sweep: %s with --jobs %d\n", qPrintable(sweep), jobs);
    const double wn = runSweep(sweep, jobs, many);
    const double cn = childCpu() - c1;
    const auto a = figures(one), b = figures(many);
    std::printf("sweep %s: %zu runs\n", qPrintable(sweep), a.size());
    // CPU / wall is the parallelism the runs got: below N when other processes share the cores.
    std::printf("  wall(--jobs 1)  %.2f s   (CPU %.2f s, CPU/wall %.2f)\n", w1, c1 - c0, (c1 - c0) / w1);
    std::printf("  wall(--jobs %d)  %.2f s   (CPU %.2f s, CPU/wall %.2f)\n", jobs, wn, cn, cn / wn);
    std::printf("  wall(--jobs 1) / wall(--jobs %d) = %.2f\n", jobs, w1 / wn);
    std::printf("  same figures with both: %s\n", a == b ? "yes" : "NO");
    return a == b && a.size() > 0 ? 0 : 1;
}
