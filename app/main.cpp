// SPDX-License-Identifier: GPL-3.0-or-later
// dmlsim: with a subcommand, the headless CLI; see `dmlsim --help`.
#include "commands.h"

#include <QString>

#include <cstdio>

int main(int argc, char** argv)
{
    using namespace dml::app;
    QStringList args;
    for (int i = 1; i < argc; ++i)
        args << QString::fromLocal8Bit(argv[i]);
    if (args.isEmpty() || args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
        std::printf("%s", qPrintable(usage()));
        return args.isEmpty() ? BadInput : Ok;
    }
    if (args[0] == "--version") {
        std::printf("dmlsim %s\n", DMLSIM_VERSION);
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
    std::fprintf(stderr, "dmlsim: unknown command '%s'\n\n%s", qPrintable(cmd), qPrintable(usage()));
    return BadInput;
}
