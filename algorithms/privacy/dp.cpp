// SPDX-License-Identifier: GPL-3.0-or-later
#include "privacy/dp.h"

#include "rng.h"

#include <cmath>

namespace dml::privacy {

double clipToNorm(Eigen::Ref<Eigen::VectorXf> v, double c)
{
    double sq = 0.0;
    for (Eigen::Index i = 0; i < v.size(); ++i)
        sq += double(v[i]) * double(v[i]);
    const double norm = std::sqrt(sq);
    if (!(norm > c))
        return 1.0;
    const double f = c / norm;
    v *= float(f);
    return f;
}

void addGaussianNoise(Eigen::Ref<Eigen::VectorXf> v, double sigma, std::uint64_t seed)
{
    if (!(sigma > 0))
        return;
    Rng rng(seed);
    for (Eigen::Index i = 0; i < v.size(); ++i)
        v[i] += float(sigma * rng.normal());
}

} // namespace dml::privacy
