// SPDX-License-Identifier: GPL-3.0-or-later
// dmlsim: with a subcommand, the headless CLI; see `dmlsim --help`.
#include "buildinfo.h"
#include "commands.h"
#ifdef DMLSIM_WITH_GUI
#include "workbench.h"
#endif

#include <QString>

#include <cstdio>

int main(int argc, char** argv)
{
    using namespace dml::app;
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
