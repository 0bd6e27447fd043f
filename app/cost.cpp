// SPDX-License-Identifier: GPL-3.0-or-later
#include "cost.h"

#include "jsonreader.h"

#include <QJsonDocument>
#include <QRegularExpression>

#include <algorithm>

namespace dml::app {

const std::vector<std::string>& pricedRoles()
{
    static const std::vector<std::string> roles{"worker", "server", "client", "edge-server"};
    return roles;
}

namespace detail {

void readCost(ObjectReader&& r, CostSpec& c)
{
    c.given = true;
    c.currency = r.string("currency", c.currency);
    if (c.currency.empty() || c.currency.size() > 16)
        r.fail("currency", "expected a currency label of 1 to 16 characters such as \"USD\", got \"" + c.currency +
                               "\"");
    constexpr double kMaxPrice = 1e9;
    const bool hours = r.has("host_hour"), bytes = r.has("per_gb");
    if (!hours && !bytes)
        r.fail("host_hour", "missing; expected prices per host-hour by role such as {\"worker\": 2.5} or per GB "
                            "over named links (\"per_gb\": {\"*-wan_UP\": 0.09})");
    const QJsonObject h = r.object("host_hour");
    for (auto it = h.begin(); it != h.end(); ++it) {
        const std::string role = it.key().toStdString(), at = r.at("host_hour") + "." + role;
        const auto& roles = pricedRoles();
        if (std::find(roles.begin(), roles.end(), role) == roles.end()) {
            r.issues().push_back({at, "unknown role; expected \"worker\", \"server\", \"client\" or \"edge-server\""});
            continue;
        }
        const double v = it.value().toDouble(-1);
        if (!it.value().isDouble() || !(v >= 0 && v <= kMaxPrice)) {
            r.issues().push_back({at, "expected a price per host-hour, a number in [0, 1e9], got " + show(it.value())});
            continue;
        }
        c.hostHour[role] = v;
    }
    const QJsonObject g = r.object("per_gb");
    for (auto it = g.begin(); it != g.end(); ++it) {
        const std::string glob = it.key().toStdString(), at = r.at("per_gb") + "." + glob;
        if (glob.empty() || it.key().contains(QChar(0))) {
            r.issues().push_back({r.at("per_gb"), "expected link names or globs such as \"*-wan_UP\" as keys, got "
                                                  "an empty one"});
            continue;
        }
        const double v = it.value().toDouble(-1);
        if (!it.value().isDouble() || !(v >= 0 && v <= kMaxPrice)) {
            r.issues().push_back({at, "expected a price per GB (10^9 bytes), a number in [0, 1e9], got " +
                                          show(it.value())});
            continue;
        }
        c.perGb.emplace_back(glob, v);
    }
}

} // namespace detail

CostSpec costOf(const std::string& scenarioText)
{
    const QJsonObject o = QJsonDocument::fromJson(QByteArray::fromStdString(scenarioText)).object();
    CostSpec c;
    if (!o.value("cost").isObject())
        return c;
    std::vector<ScenarioIssue> issues;
    detail::readCost(detail::ObjectReader(o.value("cost").toObject(), "cost", issues), c);
    if (!issues.empty())
        return CostSpec{};
    return c;
}

RunCost runCost(const CostSpec& spec, const std::vector<HostStats>& hosts, const std::vector<LinkStats>& links,
                double simulatedTime)
{
    RunCost c;
    for (const HostStats& h : hosts)
        if (const auto it = spec.hostHour.find(h.role); it != spec.hostHour.end())
            c.hosts += it->second * simulatedTime / 3600.0;
    std::vector<std::pair<QRegularExpression, double>> globs;
    for (const auto& [glob, price] : spec.perGb)
        globs.emplace_back(QRegularExpression(QRegularExpression::wildcardToRegularExpression(
                               QString::fromStdString(glob), QRegularExpression::DefaultWildcardConversion)),
                           price);
    for (const LinkStats& l : links) {
        double price = -1;
        for (const auto& [re, p] : globs)
            if (re.match(QString::fromStdString(l.name)).hasMatch())
                price = std::max(price, p);
        if (price > 0)
            c.traffic += l.bytes / 1e9 * price;
    }
    return c;
}

} // namespace dml::app
