// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
#include <Eigen/Core>

#include <functional>

namespace dml {

struct OptimizerSpec {
    enum class Kind { Sgd, Momentum, Adam };
    Kind kind = Kind::Sgd;
    float learningRate = 0.01f;
    float momentum = 0.9f;  ///< Momentum only
    float beta1 = 0.9f;     ///< Adam only
    float beta2 = 0.999f;   ///< Adam only
    float epsilon = 1e-8f;  ///< Adam only
};

/// First-order optimizer over a flat parameter vector (MiniDNN's `update(grad, params)` shape).
///  - Sgd:      p -= lr g
///  - Momentum: v = mu v + g; p -= lr v  (heavy ball, Polyak 1964; PyTorch's form)
///  - Adam:     Kingma & Ba 2015, Algorithm 1, with bias correction.
class Optimizer {
public:
    Optimizer(const OptimizerSpec& spec, Eigen::Index numParams);
    /// Applies one update. params, grad: numParams floats.
    void step(float* params, const float* grad);
    /// The same update applied to the parameters `from` (numParams floats, left as they are), written to `params`:
    /// the same bits as copying `from` into `params` and calling step(), in one pass over memory instead of two.
    void stepFrom(const float* from, float* params, const float* grad);
    /// The same update, the element-wise arithmetic split over the pool (parallel::forRanges): the same bits as
    /// step() whatever the thread count, for params and grad that Eigen allocated (aligned), as a server's are.
    void stepParallel(float* params, const float* grad);
    /// One step whose gradient is made piece by piece as the update consumes it: fill(begin, end) writes
    /// grad[begin, end) (e.g. the mean of the workers' gradients over those elements), then those elements are updated,
    /// while they are in cache; the pieces are split over the pool as in stepParallel(). The same bits as filling all
    /// of grad, then step(). `fill` is called from pool threads, on disjoint pieces.
    void stepFused(float* params, float* grad, const std::function<void(long begin, long end)>& fill);
    /// Analytic flops of one step() (per parameter: Sgd 2, Momentum 4, Adam 12).
    double flopsPerStep() const;
    /// The same count for an optimizer of kind `spec.kind` over `numParams` parameters, without building one
    /// (no state is allocated: for proxy workloads of millions of parameters).
    static double stepFlops(const OptimizerSpec& spec, double numParams);

    /// The state besides the parameters, as elastic training broadcasts it (Horovod's state.sync()): momentum's
    /// velocity or Adam's first then second moments, stateSize() = 0, n or 2n floats, and Adam's step count.
    Eigen::Index stateSize() const { return m_m.size() + m_v.size(); }
    /// Writes stateSize() floats to `out`; returns the step count.
    long saveState(float* out) const;
    /// Reads stateSize() floats written by saveState() of an optimizer of the same kind and size.
    void loadState(const float* in, long stepCount);

private:
    struct Coefficients {
        float c1 = 1, c2 = 1; ///< Adam's bias corrections 1 - b1^t and sqrt(1 - b2^t)
    };
    Coefficients advance();
    /// The update of elements [begin, end).
    /// params[begin, end) = the update of from[begin, end) (from may be params).
    void update(float* params, const float* grad, Eigen::Index begin, Eigen::Index end, const Coefficients& c,
                const float* from);
    void update(float* params, const float* grad, Eigen::Index begin, Eigen::Index end, const Coefficients& c)
    {
        update(params, grad, begin, end, c, params);
    }
    OptimizerSpec m_spec;
    Eigen::Index m_n;
    Eigen::ArrayXf m_m, m_v;
    long m_t = 0;
};

} // namespace dml
