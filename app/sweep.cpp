// SPDX-License-Identifier: GPL-3.0-or-later
// `dmlsim sweep`: expands a sweep file into runs, runs the missing ones as child processes, N at a time.
#include "sweep.h"

#include "childpool.h"
#include "threadsoption.h"
#include "commands.h"
#include "jsonreader.h"
#include "runstore.h"
#include "scenario.h"

#include <QCommandLineParser>
#include <QCoreApplication>
#include <QCryptographicHash>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QThread>
#include <QTimer>

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <set>

namespace dml::app {
namespace {

using detail::ObjectReader;
using detail::show;

constexpr double kMaxSeed = 9007199254740991.0; // 2^53 - 1: the largest seed a JSON number holds exactly

std::string compact(const QJsonValue& v)
{
    const QByteArray a = QJsonDocument(QJsonArray{v}).toJson(QJsonDocument::Compact);
    return a.mid(1, a.size() - 2).toStdString();
}

/// The value as a person reads it in a label: strings without quotes, everything else as compact JSON.
std::string plain(const QJsonValue& v)
{
    return v.isString() ? v.toString().toStdString() : compact(v);
}

/// {"a": {"b": value}} for the path "a.b".
QJsonObject patchFor(const std::string& path, const QJsonValue& value)
{
    const QStringList keys = QString::fromStdString(path).split('.');
    QJsonValue v = value;
    for (qsizetype i = keys.size() - 1; i >= 0; --i)
        v = QJsonObject{{keys[i], v}};
    return v.toObject();
}

std::string patched(const std::string& text, const QJsonObject& patch)
{
    return mergePatch(text, QJsonDocument(patch).toJson(QJsonDocument::Compact).toStdString());
}

/// "path: message" of the first issues of a scenario error, for nesting under a sweep field.
std::string firstIssues(const ScenarioError& e)
{
    std::string s;
    for (std::size_t i = 0; i < e.issues().size() && i < 3; ++i) {
        const auto& is = e.issues()[i];
        s += (i ? "; " : "") + (is.path.empty() ? "" : is.path + ": ") + is.message;
    }
    return s;
}

std::string twoDigits(long v)
{
    return (v < 10 ? "0" : "") + std::to_string(v);
}

std::string hms(double seconds)
{
    const long s = long(seconds + 0.5);
    return s >= 3600 ? std::to_string(s / 3600) + ":" + twoDigits(s / 60 % 60) + ":" + twoDigits(s % 60)
                     : std::to_string(s / 60) + ":" + twoDigits(s % 60);
}

/// Cores this process may use: its CPU affinity (which Slurm and mpirun set), shared among the MPI ranks of
/// this node when they were not bound to cores.
int defaultJobs()
{
    cpu_set_t set;
    int n = QThread::idealThreadCount();
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        n = CPU_COUNT(&set);
    const int local = qEnvironmentVariableIntValue("OMPI_COMM_WORLD_LOCAL_SIZE");
    if (local > 1 && n >= QThread::idealThreadCount())
        n /= local;
    return std::max(1, n);
}

/// Progress on stderr: a bar redrawn every second on a terminal, else one line per finished run.
class SweepProgress {
public:
    SweepProgress(std::size_t total, bool terminal) : m_total(total), m_terminal(terminal) { m_clock.start(); }
    void finished(const std::string& what, bool ok, double wall)
    {
        ++m_done;
        m_failed += ok ? 0 : 1;
        if (m_terminal) {
            if (!ok)
                std::fprintf(stderr, "\r\033[K%s FAILED\n", what.c_str());
            draw();
        } else {
            std::fprintf(stderr, "[%zu/%zu] %s %s in %.1f s; %s\n", m_done, m_total, what.c_str(),
                         ok ? "finished" : "FAILED", wall, left().c_str());
        }
    }
    void draw()
    {
        if (!m_terminal)
            return;
        const int width = 30;
        const int filled = m_total ? int(width * m_done / m_total) : width;
        std::fprintf(stderr, "\r\033[K[%s%s] %zu/%zu runs%s, %s elapsed, %s", std::string(filled, '#').c_str(),
                     std::string(width - filled, '-').c_str(), m_done, m_total,
                     m_failed ? (", " + std::to_string(m_failed) + " failed").c_str() : "",
                     hms(elapsed()).c_str(), left().c_str());
        std::fflush(stderr);
    }
    void end()
    {
        if (m_terminal)
            std::fprintf(stderr, "\n");
    }
    double elapsed() const { return double(m_clock.elapsed()) / 1000.0; }

private:
    /// Time left: the mean time per finished run so far (at the current parallelism) times the runs left.
    std::string left() const
    {
        if (m_done == 0)
            return "estimating time left";
        if (m_done == m_total)
            return "done";
        return "about " + hms(elapsed() / double(m_done) * double(m_total - m_done)) + " left";
    }
    std::size_t m_total, m_done = 0, m_failed = 0;
    bool m_terminal;
    QElapsedTimer m_clock;
};

} // namespace

std::optional<SweepTag> parseSweepTag(const QString& text)
{
    SweepTag t;
    std::set<QString> seen;
    for (const QString& part : text.split(',')) {
        const qsizetype eq = part.indexOf('=');
        if (eq <= 0)
            return std::nullopt;
        const QString key = part.left(eq), value = part.mid(eq + 1);
        bool ok = true;
        if (key == "sweep" && !value.isEmpty())
            t.sweep = value.toStdString();
        else if (key == "point")
            t.point = value.toInt(&ok);
        else if (key == "rep")
            t.rep = value.toInt(&ok);
        else
            return std::nullopt;
        if (!ok || !seen.insert(key).second || t.point < 0 || t.rep < 0)
            return std::nullopt;
    }
    if (seen.size() != 3)
        return std::nullopt;
    return t;
}

Sweep loadSweep(const std::string& file)
{
    QFile f(QString::fromStdString(file));
    if (!f.exists())
        throw ScenarioError(file, {{"", "file not found"}});
    if (!f.open(QIODevice::ReadOnly))
        throw ScenarioError(file, {{"", "cannot read: " + f.errorString().toStdString()}});
    QJsonParseError perr;
    const QJsonDocument doc = QJsonDocument::fromJson(f.readAll(), &perr);
    if (perr.error != QJsonParseError::NoError)
        throw ScenarioError(file, {{"", "invalid JSON at offset " + std::to_string(perr.offset) + ": " +
                                            perr.errorString().toStdString()}});
    if (!doc.isObject())
        throw ScenarioError(file, {{"", "expected a JSON object at the top level"}});

    Sweep sw;
    sw.file = file;
    std::vector<ScenarioIssue> issues;
    QJsonObject base, grid;
    {
        ObjectReader root(doc.object(), "", issues);
        sw.name = root.string("name", "", true);
        sw.description = root.string("description", "");
        sw.repetitions = int(root.integer("repetitions", 1, 1, 10000));
        const QJsonValue b = root.value("base");
        if (b.isString()) {
            const QString path = QFileInfo(QString::fromStdString(file)).dir().filePath(b.toString());
            // Read as JSON only: the scenario is validated once the patch is applied.
            QFile bf(path);
            QJsonParseError berr;
            if (!bf.exists())
                root.fail("base", "the scenario " + path.toStdString() + ": file not found");
            else if (!bf.open(QIODevice::ReadOnly))
                root.fail("base", "the scenario " + path.toStdString() + ": " + bf.errorString().toStdString());
            else if (base = QJsonDocument::fromJson(bf.readAll(), &berr).object(); berr.error != QJsonParseError::NoError)
                root.fail("base", "the scenario " + path.toStdString() + " is not valid JSON: " +
                                      berr.errorString().toStdString());
            else if (base.isEmpty())
                root.fail("base", "the scenario " + path.toStdString() + " is not a JSON object");
        } else if (b.isObject()) {
            base = b.toObject();
        } else {
            root.fail("base", "expected a scenario file path (relative to the sweep file) or a scenario object, got " +
                                  show(b));
        }
        grid = root.object("grid");
        const QJsonObject patch = root.object("patch");
        if (!base.isEmpty()) {
            base.remove("compare"); // a compare list belongs to `dmlsim compare`, not to each run
            if (!patch.isEmpty())
                base = QJsonDocument::fromJson(QByteArray::fromStdString(patched(
                                                   QJsonDocument(base).toJson(QJsonDocument::Compact).toStdString(),
                                                   patch)))
                           .object();
            try {
                parseScenario(QJsonDocument(base).toJson().toStdString(), file + " base");
            } catch (const ScenarioError& e) {
                root.fail(patch.isEmpty() ? "base" : "patch",
                          std::string(patch.isEmpty() ? "" : "the patched base is ") + "not a valid scenario: " +
                              firstIssues(e));
            }
        }
        for (auto it = grid.begin(); it != grid.end(); ++it) {
            const std::string axis = it.key().toStdString(), at = "grid." + axis;
            if (it.key().isEmpty() || it.key().split('.').contains(QString())) {
                issues.push_back({at, "expected a JSON path of scenario fields such as \"platform.workers\""});
                continue;
            }
            if (axis == "compare" || it.key().startsWith("compare.")) {
                issues.push_back({at, "\"compare\" cannot be swept"});
                continue;
            }
            if (!it.value().isArray() || it.value().toArray().isEmpty()) {
                issues.push_back({at, "expected a non-empty array of values, got " + show(it.value())});
                continue;
            }
            sw.axes.push_back(axis);
        }
    }
    if (!issues.empty())
        throw ScenarioError(file, std::move(issues));

    // Each value on its own against the base: an error names the axis and the value's index.
    const std::string baseText = QJsonDocument(base).toJson(QJsonDocument::Compact).toStdString();
    for (const std::string& axis : sw.axes) {
        const QJsonArray values = grid.value(QString::fromStdString(axis)).toArray();
        std::set<std::string> distinct;
        for (qsizetype i = 0; i < values.size(); ++i) {
            const std::string at = "grid." + axis + "[" + std::to_string(i) + "]";
            if (!distinct.insert(compact(values[i])).second)
                issues.push_back({at, "duplicate value " + show(values[i])});
            try {
                parseScenario(patched(baseText, patchFor(axis, values[i])), file);
            } catch (const ScenarioError& e) {
                issues.push_back({at, show(values[i]) + " gives an invalid scenario: " + firstIssues(e)});
            }
        }
    }
    if (!issues.empty())
        throw ScenarioError(file, std::move(issues));

    // The Cartesian product, last axis fastest.
    std::vector<QJsonArray> values;
    std::size_t count = 1;
    for (const std::string& axis : sw.axes) {
        values.push_back(grid.value(QString::fromStdString(axis)).toArray());
        count *= std::size_t(values.back().size());
    }
    if (count * std::size_t(sw.repetitions) > 100000)
        throw ScenarioError(file, {{"grid", "more than 100,000 runs (" + std::to_string(count) + " points x " +
                                                std::to_string(sw.repetitions) + " repetitions)"}});
    const std::string baseName = base.value("name").toString().toStdString();
    for (std::size_t p = 0; p < count; ++p) {
        SweepPoint point;
        QJsonObject patch;
        std::size_t rest = p;
        std::vector<std::size_t> index(sw.axes.size());
        for (std::size_t a = sw.axes.size(); a-- > 0;) {
            index[a] = rest % std::size_t(values[a].size());
            rest /= std::size_t(values[a].size());
        }
        std::string text = baseText;
        for (std::size_t a = 0; a < sw.axes.size(); ++a) {
            const QJsonValue v = values[a][qsizetype(index[a])];
            point.values.push_back(compact(v));
            point.label += (a ? ", " : "") + sw.axes[a] + "=" + plain(v);
            text = patched(text, patchFor(sw.axes[a], v));
        }
        if (point.label.empty())
            point.label = "base";
        const QJsonObject merged = QJsonDocument::fromJson(QByteArray::fromStdString(text)).object();
        const double seed = merged.value("seed").toDouble(1);
        for (int r = 0; r < sw.repetitions; ++r) {
            SweepRun run;
            run.point = int(p);
            run.rep = r;
            if (seed + r > kMaxSeed)
                throw ScenarioError(file, {{"repetitions", "seed " + std::to_string(std::uint64_t(seed)) + " + " +
                                                               std::to_string(r) + " exceeds 2^53 - 1"}});
            run.seed = std::uint64_t(seed) + std::uint64_t(r);
            run.name = baseName + " [" + point.label +
                       (sw.repetitions > 1 ? ", rep " + std::to_string(r) : std::string()) + "]";
            QJsonObject runPatch{{"seed", double(run.seed)}};
            if (!sw.axes.empty() || sw.repetitions > 1)
                if (std::find(sw.axes.begin(), sw.axes.end(), "name") == sw.axes.end())
                    runPatch.insert("name", QString::fromStdString(run.name));
            run.text = patched(text, runPatch);
            try {
                if (!parseScenario(run.text, file + " [" + point.label + "]").jobs.empty())
                    throw ScenarioError(file, {{"jobs", "a scenario with jobs cannot be swept yet (README \"Several "
                                                        "jobs on one platform\")"}});
            } catch (const ScenarioError& e) {
                throw ScenarioError(file, {{"grid", "the point " + point.label + " gives an invalid scenario: " +
                                                        firstIssues(e)}});
            }
            sw.runs.push_back(std::move(run));
        }
        sw.points.push_back(std::move(point));
    }

    QJsonObject canonical{{"base", base}, {"grid", grid}, {"repetitions", sw.repetitions}};
    const QByteArray canon = QJsonDocument(canonical).toJson(QJsonDocument::Compact);
    sw.id = QCryptographicHash::hash(canon, QCryptographicHash::Sha256).toHex().left(12).toStdString();
    canonical.insert("name", QString::fromStdString(sw.name));
    canonical.insert("description", QString::fromStdString(sw.description));
    sw.spec = QJsonDocument(canonical).toJson(QJsonDocument::Indented).toStdString();
    return sw;
}

std::optional<Shard> parseShard(const QString& text)
{
    const QStringList parts = text.split('/');
    if (parts.size() != 2)
        return std::nullopt;
    bool ok1 = false, ok2 = false;
    Shard s{parts[0].toInt(&ok1), parts[1].toInt(&ok2), "--shard"};
    if (!ok1 || !ok2 || s.count < 1 || s.index < 0 || s.index >= s.count)
        return std::nullopt;
    return s;
}

std::optional<Shard> shardFromEnvironment()
{
    auto read = [](const char* name, long& v) {
        const QByteArray s = qgetenv(name);
        if (s.isEmpty())
            return false;
        bool ok = false;
        v = s.toLong(&ok);
        if (!ok)
            throw std::runtime_error(std::string(name) + "=" + s.toStdString() + " is not a whole number");
        return true;
    };
    struct Source {
        const char *index, *count, *origin, *name;
    };
    for (const Source& src : {Source{"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN", "Slurm array"},
                              Source{"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", nullptr, "Open MPI"},
                              Source{"PMI_RANK", "PMI_SIZE", nullptr, "PMI"}}) {
        long i = 0, k = 0, min = 0;
        if (!read(src.index, i))
            continue;
        if (!read(src.count, k))
            throw std::runtime_error(std::string(src.index) + " is set but " + src.count + " is not");
        if (src.origin && read(src.origin, min))
            i -= min;
        if (k < 1 || i < 0 || i >= k)
            throw std::runtime_error(std::string(src.name) + ": task " + std::to_string(i) + " of " +
                                     std::to_string(k) + " is out of range (expected 0 <= index < count)");
        return Shard{int(i), int(k), src.name};
    }
    return std::nullopt;
}

std::string shardStoreFile(const std::string& db, const Shard& shard)
{
    if (shard.count <= 1)
        return db;
    const std::string suffix = ".shard-" + std::to_string(shard.index) + "-of-" + std::to_string(shard.count);
    const std::size_t slash = db.find_last_of('/');
    const std::size_t dot = db.find_last_of('.');
    if (dot == std::string::npos || (slash != std::string::npos && dot < slash) || dot == slash + 1)
        return db + suffix;
    return db.substr(0, dot) + suffix + db.substr(dot);
}

int cmdSweep(const QStringList& args)
{
    QCommandLineParser p;
    p.setApplicationDescription(
        "Run a sweep: a base scenario, a grid over scenario fields and repetitions with derived seeds "
        "(README \"The sweep file\"). Every run is a child 'dmlsim run', N at a time, stored and tagged with the sweep. "
        "Runs already finished in the store are not run again, so an interrupted sweep resumes.\n\n"
        "With --shard I/K, or under a Slurm job array or mpirun, only every K-th run from the I-th on is run, "
        "into the store FILE.shard-I-of-K.sqlite; combine the shards with 'dmlsim merge'.");
    p.addPositionalArgument("sweep", "Sweep file (JSON).");
    const QCommandLineOption jobs("jobs", "Runs at the same time (default: the cores this process may use).", "n");
    const QCommandLineOption db("db", "Run store (SQLite). Default: ./dmlsim.sqlite.", "file", "dmlsim.sqlite");
    const QCommandLineOption shard("shard", "Run only shard I of K (0 <= I < K) into its own store.", "I/K");
    const QCommandLineOption dry("dry-run", "List the runs (and which are already done) without running them.");
    const QCommandLineOption threads = threadsOption("the cores divided among the runs at once");
    p.addOptions({jobs, db, shard, dry, threads});
    if (auto rc = parseCommandLine(p, "sweep", args))
        return *rc;
    if (p.positionalArguments().size() != 1) {
        std::fprintf(stderr, "dmlsim sweep: expected one sweep file; try 'dmlsim sweep --help'\n");
        return BadInput;
    }
    int parallel = defaultJobs();
    if (p.isSet(jobs)) {
        bool ok = false;
        parallel = p.value(jobs).toInt(&ok);
        if (!ok || parallel < 1) {
            std::fprintf(stderr, "dmlsim sweep: --jobs: expected a whole number >= 1, got '%s'\n",
                         qPrintable(p.value(jobs)));
            return BadInput;
        }
    }
    const std::optional<int> childThreads = threadsValue(p, threads, "sweep", 0); // 0: cores / runs at once
    if (!childThreads)
        return BadInput;
    if (*childThreads > 0 && !p.isSet(jobs)) // jobs x threads within the cores
        parallel = std::max(1, defaultJobs() / *childThreads);
    Shard part;
    try {
        if (p.isSet(shard)) {
            const auto s = parseShard(p.value(shard));
            if (!s) {
                std::fprintf(stderr, "dmlsim sweep: --shard: expected I/K with 0 <= I < K, got '%s'\n",
                             qPrintable(p.value(shard)));
                return BadInput;
            }
            part = *s;
        } else if (const auto s = shardFromEnvironment()) {
            part = *s;
        }
    } catch (const std::runtime_error& e) {
        std::fprintf(stderr, "dmlsim sweep: %s\n", e.what());
        return BadInput;
    }

    Sweep sw;
    try {
        sw = loadSweep(p.positionalArguments().front().toStdString());
    } catch (const ScenarioError& e) {
        std::fprintf(stderr, "dmlsim sweep: %s\n", e.what());
        return BadInput;
    }
    const std::string dbFile = shardStoreFile(p.value(db).toStdString(), part);

    std::vector<std::size_t> todo; // indexes into sw.runs
    std::size_t mine = 0, done = 0;
    try {
        RunStore store(dbFile);
        store.addSweep({sw.id, sw.name, sw.description, "", DMLSIM_VERSION, int(sw.points.size()), sw.repetitions,
                        sw.spec});
        std::set<std::pair<int, int>> finished;
        for (const SweepRunTag& t : store.sweepRuns(sw.id))
            if (t.status == "finished")
                finished.insert({t.point, t.rep});
        for (std::size_t i = 0; i < sw.runs.size(); ++i) {
            if (int(i % std::size_t(part.count)) != part.index)
                continue;
            ++mine;
            if (finished.count({sw.runs[i].point, sw.runs[i].rep}))
                ++done;
            else
                todo.push_back(i);
        }
    } catch (const StoreError& e) {
        std::fprintf(stderr, "dmlsim sweep: %s\n", e.what());
        return BadInput;
    }

    std::fprintf(stderr, "dmlsim sweep: sweep %s \"%s\": %zu points x %d repetitions = %zu runs", sw.id.c_str(),
                 sw.name.c_str(), sw.points.size(), sw.repetitions, sw.runs.size());
    if (part.count > 1)
        std::fprintf(stderr, "; shard %d/%d (%s): %zu runs", part.index, part.count, part.source.c_str(), mine);
    std::fprintf(stderr, "; %zu already finished, %zu to run, %d at a time; store %s\n", done, todo.size(),
                 parallel, dbFile.c_str());
    if (p.isSet(dry)) {
        for (std::size_t i = 0; i < sw.runs.size(); ++i) {
            if (int(i % std::size_t(part.count)) != part.index)
                continue;
            const SweepRun& r = sw.runs[i];
            const bool pending = std::find(todo.begin(), todo.end(), i) != todo.end();
            std::printf("%d\t%d\t%llu\t%s\t%s\n", r.point, r.rep, (unsigned long long)r.seed,
                        pending ? "to run" : "finished", sw.points[std::size_t(r.point)].label.c_str());
        }
        return Ok;
    }

    std::unique_ptr<QCoreApplication> app;
    static int argc = 1;
    static char arg0[] = "dmlsim";
    static char* argv[] = {arg0, nullptr};
    if (!QCoreApplication::instance())
        app = std::make_unique<QCoreApplication>(argc, argv);
    QTemporaryDir tmp;
    std::vector<ChildJob> children;
    for (std::size_t i : todo) {
        const SweepRun& r = sw.runs[i];
        const QString path = tmp.filePath(QString("point-%1-rep-%2.json").arg(r.point).arg(r.rep));
        QFile f(path);
        if (!f.open(QIODevice::WriteOnly) || f.write(QByteArray::fromStdString(r.text)) < 0) {
            std::fprintf(stderr, "dmlsim sweep: cannot write %s\n", qPrintable(path));
            return BadInput;
        }
        ChildJob job;
        job.args = {"run", path, "--db", QString::fromStdString(dbFile), "--json", "--tag",
                    QString("sweep=%1,point=%2,rep=%3").arg(QString::fromStdString(sw.id)).arg(r.point).arg(r.rep)};
        children.push_back(std::move(job));
    }
    for (ChildJob& c : children)
        c.args = withThreads(c.args, *childThreads > 0 ? *childThreads
                                                       : threadsPerChild(defaultJobs(), parallel, int(children.size())));
    SweepProgress progress(children.size(), isatty(STDERR_FILENO) == 1);
    QTimer tick;
    QObject::connect(&tick, &QTimer::timeout, [&] { progress.draw(); });
    tick.start(1000);
    progress.draw();
    std::size_t failed = 0;
    runChildren(children, parallel, [&](std::size_t k) {
        const SweepRun& r = sw.runs[todo[k]];
        const bool ok = children[k].exitCode == 0;
        failed += ok ? 0 : 1;
        const std::string what = "point " + std::to_string(r.point) + " (" + sw.points[std::size_t(r.point)].label +
                                 ") rep " + std::to_string(r.rep);
        progress.finished(what, ok, children[k].wallTime);
        if (!ok)
            std::fprintf(stderr, "  exit %d: %s\n", children[k].exitCode, children[k].err.trimmed().constData());
    });
    tick.stop();
    progress.end();
    std::printf("sweep %s: %zu of %zu runs finished in this run, %zu failed, %zu finished before; store %s\n"
                "report: dmlsim report --sweep %s --db %s --out report.html\n",
                sw.id.c_str(), children.size() - failed, children.size(), failed, done, dbFile.c_str(),
                sw.id.c_str(), dbFile.c_str());
    return failed ? SimulationFailed : Ok;
}

} // namespace dml::app
