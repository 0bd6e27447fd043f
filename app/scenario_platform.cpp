// SPDX-License-Identifier: GPL-3.0-or-later
// The "platform" section of scenario files (README-platforms.md).
#include "scenario_platform.h"

#include "error.h"
#include "jsonreader.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
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

/// "worker_speed": "100Gf", ["10Gf", "40Gf"], or {"min": "10Gf", "max": "40Gf"} (seeded uniform).
void readWorkerSpeed(ObjectReader& r, sim::PlatformSpec& p)
{
    const QJsonValue v = r.value("worker_speed");
    const std::string at = r.at("worker_speed");
    if (v.isUndefined() || v.isString()) {
        p.workerSpeed = r.unit("worker_speed", UnitKind::Speed, p.workerSpeed, true);
    } else if (v.isArray()) {
        const QJsonArray a = v.toArray();
        if (a.isEmpty())
            r.fail("worker_speed", "expected at least one speed in the list");
        for (qsizetype i = 0; i < a.size(); ++i)
            if (auto x = unitAt(a[i], UnitKind::Speed, true, at + "[" + std::to_string(i) + "]", r.issues()))
                p.speeds.list.push_back(*x);
        if (!p.speeds.list.empty())
            p.workerSpeed = p.speeds.list.front();
    } else if (v.isObject()) {
        ObjectReader d(v.toObject(), at, r.issues());
        const std::string dist = d.choice("distribution", {"uniform"}, "uniform");
        (void)dist;
        p.speeds.min = d.unit("min", UnitKind::Speed, 0, true);
        p.speeds.max = d.unit("max", UnitKind::Speed, 0, true);
        if (!d.has("min") || !d.has("max"))
            d.fail(d.has("min") ? "max" : "min", "missing; a speed distribution needs \"min\" and \"max\"");
        else if (p.speeds.max < p.speeds.min)
            d.fail("max", "expected max >= min");
        p.workerSpeed = p.speeds.min;
    } else {
        r.fail("worker_speed", "expected a speed such as \"100Gf\", a list of speeds, or {\"min\", \"max\"}; got " +
                                   show(v));
    }
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
            roles.fail(role, "expected a host name pattern such as \"node-*\" or a list of them, got " + show(v));
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
        parent.fail("profiles", "expected a list of profiles, got " + show(v));
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
    const std::string model = r.choice("model", {"none", "random", "trace"}, "none");
    a.model = model == "random" ? sim::AvailabilitySpec::Model::Random
              : model == "trace" ? sim::AvailabilitySpec::Model::Trace : sim::AvailabilitySpec::Model::None;
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
            sim::mapRolesToHosts(p.xml, roles, hosts);
        }
    } catch (const ConfigError& e) {
        fail(s, e.path(), std::string(e.what()).substr(e.path().size() + 2));
    }
    sim::AvailabilitySpec& a = p.availability;
    if (a.model == sim::AvailabilitySpec::Model::Trace) {
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
