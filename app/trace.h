// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Chrome trace-event export of a run's per-host timeline (`dmlsim trace`), for Perfetto (ui.perfetto.dev) and
// chrome://tracing, as Horovod's timeline is. Format: the Trace Event Format's JSON object form
// ({"traceEvents": [...]}) with complete events ("ph": "X") and metadata events ("ph": "M").
#include "metrics.h"

#include <QJsonObject>
#include <QString>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace dml::app {

class RunStore;

/// Builds the trace: one process per host (pid = rank + 1, named "rank R: NAME (ROLE)", sorted by rank); in it,
/// thread 1 "compute" holds the compute spans, and the communication spans, which overlap (a server sends to
/// every worker at once), are laid out greedily on as few lanes as needed: threads 100+k "send k" and
/// 200+k "receive k", so no two events on one thread overlap. Times are simulated microseconds. Every event's
/// args carry the peer's name and the amount (flops or bytes). `hosts` are in rank order (RunStore::hostStats).
/// The run's timeline as Chrome trace-event JSON. With `series`, the failure events are instant events too
/// (issue 11): "rank_failed" on the failed rank's process, "restart" and "checkpoint" global.
QJsonObject chromeTrace(const std::vector<Span>& spans, const std::vector<HostStats>& hosts,
                        const std::string& runName,
                        const std::map<std::string, std::vector<std::pair<double, double>>>* series = nullptr);

/// Writes run `runId`'s trace to `file`. Throws StoreError (no such run) or std::runtime_error (the run has
/// no timeline, or the file cannot be written).
void writeChromeTrace(RunStore& store, long long runId, const QString& file);

} // namespace dml::app
