// SPDX-License-Identifier: GPL-3.0-or-later
#include "runstore.h"

#include "scenario.h"

#include <sqlite3.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <ctime>
#include <thread>
#include <unistd.h>

namespace dml::app {

/// How long a writer waits for a store another process is writing before it fails with "database is locked".
constexpr int kBusyTimeoutMs = 10000;

namespace {

// 2: runs.build (the program's build string, buildinfo.h), runs' bytes lost, evaluation grid and partition
//    statistics, host_stats.bytes_lost.
constexpr int kSchemaVersion = 5;

const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs(
  id INTEGER PRIMARY KEY,
  created TEXT NOT NULL,
  finished TEXT,
  name TEXT NOT NULL,
  strategy TEXT NOT NULL,
  workers INTEGER NOT NULL,
  seed INTEGER NOT NULL,
  status TEXT NOT NULL CHECK(status IN ('running','finished','failed')),
  error TEXT,
  version TEXT NOT NULL,
  pid INTEGER,
  hostname TEXT,
  scenario_file TEXT,
  scenario_hash TEXT NOT NULL,
  scenario TEXT NOT NULL,
  final_accuracy REAL, best_accuracy REAL, final_test_loss REAL, simulated_time REAL,
  target_accuracy REAL, time_to_target REAL, communication_overhead REAL, utilization REAL,
  bytes_on_wire REAL, steps INTEGER, epochs REAL, stop_reason TEXT, wall_time REAL,
  accuracy_simulated INTEGER, staleness_mean REAL, staleness_max REAL,
  build TEXT NOT NULL,
  bytes_lost REAL, eval_interval_epochs REAL, epochs_per_step REAL, eval_note TEXT,
  partition_parts INTEGER, partition_size_min REAL, partition_size_max REAL, partition_label_skew REAL,
  partition_largest_class_share REAL, idle_fraction REAL,
  compressor TEXT, uncompressed_bytes REAL, compressed_bytes REAL, codec_seconds REAL, local_steps INTEGER,
  privacy TEXT, epsilon REAL, delta REAL,
  failures INTEGER, restarts INTEGER, lost_steps INTEGER, lost_compute_seconds REAL, recovery_seconds REAL,
  checkpoints INTEGER, checkpoint_seconds REAL, goodput REAL,
  secure_aggregation TEXT, secagg_seconds REAL, secagg_bytes REAL, secagg_failed_rounds INTEGER
);
CREATE TABLE IF NOT EXISTS samples(
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  time REAL NOT NULL, step INTEGER NOT NULL, epoch REAL NOT NULL,
  train_loss REAL, test_loss REAL, test_accuracy REAL
);
CREATE INDEX IF NOT EXISTS samples_run ON samples(run_id);
CREATE TABLE IF NOT EXISTS host_stats(
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  rank INTEGER NOT NULL, name TEXT NOT NULL, role TEXT NOT NULL, speed REAL NOT NULL,
  elapsed REAL NOT NULL, finish REAL NOT NULL, compute REAL NOT NULL, communication REAL NOT NULL, idle REAL NOT NULL,
  bytes_sent REAL NOT NULL, bytes_received REAL NOT NULL, flops REAL NOT NULL, bytes_lost REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS host_stats_run ON host_stats(run_id);
CREATE TABLE IF NOT EXISTS series(
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  name TEXT NOT NULL, time REAL NOT NULL, value REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS series_run ON series(run_id, name);
CREATE TABLE IF NOT EXISTS spans(
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  rank INTEGER NOT NULL, kind INTEGER NOT NULL, peer INTEGER NOT NULL,
  start REAL NOT NULL, end REAL NOT NULL, amount REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS spans_run ON spans(run_id);
CREATE TABLE IF NOT EXISTS label_histogram(
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  rank INTEGER NOT NULL, class INTEGER NOT NULL, count INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS label_histogram_run ON label_histogram(run_id);
CREATE TABLE IF NOT EXISTS link_stats(
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  name TEXT NOT NULL, bandwidth REAL NOT NULL, latency REAL NOT NULL,
  bytes REAL NOT NULL, average_load REAL NOT NULL, utilization REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS link_stats_run ON link_stats(run_id);
CREATE TABLE IF NOT EXISTS sweeps(
  id TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT, created TEXT NOT NULL, version TEXT NOT NULL,
  points INTEGER NOT NULL, repetitions INTEGER NOT NULL, spec TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sweep_runs(
  run_id INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
  sweep_id TEXT NOT NULL, point INTEGER NOT NULL, rep INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sweep_runs_sweep ON sweep_runs(sweep_id, point, rep);
)sql";

std::string nowIso()
{
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string hostName()
{
    char buf[256] = {};
    gethostname(buf, sizeof buf - 1);
    return buf;
}

/// RAII prepared statement.
class Stmt {
public:
    Stmt(sqlite3* db, const char* sql, const std::string& file) : m_db(db), m_file(file)
    {
        if (sqlite3_prepare_v2(db, sql, -1, &m_s, nullptr) != SQLITE_OK)
            throw StoreError(file + ": " + sqlite3_errmsg(db));
    }
    ~Stmt() { sqlite3_finalize(m_s); }
    Stmt& bind(int i, double v) { return check(sqlite3_bind_double(m_s, i, v)); }
    Stmt& bind(int i, long long v) { return check(sqlite3_bind_int64(m_s, i, v)); }
    Stmt& bind(int i, const std::string& v)
    {
        return check(sqlite3_bind_text(m_s, i, v.c_str(), int(v.size()), SQLITE_TRANSIENT));
    }
    Stmt& bindNull(int i) { return check(sqlite3_bind_null(m_s, i)); }
    /// Steps once; true if a row is available.
    bool step()
    {
        const int rc = sqlite3_step(m_s);
        if (rc == SQLITE_ROW)
            return true;
        if (rc != SQLITE_DONE)
            throw StoreError(m_file + ": " + sqlite3_errmsg(m_db));
        return false;
    }
    void reset() { sqlite3_reset(m_s); }
    double real(int c) const { return sqlite3_column_double(m_s, c); }
    long long integer(int c) const { return sqlite3_column_int64(m_s, c); }
    bool null(int c) const { return sqlite3_column_type(m_s, c) == SQLITE_NULL; }
    std::string text(int c) const
    {
        const auto* p = sqlite3_column_text(m_s, c);
        return p ? reinterpret_cast<const char*>(p) : "";
    }

private:
    Stmt& check(int rc)
    {
        if (rc != SQLITE_OK)
            throw StoreError(m_file + ": " + sqlite3_errmsg(m_db));
        return *this;
    }
    sqlite3* m_db;
    sqlite3_stmt* m_s = nullptr;
    const std::string& m_file;
};

/// BEGIN IMMEDIATE ... COMMIT, rolled back if not committed.
class Transaction {
public:
    explicit Transaction(RunStore& s, void (RunStore::*exec)(const char*)) : m_s(s), m_exec(exec)
    {
        (m_s.*m_exec)("BEGIN IMMEDIATE");
    }
    void commit()
    {
        (m_s.*m_exec)("COMMIT");
        m_done = true;
    }
    ~Transaction()
    {
        if (!m_done)
            try {
                (m_s.*m_exec)("ROLLBACK");
            } catch (...) {
            }
    }

private:
    RunStore& m_s;
    void (RunStore::*m_exec)(const char*);
    bool m_done = false;
};

bool processAlive(long long pid)
{
    return pid > 0 && (kill(pid_t(pid), 0) == 0 || errno == EPERM);
}

} // namespace

RunStore::RunStore(const std::string& file) : m_file(file)
{
    if (sqlite3_open_v2(file.c_str(), &m_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
        const std::string msg = m_db ? sqlite3_errmsg(m_db) : "out of memory";
        sqlite3_close(m_db);
        m_db = nullptr;
        throw StoreError(file + ": cannot open the run store: " + msg);
    }
    // Several runs may write the same store at once: a writer that finds it locked retries every 2 ms for up to
    // 10 s. (SQLite's own busy timeout backs off to 100 ms sleeps, so a waiter could sleep through the short gaps
    // that finishRun() leaves between the batches of a long timeline and starve behind it.)
    sqlite3_busy_handler(
        m_db,
        [](void*, int count) -> int {
            if (count >= kBusyTimeoutMs / 2)
                return 0; // give up: SQLITE_BUSY, "database is locked"
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
            return 1;
        },
        nullptr);
    try {
        exec("PRAGMA journal_mode=WAL");
        exec("PRAGMA foreign_keys=ON");
        exec("PRAGMA synchronous=NORMAL");
        exec(kSchema);
        migrate();
        Stmt v(m_db, "INSERT OR IGNORE INTO meta(key, value) VALUES('schema_version', ?)", m_file);
        v.bind(1, std::to_string(kSchemaVersion)).step();
        Stmt q(m_db, "SELECT value FROM meta WHERE key = 'schema_version'", m_file);
        if (q.step() && q.text(0) != std::to_string(kSchemaVersion))
            throw StoreError(file + ": run store schema version " + q.text(0) + ", this program reads version " +
                             std::to_string(kSchemaVersion));
    } catch (...) {
        sqlite3_close(m_db);
        m_db = nullptr;
        throw;
    }
}

void RunStore::migrate()
{
    // Version 2 -> 3 (compression, local SGD and privacy, issues 12-13): eight columns more in runs, NULL for older
    // runs.
    exec("BEGIN IMMEDIATE");
    try {
        Stmt q(m_db, "SELECT value FROM meta WHERE key = 'schema_version'", m_file);
        if (q.step() && q.text(0) == "2") {
            exec("ALTER TABLE runs ADD COLUMN compressor TEXT; ALTER TABLE runs ADD COLUMN uncompressed_bytes REAL; "
                 "ALTER TABLE runs ADD COLUMN compressed_bytes REAL; ALTER TABLE runs ADD COLUMN codec_seconds REAL; "
                 "ALTER TABLE runs ADD COLUMN local_steps INTEGER; ALTER TABLE runs ADD COLUMN privacy TEXT; "
                 "ALTER TABLE runs ADD COLUMN epsilon REAL; ALTER TABLE runs ADD COLUMN delta REAL; "
                 "UPDATE meta SET value = '3' WHERE key = 'schema_version'");
        }
        // Version 3 -> 4 (failures and checkpoints, issue 11): eight columns more, NULL for older runs.
        Stmt q4(m_db, "SELECT value FROM meta WHERE key = 'schema_version'", m_file);
        if (q4.step() && q4.text(0) == "3") {
            exec("ALTER TABLE runs ADD COLUMN failures INTEGER; ALTER TABLE runs ADD COLUMN restarts INTEGER; "
                 "ALTER TABLE runs ADD COLUMN lost_steps INTEGER; ALTER TABLE runs ADD COLUMN lost_compute_seconds REAL; "
                 "ALTER TABLE runs ADD COLUMN recovery_seconds REAL; ALTER TABLE runs ADD COLUMN checkpoints INTEGER; "
                 "ALTER TABLE runs ADD COLUMN checkpoint_seconds REAL; ALTER TABLE runs ADD COLUMN goodput REAL; "
                 "UPDATE meta SET value = '4' WHERE key = 'schema_version'");
        }
        // Version 4 -> 5 (secure aggregation, issue 12): four columns more, NULL for older runs.
        Stmt q5(m_db, "SELECT value FROM meta WHERE key = 'schema_version'", m_file);
        if (q5.step() && q5.text(0) == "4") {
            exec("ALTER TABLE runs ADD COLUMN secure_aggregation TEXT; ALTER TABLE runs ADD COLUMN secagg_seconds REAL; "
                 "ALTER TABLE runs ADD COLUMN secagg_bytes REAL; ALTER TABLE runs ADD COLUMN secagg_failed_rounds INTEGER; "
                 "UPDATE meta SET value = '5' WHERE key = 'schema_version'");
        }
    } catch (...) {
        exec("ROLLBACK");
        throw;
    }
    exec("COMMIT");
}

RunStore::~RunStore()
{
    sqlite3_close(m_db);
}

void RunStore::exec(const char* sql)
{
    char* err = nullptr;
    if (sqlite3_exec(m_db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string msg = m_file + ": " + (err ? err : "error");
        sqlite3_free(err);
        if (msg.find("not a database") != std::string::npos)
            msg += " (is it a dmlsim run store?)";
        throw StoreError(msg);
    }
}

long long RunStore::beginRun(const Scenario& s, const std::string& strategy, const std::string& version,
                            const std::string& build)
{
    Stmt st(m_db,
            "INSERT INTO runs(created, name, strategy, workers, seed, status, version, pid, hostname, "
            "scenario_file, scenario_hash, scenario, build) VALUES(?,?,?,?,?, 'running', ?,?,?,?,?,?,?)",
            m_file);
    st.bind(1, nowIso())
        .bind(2, s.name)
        .bind(3, strategy)
        .bind(4, (long long)s.sim.strategy.workers)
        .bind(5, (long long)s.sim.training.seed)
        .bind(6, version)
        .bind(7, (long long)getpid())
        .bind(8, hostName())
        .bind(9, s.file)
        .bind(10, scenarioHash(s.text))
        .bind(11, s.text)
        .bind(12, build);
    st.step();
    return sqlite3_last_insert_rowid(m_db);
}

void RunStore::insertSpans(long long id, const std::vector<Span>& spans, std::size_t begin, std::size_t end)
{
    Stmt st(m_db, "INSERT INTO spans VALUES(?,?,?,?,?,?,?)", m_file);
    for (std::size_t i = begin; i < end; ++i) {
        const Span& x = spans[i];
        st.bind(1, id).bind(2, (long long)x.rank).bind(3, (long long)x.kind).bind(4, (long long)x.peer);
        st.bind(5, x.start).bind(6, x.end).bind(7, x.amount);
        st.step();
        st.reset();
    }
}

void RunStore::finishRun(long long id, const sim::SimulationResult& r, double wallTime)
{
    // A long timeline (a 1,024-host torus writes 15.7 million spans, about 16 s) goes first, in transactions of
    // kSpanBatch rows each: one transaction for all of it would hold the store's write lock longer than another
    // process's busy timeout (10 s). Until the last transaction below marks the run finished, its spans belong to a
    // run that is still "running" (or "interrupted", should this process die), never to a finished one.
    const bool batched = r.timeline.size() > kSpanBatch;
    if (batched)
        for (std::size_t b = 0; b < r.timeline.size(); b += kSpanBatch) {
            Transaction batch(*this, &RunStore::exec);
            insertSpans(id, r.timeline, b, std::min(r.timeline.size(), b + kSpanBatch));
            batch.commit();
            std::this_thread::sleep_for(std::chrono::milliseconds(10)); // a waiting writer's turn (2 ms polls)
        }
    Transaction tx(*this, &RunStore::exec);
    {
        Stmt st(m_db, "INSERT INTO samples VALUES(?,?,?,?,?,?,?)", m_file);
        for (const Sample& x : r.samples) {
            st.bind(1, id).bind(2, x.time).bind(3, (long long)x.step).bind(4, x.epoch);
            if (std::isnan(x.trainLoss))
                st.bindNull(5);
            else
                st.bind(5, x.trainLoss);
            for (auto [col, v] : {std::pair{6, x.testLoss}, std::pair{7, x.testAccuracy}}) {
                if (std::isnan(v))
                    st.bindNull(col);
                else
                    st.bind(col, v);
            }
            st.step();
            st.reset();
        }
    }
    {
        Stmt st(m_db, "INSERT INTO host_stats VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)", m_file);
        long long rank = 0;
        for (const HostStats& h : r.hosts) {
            st.bind(1, id).bind(2, rank++).bind(3, h.name).bind(4, h.role).bind(5, h.speed).bind(6, h.elapsed);
            st.bind(7, h.finish).bind(8, h.compute).bind(9, h.communication).bind(10, h.idle);
            st.bind(11, h.bytesSent).bind(12, h.bytesReceived).bind(13, h.flops).bind(14, h.bytesLost);
            st.step();
            st.reset();
        }
    }
    {
        Stmt st(m_db, "INSERT INTO series VALUES(?,?,?,?)", m_file);
        for (const auto& [name, points] : r.series)
            for (const auto& [t, v] : points) {
                st.bind(1, id).bind(2, name).bind(3, t).bind(4, v);
                st.step();
                st.reset();
            }
    }
    {
        Stmt st(m_db, "INSERT INTO link_stats VALUES(?,?,?,?,?,?,?)", m_file);
        for (const LinkStats& l : r.links) {
            st.bind(1, id).bind(2, l.name).bind(3, l.bandwidth).bind(4, l.latency).bind(5, l.bytes);
            st.bind(6, l.averageLoad).bind(7, l.utilization);
            st.step();
            st.reset();
        }
    }
    {
        Stmt st(m_db, "INSERT INTO label_histogram VALUES(?,?,?,?)", m_file);
        for (std::size_t rank = 0; rank < r.labelHistogram.size(); ++rank)
            for (std::size_t c = 0; c < r.labelHistogram[rank].size(); ++c) {
                if (r.labelHistogram[rank][c] == 0)
                    continue; // sparse: non-IID shards hold few classes
                st.bind(1, id).bind(2, (long long)rank).bind(3, (long long)c).bind(4, (long long)r.labelHistogram[rank][c]);
                st.step();
                st.reset();
            }
    }
    if (!batched)
        insertSpans(id, r.timeline, 0, r.timeline.size());
    const Summary& s = r.summary;
    Stmt st(m_db,
            "UPDATE runs SET status='finished', finished=?, final_accuracy=?, best_accuracy=?, final_test_loss=?, "
            "simulated_time=?, target_accuracy=?, time_to_target=?, communication_overhead=?, utilization=?, "
            "bytes_on_wire=?, steps=?, epochs=?, stop_reason=?, wall_time=?, accuracy_simulated=?, "
            "staleness_mean=?, staleness_max=?, bytes_lost=?, eval_interval_epochs=?, epochs_per_step=?, eval_note=?, "
            "partition_parts=?, partition_size_min=?, partition_size_max=?, partition_label_skew=?, "
            "partition_largest_class_share=?, idle_fraction=?, compressor=?, uncompressed_bytes=?, "
            "compressed_bytes=?, codec_seconds=?, local_steps=?, privacy=?, epsilon=?, delta=?, failures=?, restarts=?, "
            "lost_steps=?, lost_compute_seconds=?, recovery_seconds=?, checkpoints=?, checkpoint_seconds=?, "
            "goodput=?, secure_aggregation=?, secagg_seconds=?, secagg_bytes=?, secagg_failed_rounds=? WHERE id=?",
            m_file);
    st.bind(1, nowIso()).bind(2, s.finalAccuracy).bind(3, s.bestAccuracy).bind(4, s.finalTestLoss);
    st.bind(5, s.simulatedTime).bind(6, s.targetAccuracy);
    if (s.timeToTarget < 0)
        st.bindNull(7);
    else
        st.bind(7, s.timeToTarget);
    st.bind(8, s.communicationOverhead).bind(9, s.utilization).bind(10, s.bytesOnWire);
    st.bind(11, (long long)s.steps).bind(12, s.epochs).bind(13, s.stopReason).bind(14, wallTime);
    st.bind(15, (long long)s.accuracySimulated);
    if (s.stalenessMean < 0)
        st.bindNull(16).bindNull(17);
    else
        st.bind(16, s.stalenessMean).bind(17, s.stalenessMax);
    st.bind(18, s.bytesLost).bind(19, s.evalIntervalEpochs).bind(20, s.epochsPerStep).bind(21, s.evalNote);
    st.bind(22, (long long)s.partitionParts).bind(23, s.partitionSizeMin).bind(24, s.partitionSizeMax);
    st.bind(25, s.partitionLabelSkew).bind(26, s.partitionLargestClassShare);
    st.bind(27, s.idleFraction);
    st.bind(28, s.compressor).bind(29, s.uncompressedBytes).bind(30, s.compressedBytes).bind(31, s.codecSeconds);
    st.bind(32, (long long)s.localSteps);
    st.bind(33, s.privacy);
    if (s.epsilon < 0)
        st.bindNull(34);
    else
        st.bind(34, s.epsilon);
    st.bind(35, s.delta);
    st.bind(36, (long long)s.failures).bind(37, (long long)s.restarts).bind(38, (long long)s.lostSteps);
    st.bind(39, s.lostComputeSeconds).bind(40, s.recoverySeconds).bind(41, (long long)s.checkpoints);
    st.bind(42, s.checkpointSeconds);
    if (s.goodput < 0)
        st.bindNull(43);
    else
        st.bind(43, s.goodput);
    st.bind(44, s.secureAggregation).bind(45, s.secAggSeconds).bind(46, s.secAggBytes);
    st.bind(47, (long long)s.secAggFailedRounds);
    st.bind(48, id);
    st.step();
    tx.commit();
}

void RunStore::failRun(long long id, const std::string& error, double wallTime)
{
    Stmt st(m_db, "UPDATE runs SET status='failed', finished=?, error=?, wall_time=? WHERE id=?", m_file);
    st.bind(1, nowIso()).bind(2, error).bind(3, wallTime).bind(4, id);
    st.step();
}

void RunStore::deleteRun(long long id)
{
    Transaction tx(*this, &RunStore::exec);
    for (const char* sql : {"DELETE FROM samples WHERE run_id=?", "DELETE FROM host_stats WHERE run_id=?",
                            "DELETE FROM series WHERE run_id=?", "DELETE FROM spans WHERE run_id=?",
                            "DELETE FROM runs WHERE id=?"}) {
        Stmt st(m_db, sql, m_file);
        st.bind(1, id).step();
    }
    tx.commit();
}

namespace {
constexpr const char* kRunColumns =
    "SELECT id, created, finished, name, strategy, workers, seed, status, error, version, pid, hostname, "
    "scenario_file, scenario_hash, scenario, final_accuracy, best_accuracy, final_test_loss, simulated_time, "
    "target_accuracy, time_to_target, communication_overhead, utilization, bytes_on_wire, steps, epochs, "
    "stop_reason, wall_time, accuracy_simulated, staleness_mean, staleness_max, build, bytes_lost, "
    "eval_interval_epochs, epochs_per_step, eval_note, partition_parts, partition_size_min, partition_size_max, "
    "partition_label_skew, partition_largest_class_share, idle_fraction, compressor, uncompressed_bytes, "
    "compressed_bytes, codec_seconds, local_steps, privacy, epsilon, delta, failures, restarts, lost_steps, "
    "lost_compute_seconds, recovery_seconds, checkpoints, checkpoint_seconds, goodput, secure_aggregation, "
    "secagg_seconds, secagg_bytes, secagg_failed_rounds FROM runs";

RunRecord readRun(const Stmt& q)
{
    RunRecord r;
    r.id = q.integer(0);
    r.created = q.text(1);
    r.finished = q.text(2);
    r.name = q.text(3);
    r.strategy = q.text(4);
    r.workers = int(q.integer(5));
    r.seed = std::uint64_t(q.integer(6));
    r.status = q.text(7);
    r.error = q.text(8);
    r.version = q.text(9);
    r.pid = q.integer(10);
    r.scenarioFile = q.text(12);
    r.scenarioHash = q.text(13);
    r.scenarioText = q.text(14);
    Summary& s = r.summary;
    s.finalAccuracy = q.real(15);
    s.bestAccuracy = q.real(16);
    s.finalTestLoss = q.real(17);
    s.simulatedTime = q.real(18);
    s.targetAccuracy = q.real(19);
    s.timeToTarget = q.null(20) ? -1 : q.real(20);
    s.communicationOverhead = q.real(21);
    s.utilization = q.real(22);
    s.bytesOnWire = q.real(23);
    s.steps = long(q.integer(24));
    s.epochs = q.real(25);
    s.stopReason = q.text(26);
    r.wallTime = q.real(27);
    s.accuracySimulated = q.null(28) || q.integer(28) != 0;
    s.stalenessMean = q.null(29) ? -1 : q.real(29);
    s.stalenessMax = q.null(30) ? -1 : q.real(30);
    r.build = q.text(31);
    s.bytesLost = q.real(32);
    s.evalIntervalEpochs = q.real(33);
    s.epochsPerStep = q.real(34);
    s.evalNote = q.text(35);
    s.partitionParts = int(q.integer(36));
    s.partitionSizeMin = q.real(37);
    s.partitionSizeMax = q.real(38);
    s.partitionLabelSkew = q.real(39);
    s.partitionLargestClassShare = q.real(40);
    s.idleFraction = q.real(41);
    s.compressor = q.null(42) ? "none" : q.text(42);
    s.uncompressedBytes = q.real(43);
    s.compressedBytes = q.real(44);
    s.codecSeconds = q.real(45);
    s.localSteps = q.null(46) ? 1 : int(q.integer(46));
    s.privacy = q.null(47) ? "none" : q.text(47);
    s.epsilon = q.null(48) ? -1 : q.real(48);
    s.delta = q.real(49);
    s.failures = int(q.integer(50));
    s.restarts = int(q.integer(51));
    s.lostSteps = long(q.integer(52));
    s.lostComputeSeconds = q.real(53);
    s.recoverySeconds = q.real(54);
    s.checkpoints = int(q.integer(55));
    s.checkpointSeconds = q.real(56);
    s.goodput = q.null(57) ? -1 : q.real(57);
    s.secureAggregation = q.null(58) ? "none" : q.text(58);
    s.secAggSeconds = q.real(59);
    s.secAggBytes = q.real(60);
    s.secAggFailedRounds = long(q.integer(61));
    r.interrupted = r.status == "running" && q.text(11) == hostName() && !processAlive(r.pid);
    return r;
}
} // namespace

std::vector<RunRecord> RunStore::runs()
{
    Stmt q(m_db, (std::string(kRunColumns) + " ORDER BY id").c_str(), m_file);
    std::vector<RunRecord> out;
    while (q.step())
        out.push_back(readRun(q));
    return out;
}

RunRecord RunStore::run(long long id)
{
    Stmt q(m_db, (std::string(kRunColumns) + " WHERE id = ?").c_str(), m_file);
    q.bind(1, id);
    if (!q.step())
        throw StoreError(m_file + ": no run with id " + std::to_string(id));
    return readRun(q);
}

std::vector<Sample> RunStore::samples(long long id)
{
    Stmt q(m_db,
           "SELECT time, step, epoch, train_loss, test_loss, test_accuracy FROM samples WHERE run_id=? "
           "ORDER BY rowid",
           m_file);
    q.bind(1, id);
    std::vector<Sample> out;
    while (q.step())
        out.push_back({q.real(0), long(q.integer(1)), q.real(2), q.null(3) ? std::nan("") : q.real(3),
                       q.null(4) ? std::nan("") : q.real(4), q.null(5) ? std::nan("") : q.real(5)});
    return out;
}

std::map<std::string, std::vector<std::pair<double, double>>> RunStore::series(long long id)
{
    Stmt q(m_db, "SELECT name, time, value FROM series WHERE run_id=? ORDER BY rowid", m_file);
    q.bind(1, id);
    std::map<std::string, std::vector<std::pair<double, double>>> out;
    while (q.step())
        out[q.text(0)].emplace_back(q.real(1), q.real(2));
    return out;
}

std::vector<std::vector<int>> RunStore::labelHistogram(long long id)
{
    Stmt q(m_db, "SELECT rank, class, count FROM label_histogram WHERE run_id=?", m_file);
    q.bind(1, id);
    std::vector<std::vector<int>> out;
    while (q.step()) {
        const auto rank = std::size_t(q.integer(0)), c = std::size_t(q.integer(1));
        if (out.size() <= rank)
            out.resize(rank + 1);
        if (out[rank].size() <= c)
            out[rank].resize(c + 1, 0);
        out[rank][c] = int(q.integer(2));
    }
    return out;
}

std::vector<Span> RunStore::timeline(long long id)
{
    Stmt q(m_db, "SELECT rank, kind, peer, start, end, amount FROM spans WHERE run_id=? ORDER BY rowid", m_file);
    q.bind(1, id);
    std::vector<Span> out;
    while (q.step())
        out.push_back({int(q.integer(0)), Span::Kind(q.integer(1)), int(q.integer(2)), q.real(3), q.real(4), q.real(5)});
    return out;
}

void RunStore::addSweep(const SweepRecord& s)
{
    Stmt st(m_db,
            "INSERT OR IGNORE INTO sweeps(id, name, description, created, version, points, repetitions, spec) "
            "VALUES(?,?,?,?,?,?,?,?)",
            m_file);
    st.bind(1, s.id).bind(2, s.name).bind(3, s.description).bind(4, s.created.empty() ? nowIso() : s.created);
    st.bind(5, s.version).bind(6, (long long)s.points).bind(7, (long long)s.repetitions).bind(8, s.spec);
    st.step();
}

std::vector<SweepRecord> RunStore::sweeps()
{
    Stmt q(m_db, "SELECT id, name, description, created, version, points, repetitions, spec FROM sweeps ORDER BY created, id",
           m_file);
    std::vector<SweepRecord> out;
    while (q.step())
        out.push_back({q.text(0), q.text(1), q.text(2), q.text(3), q.text(4), int(q.integer(5)), int(q.integer(6)),
                       q.text(7)});
    return out;
}

void RunStore::tagRun(long long runId, const std::string& sweepId, int point, int rep)
{
    Stmt st(m_db, "INSERT OR REPLACE INTO sweep_runs(run_id, sweep_id, point, rep) VALUES(?,?,?,?)", m_file);
    st.bind(1, runId).bind(2, sweepId).bind(3, (long long)point).bind(4, (long long)rep);
    st.step();
}

std::vector<SweepRunTag> RunStore::sweepRuns(const std::string& sweepId)
{
    Stmt q(m_db,
           "SELECT t.run_id, t.point, t.rep, r.status FROM sweep_runs t JOIN runs r ON r.id = t.run_id "
           "WHERE t.sweep_id = ? ORDER BY t.point, t.rep, t.run_id",
           m_file);
    q.bind(1, sweepId);
    std::vector<SweepRunTag> out;
    while (q.step())
        out.push_back({q.integer(0), int(q.integer(1)), int(q.integer(2)), q.text(3)});
    return out;
}

std::vector<LinkStats> RunStore::linkStats(long long id)
{
    Stmt q(m_db,
           "SELECT name, bandwidth, latency, bytes, average_load, utilization FROM link_stats WHERE run_id=? "
           "ORDER BY bytes DESC, name",
           m_file);
    q.bind(1, id);
    std::vector<LinkStats> out;
    while (q.step())
        out.push_back({q.text(0), q.real(1), q.real(2), q.real(3), q.real(4), q.real(5)});
    return out;
}

std::vector<HostStats> RunStore::hostStats(long long id)
{
    Stmt q(m_db,
           "SELECT name, role, speed, elapsed, finish, compute, communication, idle, bytes_sent, bytes_received, "
           "bytes_lost, flops FROM host_stats WHERE run_id=? ORDER BY rank",
           m_file);
    q.bind(1, id);
    std::vector<HostStats> out;
    while (q.step()) {
        HostStats h;
        h.name = q.text(0);
        h.role = q.text(1);
        h.speed = q.real(2);
        h.elapsed = q.real(3);
        h.finish = q.real(4);
        h.compute = q.real(5);
        h.communication = q.real(6);
        h.idle = q.real(7);
        h.bytesSent = q.real(8);
        h.bytesReceived = q.real(9);
        h.bytesLost = q.real(10);
        h.flops = q.real(11);
        out.push_back(std::move(h));
    }
    return out;
}

} // namespace dml::app
