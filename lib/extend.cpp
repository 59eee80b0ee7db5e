// Algorithm 1 of the ESM paper: weighted allocation of N_step new samples to bins.
#include "esm/extend.hpp"

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
    const double norm = w1 * below + w2 * above;
    std::vector<int> out(acc.size(), 0);
    if (norm <= 0) return out;  // e.g. every bin below but w1 = 0: nothing asked for
    const int per_below = static_cast<int>(std::ceil(n_step * w1 / norm - 1e-9));
    const int per_above = static_cast<int>(std::ceil(n_step * w2 / norm - 1e-9));
    for (size_t b = 0; b < acc.size(); ++b) out[b] = !(acc[b] >= acc_th) ? per_below : per_above;
    return out;
}

}  // namespace esm
