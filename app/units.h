// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// SimGrid's unit strings ("10Gbps", "50us", "2Gf"), parsed with the same suffixes as SimGrid's platform files.
#include <optional>
#include <string>

namespace dml::app {

enum class UnitKind {
    Speed,     ///< flops/s: "f", "kf", "Mf", "Gf", "Tf", "Pf" (or "flops", "Gflops", ...)
    Flops,     ///< an amount of flops, same suffixes as Speed
    Bandwidth, ///< bytes/s: "bps", "kbps", "Mbps", "Gbps", "Tbps" (bits, /8), "Bps", "kBps", "MBps", "GBps",
               ///< "TBps", and binary "KiBps", "MiBps", "GiBps", "Kibps", ...
    Time,      ///< seconds: "ps", "ns", "us", "ms", "s", "m", "h", "d", "w"
    Size,      ///< bytes: "B", "kB", "MB", "GB", "TB", "KiB", "MiB", "GiB", "TiB", "b" (bits), "kb", ...
};

/// Value in base units (flops/s, bytes/s, s, bytes), or nullopt if `text` is not a number with a known suffix.
std::optional<double> parseUnit(const std::string& text, UnitKind kind);

/// "a bandwidth such as \"10Gbps\"", for error messages.
const char* unitExample(UnitKind kind);

/// Human-readable formatting for tables: 1.23 GB, 12.3 ms, ...
std::string formatBytes(double bytes);
std::string formatSeconds(double seconds);

} // namespace dml::app
