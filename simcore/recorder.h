// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Internal to simcore: the sink that keeps a run's (or a job's) samples and named series while it runs.
#include "metrics.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace dml::sim {

/// Keeps the samples and named series reported to it; passes span batches on to `forward`, if set.
class Recorder final : public MetricsSink {
public:
    void sample(const Sample& s) override { samples.push_back(s); }
    void point(const std::string& name, double t, double v) override { series[name].emplace_back(t, v); }
    void spans(const std::vector<Span>& s) override
    {
        if (forward)
            forward->spans(s);
    }
    MetricsSink* forward = nullptr; ///< where span batches go on to (the caller's sink)
    std::vector<Sample> samples;
    std::map<std::string, std::vector<std::pair<double, double>>> series;
};

} // namespace dml::sim
