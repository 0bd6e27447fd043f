// SPDX-License-Identifier: GPL-3.0-or-later
#include "scenario.h"

#include "models/presets.h"

#include "error.h"
#include "jsonreader.h"
#include "scenario_jobs.h"
#include "models/cnn.h"
#include "units.h"

#include <QCryptographicHash>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>

#include <algorithm>
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

// The work between two communications is bounded so that one step (a round, an edge round) always ends in
// reasonable time: FedAvg papers use 1 to 20 local epochs, local SGD and HierFAVG 1 to a few hundred local steps
// (issue 18: "local_epochs": 65536 made a 2-round run take hours of real arithmetic).
constexpr long long kMaxLocalEpochs = 1000;
constexpr long long kMaxLocalSteps = 100000;
// A CNN's buffers on one thread (Cnn::trainingBytes at the larger of the batch and the evaluation chunk, plus the
// parameters, their gradient and two optimizer states): more than this is refused before anything is allocated.
constexpr double kMaxCnnBytes = 2.0 * (1 << 30);

using namespace detail;

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

/// workload.model of type "cnn": "input" [C, H, W] and "layers" ("lenet5" or an array of layer objects).
void readCnn(ObjectReader& m, CnnSpec& c)
{
    const QJsonValue in = m.value("input");
    if (!in.isUndefined()) {
        const QJsonArray a = in.toArray();
        bool ok = in.isArray() && a.size() == 3;
        for (qsizetype i = 0; ok && i < 3; ++i)
            ok = a[i].isDouble() && a[i].toDouble() == std::floor(a[i].toDouble()) && a[i].toDouble() >= 1 &&
                 a[i].toDouble() <= 65536;
        if (!ok)
            m.fail("input", "expected [channels, height, width], three integers in [1, 65536] such as [1, 28, 28], "
                            "got " + show(in));
        else {
            c.channels = a[0].toInt();
            c.height = a[1].toInt();
            c.width = a[2].toInt();
        }
    }
    const QJsonValue layers = m.value("layers");
    if (layers.isUndefined() || layers == QJsonValue("lenet5")) {
        c.layers = CnnSpec::lenet5().layers;
        return;
    }
    if (!layers.isArray() || layers.toArray().isEmpty() || layers.toArray().size() > 1000) {
        m.fail("layers", "expected \"lenet5\" or an array of 1 to 1000 layers such as [{\"type\": \"conv\", "
                         "\"filters\": 6, \"kernel\": 5}, {\"type\": \"relu\"}, {\"type\": \"maxpool\", "
                         "\"kernel\": 2}, {\"type\": \"dense\", \"units\": 120}], got " + show(layers));
        return;
    }
    using K = CnnLayerSpec::Kind;
    const QJsonArray a = layers.toArray();
    for (qsizetype i = 0; i < a.size(); ++i) {
        const std::string path = m.at("layers") + "[" + std::to_string(i) + "]";
        if (!a[i].isObject()) {
            m.issues().push_back({path, "expected a layer object such as {\"type\": \"relu\"}, got " + show(a[i])});
            continue;
        }
        ObjectReader l(a[i].toObject(), path, m.issues());
        const std::string type = l.choice("type", {"conv", "maxpool", "relu", "dense"}, "");
        CnnLayerSpec s;
        s.kind = type == "conv" ? K::Conv : type == "maxpool" ? K::MaxPool : type == "dense" ? K::Dense : K::Relu;
        if (type == "conv") {
            s.units = int(l.integer("filters", 0, 1, 65536));
            if (!l.has("filters"))
                l.fail("filters", "missing; expected the number of filters (output channels), e.g. 6");
        }
        if (type == "dense") {
            s.units = int(l.integer("units", 0, 1, 65536));
            if (!l.has("units"))
                l.fail("units", "missing; expected the layer's width, e.g. 120");
        }
        if (type == "conv" || type == "maxpool") {
            s.kernel = int(l.integer("kernel", type == "maxpool" ? 2 : 0, 1, 4096));
            if (type == "conv" && !l.has("kernel"))
                l.fail("kernel", "missing; expected the side of the square filter in pixels, e.g. 5");
            s.stride = int(l.integer("stride", 0, 1, 4096));
        }
        if (type == "conv")
            s.padding = int(l.integer("padding", 0, 0, 4095));
        c.layers.push_back(s);
    }
}

/// The CNN's shapes and its memory: issues against the layer that does not fit, or the model as a whole.
void checkCnn(ObjectReader& m, const Scenario& s)
{
    const TrainingConfig& t = s.sim.training;
    const DatasetSpec& d = s.dataset;
    const int classes = d.kind == DatasetSpec::Kind::Synthetic   ? d.synthetic.classes
                        : d.kind == DatasetSpec::Kind::SizesOnly ? d.sizesOnlyClasses : 10;
    try {
        const Cnn cnn(t.cnn, std::max(2, classes));
        const double bytes = cnn.trainingBytes(std::max<Eigen::Index>(t.batchSize, cnnkernel::kEvaluationChunk)) +
                             16.0 * double(cnn.numParams());
        if (bytes > kMaxCnnBytes) {
            char b[200];
            std::snprintf(b, sizeof b, "the model needs about %.3g GiB of buffers per thread at batch size %d (%lld "
                                       "parameters); at most 2 GiB: use fewer or smaller layers or a smaller batch",
                          bytes / double(1 << 30), t.batchSize, (long long)cnn.numParams());
            m.fail("layers", b);
        }
    } catch (const CnnShapeError& e) {
        m.issues().push_back({e.layer < 0 ? m.at("input") : m.at("layers") + "[" + std::to_string(e.layer) + "]",
                              e.what()});
    }
}

/// A proxy given layer by layer (README "Overlap"): "preset" ("resnet50", "bert-base", "bert-large") or "layers", a
/// list of {"name", "parameters", "forward_flops", "backward_flops"} (backward: twice forward by default). The
/// model's parameters and flops are then the layers' sums; "parameters" may be given too and must agree.
void readProxyLayers(ObjectReader& m, ProxyModel& p)
{
    p.layers.clear();
    for (const char* key : {"forward_flops", "train_flops"})
        if (m.has(key))
            m.fail(key, std::string("is given by the ") + (m.has("preset") ? "preset" : "layers") +
                            "; leave it out");
    if (m.has("preset")) {
        if (m.has("layers"))
            m.fail("layers", "give either a preset or layers, not both");
        const std::string name = m.choice("preset", proxyPresetNames(), "");
        if (m.has("parameters"))
            m.fail("parameters", "is given by the preset; leave it out");
        p.layers = proxyPreset(name);
    } else {
        const QJsonValue v = m.value("layers");
        const QJsonArray a = v.toArray();
        if (!v.isArray() || a.isEmpty() || a.size() > 100000) {
            m.fail("layers", "expected an array of 1 to 100000 layers such as [{\"name\": \"fc\", \"parameters\": "
                             "1000000, \"forward_flops\": \"2Mf\"}], got " + show(v));
            return;
        }
        for (qsizetype i = 0; i < a.size(); ++i) {
            const std::string path = m.at("layers") + "[" + std::to_string(i) + "]";
            if (!a[i].isObject()) {
                m.issues().push_back({path, "expected a layer object such as {\"parameters\": 1000, "
                                            "\"forward_flops\": \"2Mf\"}, got " + show(a[i])});
                continue;
            }
            ObjectReader l(a[i].toObject(), path, m.issues());
            LayerCost c;
            c.name = l.string("name", "layer" + std::to_string(i + 1));
            c.parameters = (long long)l.number("parameters", 0, 0, 1e12, true);
            c.forward = l.unit("forward_flops", UnitKind::Flops, 0, false);
            if (!l.has("forward_flops"))
                l.fail("forward_flops", "missing; expected the flops of one sample's forward pass through the layer "
                                        "such as \"2Mf\"");
            c.backward = l.unit("backward_flops", UnitKind::Flops, 2 * c.forward, false);
            p.layers.push_back(std::move(c));
        }
        const long long total = totalParameters(p.layers);
        if (total > 1000000000000LL)
            m.fail("layers", "the layers hold " + std::to_string(total) + " parameters; at most 1e12");
        else if (total < 1)
            m.fail("layers", "the layers hold no parameters: give at least one layer parameters");
        else if (m.has("parameters") && (long long)m.number("parameters", 0, 1, 1e12, true) != total)
            m.fail("parameters", "the layers' parameters add up to " + std::to_string(total) + ", not " +
                                     show(m.value("parameters")));
    }
    p.parameters = std::max(1LL, std::min(totalParameters(p.layers), 1000000000000LL));
    p.trainFlopsPerSample = totalTrain(p.layers);
    if (!std::isfinite(p.trainFlopsPerSample) || p.trainFlopsPerSample > 1e18)
        m.fail("layers", "the layers' flops per sample add up to more than 1e18");
    if (p.layers.empty() || totalParameters(p.layers) != p.parameters)
        p.layers.clear(); // an error was reported: keep the proxy consistent
}

void readWorkload(ObjectReader&& r, Scenario& s)
{
    TrainingConfig& t = s.sim.training;
    readDataset(r.child("dataset"), s.dataset);
    {
        ObjectReader m = r.child("model");
        const std::string type = m.choice("type", {"mlp", "logistic", "cnn", "proxy"}, "mlp");
        t.hidden.clear();
        t.cnn = CnnSpec{};
        if (type == "cnn")
            readCnn(m, t.cnn);
        if (type == "proxy" && (m.has("preset") || m.has("layers"))) {
            readProxyLayers(m, t.proxy);
        } else if (type == "proxy") {
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
    if (!t.cnn.layers.empty()) {
        // Once its fields read cleanly: the shapes and the memory need the batch size, read after the model.
        ObjectReader m(QJsonObject{}, r.at("model"), r.issues()); // for the paths; it reads nothing
        if (std::none_of(r.issues().begin(), r.issues().end(),
                         [&](const ScenarioIssue& i) { return i.path.rfind(m.at(""), 0) == 0; }))
            checkCnn(m, s);
    }
    readOptimizer(r.child("optimizer"), t.optimizer);
    {
        ObjectReader p = r.child("partitioning");
        const std::string type = p.choice("type", {"iid", "dirichlet", "dirichlet-per-class", "shards"}, "iid");
        PartitionSpec& ps = t.partition;
        ps.kind = type == "dirichlet"             ? PartitionSpec::Kind::Dirichlet
                  : type == "dirichlet-per-class" ? PartitionSpec::Kind::DirichletPerClass
                  : type == "shards"              ? PartitionSpec::Kind::Shards : PartitionSpec::Kind::Iid;
        if (ps.kind == PartitionSpec::Kind::Dirichlet || ps.kind == PartitionSpec::Kind::DirichletPerClass)
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

void readCompression(ObjectReader&& r, compression::CompressionSpec& c)
{
    using K = compression::CompressionSpec::Kind;
    const std::string type =
        r.choice("type", {"none", "topk", "randomk", "qsgd", "sign", "fp16", "bf16", "powersgd"}, "none");
    c.kind = type == "topk"       ? K::TopK
             : type == "randomk"  ? K::RandomK
             : type == "qsgd"     ? K::Qsgd
             : type == "sign"     ? K::Sign
             : type == "fp16"     ? K::Fp16
             : type == "bf16"     ? K::Bf16
             : type == "powersgd" ? K::PowerSgd : K::None;
    if (c.kind == K::None)
        return; // any other key is reported as unknown
    if (c.kind == K::TopK || c.kind == K::RandomK) {
        c.ratio = r.number("ratio", c.ratio, 1e-9, 1);
        c.momentumCorrection = r.boolean("momentum_correction", false);
    }
    if (c.kind == K::Qsgd) {
        c.bits = int(r.integer("bits", c.bits, 2, 17));
        c.bucket = int(r.integer("bucket", c.bucket, 0, 1 << 30));
    }
    if (c.kind == K::PowerSgd)
        c.rank = int(r.integer("rank", c.rank, 1, 4096));
    c.errorFeedback = r.boolean("error_feedback", c.kind == K::PowerSgd);
}

void readPrivacy(ObjectReader&& r, privacy::PrivacySpec& p)
{
    using K = privacy::PrivacySpec::Kind;
    const std::string type = r.choice("type", {"none", "dp-fedavg", "dp-sgd"}, "none");
    p.kind = type == "dp-fedavg" ? K::DpFedAvg : type == "dp-sgd" ? K::DpSgd : K::None;
    if (p.kind == K::None)
        return; // any other key is reported as unknown
    p.clip = r.number("clip", p.clip, 1e-12, 1e12);
    p.noiseMultiplier = r.number("noise_multiplier", p.noiseMultiplier, 0, 1e6);
    p.delta = r.number("delta", p.delta, 1e-300, 0.999999);
    p.targetEpsilon = r.number("target_epsilon", 0, 0, 1e9);
}

void readSecureAggregation(ObjectReader&& r, privacy::SecAggSpec& a)
{
    a.enabled = r.boolean("enabled", false);
    a.bits = int(r.integer("bits", a.bits, 16, 32));
    a.range = r.number("range", a.range, 1e-12, 1e12);
    a.threshold = int(r.integer("threshold", 0, 0, 100000000)); // <= m: checkSecureAggregation
}

void readCheckpoint(ObjectReader&& r, CheckpointSpec& c)
{
    c.everySteps = long(r.integer("every_steps", 0, 0, 1000000000));
    c.everySeconds = r.unit("every", UnitKind::Time, 0, true);
    if (c.everySteps == 0 && c.everySeconds == 0)
        r.fail("every_steps", "expected a checkpoint interval: \"every_steps\" (global steps) or \"every\" (a "
                              "duration such as \"10min\")");
    c.writeBandwidth = r.unit("write_bandwidth", UnitKind::Bandwidth, c.writeBandwidth, true);
    c.readBandwidth = r.unit("read_bandwidth", UnitKind::Bandwidth, c.readBandwidth, true);
    c.restartDelay = r.unit("restart_delay", UnitKind::Time, c.restartDelay, false);
    c.maxRestarts = int(r.integer("max_restarts", c.maxRestarts, 0, 1000000));
}

/// The "faults" section (README "Failures"): scheduled events and random failures.
void readFaults(ObjectReader&& r, sim::FaultSpec& f)
{
    const QJsonValue ev = r.value("events");
    if (!ev.isUndefined() && !ev.isArray())
        r.fail("events", "expected a list of events such as [{\"time\": \"30s\", \"type\": \"crash\", "
                         "\"host\": \"worker-3\"}], got " + show(ev));
    const QJsonArray a = ev.toArray();
    for (qsizetype i = 0; i < a.size(); ++i) {
        const std::string at = r.at("events") + "[" + std::to_string(i) + "]";
        if (!a[i].isObject()) {
            r.issues().push_back({at, "expected an object, got " + show(a[i])});
            continue;
        }
        ObjectReader e(a[i].toObject(), at, r.issues());
        sim::FaultEvent x;
        x.path = at;
        if (!e.has("time"))
            e.fail("time", "missing; expected a duration such as \"30s\"");
        x.time = e.unit("time", UnitKind::Time, 0, false);
        const std::string type = e.choice("type", {"crash", "recover", "link-down", "link-up"}, "");
        using T = sim::FaultEvent::Type;
        x.type = type == "recover" ? T::Recover : type == "link-down" ? T::LinkDown : type == "link-up" ? T::LinkUp
                                                                                                      : T::Crash;
        if (x.type == T::LinkDown || x.type == T::LinkUp) {
            x.link = e.string("link", "", true);
        } else if (e.has("role")) {
            x.role = e.string("role", "", true);
            x.index = int(e.integer("index", -1, -1, 1000000000));
            if (e.has("host"))
                e.fail("host", "give either \"host\" (a glob over host names) or \"role\", not both");
        } else {
            x.host = e.string("host", "", true);
        }
        f.events.push_back(std::move(x));
    }
    if (r.has("random")) {
        ObjectReader q = r.child("random");
        sim::RandomFaults& rf = f.random;
        rf.enabled = true;
        const QJsonValue roles = q.value("roles");
        if (!roles.isUndefined()) {
            rf.roles.clear();
            for (const QJsonValue& v : roles.toArray())
                if (v.isString() && !v.toString().isEmpty())
                    rf.roles.push_back(v.toString().toStdString());
            if (!roles.isArray() || rf.roles.empty() || rf.roles.size() != std::size_t(roles.toArray().size()))
                q.fail("roles", "expected a list of roles such as [\"worker\"], got " + show(roles));
        }
        if (!q.has("mtbf"))
            q.fail("mtbf", "missing; expected the mean time between failures of a host, such as \"2h\"");
        rf.mtbf = q.unit("mtbf", UnitKind::Time, rf.mtbf, true);
        rf.mttr = q.unit("mttr", UnitKind::Time, rf.mttr, true);
        const std::string d = q.choice("distribution", {"exponential", "weibull"}, "exponential");
        rf.distribution = d == "weibull" ? sim::RandomFaults::Distribution::Weibull
                                         : sim::RandomFaults::Distribution::Exponential;
        if (rf.distribution == sim::RandomFaults::Distribution::Weibull)
            rf.shape = q.number("shape", 1, 0.05, 20);
    }
}

void readStrategy(ObjectReader&& r, StrategySpec& st)
{
    const std::string type =
        r.choice("type", {"sync-ps", "async-ps", "ring-allreduce", "fedavg", "hierfavg", "fedbuff"}, "");
    st.kind = type == "async-ps"         ? StrategyKind::AsyncPs
              : type == "ring-allreduce" ? StrategyKind::RingAllReduce
              : type == "fedavg"         ? StrategyKind::FedAvg
              : type == "hierfavg"       ? StrategyKind::HierFavg
              : type == "fedbuff"        ? StrategyKind::FedBuff : StrategyKind::SyncPs;
    if (st.kind == StrategyKind::SyncPs)
        st.backupWorkers = int(r.integer("backup_workers", 0, 0, 1000000000)); // < workers: makeStrategy checks
    // Read for every strategy so that a misplaced one gets checkRecovery's explanation.
    const std::string recovery = r.choice("recovery", {"none", "elastic", "checkpoint-restart"}, "none");
    st.recovery = recovery == "elastic"              ? StrategySpec::Recovery::Elastic
                  : recovery == "checkpoint-restart" ? StrategySpec::Recovery::CheckpointRestart
                                                     : StrategySpec::Recovery::None;
    if ((st.kind == StrategyKind::SyncPs && st.recovery != StrategySpec::Recovery::None) ||
        (st.kind == StrategyKind::RingAllReduce && st.recovery != StrategySpec::Recovery::None))
        st.failureDetection = r.unit("failure_detection", UnitKind::Time, 1, true);
    if (st.recovery == StrategySpec::Recovery::CheckpointRestart)
        readCheckpoint(r.child("checkpoint"), st.checkpoint);
    if (st.kind == StrategyKind::AsyncPs) {
        st.stalenessBound = int(r.integer("staleness_bound", -1, -1, 1000000000));
        st.failureDetection = r.unit("failure_detection", UnitKind::Time, 1, true);
    }
    if (st.kind == StrategyKind::FedAvg) {
        st.clientFraction = r.number("client_fraction", st.clientFraction, 1e-9, 1);
        st.localEpochs = int(r.integer("local_epochs", st.localEpochs, 1, kMaxLocalEpochs));
        st.proxMu = r.number("prox_mu", st.proxMu, 0, 1e6);
        st.rounds = int(r.integer("rounds", st.rounds, 0, 100000000));
        st.roundDeadline = r.unit("round_deadline", UnitKind::Time, 0, false);
        st.targetClients = int(r.integer("target_clients", 0, 0, 100000000)); // <= m: FederatedAveraging checks
        st.failureDetection = r.unit("failure_detection", UnitKind::Time, 1, true);
    }
    if (st.kind == StrategyKind::HierFavg) {
        st.edgeServers = int(r.integer("edge_servers", 0, 1, 1000000)); // 0 here: one per edge site (parseScenario)
        st.edgeInterval = int(r.integer("edge_interval", 0, 0, kMaxLocalSteps));
        st.cloudInterval = int(r.integer("cloud_interval", 1, 1, 10000));
        st.rounds = int(r.integer("rounds", st.rounds, 0, 100000000));
        st.failureDetection = r.unit("failure_detection", UnitKind::Time, 1, true);
    }
    if (st.kind == StrategyKind::FedBuff) { // ranges against platform.workers: FedBuff checks
        st.concurrency = int(r.integer("concurrency", st.concurrency, 1, 100000000));
        st.bufferSize = int(r.integer("buffer_size", st.bufferSize, 1, 100000000));
        st.serverLearningRate = r.number("server_learning_rate", st.serverLearningRate, 1e-12, 1e6);
        st.refillOnAggregation = r.choice("refill", {"report", "aggregation"}, "report") == "aggregation";
        st.localEpochs = int(r.integer("local_epochs", st.localEpochs, 1, kMaxLocalEpochs));
        st.rounds = int(r.integer("rounds", st.rounds, 0, 100000000));
        st.failureDetection = r.unit("failure_detection", UnitKind::Time, 1, true);
    }
    // Read for every strategy so that a misplaced one gets checkCollective's explanation, not "unknown key".
    st.collective.algorithm =
        collectives::parseAlgorithm(r.choice("collective", collectives::algorithmNames(), "ring"));
    st.collective.ranksPerNode = int(r.integer("ranks_per_node", 1, 1, 1000000));
    for (const char* key : {"auto_latency", "auto_bandwidth"}) { // -1: from the platform (parseScenario)
        const bool latency = std::string(key) == "auto_latency";
        const double v = r.unit(key, latency ? UnitKind::Time : UnitKind::Bandwidth, -1, !latency);
        if (st.collective.algorithm == collectives::Algorithm::Auto)
            (latency ? st.collective.cost.alpha : st.collective.cost.bandwidth) = v;
        else if (r.has(key))
            r.fail(key, "is the network of collective \"auto\"; not used with \"" +
                            std::string(collectives::toString(st.collective.algorithm)) + "\"");
    }
    if (r.has("auto_among")) { // the algorithms "auto" chooses among (checkCollective: only with "auto")
        const QJsonValue v = r.value("auto_among");
        const QJsonArray a = v.toArray();
        if (!v.isArray() || a.isEmpty() || a.size() > 16) {
            r.fail("auto_among", "expected a list of 1 to 16 algorithm names such as [\"ring\", "
                                 "\"double-binary-tree\"], got " + show(v));
        } else {
            for (qsizetype i = 0; i < a.size(); ++i) {
                const std::string at = "auto_among[" + std::to_string(i) + "]";
                if (!a[i].isString()) {
                    r.fail(at, "expected an algorithm name, got " + show(a[i]));
                    continue;
                }
                try {
                    st.collective.candidates.push_back(collectives::parseAlgorithm(a[i].toString().toStdString()));
                } catch (const std::invalid_argument& e) {
                    r.fail(at, e.what());
                }
            }
        }
    }
    // Read for every strategy so that a misplaced one gets checkOverlap's explanation, not "unknown key".
    st.overlap.enabled = r.boolean("overlap", false);
    st.overlap.bucketCapBytes = r.number("bucket_cap_mb", 25, 1e-6, 1048576) * 1024 * 1024;
    if (r.has("bucket_cap_mb") && !st.overlap.enabled)
        r.fail("bucket_cap_mb", "is the bucket size of \"overlap\": true (MiB, as DDP's bucket_cap_mb); not used "
                                "without it");
    // Read for every strategy so that a misplaced one gets checkCompression's explanation, not "unknown key".
    st.localSteps = int(r.integer("local_steps", 1, 1, kMaxLocalSteps));
    readCompression(r.child("compression"), st.compression);
    readPrivacy(r.child("privacy"), st.privacy);
    readSecureAggregation(r.child("secure_aggregation"), st.secureAggregation);
}

/// "presentation": {"pace": 0.1, "tab": "Series", "panels": ["topology", "lesson"], "highlight": ["server"],
/// "series": "staleness"}.
void readPresentation(ObjectReader&& r, PresentationHints& h)
{
    h.given = true;
    static const std::vector<double> paces{0, 10, 1, 0.1, 0.01, 0.001}; // the workbench's presets
    h.pace = r.number("pace", h.pace, 0, 1000);
    if (std::find(paces.begin(), paces.end(), h.pace) == paces.end())
        r.fail("pace", "expected one of the workbench's paces: 0 (as fast as possible), 10, 1, 0.1, 0.01 or 0.001 "
                       "simulated seconds per second");
    h.tab = r.choice("tab", {"Hosts", "Host table", "Links", "Series", "Labels"}, h.tab);
    h.series = r.string("series", "");
    if (h.series.size() > 64)
        r.fail("series", "expected a series name of at most 64 characters, such as \"staleness\"");
    if (const QJsonValue hl = r.value("highlight"); !hl.isUndefined()) {
        const QJsonArray names = hl.toArray();
        if (!hl.isArray() || names.size() > 64)
            r.fail("highlight", "expected a list of at most 64 host or link names, such as [\"server\"], got " +
                                    detail::show(hl));
        else
            for (const QJsonValue& n : names) {
                if (!n.isString() || n.toString().isEmpty() || n.toString().size() > 200) {
                    r.fail("highlight", "expected host or link names (non-empty strings), got " + detail::show(n));
                    break;
                }
                h.highlight.push_back(n.toString().toStdString());
            }
    }
    const QJsonValue v = r.value("panels");
    if (v.isUndefined())
        return;
    static const std::set<std::string> known{"topology", "lesson", "timeline", "history"};
    h.panels.clear();
    for (const QJsonValue& p : v.toArray()) {
        const std::string name = p.toString().toStdString();
        if (!known.count(name)) {
            r.fail("panels", "expected a list of \"topology\", \"lesson\", \"timeline\" and \"history\", got " +
                                 detail::show(p));
            return;
        }
        h.panels.push_back(name);
    }
    if (!v.isArray())
        r.fail("panels", "expected a list such as [\"topology\", \"lesson\"], got " + detail::show(v));
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
    QJsonValue jobs(QJsonValue::Undefined); // a single job
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
        readFaults(root.child("faults"), s.sim.platform.faults);
        if (root.has("presentation"))
            readPresentation(root.child("presentation"), s.presentation);
        if (root.has("cost"))
            readCost(root.child("cost"), s.cost);
        if (root.has("jobs")) // read once the top level is (scenario_jobs.cpp)
            jobs = root.value("jobs");
    }
    s.sim.strategy.workers = s.sim.platform.workers;
    if (s.sim.strategy.kind == StrategyKind::HierFavg) {
        const bool edge = s.sim.platform.topology == sim::Topology::Edge;
        if (s.sim.strategy.edgeServers == 0)
            s.sim.strategy.edgeServers = edge ? s.sim.platform.edge.sites : 1;
        else if (edge && s.sim.strategy.edgeServers != s.sim.platform.edge.sites)
            issues.push_back({"strategy.edge_servers",
                              "expected " + std::to_string(s.sim.platform.edge.sites) +
                                  " (one per site of platform.edge.sites: each site's edge server aggregates its "
                                  "devices), got " + std::to_string(s.sim.strategy.edgeServers)});
    }
    // On multi-accelerator nodes the hierarchical all-reduce's node is the platform's, unless ranks_per_node says.
    if (s.sim.strategy.collective.mayUseHierarchical() && s.sim.strategy.collective.ranksPerNode == 1 && s.sim.platform.node.enabled()) {
        if (s.sim.platform.workers % s.sim.platform.node.gpus == 0)
            s.sim.strategy.collective.ranksPerNode = s.sim.platform.node.gpus;
        else
            issues.push_back({"platform.node.gpus",
                              "the hierarchical all-reduce needs whole nodes: " +
                                  std::to_string(s.sim.platform.workers) + " workers are not a multiple of " +
                                  std::to_string(s.sim.platform.node.gpus) +
                                  " accelerators per node (or set strategy.ranks_per_node)"});
    }
    if (s.sim.strategy.collective.algorithm == collectives::Algorithm::Auto) {
        // The network "auto" chooses for (README-collectives-draft.md): a star's route between two workers (link,
        // backbone, link); on a fat-tree, torus or dragonfly two links' latency (a lower bound: routes cross more);
        // an XML or edge platform has no single figure: strategy.auto_latency and auto_bandwidth are required.
        const sim::PlatformSpec& p = s.sim.platform;
        collectives::CostModel& cost = s.sim.strategy.collective.cost;
        const bool star = p.topology == sim::Topology::Star;
        const bool cluster = p.topology == sim::Topology::FatTree || p.topology == sim::Topology::Torus ||
                             p.topology == sim::Topology::Dragonfly;
        if (cost.alpha < 0 && (star || cluster))
            cost.alpha = star ? 2 * p.linkLatency + p.backboneLatency : 2 * p.linkLatency;
        if (cost.bandwidth < 0 && (star || cluster))
            cost.bandwidth = p.linkBandwidth;
        cost.flopRate = p.workerSpeed;
        const std::string topology = sim::toString(p.topology);
        if (cost.alpha < 0)
            issues.push_back({"strategy.auto_latency", "missing: collective \"auto\" on a " + topology +
                                                           " platform needs the latency between two workers (such "
                                                           "as \"10us\") to choose by the cost formulas"});
        if (cost.bandwidth < 0)
            issues.push_back({"strategy.auto_bandwidth", "missing: collective \"auto\" on a " + topology +
                                                             " platform needs the bandwidth between two workers "
                                                             "(such as \"100Gbps\") to choose by the cost formulas"});
    }
    if (issues.empty()) { // the cross-field rules of compression and local SGD, before anything runs
        try {
            checkCompression(s.sim.strategy, s.sim.training);
            checkPrivacy(s.sim.strategy, s.sim.training);
            checkSecureAggregation(s.sim.strategy, s.sim.training);
            checkRecovery(s.sim.strategy);
            checkCollective(s.sim.strategy);
            checkOverlap(s.sim.strategy);
        } catch (const ConfigError& e) {
            const std::string prefix = e.path() + ": ";
            const std::string what = e.what();
            issues.push_back({e.path(), what.rfind(prefix, 0) == 0 ? what.substr(prefix.size()) : what});
        }
    }
    if (!jobs.isUndefined()) {
        QJsonObject base = doc.object();
        base.remove("jobs");
        readJobs(jobs, QJsonDocument(base).toJson(QJsonDocument::Compact).toStdString(), s, issues);
    }
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

std::vector<std::string> checkAgainstData(const Scenario& s, const TrainTest& data)
{
    if (s.sim.training.proxy.parameters <= 0 && data.train.numFeatures() == 0)
        throw ScenarioError(s.file, {{"workload.dataset", "dataset \"none\" has no data: use it with a proxy "
                                                          "model ({\"type\": \"proxy\", ...})"}});
    try {
        MetricsSink none; // building the strategy checks every setting that depends on the data
        const auto strategy = makeStrategy(s.sim.strategy, s.sim.training, data, none);
        std::vector<std::string> roles;
        for (int r = 0; r < strategy->numRanks(); ++r)
            roles.push_back(strategy->roleOf(r));
        return roles;
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
    case StrategyKind::HierFavg: return "hierarchical federated averaging (HierFAVG)";
    case StrategyKind::FedBuff: return "buffered asynchronous federated learning (FedBuff)";
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
