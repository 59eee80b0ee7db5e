// Sampling architectures from a space (SPEC §4): random, or balanced over depth bins
// with exact composition counting. Reproducible from a seed; no duplicates per call.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_set>
#include <vector>

#include "esm/arch.hpp"
#include "esm/rng.hpp"
#include "esm/space.hpp"

namespace esm {

enum class Strategy { Random, Balanced };
Strategy parse_strategy(const std::string& s);  // "random" | "balanced"
const char* strategy_name(Strategy s);

// n split over bins as evenly as their capacities allow: dealt one at a time to bins
// start, start + 1, ... (cyclically), skipping a bin once it holds its capacity; every
// bin below its capacity ends with floor or ceil of the even share. Sums to
// min(n, total capacity).
std::vector<int> stratified_counts(int n, const std::vector<double>& capacity, size_t start);
// One list per bin interleaved: the first of each bin (in order), then the second, ...
std::vector<Arch> interleave_bins(std::vector<std::vector<Arch>> per_bin);

// One thread at a time (it holds its random stream); one sampler per thread is fine.
class Sampler {
public:
    Sampler(const Space& space, uint64_t seed);

    // One architecture, each unit's depth uniform, each choice uniform (and resolution).
    Arch random();
    // One architecture whose depth lies in `bin` of n_bins, the depth vector uniform over
    // all depth vectors in that bin, then choices uniform.
    Arch in_bin(int bin, int n_bins);
    // A bin uniform over the n_bins bins, then in_bin.
    Arch balanced(int n_bins);

    // Search moves (Once-for-All's evolutionary search): each unit's depth, each block's
    // choices and the resolution are redrawn with probability prob; crossover takes each
    // unit's depth, each block's choices and the resolution from either parent.
    Arch mutate(const Arch& parent, double prob);
    Arch crossover(const Arch& a, const Arch& b);

    // n distinct architectures whose canonical text is not in `exclude` (nor repeated).
    // Throws when the space cannot supply that many distinct ones. Balanced: a repeat is
    // drawn again from a bin drawn again, so a bin near exhaustion (a small space) ends up
    // with fewer than its share; sample_stratified gives exact shares.
    std::vector<Arch> sample(Strategy strategy, int n, int n_bins,
                             const std::unordered_set<std::string>* exclude = nullptr);
    // The same n architectures as sample(strategy, n, n_bins), each handed to `each` with
    // its canonical text as it is drawn instead of kept: memory for the dedup only, a hash
    // of each text, about 40 bytes an architecture (esm-sample streams millions this way).
    void sample_each(Strategy strategy, int n, int n_bins,
                     const std::function<void(const Arch&, const std::string&)>& each);
    // n distinct architectures from one bin.
    std::vector<Arch> sample_bin(int bin, int n_bins, int n,
                                 const std::unordered_set<std::string>* exclude = nullptr);
    // n distinct architectures spread evenly over the bins (stratified_counts, each bin's
    // capacity its number of architectures not in `exclude`), interleaved bin by bin: the
    // loop's test set, "balanced over bins" in counts, not only in expectation as `balanced`
    // draws are. Throws when the space holds fewer than n not excluded.
    std::vector<Arch> sample_stratified(int n, int n_bins, const std::unordered_set<std::string>* exclude = nullptr);
    // Number of architectures whose depth lies in `bin` of n_bins (as double).
    double bin_size(int bin, int n_bins) const;

    // Number of depth vectors whose total depth is d (exact, as double).
    double depth_vector_count(int total_depth) const;

    Rng& rng() { return rng_; }

private:
    // What a run of draws draws from: the whole space by `strategy`, or one bin (in_bin).
    struct Draw {
        Strategy strategy = Strategy::Random;
        int bin = -1;  // >= 0: in_bin(bin, n_bins)
        int n_bins = 1;
        std::vector<double> vectors;  // depth vectors per bin (balanced and in-bin draws)
    };
    void fill_choices(Arch& a);
    // A draw of `strategy` (random, or balanced over n_bins, validated here).
    Draw draw_of(Strategy strategy, int n_bins, int bin = -1) const;
    Arch draw(const Draw& d);
    // The probability that one draw gives `a` (0 outside a bin's draw), and the number of
    // architectures a draw can give: how the distinct-draw loop tells a population used up
    // from a run of bad luck.
    double probability(const Draw& d, const Arch& a) const;
    double population(const Draw& d) const;
    BlockChoice random_block();
    std::vector<int> depth_vector_with_total(int total);
    std::vector<Arch> distinct(int n, const std::unordered_set<std::string>* exclude, const Draw& d);
    template <class Emit>
    void distinct_each(int n, const std::unordered_set<std::string>* exclude, const Draw& d, Emit emit);

    Space space_;
    Rng rng_;
    // ways_[u][s]: number of depth assignments of units u..end with total s.
    std::vector<std::vector<double>> ways_;
};

}  // namespace esm
