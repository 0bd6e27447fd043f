// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
#include "data/dataset.h"
#include "models/model.h"
#include "data/partition.h"
#include "strategy.h"

#include <optional>

namespace dml {

/// The model a strategy trains, as the strategies see it: its size, its cost and, unless it is a proxy
/// (TrainingConfig::proxy.parameters > 0), the real MLP.
///
/// A proxy has no MLP and no parameter vector: strategies charge the same compute (trainFlopsPerSample() x
/// batch) and send messages of the same size (modelBytes()) with Message::data = nullptr.
class Workload {
public:
    /// Real: an Mlp of `cfg.hidden` over `train`'s features and classes (std::invalid_argument from Mlp if the
    /// dataset has no features). Proxy: `cfg.proxy` only; `train` may have 0 feature rows.
    Workload(const TrainingConfig& cfg, const Dataset& train);

    bool isProxy() const { return !m_arch.has_value(); }
    /// Parameters of the model (real or proxy).
    Eigen::Index numParams() const { return m_numParams; }
    /// Size of one model or gradient message: 4 bytes (float32) x numParams().
    double modelBytes() const { return 4.0 * double(m_numParams); }
    /// Forward+backward flops per sample (Mlp's analytic count, or proxy.trainFlopsPerSample).
    double trainFlopsPerSample() const { return m_trainFlopsPerSample; }
    /// The real MLP; nullptr for a proxy.
    const Mlp* mlp() const { return m_arch ? &*m_arch : nullptr; }
    /// He-initialised parameters (numParams() floats) seeded with `seed`, as Mlp::initParams.
    /// Real workloads only: throws std::logic_error for a proxy (which has no parameter vector).
    Eigen::VectorXf initialParams(std::uint64_t seed) const;

    /// One rank's mini-batch gradient: gathers `sampler`'s next batch from the training set and writes the
    /// gradient of the mean cross-entropy at `params` (numParams() floats) to `grad`. Returns the mean loss.
    /// Real workloads only (throws std::logic_error for a proxy).
    ///
    /// Every rank shares one scratch (the batch and the activations): SimGrid runs one actor at a time and this
    /// call never yields, so no two ranks are ever inside it together, and P workers in turn touch one batch
    /// buffer that stays in cache instead of P. Not thread-safe, like a simulation.
    float gradient(const float* params, BatchSampler& sampler, float* grad) const;

    /// DP-SGD's per-example step (Abadi et al. 2016, Algorithm 1, "compute gradient" and "clip gradient"): gathers
    /// `sampler`'s next batch and writes to `grad` the SUM over its B examples of each example's gradient clipped
    /// to L2 norm `clip` (privacy::clipToNorm), computed one example at a time. Returns the mean loss. Real
    /// workloads only (std::logic_error for a proxy). Flops: clippedGradientFlops(B).
    float clippedGradientSum(const float* params, BatchSampler& sampler, double clip, float* grad) const;
    /// B x (trainFlopsPerSample + 4 numParams): each example's pass, its clipping and its addition to the sum.
    double clippedGradientFlops(int batch) const
    {
        return double(batch) * (m_trainFlopsPerSample + 4.0 * double(m_numParams));
    }

private:
    const Dataset* m_train = nullptr;
    mutable std::optional<Mlp> m_arch; // mutable: its activations are gradient()'s scratch
    mutable Eigen::MatrixXf m_batchX;
    mutable std::vector<std::uint8_t> m_batchY;
    mutable Eigen::MatrixXf m_example;      // clippedGradientSum's one-example batch
    mutable Eigen::VectorXf m_exampleGrad;  // and its gradient
    Eigen::Index m_numParams = 0;
    double m_trainFlopsPerSample = 0;
};

} // namespace dml
