// Shared helpers of the executor tests: run a plan on the CPU executor and compare with
// the oracle (lib/reference.cpp) under |d| <= max(atol, rtol*|ref|). Tests only.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "esm/executor.hpp"
#include "reference.hpp"

namespace esm_test {

// Runs `plan` with weights from `seed` on both paths; the executor's output is prefilled
// with NaN so a kernel that skips a write fails. Returns false on the first mismatch.
inline ::testing::AssertionResult executor_matches_reference(const esm::Plan& plan, uint64_t seed, int threads,
                                                             double rtol = 1e-3, double atol_rel = 1e-4) {
    esm::Weights w = esm::make_weights(plan, seed);
    std::vector<float> input = esm::make_input(plan, seed + 7);
    const esm::BufferInfo& ib = plan.buffers[plan.input.buf];
    input.resize(size_t(plan.batch) * ib.c * ib.h * ib.w);
    for (size_t i = 0; i < input.size(); ++i) input[i] = float(std::sin(0.37 * double(i) + double(seed)));
    const std::vector<float> ref = esm::ref::forward(plan, w, input);

    esm::ExecutorOptions o;
    o.threads = threads;
    auto ex = esm::Executor::create(plan, w, o);
    esm::TensorView in = ex->input();
    std::copy(input.begin(), input.end(), in.data);
    esm::TensorView out = ex->output();
    for (int b = 0; b < out.n; ++b)
        for (int c = 0; c < out.c; ++c)
            std::fill(out.channel(b, c), out.channel(b, c) + out.plane(), std::numeric_limits<float>::quiet_NaN());
    ex->run();
    double maxref = 0;
    for (float v : ref) maxref = std::max(maxref, double(std::fabs(v)));
    const double atol = atol_rel * std::max(1.0, maxref);
    if (!std::isfinite(maxref)) return ::testing::AssertionFailure() << "reference output not finite";
    int64_t i = 0;
    for (int b = 0; b < out.n; ++b)
        for (int c = 0; c < out.c; ++c)
            for (int64_t j = 0; j < out.plane(); ++j, ++i) {
                const double got = out.channel(b, c)[j], want = ref[size_t(i)];
                if (!(std::fabs(got - want) <= std::max(atol, rtol * std::fabs(want))))
                    return ::testing::AssertionFailure()
                           << "first mismatch at index " << i << " (b=" << b << " c=" << c << " hw=" << j
                           << "): got " << got << " want " << want << " (atol " << atol << ", rtol " << rtol << ")";
            }
    return ::testing::AssertionSuccess();
}

}  // namespace esm_test
