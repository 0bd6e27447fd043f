// SPDX-License-Identifier: GPL-3.0-or-later
#include "jobs.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <stdexcept>

namespace dml {

namespace {

/// A job's default host names, as sim::hostNames gives them for a single strategy (simcore is off limits here):
/// "worker-0", "worker-1", ...; a role held by one rank only that is the server keeps its name.
std::vector<std::string> defaultNames(const Strategy& s)
{
    std::map<std::string, int> total, counts;
    for (int r = 0; r < s.numRanks(); ++r)
        ++total[s.roleOf(r)];
    std::vector<std::string> names;
    for (int r = 0; r < s.numRanks(); ++r) {
        const std::string role = s.roleOf(r);
        names.push_back(role == "server" && total[role] == 1 ? role : role + "-" + std::to_string(counts[role]++));
    }
    return names;
}

} // namespace

JobsStrategy::JobsStrategy(std::vector<Job> jobs) : m_jobs(std::move(jobs))
{
    if (m_jobs.empty())
        throw std::invalid_argument("JobsStrategy: no jobs");
    std::set<std::string> names;
    m_offsets.push_back(0);
    for (const Job& j : m_jobs) {
        if (!j.strategy)
            throw std::invalid_argument("JobsStrategy: job \"" + j.name + "\" has no strategy");
        if (j.name.empty() || !names.insert(j.name).second)
            throw std::invalid_argument("JobsStrategy: empty or duplicate job name \"" + j.name + "\"");
        if (!std::isfinite(j.start) || j.start < 0)
            throw std::invalid_argument("JobsStrategy: job \"" + j.name + "\" starts at " + std::to_string(j.start) +
                                        " s; expected a finite time >= 0");
        m_offsets.push_back(m_offsets.back() + j.strategy->numRanks());
        m_names.push_back(defaultNames(*j.strategy));
    }
}

int JobsStrategy::jobOf(int rank) const
{
    // The last job whose first rank is <= rank.
    return int(std::upper_bound(m_offsets.begin(), m_offsets.end() - 1, rank) - m_offsets.begin()) - 1;
}

std::string JobsStrategy::roleOf(int rank) const
{
    return m_jobs[std::size_t(jobOf(rank))].strategy->roleOf(local(rank));
}

void JobsStrategy::run(int rank, Transport& t)
{
    const int j = jobOf(rank);
    JobTransport jt(t, m_offsets[std::size_t(j)], m_jobs[std::size_t(j)].start);
    m_jobs[std::size_t(j)].strategy->run(rank - m_offsets[std::size_t(j)], jt);
}

bool JobsStrategy::launchedAtStart(int rank) const
{
    return m_jobs[std::size_t(jobOf(rank))].strategy->launchedAtStart(local(rank));
}

double JobsStrategy::startTime(int rank) const
{
    return m_jobs[std::size_t(jobOf(rank))].start;
}

std::string JobsStrategy::hostName(int rank) const
{
    const int j = jobOf(rank);
    return m_jobs[std::size_t(j)].name + "/" + m_names[std::size_t(j)][std::size_t(local(rank))];
}

std::string JobsStrategy::stopReason() const
{
    std::string out;
    for (const Job& j : m_jobs)
        out += (out.empty() ? "" : "; ") + j.name + ": " + j.strategy->stopReason();
    return out;
}

} // namespace dml
