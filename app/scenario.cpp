// SPDX-License-Identifier: GPL-3.0-or-later
#include "scenario.h"

#include "error.h"
#include "units.h"

#include <QCryptographicHash>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <cmath>
#include <set>

namespace dml::app {

ScenarioError::ScenarioError(std::string file, std::vector<ScenarioIssue> issues)
    : std::runtime_error([&] {
          std::string s;
          for (const auto& i : issues) {
              if (!s.empty())
                  s += '\n';
              s += (file.empty() ? "" : file + ": ") + (i.path.empty() ? "" : i.path + ": ") + i.message;
          }
          return s;
      }()),
      m_file(std::move(file)), m_issues(std::move(issues))
{
}

namespace {

std::string show(const QJsonValue& v)
{
    switch (v.type()) {
    case QJsonValue::String: return "\"" + v.toString().toStdString() + "\"";
    case QJsonValue::Double: {
        char b[32];
        std::snprintf(b, sizeof b, "%.17g", v.toDouble());
        return b;
    }
    case QJsonValue::Bool: return v.toBool() ? "true" : "false";
    case QJsonValue::Null: return "null";
    case QJsonValue::Array: return "an array";
    case QJsonValue::Object: return "an object";
    case QJsonValue::Undefined: break;
    }
    return "nothing";
}

std::size_t editDistance(const std::string& a, const std::string& b)
{
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j)
        row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diag = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1])});
            diag = up;
        }
    }
    return row[b.size()];
}

/// Reads one JSON object, recording every key it was asked for; finish() reports the others as unknown.
class ObjectReader {
public:
    ObjectReader(QJsonObject o, std::string path, std::vector<ScenarioIssue>& issues)
        : m_o(std::move(o)), m_path(std::move(path)), m_issues(issues)
    {
    }
    ~ObjectReader() { finish(); }
    ObjectReader(const ObjectReader&) = delete;

    std::string at(const std::string& key) const { return m_path.empty() ? key : m_path + "." + key; }
    void fail(const std::string& key, const std::string& msg) { m_issues.push_back({at(key), msg}); }
    bool has(const std::string& key)
    {
        m_known.insert(key);
        return m_o.contains(QString::fromStdString(key));
    }
    QJsonValue value(const std::string& key)
    {
        m_known.insert(key);
        return m_o.value(QString::fromStdString(key));
    }

    std::string string(const std::string& key, const std::string& def, bool required = false)
    {
        const QJsonValue v = value(key);
        if (v.isUndefined()) {
            if (required)
                fail(key, "missing; expected a string");
            return def;
        }
        if (!v.isString()) {
            fail(key, "expected a string, got " + show(v));
            return def;
        }
        return v.toString().toStdString();
    }

    std::string choice(const std::string& key, const std::vector<std::string>& allowed, const std::string& def)
    {
        const QJsonValue v = value(key);
        if (v.isUndefined()) {
            if (def.empty())
                fail(key, "missing; expected one of " + list(allowed));
            return def;
        }
        const std::string s = v.isString() ? v.toString().toStdString() : "";
        for (const auto& a : allowed)
            if (a == s)
                return s;
        fail(key, "expected one of " + list(allowed) + ", got " + show(v));
        return def.empty() ? allowed.front() : def;
    }

    double number(const std::string& key, double def, double lo, double hi, bool integer = false)
    {
        const QJsonValue v = value(key);
        if (v.isUndefined())
            return def;
        const char* what = integer ? "an integer" : "a number";
        const double x = v.toDouble(std::nan(""));
        if (!v.isDouble() || (integer && x != std::floor(x)) || !(x >= lo && x <= hi)) {
            char range[96];
            std::snprintf(range, sizeof range, " in [%.10g, %.10g]", lo, hi);
            fail(key, std::string("expected ") + what + range + ", got " + show(v));
            return def;
        }
        return x;
    }

    long integer(const std::string& key, long def, long lo, long hi)
    {
        return long(number(key, double(def), double(lo), double(hi), true));
    }

    bool boolean(const std::string& key, bool def)
    {
        const QJsonValue v = value(key);
        if (v.isUndefined())
            return def;
        if (!v.isBool()) {
            fail(key, "expected true or false, got " + show(v));
            return def;
        }
        return v.toBool();
    }

    /// A SimGrid unit string; `positive` rejects zero.
    double unit(const std::string& key, UnitKind kind, double def, bool positive)
    {
        const QJsonValue v = value(key);
        if (v.isUndefined())
            return def;
        const auto x = v.isString() ? parseUnit(v.toString().toStdString(), kind) : std::nullopt;
        if (!x || *x < 0 || (positive && *x == 0)) {
            fail(key, std::string("expected ") + unitExample(kind) + (positive ? " (greater than zero)" : "") +
                          ", got " + show(v));
            return def;
        }
        return *x;
    }

    /// A nested object; an absent one reads as empty (so its fields take their defaults).
    QJsonObject object(const std::string& key, bool required = false)
    {
        const QJsonValue v = value(key);
        if (v.isUndefined()) {
            if (required)
                fail(key, "missing; expected an object");
            return {};
        }
        if (!v.isObject()) {
            fail(key, "expected an object, got " + show(v));
            return {};
        }
        return v.toObject();
    }

    std::vector<ScenarioIssue>& issues() { return m_issues; }

    /// Reader of a nested object, sharing this reader's issue list.
    ObjectReader child(const std::string& key, bool required = false)
    {
        return ObjectReader(object(key, required), at(key), m_issues);
    }

    void finish()
    {
        if (m_finished)
            return;
        m_finished = true;
        for (const QString& k : m_o.keys()) {
            const std::string key = k.toStdString();
            if (m_known.count(key))
                continue;
            std::string best;
            std::size_t bestD = 3;
            for (const auto& cand : m_known)
                if (const auto d = editDistance(key, cand); d < bestD) {
                    bestD = d;
                    best = cand;
                }
            fail(key, "unknown key" + (best.empty() ? std::string() : "; did you mean \"" + best + "\"?"));
        }
    }

private:
    static std::string list(const std::vector<std::string>& v)
    {
        std::string s;
        for (const auto& a : v)
            s += (s.empty() ? "\"" : ", \"") + a + "\"";
        return s;
    }
    QJsonObject m_o;
    std::string m_path;
    std::vector<ScenarioIssue>& m_issues;
    std::set<std::string> m_known;
    bool m_finished = false;
};

void readPlatform(ObjectReader&& r, sim::PlatformSpec& p)
{
    r.choice("topology", {"star"}, "star");
    p.workers = int(r.integer("workers", 0, 1, 100000));
    if (!r.has("workers"))
        r.fail("workers", "missing; expected the number of worker hosts (an integer >= 1)");
    p.workerSpeed = r.unit("worker_speed", UnitKind::Speed, p.workerSpeed, true);
    p.serverSpeed = r.unit("server_speed", UnitKind::Speed, p.workerSpeed, true);
    p.linkBandwidth = r.unit("link_bandwidth", UnitKind::Bandwidth, p.linkBandwidth, true);
    p.linkLatency = r.unit("link_latency", UnitKind::Time, p.linkLatency, false);
    p.backboneBandwidth = r.unit("backbone_bandwidth", UnitKind::Bandwidth, p.backboneBandwidth, true);
    p.backboneLatency = r.unit("backbone_latency", UnitKind::Time, p.backboneLatency, false);
    p.network = r.choice("network_model", {"tcp", "ideal"}, "tcp") == "ideal" ? sim::NetworkModel::Ideal
                                                                               : sim::NetworkModel::Tcp;
}

void readDataset(ObjectReader&& r, DatasetSpec& d)
{
    const std::string name = r.choice("name", {"fashion-mnist", "synthetic", "none"}, "fashion-mnist");
    if (name == "none") {
        d.kind = DatasetSpec::Kind::SizesOnly;
        d.synthetic.trainSamples = int(r.integer("train_samples", 60000, 1, 2000000000));
        d.synthetic.testSamples = 0;
        d.sizesOnlyClasses = int(r.integer("classes", 10, 2, 100000));
    } else if (name == "fashion-mnist") {
        d.kind = DatasetSpec::Kind::FashionMnist;
        d.path = r.string("path", d.path);
        d.trainSamples = int(r.integer("train_samples", 0, 0, 60000));
        d.testSamples = int(r.integer("test_samples", 0, 0, 10000));
    } else {
        d.kind = DatasetSpec::Kind::Synthetic;
        auto& s = d.synthetic;
        s.classes = int(r.integer("classes", s.classes, 2, 1000));
        s.features = int(r.integer("features", s.features, 1, 100000));
        s.trainSamples = int(r.integer("train_samples", s.trainSamples, 1, 10000000));
        s.testSamples = int(r.integer("test_samples", s.testSamples, 1, 10000000));
        s.separation = r.number("separation", s.separation, 0, 1e6);
    }
}

void readOptimizer(ObjectReader&& r, OptimizerSpec& o)
{
    const std::string type = r.choice("type", {"sgd", "momentum", "adam"}, "sgd");
    o.kind = type == "adam" ? OptimizerSpec::Kind::Adam
             : type == "momentum" ? OptimizerSpec::Kind::Momentum : OptimizerSpec::Kind::Sgd;
    const bool adam = o.kind == OptimizerSpec::Kind::Adam;
    o.learningRate = float(r.number("learning_rate", adam ? 1e-3 : 0.05, 1e-12, 1e3));
    if (o.kind == OptimizerSpec::Kind::Momentum)
        o.momentum = float(r.number("momentum", o.momentum, 0, 0.9999999));
    if (adam) {
        o.beta1 = float(r.number("beta1", o.beta1, 0, 0.9999999));
        o.beta2 = float(r.number("beta2", o.beta2, 0, 0.9999999));
        o.epsilon = float(r.number("epsilon", o.epsilon, 1e-30, 1));
    }
}

void readWorkload(ObjectReader&& r, Scenario& s)
{
    TrainingConfig& t = s.sim.training;
    readDataset(r.child("dataset"), s.dataset);
    {
        ObjectReader m = r.child("model");
        const std::string type = m.choice("type", {"mlp", "logistic", "proxy"}, "mlp");
        t.hidden.clear();
        if (type == "proxy") {
            t.proxy.parameters = (long long)m.number("parameters", 0, 1, 1e12, true);
            if (!m.has("parameters"))
                m.fail("parameters", "missing; expected the parameter count of the proxy model, e.g. 25600000");
            // Backward costs about twice the forward pass (Kaplan et al. 2020, Sec. 2.1): train = 3 x forward.
            const double forward = m.unit("forward_flops", UnitKind::Flops, 0, true);
            t.proxy.trainFlopsPerSample = m.unit("train_flops", UnitKind::Flops, 3 * forward, true);
            if (!m.has("forward_flops") && !m.has("train_flops"))
                m.fail("forward_flops", "missing; expected the flops of one sample's forward pass such as "
                                        "\"4.1Gf\" (or train_flops for forward+backward)");
        }
        if (type == "mlp") {
            const QJsonValue h = m.value("hidden");
            if (h.isUndefined())
                t.hidden = {128};
            else if (!h.isArray() || h.toArray().isEmpty())
                m.fail("hidden", "expected a non-empty array of layer widths such as [128], got " + show(h));
            else
                for (qsizetype i = 0; i < h.toArray().size(); ++i) {
                    const QJsonValue w = h.toArray()[i];
                    if (!w.isDouble() || w.toDouble() != std::floor(w.toDouble()) || w.toDouble() < 1 ||
                        w.toDouble() > 65536)
                        m.issues().push_back({m.at("hidden") + "[" + std::to_string(i) + "]",
                                              "expected an integer width in [1, 65536], got " + show(w)});
                    else
                        t.hidden.push_back(w.toInt());
                }
        }
    }
    t.batchSize = int(r.integer("batch_size", t.batchSize, 1, 1 << 20));
    readOptimizer(r.child("optimizer"), t.optimizer);
    {
        ObjectReader p = r.child("partitioning");
        const std::string type = p.choice("type", {"iid", "dirichlet", "shards"}, "iid");
        PartitionSpec& ps = t.partition;
        ps.kind = type == "dirichlet" ? PartitionSpec::Kind::Dirichlet
                  : type == "shards"  ? PartitionSpec::Kind::Shards : PartitionSpec::Kind::Iid;
        if (ps.kind == PartitionSpec::Kind::Dirichlet)
            ps.alpha = p.number("alpha", ps.alpha, 1e-6, 1e6);
        if (ps.kind == PartitionSpec::Kind::Shards)
            ps.shardsPerClient = int(p.integer("shards_per_client", ps.shardsPerClient, 1, 1000000));
    }
}

void readRun(ObjectReader&& r, Scenario& s)
{
    TrainingConfig& t = s.sim.training;
    t.epochs = int(r.integer("epochs", 1, 1, 1000000));
    t.maxSteps = r.integer("max_steps", 0, 0, 1L << 40);
    t.evalEverySteps = int(r.integer("eval_interval", 0, 0, 1 << 30));
    t.evalEveryEpochs = r.number("eval_interval_epochs", 0, 0, 1e6);
    if (t.evalEverySteps > 0 && t.evalEveryEpochs > 0)
        r.fail("eval_interval_epochs", "give either eval_interval (steps) or eval_interval_epochs, not both");
    t.targetAccuracy = r.number("target_accuracy", 0, 0, 1);
    t.stopAtTarget = r.boolean("stop_at_target", false);
    if (t.stopAtTarget && t.targetAccuracy <= 0)
        r.fail("stop_at_target", "needs run.target_accuracy greater than 0");
    t.maxSimulatedTime = r.unit("max_simulated_time", UnitKind::Time, 0, false);
}

void readStrategy(ObjectReader&& r, StrategySpec& st)
{
    const std::string type = r.choice("type", {"sync-ps", "async-ps", "ring-allreduce", "fedavg"}, "");
    st.kind = type == "async-ps"         ? StrategyKind::AsyncPs
              : type == "ring-allreduce" ? StrategyKind::RingAllReduce
              : type == "fedavg"         ? StrategyKind::FedAvg : StrategyKind::SyncPs;
    if (st.kind == StrategyKind::AsyncPs)
        st.stalenessBound = int(r.integer("staleness_bound", -1, -1, 1000000000));
    if (st.kind == StrategyKind::FedAvg) {
        st.clientFraction = r.number("client_fraction", st.clientFraction, 1e-9, 1);
        st.localEpochs = int(r.integer("local_epochs", st.localEpochs, 1, 1000000));
        st.proxMu = r.number("prox_mu", st.proxMu, 0, 1e6);
        st.rounds = int(r.integer("rounds", st.rounds, 0, 100000000));
    }
}

void readCompare(ObjectReader& root, Scenario& s)
{
    const QJsonValue v = root.value("compare");
    if (v.isUndefined())
        return;
    if (!v.isArray() || v.toArray().isEmpty()) {
        root.fail("compare", "expected a non-empty array of {\"label\": ..., \"patch\": {...}}, got " + show(v));
        return;
    }
    std::set<std::string> labels;
    const QJsonArray a = v.toArray();
    for (qsizetype i = 0; i < a.size(); ++i) {
        const std::string at = "compare[" + std::to_string(i) + "]";
        if (!a[i].isObject()) {
            root.issues().push_back({at, "expected an object {\"label\": ..., \"patch\": {...}}, got " + show(a[i])});
            continue;
        }
        ObjectReader e(a[i].toObject(), at, root.issues());
        CompareEntry c;
        c.label = e.string("label", "", true);
        if (!c.label.empty() && !labels.insert(c.label).second)
            e.fail("label", "duplicate label \"" + c.label + "\"");
        const QJsonObject patch = e.object("patch", true);
        if (patch.contains("compare"))
            e.fail("patch", "a patch cannot contain \"compare\"");
        c.patch = QJsonDocument(patch).toJson(QJsonDocument::Compact).toStdString();
        s.compare.push_back(std::move(c));
    }
}

QString lineAndColumn(const std::string& text, int offset)
{
    int line = 1, col = 1;
    for (int i = 0; i < offset && i < int(text.size()); ++i) {
        if (text[std::size_t(i)] == '\n') {
            ++line;
            col = 1;
        } else {
            ++col;
        }
    }
    return QString("line %1, column %2").arg(line).arg(col);
}

} // namespace

Scenario parseScenario(const std::string& text, const std::string& file)
{
    QJsonParseError perr;
    const QJsonDocument doc = QJsonDocument::fromJson(QByteArray::fromStdString(text), &perr);
    if (perr.error != QJsonParseError::NoError)
        throw ScenarioError(file, {{"", "invalid JSON at " + lineAndColumn(text, perr.offset).toStdString() +
                                           ": " + perr.errorString().toStdString()}});
    if (!doc.isObject())
        throw ScenarioError(file, {{"", "expected a JSON object at the top level"}});

    Scenario s;
    s.file = file;
    s.text = text;
    std::vector<ScenarioIssue> issues;
    {
        ObjectReader root(doc.object(), "", issues);
        s.name = root.string("name", "", true);
        s.description = root.string("description", "");
        s.sim.training.seed = std::uint64_t(root.number("seed", 1, 0, 9007199254740991.0, true));
        readPlatform(root.child("platform", true), s.sim.platform);
        readWorkload(root.child("workload", true), s);
        readStrategy(root.child("strategy", true), s.sim.strategy);
        readRun(root.child("run"), s);
        readCompare(root, s);
    }
    s.sim.strategy.workers = s.sim.platform.workers;
    if (!issues.empty())
        throw ScenarioError(file, std::move(issues));
    return s;
}

Scenario loadScenario(const std::string& file)
{
    QFile f(QString::fromStdString(file));
    if (!f.exists())
        throw ScenarioError(file, {{"", "file not found"}});
    if (!f.open(QIODevice::ReadOnly))
        throw ScenarioError(file, {{"", "cannot read: " + f.errorString().toStdString()}});
    return parseScenario(f.readAll().toStdString(), file);
}

TrainTest loadDataset(const Scenario& s)
{
    const DatasetSpec& d = s.dataset;
    if (d.kind == DatasetSpec::Kind::Synthetic)
        return makeSyntheticBlobs(d.synthetic, s.sim.training.seed);
    if (d.kind == DatasetSpec::Kind::SizesOnly) {
        TrainTest tt;
        tt.train.features.resize(0, d.synthetic.trainSamples);
        tt.train.labels.assign(std::size_t(d.synthetic.trainSamples), 0);
        tt.train.classes = tt.test.classes = d.sizesOnlyClasses;
        return tt;
    }
    return loadFashionMnist(d.path, d.trainSamples, d.testSamples);
}

void checkAgainstData(const Scenario& s, const TrainTest& data)
{
    if (s.sim.training.proxy.parameters <= 0 && data.train.numFeatures() == 0)
        throw ScenarioError(s.file, {{"workload.dataset", "dataset \"none\" has no data: use it with a proxy "
                                                          "model ({\"type\": \"proxy\", ...})"}});
    try {
        MetricsSink none; // building the strategy checks every setting that depends on the data
        makeStrategy(s.sim.strategy, s.sim.training, data, none);
    } catch (const ConfigError& e) {
        const std::string msg = e.what();
        throw ScenarioError(s.file, {{e.path(), msg.substr(e.path().size() + 2)}});
    }
}

const char* strategyTitle(StrategyKind k)
{
    switch (k) {
    case StrategyKind::SyncPs: return "synchronous parameter server";
    case StrategyKind::AsyncPs: return "asynchronous parameter server";
    case StrategyKind::RingAllReduce: return "ring all-reduce";
    case StrategyKind::FedAvg: return "federated averaging";
    }
    return "?";
}

namespace {
QJsonValue applyPatch(const QJsonValue& target, const QJsonValue& patch)
{
    if (!patch.isObject())
        return patch;
    QJsonObject out = target.isObject() ? target.toObject() : QJsonObject{};
    const QJsonObject p = patch.toObject();
    for (auto it = p.begin(); it != p.end(); ++it) {
        if (it.value().isNull())
            out.remove(it.key());
        else
            out.insert(it.key(), applyPatch(out.value(it.key()), it.value()));
    }
    return out;
}

QJsonObject parseObject(const std::string& text, const char* what)
{
    QJsonParseError e;
    const QJsonDocument d = QJsonDocument::fromJson(QByteArray::fromStdString(text), &e);
    if (e.error != QJsonParseError::NoError || !d.isObject())
        throw ScenarioError("", {{"", std::string(what) + " is not a JSON object"}});
    return d.object();
}
} // namespace

std::string mergePatch(const std::string& target, const std::string& patch)
{
    const QJsonValue merged = applyPatch(parseObject(target, "the scenario"), parseObject(patch, "the patch"));
    return QJsonDocument(merged.toObject()).toJson(QJsonDocument::Indented).toStdString();
}

std::string scenarioHash(const std::string& text)
{
    return QCryptographicHash::hash(QByteArray::fromStdString(text), QCryptographicHash::Sha256)
        .toHex()
        .toStdString();
}

} // namespace dml::app
