// SPDX-License-Identifier: GPL-3.0-or-later
// Host and link failures of the scenario's "faults" section (issue 11, README "Failures"): scheduled events and
// random failures become SimGrid state profiles, the way availability traces do.
#include "platform_impl.h"

#include "error.h"
#include "rng.h"

#include <simgrid/s4u/Engine.hpp>

#include <algorithm>
#include <cmath>

namespace sg4 = simgrid::s4u;

namespace dml::sim {

std::vector<int> ranksCutOff(const std::vector<sg4::Host*>& rankHosts, const std::vector<std::string>& roles,
                             const sg4::Link* link)
{
    const std::size_t n = rankHosts.size();
    std::size_t server = n;
    for (std::size_t r = 0; r < n; ++r)
        if (roles[r] == "server")
            server = r;
    auto crosses = [&](std::size_t a, std::size_t b) {
        if (rankHosts[a] == rankHosts[b])
            return false;
        std::vector<sg4::Link*> route;
        double latency = 0;
        rankHosts[a]->route_to(rankHosts[b], route, &latency);
        return std::find(route.begin(), route.end(), link) != route.end();
    };
    auto crossesToAll = [&](std::size_t r) {
        bool any = false;
        for (std::size_t o = 0; o < n; ++o) {
            if (rankHosts[o] == rankHosts[r])
                continue;
            if (!crosses(r, o))
                return false;
            any = true;
        }
        return any;
    };
    std::vector<int> cut;
    for (std::size_t r = 0; r < n; ++r)
        if (server < n && r != server ? crosses(r, server) : crossesToAll(r))
            cut.push_back(int(r));
    return cut;
}

namespace {

bool tolerant(const PlatformSpec& p, const std::string& role)
{
    return std::count(p.failureTolerantRoles.begin(), p.failureTolerantRoles.end(), role) > 0;
}

std::string refusal(const std::string& what, const std::string& role)
{
    return what + " stops a " + role + ", which this strategy cannot lose: set strategy.recovery (\"elastic\" or " +
           "\"checkpoint-restart\" where the strategy has it; README \"Failures\")";
}

/// The hosts an event names: a glob over every host, or a role's ranks.
std::vector<sg4::Host*> eventHosts(const FaultEvent& ev, const std::vector<sg4::Host*>& rankHosts,
                                   const std::vector<std::string>& roles)
{
    std::vector<sg4::Host*> out;
    if (!ev.role.empty()) {
        int seen = 0;
        for (std::size_t r = 0; r < roles.size(); ++r) {
            if (roles[r] != ev.role)
                continue;
            if (ev.index < 0 || seen == ev.index)
                out.push_back(rankHosts[r]);
            ++seen;
        }
        if (out.empty())
            throw ConfigError(ev.path + (ev.index >= 0 ? ".index" : ".role"),
                              ev.index >= 0 ? "the strategy has " + std::to_string(seen) + " rank(s) with role \"" +
                                                  ev.role + "\", so no index " + std::to_string(ev.index)
                                            : "no rank has role \"" + ev.role + "\"");
        return out;
    }
    for (sg4::Host* h : sg4::Engine::get_instance()->get_all_hosts())
        if (globMatch(ev.host, h->get_name()))
            out.push_back(h);
    if (out.empty())
        throw ConfigError(ev.path + ".host", "\"" + ev.host + "\" matches no host of the platform");
    std::sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->get_name() < b->get_name(); });
    return out;
}

/// A full-duplex link appears as NAME_UP and NAME_DOWN: both match a glob for NAME.
bool linkMatches(const std::string& glob, const std::string& name)
{
    if (globMatch(glob, name))
        return true;
    for (const std::string suffix : {"_UP", "_DOWN"})
        if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0 &&
            globMatch(glob, name.substr(0, name.size() - suffix.size())))
            return true;
    return false;
}

/// Mean-`mean` Weibull(k) or exponential time, s.
double drawTime(Rng& rng, RandomFaults::Distribution d, double mean, double shape)
{
    const double e = -std::log(1.0 - rng.uniform()); // Exp(1)
    if (d == RandomFaults::Distribution::Exponential)
        return mean * e;
    return mean / std::tgamma(1.0 + 1.0 / shape) * std::pow(e, 1.0 / shape);
}

} // namespace

void applyFaults(const PlatformSpec& p, const std::vector<sg4::Host*>& rankHosts, const std::vector<std::string>& roles,
                 double horizon, HostStates& hostStates, LinkStates& linkStates)
{
    if (p.faults.empty())
        return;
    HostStates faultHosts;
    auto roleOf = [&](const sg4::Host* h) -> std::string {
        for (std::size_t r = 0; r < rankHosts.size(); ++r)
            if (rankHosts[r] == h)
                return roles[r];
        return "";
    };
    for (const FaultEvent& ev : p.faults.events) {
        if (ev.type == FaultEvent::Type::Crash || ev.type == FaultEvent::Type::Recover) {
            for (sg4::Host* h : eventHosts(ev, rankHosts, roles)) {
                const std::string role = roleOf(h);
                if (ev.type == FaultEvent::Type::Crash && !role.empty() && !tolerant(p, role))
                    throw ConfigError(ev.path, refusal("crashing host \"" + h->get_name() + "\"", role));
                faultHosts[h].emplace_back(ev.time, ev.type == FaultEvent::Type::Recover ? 1.0 : 0.0);
            }
            continue;
        }
        int matched = 0;
        for (sg4::Link* l : sg4::Engine::get_instance()->get_all_links()) {
            if (!linkMatches(ev.link, l->get_name()))
                continue;
            ++matched;
            if (ev.type == FaultEvent::Type::LinkDown)
                for (int r : ranksCutOff(rankHosts, roles, l))
                    if (!tolerant(p, roles[std::size_t(r)]))
                        throw ConfigError(ev.path, refusal("link \"" + l->get_name() + "\" going down cuts off \"" +
                                                               rankHosts[std::size_t(r)]->get_name() + "\" and",
                                                           roles[std::size_t(r)]));
            linkStates[l].emplace_back(ev.time, ev.type == FaultEvent::Type::LinkUp ? 1.0 : 0.0);
        }
        if (matched == 0)
            throw ConfigError(ev.path + ".link", "\"" + ev.link + "\" matches no link of the platform");
    }
    const RandomFaults& rf = p.faults.random;
    if (rf.enabled) {
        for (std::size_t r = 0; r < roles.size(); ++r) {
            if (std::find(rf.roles.begin(), rf.roles.end(), roles[r]) == rf.roles.end())
                continue;
            if (!tolerant(p, roles[r]))
                throw ConfigError("faults.random.roles", refusal("a random failure of \"" +
                                                                     rankHosts[r]->get_name() + "\"", roles[r]));
            // Alternating renewal process: up for a time to failure, down for a time to repair, seeded per rank.
            Rng rng(deriveSeed(p.seed, 0xFA17, r));
            auto& pts = faultHosts[rankHosts[r]];
            for (double t = 0;;) {
                t += drawTime(rng, rf.distribution, rf.mtbf, rf.shape);
                if (t >= horizon)
                    break;
                pts.emplace_back(t, 0.0);
                t += drawTime(rng, RandomFaults::Distribution::Exponential, rf.mttr, 1);
                if (t >= horizon)
                    break;
                pts.emplace_back(t, 1.0);
            }
        }
    }
    for (auto& [h, pts] : faultHosts) {
        if (hostStates.count(h))
            throw ConfigError("faults", "host \"" + h->get_name() +
                                            "\" also goes off and on by platform.availability: give it one or the other");
        std::stable_sort(pts.begin(), pts.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        hostStates[h] = std::move(pts);
    }
    for (auto& [l, pts] : linkStates)
        std::stable_sort(pts.begin(), pts.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
}

} // namespace dml::sim
