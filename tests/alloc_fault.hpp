// One failing C++ allocation on demand, for tests of what an out-of-memory does. The hook
// lives in test_executor.cpp's replacement operator new (absent under AddressSanitizer,
// which owns operator new: kAllocFaultHook is false there and such tests skip).
#pragma once

#include <atomic>

namespace esm_test {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAllocFaultHook = false;
#else
constexpr bool kAllocFaultHook = true;
#endif

// n > 0: the n-th operator new from now throws std::bad_alloc (once); 0: none.
extern std::atomic<long> g_fail_new_in;
// Whether the armed failure has happened (set when it throws; cleared by arm_alloc_fault).
extern std::atomic<bool> g_fail_new_hit;

inline void arm_alloc_fault(long n) {
    g_fail_new_hit = false;
    g_fail_new_in = n;
}
inline bool disarm_alloc_fault() {
    g_fail_new_in = 0;
    return g_fail_new_hit.load();
}

}  // namespace esm_test
