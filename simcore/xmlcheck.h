// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// A SimGrid platform XML file checked by SimGrid's own parser before anything runs (issue 18). SimGrid aborts the
// process on some broken platforms (xbt_die) and allows one engine per process, so the file is loaded in a forked
// child. No SimGrid types here.
#include <optional>
#include <string>

namespace dml::sim {

/// Loads and seals the platform XML `file` with SimGrid's parser in a forked child process (stdout and stderr of the
/// child are captured, never shown), then checks what SimGrid accepts but no simulation can use: a host speed (any
/// pstate) that is not positive and finite, a link bandwidth that is not positive and finite, a latency that is
/// negative or not finite. Returns nullopt if the file is fine; otherwise one line "FILE:LINE: ..." (or "FILE: ..."
/// when the line is unknown) with SimGrid's own message, or the offending host or link. A crash of SimGrid inside
/// the child is reported the same way. Costs one fork and one parse; the calling process never touches SimGrid.
/// A child still parsing after `timeoutSeconds` (> 0; e.g. a file that is a pipe nobody writes to) is killed and
/// reported as too slow.
std::optional<std::string> validatePlatformXml(const std::string& file, unsigned timeoutSeconds = 120);

} // namespace dml::sim
