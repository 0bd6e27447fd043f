// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Overlap of the backward pass with the gradients' communication, as PyTorch DDP does it (README "Overlap").
#include "models/layercost.h"
#include "transport.h"

#include <Eigen/Core>
#include <functional>
#include <vector>

namespace dml {

/// Overlap settings (strategy.overlap, strategy.bucket_cap_mb).
struct OverlapSpec {
    bool enabled = false;
    double bucketCapBytes = 25.0 * 1024 * 1024; ///< DDP's bucket_cap_mb = 25 (MiB), in bytes; > 0
};

/// One bucket of gradients: the parameters [begin, end) of the flat vector (consecutive layers), ready once the
/// backward pass of layer `readyAfter` is done.
struct GradientBucket {
    int index = 0;          ///< 0 for the first bucket to be ready (the last layers')
    long long begin = 0, end = 0;
    int readyAfter = 0;     ///< a layer index (forward order)
    double bytes() const { return 4.0 * double(end - begin); }
};

/// DDP's bucketing (Li et al. 2020, "PyTorch Distributed: Experiences on accelerating data parallel training",
/// VLDB, Sec. 3.2.3 and 4.2): buckets are filled with the gradients in the reverse order of the layers, the order
/// in which the backward pass produces them; a bucket is closed as soon as it holds at least `capBytes` (4 bytes
/// per parameter), so a layer larger than the cap gets a bucket of its own; the last bucket takes what is left.
/// dmlsim's variant: whole layers (not single tensors) go into buckets, and the first bucket is not capped at
/// 1 MiB as DDP's is. Layers without parameters join no bucket. `capBytes` > 0; no layer with parameters gives
/// no bucket.
std::vector<GradientBucket> makeBuckets(const std::vector<LayerCost>& layers, double capBytes);

/// The layer-by-layer backward pass of one worker, overlapped with a background actor that reduces the buckets
/// one after the other, in order, as DDP's reducer launches one all-reduce per bucket as soon as it is ready
/// (NCCL runs them in order on one stream). Usage per rank: start() once, then step() for every step, then stop().
class BackwardOverlap {
public:
    /// What the background actor does with a ready bucket: reduce its range of the gradient (e.g. all-reduce it),
    /// on the background actor's transport `bt`. Called in bucket order, on every rank.
    using Reduce = std::function<void(Transport& bt, const GradientBucket& bucket)>;

    /// `layers`: the workload's (Workload::layers()); `batch`: samples per step.
    BackwardOverlap(const std::vector<LayerCost>& layers, const OverlapSpec& spec, int batch);
    const std::vector<GradientBucket>& buckets() const { return m_buckets; }

    /// Starts the background actor (Transport::spawnBackground) that runs `reduce` on each posted bucket.
    void start(Transport& t, Reduce reduce);
    /// One step's computation: the forward pass (batch x the layers' forward flops), then the backward pass
    /// layer by layer from the last layer (batch x its backward flops each), handing every bucket over once its
    /// last layer is done. `gradientReady` is called after the forward pass, before the first bucket is handed over
    /// (e.g. to wait for the real gradient's job). Charges the same flops in all as batch x trainFlopsPerSample, in
    /// pieces.
    ///  - After start(): the buckets go to the background actor, and step() returns once every bucket is reduced.
    ///  - Without start(): each bucket is handed to `handOff` in the rank's own actor, which must not block (e.g. an
    ///    isend of the bucket to a parameter server, as per-layer push in PS frameworks: Zhang et al. 2017, "Poseidon",
    ///    wait-free backpropagation); step() returns after the last layer.
    void step(Transport& t, const std::function<void()>& gradientReady,
              const std::function<void(const GradientBucket&)>& handOff = {});
    /// Ends the background actor and waits for it (call before the rank's body returns).
    void stop(Transport& t);

private:
    std::vector<LayerCost> m_layers;
    std::vector<GradientBucket> m_buckets;
    int m_batch;
    double m_forward = 0;
    bool m_started = false;
};

} // namespace dml
