// SPDX-License-Identifier: GPL-3.0-or-later
// Seeded mutation test of the scenario parser and validator (a start on issue 18's fuzz target): every shipped
// scenario and lesson, mutated 2,400 times in total by a seeded generator (type swaps, extreme and non-finite
// numbers, bad units, deleted and unknown keys, and random compression, privacy, secure aggregation, local-SGD and
// recovery settings and all-reduce algorithms grafted onto the strategy, cluster shapes and multi-accelerator nodes
// onto the platform, a cost section of prices, a convolutional model onto the workload, a jobs array), must either parse or be
// refused with a ScenarioError whose every issue has a message,
// never with another exception or a crash; and every mutant that parses runs for 2 steps in a child process (ctest
// fuzz_runs). The same seed gives the same mutants, so a failure replays: the test prints the mutant's number and
// text.
#include "runstore.h"
#include "scenario.h"

#include "clustercheck.h"
#include "rng.h"
#include "testutil.h"

#include <QDir>
#include <QElapsedTimer>
#include <QProcess>
#include <QTemporaryDir>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTest>

#include <sys/resource.h>

#include <cmath>
#include <functional>
#include <memory>
#include <set>
#include <utility>

// AddressSanitizer reserves terabytes of address space for its shadow at start-up, so an ASan build cannot run under
// RLIMIT_AS (./setup.sh asan); there the child's 4 GB limit is ASan's own (see parsedMutantsRunTwoSteps).
#if defined(__SANITIZE_ADDRESS__)
#define DML_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DML_TEST_ASAN 1
#endif
#endif

using namespace dml;
using namespace dml::app;

namespace {

/// Every key path to a value in `v` ("" for the root), depth first.
void paths(const QJsonValue& v, const QStringList& at, std::vector<QStringList>& out)
{
    out.push_back(at);
    if (v.isObject()) {
        const QJsonObject o = v.toObject();
        for (auto it = o.begin(); it != o.end(); ++it)
            paths(it.value(), at + QStringList{it.key()}, out);
    } else if (v.isArray()) {
        const QJsonArray a = v.toArray();
        for (qsizetype i = 0; i < a.size(); ++i)
            paths(a[i], at + QStringList{QString("#%1").arg(i)}, out);
    }
}

/// `root` with the value at `path` replaced by f(old) (f returns Undefined to delete it).
QJsonValue edit(const QJsonValue& root, const QStringList& path, int depth,
                const std::function<QJsonValue(const QJsonValue&)>& f)
{
    if (depth == path.size())
        return f(root);
    const QString& k = path[depth];
    if (k.startsWith('#') && root.isArray()) {
        QJsonArray a = root.toArray();
        const int i = k.mid(1).toInt();
        const QJsonValue v = edit(a[i], path, depth + 1, f);
        if (v.isUndefined())
            a.removeAt(i);
        else
            a[i] = v;
        return a;
    }
    QJsonObject o = root.toObject();
    const QJsonValue v = edit(o.value(k), path, depth + 1, f);
    if (v.isUndefined())
        o.remove(k);
    else
        o[k] = v;
    return o;
}

QJsonValue randomScalar(Rng& rng)
{
    static const QJsonValue pool[] = {
        QJsonValue(QJsonValue::Null), true, false, 0, -1, 1, 2, 0.5, -0.5, 1e308, -1e308, 1e-320, 4.9e-324, 1e9,
        2147483648.0, 9007199254740993.0, -2147483649.0, 65536, 100000, 1e6, "", "x", "1e308Tf", "-5Gbps", "0s",
        "1e-300bps", "10Gbpz", "1e308h", "2ns", "nan", "inf", "-inf", "1,2;3", QString(QChar(0)) + "a",
        QString(300, 'a'), "fashion-mnist", "synthetic", "none", "topk", "qsgd", "powersgd", "sign", "dp-fedavg",
        "dp-sgd", "fedavg", "fedbuff", "ring-allreduce", "async-ps", "sync-ps", "momentum", "adam", "star", "edge", "xml",
        "dirichlet", "shards"};
    return pool[rng.below(std::size(pool))];
}

/// A random strategy.compression / strategy.privacy / local_steps / recovery graft: the fields of issues 11-13 with
/// values from the pool and from their legal ranges.
QJsonObject graft(Rng& rng, QJsonObject strategy)
{
    static const char* compressionKeys[] = {"type", "ratio", "bits", "bucket", "rank", "error_feedback",
                                            "momentum_correction", "unknown"};
    static const char* compressionTypes[] = {"none", "topk", "randomk", "qsgd", "sign", "fp16", "bf16", "powersgd"};
    static const char* privacyKeys[] = {"type", "clip", "noise_multiplier", "delta", "target_epsilon", "unknown"};
    static const char* privacyTypes[] = {"none", "dp-fedavg", "dp-sgd"};
    static const char* strategyTypes[] = {"sync-ps", "async-ps", "ring-allreduce", "fedavg", "hierfavg", "fedbuff"};
    auto legal = [&](const QString& key) -> QJsonValue {
        if (key == "ratio" || key == "delta")
            return rng.uniform();
        if (key == "bits")
            return int(rng.below(20));
        if (key == "bucket" || key == "rank")
            return int(rng.below(1024));
        if (key == "error_feedback" || key == "momentum_correction")
            return rng.below(2) == 1;
        return 10 * rng.uniform();
    };
    const int what = int(rng.below(4));
    if (what == 0 || what == 3) {
        QJsonObject c;
        c["type"] = compressionTypes[rng.below(std::size(compressionTypes))];
        for (int i = int(rng.below(4)); i > 0; --i) {
            const QString key = compressionKeys[rng.below(std::size(compressionKeys))];
            c[key] = rng.below(3) == 0 ? randomScalar(rng) : legal(key);
        }
        strategy["compression"] = c;
    }
    if (what == 1 || what == 3) {
        QJsonObject p;
        p["type"] = privacyTypes[rng.below(std::size(privacyTypes))];
        for (int i = int(rng.below(4)); i > 0; --i) {
            const QString key = privacyKeys[rng.below(std::size(privacyKeys))];
            p[key] = rng.below(3) == 0 ? randomScalar(rng) : legal(key);
        }
        strategy["privacy"] = p;
    }
    if (rng.below(4) == 0) { // issue 12's secure aggregation
        static const char* secAggKeys[] = {"enabled", "bits", "range", "threshold", "unknown"};
        QJsonObject a;
        a["enabled"] = rng.below(4) == 0 ? randomScalar(rng) : QJsonValue(rng.below(3) != 0);
        for (int i = int(rng.below(4)); i > 0; --i) {
            const std::size_t k = rng.below(std::size(secAggKeys));
            a[secAggKeys[k]] = rng.below(3) == 0 ? randomScalar(rng)
                               : k == 1          ? QJsonValue(12 + int(rng.below(24)))
                               : k == 3          ? QJsonValue(int(rng.below(80)))
                                                 : QJsonValue(2 * rng.uniform());
        }
        strategy["secure_aggregation"] = a;
    }
    if (what == 2 || rng.below(4) == 0)
        strategy["local_steps"] = rng.below(3) == 0 ? randomScalar(rng) : QJsonValue(int(rng.below(10)));
    if (rng.below(3) == 0)
        strategy["type"] = strategyTypes[rng.below(std::size(strategyTypes))];
    if (rng.below(4) == 0) { // issue 11's recovery, checkpoints and failure detection
        static const char* recoveries[] = {"none", "elastic", "checkpoint-restart"};
        strategy["recovery"] = rng.below(3) == 0 ? randomScalar(rng) : QJsonValue(recoveries[rng.below(3)]);
        static const char* checkpointKeys[] = {"every_steps", "every", "write_bandwidth", "read_bandwidth",
                                               "restart_delay", "max_restarts", "unknown"};
        static const char* legalCheckpoint[] = {"10", "5min", "1GBps", "2GBps", "30s", "3", "x"};
        if (rng.below(2) == 0) {
            QJsonObject c;
            for (int i = 1 + int(rng.below(4)); i > 0; --i) {
                const std::size_t k = rng.below(std::size(checkpointKeys));
                c[checkpointKeys[k]] = rng.below(3) == 0 ? randomScalar(rng)
                                       : k == 0 || k == 5 ? QJsonValue(int(rng.below(50)))
                                                          : QJsonValue(legalCheckpoint[k]);
            }
            strategy["checkpoint"] = c;
        }
    }
    if (rng.below(6) == 0) { // FedBuff's fields (issue 12, item 4), legal or pooled, on fedbuff or elsewhere
        if (rng.below(2))
            strategy["type"] = "fedbuff";
        static const char* keys[] = {"concurrency", "buffer_size", "server_learning_rate", "refill", "local_epochs",
                                     "rounds"};
        for (int i = 1 + int(rng.below(4)); i > 0; --i) {
            const std::size_t k = rng.below(std::size(keys));
            const QJsonValue legal = k == 3   ? QJsonValue(rng.below(2) ? "report" : "aggregation")
                                     : k == 2 ? QJsonValue(2 * rng.uniform())
                                              : QJsonValue(int(rng.below(20)));
            strategy[keys[k]] = rng.below(3) == 0 ? randomScalar(rng) : legal;
        }
    }
    if (rng.below(6) == 0)
        strategy["failure_detection"] = rng.below(2) ? randomScalar(rng) : QJsonValue("250ms");
    if (rng.below(8) == 0) { // issue 11: elastic ring all-reduce, with a legal or a pooled failure detection
        strategy["type"] = "ring-allreduce";
        strategy["recovery"] = "elastic";
        strategy["failure_detection"] =
            rng.below(2) ? randomScalar(rng) : QJsonValue(QString::number(1 + rng.below(900)) + "ms");
    }
    if (rng.below(6) == 0) { // issue 17: the all-reduce algorithm, its node size and auto's choice and network
        static const char* algorithms[] = {"ring", "halving-doubling", "recursive-doubling", "binomial-tree",
                                           "double-binary-tree", "hierarchical", "auto", "tree"};
        if (rng.below(2))
            strategy["type"] = "ring-allreduce";
        strategy["collective"] = rng.below(5) == 0 ? randomScalar(rng) : QJsonValue(algorithms[rng.below(8)]);
        if (rng.below(3) == 0)
            strategy["ranks_per_node"] = rng.below(3) == 0 ? randomScalar(rng) : QJsonValue(int(1 + rng.below(8)));
        if (rng.below(3) == 0) {
            QJsonArray among;
            for (int i = int(rng.below(4)); i > 0; --i)
                among.append(rng.below(6) == 0 ? randomScalar(rng) : QJsonValue(algorithms[rng.below(8)]));
            strategy["auto_among"] = rng.below(5) == 0 ? randomScalar(rng) : QJsonValue(among);
        }
        if (rng.below(4) == 0)
            strategy["auto_latency"] = rng.below(2) ? randomScalar(rng) : QJsonValue("10us");
        if (rng.below(4) == 0)
            strategy["auto_bandwidth"] = rng.below(2) ? randomScalar(rng) : QJsonValue("100Gbps");
    }
    if (rng.below(8) == 0) { // issue 12: hierarchical FL and its intervals
        strategy["type"] = "hierfavg";
        static const char* keys[] = {"edge_servers", "edge_interval", "cloud_interval", "rounds", "client_fraction"};
        for (int i = 1 + int(rng.below(3)); i > 0; --i)
            strategy[keys[rng.below(std::size(keys))]] =
                rng.below(3) == 0 ? randomScalar(rng) : QJsonValue(int(rng.below(5)));
    }
    if (rng.below(6) == 0) { // issue 17: overlap of the backward pass and its bucket size
        if (rng.below(2))
            strategy["type"] = rng.below(2) ? "ring-allreduce" : "sync-ps";
        strategy["overlap"] = rng.below(5) == 0 ? randomScalar(rng) : QJsonValue(rng.below(4) != 0);
        if (rng.below(2))
            strategy["bucket_cap_mb"] = rng.below(3) == 0 ? randomScalar(rng) : QJsonValue(double(rng.below(50)) / 2);
    }
    return strategy;
}

/// Issue 17: a proxy model given layer by layer: a preset or a list of layers, legal values mixed with the pool's.
QJsonObject proxyLayersGraft(Rng& rng)
{
    static const char* presets[] = {"resnet50", "bert-base", "bert-large", "resnet-50", ""};
    static const char* keys[] = {"name", "parameters", "forward_flops", "backward_flops", "unknown"};
    QJsonObject m{{"type", "proxy"}};
    if (rng.below(2)) {
        m["preset"] = rng.below(5) == 0 ? randomScalar(rng) : QJsonValue(presets[rng.below(std::size(presets))]);
        if (rng.below(6) == 0)
            m["parameters"] = randomScalar(rng);
        return m;
    }
    QJsonArray layers;
    for (int i = 1 + int(rng.below(5)); i > 0; --i) {
        QJsonObject l{{"parameters", int(rng.below(100000))}, {"forward_flops", "2Mf"}};
        for (int k = int(rng.below(3)); k > 0; --k)
            l[keys[rng.below(std::size(keys))]] = randomScalar(rng);
        layers.append(rng.below(10) == 0 ? randomScalar(rng) : QJsonValue(l));
    }
    m["layers"] = rng.below(8) == 0 ? randomScalar(rng) : QJsonValue(layers);
    if (rng.below(6) == 0)
        m["parameters"] = rng.below(2) ? randomScalar(rng) : QJsonValue(int(rng.below(100000)));
    return m;
}

/// Issue 17: multi-accelerator nodes (platform.node) of a random size, interconnect, bandwidth and latency, or a
/// pooled value.
QJsonValue nodeGraft(Rng& rng)
{
    if (rng.below(6) == 0)
        return randomScalar(rng);
    static const char* interconnects[] = {"nvlink2", "nvlink3", "nvlink4", "pcie3", "pcie4", "pcie5", "nvlink9"};
    QJsonObject node{{"gpus", rng.below(6) == 0 ? randomScalar(rng) : QJsonValue(int(1 + rng.below(9)))}};
    if (rng.below(2))
        node["interconnect"] = interconnects[rng.below(std::size(interconnects))];
    if (rng.below(4) == 0)
        node["bandwidth"] = rng.below(2) ? QJsonValue("900GBps") : randomScalar(rng);
    if (rng.below(4) == 0)
        node["latency"] = rng.below(2) ? QJsonValue("1us") : randomScalar(rng);
    return node;
}

/// Issue 18: a cluster topology of a random small shape (SimGrid 3.32 crashes on some), or a pooled value.
QJsonObject clusterGraft(Rng& rng, QJsonObject platform)
{
    static const char* topologies[] = {"dragonfly", "torus", "fat-tree"};
    const std::size_t t = rng.below(std::size(topologies));
    auto n = [&](int max) { // 1..max, sometimes 0
        return QString::number(rng.below(12) == 0 ? 0 : 1 + rng.below(std::uint64_t(max)));
    };
    QString shape;
    if (t == 0)
        shape = n(5) + "," + n(2) + ";" + n(3) + "," + n(2) + ";" + n(5) + "," + n(2) + ";" + n(3);
    else if (t == 1)
        for (int d = 1 + int(rng.below(3)); d > 0; --d)
            shape += (shape.isEmpty() ? "" : ",") + n(4);
    else
        shape = rng.below(2) ? "1;" + n(4) + ";" + n(2) + ";" + n(2)
                             : "2;" + n(3) + "," + n(3) + ";" + n(2) + "," + n(2) + ";" + n(2) + "," + n(2);
    platform["topology"] = topologies[t];
    platform["topology_parameters"] = rng.below(8) == 0 ? randomScalar(rng) : QJsonValue(shape);
    platform.remove("edge");
    platform.remove("xml");
    if (rng.below(3) == 0)
        platform["node"] = nodeGraft(rng);
    return platform;
}

/// Random per-device platform fields (issue 12): device_bandwidth as a value, list or distribution, a FedScale
/// capacity trace and a FedScale availability trace (the files do not exist: only parsing is fuzzed here).
QJsonObject platformGraft(Rng& rng, QJsonObject platform)
{
    const QJsonValue bandwidths[] = {"20Mbps", QJsonArray{"1Mbps", "54Mbps"}, QJsonObject{{"min", "1Mbps"}, {"max", "9Mbps"}},
                                     QJsonObject{{"min", "9Mbps"}, {"max", "1Mbps"}}, QJsonArray{}, "-3Mbps"};
    switch (rng.below(5)) {
    case 4: // issue 17: a star of multi-accelerator nodes, on accelerator presets
        platform["node"] = nodeGraft(rng);
        platform["worker_speed"] = rng.below(2) ? QJsonValue("a100-bf16") : QJsonValue("h100");
        break;
    case 3: platform = clusterGraft(rng, platform); break;
    case 0:
        platform["device_bandwidth"] = rng.below(4) == 0 ? randomScalar(rng) : bandwidths[rng.below(std::size(bandwidths))];
        break;
    case 1:
        platform["device_capacity"] =
            rng.below(3) == 0 ? randomScalar(rng)
                              : QJsonValue(QJsonObject{{"file", "capacity.json"},
                                                       {"reference_flops", rng.below(2) ? QJsonValue("1Gf") : randomScalar(rng)}});
        break;
    default:
        platform["availability"] = QJsonObject{{"model", "fedscale"}, {"file", rng.below(3) == 0 ? randomScalar(rng) : "behave.json"}};
    }
    return platform;
}

/// A random top-level "faults" section (issue 11): scheduled events and random failures, legal or not.
QJsonObject faultsGraft(Rng& rng)
{
    static const char* types[] = {"crash", "recover", "link-down", "link-up", "explode"};
    static const char* hosts[] = {"worker-*", "worker-1", "server", "client-?", "nohost", "*"};
    static const char* links[] = {"worker-0_link", "backbone", "*", "site-0-wan", "nolink"};
    static const char* roles[] = {"worker", "server", "client", "ghost"};
    QJsonObject f;
    QJsonArray events;
    for (int i = int(rng.below(4)); i > 0; --i) {
        QJsonObject e;
        const std::size_t t = rng.below(std::size(types));
        e["type"] = types[t];
        e["time"] = rng.below(4) == 0 ? randomScalar(rng) : QJsonValue(QString::number(rng.below(100)) + "ms");
        if (t == 2 || t == 3)
            e["link"] = rng.below(4) == 0 ? randomScalar(rng) : QJsonValue(links[rng.below(std::size(links))]);
        else if (rng.below(3) == 0) {
            e["role"] = roles[rng.below(std::size(roles))];
            if (rng.below(2))
                e["index"] = rng.below(3) == 0 ? randomScalar(rng) : QJsonValue(int(rng.below(10)));
        } else
            e["host"] = rng.below(4) == 0 ? randomScalar(rng) : QJsonValue(hosts[rng.below(std::size(hosts))]);
        events.append(e);
    }
    if (!events.isEmpty() || rng.below(2))
        f["events"] = rng.below(8) == 0 ? randomScalar(rng) : QJsonValue(events);
    if (rng.below(2)) {
        QJsonObject r;
        static const char* keys[] = {"roles", "mtbf", "mttr", "distribution", "shape", "unknown"};
        for (int i = 1 + int(rng.below(4)); i > 0; --i) {
            const std::size_t k = rng.below(std::size(keys));
            const QJsonValue legal = k == 0   ? QJsonValue(QJsonArray{roles[rng.below(std::size(roles))]})
                                     : k == 3 ? QJsonValue(rng.below(2) ? "weibull" : "exponential")
                                     : k == 4 ? QJsonValue(2 * rng.uniform())
                                              : QJsonValue(QString::number(rng.below(100)) + "s");
            r[keys[k]] = rng.below(3) == 0 ? randomScalar(rng) : legal;
        }
        f["random"] = r;
    }
    return f;
}

/// A random top-level "cost" section (issue 15): prices per host-hour by role and per GB by link glob, legal or not.
QJsonValue costGraft(Rng& rng)
{
    if (rng.below(8) == 0)
        return randomScalar(rng);
    static const char* roles[] = {"worker", "server", "client", "edge-server", "gpu"};
    static const char* globs[] = {"*-wan_UP", "backbone", "*", "", "site?-lan_*"};
    static const char* keys[] = {"currency", "host_hour", "per_gb", "unknown"};
    QJsonObject c;
    for (int i = 1 + int(rng.below(3)); i > 0; --i) {
        const std::size_t k = rng.below(std::size(keys));
        if (k == 1 || k == 2) {
            QJsonObject prices;
            for (int j = int(rng.below(3)); j >= 0; --j) {
                const QString key = k == 1 ? roles[rng.below(std::size(roles))] : globs[rng.below(std::size(globs))];
                prices[key] = rng.below(3) == 0 ? randomScalar(rng) : QJsonValue(10 * rng.uniform());
            }
            c[keys[k]] = rng.below(6) == 0 ? randomScalar(rng) : QJsonValue(prices);
        } else {
            c[keys[k]] = rng.below(2) ? randomScalar(rng) : QJsonValue("EUR");
        }
    }
    return c;
}

/// A random workload.model of type "cnn" (issue 17): the preset or a list of layers, with an input shape; legal
/// values (small, so that the mutants that parse run quickly) mixed with the pool's.
QJsonObject cnnGraft(Rng& rng)
{
    static const char* layerTypes[] = {"conv", "maxpool", "relu", "dense", "avgpool"};
    static const char* layerKeys[] = {"type", "filters", "kernel", "stride", "padding", "units", "unknown"};
    QJsonObject m{{"type", "cnn"}};
    if (rng.below(3) == 0)
        m["input"] = rng.below(3) == 0 ? randomScalar(rng)
                     : rng.below(2)    ? QJsonValue(QJsonArray{1, 28, 28})
                                       : QJsonValue(QJsonArray{int(rng.below(5)), 14, int(rng.below(30))});
    if (rng.below(4) == 0) {
        m["layers"] = rng.below(2) ? QJsonValue("lenet5") : randomScalar(rng);
        return m;
    }
    QJsonArray layers;
    for (int i = 1 + int(rng.below(6)); i > 0; --i) {
        QJsonObject l{{"type", layerTypes[rng.below(std::size(layerTypes))]}};
        for (int k = int(rng.below(4)); k > 0; --k) {
            const QString key = layerKeys[rng.below(std::size(layerKeys))];
            l[key] = rng.below(3) == 0 ? randomScalar(rng) : QJsonValue(int(rng.below(8)));
        }
        layers.append(rng.below(10) == 0 ? randomScalar(rng) : QJsonValue(l));
    }
    m["layers"] = layers;
    return m;
}

/// A random top-level "jobs" array (issue 17: several jobs on one platform): names (legal, duplicate, malformed),
/// start times, worker counts, strategy patches and unknown keys, or a pooled value. No "run" or dataset patches, so
/// that the runs of parsedMutantsRunTwoSteps stay at 2 steps on the synthetic data.
QJsonValue jobsGraft(Rng& rng)
{
    if (rng.below(8) == 0)
        return randomScalar(rng);
    static const char* names[] = {"a", "b", "a", "job.2", "bad name", ""};
    static const char* types[] = {"sync-ps", "ring-allreduce", "async-ps", "fedavg", "ring"};
    static const char* keys[] = {"start", "workers", "strategy", "unknown"};
    QJsonArray jobs;
    for (int i = 1 + int(rng.below(3)); i > 0; --i) {
        QJsonObject j{{"name", names[rng.below(std::size(names))]}};
        for (int k = int(rng.below(4)); k > 0; --k) {
            const std::size_t key = rng.below(std::size(keys));
            QJsonValue v = randomScalar(rng);
            if (key == 0 && rng.below(3))
                v = QString::number(rng.below(5)) + "s";
            else if (key == 1 && rng.below(3))
                v = int(1 + rng.below(4));
            else if (key == 2 && rng.below(4))
                v = QJsonObject{{"type", types[rng.below(std::size(types))]}};
            j[keys[key]] = v;
        }
        jobs.append(rng.below(10) == 0 ? randomScalar(rng) : QJsonValue(j));
    }
    return jobs;
}

QString mutate(const QJsonObject& seed, Rng& rng)
{
    QJsonValue doc = seed;
    const int edits = 1 + int(rng.below(3));
    for (int e = 0; e < edits; ++e) {
        std::vector<QStringList> all;
        paths(doc, {}, all);
        const QStringList& path = all[rng.below(all.size())];
        switch (rng.below(6)) {
        case 0: // delete
            if (!path.isEmpty())
                doc = edit(doc, path, 0, [](const QJsonValue&) { return QJsonValue(QJsonValue::Undefined); });
            break;
        case 1: // a value of another type, or an extreme one
        case 2: doc = edit(doc, path, 0, [&](const QJsonValue&) { return randomScalar(rng); }); break;
        case 3: // an unknown key beside it
            doc = edit(doc, path.mid(0, std::max<qsizetype>(0, path.size() - 1)), 0, [&](const QJsonValue& v) {
                if (!v.isObject())
                    return v;
                QJsonObject o = v.toObject();
                o["fuzz_key"] = randomScalar(rng);
                return QJsonValue(o);
            });
            break;
        case 4: // an array or an object where a scalar was
            doc = edit(doc, path, 0, [&](const QJsonValue& v) {
                return rng.below(2) ? QJsonValue(QJsonArray{v, randomScalar(rng)})
                                    : QJsonValue(QJsonObject{{"value", v}});
            });
            break;
        default: // the strategy fields of issues 11-13, a faults section, prices (issue 15), or jobs (issue 17)
            if (rng.below(7) == 0) {
                QJsonObject o = doc.toObject();
                o["jobs"] = jobsGraft(rng);
                doc = o;
                break;
            }
            if (rng.below(5) == 0) {
                QJsonObject o = doc.toObject();
                o["cost"] = costGraft(rng);
                doc = o;
                break;
            }
            if (rng.below(3) == 0) {
                QJsonObject o = doc.toObject();
                o["faults"] = faultsGraft(rng);
                doc = o;
                break;
            }
            if (rng.below(6) == 0) { // issue 17's convolutional model
                QJsonObject o = doc.toObject();
                QJsonObject w = o["workload"].toObject();
                w["model"] = rng.below(3) == 0 ? proxyLayersGraft(rng) : cnnGraft(rng);
                o["workload"] = w;
                doc = o;
                break;
            }
            if (rng.below(4) == 0) {
                QJsonObject o = doc.toObject();
                o["platform"] = platformGraft(rng, o["platform"].toObject());
                doc = o;
                break;
            }
            doc = edit(doc, {"strategy"}, 0, [&](const QJsonValue& v) { return QJsonValue(graft(rng, v.toObject())); });
        }
    }
    return QString::fromUtf8(QJsonDocument(doc.toObject()).toJson(QJsonDocument::Compact));
}

/// Every shipped scenario and lesson, the mutation seeds.
std::vector<QJsonObject> shippedSeeds()
{
    std::vector<QJsonObject> seeds;
    for (const QString& dir : {QString(DMLSIM_SOURCE_DIR "/scenarios"), QString(DMLSIM_SOURCE_DIR "/scenarios/lessons")})
        for (const QString& f : QDir(dir).entryList({"*.json"}, QDir::Files)) {
            QFile file(dir + "/" + f);
            if (!file.open(QIODevice::ReadOnly))
                qFatal("cannot read %s", qPrintable(f));
            const QJsonDocument d = QJsonDocument::fromJson(file.readAll());
            if (!d.isObject())
                qFatal("%s is not a JSON object", qPrintable(f));
            seeds.push_back(d.object());
        }
    return seeds;
}

} // namespace

class TestFuzz : public QObject {
    Q_OBJECT
private slots:
    void mutatedScenariosParseOrFailCleanly()
    {
        const std::vector<QJsonObject> seeds = shippedSeeds();
        QVERIFY(seeds.size() >= 10);
        constexpr int kMutants = 2400;
        Rng rng(0xF022);
        int parsed = 0, refused = 0;
        std::set<std::pair<sim::Topology, std::string>> clusters; // the cluster shapes the parser accepted
        for (int i = 0; i < kMutants; ++i) {
            const QString text = mutate(seeds[i % seeds.size()], rng);
            try {
                const Scenario sc = parseScenario(text.toStdString(), "mutant.json");
                ++parsed;
                const sim::PlatformSpec& p = sc.sim.platform;
                if (p.topology == sim::Topology::FatTree || p.topology == sim::Topology::Torus ||
                    p.topology == sim::Topology::Dragonfly)
                    clusters.emplace(p.topology, p.topologyParameters);
            } catch (const ScenarioError& e) {
                ++refused;
                QVERIFY2(!e.issues().empty(), qPrintable(QString("mutant %1: no issue\n%2").arg(i).arg(text)));
                for (const ScenarioIssue& issue : e.issues())
                    QVERIFY2(!issue.message.empty(),
                             qPrintable(QString("mutant %1: an issue without a message at %2\n%3")
                                            .arg(i).arg(QString::fromStdString(issue.path), text)));
            } catch (const std::exception& e) {
                QFAIL(qPrintable(QString("mutant %1: %2\n%3").arg(i).arg(e.what(), text)));
            }
        }
        // Issue 18: 600 more seeds on a random cluster shape (plus the usual mutations), parsed or refused.
        for (int i = 0; i < 600; ++i) {
            QJsonObject o = seeds[std::size_t(i) % seeds.size()];
            o["platform"] = clusterGraft(rng, o["platform"].toObject());
            const QString text = mutate(o, rng);
            try {
                const Scenario sc = parseScenario(text.toStdString(), "mutant.json");
                const sim::PlatformSpec& p = sc.sim.platform;
                if (p.topology == sim::Topology::FatTree || p.topology == sim::Topology::Torus ||
                    p.topology == sim::Topology::Dragonfly)
                    clusters.emplace(p.topology, p.topologyParameters);
            } catch (const ScenarioError& e) {
                QVERIFY2(!e.issues().empty() && !e.issues().front().message.empty(),
                         qPrintable(QString("cluster mutant %1: no message\n%2").arg(i).arg(text)));
            } catch (const std::exception& e) {
                QFAIL(qPrintable(QString("cluster mutant %1: %2\n%3").arg(i).arg(e.what(), text)));
            }
        }
        qInfo("%d mutants: %d parsed, %d refused with named issues", kMutants, parsed, refused);
        QVERIFY(parsed > kMutants / 20 && refused > kMutants / 2); // the generator reaches both outcomes
        // Issue 18: every cluster shape the parser accepts, SimGrid builds and routes (asked in a child process; the
        // shapes are small, and the large shipped ones are tested elsewhere).
        int built = 0;
        for (const auto& [topology, params] : clusters) {
            if (sim::clusterHostCount(topology, params) > 128)
                continue;
            ++built;
            QVERIFY2(test::simgridBuildsAndRoutes(topology, params),
                     qPrintable(QString("%1 \"%2\" parses, but SimGrid crashes on it")
                                    .arg(sim::toString(topology), QString::fromStdString(params))));
        }
        qInfo("%d accepted cluster shapes built and routed by SimGrid", built);
        QVERIFY(built >= 10);
    }

    /// Issue 18: every mutant of the 2,400 above that parses also runs, for 2 steps on a small synthetic dataset, in
    /// a `dmlsim run` child under a 4 GB address-space limit: it finishes (exit 0) or fails with a message on stderr
    /// (exit 1 or 2), never dies of a signal, never takes longer than 60 s (x DMLSIM_TEST_TIME_SCALE), and is never
    /// stored as finished with a non-finite simulated time.
    void parsedMutantsRunTwoSteps()
    {
        std::vector<QJsonObject> seeds = shippedSeeds();
        Rng rng(0xF022); // the same mutants as mutatedScenariosParseOrFailCleanly
        std::vector<QByteArray> runnable;
        for (int i = 0; i < 2400; ++i) {
            const QString text = mutate(seeds[std::size_t(i) % seeds.size()], rng);
            try {
                parseScenario(text.toStdString(), "mutant.json");
            } catch (const std::exception&) {
                continue;
            }
            QJsonObject o = QJsonDocument::fromJson(text.toUtf8()).object();
            QJsonObject run = o["run"].toObject();
            run["max_steps"] = 2;
            o["run"] = run;
            QJsonObject workload = o["workload"].toObject();
            if (workload["dataset"].toObject()["name"].toString() != "synthetic") // 3,000 images' worth, not 60,000
                workload["dataset"] = QJsonObject{{"name", "synthetic"}, {"classes", 10}, {"features", 784},
                                                  {"train_samples", 3000}, {"test_samples", 100}};
            o["workload"] = workload;
            runnable.push_back(QJsonDocument(o).toJson(QJsonDocument::Compact));
        }
        QVERIFY(runnable.size() >= 200);
        QTemporaryDir dir;
        const QString db = dir.filePath("mutants.sqlite");
        int finished = 0, refused = 0, failed = 0;
        double slowest = 0;
        int slowestIndex = -1;
        constexpr int kParallel = 2;
        std::vector<std::unique_ptr<QProcess>> procs(runnable.size());
        std::vector<QElapsedTimer> clocks(runnable.size());
        std::size_t next = 0, done = 0;
        std::vector<std::size_t> running;
        auto start = [&](std::size_t i) {
            const QString file = dir.filePath(QString("m%1.json").arg(i));
            QFile f(file);
            if (!f.open(QIODevice::WriteOnly) || f.write(runnable[i]) != runnable[i].size())
                qFatal("cannot write %s", qPrintable(file));
            f.close();
            procs[i] = std::make_unique<QProcess>();
#ifdef DML_TEST_ASAN
            // The same 4 GB through ASan's allocator: no single allocation above it, and allocations fail once the
            // resident size reaches it. malloc then returns null as under RLIMIT_AS, but ASan's operator new reports
            // out-of-memory and exits instead of throwing std::bad_alloc: such a mutant fails the test (no
            // "dmlsim run:" message), which is stricter than the plain build, not weaker.
            QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
            env.insert("ASAN_OPTIONS", env.value("ASAN_OPTIONS") + ":allocator_may_return_null=1"
                                                                   ":max_allocation_size_mb=4096:soft_rss_limit_mb=4096");
            procs[i]->setProcessEnvironment(env);
#else
            procs[i]->setChildProcessModifier([] {
                const rlimit limit{4ull << 30, 4ull << 30};
                ::setrlimit(RLIMIT_AS, &limit);
            });
#endif
            clocks[i].start();
            procs[i]->start(DMLSIM_EXE, {"run", file, "--db", db});
            running.push_back(i);
        };
        while (done < runnable.size()) {
            while (running.size() < kParallel && next < runnable.size())
                start(next++);
            for (auto it = running.begin(); it != running.end();) {
                QProcess& p = *procs[*it];
                const std::size_t i = *it;
                if (!p.waitForFinished(p.state() == QProcess::NotRunning ? 0 : 20) &&
                    clocks[i].elapsed() < 60000 * test::timeScale()) {
                    ++it;
                    continue;
                }
                const QString what = QString("mutant %1 (%2)\n%3").arg(i).arg(QString(p.readAllStandardError()).left(400),
                                                                           QString(runnable[i]));
                if (p.state() != QProcess::NotRunning) {
                    p.kill();
                    p.waitForFinished();
                    QFAIL(qPrintable(QString("hangs (over %1 s): ").arg(60 * test::timeScale()) + what));
                }
                QVERIFY2(p.exitStatus() == QProcess::NormalExit, qPrintable("crashes: " + what));
                const int code = p.exitCode();
                QVERIFY2(code == 0 || code == 1 || code == 2, qPrintable(QString("exit %1: ").arg(code) + what));
                if (code != 0)
                    QVERIFY2(what.contains("dmlsim run:"), qPrintable("fails without a message: " + what));
                (code == 0 ? finished : code == 2 ? refused : failed) += 1;
                const double seconds = double(clocks[i].elapsed()) / 1000.0;
                if (seconds > slowest) {
                    slowest = seconds;
                    slowestIndex = int(i);
                }
                procs[i].reset();
                it = running.erase(it);
                ++done;
            }
        }
        for (const RunRecord& r : RunStore(db.toStdString()).runs())
            if (r.status == "finished")
                QVERIFY2(std::isfinite(r.summary.simulatedTime), qPrintable(QString("run %1").arg(r.id)));
        qInfo("%zu parsed mutants ran 2 steps: %d finished, %d refused (exit 2), %d failed (exit 1); slowest %.1f s "
              "(mutant %d)", runnable.size(), finished, refused, failed, slowest, slowestIndex);
        QVERIFY(finished > int(runnable.size()) / 2);
    }
};

QTEST_GUILESS_MAIN(TestFuzz)
#include "tst_fuzz.moc"
