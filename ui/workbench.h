// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The desktop workbench (`dmlsim` with no arguments).
#include <QString>
#include <QStringList>

namespace dml::ui {

struct WorkbenchOptions {
    QString executable;       ///< the dmlsim binary started for each run (`dmlsim run --stream`)
    QString database;         ///< the run store (SQLite)
    QStringList scenarioDirs; ///< listed as shipped scenarios
};

/// Defaults: this executable; $DMLSIM_DB or ./dmlsim.sqlite (as the CLI); $DMLSIM_SCENARIOS (':'-separated) or
/// the first of ../share/dmlsim/scenarios, ../scenarios next to the executable, or the source tree's scenarios/.
WorkbenchOptions defaultOptions();

/// Creates the QApplication, shows the main window and runs the event loop. Returns the exit code.
int runWorkbench(int argc, char** argv);

} // namespace dml::ui
