// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
#include "data/dataset.h"
#include "models/model.h"
#include "data/partition.h"
#include "strategy.h"

#include <memory>

namespace dml {

/// The model a strategy trains, as the strategies see it: its size, its cost and, unless it is a proxy
/// (TrainingConfig::proxy.parameters > 0), the real model: a Cnn if TrainingConfig::cnn has layers, else an Mlp.
///
/// A proxy has no model and no parameter vector: strategies charge the same compute (trainFlopsPerSample() x
/// batch) and send messages of the same size (modelBytes()) with Message::data = nullptr.
/// The sample indices of `sampler`'s next `steps` batches, one after the other (steps x sampler.batchSize() ints).
/// Strategies draw them in the actor, in simulation order, and hand them to a pool job.
std::vector<int> drawBatches(BatchSampler& sampler, long steps);

class Workload {
public:
    /// Real: a Cnn of `cfg.cnn` or an Mlp of `cfg.hidden` over `train`'s features and classes
    /// (std::invalid_argument from Mlp if the dataset has no features; ConfigError "workload.model.input" if the
    /// CNN's input image is not the dataset's features, "workload.model.layers" if its layers do not fit the
    /// image). Proxy: `cfg.proxy` only; `train` may have 0 feature rows.
    Workload(const TrainingConfig& cfg, const Dataset& train);

    bool isProxy() const { return !m_arch; }
    /// Parameters of the model (real or proxy).
    Eigen::Index numParams() const { return m_numParams; }
    /// Size of one model or gradient message: 4 bytes (float32) x numParams().
    double modelBytes() const { return 4.0 * double(m_numParams); }
    /// Forward+backward flops per sample (the model's analytic count, or proxy.trainFlopsPerSample).
    double trainFlopsPerSample() const { return m_trainFlopsPerSample; }
    /// The layers in forward order (Model::layerCosts, or the proxy's: ProxyModel::layers, or one layer whose backward
    /// pass is 2/3 of trainFlopsPerSample). Their parameters add up to numParams().
    const std::vector<LayerCost>& layers() const { return m_layers; }
    /// The real model (Mlp or Cnn); nullptr for a proxy.
    const Model* model() const { return m_arch.get(); }
    /// He-initialised parameters (numParams() floats) seeded with `seed`, as Model::initParams.
    /// Real workloads only: throws std::logic_error for a proxy (which has no parameter vector).
    Eigen::VectorXf initialParams(std::uint64_t seed) const;

    /// One rank's mini-batch gradient: gathers the training samples `batch[0..n)` (n >= 1) and writes the gradient
    /// of the mean cross-entropy at `params` (numParams() floats) to `grad`. Returns the mean loss. Real workloads
    /// only (throws std::logic_error for a proxy).
    ///
    /// Thread-safe (const; the batch and the activations are scratch of the calling thread), so the strategies run it
    /// as a pool job (parallel::submit). A thread reuses one batch buffer for every gradient it computes, which stays
    /// in cache.
    float gradient(const float* params, const int* batch, int n, float* grad) const;
    /// The same on `sampler`'s next batch (advances the sampler: call it where the sampler's order is decided).
    float gradient(const float* params, BatchSampler& sampler, float* grad) const
    {
        return gradient(params, sampler.next(), sampler.batchSize(), grad);
    }

    /// DP-SGD's per-example step (Abadi et al. 2016, Algorithm 1, "compute gradient" and "clip gradient"): gathers
    /// the samples `batch[0..n)` and writes to `grad` the SUM over these n examples of each example's gradient clipped
    /// to L2 norm `clip` (privacy::clipToNorm), computed one example at a time. Returns the mean loss. Real
    /// workloads only (std::logic_error for a proxy). Flops: clippedGradientFlops(n). Thread-safe, like gradient().
    float clippedGradientSum(const float* params, const int* batch, int n, double clip, float* grad) const;
    /// B x (trainFlopsPerSample + 4 numParams): each example's pass, its clipping and its addition to the sum.
    double clippedGradientFlops(int batch) const
    {
        return double(batch) * (m_trainFlopsPerSample + 4.0 * double(m_numParams));
    }

private:
    const Dataset* m_train = nullptr;
    std::shared_ptr<const Model> m_arch; ///< shared by copies of the Workload (the model is immutable)
    Eigen::Index m_numParams = 0;
    double m_trainFlopsPerSample = 0;
    std::vector<LayerCost> m_layers;
};

} // namespace dml
