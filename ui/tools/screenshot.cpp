// SPDX-License-Identifier: GPL-3.0-or-later
// dmlsim_screenshot SCENARIO OUT.png [SECONDS [PACE]]: opens the workbench with SCENARIO, presses Run at PACE
// simulated seconds per wall second (default 1), and after SECONDS (default 6) saves the screen as OUT.png.
// How README's screenshot is made, under Xvfb:
//   xvfb-run -s "-screen 0 1680x1050x24" build/ui/dmlsim_screenshot scenarios/lessons/1-ps-bottleneck.json shot.png
#include "mainwindow.h"
#include "scenarioeditor.h"

#include <QApplication>
#include <QComboBox>
#include <QPixmap>
#include <QScreen>
#include <QTemporaryDir>
#include <QTabWidget>
#include <QTimer>

#include <cstdio>

int main(int argc, char** argv)
{
    QApplication app(argc, argv);
    if (argc < 3) {
        std::fprintf(stderr, "usage: dmlsim_screenshot SCENARIO OUT.png [SECONDS [PACE [TAB [present|play [WIDTH]]]]]\n");
        return 2;
    }
    QFont f = QApplication::font();
    f.setPointSizeF(std::max(11.0, f.pointSizeF()));
    QApplication::setFont(f);
    QTemporaryDir dir;
    dml::ui::WorkbenchOptions o = dml::ui::defaultOptions();
    o.executable = DMLSIM_EXE;
    o.database = dir.filePath("runs.sqlite");
    dml::ui::MainWindow w(o);
    w.move(0, 0);
    w.show();
    if (!w.editor()->openFile(QString::fromLocal8Bit(argv[1])))
        return 2;
    const double seconds = argc > 3 ? std::atof(argv[3]) : 6.0;
    const double pace = argc > 4 ? std::atof(argv[4]) : 1.0;
    const QString out = QString::fromLocal8Bit(argv[2]);
    // The tool bar's pace presets: pick the one asked for.
    auto* paceBox = w.findChild<QComboBox*>("pace");
    const int preset = paceBox ? paceBox->findData(pace) : -1;
    if (preset < 0) {
        std::fprintf(stderr, "dmlsim_screenshot: pace %g is not one of the tool bar's presets\n", pace);
        return 2;
    }
    paceBox->setCurrentIndex(preset);
    // Optional: bring a tab to the front (e.g. "Series"), wherever it is.
    if (argc > 5)
        for (auto* tabs : w.findChildren<QTabWidget*>())
            for (int i = 0; i < tabs->count(); ++i)
                if (tabs->tabText(i) == QString::fromLocal8Bit(argv[5]))
                    tabs->setCurrentIndex(i);
    const QString mode = argc > 6 ? QString::fromLocal8Bit(argv[6]) : QString();
    if (mode == "present") // presentation mode (F11)
        w.setPresentationMode(true);
    const int width = argc > 7 ? std::atoi(argv[7]) : 0; // scale the picture to this width (a gallery thumbnail)
    QTimer::singleShot(500, &w, [&] {
        // "play": Run > Play lesson, with the lesson's own pace, panels and tab (PACE and TAB are then ignored)
        if (!(mode == "play" ? w.playLesson() : w.startRun()))
            app.exit(1);
    });
    QTimer::singleShot(int(seconds * 1000), &w, [&] {
        QPixmap shot = QGuiApplication::primaryScreen()->grabWindow(0);
        if (shot.isNull())
            shot = w.grab();
        if (width > 0)
            shot = shot.scaledToWidth(width, Qt::SmoothTransformation);
        app.exit(shot.save(out) ? 0 : 1);
    });
    return app.exec();
}
