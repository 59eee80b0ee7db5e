// Internal CPU kernels of the executor (cpu/*.cpp), one family per file. Kernels never
// throw, exit, print or allocate: buffers and packed weights come from Executor::create.
// Threading: own OpenMP loops with `threads`; OpenBLAS is set to one thread and called
// from inside them on independent blocks (sgemm below), never nested threading.
#pragma once
#include <algorithm>
#include <cstdint>

#include "esm/space.hpp"
#include "esm/tensor.hpp"

// Hot direct kernels are compiled twice on x86-64 GCC: an AVX2+FMA clone picked at load
// time where the CPU has it, and the baseline (the binary runs on any x86-64). Not under
// ThreadSanitizer: GCC instruments the clones' ifunc resolver, which the dynamic loader
// runs before TSan has started (a crash before main in any program linking libesm).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__)
#define ESM_TARGET_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define ESM_TARGET_CLONES
#endif

namespace esm::cpu {

struct ConvShape {
    int k = 1, stride = 1, pad = 0, groups = 1;
    Act act = Act::None;
};

// Whether a loop of `work` elementary steps is worth an OpenMP region: below ~16k the
// fork/join (and, on a busy machine, waiting for a descheduled thread) costs more.
inline bool parallel_worth(int64_t work) { return work >= 16384; }

inline float relu6(float x) { return std::min(std::max(x, 0.0f), 6.0f); }

template <Act A>
inline float act(float x) {
    if constexpr (A == Act::ReLU) return x > 0.0f ? x : 0.0f;
    if constexpr (A == Act::HSwish) return x * relu6(x + 3.0f) * (1.0f / 6.0f);
    if constexpr (A == Act::HSigmoid) return relu6(x + 3.0f) * (1.0f / 6.0f);
    return x;
}

// C (m, n) = A (m, k) * B (k, n), or * B^T when trans_b (B stored (n, k)); row-major,
// split over `threads` OpenMP threads, each calling single-threaded cblas_sgemm.
void sgemm(bool trans_b, int m, int n, int k, const float* a, int lda, const float* b, int ldb, float* c, int ldc,
           int threads);

// B' = act(B * scale[k] + shift[k]) row by row: an inference BN + activation on a GEMM
// conv's input channels (DenseNet's pre-activation before its 1x1 convs), applied by
// packed_gemm while it packs B instead of as a pass of its own.
struct Prologue {
    const float* scale;
    const float* shift;
    Act act;
};

// Whether a conv runs on packed_gemm (ungrouped, 1x1 stride 1 or any kernel with stride <= 2,
// on a CPU with AVX-512 or AVX2 + FMA); its weights are then packed by packed_gemm_pack_a at
// create.
bool conv_packed(const ConvShape& s);
// Floats of scratch a GEMM conv needs: packed_gemm's when conv_packed (it makes the im2col
// columns as it packs them), else an im2col tile for OpenBLAS (none for a 1x1 stride-1 conv).
int64_t conv_scratch_floats(const TensorView& in, const TensorView& out, const ConvShape& s, int threads);

// conv.cpp. in: (B, Cin, H, W)  out: (B, Cout, Ho, Wo)  w: (Cout, Cin/g*k*k) BN folded, or
// its packed_gemm_pack_a panels when conv_packed  bias: (Cout)  scratch: conv_scratch_floats.
// pre: only for a 1x1 stride-1 conv_packed conv (nullptr: none). res: only for a
// conv_packed conv, a tensor shaped like out added before the activation (nullptr: none).
void conv_gemm(const TensorView& in, const TensorView& out, const float* w, const float* bias, const ConvShape& s,
               float* scratch, int threads, const Prologue* pre = nullptr, const TensorView* res = nullptr);

// packed_gemm.cpp: C (m, n) = act(A (m, k) B (k, n) + bias) with A packed at create, on CPUs
// with AVX-512 or AVX2 + FMA (suits() is false otherwise: OpenBLAS), any k (in passes).
bool packed_gemm_suits();
int64_t packed_gemm_a_floats(int m, int k);
// a: (m, k) row-major -> panels (ceil(m/8), k, 8), zero-filled rows.
void packed_gemm_pack_a(const float* a, int m, int k, float* packed);
int64_t packed_gemm_scratch_floats(int k, int threads);  // B blocks: per thread, or shared
// B rows ldb apart, C rows ldc apart; scratch: packed_gemm_scratch_floats(k, threads).
// res: (m, n) rows ldc apart added before the activation, C = act(A B + bias + res) (a
// block's residual; nullptr: none). It may be C itself, not overlap it otherwise.
void packed_gemm(int m, int64_t n, int k, const float* packed_a, const float* b, int64_t ldb, const float* bias,
                 Act act, float* c, int64_t ldc, float* scratch, int threads, const Prologue* pre = nullptr,
                 const float* res = nullptr);
// B packed once for several products with it (cpu/fused.cpp: one per chunk of output
// channels): packed_gemm_b_floats(k, n) floats; then one thread, no scratch.
int64_t packed_gemm_b_floats(int k, int64_t n);
void packed_gemm_pack_b(const float* b, int64_t ldb, int k, int64_t n, const Prologue* pre, float* packed_b);
void packed_gemm_prepacked(int m, int64_t n, int k, const float* packed_a, const float* packed_b, const float* bias,
                           Act act, float* c, int64_t ldc);
// B made where it is packed instead of read from memory (conv.cpp: an implicit im2col):
// rows(k0, kc, n0, cols, width, dst) writes rows [k0, k0 + kc) of B's columns [n0, n0 + cols)
// to dst, rows `width` floats apart, zero in columns [cols, width). Several threads call it
// at once. Same scratch and results as packed_gemm on that B.
class BSource {
public:
    virtual void rows(int k0, int kc, int64_t n0, int cols, int width, float* dst) const = 0;

protected:
    ~BSource() = default;
};
void packed_gemm_from(int m, int64_t n, int k, const float* packed_a, const BSource& b, const float* bias, Act act,
                      float* c, int64_t ldc, float* scratch, int threads, const float* res = nullptr);

// direct.cpp: k x k convs with <= 32 output channels (DenseNet's growth conv; with AVX-512
// also stride 2 and any Cin: MobileNetV3's stem).
bool direct_conv_suits(const TensorView& in, const TensorView& out, const ConvShape& s);
int64_t direct_conv_scratch_floats(const TensorView& in, const ConvShape& s);  // padded input
int64_t direct_conv_packed_floats(int cout, int cin, int k);
// w: (Cout, Cin, k, k) BN folded -> packed (Cout/4, Cin, k, k, 4), or with AVX-512
// (Cin, k, k, 16 or 32); zero-filled channels.
void direct_conv_pack(const float* w, int cout, int cin, int k, float* packed);
void direct_conv(const TensorView& in, const TensorView& out, const float* packed, const float* bias,
                 const ConvShape& s, float* scratch, int threads);

// depthwise.cpp. groups == Cin == Cout.  w: (C, k*k) BN folded  bias: (C).
// scratch: depthwise_scratch_floats(out, ...) floats (per-thread padded planes).
int64_t depthwise_scratch_floats(const TensorView& out, const ConvShape& s, int threads);
void conv_depthwise(const TensorView& in, const TensorView& out, const float* w, const float* bias,
                    const ConvShape& s, float* scratch, int threads);

// fused.cpp: a 1x1 stride-1 conv_packed conv (in -> mid, BN folded, packed A, bias, act,
// optional prologue) and the depthwise conv that alone reads mid (mid -> out), in chunks of
// channels that stay in L2; mid itself is never written. Worth it when mid is large.
bool expand_depthwise_worth(const TensorView& mid);
int64_t expand_depthwise_scratch_floats(const TensorView& mid, const TensorView& out, int k_in, const ConvShape& dw,
                                        int threads);
void expand_depthwise(const TensorView& in, const TensorView& mid, const TensorView& out, const float* packed_a,
                      const float* bias, Act act, const Prologue* pre, const float* dw_w, const float* dw_bias,
                      const ConvShape& dw, float* scratch, int threads);

// activation.cpp. In place: x[b,c,:] = act(x[b,c,:] + bias[c]).
void bias_act(const TensorView& x, const float* bias, Act a, int threads);
// out = act(in * scale[c] + shift[c]) (BN in inference form, not foldable: DenseNet).
void scale_shift_act(const TensorView& in, const TensorView& out, const float* scale, const float* shift, Act a,
                     int threads);
// out = act(a + b), all (B, C, H, W).
void add_act(const TensorView& a, const TensorView& b, const TensorView& out, Act act, int threads);

// pooling.cpp. Avg divides by the full k*k window (padding counts).
void max_pool(const TensorView& in, const TensorView& out, int k, int stride, int pad, int threads);
void avg_pool(const TensorView& in, const TensorView& out, int k, int stride, int pad, int threads);
void global_avg_pool(const TensorView& in, const TensorView& out, int threads);

// se.cpp. w1: (R, C) b1: (R) w2: (C, R) b2: (C); scratch: B*(C+R) floats.
void squeeze_excite(const TensorView& in, const TensorView& out, const float* w1, const float* b1, const float* w2,
                    const float* b2, int reduced, float* scratch, int threads);

// linear.cpp. in: (B, F, 1, 1)  out: (B, O, 1, 1)  w: (O, F)  bias: (O).
void linear(const TensorView& in, const TensorView& out, const float* w, const float* bias, Act a, int threads);

}  // namespace esm::cpu
