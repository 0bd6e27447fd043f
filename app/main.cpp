// SPDX-License-Identifier: GPL-3.0-or-later
// dmlsim: with a subcommand, the headless CLI; see `dmlsim --help`.
#include "buildinfo.h"
#include "commands.h"
#ifdef DMLSIM_WITH_GUI
#include "workbench.h"
#endif

#include <QString>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unistd.h>

namespace {

/// Portable builds (README "Reproducibility"): glibc chooses, when a program is loaded, between variants of
/// libm's log, exp, sin, cos and pow by the CPU's features (FMA, AVX2, ...), and the variants round differently:
/// on glibc 2.36, 1 to 7 results in 10^4 differ in the last bit between the FMA and the SSE2 variant. Random
/// draws (Box-Muller normals, Dirichlet partitions, failure times) go through them. The tunable below makes glibc
/// choose the SSE2 variants, which every x86-64 CPU runs; glibc reads it only at load time, so the program runs
/// itself again with it set. Children (sweeps, the workbench's runs) inherit it. If the exec fails, or the
/// variable did not survive it (glibc drops it for set-user-ID programs), it carries on unpinned and says so on
/// stderr.
void pinLibm(char** argv)
{
    static const char* kMask = "glibc.cpu.hwcaps=-AVX,-AVX2,-FMA,-FMA4,-AVX512F";
    static const char* kTried = "DMLSIM_LIBM_PIN_TRIED"; // no second exec, whatever happened to the tunable
    const char* current = std::getenv("GLIBC_TUNABLES");
    if (current && std::strstr(current, kMask))
        return;
    if (std::getenv(kTried)) {
        std::fprintf(stderr, "dmlsim: GLIBC_TUNABLES did not reach this process: libm is not pinned, so results may "
                             "differ between CPUs in the last bits\n");
        return;
    }
    const std::string tunables = current && *current ? std::string(current) + ":" + kMask : std::string(kMask);
    setenv("GLIBC_TUNABLES", tunables.c_str(), 1);
    setenv(kTried, "1", 1);
    execv("/proc/self/exe", argv);
    std::fprintf(stderr, "dmlsim: cannot run itself again with GLIBC_TUNABLES=%s (%s): libm is not pinned, so "
                         "results may differ between CPUs in the last bits\n",
                 tunables.c_str(), std::strerror(errno));
}

} // namespace

int main(int argc, char** argv)
{
    using namespace dml::app;
    if (buildPortable())
        pinLibm(argv);
    QStringList args;
    for (int i = 1; i < argc; ++i)
        args << QString::fromLocal8Bit(argv[i]);
#ifdef DMLSIM_WITH_GUI
    // No arguments: the desktop workbench, if there is a display to show it on (else the usage, as headless).
    if (args.isEmpty() && (qEnvironmentVariableIsSet("DISPLAY") || qEnvironmentVariableIsSet("WAYLAND_DISPLAY") ||
                           qEnvironmentVariableIsSet("QT_QPA_PLATFORM")))
        return dml::ui::runWorkbench(argc, argv);
#endif
    if (args.isEmpty() || args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
        std::printf("%s", qPrintable(usage()));
        return args.isEmpty() ? BadInput : Ok;
    }
    if (args[0] == "--version") {
        std::printf("dmlsim %s\nbuild: %s\n", DMLSIM_VERSION, buildString());
        return Ok;
    }
    const QString cmd = args.takeFirst();
    if (cmd == "run")
        return cmdRun(args);
    if (cmd == "runs")
        return cmdRuns(args);
    if (cmd == "compare")
        return cmdCompare(args);
    if (cmd == "platform")
        return cmdPlatform(args);
    if (cmd == "sweep")
        return cmdSweep(args);
    if (cmd == "report")
        return cmdReport(args);
    if (cmd == "merge")
        return cmdMerge(args);
    if (cmd == "trace")
        return cmdTrace(args);
    std::fprintf(stderr, "dmlsim: unknown command '%s'\n\n%s", qPrintable(cmd), qPrintable(usage()));
    return BadInput;
}
