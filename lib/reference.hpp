// Naive oracle kernels (STYLE: every fast path has a slow oracle): plain loops, double
// accumulation, unfolded BN, no BLAS, no OpenMP. For tests only; never fast, never timed.
#pragma once
#include <cstdint>
#include <vector>

#include "esm/plan.hpp"
#include "esm/tensor.hpp"
#include "esm/weights.hpp"

namespace esm::ref {

double act(Act a, double x);

// One op of a plan. in: (B, op.in.c, H, W) view, in2: Add's second input, out: the op's
// output view (a channel slice when op.out is one). Writes every element of out.
void run_op(const Op& op, const OpWeights& w, const TensorView& in, const TensorView& in2, const TensorView& out);

// The whole plan on full, unshared buffers. input: (B, 3, R, R); returns
// the output value (B, C, H, W) contiguous (the logits (B, classes, 1, 1) for a network).
std::vector<float> forward(const Plan& plan, const Weights& w, const std::vector<float>& input);

}  // namespace esm::ref
