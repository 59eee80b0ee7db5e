// Random and balanced sampling (SPEC §4). Balanced sampling counts depth vectors per
// total exactly (dynamic programming over units) instead of rejecting blindly.
#include "esm/sample.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "esm/common.hpp"

namespace esm {

Strategy parse_strategy(const std::string& s) {
    if (s == "random") return Strategy::Random;
    if (s == "balanced") return Strategy::Balanced;
    throw Error(ErrorKind::InvalidArgument, "unknown sampling strategy '" + s + "' (expected random or balanced)");
}

const char* strategy_name(Strategy s) { return s == Strategy::Random ? "random" : "balanced"; }

Sampler::Sampler(const Space& space, uint64_t seed) : space_(space), rng_(seed) {
    space_.validate();
    const size_t n = space_.units.size();
    const int max_total = space_.max_depth();
    ways_.assign(n + 1, std::vector<double>(max_total + 1, 0.0));
    ways_[n][0] = 1.0;
    for (size_t u = n; u-- > 0;)
        for (int s = 0; s <= max_total; ++s)
            for (int d = space_.units[u].min_depth; d <= space_.units[u].max_depth && d <= s; ++d)
                ways_[u][s] += ways_[u + 1][s - d];
}

double Sampler::depth_vector_count(int total) const {
    if (total < 0 || total >= static_cast<int>(ways_[0].size())) return 0.0;
    return ways_[0][total];
}

void Sampler::fill_choices(Arch& a) {
    const size_t nc = space_.choices.size();
    for (auto& unit : a.units) {
        if (space_.per_unit_choices) {
            BlockChoice b{};
            for (size_t i = 0; i < nc; ++i) b[i] = static_cast<uint8_t>(rng_.below(space_.choices[i].values.size()));
            for (auto& blk : unit) blk = b;
        } else {
            for (auto& blk : unit) {
                blk = BlockChoice{};
                for (size_t i = 0; i < nc; ++i) blk[i] = static_cast<uint8_t>(rng_.below(space_.choices[i].values.size()));
            }
        }
    }
    a.res = space_.resolutions[rng_.below(space_.resolutions.size())];
}

BlockChoice Sampler::random_block() {
    BlockChoice b{};
    for (size_t i = 0; i < space_.choices.size(); ++i) b[i] = static_cast<uint8_t>(rng_.below(space_.choices[i].values.size()));
    return b;
}

Arch Sampler::mutate(const Arch& parent, double prob) {
    validate_arch(space_, parent);
    Arch a = parent;
    for (size_t u = 0; u < a.units.size(); ++u) {
        auto& unit = a.units[u];
        if (rng_.uniform() < prob) {
            const size_t d = static_cast<size_t>(rng_.range(space_.units[u].min_depth, space_.units[u].max_depth));
            const BlockChoice fill = space_.per_unit_choices ? unit.front() : BlockChoice{};
            while (unit.size() < d) unit.push_back(space_.per_unit_choices ? fill : random_block());
            unit.resize(d);
        }
        if (space_.per_unit_choices) {
            if (rng_.uniform() < prob) unit.assign(unit.size(), random_block());
        } else {
            for (auto& b : unit)
                if (rng_.uniform() < prob) b = random_block();
        }
    }
    if (rng_.uniform() < prob) a.res = space_.resolutions[rng_.below(space_.resolutions.size())];
    return a;
}

Arch Sampler::crossover(const Arch& x, const Arch& y) {
    validate_arch(space_, x);
    validate_arch(space_, y);
    Arch a;
    a.units.resize(space_.units.size());
    for (size_t u = 0; u < a.units.size(); ++u) {
        const auto& px = x.units[u];
        const auto& py = y.units[u];
        const size_t d = rng_.below(2) ? px.size() : py.size();
        const bool unit_from_x = rng_.below(2) != 0;
        for (size_t b = 0; b < d; ++b) {
            const bool from_x = space_.per_unit_choices ? unit_from_x : rng_.below(2) != 0;
            const auto& first = from_x ? px : py;
            const auto& second = from_x ? py : px;
            a.units[u].push_back(space_.per_unit_choices ? first.front() : b < first.size() ? first[b] : second[b]);
        }
    }
    a.res = rng_.below(2) ? x.res : y.res;
    return a;
}

Arch Sampler::random() {
    Arch a;
    a.units.resize(space_.units.size());
    for (size_t u = 0; u < space_.units.size(); ++u)
        a.units[u].resize(static_cast<size_t>(rng_.range(space_.units[u].min_depth, space_.units[u].max_depth)));
    fill_choices(a);
    return a;
}

// Draws a depth vector uniformly among those with the given total: unit by unit, the
// unit's depth d is chosen with weight ways_[u+1][rest - d].
std::vector<int> Sampler::depth_vector_with_total(int total) {
    std::vector<int> depths(space_.units.size());
    int rest = total;
    for (size_t u = 0; u < space_.units.size(); ++u) {
        double r = rng_.uniform() * ways_[u][rest];
        int chosen = -1;
        for (int d = space_.units[u].min_depth; d <= space_.units[u].max_depth && d <= rest; ++d) {
            double w = ways_[u + 1][rest - d];
            if (w <= 0) continue;
            chosen = d;
            if (r < w) break;
            r -= w;
        }
        depths[u] = chosen;
        rest -= chosen;
    }
    return depths;
}

Arch Sampler::in_bin(int bin, int n_bins) {
    const int lo = space_.bin_lo(bin, n_bins), hi = space_.bin_hi(bin, n_bins);
    double total = 0;
    for (int t = lo; t <= hi; ++t) total += ways_[0][t];
    double r = rng_.uniform() * total;
    int t = lo;
    for (; t < hi; ++t) {
        if (r < ways_[0][t]) break;
        r -= ways_[0][t];
    }
    while (ways_[0][t] <= 0) --t;  // floating-point edge: land on a populated total
    Arch a;
    a.units.resize(space_.units.size());
    auto depths = depth_vector_with_total(t);
    for (size_t u = 0; u < depths.size(); ++u) a.units[u].resize(static_cast<size_t>(depths[u]));
    fill_choices(a);
    return a;
}

Arch Sampler::balanced(int n_bins) {
    space_.bin_of(space_.min_depth(), n_bins);
    return in_bin(static_cast<int>(rng_.below(static_cast<uint64_t>(n_bins))), n_bins);
}

Sampler::Draw Sampler::draw_of(Strategy strategy, int n_bins, int bin) const {
    if (bin >= 0) space_.bin_lo(bin, n_bins);  // validates bin and n_bins, even when none are drawn
    if (strategy == Strategy::Balanced) space_.bin_of(space_.min_depth(), n_bins);
    Draw d;
    d.strategy = strategy;
    d.bin = bin;
    d.n_bins = strategy == Strategy::Balanced || bin >= 0 ? n_bins : 1;
    if (strategy == Strategy::Balanced || bin >= 0)
        for (int b = 0; b < d.n_bins; ++b) {
            double v = 0;
            for (int t = space_.bin_lo(b, d.n_bins); t <= space_.bin_hi(b, d.n_bins); ++t) v += ways_[0][t];
            d.vectors.push_back(v);
        }
    return d;
}

Arch Sampler::draw(const Draw& d) {
    if (d.bin >= 0) return in_bin(d.bin, d.n_bins);
    return d.strategy == Strategy::Balanced ? balanced(d.n_bins) : random();
}

double Sampler::probability(const Draw& d, const Arch& a) const {
    double per_block = 1;  // choices of one block (or of one unit, with per-unit choices)
    for (const auto& c : space_.choices) per_block *= static_cast<double>(c.values.size());
    double p = 1.0 / static_cast<double>(space_.resolutions.size());
    for (size_t u = 0; u < a.units.size(); ++u)
        p /= space_.per_unit_choices ? per_block : std::pow(per_block, static_cast<double>(a.units[u].size()));
    if (d.bin < 0 && d.strategy == Strategy::Random) {  // each unit's depth uniform
        for (const auto& u : space_.units) p /= u.max_depth - u.min_depth + 1;
        return p;
    }
    // in_bin: a total with weight ways(total), then one of its ways(total) depth vectors.
    const int bin = space_.bin_of(a.depth(), d.n_bins);
    if (d.bin >= 0 && bin != d.bin) return 0;
    return p / d.vectors[static_cast<size_t>(bin)] / (d.bin >= 0 ? 1 : d.n_bins);
}

double Sampler::population(const Draw& d) const { return d.bin >= 0 ? bin_size(d.bin, d.n_bins) : bin_size(0, 1); }

template <class Emit>
void Sampler::distinct_each(int n, const std::unordered_set<std::string>* exclude, const Draw& d, Emit emit) {
    if (n < 0) throw Error(ErrorKind::InvalidArgument, "cannot sample a negative number of architectures");
    const std::string where = d.bin >= 0 ? "bin " + std::to_string(d.bin) + " of " + std::to_string(d.n_bins) : "the space";
    auto too_few = [&](int got, double available, bool net_of_excluded) {
        char num[32];
        std::snprintf(num, sizeof num, "%.0f", available);
        return Error(ErrorKind::InvalidArgument, "could not draw " + std::to_string(n) +
                                                     " distinct architectures (got " + std::to_string(got) + "); " +
                                                     where + " holds " + num + (net_of_excluded ? " not excluded" : "") +
                                                     (available < 1e15 ? "" : " (about)"));
    };
    const double size = population(d);
    if (n > size) throw too_few(0, size, false);
    // The hashes of the texts drawn, not the texts: about 40 bytes an architecture in the set
    // instead of its text too (two that collide count as one, which only skips the second:
    // still n distinct).
    std::unordered_set<uint64_t> seen;
    seen.reserve(static_cast<size_t>(n));
    // A long run of repeats is told apart from bad luck by what is left: the architectures
    // of the population neither excluded nor drawn (too few: an error at once), and their
    // probability in one draw (a run of 50 / that repeats has odds e^-50). The excluded
    // ones are counted once, lazily: most calls never repeat that often.
    double drawn_probability = 0;
    bool counted = false;
    double excluded = 0, excluded_probability = 0;
    int64_t misses = 0;
    std::string key;
    for (int got = 0; got < n;) {
        Arch a = draw(d);
        key = format_arch(space_, a);
        if ((exclude && exclude->count(key)) || !seen.insert(std::hash<std::string>{}(key)).second) {
            if (++misses < 1000) continue;
            if (!counted && exclude) {
                for (const auto& text : *exclude) {
                    Arch x;
                    try {
                        x = parse_arch(space_, text);
                    } catch (const Error&) {
                        continue;  // not of this space: not in the population
                    }
                    if (d.bin >= 0 && space_.bin_of(x.depth(), d.n_bins) != d.bin) continue;
                    ++excluded;
                    excluded_probability += probability(d, x);
                }
            }
            counted = true;
            const double left = size - excluded - got;
            if (left < n - got) throw too_few(got, size - excluded, exclude != nullptr);
            const double p_left = 1 - excluded_probability - drawn_probability;
            if (p_left <= 0 || static_cast<double>(misses) > 50 / p_left)
                throw Error(ErrorKind::Internal, "could not draw " + std::to_string(n) + " distinct architectures (got " +
                                                     std::to_string(got) + ") in " + std::to_string(misses) +
                                                     " draws; " + where + " should hold more");
            continue;
        }
        misses = 0;
        ++got;
        drawn_probability += probability(d, a);
        emit(std::move(a), key);
    }
}

std::vector<Arch> Sampler::distinct(int n, const std::unordered_set<std::string>* exclude, const Draw& d) {
    std::vector<Arch> out;
    out.reserve(static_cast<size_t>(std::max(n, 0)));
    distinct_each(n, exclude, d, [&](Arch&& a, const std::string&) { out.push_back(std::move(a)); });
    return out;
}

void Sampler::sample_each(Strategy strategy, int n, int n_bins,
                          const std::function<void(const Arch&, const std::string&)>& each) {
    distinct_each(n, nullptr, draw_of(strategy, n_bins), [&](Arch&& a, const std::string& text) { each(a, text); });
}

std::vector<Arch> Sampler::sample(Strategy strategy, int n, int n_bins, const std::unordered_set<std::string>* exclude) {
    return distinct(n, exclude, draw_of(strategy, n_bins));
}

std::vector<Arch> Sampler::sample_bin(int bin, int n_bins, int n, const std::unordered_set<std::string>* exclude) {
    return distinct(n, exclude, draw_of(Strategy::Balanced, n_bins, bin));
}

double Sampler::bin_size(int bin, int n_bins) const {
    double per_block = 1;  // choices of one block (or of one unit, with per-unit choices)
    for (const auto& c : space_.choices) per_block *= static_cast<double>(c.values.size());
    const double units = static_cast<double>(space_.units.size());
    double n = 0;
    for (int t = space_.bin_lo(bin, n_bins); t <= space_.bin_hi(bin, n_bins); ++t)
        n += ways_[0][t] * std::pow(per_block, space_.per_unit_choices ? units : t);
    return n * static_cast<double>(space_.resolutions.size());
}

std::vector<Arch> Sampler::sample_stratified(int n, int n_bins, const std::unordered_set<std::string>* exclude) {
    if (n < 0) throw Error(ErrorKind::InvalidArgument, "cannot sample a negative number of architectures");
    space_.bin_of(space_.min_depth(), n_bins);  // validates n_bins
    std::vector<double> cap(static_cast<size_t>(n_bins));
    for (int b = 0; b < n_bins; ++b) cap[b] = bin_size(b, n_bins);
    // A bin's capacity is what it holds not excluded: a bin the excluded set has used up
    // deals its share to the others (as Pool::draw_stratified does), instead of sample_bin
    // failing on it. The excluded are counted only where they can change the dealing: a bin
    // holding fewer than n plus the excluded ones.
    bool net = false;
    if (exclude && !exclude->empty())
        for (double c : cap) net = net || c < static_cast<double>(n) + static_cast<double>(exclude->size());
    if (net) {
        Arch x;
        for (const auto& text : *exclude)
            if (try_parse_arch(space_, text, &x, nullptr)) cap[static_cast<size_t>(space_.bin_of(x.depth(), n_bins))] -= 1;
    }
    const std::vector<int> count = stratified_counts(n, cap, rng_.below(static_cast<uint64_t>(n_bins)));
    if (std::accumulate(count.begin(), count.end(), 0) < n) {
        char held[32];
        std::snprintf(held, sizeof held, "%.0f", std::accumulate(cap.begin(), cap.end(), 0.0));
        throw Error(ErrorKind::InvalidArgument, "could not draw " + std::to_string(n) +
                                                    " distinct architectures: the space holds " + held +
                                                    (net ? " not excluded" : ""));
    }
    std::vector<std::vector<Arch>> per_bin;
    for (int b = 0; b < n_bins; ++b) per_bin.push_back(sample_bin(b, n_bins, count[b], exclude));
    return interleave_bins(std::move(per_bin));
}

std::vector<int> stratified_counts(int n, const std::vector<double>& capacity, size_t start) {
    const size_t k = capacity.size();
    std::vector<int> count(k, 0);
    if (k == 0) return count;
    for (int given = 0; given < n;) {
        bool any = false;
        for (size_t i = 0; i < k && given < n; ++i) {
            const size_t b = (start + i) % k;
            if (count[b] < capacity[b]) {
                ++count[b];
                ++given;
                any = true;
            }
        }
        if (!any) break;  // every bin full
    }
    return count;
}

std::vector<Arch> interleave_bins(std::vector<std::vector<Arch>> per_bin) {
    std::vector<Arch> out;
    for (size_t i = 0;; ++i) {
        bool any = false;
        for (auto& bin : per_bin)
            if (i < bin.size()) {
                out.push_back(std::move(bin[i]));
                any = true;
            }
        if (!any) return out;
    }
}

}  // namespace esm
