// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// SimGrid's unit strings ("10Gbps", "50us", "2Gf"), parsed with the same suffixes as SimGrid's platform files.
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace dml::app {

enum class UnitKind {
    Speed,     ///< flops/s: "f", "kf", "Mf", "Gf", "Tf", "Pf" (or "flops", "Gflops", ...)
    Flops,     ///< an amount of flops, same suffixes as Speed
    Bandwidth, ///< bytes/s: "bps", "kbps", "Mbps", "Gbps", "Tbps" (bits, /8), "Bps", "kBps", "MBps", "GBps",
               ///< "TBps", and binary "KiBps", "MiBps", "GiBps", "Kibps", ...
    Time,      ///< seconds: "ps", "ns", "us", "ms", "s", "m", "h", "d", "w"
    Size,      ///< bytes: "B", "kB", "MB", "GB", "TB", "KiB", "MiB", "GiB", "TiB", "b" (bits), "kb", ...
};

/// A named accelerator speed, accepted wherever a speed is (worker_speed, server_speed): its dense peak rate.
struct AcceleratorPreset {
    const char* name;   ///< "a100", "h100-bf16", ...
    double flops;       ///< flops/s
    const char* source; ///< the datasheet and precision the rate is quoted for
};
/// Every preset, in a fixed order (README "Multi-GPU nodes" lists them).
const std::vector<AcceleratorPreset>& acceleratorPresets();

/// Value in base units (flops/s, bytes/s, s, bytes), or nullopt if `text` is not a number with a known suffix
/// (a speed may also be an accelerator preset's name).
std::optional<double> parseUnit(const std::string& text, UnitKind kind);

/// "a bandwidth such as \"10Gbps\"", for error messages.
/// The range a nonzero value of `kind` must lie in (SI base units: flops/s, flops, bytes/s, s, bytes), so that
/// absurd values are refused with a clear limit instead of overflowing or stalling the simulation (issue 18):
/// speed 1 f to 1e18 f (1 Ef), flops up to 1e21, bandwidth 1 bps (0.125 B/s) to 1e15 B/s (8 Pbps), time 1 ps to
/// 1e9 s (about 32 years), size 1 byte to 1e15 bytes.
std::pair<double, double> unitLimits(UnitKind kind);

const char* unitExample(UnitKind kind);

/// Human-readable formatting for tables: 1.23 GB, 12.3 ms, ...
std::string formatBytes(double bytes);
std::string formatSeconds(double seconds);

} // namespace dml::app
