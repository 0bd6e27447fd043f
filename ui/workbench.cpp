// SPDX-License-Identifier: GPL-3.0-or-later
#include "workbench.h"

#include "mainwindow.h"

#include <QApplication>
#include <QDir>
#include <QFileInfo>
#include <QIcon>

static void initResources()
{
    Q_INIT_RESOURCE(dmlsim); // resources/dmlsim.qrc, compiled into the static dml_ui library
}

namespace dml::ui {

WorkbenchOptions defaultOptions()
{
    WorkbenchOptions o;
    o.executable = QCoreApplication::applicationFilePath();
    o.database = qEnvironmentVariableIsSet("DMLSIM_DB") ? qEnvironmentVariable("DMLSIM_DB")
                                                         : QDir::current().filePath("dmlsim.sqlite");
    if (qEnvironmentVariableIsSet("DMLSIM_SCENARIOS")) {
        o.scenarioDirs = qEnvironmentVariable("DMLSIM_SCENARIOS").split(':', Qt::SkipEmptyParts);
        return o;
    }
    const QString exeDir = QCoreApplication::applicationDirPath();
    for (const QString& dir : {exeDir + "/../share/dmlsim/scenarios", exeDir + "/../scenarios",
                               QStringLiteral(DMLSIM_SOURCE_DIR "/scenarios")})
        if (QFileInfo(dir).isDir()) {
            o.scenarioDirs << QDir(dir).canonicalPath();
            break;
        }
    return o;
}

int runWorkbench(int argc, char** argv)
{
    QApplication app(argc, argv);
    QApplication::setApplicationName("dmlsim");
    QApplication::setApplicationDisplayName("dmlsim workbench");
    QApplication::setDesktopFileName("dmlsim");
    initResources();
    QApplication::setWindowIcon(QIcon(":/dmlsim/dmlsim.png"));
    // Readable on a projector: a size up from the desktop default.
    QFont f = QApplication::font();
    f.setPointSizeF(std::max(11.0, f.pointSizeF()));
    QApplication::setFont(f);
    MainWindow w(defaultOptions());
    w.show();
    return app.exec();
}

} // namespace dml::ui
