// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Internal to app/: reading scenario JSON with every issue recorded against its JSON path.
#include "scenario.h"
#include "units.h"

#include <QJsonArray>
#include <QJsonObject>
#include <QJsonValue>

#include <cmath>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

namespace dml::app::detail {

inline std::string show(const QJsonValue& v)
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

inline std::size_t editDistance(const std::string& a, const std::string& b)
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
        if (v.toString().contains(QChar(0))) { // it would cut every message that quotes it
            fail(key, "expected a string without NUL characters");
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
        const std::string best = v.isString() ? closest(s, allowed) : std::string();
        fail(key, "expected one of " + list(allowed) + ", got " + show(v) +
                      (best.empty() ? std::string() : "; did you mean \"" + best + "\"?"));
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
        if (!x || !std::isfinite(*x) || *x < 0 || (positive && *x == 0)) {
            fail(key, std::string("expected ") + unitExample(kind) + (positive ? " (greater than zero)" : "") +
                          ", got " + show(v));
            return def;
        }
        const auto [lo, hi] = unitLimits(kind);
        if (*x != 0 && (*x < lo || *x > hi)) {
            char range[96];
            std::snprintf(range, sizeof range, "%g and %g", lo, hi);
            fail(key, std::string("expected ") + unitExample(kind) + " between " + range + " in base units (" +
                          (kind == UnitKind::Speed       ? "flops/s"
                           : kind == UnitKind::Flops     ? "flops"
                           : kind == UnitKind::Bandwidth ? "bytes/s"
                           : kind == UnitKind::Time      ? "s" : "bytes") +
                          "), got " + show(v));
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
            const std::string best = closest(key, m_known);
            fail(key, "unknown key" + (best.empty() ? std::string() : "; did you mean \"" + best + "\"?"));
        }
    }

private:
    /// The candidate within edit distance 2 of `s` (the first of the closest), or "" if none is.
    template <typename Candidates> static std::string closest(const std::string& s, const Candidates& candidates)
    {
        std::string best;
        std::size_t bestD = 3;
        for (const auto& cand : candidates)
            if (const auto d = editDistance(s, cand); d < bestD) {
                bestD = d;
                best = cand;
            }
        return best;
    }
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

/// Reads the "platform" object of a scenario into `p` (app/scenario_platform.cpp).
void readPlatform(ObjectReader&& r, sim::PlatformSpec& p);

/// Reads a scenario's "cost" section into `c` (app/cost.cpp).
void readCost(ObjectReader&& r, CostSpec& c);

} // namespace dml::app::detail
