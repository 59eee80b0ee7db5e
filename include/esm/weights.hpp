// Backend-neutral parameters of a plan: for each op its unfolded tensors (conv weight,
// bias, BN gamma/beta/running mean/var, SE and linear weights), generated deterministically
// from a seed. Every executor (CPU, CUDA) and the .npy dump read the same values.
// Not a packing step: executors pack for themselves; BN folding is shared (below).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "esm/plan.hpp"

namespace esm {

constexpr float kBnEps = 1e-5f;  // BN: (x - mean) / sqrt(var + eps) * gamma + beta

// Unfolded parameters of one op; vectors an op does not have stay empty.
struct OpWeights {
    std::vector<float> weight;  // Conv (Cout, Cin/groups, k, k); Linear (O, F)
    std::vector<float> bias;    // Conv with bias, Linear: (Cout)
    std::vector<float> bn_gamma, bn_beta, bn_mean, bn_var;  // Conv with bn, BnAct: (C)
    std::vector<float> se_w1, se_b1;  // SE: (r, C), (r)
    std::vector<float> se_w2, se_b2;  // SE: (C, r), (C)
};

struct Weights {
    std::vector<OpWeights> ops;  // indexed like Plan::ops
};

// He-scaled uniform conv/linear weights, small biases, BN gamma in [0.5, 1], beta and
// mean small, var in [0.5, 1.5]: activations stay finite through the deepest presets.
// Each op's values depend only on (seed, op name, op shape), not on the other ops.
OpWeights make_op_weights(const Op& op, uint64_t seed);
Weights make_weights(const Plan& plan, uint64_t seed);

// BN folding, shared by every executor: a conv followed by BN is the same conv with each
// output channel's weights scaled and a bias (exact up to rounding: both are affine per
// channel). weight: (Cout, Cin/groups, k, k) folded copy; bias: (Cout).
void fold_conv_bn(const Op& op, const OpWeights& w, std::vector<float>* weight, std::vector<float>* bias);
// A standalone BN (BnAct) as y = scale * x + shift per channel; scale, shift: (C).
void bn_scale_shift(const Op& op, const OpWeights& w, std::vector<float>* scale, std::vector<float>* shift);

// One named parameter tensor, for dumps: "u0.b1.conv2.weight", shape (64, 64, 3, 3).
struct NamedParam {
    std::string name;
    std::vector<int> shape;
    const std::vector<float>* data;  // points into the Weights it was listed from
};
// Every parameter in execution order (running statistics included).
std::vector<NamedParam> list_params(const Plan& plan, const Weights& w);

// Deterministic input of plan (B, 3, R, R): uniform in [-1, 1) from the seed.
std::vector<float> make_input(const Plan& plan, uint64_t seed);

}  // namespace esm
