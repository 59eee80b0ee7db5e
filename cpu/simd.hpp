// Internal: what the AVX-512 and AVX2 kernels (packed_gemm, depthwise, direct conv,
// im2col) share beyond lib/x86_simd.hpp: the activations on 16 and 8 lanes, 8-lane masks
// and the strided row copy. Only called after cpu_has_avx512() / cpu_has_avx2_fma()
// (lib/cpu_features.hpp).
#pragma once

#include "esm/space.hpp"
#include "x86_simd.hpp"

#if defined(ESM_X86_SIMD)
namespace esm::cpu {

// act<A> (kernels.hpp) on 16 lanes, in the scalar version's operation order.
template <Act A>
ESM_AVX512 inline __m512 act512(__m512 x) {
    if constexpr (A == Act::ReLU) return _mm512_max_ps(x, _mm512_setzero_ps());
    if constexpr (A == Act::HSwish || A == Act::HSigmoid) {
        const __m512 r6 = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(x, _mm512_set1_ps(3.0f)), _mm512_setzero_ps()),
                                        _mm512_set1_ps(6.0f));
        const __m512 sixth = _mm512_set1_ps(1.0f / 6.0f);
        // x * relu6(x + 3) * (1/6), relu6(x + 3) * (1/6)
        if constexpr (A == Act::HSwish) return _mm512_mul_ps(_mm512_mul_ps(x, r6), sixth);
        return _mm512_mul_ps(r6, sixth);
    }
    return x;
}

// act<A> on 8 lanes (AVX2), the same operation order.
template <Act A>
ESM_AVX2 inline __m256 act256(__m256 x) {
    if constexpr (A == Act::ReLU) return _mm256_max_ps(x, _mm256_setzero_ps());
    if constexpr (A == Act::HSwish || A == Act::HSigmoid) {
        const __m256 r6 = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(x, _mm256_set1_ps(3.0f)), _mm256_setzero_ps()),
                                        _mm256_set1_ps(6.0f));
        const __m256 sixth = _mm256_set1_ps(1.0f / 6.0f);
        if constexpr (A == Act::HSwish) return _mm256_mul_ps(_mm256_mul_ps(x, r6), sixth);
        return _mm256_mul_ps(r6, sixth);
    }
    return x;
}

// The first n (clamped to 0..8) lanes of an 8-lane mask for maskload / maskstore.
ESM_AVX2 inline __m256i lanes8(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// d[j] = row[S j + first] where that column lies inside [0, w), else 0, for j < n: the rows
// of a zero-padded (S = 2: column-deinterleaved) plane or of im2col's columns. Masked loads
// read nothing outside the row (masked-off lanes never fault). The masks depend on the
// column only, so they are worked out once for all rows of a plane: computed per vector
// they were most of the instructions (a 112 x 112 plane's stride-2 copy took ~3 us).
template <int S>
class RowCopy512 {
public:
    static_assert(S == 1 || S == 2, "stride 1 or 2");
    RowCopy512(int w, int first, int n) : w_(w), first_(first), n_(n) {
        for (int j = 0, q = 0; j < n && q < kMaxVectors; j += 16, ++q) m_[q] = masks(j);
    }
    ESM_AVX512 void operator()(const float* row, float* d) const {
        const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
        for (int j = 0, q = 0; j < n_; j += 16, ++q) {
            const Masks m = q < kMaxVectors ? m_[q] : masks(j);
            const int i = S * j + first_;  // input column of lane 0
            __m512 v = _mm512_maskz_loadu_ps(m.a, row + i);
            if constexpr (S == 2) v = _mm512_permutex2var_ps(v, even, _mm512_maskz_loadu_ps(m.b, row + i + 16));
            _mm512_mask_storeu_ps(d + j, m.s, v);
        }
    }

private:
    static constexpr int kMaxVectors = 32;  // rows up to 512 outputs from the table
    struct Masks {
        __mmask16 a, b, s;  // loads of row[i ..], row[i + 16 ..]; the store
    };
    Masks masks(int j) const {
        const int i = S * j + first_;
        return Masks{static_cast<__mmask16>(lanes(w_ - i) & ~lanes(-i)),
                     static_cast<__mmask16>(lanes(w_ - i - 16) & ~lanes(-i - 16)), lanes(n_ - j)};
    }
    int w_, first_, n_;
    Masks m_[kMaxVectors];
};

}  // namespace esm::cpu
#endif
