// Replay pool (esm/pool.hpp): load a measured CSV, look latencies up, draw from it.
#include "esm/pool.hpp"

#include <algorithm>

#include "esm/common.hpp"
#include "esm/train.hpp"

namespace esm {

Pool::Pool(const Space& space, const std::string& path, const std::string& target, bool drift_correction)
    : space_(space) {
    LatencyData d = read_latency_data(path, space_, target, drift_correction);
    for (size_t i = 0; i < d.size(); ++i) {
        std::string text = format_arch(space_, d.archs[i]);
        if (latency_.emplace(text, d.latency[i]).second) {
            depth_.push_back(d.archs[i].depth());
            archs_.push_back(d.archs[i]);
            texts_.push_back(std::move(text));
        }
    }
}

double Pool::latency(const std::string& text) const {
    auto it = latency_.find(text);
    if (it == latency_.end()) throw Error(ErrorKind::InvalidArgument, "architecture not in the pool: " + text);
    return it->second;
}

std::vector<Arch> Pool::draw_bin(int bin, int n_bins, int n, Rng& rng, const std::unordered_set<std::string>& exclude) const {
    // Each depth's bin looked up in a table: the loop draws from every bin each iteration,
    // and the arch's depth and Space::bin_of (sums over the units) per arch and bin made a
    // draw from a large pool cost far more than the training it feeds.
    std::vector<int> bin_of_depth;
    const int lo = space_.min_depth();
    if (bin >= 0 && !archs_.empty())
        for (int d = lo; d <= space_.max_depth(); ++d) bin_of_depth.push_back(space_.bin_of(d, n_bins));
    std::vector<size_t> idx;
    for (size_t i = 0; i < archs_.size(); ++i)
        if ((bin < 0 || bin_of_depth[static_cast<size_t>(depth_[i] - lo)] == bin) && !exclude.count(texts_[i]))
            idx.push_back(i);
    std::vector<Arch> out;
    // Partial Fisher-Yates: the first n of a uniform shuffle.
    for (size_t k = 0; k < idx.size() && static_cast<int>(out.size()) < n; ++k) {
        size_t j = k + static_cast<size_t>(rng.below(idx.size() - k));
        std::swap(idx[k], idx[j]);
        out.push_back(archs_[idx[k]]);
    }
    return out;
}

std::vector<std::vector<Arch>> Pool::draw_bins(int n, int n_bins, Rng& rng, const std::unordered_set<std::string>& exclude) const {
    std::vector<std::vector<Arch>> per_bin(static_cast<size_t>(n_bins));
    for (int b = 0; b < n_bins; ++b) per_bin[b] = draw_bin(b, n_bins, n, rng, exclude);
    return per_bin;
}

std::vector<Arch> Pool::draw_stratified(int n, int n_bins, Rng& rng, const std::unordered_set<std::string>& exclude) const {
    std::vector<std::vector<Arch>> per_bin = draw_bins(n, n_bins, rng, exclude);
    std::vector<double> cap;
    for (const auto& bin : per_bin) cap.push_back(static_cast<double>(bin.size()));
    const std::vector<int> count = stratified_counts(n, cap, rng.below(static_cast<uint64_t>(n_bins)));
    for (int b = 0; b < n_bins; ++b) per_bin[b].resize(static_cast<size_t>(count[b]));
    return interleave_bins(std::move(per_bin));
}

std::vector<Arch> Pool::draw(Strategy strategy, int n, int n_bins, Rng& rng, const std::unordered_set<std::string>& exclude) const {
    if (strategy == Strategy::Random) return draw_bin(-1, n_bins, n, rng, exclude);
    // Balanced: per-bin shuffled queues; each draw picks a bin uniformly among non-empty ones.
    std::vector<std::vector<Arch>> queues = draw_bins(n, n_bins, rng, exclude);
    std::vector<Arch> out;
    while (static_cast<int>(out.size()) < n) {
        std::vector<int> live;
        for (int b = 0; b < n_bins; ++b)
            if (!queues[b].empty()) live.push_back(b);
        if (live.empty()) break;
        auto& q = queues[live[rng.below(live.size())]];
        out.push_back(q.back());
        q.pop_back();
    }
    return out;
}

}  // namespace esm
