// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// What the simulated platform is: a cluster topology (star, fat-tree, torus, dragonfly), an edge network (devices
// on Wi-Fi or cellular links, edge servers, a WAN to the cloud) or a SimGrid platform XML file, with host speeds,
// stragglers, speed/bandwidth profiles and availability. No SimGrid types here (README "Platforms" has the
// scenario fields that fill this in).
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace dml::sim {

/// How SimGrid times messages.
enum class NetworkModel {
    Ideal, ///< exact alpha-beta: CM02 without cross-traffic and without the TCP window cap (time = latency + S/B)
    Tcp,   ///< SimGrid's default LV08, validated against real TCP: S/(0.97 B) + 13.01 latency, with cross-traffic
    Smpi,  ///< SimGrid's SMPI model (piecewise-linear factors measured on MPI), as smpirun times messages
};

enum class Topology {
    Star,      ///< private full-duplex link per host to one shared backbone (SimGrid StarZone)
    FatTree,   ///< SimGrid FatTreeZone, parameters "levels;down;up;count" (e.g. "2;32,32;1,32;1,1")
    Torus,     ///< SimGrid TorusZone, parameters "d1,d2,..." (e.g. "16,8,8")
    Dragonfly, ///< SimGrid DragonflyZone, parameters "groups,links;chassis,links;routers,links;nodes"
    Edge,      ///< devices -> edge server per site -> WAN -> cloud (EdgeSpec)
    Xml,       ///< a SimGrid platform XML file (XmlSpec)
};

/// Per-host compute speed of the worker (or client, device) hosts, flops/s. Precedence: list, then a seeded
/// uniform distribution in [min, max] (when max > 0), then PlatformSpec::workerSpeed.
struct SpeedSpec {
    std::vector<double> list; ///< speed of worker i = list[i % size]
    double min = 0, max = 0;  ///< max > 0: uniform in [min, max], drawn per host from deriveSeed(seed, 0x5BEED, i)
};

/// Per-device access bandwidth of the worker/client hosts (the i-th rank that is not a server or an edge server is
/// device i), bytes/s: on the star each one's private link, on the edge network each device's Wi-Fi station rate
/// or cellular link. Precedence: list (bandwidth of device i = list[i % size]; a FedScale capacity trace fills it),
/// then a seeded uniform distribution in [min, max] (when max > 0, drawn from deriveSeed(seed, 0xBA4D, i)); when
/// both are empty, the topology's own setting.
struct BandwidthSpec {
    std::vector<double> list;
    double min = 0, max = 0;
    bool empty() const { return list.empty() && !(max > 0); }
};

/// Device compute capacity from a FedScale device-capacity trace (`client_device_capacity`, as JSON): device i takes
/// entry i mod n in the trace's client-id order. FedScale's "computation" is a device's inference latency per sample
/// in ms, and FedScale charges 3x that per training sample; so device i's speed is referenceFlops x 1000 /
/// msPerSample[i % n] flops/s, where referenceFlops is one inference of the trace's model (default: a third of the
/// scenario model's training flops per sample, i.e. the trace taken as measured on this model, which reproduces
/// FedScale's 3 x latency x samples exactly). Overrides the worker speed settings.
struct DeviceCapacity {
    std::string file;                 ///< for errors
    std::vector<double> msPerSample;  ///< > 0 each
    double referenceFlops = 0;        ///< flops of one inference of the trace's model; 0 = from the workload
    bool empty() const { return msPerSample.empty(); }
};

/// Stragglers: a seeded `fraction` of the worker/client hosts runs `factor` times slower, for the whole run
/// (duration == 0) or from `start` for `duration` seconds, repeated every `period` seconds (period > 0).
struct StragglerSpec {
    double fraction = 0;  ///< in [0, 1]; count = round(fraction x hosts), chosen by deriveSeed(seed, 0x57A6)
    double factor = 1;    ///< >= 1: slowdown
    double start = 0;     ///< s
    double duration = 0;  ///< s; 0 = always slow
    double period = 0;    ///< s; 0 = one slow period only
};

/// A piecewise-constant profile over time applied to the hosts or links whose names match `pattern`.
struct ProfileSpec {
    enum class Target { HostSpeed, LinkBandwidth };
    Target target = Target::HostSpeed;
    std::string pattern;                          ///< glob: '*' any run, '?' one character
    std::vector<std::pair<double, double>> points; ///< (time s, factor of the nominal speed/bandwidth in (0, 1])
    double period = 0;                            ///< s; > 0 repeats the profile with this period
    std::string path;                             ///< JSON path, for errors ("platform.profiles[0]")
};

/// One scripted availability change (from a trace file).
struct AvailabilityEvent {
    std::string host;
    double time = 0; ///< s
    bool on = true;
    int line = 0;    ///< line in the trace file, for errors
};

/// Hosts (devices) going off and on. A host that goes off kills whatever runs on it; its messages in flight fail.
struct AvailabilitySpec {
    enum class Model { None, Random, Trace };
    Model model = Model::None;
    double meanUp = 600;   ///< Random: mean time on, s (exponential)
    double meanDown = 60;  ///< Random: mean time off, s (exponential)
    std::vector<std::string> roles{"client", "worker"}; ///< Random: which rank roles churn
    std::string traceFile;                 ///< Trace: where the events came from (for errors)
    bool fedscale = false;                 ///< Trace: traceFile is a FedScale client_behave_trace (as JSON)
    std::vector<AvailabilityEvent> events; ///< Trace (also what a FedScale behaviour trace becomes)
    /// Trace: host -> period, s: that host's events repeat every period (a FedScale behaviour trace's finish_time)
    std::vector<std::pair<std::string, double>> periods;
};

/// One scheduled fault (scenario "faults.events"): at `time`, a host crashes or recovers, or a link goes down or
/// comes back up. A host is named by `host` (a glob over the platform's host names) or by `role` (every rank of
/// that role, or with `index` >= 0 that role's index-th rank); a link by `link` (a glob over link names; a
/// full-duplex link's two directions, NAME_UP and NAME_DOWN, both match NAME).
struct FaultEvent {
    enum class Type { Crash, Recover, LinkDown, LinkUp };
    Type type = Type::Crash;
    double time = 0;   ///< s
    std::string host;  ///< glob; or
    std::string role;  ///< with index
    int index = -1;
    std::string link;  ///< glob (LinkDown, LinkUp)
    std::string path;  ///< JSON path, for errors ("faults.events[0]")
};

/// Random crash failures (scenario "faults.random"): each host of a rank with one of `roles` alternates between
/// up for a time to failure (exponential with mean `mtbf`, or Weibull with that mean and `shape` k: scale
/// mtbf / Gamma(1 + 1/k)) and down for an exponential time to repair (mean `mttr`), seeded per rank. Up to the
/// run's time limit, or 1e5 s without one.
struct RandomFaults {
    bool enabled = false;
    std::vector<std::string> roles{"worker"};
    enum class Distribution { Exponential, Weibull };
    Distribution distribution = Distribution::Exponential;
    double mtbf = 3600; ///< s
    double shape = 1;   ///< Weibull k (> 0); 1 = exponential
    double mttr = 600;  ///< s
};

/// Failures of hosts and links (scenario "faults", README "Failures").
struct FaultSpec {
    std::vector<FaultEvent> events;
    RandomFaults random;
    bool empty() const { return events.empty() && !random.enabled; }
};

/// An edge network: `sites` sites, each with `devicesPerSite` devices behind Wi-Fi (one access point, SimGrid's
/// wifi model, time-shared) or cellular (one private low-bandwidth high-latency link per device), an edge server
/// joined to the access point by a LAN link, and a WAN link from the edge server to the cloud. Workers/clients
/// are placed on the devices round-robin over the sites (rank i on site i % sites); the server on the cloud host
/// (serverAt == "cloud") or on site 0's edge server ("edge").
struct EdgeSpec {
    int sites = 1;
    int devicesPerSite = 1;
    enum class Access { Wifi, Cellular };
    Access access = Access::Wifi;
    std::vector<double> wifiRates{6.75e6, 3e6}; ///< bytes/s, one per rate level; device i uses level i % size
    double cellularBandwidth = 2.5e6;            ///< bytes/s (20 Mbps)
    double cellularLatency = 0.05;               ///< s
    double lanBandwidth = 1.25e8;                ///< access point to edge server, bytes/s (1 Gbps)
    double lanLatency = 5e-4;                    ///< s
    double wanBandwidth = 1.25e8;                ///< edge server to cloud, bytes/s
    double wanLatency = 0.02;                    ///< s
    double edgeServerSpeed = 1e12;               ///< flops/s
    std::string serverAt = "cloud";              ///< "cloud" or "edge"
};

/// A SimGrid platform XML file, and which of its hosts each role runs on.
struct XmlSpec {
    std::string file; ///< absolute, or relative to the working directory (the scenario reader resolves it)
    /// role ("worker", "server", "client") -> host name patterns (globs); the hosts that match a role's patterns,
    /// in natural name order ("node-2" before "node-10"), take that role's ranks in rank order.
    std::vector<std::pair<std::string, std::vector<std::string>>> roles;
};

/// The most accelerators per node that NodeSpec accepts.
inline constexpr int kMaxGpusPerNode = 1024;

/// Multi-accelerator nodes (scenario "platform.node", issue 17): the workers (every rank that is not an
/// aggregator) fill nodes of `gpus` hosts in rank order, device d on node d / gpus, the last node possibly not full.
/// Inside a node each accelerator has a full-duplex link of `bandwidth` and `latency` to the node's switch
/// (NVSwitch-like: any two accelerators of a node talk at full rate at once); the node reaches the rest of the
/// platform through one network interface, which is the topology's host link: on a star, a full-duplex link of
/// link_bandwidth and link_latency to the backbone; on a fat-tree, torus or dragonfly, the leaf's links, each node
/// taking one leaf. Aggregators (a parameter server) keep a host of their own, as without nodes. gpus == 1: no
/// node level, the platform of earlier versions bit for bit.
///
/// The intra-node defaults are NVLink 3 (A100): 600 GB/s per GPU in both directions together, so 300 GB/s
/// (2.4 Tbps) each way (NVIDIA A100 datasheet), and 0.4 us, NCCL's per-hop NVLink latency for its LL protocol
/// (src/graph/tuning.cc, hwLat).
struct NodeSpec {
    int gpus = 1;
    double bandwidth = 3e11; ///< bytes/s per direction, each accelerator's link to its node's switch
    double latency = 4e-7;   ///< s
    bool enabled() const { return gpus > 1; }
};

/// The platform of one simulation. Units: speed in flops/s, bandwidth in bytes/s, latency in seconds.
struct PlatformSpec {
    Topology topology = Topology::Star;
    int workers = 1;
    double workerSpeed = 1e11; ///< workers' speed when `speeds` gives no list or distribution
    SpeedSpec speeds;          ///< a list or a distribution overrides workerSpeed
    DeviceCapacity capacity;   ///< a FedScale capacity trace overrides both
    BandwidthSpec deviceBandwidth; ///< per-device access bandwidth (star, edge); empty: the topology's setting
    double serverSpeed = 1e11;
    double linkBandwidth = 1.25e9;   ///< star: each host's link; fat-tree/torus/dragonfly: every link
    double linkLatency = 5e-5;
    double backboneBandwidth = 1.25e10;
    double backboneLatency = 1e-6;
    std::string topologyParameters;  ///< fat-tree, torus, dragonfly: SimGrid's topo_parameters syntax
    EdgeSpec edge;
    XmlSpec xml;
    NodeSpec node;                   ///< star, fat-tree, torus, dragonfly: accelerators per node (NodeSpec)
    NetworkModel network = NetworkModel::Tcp;
    double tcpWindow = -1;           ///< TCP-gamma, bytes; -1 = SimGrid's default 4 MiB (tcp/smpi); 0 = no cap
    StragglerSpec stragglers;
    std::vector<ProfileSpec> profiles;
    AvailabilitySpec availability;
    FaultSpec faults;
    std::uint64_t seed = 1;          ///< seeds speeds, stragglers, availability (simulate() copies the run's seed)
    /// Rank roles whose hosts may go off (availability, faults): the strategy's (failureTolerantRoles in strategy.h:
    /// fedavg's clients drop out of rounds, async-ps's workers stop pushing). Set by simulate() and the CLI from
    /// the strategy, not by scenarios.
    std::vector<std::string> failureTolerantRoles{"client"};
    /// Fat-tree, torus, dragonfly: the leaf (host index, 0-based, in SimGrid's leaf order) of each rank; empty: rank r
    /// on leaf r. Several jobs on one platform place each job's ranks on its `hosts` (scenario "jobs[i].hosts"). Every
    /// entry must be distinct and below the topology's host count (checkPlatform); not with `node`.
    std::vector<int> rankLeaf;
};

/// Whether ranks of `role` aggregate rather than train: the "server" and HierFAVG's "edge-server"s. They get the
/// server speed (edge servers the edge platform's), are never stragglers, and run on no device; every other rank
/// is a device, numbered in rank order (the index of worker_speed lists, device_bandwidth and FedScale traces).
bool isAggregator(const std::string& role);

/// Access bandwidth of device i (see BandwidthSpec), or `fallback` when p.deviceBandwidth is empty. Bytes/s.
double deviceBandwidth(const PlatformSpec& p, int device, double fallback);

const char* toString(NetworkModel m);
const char* toString(Topology t);

/// Hosts of a fat-tree / torus / dragonfly with these SimGrid topo_parameters. Throws ConfigError with path
/// "platform.topology_parameters" naming what is wrong (syntax, zero sizes, a fat-tree whose counts do not match).
int clusterHostCount(Topology t, const std::string& parameters);

/// Checks that the platform can hold ranks with these roles (enough hosts on the topology or devices on the edge
/// network, availability only for p.failureTolerantRoles, ...). Does not build anything. Throws ConfigError with the JSON
/// path of the offending field.
void checkPlatform(const PlatformSpec& p, const std::vector<std::string>& roles);

/// The host of every rank of an XML platform: each role's hosts are those of `hostNames` that match one of the
/// role's patterns in `xml.roles`, in natural order, skipping hosts already taken; ranks take them in rank order.
/// Throws ConfigError ("platform.xml.roles.ROLE") when a role has no patterns or too few matching hosts.
std::vector<std::string> mapRolesToHosts(const XmlSpec& xml, const std::vector<std::string>& roles,
                                         const std::vector<std::string>& hostNames);

/// Whether `name` matches the glob `pattern` ('*' any run of characters, '?' one character).
bool globMatch(const std::string& pattern, const std::string& name);

/// Whether a host or link of the platform `p` may go off during a run (availability, faults, or a SimGrid XML whose
/// hosts may carry state profiles of their own): Transport::peersCanFail. Decided from the spec alone, before the
/// platform is built (Strategy::prepare), so it errs on the safe side (an availability model may give no event).
bool peersCanFail(const PlatformSpec& p);

/// The platform as a graph, for `dmlsim platform` and the workbench's topology view. Nodes are hosts
/// and links (a link joins the nodes before and after it on routes); a full-duplex link is one node.
struct PlatformGraph {
    struct Node {
        std::string id;
        std::string kind;      ///< "host" or "link"
        std::string role;      ///< hosts: "worker", "server", "client", or "" for hosts no rank runs on
        double speed = 0;      ///< hosts: flops/s
        double bandwidth = 0;  ///< links: bytes/s
        double latency = 0;    ///< links: s
        std::string sharing;   ///< links: "shared", "full-duplex", "fatpipe", "wifi"
    };
    struct Edge {
        std::string source, target;
    };
    struct Route {
        std::string from, to;
        std::vector<std::string> links; ///< in order
        double latency = 0;             ///< sum of the links' latencies, s
        double bandwidth = 0;           ///< the narrowest link's bandwidth, bytes/s
    };
    std::vector<Node> nodes;
    std::vector<Edge> edges;
    std::vector<Route> sampleRoutes;
};

} // namespace dml::sim
