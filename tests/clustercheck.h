// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Test oracle for issue 18: does SimGrid 3.32 itself build a fat-tree, torus or dragonfly of this shape and route
// between every pair of its hosts? Asked in a forked child (SimGrid segfaults or aborts on some shapes; the test
// runner must survive), with SimGrid's API directly, as simcore's buildCluster calls it, independently of dmlsim's
// own parameter checks.
#include "platform.h"

#include <simgrid/kernel/routing/NetPoint.hpp>
#include <simgrid/s4u/Engine.hpp>
#include <simgrid/s4u/Host.hpp>
#include <simgrid/s4u/Link.hpp>
#include <simgrid/s4u/NetZone.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

namespace dml::test {

/// "2;4,4;1,2;1,2" -> {{2}, {4, 4}, {1, 2}, {1, 2}} (no validation: the shapes given are well-formed).
inline std::vector<std::vector<unsigned>> shapeGroups(const std::string& text)
{
    std::vector<std::vector<unsigned>> out;
    std::stringstream all(text);
    std::string group, item;
    while (std::getline(all, group, ';')) {
        std::vector<unsigned> g;
        std::stringstream gs(group);
        while (std::getline(gs, item, ','))
            g.push_back(unsigned(std::strtoul(item.c_str(), nullptr, 10)));
        out.push_back(g);
    }
    return out;
}

/// Whether SimGrid builds the cluster `parameters` of topology `t` (1 Gf hosts, split-duplex 1 GB/s links) and
/// routes from every host to every other without a null link, in a forked child that exits 0 only then.
inline bool simgridBuildsAndRoutes(sim::Topology t, const std::string& parameters)
{
    namespace sg4 = simgrid::s4u;
    std::fflush(nullptr);
    const pid_t pid = fork();
    if (pid == 0) {
        const int null = open("/dev/null", O_WRONLY); // SimGrid's backtraces
        dup2(null, STDERR_FILENO);
        dup2(null, STDOUT_FILENO);
        // Die at once on a crash: not through Qt Test's handler (it starts a debugger for a stack trace), no core.
        for (int sig : {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL})
            signal(sig, SIG_DFL);
        const rlimit noCore{0, 0};
        setrlimit(RLIMIT_CORE, &noCore);
        try {
            int argc = 2;
            char arg0[] = "oracle", arg1[] = "--log=root.thresh:critical";
            char* argv[] = {arg0, arg1, nullptr};
            auto* engine = new sg4::Engine(&argc, argv);
            (void)engine;
            std::vector<sg4::Host*> hosts;
            auto leaf = [&](sg4::NetZone* zone, const std::vector<unsigned long>&, unsigned long id)
                -> std::pair<simgrid::kernel::routing::NetPoint*, simgrid::kernel::routing::NetPoint*> {
                sg4::Host* h = zone->create_host("node-" + std::to_string(id), 1e9)->seal();
                hosts.push_back(h);
                return {h->get_netpoint(), nullptr};
            };
            const sg4::ClusterCallbacks callbacks(leaf);
            const auto g = shapeGroups(parameters);
            const auto sharing = sg4::Link::SharingPolicy::SPLITDUPLEX;
            sg4::NetZone* zone = nullptr;
            if (t == sim::Topology::Dragonfly)
                zone = sg4::create_dragonfly_zone(
                    "c", nullptr, sg4::DragonflyParams({g[0][0], g[0][1]}, {g[1][0], g[1][1]}, {g[2][0], g[2][1]}, g[3][0]),
                    callbacks, 1e9, 1e-6, sharing);
            else if (t == sim::Topology::Torus)
                zone = sg4::create_torus_zone("c", nullptr, std::vector<unsigned long>(g[0].begin(), g[0].end()),
                                              callbacks, 1e9, 1e-6, sharing);
            else
                zone = sg4::create_fatTree_zone("c", nullptr, sg4::FatTreeParams(g[0][0], g[1], g[2], g[3]), callbacks,
                                                1e9, 1e-6, sharing);
            zone->seal();
            for (sg4::Host* a : hosts)
                for (sg4::Host* b : hosts) {
                    std::vector<sg4::Link*> links;
                    double latency = 0;
                    a->route_to(b, links, &latency);
                    for (const sg4::Link* l : links)
                        if (!l)
                            _exit(3);
                }
        } catch (...) {
            _exit(2);
        }
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

} // namespace dml::test
