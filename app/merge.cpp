// SPDX-License-Identifier: GPL-3.0-or-later
// `dmlsim merge`: combines run stores, e.g. the shards of a sweep run on several machines.
#include "commands.h"
#include "runstore.h"
#include "sweep.h"

#include <QCommandLineParser>
#include <QFileInfo>

#include <sqlite3.h>

#include <cstdio>
#include <set>

namespace dml::app {
namespace {

/// A plain sqlite3 connection for copying rows between attached stores.
class Db {
public:
    explicit Db(const std::string& file) : m_file(file)
    {
        if (sqlite3_open_v2(file.c_str(), &m_db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
            const std::string msg = m_db ? sqlite3_errmsg(m_db) : "out of memory";
            sqlite3_close(m_db);
            throw StoreError(file + ": " + msg);
        }
        sqlite3_busy_timeout(m_db, 10000);
        exec("PRAGMA foreign_keys=ON");
    }
    ~Db() { sqlite3_close(m_db); }
    Db(const Db&) = delete;
    Db& operator=(const Db&) = delete;

    void exec(const std::string& sql)
    {
        char* err = nullptr;
        if (sqlite3_exec(m_db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
            const std::string msg = m_file + ": " + (err ? err : "error") + " (in: " + sql.substr(0, 120) + ")";
            sqlite3_free(err);
            throw StoreError(msg);
        }
    }
    /// Runs `sql` with text/integer parameters; returns every row as text columns.
    std::vector<std::vector<std::string>> query(const std::string& sql, const std::vector<std::string>& params = {})
    {
        sqlite3_stmt* s = nullptr;
        if (sqlite3_prepare_v2(m_db, sql.c_str(), -1, &s, nullptr) != SQLITE_OK)
            throw StoreError(m_file + ": " + sqlite3_errmsg(m_db));
        for (std::size_t i = 0; i < params.size(); ++i)
            sqlite3_bind_text(s, int(i + 1), params[i].c_str(), int(params[i].size()), SQLITE_TRANSIENT);
        std::vector<std::vector<std::string>> rows;
        int rc;
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            std::vector<std::string> row;
            for (int c = 0; c < sqlite3_column_count(s); ++c) {
                const auto* t = sqlite3_column_text(s, c);
                row.push_back(t ? reinterpret_cast<const char*>(t) : "");
            }
            rows.push_back(std::move(row));
        }
        sqlite3_finalize(s);
        if (rc != SQLITE_DONE)
            throw StoreError(m_file + ": " + sqlite3_errmsg(m_db));
        return rows;
    }
    /// Runs `sql` with integer parameters; returns the number of rows changed.
    int run(const std::string& sql, const std::vector<long long>& params)
    {
        sqlite3_stmt* s = nullptr;
        if (sqlite3_prepare_v2(m_db, sql.c_str(), -1, &s, nullptr) != SQLITE_OK)
            throw StoreError(m_file + ": " + sqlite3_errmsg(m_db));
        for (std::size_t i = 0; i < params.size(); ++i)
            sqlite3_bind_int64(s, int(i + 1), params[i]);
        const int rc = sqlite3_step(s);
        sqlite3_finalize(s);
        if (rc != SQLITE_DONE)
            throw StoreError(m_file + ": " + sqlite3_errmsg(m_db));
        return sqlite3_changes(m_db);
    }
    long long lastId() const { return sqlite3_last_insert_rowid(m_db); }

    std::vector<std::string> columns(const std::string& schema, const std::string& table)
    {
        std::vector<std::string> out;
        for (const auto& row : query("SELECT name FROM pragma_table_info(?, ?)", {table, schema}))
            out.push_back(row[0]);
        return out;
    }

private:
    std::string m_file;
    sqlite3* m_db = nullptr;
};

std::string quoteId(const std::string& name)
{
    std::string s = "\"";
    for (char c : name)
        s += c == '"' ? std::string("\"\"") : std::string(1, c);
    return s + "\"";
}

std::string joined(const std::vector<std::string>& names, const std::string& replaceRunId = {})
{
    std::string s;
    for (const auto& n : names)
        s += (s.empty() ? "" : ", ") + (!replaceRunId.empty() && n == "run_id" ? replaceRunId : quoteId(n));
    return s;
}

std::vector<std::string> common(const std::vector<std::string>& a, const std::vector<std::string>& b,
                                const std::string& except = {})
{
    const std::set<std::string> inB(b.begin(), b.end());
    std::vector<std::string> out;
    for (const auto& n : a)
        if (inB.count(n) && n != except)
            out.push_back(n);
    return out;
}

/// The configurations of the store whose finished runs come from more than one build (MergeStats::mixedBuilds):
/// the points of sweeps, and for runs outside sweeps, scenarios with the same hash.
std::vector<std::string> mixedBuilds(Db& db)
{
    // (configuration, build, run ids, run count), configurations in order.
    const auto rows = db.query(
        "SELECT 'sweep ' || t.sweep_id || ' point ' || t.point, r.build, GROUP_CONCAT(r.id, ', '), COUNT(*) "
        "FROM runs r JOIN sweep_runs t ON t.run_id = r.id WHERE r.status = 'finished' "
        "GROUP BY t.sweep_id, t.point, r.build "
        "UNION ALL "
        "SELECT 'scenario ' || SUBSTR(r.scenario_hash, 1, 16) || ' (' || MIN(r.name) || ')', r.build, "
        "GROUP_CONCAT(r.id, ', '), COUNT(*) FROM runs r WHERE r.status = 'finished' AND r.id NOT IN "
        "(SELECT run_id FROM sweep_runs) GROUP BY r.scenario_hash, r.build ORDER BY 1, 3");
    std::vector<std::string> out;
    for (std::size_t i = 0; i < rows.size();) {
        std::size_t j = i;
        while (j < rows.size() && rows[j][0] == rows[i][0])
            ++j;
        if (j - i > 1) {
            std::string w = rows[i][0] + ": runs of " + std::to_string(j - i) + " builds:";
            for (std::size_t k = i; k < j; ++k)
                w += (k > i ? "; " : " ") + std::string(rows[k][3] == "1" ? "run " : "runs ") + rows[k][2] +
                     " from \"" + rows[k][1] + "\"";
            out.push_back(w);
        }
        i = j;
    }
    return out;
}

} // namespace

MergeStats mergeStores(const std::vector<std::string>& sources, const std::string& into)
{
    for (const auto& src : sources) {
        if (!QFileInfo::exists(QString::fromStdString(src)))
            throw StoreError(src + ": no such run store");
        if (QFileInfo(QString::fromStdString(src)).canonicalFilePath() ==
            QFileInfo(QString::fromStdString(into)).canonicalFilePath())
            throw StoreError(src + ": is the target store itself");
    }
    { RunStore create(into); } // creates the target with the current schema, or checks its version
    Db db(into);
    const std::string version = db.query("SELECT value FROM main.meta WHERE key='schema_version'").at(0).at(0);
    MergeStats stats;
    for (const auto& src : sources) {
        { RunStore check(src); } // a dmlsim store of this program's schema version (else StoreError)
        db.query("ATTACH DATABASE ? AS src", {src});
        try {
            const auto v = db.query("SELECT value FROM src.meta WHERE key='schema_version'");
            if (v.empty() || v[0][0] != version)
                throw StoreError(src + ": run store schema version " + (v.empty() ? "?" : v[0][0]) +
                                 ", the target has version " + version);
            db.exec("BEGIN IMMEDIATE");
            // Tables keyed by run_id, created in the target if a newer program added them to the source.
            std::vector<std::pair<std::string, std::vector<std::string>>> perRun;
            for (const auto& t : db.query("SELECT name, sql FROM src.sqlite_master WHERE type='table' AND "
                                          "name NOT IN ('runs','meta','sweeps') AND name NOT LIKE 'sqlite_%' "
                                          "ORDER BY name")) {
                const auto srcCols = db.columns("src", t[0]);
                if (std::find(srcCols.begin(), srcCols.end(), "run_id") == srcCols.end())
                    continue;
                if (db.columns("main", t[0]).empty())
                    db.exec(t[1]);
                perRun.push_back({t[0], common(srcCols, db.columns("main", t[0]))});
            }
            const auto sweepCols = common(db.columns("src", "sweeps"), db.columns("main", "sweeps"));
            if (!sweepCols.empty())
                stats.sweeps += db.run("INSERT OR IGNORE INTO main.sweeps(" + joined(sweepCols) + ") SELECT " +
                                           joined(sweepCols) + " FROM src.sweeps",
                                       {});
            const auto runCols = common(db.columns("src", "runs"), db.columns("main", "runs"), "id");
            for (const auto& r : db.query("SELECT id, created, IFNULL(hostname,''), IFNULL(pid,0), scenario_hash "
                                          "FROM src.runs ORDER BY id")) {
                const auto dup = db.query("SELECT id FROM main.runs WHERE created=? AND IFNULL(hostname,'')=? AND "
                                          "IFNULL(pid,0)=CAST(? AS INTEGER) AND scenario_hash=?",
                                          {r[1], r[2], r[3], r[4]});
                if (!dup.empty()) {
                    ++stats.duplicates;
                    continue;
                }
                const long long oldId = std::stoll(r[0]);
                db.run("INSERT INTO main.runs(" + joined(runCols) + ") SELECT " + joined(runCols) +
                           " FROM src.runs WHERE id=?",
                       {oldId});
                const long long newId = db.lastId();
                for (const auto& [table, cols] : perRun)
                    db.run("INSERT INTO main." + quoteId(table) + "(" + joined(cols) + ") SELECT " +
                               joined(cols, "?1") + " FROM src." + quoteId(table) + " WHERE run_id=?2 ORDER BY rowid",
                           {newId, oldId});
                ++stats.runs;
            }
            db.exec("COMMIT");
        } catch (...) {
            try {
                db.exec("ROLLBACK");
            } catch (...) {
            }
            try {
                db.exec("DETACH DATABASE src");
            } catch (...) {
            }
            throw;
        }
        db.exec("DETACH DATABASE src");
    }
    stats.mixedBuilds = mixedBuilds(db);
    return stats;
}

int cmdMerge(const QStringList& args)
{
    QCommandLineParser p;
    p.setApplicationDescription(
        "Combine run stores: copy every run (with its samples, host statistics, series, timeline and sweep tag) "
        "of each source into the target, which is created if needed. Runs get new ids; a run the target already "
        "holds is skipped, and sweeps are de-duplicated by id.");
    p.addPositionalArgument("stores", "Source run stores (SQLite).", "A.sqlite B.sqlite ...");
    const QCommandLineOption into("into", "The target run store.", "file");
    p.addOptions({into});
    if (auto rc = parseCommandLine(p, "merge", args))
        return *rc;
    if (!p.isSet(into) || p.positionalArguments().isEmpty()) {
        std::fprintf(stderr, "dmlsim merge: expected source stores and --into FILE; try 'dmlsim merge --help'\n");
        return BadInput;
    }
    std::vector<std::string> sources;
    for (const QString& s : p.positionalArguments())
        sources.push_back(s.toStdString());
    try {
        const MergeStats st = mergeStores(sources, p.value(into).toStdString());
        std::printf("merged %zu stores into %s: %d runs copied, %d already there, %d sweeps added\n",
                    sources.size(), qPrintable(p.value(into)), st.runs, st.duplicates, st.sweeps);
        for (const std::string& w : st.mixedBuilds)
            std::fprintf(stderr, "dmlsim merge: warning: %s; their figures may differ in the last bits (README "
                                 "\"Reproducibility\")\n", w.c_str());
        return Ok;
    } catch (const StoreError& e) {
        std::fprintf(stderr, "dmlsim merge: %s\n", e.what());
        return BadInput;
    }
}

} // namespace dml::app
