// Algorithm 1 of the ESM paper: weighted allocation of N_step new samples to bins.
#include "esm/extend.hpp"

#include <algorithm>
#include <cmath>

#include "esm/common.hpp"

namespace esm {

std::vector<int> extension_per_bin(const std::vector<double>& acc, double acc_th, int n_step, double w1, double w2) {
    if (acc.empty()) throw Error(ErrorKind::InvalidArgument, "extension needs at least one bin");
    if (n_step < 0) throw Error(ErrorKind::InvalidArgument, "N_step must be >= 0");
    if (!(w1 >= 0) || !(w2 >= 0) || w1 + w2 <= 0 || !std::isfinite(w1) || !std::isfinite(w2))
        throw Error(ErrorKind::InvalidArgument, "weights w1, w2 must be finite, >= 0 and not both 0");
    int below = 0;
    for (double a : acc) below += !(a >= acc_th);  // NaN counts as below
    const int above = static_cast<int>(acc.size()) - below;
    // Only the ratio of the weights matters: both scaled by the power of two that brings the
    // larger weight of a group with bins to [1, 2). Exact (the same quotients, bit for bit,
    // for every weight in the normal range), and N_norm and N_step * w can then neither
    // overflow (w1 = w2 = 1e308 made N_norm inf and every share NaN, cast to int: undefined)
    // nor underflow to 0 (w1 = 1e6, w2 = 1e-320).
    const double top = std::max(below ? w1 : 0.0, above ? w2 : 0.0);
    std::vector<int> out(acc.size(), 0);
    if (top <= 0) return out;  // e.g. every bin below but w1 = 0: nothing asked for
    const int scale = -std::ilogb(top);
    const double s1 = std::ldexp(w1, scale), s2 = std::ldexp(w2, scale);
    // (A group without bins adds nothing: its weight, scaled, may be inf, and inf * 0 is NaN.)
    const double norm = (below ? s1 * below : 0.0) + (above ? s2 * above : 0.0);
    // ceil(N_step * w / N_norm), a relative hair below so that an exact division rounded up
    // by the floating point stays (an absolute one turned shares up to 1e-9 into 0, and
    // added 1 to exact ones from N_step ~ 1e8). Only for a group that has bins: the other
    // one's share can be beyond int (w1 = 1, w2 = 1e-300, every bin above: 5e301). A positive
    // weight's share is at least 1, the ceiling of a positive number, also where the quotient
    // underflows to 0 (w1 = 1e6, w2 = 1e-320 with bins in both groups: 1e-318 / 1e6).
    auto share = [&](int bins, double w, double scaled) {
        if (!bins || !(w > 0) || n_step == 0) return 0;
        return std::max(1, static_cast<int>(std::ceil(n_step * scaled / norm * (1 - 1e-12))));
    };
    const int per_below = share(below, w1, s1), per_above = share(above, w2, s2);
    for (size_t b = 0; b < acc.size(); ++b) out[b] = !(acc[b] >= acc_th) ? per_below : per_above;
    return out;
}

std::vector<int> fit_extension(const std::vector<int>& asked, int room) {
    long long total = 0;
    for (int a : asked) {
        if (a < 0) throw Error(ErrorKind::InvalidArgument, "an extension asks a negative number of samples of a bin");
        total += a;
    }
    room = std::max(room, 0);
    if (total <= room) return asked;
    std::vector<int> out(asked.size());
    std::vector<size_t> order(asked.size());
    std::vector<long long> rest(asked.size());
    long long given = 0;
    for (size_t b = 0; b < asked.size(); ++b) {
        const long long share = static_cast<long long>(room) * asked[b];
        out[b] = static_cast<int>(share / total);
        rest[b] = share % total;
        given += out[b];
        order[b] = b;
    }
    std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) { return rest[x] > rest[y]; });
    for (size_t i = 0; given < room; ++i, ++given) ++out[order[i]];
    return out;
}

}  // namespace esm
