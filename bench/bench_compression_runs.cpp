// SPDX-License-Identifier: GPL-3.0-or-later
// What compression costs a simulated run in wall time: the shipped compression comparison (scenarios/compression.json,
// ten ways to send the quickstart's gradients) run one variant at a time, each variant's wall time divided by the
// uncompressed (fp32) run's, measured in the same process tree on the same machine. The simulated figures come with
// it, so the table also says what each method buys.
//   build/bench/bench_compression_runs [SCENARIO.json]
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>

#include <cstdio>

int main(int argc, char** argv)
{
    const QString scenario = argc > 1 ? argv[1] : DMLSIM_SOURCE_DIR "/scenarios/compression.json";
    QTemporaryDir dir;
    QProcess p;
    p.setProcessChannelMode(QProcess::SeparateChannels);
    // One run at a time: wall times are comparable only when no two runs share a core.
    p.start(DMLSIM_EXE, {"compare", scenario, "--jobs", "1", "--json", "--db", dir.filePath("bench.sqlite")});
    if (!p.waitForFinished(-1) || p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0) {
        std::fprintf(stderr, "bench_compression_runs: dmlsim compare failed:\n%s\n", p.readAllStandardError().constData());
        return 1;
    }
    const QJsonArray runs = QJsonDocument::fromJson(p.readAllStandardOutput()).array();
    double baseline = 0;
    for (const QJsonValue& v : runs)
        if (v["compressor"].toString() == "none" && v["local_steps"].toInt(1) == 1) {
            baseline = v["wall_time"].toDouble();
            break;
        }
    if (runs.isEmpty() || baseline <= 0) {
        std::fprintf(stderr, "bench_compression_runs: no uncompressed run to compare with\n");
        return 1;
    }
    std::printf("%s: wall time of each run / the uncompressed run's (%.2f s), one run at a time\n",
                qPrintable(scenario), baseline);
    std::printf("%-16s %-26s %8s %9s %10s %10s %11s\n", "run", "compression", "wall", "ratio", "accuracy", "simulated",
                "sent/fp32");
    for (const QJsonValue& v : runs) {
        const double sent = v["compressed_bytes"].toDouble(), fp32 = v["uncompressed_bytes"].toDouble();
        std::printf("%-16s %-26s %7.2fs %8.2fx %10.4f %9.1fs %11s\n", qPrintable(v["label"].toString()),
                    qPrintable(v["compressor"].toString()), v["wall_time"].toDouble(),
                    v["wall_time"].toDouble() / baseline, v["final_accuracy"].toDouble(),
                    v["simulated_time"].toDouble(),
                    sent > 0 ? qPrintable(QString::asprintf("1/%.1f", fp32 / sent)) : "-");
    }
    return 0;
}
