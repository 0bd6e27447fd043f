// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target over the scenario parser and validator (issue 18): any byte string is either a scenario or
// refused with a ScenarioError whose every issue has a path-or-file and a message. Anything else (another exception,
// a crash, a sanitizer report, a leak, an allocation beyond -rss_limit_mb) is a finding.
//
// Built by `./setup.sh fuzz` (clang, -DDMLSIM_LIBFUZZER=ON), which runs it for FUZZ_SECONDS (600 by default) on a
// corpus seeded with every shipped scenario and lesson:
//   build-fuzz/tests/fuzz_scenario -max_total_time=600 -rss_limit_mb=4096 fuzz-corpus scenarios scenarios/lessons
#include "scenario.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        dml::app::parseScenario(text, "fuzz.json");
    } catch (const dml::app::ScenarioError& e) {
        if (e.issues().empty()) {
            std::fprintf(stderr, "ScenarioError without an issue\n");
            std::abort();
        }
        for (const dml::app::ScenarioIssue& issue : e.issues())
            if (issue.message.empty()) {
                std::fprintf(stderr, "an issue without a message at '%s'\n", issue.path.c_str());
                std::abort();
            }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "not a ScenarioError: %s\n", e.what());
        std::abort();
    }
    return 0;
}
