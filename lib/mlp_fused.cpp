// Fused inference kernels for the MLP (see mlp_fused.hpp).
#include "mlp_fused.hpp"

#include <algorithm>
#include <utility>

#include "cpu_features.hpp"
#include "x86_simd.hpp"

namespace esm::detail {

#if defined(ESM_X86_SIMD)
namespace avx512 {
#define ESM_FUSED_TARGET ESM_AVX512
struct Ops {
    using T = __m512;
    static constexpr int W = 16, kRows = 6, kMaxNV = 4;  // 24 accumulators of 32 registers
    ESM_FUSED_TARGET static T load(const float* p) { return _mm512_loadu_ps(p); }
    ESM_FUSED_TARGET static void store(float* p, T v) { _mm512_storeu_ps(p, v); }
    ESM_FUSED_TARGET static T set1(float v) { return _mm512_set1_ps(v); }
    ESM_FUSED_TARGET static T zero() { return _mm512_setzero_ps(); }
    ESM_FUSED_TARGET static T fma(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
    ESM_FUSED_TARGET static T relu(T v) { return _mm512_max_ps(v, _mm512_setzero_ps()); }
    using Mask = __mmask16;
    static Mask first(int n) { return lanes(n); }
    ESM_FUSED_TARGET static T loadm(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
    ESM_FUSED_TARGET static void storem(float* p, T v, Mask m) { _mm512_mask_storeu_ps(p, m, v); }
    // p[0], p[stride], ... p[15 * stride], the masked-off lanes zero and not read
    ESM_FUSED_TARGET static T gather(const float* p, int stride, Mask m) {
        const __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                               _mm512_set1_epi32(stride));
        return _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, p, 4);
    }
    ESM_FUSED_TARGET static T keep_positive(T v, T m) {
        return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(m, _mm512_setzero_ps(), _CMP_GT_OQ), v);
    }
    ESM_FUSED_TARGET static float hsum(T v) { return _mm512_reduce_add_ps(v); }
    ESM_FUSED_TARGET static int nonzeros(const float* x, int n, int* idx) {
        const __m512i step = _mm512_set1_epi32(16);
        __m512i k = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        int c = 0;
        for (int i = 0; i < n; i += 16, k = _mm512_add_epi32(k, step)) {
            const __mmask16 in = lanes(n - i);
            const __mmask16 nz = _mm512_mask_cmp_ps_mask(in, _mm512_maskz_loadu_ps(in, x + i), _mm512_setzero_ps(), _CMP_NEQ_UQ);
            // compress in a register, then a full store (idx has 16 spare entries): the
            // memory form of vpcompressd is microcoded and slow on some cores (AMD Zen 4)
            _mm512_storeu_si512(idx + c, _mm512_maskz_compress_epi32(nz, k));
            c += __builtin_popcount(nz);
        }
        return c;
    }
};
#include "mlp_fused_kernel.inc"
#include "mlp_train_kernel.inc"
#undef ESM_FUSED_TARGET
}  // namespace avx512

namespace avx2 {
#define ESM_FUSED_TARGET ESM_AVX2
struct Ops {
    using T = __m256;
    static constexpr int W = 8, kRows = 4, kMaxNV = 3;  // 12 accumulators of 16 registers
    ESM_FUSED_TARGET static T load(const float* p) { return _mm256_loadu_ps(p); }
    ESM_FUSED_TARGET static void store(float* p, T v) { _mm256_storeu_ps(p, v); }
    ESM_FUSED_TARGET static T set1(float v) { return _mm256_set1_ps(v); }
    ESM_FUSED_TARGET static T zero() { return _mm256_setzero_ps(); }
    ESM_FUSED_TARGET static T fma(T a, T b, T c) { return _mm256_fmadd_ps(a, b, c); }
    ESM_FUSED_TARGET static T relu(T v) { return _mm256_max_ps(v, _mm256_setzero_ps()); }
    using Mask = __m256i;
    ESM_FUSED_TARGET static Mask first(int n) {
        return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    }
    ESM_FUSED_TARGET static T loadm(const float* p, Mask m) { return _mm256_maskload_ps(p, m); }
    ESM_FUSED_TARGET static void storem(float* p, T v, Mask m) { _mm256_maskstore_ps(p, m, v); }
    ESM_FUSED_TARGET static T gather(const float* p, int stride, Mask m) {
        const __m256i idx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(stride));
        return _mm256_mask_i32gather_ps(_mm256_setzero_ps(), p, idx, _mm256_castsi256_ps(m), 4);
    }
    ESM_FUSED_TARGET static T keep_positive(T v, T m) {
        return _mm256_and_ps(v, _mm256_cmp_ps(m, _mm256_setzero_ps(), _CMP_GT_OQ));
    }
    ESM_FUSED_TARGET static float hsum(T v) {
        const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
        return _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)));
    }
    static int nonzeros(const float* x, int n, int* idx) {
        int c = 0;
        for (int k = 0; k < n; ++k) {
            idx[c] = k;
            c += x[k] != 0.f;
        }
        return c;
    }
};
#include "mlp_fused_kernel.inc"
#include "mlp_train_kernel.inc"
#undef ESM_FUSED_TARGET
}  // namespace avx2
#endif

namespace {

int vector_width(MlpIsa isa) { return isa == MlpIsa::Avx512 ? 16 : isa == MlpIsa::Avx2 ? 8 : 1; }

bool cpu_has(MlpIsa isa) {
    return isa == MlpIsa::Avx512 ? cpu_has_avx512() : isa == MlpIsa::Avx2 ? cpu_has_avx2_fma() : true;
}

// Hidden layers (in, out) -> (in_padded, out_padded) transposed with zero padding: padded
// outputs are relu(0 + 0) = 0 and meet zero weights in the next layer.
PackedMlp pack(const Mlp& net, int vw) {
    PackedMlp p;
    p.inputs = net.inputs();
    const auto& sz = net.sizes();
    int in_pad = p.inputs;
    for (int l = 0; l + 1 < net.layers(); ++l) {
        const int in = sz[static_cast<size_t>(l)], out = sz[static_cast<size_t>(l) + 1];
        const int wd = (out + vw - 1) / vw * vw;
        const float* w = net.params().data() + net.weight_offset(l);
        const float* b = net.params().data() + net.bias_offset(l);
        p.w_off.push_back(p.data.size());
        p.data.resize(p.data.size() + static_cast<size_t>(in_pad) * static_cast<size_t>(wd), 0.f);
        float* wp = p.data.data() + p.w_off.back();
        for (int j = 0; j < out; ++j)
            for (int i = 0; i < in; ++i) wp[static_cast<size_t>(i) * static_cast<size_t>(wd) + static_cast<size_t>(j)] = w[static_cast<size_t>(j) * static_cast<size_t>(in) + static_cast<size_t>(i)];
        p.b_off.push_back(p.data.size());
        p.data.insert(p.data.end(), b, b + out);
        p.data.resize(p.data.size() + static_cast<size_t>(wd - out), 0.f);
        p.width.push_back(wd);
        p.max_width = std::max(p.max_width, wd);
        in_pad = wd;
    }
    const int l = net.layers() - 1;
    const int in = sz[static_cast<size_t>(l)];
    const float* w = net.params().data() + net.weight_offset(l);
    p.last_w = p.data.size();
    p.data.insert(p.data.end(), w, w + in);
    p.data.resize(p.data.size() + static_cast<size_t>(in_pad - in), 0.f);
    p.last_b = net.params()[net.bias_offset(l)];
    return p;
}

}  // namespace

MlpIsa FusedMlp::best_isa() {
    static const MlpIsa best = cpu_has(MlpIsa::Avx512) ? MlpIsa::Avx512 : cpu_has(MlpIsa::Avx2) ? MlpIsa::Avx2 : MlpIsa::Generic;
    return best;
}

FusedMlp::FusedMlp(const Mlp& net, MlpIsa isa) : net_(net) {
    // The kernels cover networks with one output and at least one hidden layer.
    if (!cpu_has(isa) || net.layers() < 2 || net.sizes().back() != 1) isa = MlpIsa::Generic;
    isa_ = isa;
    if (isa_ != MlpIsa::Generic) packed_ = pack(net, vector_width(isa_));
}

void FusedMlp::forward(const float* x, size_t n, float* y) const {
    if (n == 0) return;
    if (isa_ == MlpIsa::Generic) {
        thread_local Mlp::Workspace ws;
        constexpr size_t kChunk = 256;  // activations stay in L2, GEMMs in OpenBLAS's small path
        const size_t d = static_cast<size_t>(net_.inputs());
        for (size_t s = 0; s < n; s += kChunk) net_.forward(x + s * d, std::min(kChunk, n - s), y + s, ws);
        return;
    }
#if defined(ESM_X86_SIMD)
    // rows() needs 2 * kRows * max_width floats and kRows * inputs ints, plus one vector of
    // spare ints for nonzeros()' full-vector stores.
    constexpr size_t kRows = std::max(avx512::Ops::kRows, avx2::Ops::kRows);
    const size_t floats = 2 * kRows * static_cast<size_t>(packed_.max_width);
    const size_t ints = kRows * static_cast<size_t>(packed_.inputs) + static_cast<size_t>(avx512::Ops::W);
    thread_local std::vector<float> buf;
    thread_local std::vector<int> nz;
    if (buf.size() < floats) buf.resize(floats);
    if (nz.size() < ints) nz.resize(ints);
    if (isa_ == MlpIsa::Avx512)
        avx512::forward(packed_, x, n, y, buf.data(), nz.data());
    else
        avx2::forward(packed_, x, n, y, buf.data(), nz.data());
#endif
}

bool small_gemm(MlpIsa isa, const GemmArgs& g) {
    if (isa == MlpIsa::Generic || !cpu_has(isa)) return false;
#if defined(ESM_X86_SIMD)
    thread_local std::vector<float> bt;  // a partial column vector's B, zero-padded
    const size_t need = static_cast<size_t>(std::max(g.K, 1)) * static_cast<size_t>(avx512::Ops::W);
    if (bt.size() < need) bt.resize(need);
    if (isa == MlpIsa::Avx512)
        avx512::small_gemm(g, bt.data());
    else
        avx2::small_gemm(g, bt.data());
    return true;
#else
    return false;
#endif
}

bool transpose(MlpIsa isa, const float* src, int rows, int cols, float* dst) {
    if (isa == MlpIsa::Generic || !cpu_has(isa)) return false;
#if defined(ESM_X86_SIMD)
    if (isa == MlpIsa::Avx512)
        avx512::transpose(src, rows, cols, dst);
    else
        avx2::transpose(src, rows, cols, dst);
    return true;
#else
    return false;
#endif
}

}  // namespace esm::detail
