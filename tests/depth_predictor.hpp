// Test helper: a small predictor trained on a known function of depth
// (latency = 1 + slope * depth) over `n` random archs of a preset. Tests only.
#pragma once
#include <string>
#include <vector>

#include "esm/predictor.hpp"
#include "esm/sample.hpp"
#include "esm/train.hpp"

namespace esm_test {

inline esm::Predictor depth_predictor(const std::string& preset, int n, double slope, int epochs,
                                      std::vector<int> hidden = {64, 64, 64}) {
    esm::Space s = esm::preset(preset);
    esm::Sampler sm(s, 3);
    esm::LatencyData d;
    for (const auto& a : sm.sample(esm::Strategy::Random, n, 5)) {
        d.archs.push_back(a);
        d.latency.push_back(1.0 + slope * a.depth());
    }
    d.target = "latency_ms";
    esm::TrainConfig cfg;
    cfg.mlp.epochs = epochs;
    cfg.mlp.min_steps = 0;
    cfg.mlp.hidden = std::move(hidden);
    return esm::train_predictor(s, d, cfg);
}

}  // namespace esm_test
