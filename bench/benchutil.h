// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Small helpers the benchmarks share: wall clock, peak memory, machine load, shell quoting and a model fingerprint.
#include <Eigen/Core>

#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace dml::bench {

/// Monotonic wall clock, seconds.
inline double now()
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

/// This process's peak resident memory so far, MiB.
inline double peakRssMiB()
{
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return double(u.ru_maxrss) / 1024.0; // ru_maxrss is in KiB on Linux
}

/// The 1-minute load average of the machine (other processes compete for the cores the benchmark measures); -1 if
/// unknown.
inline double loadAverage()
{
    double l[1] = {0};
    return getloadavg(l, 1) == 1 ? l[0] : -1;
}

/// `s` in single quotes for /bin/sh.
inline std::string shellQuoted(const std::string& s)
{
    std::string q = "'";
    for (char c : s)
        q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
}

/// FNV-1a over the model's bytes: a parent checks that each child's model is bit-identical to its own.
inline std::uint64_t fingerprint(const Eigen::VectorXf& v)
{
    std::uint64_t h = 1469598103934665603ull;
    const auto* p = reinterpret_cast<const unsigned char*>(v.data());
    for (std::size_t i = 0; i < sizeof(float) * std::size_t(v.size()); ++i)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

} // namespace dml::bench
