// SPDX-License-Identifier: GPL-3.0-or-later
// The "platform" section of scenario files (README "Platforms").
#include "scenario_platform.h"

#include "error.h"
#include "jsonreader.h"
#include "xmlcheck.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QRegularExpression>
#include <QXmlStreamReader>

#include <algorithm>
#include <cmath>
#include <limits>
#include <cstdio>

namespace dml::app {
namespace detail {
namespace {

/// A unit string from a JSON value (not from a key): nullopt with an issue recorded at `path`.
std::optional<double> unitAt(const QJsonValue& v, UnitKind kind, bool positive, const std::string& path,
                             std::vector<ScenarioIssue>& issues)
{
    const auto x = v.isString() ? parseUnit(v.toString().toStdString(), kind) : std::nullopt;
    const auto [lo, hi] = unitLimits(kind);
    if (!x || !std::isfinite(*x) || *x < 0 || (positive && *x == 0) || (*x != 0 && (*x < lo || *x > hi))) {
        char range[96];
        std::snprintf(range, sizeof range, " between %g and %g in base units", lo, hi);
        issues.push_back({path, std::string("expected ") + unitExample(kind) + (positive ? " (greater than zero)" : "") +
                                    range + ", got " + show(v)});
        return std::nullopt;
    }
    return x;
}

/// A per-device quantity: one value ("100Gf"), a list (device i takes entry i mod length), or a seeded uniform
/// distribution {"min", "max"}. `single` receives the one value (or the list's first entry, the distribution's min).
void readPerDevice(ObjectReader& r, const std::string& key, UnitKind kind, const char* example, double& single,
                   std::vector<double>& list, double& min, double& max)
{
    const QJsonValue v = r.value(key);
    const std::string at = r.at(key);
    if (v.isUndefined() || v.isString()) {
        single = r.unit(key, kind, single, true);
    } else if (v.isArray()) {
        const QJsonArray a = v.toArray();
        if (a.isEmpty())
            r.fail(key, "expected at least one value in the list");
        if (a.size() > 10000000)
            r.fail(key, "at most 10,000,000 values");
        for (qsizetype i = 0; i < a.size() && i < 10000000; ++i)
            if (auto x = unitAt(a[i], kind, true, at + "[" + std::to_string(i) + "]", r.issues()))
                list.push_back(*x);
        if (!list.empty())
            single = list.front();
    } else if (v.isObject()) {
        ObjectReader d(v.toObject(), at, r.issues());
        const std::string dist = d.choice("distribution", {"uniform"}, "uniform");
        (void)dist;
        min = d.unit("min", kind, 0, true);
        max = d.unit("max", kind, 0, true);
        if (!d.has("min") || !d.has("max"))
            d.fail(d.has("min") ? "max" : "min", "missing; a distribution needs \"min\" and \"max\"");
        else if (max < min)
            d.fail("max", "expected max >= min");
        single = min;
    } else {
        r.fail(key, std::string("expected a value such as \"") + example + "\", a list of them, or {\"min\", \"max\"}; got " +
                        show(v));
    }
}

/// "worker_speed": "100Gf", ["10Gf", "40Gf"], or {"min": "10Gf", "max": "40Gf"} (seeded uniform).
void readWorkerSpeed(ObjectReader& r, sim::PlatformSpec& p)
{
    readPerDevice(r, "worker_speed", UnitKind::Speed, "100Gf", p.workerSpeed, p.speeds.list, p.speeds.min, p.speeds.max);
}

/// "device_bandwidth": "20Mbps", ["6Mbps", "54Mbps"], or {"min": "1Mbps", "max": "50Mbps"}; star and edge only.
void readDeviceBandwidth(ObjectReader& r, sim::PlatformSpec& p)
{
    if (!r.has("device_bandwidth"))
        return;
    if (p.topology != sim::Topology::Star && p.topology != sim::Topology::Edge) {
        r.fail("device_bandwidth", "only for the star and edge platforms (the devices' own links)");
        return;
    }
    double single = 0;
    sim::BandwidthSpec& b = p.deviceBandwidth;
    readPerDevice(r, "device_bandwidth", UnitKind::Bandwidth, "20Mbps", single, b.list, b.min, b.max);
    if (b.list.empty() && !(b.max > 0) && single > 0)
        b.list.push_back(single);
}

/// "node": {"gpus": 8, "interconnect": "nvlink3", "bandwidth": ..., "latency": ...} (sim::NodeSpec). The
/// interconnect presets give the per-direction bandwidth of one accelerator's links (NVIDIA's datasheets quote both
/// directions together: NVLink 2 on V100 300 GB/s, NVLink 3 on A100 600 GB/s, NVLink 4 on H100 900 GB/s; PCIe x16
/// 15.75, 31.5 and 63 GB/s each way for generations 3 to 5) and NCCL's per-hop latency of its LL protocol
/// (src/graph/tuning.cc, hwLat: NVLink 0.4 us, PCI 1 us); bandwidth and latency override them.
void readNode(ObjectReader&& r, sim::NodeSpec& n)
{
    struct Interconnect {
        const char* name;
        double bandwidth, latency;
    };
    static const Interconnect presets[] = {{"nvlink2", 1.5e11, 4e-7},   {"nvlink3", 3e11, 4e-7},
                                           {"nvlink4", 4.5e11, 4e-7},   {"pcie3", 1.575e10, 1e-6},
                                           {"pcie4", 3.15e10, 1e-6},    {"pcie5", 6.3e10, 1e-6}};
    n.gpus = int(r.integer("gpus", 0, 1, sim::kMaxGpusPerNode));
    if (!r.has("gpus"))
        r.fail("gpus", "missing; expected the accelerators per node (an integer from 1 to " +
                           std::to_string(sim::kMaxGpusPerNode) + ")");
    std::vector<std::string> names;
    for (const Interconnect& i : presets)
        names.push_back(i.name);
    const std::string chosen = r.choice("interconnect", names, "nvlink3");
    for (const Interconnect& i : presets)
        if (chosen == i.name) {
            n.bandwidth = i.bandwidth;
            n.latency = i.latency;
        }
    n.bandwidth = r.unit("bandwidth", UnitKind::Bandwidth, n.bandwidth, true);
    n.latency = r.unit("latency", UnitKind::Time, n.latency, false);
}

void readEdge(ObjectReader&& r, sim::EdgeSpec& e)
{
    e.sites = int(r.integer("sites", e.sites, 1, 10000));
    e.devicesPerSite = int(r.integer("devices_per_site", e.devicesPerSite, 1, 100000));
    e.access = r.choice("access", {"wifi", "cellular"}, "wifi") == "cellular" ? sim::EdgeSpec::Access::Cellular
                                                                                 : sim::EdgeSpec::Access::Wifi;
    const QJsonValue rates = r.value("wifi_rates");
    if (!rates.isUndefined()) {
        if (!rates.isArray() || rates.toArray().isEmpty()) {
            r.fail("wifi_rates", "expected a non-empty list of bandwidths such as [\"54Mbps\", \"24Mbps\"], got " +
                                     show(rates));
        } else {
            e.wifiRates.clear();
            const QJsonArray a = rates.toArray();
            for (qsizetype i = 0; i < a.size(); ++i)
                if (auto x = unitAt(a[i], UnitKind::Bandwidth, true, r.at("wifi_rates") + "[" + std::to_string(i) + "]",
                                    r.issues()))
                    e.wifiRates.push_back(*x);
        }
    }
    e.cellularBandwidth = r.unit("cellular_bandwidth", UnitKind::Bandwidth, e.cellularBandwidth, true);
    e.cellularLatency = r.unit("cellular_latency", UnitKind::Time, e.cellularLatency, false);
    e.lanBandwidth = r.unit("lan_bandwidth", UnitKind::Bandwidth, e.lanBandwidth, true);
    e.lanLatency = r.unit("lan_latency", UnitKind::Time, e.lanLatency, false);
    e.wanBandwidth = r.unit("wan_bandwidth", UnitKind::Bandwidth, e.wanBandwidth, true);
    e.wanLatency = r.unit("wan_latency", UnitKind::Time, e.wanLatency, false);
    e.edgeServerSpeed = r.unit("edge_server_speed", UnitKind::Speed, e.edgeServerSpeed, true);
    e.serverAt = r.choice("server_at", {"cloud", "edge"}, "cloud");
}

void readXml(ObjectReader&& r, sim::XmlSpec& x)
{
    x.file = r.string("file", "", true);
    ObjectReader roles = r.child("roles", true);
    // Every key of "roles" is a role; read them all (so none is reported as unknown).
    const QJsonObject all = r.value("roles").toObject();
    for (auto it = all.begin(); it != all.end(); ++it) {
        const std::string role = it.key().toStdString();
        const QJsonValue v = roles.value(role);
        std::vector<std::string> patterns;
        if (v.isString()) {
            patterns.push_back(v.toString().toStdString());
        } else if (v.isArray()) {
            for (const QJsonValue& p : v.toArray())
                if (p.isString())
                    patterns.push_back(p.toString().toStdString());
        }
        if (patterns.empty() || (v.isArray() && int(patterns.size()) != int(v.toArray().size())))
            roles.fail(role, "expected a host name pattern such as \"node-*\" or a list of them, got " + detail::show(v));
        if (role != "worker" && role != "server" && role != "client" && role != "edge-server")
            roles.fail(role, "unknown role; expected \"worker\", \"server\", \"client\" or \"edge-server\"");
        x.roles.emplace_back(role, std::move(patterns));
    }
}

void readStragglers(ObjectReader&& r, sim::StragglerSpec& s)
{
    s.fraction = r.number("fraction", 0.1, 0, 1);
    s.factor = r.number("factor", 4, 1, 1e6);
    s.start = r.unit("start", UnitKind::Time, 0, false);
    s.duration = r.unit("duration", UnitKind::Time, 0, false);
    s.period = r.unit("period", UnitKind::Time, 0, false);
    if (s.period > 0 && s.duration <= 0)
        r.fail("period", "a period needs a \"duration\" (how long each slow spell lasts)");
    if (s.period > 0 && s.start + s.duration > s.period)
        r.fail("period", "expected start + duration <= period");
}

void readProfiles(ObjectReader& parent, std::vector<sim::ProfileSpec>& out)
{
    const QJsonValue v = parent.value("profiles");
    if (v.isUndefined())
        return;
    if (!v.isArray()) {
        parent.fail("profiles", "expected a list of profiles, got " + detail::show(v));
        return;
    }
    const QJsonArray a = v.toArray();
    for (qsizetype i = 0; i < a.size(); ++i) {
        const std::string at = parent.at("profiles") + "[" + std::to_string(i) + "]";
        if (!a[i].isObject()) {
            parent.issues().push_back({at, "expected an object, got " + show(a[i])});
            continue;
        }
        ObjectReader r(a[i].toObject(), at, parent.issues());
        sim::ProfileSpec p;
        p.path = at;
        const bool hosts = r.has("hosts"), links = r.has("links");
        if (hosts == links) {
            r.fail("hosts", "expected exactly one of \"hosts\" (a speed profile) or \"links\" (a bandwidth profile)");
            continue;
        }
        p.target = hosts ? sim::ProfileSpec::Target::HostSpeed : sim::ProfileSpec::Target::LinkBandwidth;
        p.pattern = r.string(hosts ? "hosts" : "links", "", true);
        p.period = r.unit("period", UnitKind::Time, 0, false);
        const QJsonValue f = r.value("factors");
        if (!f.isArray() || f.toArray().isEmpty()) {
            r.fail("factors", "expected a list of [time, factor] pairs such as [[\"0s\", 1.0], [\"30s\", 0.25]], got " +
                                  show(f));
            continue;
        }
        double last = -1;
        const QJsonArray pts = f.toArray();
        for (qsizetype k = 0; k < pts.size(); ++k) {
            const std::string pat = r.at("factors") + "[" + std::to_string(k) + "]";
            const QJsonArray pair = pts[k].toArray();
            if (!pts[k].isArray() || pair.size() != 2 || !pair[1].isDouble() || !(pair[1].toDouble() > 0) ||
                pair[1].toDouble() > 1) {
                r.issues().push_back({pat, "expected [time, factor] with a factor in (0, 1], got " + show(pts[k])});
                continue;
            }
            const auto t = unitAt(pair[0], UnitKind::Time, false, pat + "[0]", r.issues());
            if (!t)
                continue;
            if (*t <= last)
                r.issues().push_back({pat, "times must increase"});
            if (p.period > 0 && *t >= p.period)
                r.issues().push_back({pat, "a time at or after the period never applies"});
            last = *t;
            p.points.emplace_back(*t, pair[1].toDouble());
        }
        out.push_back(std::move(p));
    }
}

void readAvailability(ObjectReader&& r, sim::AvailabilitySpec& a)
{
    const std::string model = r.choice("model", {"none", "random", "trace", "fedscale"}, "none");
    a.model = model == "random" ? sim::AvailabilitySpec::Model::Random
              : model == "trace" || model == "fedscale" ? sim::AvailabilitySpec::Model::Trace
                                                        : sim::AvailabilitySpec::Model::None;
    if (model == "fedscale") { // a FedScale client_behave_trace as JSON, read by preparePlatform()
        a.fedscale = true;
        a.traceFile = r.string("file", "", true);
        return;
    }
    if (a.model == sim::AvailabilitySpec::Model::Random) {
        a.meanUp = r.unit("mean_up", UnitKind::Time, a.meanUp, true);
        a.meanDown = r.unit("mean_down", UnitKind::Time, a.meanDown, true);
        const QJsonValue roles = r.value("roles");
        if (!roles.isUndefined()) {
            a.roles.clear();
            for (const QJsonValue& v : roles.toArray())
                a.roles.push_back(v.toString().toStdString());
            if (!roles.isArray() || a.roles.empty())
                r.fail("roles", "expected a list of roles such as [\"client\"], got " + show(roles));
        }
    } else if (a.model == sim::AvailabilitySpec::Model::Trace) {
        a.traceFile = r.string("trace", "", true); // read by preparePlatform()
    }
}

} // namespace

void readPlatform(ObjectReader&& r, sim::PlatformSpec& p)
{
    const std::string topology =
        r.choice("topology", {"star", "fat-tree", "torus", "dragonfly", "edge", "xml"}, "star");
    p.topology = topology == "fat-tree"    ? sim::Topology::FatTree
                 : topology == "torus"     ? sim::Topology::Torus
                 : topology == "dragonfly" ? sim::Topology::Dragonfly
                 : topology == "edge"      ? sim::Topology::Edge
                 : topology == "xml"       ? sim::Topology::Xml
                                           : sim::Topology::Star;
    p.workers = int(r.integer("workers", 0, 1, 100000));
    if (!r.has("workers"))
        r.fail("workers", "missing; expected the number of worker hosts (an integer >= 1)");
    readWorkerSpeed(r, p);
    p.serverSpeed = r.unit("server_speed", UnitKind::Speed, p.workerSpeed, true);
    p.linkBandwidth = r.unit("link_bandwidth", UnitKind::Bandwidth, p.linkBandwidth, true);
    p.linkLatency = r.unit("link_latency", UnitKind::Time, p.linkLatency, false);
    p.backboneBandwidth = r.unit("backbone_bandwidth", UnitKind::Bandwidth, p.backboneBandwidth, true);
    p.backboneLatency = r.unit("backbone_latency", UnitKind::Time, p.backboneLatency, false);
    const std::string model = r.choice("network_model", {"tcp", "ideal", "smpi"}, "tcp");
    p.network = model == "ideal" ? sim::NetworkModel::Ideal
                : model == "smpi" ? sim::NetworkModel::Smpi : sim::NetworkModel::Tcp;
    if (r.has("tcp_window")) {
        const QJsonValue w = r.value("tcp_window");
        if (w.isString() && w.toString() == "none")
            p.tcpWindow = 0;
        else
            p.tcpWindow = r.unit("tcp_window", UnitKind::Size, -1, true);
        if (p.network == sim::NetworkModel::Ideal)
            r.fail("tcp_window", "the ideal network model has no TCP window (it is exact alpha-beta)");
    }
    const bool cluster = p.topology == sim::Topology::FatTree || p.topology == sim::Topology::Torus ||
                         p.topology == sim::Topology::Dragonfly;
    if (cluster) {
        p.topologyParameters = r.string("topology_parameters", "", true);
        if (!p.topologyParameters.empty()) {
            try {
                sim::clusterHostCount(p.topology, p.topologyParameters);
            } catch (const ConfigError& e) {
                r.fail("topology_parameters", std::string(e.what()).substr(e.path().size() + 2));
            }
        }
    } else if (r.has("topology_parameters")) {
        r.fail("topology_parameters", "only for the fat-tree, torus and dragonfly topologies");
    }
    if (r.has("node")) {
        if (p.topology == sim::Topology::Edge || p.topology == sim::Topology::Xml)
            r.fail("node", "only for the star, fat-tree, torus and dragonfly topologies (an XML platform describes "
                           "its own nodes)");
        else
            readNode(r.child("node"), p.node);
    }
    if (p.topology == sim::Topology::Edge)
        readEdge(r.child("edge", true), p.edge);
    else if (r.has("edge"))
        r.fail("edge", "only for \"topology\": \"edge\"");
    if (p.topology == sim::Topology::Xml)
        readXml(r.child("xml", true), p.xml);
    else if (r.has("xml"))
        r.fail("xml", "only for \"topology\": \"xml\"");
    if (r.has("stragglers"))
        readStragglers(r.child("stragglers"), p.stragglers);
    readProfiles(r, p.profiles);
    readDeviceBandwidth(r, p);
    if (p.node.enabled() && !p.deviceBandwidth.empty())
        r.fail("device_bandwidth", "not with \"node\": the accelerators of a node share its network interface "
                                   "(link_bandwidth)");
    if (r.has("device_capacity")) {
        ObjectReader c = r.child("device_capacity");
        p.capacity.file = c.string("file", "", true); // read by preparePlatform()
        p.capacity.referenceFlops = c.unit("reference_flops", UnitKind::Flops, 0, false);
    }
    if (r.has("availability"))
        readAvailability(r.child("availability"), p.availability);
}

} // namespace detail

namespace {

std::string resolve(const Scenario& s, const std::string& file)
{
    if (file.empty() || QFileInfo(QString::fromStdString(file)).isAbsolute() || s.file.empty())
        return file;
    return QFileInfo(QString::fromStdString(s.file)).dir().filePath(QString::fromStdString(file)).toStdString();
}

[[noreturn]] void fail(const Scenario& s, const std::string& path, const std::string& message)
{
    throw ScenarioError(s.file, {{path, message}});
}

/// "0-3,5,8-9" -> 0 1 2 3 5 8 9; false if malformed.
bool expandRadical(const std::string& radical, std::vector<long>& out)
{
    std::size_t pos = 0;
    while (pos <= radical.size()) {
        const std::size_t comma = std::min(radical.find(',', pos), radical.size());
        const std::string item = radical.substr(pos, comma - pos);
        const std::size_t dash = item.find('-');
        char* end = nullptr;
        const long a = std::strtol(item.c_str(), &end, 10);
        long b = a;
        if (item.empty() || (dash == std::string::npos && *end != 0))
            return false;
        if (dash != std::string::npos) {
            const std::string hi = item.substr(dash + 1);
            b = std::strtol(hi.c_str(), &end, 10);
            // Compare without subtracting (issue 18: "9223372036854775806-9223372036854775807" overflowed).
            if (hi.empty() || *end != 0 || b < a || (unsigned long)b - (unsigned long)a > 1000000 ||
                b == std::numeric_limits<long>::max())
                return false;
        }
        for (long i = a; i <= b; ++i)
            out.push_back(i);
        pos = comma + 1;
    }
    return true;
}

} // namespace

std::vector<std::string> platformXmlHosts(const std::string& file)
{
    const std::string path = "platform.xml.file";
    QFile f(QString::fromStdString(file));
    if (!f.exists())
        throw ScenarioError("", {{path, file + ": file not found"}});
    if (!f.open(QIODevice::ReadOnly))
        throw ScenarioError("", {{path, file + ": cannot read: " + f.errorString().toStdString()}});
    QXmlStreamReader x(&f);
    std::vector<std::string> hosts;
    bool root = true;
    auto where = [&] {
        return file + ":" + std::to_string(x.lineNumber()) + ":" + std::to_string(x.columnNumber());
    };
    while (!x.atEnd()) {
        if (x.readNext() != QXmlStreamReader::StartElement)
            continue;
        const QString name = x.name().toString();
        const auto attrs = x.attributes();
        if (root) {
            root = false;
            if (name != "platform")
                throw ScenarioError("", {{path, where() + ": expected a SimGrid <platform> root element, got <" +
                                                    name.toStdString() + ">"}});
            const QString version = attrs.value("version").toString();
            if (version.isEmpty() || version.toDouble() < 4.1)
                throw ScenarioError("", {{path, where() + ": <platform version=\"" + version.toStdString() +
                                                    "\">: SimGrid 3.32 reads version 4.1 (run simgrid_update_xml)"}});
            continue;
        }
        if (name == "host") {
            const QString id = attrs.value("id").toString();
            if (id.isEmpty())
                throw ScenarioError("", {{path, where() + ": <host> without an id"}});
            hosts.push_back(id.toStdString());
        } else if (name == "cluster" || name == "cabinet") {
            std::vector<long> numbers;
            const std::string radical = attrs.value("radical").toString().toStdString();
            if (!expandRadical(radical, numbers))
                throw ScenarioError("", {{path, where() + ": <" + name.toStdString() + "> radical \"" + radical +
                                                    "\": expected ranges such as \"0-63\" or \"0-3,8\""}});
            // The shapes SimGrid 3.32 crashes or aborts on (a dragonfly with fewer routers per chassis than groups, a
            // torus with two dimensions of size 1) load without a complaint and crash later, on the first route:
            // the built-in topologies' rules apply to a <cluster>'s topology too.
            const QString topology = attrs.value("topology").toString().toUpper();
            if (name == "cluster" && (topology == "FAT_TREE" || topology == "TORUS" || topology == "DRAGONFLY")) {
                const std::string params = attrs.value("topo_parameters").toString().toStdString();
                try {
                    sim::clusterHostCount(topology == "FAT_TREE" ? sim::Topology::FatTree
                                          : topology == "TORUS"  ? sim::Topology::Torus
                                                                 : sim::Topology::Dragonfly,
                                          params);
                } catch (const ConfigError& e) {
                    throw ScenarioError("", {{path, where() + ": <cluster topology=\"" + topology.toStdString() +
                                                        "\" topo_parameters=\"" + params + "\">: " +
                                                        std::string(e.what()).substr(e.path().size() + 2)}});
                }
            }
            const std::string prefix = attrs.value("prefix").toString().toStdString();
            const std::string suffix = attrs.value("suffix").toString().toStdString();
            for (long i : numbers)
                hosts.push_back(prefix + std::to_string(i) + suffix);
        }
    }
    if (x.hasError())
        throw ScenarioError("", {{path, file + ":" + std::to_string(x.lineNumber()) + ":" +
                                            std::to_string(x.columnNumber()) +
                                            ": malformed XML: " + x.errorString().toStdString()}});
    if (root)
        throw ScenarioError("", {{path, file + ": empty document; expected a SimGrid <platform>"}});
    return hosts;
}

/// A FedScale trace file (a pickle converted to JSON: an object keyed by client id) as (id, entry) pairs in client-id
/// order (numeric ids numerically). `path` names the scenario field for errors.
std::vector<std::pair<std::string, QJsonObject>> readFedScaleTrace(const Scenario& s, const std::string& path,
                                                                  const std::string& file)
{
    QFile f(QString::fromStdString(file));
    if (!f.open(QIODevice::ReadOnly))
        fail(s, path, file + ": " + (f.exists() ? "cannot read: " + f.errorString().toStdString()
                                                : std::string("file not found")));
    constexpr qint64 kMaxBytes = 1LL << 30;
    if (f.size() > kMaxBytes)
        fail(s, path, file + ": " + std::to_string(f.size()) + " bytes; at most 1 GiB");
    QJsonParseError err{};
    const QJsonDocument doc = QJsonDocument::fromJson(f.readAll(), &err);
    if (err.error != QJsonParseError::NoError)
        fail(s, path, file + ": not JSON (" + err.errorString().toStdString() + " at offset " +
                          std::to_string(err.offset) + "); convert FedScale's pickle to JSON first (README, \"Device "
                          "traces\")");
    if (!doc.isObject() || doc.object().isEmpty())
        fail(s, path, file + ": expected an object keyed by client id, {\"1\": {...}, \"2\": {...}}");
    std::vector<std::pair<std::string, QJsonObject>> out;
    const QJsonObject o = doc.object();
    for (auto it = o.begin(); it != o.end(); ++it) {
        if (!it.value().isObject())
            fail(s, path, file + ": client \"" + it.key().toStdString() + "\": expected an object, got " +
                              detail::show(it.value()));
        out.emplace_back(it.key().toStdString(), it.value().toObject());
    }
    std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
        bool okA = false, okB = false;
        const double x = QString::fromStdString(a.first).toDouble(&okA), y = QString::fromStdString(b.first).toDouble(&okB);
        if (okA && okB)
            return x < y;
        return okA != okB ? okA : a.first < b.first;
    });
    return out;
}

/// A positive finite number at `key` of a trace entry, or a failure naming the file, the client and the key.
double traceNumber(const Scenario& s, const std::string& path, const std::string& file, const std::string& client,
                   const QJsonObject& entry, const char* key, bool positive)
{
    const QJsonValue v = entry.value(key);
    const double x = v.toDouble(-1);
    if (!v.isDouble() || !std::isfinite(x) || x < 0 || (positive && x == 0) || x > 1e15)
        fail(s, path, file + ": client \"" + client + "\": \"" + key + "\": expected a " +
                          (positive ? "positive" : "non-negative") + " number, got " + detail::show(v));
    return x;
}

/// The devices' host names in device order (the ranks that are neither servers nor edge servers).
std::vector<std::string> deviceHosts(const sim::PlatformSpec& p, const std::vector<std::string>& roles)
{
    std::vector<std::string> names;
    if (p.topology == sim::Topology::Xml) {
        try {
            names = sim::mapRolesToHosts(p.xml, roles, platformXmlHosts(p.xml.file));
        } catch (const std::exception&) {
            return {};
        }
    } else {
        names = sim::hostNames(roles);
    }
    std::vector<std::string> devices;
    for (std::size_t r = 0; r < roles.size() && r < names.size(); ++r)
        if (!sim::isAggregator(roles[r]))
            devices.push_back(names[r]);
    return devices;
}

/// FedScale's device-capacity trace: "computation" (inference latency, ms per sample) and "communication"
/// (bandwidth, kbit/s) per client; device i takes entry i mod n.
void readCapacityTrace(Scenario& s)
{
    sim::PlatformSpec& p = s.sim.platform;
    const std::string path = "platform.device_capacity.file";
    p.capacity.file = resolve(s, p.capacity.file);
    const auto entries = readFedScaleTrace(s, path, p.capacity.file);
    p.capacity.msPerSample.clear();
    std::vector<double> bandwidth;
    for (const auto& [id, e] : entries) {
        p.capacity.msPerSample.push_back(traceNumber(s, path, p.capacity.file, id, e, "computation", true));
        bandwidth.push_back(traceNumber(s, path, p.capacity.file, id, e, "communication", true) * 1000.0 / 8.0);
    }
    if (p.topology == sim::Topology::Star || p.topology == sim::Topology::Edge) {
        if (p.deviceBandwidth.empty())
            p.deviceBandwidth.list = std::move(bandwidth);
    }
}

/// FedScale's availability trace (client_behave_trace): client i is on during [active[k], inactive[k]] of every
/// period of finish_time seconds (FedScale's isActive), off otherwise; device i takes entry i mod n.
void readBehaviourTrace(Scenario& s, const std::vector<std::string>& roles)
{
    sim::PlatformSpec& p = s.sim.platform;
    sim::AvailabilitySpec& a = p.availability;
    const std::string path = "platform.availability.file";
    a.traceFile = resolve(s, a.traceFile);
    const auto entries = readFedScaleTrace(s, path, a.traceFile);
    const std::vector<std::string> devices = deviceHosts(p, roles);
    a.events.clear();
    a.periods.clear();
    int line = 0;
    for (std::size_t i = 0; i < devices.size(); ++i) {
        const auto& [id, e] = entries[i % entries.size()];
        const std::string at = a.traceFile + ": client \"" + id + "\"";
        const double period = traceNumber(s, path, a.traceFile, id, e, "finish_time", true);
        const QJsonArray on = e.value("active").toArray(), off = e.value("inactive").toArray();
        if (!e.value("active").isArray() || !e.value("inactive").isArray() || on.size() != off.size() || on.isEmpty())
            fail(s, path, at + ": expected \"active\" and \"inactive\", two lists of times of the same non-zero length");
        if (on.size() > 100000)
            fail(s, path, at + ": at most 100,000 intervals per client");
        double last = 0;
        if (on[0].toDouble(-1) > 0)
            a.events.push_back({devices[i], 0.0, false, ++line});
        for (qsizetype k = 0; k < on.size(); ++k) {
            const double t0 = on[k].toDouble(-1), t1 = off[k].toDouble(-1);
            if (!on[k].isDouble() || !off[k].isDouble() || !(t0 >= last) || !(t1 >= t0) || !(t1 <= period) ||
                !std::isfinite(t1))
                fail(s, path, at + ": interval " + std::to_string(k) + ": expected active <= inactive <= finish_time, " +
                                  "in increasing order; got [" + detail::show(on[k]) + ", " + detail::show(off[k]) + "]");
            a.events.push_back({devices[i], t0, true, ++line});
            a.events.push_back({devices[i], t1, false, ++line});
            last = t1;
        }
        a.periods.emplace_back(devices[i], period);
    }
    const std::vector<std::string>& tolerant = p.failureTolerantRoles;
    for (std::size_t r = 0; r < roles.size(); ++r)
        if (!sim::isAggregator(roles[r]) && std::count(tolerant.begin(), tolerant.end(), roles[r]) == 0)
            fail(s, path, "the trace turns devices off, and this strategy's " + roles[r] +
                              "s may not go off: use it with fedavg or hierfavg clients, async-ps workers, or "
                              "strategy.recovery \"elastic\"");
}

void preparePlatform(Scenario& s, const std::vector<std::string>& roles)
{
    sim::PlatformSpec& p = s.sim.platform;
    p.failureTolerantRoles = failureTolerantRoles(s.sim.strategy);
    try {
        sim::checkPlatform(p, roles);
        if (p.topology == sim::Topology::Xml) {
            p.xml.file = resolve(s, p.xml.file);
            std::vector<std::string> hosts;
            try {
                hosts = platformXmlHosts(p.xml.file);
            } catch (const ScenarioError& e) {
                fail(s, e.issues().front().path, e.issues().front().message);
            }
            // SimGrid's own parser, in a child process: what Qt's reader cannot see (units, duplicate names, routes
            // naming unknown links, <!DOCTYPE>, ...) and what SimGrid accepts but cannot simulate (a negative
            // bandwidth, a zero speed).
            if (const auto problem = sim::validatePlatformXml(p.xml.file))
                fail(s, "platform.xml.file", *problem);
            sim::mapRolesToHosts(p.xml, roles, hosts);
        }
    } catch (const ConfigError& e) {
        fail(s, e.path(), std::string(e.what()).substr(e.path().size() + 2));
    }
    if (!p.capacity.file.empty())
        readCapacityTrace(s);
    sim::AvailabilitySpec& a = p.availability;
    if (a.model == sim::AvailabilitySpec::Model::Trace && a.fedscale) {
        readBehaviourTrace(s, roles);
    } else if (a.model == sim::AvailabilitySpec::Model::Trace) {
        a.traceFile = resolve(s, a.traceFile);
        const std::string path = "platform.availability.trace";
        QFile f(QString::fromStdString(a.traceFile));
        if (!f.open(QIODevice::ReadOnly | QIODevice::Text))
            fail(s, path, a.traceFile + ": " + (f.exists() ? "cannot read: " + f.errorString().toStdString()
                                                           : std::string("file not found")));
        a.events.clear();
        int line = 0;
        while (!f.atEnd()) {
            ++line;
            const QString text = QString::fromUtf8(f.readLine()).trimmed();
            if (text.isEmpty() || text.startsWith('#'))
                continue;
            const QStringList parts = text.split(QRegularExpression("\\s+"));
            const std::string at = a.traceFile + ":" + std::to_string(line);
            if (parts.size() != 3)
                fail(s, path, at + ": expected \"HOST TIME on|off\", got \"" + text.toStdString() + "\"");
            sim::AvailabilityEvent ev;
            ev.host = parts[0].toStdString();
            ev.line = line;
            bool ok = false;
            ev.time = parts[1].toDouble(&ok);
            if (!ok) {
                const auto t = parseUnit(parts[1].toStdString(), UnitKind::Time);
                ok = t.has_value();
                ev.time = t.value_or(0);
            }
            if (!ok || ev.time < 0)
                fail(s, path, at + ": expected a time such as \"120s\" or 120 (seconds), got \"" +
                                  parts[1].toStdString() + "\"");
            const QString state = parts[2].toLower();
            if (state == "on" || state == "1")
                ev.on = true;
            else if (state == "off" || state == "0")
                ev.on = false;
            else
                fail(s, path, at + ": expected on or off (1 or 0), got \"" + parts[2].toStdString() + "\"");
            a.events.push_back(ev);
        }
        if (a.events.empty())
            fail(s, path, a.traceFile + ": no events");
        // Hosts that run a rank must run a rank of a failure-tolerant role (the others would stall their strategy).
        // Names that are no rank's (edge servers, idle devices, unknown names) are checked once the platform is built.
        std::vector<std::string> names;
        if (p.topology == sim::Topology::Xml) {
            try {
                names = sim::mapRolesToHosts(p.xml, roles, platformXmlHosts(p.xml.file));
            } catch (const ConfigError&) {
            }
        } else {
            names = sim::hostNames(roles);
        }
        for (const sim::AvailabilityEvent& ev : a.events) {
            const auto it = std::find(names.begin(), names.end(), ev.host);
            const std::string& role = it != names.end() ? roles[std::size_t(it - names.begin())] : ev.host;
            if (it != names.end() &&
                std::count(p.failureTolerantRoles.begin(), p.failureTolerantRoles.end(), role) == 0)
                fail(s, path, a.traceFile + ":" + std::to_string(ev.line) + ": host \"" + ev.host + "\" runs a " +
                                  role + "; only federated clients (they drop out of a round), asynchronous workers "
                                  "(they stop pushing) and, with strategy.recovery \"elastic\", sync-ps and "
                                  "ring-allreduce workers may go off");
        }
    }
}

} // namespace dml::app
