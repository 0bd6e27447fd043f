// SPDX-License-Identifier: GPL-3.0-or-later
#include "units.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>

namespace dml::app {
namespace {

using Table = std::map<std::string, double, std::less<>>;

Table withPrefixes(const std::string& unit, double base, bool binaryToo)
{
    Table t{{unit, base}};
    const char* dec[] = {"k", "M", "G", "T", "P", "E"};
    const char* bin[] = {"Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    double d = 1, b = 1;
    for (int i = 0; i < 6; ++i) {
        d *= 1e3;
        b *= 1024;
        t[dec[i] + unit] = base * d;
        if (i == 0)
            t["K" + unit] = base * d; // SimGrid accepts both kB and KB
        if (binaryToo)
            t[bin[i] + unit] = base * b;
    }
    return t;
}

const Table& table(UnitKind kind)
{
    static const Table speed = [] {
        Table t = withPrefixes("f", 1, false);
        t.merge(withPrefixes("flops", 1, false));
        return t;
    }();
    static const Table bandwidth = [] {
        Table t = withPrefixes("Bps", 1, true);
        t.merge(withPrefixes("bps", 0.125, true));
        return t;
    }();
    static const Table time{{"ps", 1e-12}, {"ns", 1e-9}, {"us", 1e-6}, {"ms", 1e-3}, {"s", 1},
                            {"m", 60},     {"min", 60}, {"h", 3600},  {"d", 86400}, {"w", 604800}};
    static const Table size = [] {
        Table t = withPrefixes("B", 1, true);
        t.merge(withPrefixes("b", 0.125, true));
        return t;
    }();
    switch (kind) {
    case UnitKind::Speed:
    case UnitKind::Flops: return speed;
    case UnitKind::Bandwidth: return bandwidth;
    case UnitKind::Time: return time;
    case UnitKind::Size: return size;
    }
    return time;
}

} // namespace

const std::vector<AcceleratorPreset>& acceleratorPresets()
{
    // Dense peak rates from NVIDIA's datasheets (Tesla V100 SXM2, A100 SXM4, H100 SXM5); the sparsity figures
    // NVIDIA also prints are twice these.
    static const std::vector<AcceleratorPreset> presets{
        {"v100", 15.7e12, "NVIDIA V100 SXM2, FP32"},
        {"v100-fp16", 125e12, "NVIDIA V100 SXM2, FP16 tensor cores"},
        {"a100", 19.5e12, "NVIDIA A100 SXM4, FP32"},
        {"a100-tf32", 156e12, "NVIDIA A100 SXM4, TF32 tensor cores"},
        {"a100-bf16", 312e12, "NVIDIA A100 SXM4, BF16 tensor cores"},
        {"h100", 67e12, "NVIDIA H100 SXM5, FP32"},
        {"h100-tf32", 494.5e12, "NVIDIA H100 SXM5, TF32 tensor cores"},
        {"h100-bf16", 989.5e12, "NVIDIA H100 SXM5, BF16 tensor cores"},
    };
    return presets;
}

std::optional<double> parseUnit(const std::string& text, UnitKind kind)
{
    if (kind == UnitKind::Speed)
        for (const AcceleratorPreset& a : acceleratorPresets())
            if (text == a.name)
                return a.flops;
    if (text.empty() || std::isspace(static_cast<unsigned char>(text.front())))
        return std::nullopt;
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (end == text.c_str() || !std::isfinite(v))
        return std::nullopt;
    const auto& t = table(kind);
    const auto it = t.find(std::string_view(end));
    if (it == t.end())
        return std::nullopt;
    return v * it->second;
}

std::pair<double, double> unitLimits(UnitKind kind)
{
    switch (kind) {
    case UnitKind::Speed: return {1, 1e18};
    case UnitKind::Flops: return {1, 1e21};
    case UnitKind::Bandwidth: return {0.125, 1e15};
    case UnitKind::Time: return {1e-12, 1e9};
    case UnitKind::Size: return {1, 1e15};
    }
    return {0, 1e300};
}

const char* unitExample(UnitKind kind)
{
    switch (kind) {
    case UnitKind::Speed: return "a speed such as \"100Gf\" or an accelerator such as \"a100\"";
    case UnitKind::Flops: return "an amount of flops such as \"4.1Gf\"";
    case UnitKind::Bandwidth: return "a bandwidth such as \"10Gbps\"";
    case UnitKind::Time: return "a duration such as \"50us\"";
    case UnitKind::Size: return "a size such as \"64MiB\"";
    }
    return "";
}

std::string formatBytes(double bytes)
{
    const char* units[] = {"B", "kB", "MB", "GB", "TB", "PB"};
    int i = 0;
    while (std::fabs(bytes) >= 1000 && i < 5) {
        bytes /= 1000;
        ++i;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, i == 0 ? "%.0f %s" : "%.2f %s", bytes, units[i]);
    return buf;
}

std::string formatSeconds(double s)
{
    char buf[32];
    if (s < 0)
        return "-";
    if (s == 0)
        std::snprintf(buf, sizeof buf, "0 s");
    else if (s < 1e-3)
        std::snprintf(buf, sizeof buf, "%.2f us", s * 1e6);
    else if (s < 1)
        std::snprintf(buf, sizeof buf, "%.2f ms", s * 1e3);
    else
        std::snprintf(buf, sizeof buf, "%.3f s", s);
    return buf;
}

} // namespace dml::app
