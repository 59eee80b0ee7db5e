// Out-of-line parts of the library RNG (esm/rng.hpp).
#include "esm/rng.hpp"

#include <cmath>

namespace esm {

double Rng::normal() {
    double u1 = uniform(), u2 = uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

}  // namespace esm
