// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The platform section's checks that need more than the JSON: files (SimGrid platform XML, availability traces)
// and the strategy's ranks (README "Platforms").
#include "scenario.h"

namespace dml::app {

/// Resolves the platform's files relative to the scenario file's directory, checks that a platform XML exists, is
/// well-formed, is a SimGrid <platform> of version 4.1 or later, loads in SimGrid (sim::validatePlatformXml: in a
/// child process, with positive speeds and bandwidths) and has hosts for every mapped role, reads an
/// availability trace, and checks that the platform can hold the strategy's ranks (topology size, devices,
/// availability only for fedavg clients). `roles`: the strategy's role per rank, as checkAgainstData() returns
/// them. SimGrid then never sees a file it would abort on. Throws ScenarioError naming the JSON path and, for
/// file errors, file:line.
void preparePlatform(Scenario& s, const std::vector<std::string>& roles);

/// Host names that a SimGrid platform XML declares (<host id>, and the hosts of <cluster>/<cabinet> elements:
/// prefix + each number of radical + suffix), in document order. Throws ScenarioError ("platform.xml.file")
/// naming file:line:column for malformed XML.
std::vector<std::string> platformXmlHosts(const std::string& file);

} // namespace dml::app
