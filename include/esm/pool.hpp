// A measured pool for replay: an already measured dataset (e.g. HELP's OFA latencies)
// that stands in for a device, so sampling strategies can be compared in seconds (the
// paper's Fig. 11). Sampling draws from the pool's architectures, never the whole space.
#pragma once
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "esm/arch.hpp"
#include "esm/rng.hpp"
#include "esm/sample.hpp"
#include "esm/space.hpp"

namespace esm {

class Pool {
public:
    // Reads `path` (a CSV with an `arch` column and the numeric `target` column); every
    // arch must parse in `space`; duplicates keep their first latency. A libesm dataset's
    // samples are drift-corrected by its reference rows (esm::drift_factors), as the loop
    // that measured them trained on them, unless `drift_correction` is false (the readings).
    Pool(const Space& space, const std::string& path, const std::string& target, bool drift_correction = true);

    size_t size() const { return archs_.size(); }
    const std::vector<Arch>& archs() const { return archs_; }
    // Latency of an architecture in the pool; throws when it is not there.
    double latency(const std::string& arch_text) const;
    bool contains(const std::string& arch_text) const { return latency_.count(arch_text) != 0; }

    // n distinct pool archs not in `exclude`: random = uniform over the pool; balanced =
    // a bin uniform over the bins that still have unused archs, then uniform in the bin.
    // Returns fewer than n only when the pool runs out.
    std::vector<Arch> draw(Strategy strategy, int n, int n_bins, Rng& rng, const std::unordered_set<std::string>& exclude) const;
    // n distinct archs from one bin (fewer if the bin runs out).
    std::vector<Arch> draw_bin(int bin, int n_bins, int n, Rng& rng, const std::unordered_set<std::string>& exclude) const;
    // n distinct archs spread evenly over the bins, as far as each bin's unused archs allow
    // (esm::stratified_counts), interleaved bin by bin (Sampler::sample_stratified).
    std::vector<Arch> draw_stratified(int n, int n_bins, Rng& rng, const std::unordered_set<std::string>& exclude) const;

private:
    // Up to n shuffled unused archs of each bin (draw_bin per bin).
    std::vector<std::vector<Arch>> draw_bins(int n, int n_bins, Rng& rng, const std::unordered_set<std::string>& exclude) const;

    Space space_;
    std::vector<Arch> archs_;
    std::vector<int> depth_;  // archs_[i].depth()
    std::vector<std::string> texts_;
    std::unordered_map<std::string, double> latency_;
};

}  // namespace esm
