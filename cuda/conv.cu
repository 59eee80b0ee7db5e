// CUDA convolution through cuDNN (depthwise too: groups = channels), with explicit-stride
// descriptors so DenseNet layers read a channel prefix and write a channel slice, and a
// per-device algorithm cache keyed by the full problem. Not the bias/activation (activation.cu).
#include <algorithm>
#include <cstdint>
#include <map>
#include <mutex>
#include <utility>

#include "conv_key.hpp"
#include "esm/common.hpp"
#include "kernels.hpp"

namespace esm::cuda {

namespace {

void check(cudnnStatus_t st, const char* call, const Op& op) {
    if (st != CUDNN_STATUS_SUCCESS)
        throw Error(ErrorKind::Internal, op.name + ": " + call + " failed: " + cudnnGetErrorString(st));
}

// device -> problem key -> algorithm. Filled at create time only; run() never looks here.
std::mutex g_cache_mutex;
std::map<int, std::map<std::string, ConvAlgo>> g_cache;

bool tensor_core(cudnnMathType_t m) { return m == CUDNN_TENSOR_OP_MATH || m == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION; }

}  // namespace

size_t conv_algo_cache_size() {
    std::lock_guard<std::mutex> lock(g_cache_mutex);
    size_t n = 0;
    for (const auto& d : g_cache) n += d.second.size();
    return n;
}

void CudnnConv::release() {
    if (x_) cudnnDestroyTensorDescriptor(x_);
    if (y_) cudnnDestroyTensorDescriptor(y_);
    if (f_) cudnnDestroyFilterDescriptor(f_);
    if (c_) cudnnDestroyConvolutionDescriptor(c_);
    x_ = y_ = nullptr;
    f_ = nullptr;
    c_ = nullptr;
}

CudnnConv::~CudnnConv() { release(); }

CudnnConv::CudnnConv(CudnnConv&& o) noexcept { *this = std::move(o); }

CudnnConv& CudnnConv::operator=(CudnnConv&& o) noexcept {
    if (this != &o) {
        release();
        std::swap(x_, o.x_);
        std::swap(y_, o.y_);
        std::swap(f_, o.f_);
        std::swap(c_, o.c_);
        algo_ = o.algo_;
    }
    return *this;
}

void CudnnConv::setup(cudnnHandle_t h, int device, const Op& op, const DevView& in, const DevView& out, const float* w,
                      bool tf32, void* find_ws_ptr, size_t find_ws) {
    release();
    check(cudnnCreateTensorDescriptor(&x_), "cudnnCreateTensorDescriptor", op);
    check(cudnnCreateTensorDescriptor(&y_), "cudnnCreateTensorDescriptor", op);
    check(cudnnCreateFilterDescriptor(&f_), "cudnnCreateFilterDescriptor", op);
    check(cudnnCreateConvolutionDescriptor(&c_), "cudnnCreateConvolutionDescriptor", op);
    const int in_plane = in.h * in.w, out_plane = out.h * out.w;
    check(cudnnSetTensor4dDescriptorEx(x_, CUDNN_DATA_FLOAT, in.n, in.c, in.h, in.w, static_cast<int>(in.batch_stride),
                                       in_plane, in.w, 1),
          "cudnnSetTensor4dDescriptorEx(x)", op);
    check(cudnnSetTensor4dDescriptorEx(y_, CUDNN_DATA_FLOAT, out.n, out.c, out.h, out.w,
                                       static_cast<int>(out.batch_stride), out_plane, out.w, 1),
          "cudnnSetTensor4dDescriptorEx(y)", op);
    check(cudnnSetFilter4dDescriptor(f_, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, out.c, in.c / op.groups, op.k, op.k),
          "cudnnSetFilter4dDescriptor", op);
    check(cudnnSetConvolution2dDescriptor(c_, op.pad, op.pad, op.stride, op.stride, 1, 1, CUDNN_CROSS_CORRELATION,
                                          CUDNN_DATA_FLOAT),
          "cudnnSetConvolution2dDescriptor", op);
    check(cudnnSetConvolutionGroupCount(c_, op.groups), "cudnnSetConvolutionGroupCount", op);
    // TF32 off: FMA math only. On: let cuDNN use tensor cores (TF32) where it likes.
    const cudnnMathType_t math = tf32 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH;
    check(cudnnSetConvolutionMathType(c_, math), "cudnnSetConvolutionMathType", op);

    int n = 0, c = 0, oh = 0, ow = 0;
    check(cudnnGetConvolution2dForwardOutputDim(c_, x_, f_, &n, &c, &oh, &ow), "cudnnGetConvolution2dForwardOutputDim",
          op);
    if (n != out.n || c != out.c || oh != out.h || ow != out.w)
        throw Error(ErrorKind::InvalidArgument, op.name + ": plan output shape disagrees with cuDNN's");

    ConvProblem p;
    p.n = in.n, p.c = in.c, p.h = in.h, p.w = in.w, p.in_n_stride = in.batch_stride, p.in_c_stride = in_plane;
    p.k_out = out.c, p.kh = p.kw = op.k, p.stride = op.stride, p.pad = op.pad, p.groups = op.groups;
    p.out_h = out.h, p.out_w = out.w, p.out_n_stride = out.batch_stride, p.out_c_stride = out_plane;
    p.math = tf32 ? "tf32" : "fma";
    for (const void* ptr : {static_cast<const void*>(in.data), static_cast<const void*>(out.data), static_cast<const void*>(w)})
        while (p.align > 1 && reinterpret_cast<uintptr_t>(ptr) % static_cast<uintptr_t>(p.align)) p.align /= 2;
    const std::string key = conv_problem_key(p);
    {
        std::lock_guard<std::mutex> lock(g_cache_mutex);
        auto d = g_cache.find(device);
        if (d != g_cache.end()) {
            auto it = d->second.find(key);
            if (it != d->second.end()) {
                algo_ = it->second;
                algo_.how = "cache";
                check(cudnnSetConvolutionMathType(c_, algo_.math), "cudnnSetConvolutionMathType", op);
                return;
            }
        }
    }

    // First time on this device: time every algorithm on the real buffers (the output
    // is overwritten, which is harmless at create time) and keep the fastest that fits.
    constexpr int kMaxAlgos = CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
    cudnnConvolutionFwdAlgoPerf_t perf[kMaxAlgos];
    int found = 0;
    bool chosen = false;
    cudnnStatus_t st = cudnnFindConvolutionForwardAlgorithmEx(h, x_, in.data, f_, w, c_, y_, out.data, kMaxAlgos,
                                                              &found, perf, find_ws_ptr, find_ws);
    if (st == CUDNN_STATUS_SUCCESS) {
        for (int i = 0; i < found && !chosen; ++i) {  // sorted fastest first
            if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].memory > find_ws) continue;
            if (!tf32 && tensor_core(perf[i].mathType)) continue;
            algo_ = ConvAlgo{perf[i].algo, tf32 ? perf[i].mathType : CUDNN_FMA_MATH, perf[i].memory, "find"};
            chosen = true;
        }
    }
    // Heuristics only when Find itself failed (e.g. for lack of memory): an algorithm Find ran
    // and saw fail is not taken on a prediction, the problem is Unsupported (the caller then
    // stages the slice in a packed buffer).
    if (!chosen && st != CUDNN_STATUS_SUCCESS) {
        check(cudnnGetConvolutionForwardAlgorithm_v7(h, x_, f_, c_, y_, kMaxAlgos, &found, perf),
              "cudnnGetConvolutionForwardAlgorithm_v7", op);
        for (int i = 0; i < found && !chosen; ++i) {
            if (perf[i].status != CUDNN_STATUS_SUCCESS || (!tf32 && tensor_core(perf[i].mathType))) continue;
            // The workspace under this entry's math type (perf[i].memory), or the descriptor's
            // current one, whichever is larger.
            size_t ws = 0;
            if (cudnnGetConvolutionForwardWorkspaceSize(h, x_, f_, c_, y_, perf[i].algo, &ws) != CUDNN_STATUS_SUCCESS)
                continue;
            ws = std::max(ws, perf[i].memory);
            if (ws > find_ws) continue;
            // A prediction, not a run: tried once on the real buffers (as Find would have), so
            // that one cuDNN cannot run here (a strided slice Find refused as a whole) leaves
            // the problem Unsupported, which the caller stages, not a failure of every run.
            const cudnnMathType_t m = tf32 ? perf[i].mathType : CUDNN_FMA_MATH;
            const float one = 1.0f, zero = 0.0f;
            if (cudnnSetConvolutionMathType(c_, m) != CUDNN_STATUS_SUCCESS ||
                cudnnConvolutionForward(h, &one, x_, in.data, f_, w, c_, perf[i].algo, find_ws_ptr, ws, &zero, y_,
                                        out.data) != CUDNN_STATUS_SUCCESS)
                continue;
            algo_ = ConvAlgo{perf[i].algo, m, ws, "heuristic"};
            chosen = true;
        }
    }
    if (!chosen)
        throw Error(
            ErrorKind::Unsupported,
            op.name + ": cuDNN offers no forward algorithm for " + key +
                (st == CUDNN_STATUS_SUCCESS ? std::string(" (Find ran every one; none succeeded)")
                                            : std::string(" (Find: ") + cudnnGetErrorString(st) + ")"));
    check(cudnnSetConvolutionMathType(c_, algo_.math), "cudnnSetConvolutionMathType", op);
    std::lock_guard<std::mutex> lock(g_cache_mutex);
    g_cache[device][key] = algo_;
}

cudnnStatus_t CudnnConv::run(cudnnHandle_t h, const DevView& in, const DevView& out, const float* w, void* ws,
                             size_t ws_bytes) const {
    const float one = 1.0f, zero = 0.0f;
    return cudnnConvolutionForward(h, &one, x_, in.data, f_, w, c_, algo_.algo, ws, ws_bytes, &zero, y_, out.data);
}

}  // namespace esm::cuda
