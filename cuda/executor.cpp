// The CUDA executor: create folds BN, uploads weights, lays the plan's buffers into one
// reused device arena, creates cuDNN/cuBLAS handles on its own stream and picks every conv
// algorithm; run() only enqueues on that stream. Not the kernels (cuda/*.cu).
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "arena.hpp"
#include "backends.hpp"
#include "esm/common.hpp"
#include "esm/cuda.hpp"
#include "kernels.hpp"

namespace esm::cuda {

namespace {

void check(cudaError_t e, const std::string& call) {
    if (e != cudaSuccess) {
        cudaGetLastError();  // clear a non-sticky error so the next call starts clean
        throw Error(ErrorKind::Internal, "CUDA executor: " + call + " failed: " + cudaGetErrorString(e));
    }
}

// A cuBLAS status in words (cublasGetStatusString from CUDA 11.4 on; its number before).
std::string cublas_error(cublasStatus_t st) {
#if CUDART_VERSION >= 11040
    return cublasGetStatusString(st);
#else
    return "cuBLAS status " + std::to_string(static_cast<int>(st));
#endif
}

// Device memory, owned; allocated only at create time.
struct DevMem {
    float* p = nullptr;
    size_t bytes = 0;
    DevMem() = default;
    DevMem(size_t n_bytes, const char* what) : bytes(n_bytes) {
        if (bytes) check(cudaMalloc(reinterpret_cast<void**>(&p), bytes), std::string("cudaMalloc(") + what + ")");
    }
    DevMem(const DevMem&) = delete;
    DevMem& operator=(const DevMem&) = delete;
    DevMem(DevMem&& o) noexcept { *this = std::move(o); }
    DevMem& operator=(DevMem&& o) noexcept {
        std::swap(p, o.p);
        std::swap(bytes, o.bytes);
        return *this;
    }
    ~DevMem() {
        if (p) cudaFree(p);
    }
};

DevMem upload(const std::vector<float>& v, const char* what) {
    DevMem m(v.size() * sizeof(float), what);
    if (m.bytes)
        check(cudaMemcpy(m.p, v.data(), m.bytes, cudaMemcpyHostToDevice), std::string("cudaMemcpy(") + what + ")");
    return m;
}

// Pinned host memory, so the explicit input/output copies are true async DMA.
struct PinnedMem {
    float* p = nullptr;
    int64_t n = 0;
    PinnedMem() = default;
    explicit PinnedMem(int64_t count) : n(count) {
        check(cudaMallocHost(reinterpret_cast<void**>(&p), size_t(std::max<int64_t>(count, 1)) * sizeof(float)),
              "cudaMallocHost");
        std::fill(p, p + n, 0.0f);
    }
    PinnedMem(const PinnedMem&) = delete;
    PinnedMem& operator=(const PinnedMem&) = delete;
    PinnedMem& operator=(PinnedMem&& o) noexcept {
        std::swap(p, o.p);
        std::swap(n, o.n);
        return *this;
    }
    ~PinnedMem() {
        if (p) cudaFreeHost(p);
    }
};

// Makes a device current for a scope and the caller's device current again after it: a
// program working on another GPU keeps its own current device across libesm's calls.
struct DeviceScope {
    int caller = -1;
    explicit DeviceScope(int device) {
        if (cudaGetDevice(&caller) != cudaSuccess) caller = -1;
        cudaSetDevice(device);
    }
    DeviceScope(const DeviceScope&) = delete;
    DeviceScope& operator=(const DeviceScope&) = delete;
    ~DeviceScope() {
        if (caller >= 0) cudaSetDevice(caller);
    }
};

// The stream, events and library handles; destroyed last (and also when create throws).
struct Handles {
    int device = 0;
    int caller = -1;  // the device to make current again once everything is freed (>= 0)
    cudaStream_t stream = nullptr;
    cudaEvent_t start = nullptr, stop = nullptr;
    cudnnHandle_t cudnn = nullptr;
    cublasHandle_t cublas = nullptr;
    Handles() = default;
    Handles(const Handles&) = delete;
    Handles& operator=(const Handles&) = delete;
    ~Handles() {
        cudaSetDevice(device);
        if (stream) cudaStreamSynchronize(stream);
        if (cublas) cublasDestroy(cublas);
        if (cudnn) cudnnDestroy(cudnn);
        if (start) cudaEventDestroy(start);
        if (stop) cudaEventDestroy(stop);
        if (stream) cudaStreamDestroy(stream);
        if (caller >= 0) cudaSetDevice(caller);
    }
};

enum class Impl { Conv, BnAct, MaxPool, AvgPool, Gap, SE, Add, Linear };

struct Step {
    Impl impl = Impl::Conv;
    const Op* op = nullptr;
    DevView in, in2, out;
    DevMem w, bias, w2, b2;  // conv (Cout, Cin/g, k, k) BN folded + bias; BnAct scale/shift; SE fc1/fc2
    CudnnConv conv;
    // What cuDNN reads and writes: in/out themselves, or packed staging copies when cuDNN
    // offers no algorithm for a strided channel slice (or ESM_CUDA_FORCE_STAGING=1).
    DevView conv_in, conv_out;
    DevMem stage_in, stage_out;
};

bool contiguous(const DevView& v) { return v.n <= 1 || v.batch_stride == int64_t(v.c) * v.h * v.w; }

// Points v at packed memory of its own shape (allocated into mem); false when v is packed.
bool stage(const DevView& v, DevView* staged, DevMem* mem) {
    *staged = v;
    if (contiguous(v)) return false;
    *mem = DevMem(size_t(v.size()) * sizeof(float), "conv staging");
    staged->data = mem->p;
    staged->batch_stride = int64_t(v.c) * v.h * v.w;
    return true;
}

bool force_staging() {
    const char* e = std::getenv("ESM_CUDA_FORCE_STAGING");
    return e && e[0] == '1';
}

constexpr size_t kCublasWorkspace = size_t(4) << 20;
constexpr size_t kMaxFindWorkspace = size_t(512) << 20;

class CudaExecutor final : public Executor {
public:
    CudaExecutor(const Plan& plan, const Weights& weights, const ExecutorOptions& o)
        : plan_(plan), device_(o.device), tf32_(o.tf32) {
        // The caller's device is made current again when create returns, and by h_, freed
        // last, when it throws.
        if (cudaGetDevice(&h_.caller) != cudaSuccess) h_.caller = -1;
        check(cudaSetDevice(device_), "cudaSetDevice(" + std::to_string(device_) + ")");
        h_.device = device_;
        check(cudaStreamCreateWithFlags(&h_.stream, cudaStreamNonBlocking), "cudaStreamCreate");
        check(cudaEventCreate(&h_.start), "cudaEventCreate");
        check(cudaEventCreate(&h_.stop), "cudaEventCreate");
        stream_ = h_.stream, start_ = h_.start, stop_ = h_.stop;
        const cudnnStatus_t cs = cudnnCreate(&h_.cudnn);
        if (cs != CUDNN_STATUS_SUCCESS)
            throw Error(ErrorKind::Internal,
                        std::string("CUDA executor: cudnnCreate failed: ") + cudnnGetErrorString(cs));
        cudnn_ = h_.cudnn;
        if (const cudnnStatus_t ss = cudnnSetStream(cudnn_, stream_); ss != CUDNN_STATUS_SUCCESS)
            throw Error(ErrorKind::Internal, std::string("CUDA executor: cudnnSetStream failed: ") + cudnnGetErrorString(ss));
        if (const cublasStatus_t bs = cublasCreate(&h_.cublas); bs != CUBLAS_STATUS_SUCCESS)
            throw Error(ErrorKind::Internal, "CUDA executor: cublasCreate failed: " + cublas_error(bs));
        cublas_ = h_.cublas;
        cublas_ws_ = DevMem(kCublasWorkspace, "cuBLAS workspace");
        // TF32 off: CUBLAS_DEFAULT_MATH never uses TF32 for SGEMM; on: allow it.
        const std::pair<const char*, cublasStatus_t> setup[] = {
            {"cublasSetStream", cublasSetStream(cublas_, stream_)},
            {"cublasSetMathMode", cublasSetMathMode(cublas_, tf32_ ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH)},
            {"cublasSetWorkspace", cublasSetWorkspace(cublas_, cublas_ws_.p, cublas_ws_.bytes)}};
        for (const auto& [call, st] : setup)  // in this order, as cuBLAS asks (the workspace after the stream)
            if (st != CUBLAS_STATUS_SUCCESS)
                throw Error(ErrorKind::Internal, std::string("CUDA executor: ") + call + " failed: " + cublas_error(st));

        layout_ = layout_arena(plan_, 64);  // 256-byte aligned buffers
        arena_ = DevMem(size_t(layout_.total) * sizeof(float), "activation arena");
        const BufferInfo& ib = plan_.buffers[plan_.input.buf];
        input_dev_ = DevMem(size_t(plan_.batch) * ib.c * ib.h * ib.w * sizeof(float), "input");
        input_host_ = PinnedMem(int64_t(plan_.batch) * ib.c * ib.h * ib.w);
        output_host_ = PinnedMem(int64_t(plan_.batch) * plan_.output.c * plan_.output.h * plan_.output.w);

        steps_.reserve(plan_.ops.size());
        int64_t se_floats = 0;
        for (size_t i = 0; i < plan_.ops.size(); ++i) {
            steps_.push_back(pack(plan_.ops[i], weights.ops[i]));
            if (steps_.back().impl == Impl::SE)
                se_floats =
                    std::max(se_floats, se_scratch_floats(plan_.batch, plan_.ops[i].in.c, plan_.ops[i].se_reduced));
        }
        se_scratch_ = DevMem(size_t(se_floats) * sizeof(float), "SE scratch");
        // cudaMemcpy from pageable memory may return before its DMA is done, and our
        // non-blocking stream does not wait for the legacy stream: wait here, once.
        check(cudaDeviceSynchronize(), "cudaDeviceSynchronize (weight upload)");
        choose_algorithms();
        // One forward pass now: lazy module loading and first-call setup happen here, not
        // in the first timed run, and a broken plan fails in create, where it can throw.
        upload_input();  // zeros
        forward();
        // Then poison the arena with NaN (all bits set) so that an op that skips a write
        // shows up as NaN in the output of every later run (the tests rely on it).
        if (arena_.bytes) check(cudaMemsetAsync(arena_.p, 0xFF, arena_.bytes, stream_), "cudaMemsetAsync(arena)");
        check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (create)");
        if (!error_.empty()) throw Error(ErrorKind::Internal, "CUDA executor: " + error_);
        if (h_.caller >= 0) cudaSetDevice(h_.caller);
        h_.caller = -1;
    }

    ~CudaExecutor() override {
        if (cudaGetDevice(&h_.caller) != cudaSuccess) h_.caller = -1;  // made current again by h_, last
        cudaSetDevice(device_);
        cudaStreamSynchronize(stream_);  // then members free memory, h_ goes last
    }

    // Enqueues the input upload (pinned host -> device) and the forward pass; does not wait.
    void run() override {
        if (!error_.empty()) return;
        const DeviceScope scope(device_);
        upload_input();
        forward();
    }

    // Upload, synchronise, then CUDA events around the forward pass only.
    double timed_run_ms() override {
        constexpr double nan = std::numeric_limits<double>::quiet_NaN();
        if (!error_.empty()) return nan;
        const DeviceScope scope(device_);
        upload_input();
        note(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
        note(cudaEventRecord(start_, stream_), "cudaEventRecord");
        forward();
        note(cudaEventRecord(stop_, stream_), "cudaEventRecord");
        note(cudaEventSynchronize(stop_), "cudaEventSynchronize");
        float ms = 0.0f;
        note(cudaEventElapsedTime(&ms, start_, stop_), "cudaEventElapsedTime");
        return error_.empty() ? double(ms) : nan;
    }

    // As the CPU's: plan.input's channels of its buffer (a segment plan may read a prefix of
    // a wider one); the whole buffer is uploaded.
    TensorView input() override {
        const BufferInfo& ib = plan_.buffers[plan_.input.buf];
        const Value& v = plan_.input;
        const int64_t plane = int64_t(ib.h) * ib.w;
        return TensorView{input_host_.p + v.c_off * plane, plan_.batch, v.c, v.h, v.w, ib.c * plane};
    }

    // The explicit device -> host copy of the output, then a stream synchronisation.
    // Throws esm::Error with the sticky error when a run failed.
    TensorView output() override {
        if (error_.empty()) {
            const DeviceScope scope(device_);
            const DevView y = view(plan_.output);
            const size_t row = size_t(y.c) * y.h * y.w * sizeof(float);
            note(cudaMemcpy2DAsync(output_host_.p, row, y.data, size_t(y.batch_stride) * sizeof(float), row,
                                   size_t(y.n), cudaMemcpyDeviceToHost, stream_),
                 "cudaMemcpy2DAsync(output)");
            note(cudaStreamSynchronize(stream_), "cudaStreamSynchronize(output)");
        }
        if (!error_.empty()) throw Error(ErrorKind::Internal, "CUDA executor: " + error_);
        return make_view(output_host_.p, plan_.batch, plan_.output.c, plan_.output.h, plan_.output.w);
    }

    size_t activation_bytes() const override {
        return arena_.bytes + se_scratch_.bytes + workspace_.bytes + cublas_ws_.bytes + staging_bytes_;
    }
    size_t unshared_activation_bytes() const override { return size_t(layout_.unshared) * sizeof(float); }
    size_t weight_bytes() const override {
        size_t n = 0;
        for (const auto& s : steps_) n += s.w.bytes + s.bias.bytes + s.w2.bytes + s.b2.bytes;
        return n;
    }
    Backend backend() const override { return Backend::Cuda; }
    int threads() const override { return 1; }  // one host thread enqueues
    std::string last_error() const override { return error_; }

private:
    void note(cudaError_t e, const char* call) {
        if (e == cudaSuccess) return;
        cudaGetLastError();  // clear a non-sticky error: a later launch check must not see it
        if (error_.empty()) error_ = std::string(call) + " failed: " + cudaGetErrorString(e);
    }
    void note_op(bool ok, const Op& op, const char* call, const char* why) {
        if (!ok && error_.empty()) error_ = op.name + ": " + call + " failed: " + why;
    }

    void upload_input() {
        note(cudaMemcpyAsync(input_dev_.p, input_host_.p, input_dev_.bytes, cudaMemcpyHostToDevice, stream_),
             "cudaMemcpyAsync(input)");
    }

    // Enqueues every op; no allocation, no synchronisation, never throws.
    void forward() {
        // cudaGetLastError also returns an error that some other runtime call of this thread
        // left behind (the caller's own cudaMalloc that failed and was handled, say): read
        // once at the end, it was recorded as this executor's "kernel launch" failure, made
        // create throw and every later run fail. Every failure of ours is read (and cleared)
        // where it happens, so what is pending here is not ours; a sticky (context) error
        // comes back from the next call anyway.
        cudaGetLastError();
        for (const Step& s : steps_) {
            const Op& op = *s.op;
            switch (s.impl) {
                case Impl::Conv: {
                    if (s.stage_in.p) copy_view(s.in, s.conv_in, stream_);
                    const cudnnStatus_t st =
                        s.conv.run(cudnn_, s.conv_in, s.conv_out, s.w.p, workspace_.p, workspace_.bytes);
                    note_op(st == CUDNN_STATUS_SUCCESS, op, "cudnnConvolutionForward", cudnnGetErrorString(st));
                    if (s.stage_out.p) copy_view(s.conv_out, s.out, stream_);
                    bias_act(s.out, s.bias.p, op.act, stream_);
                    break;
                }
                case Impl::BnAct: scale_shift_act(s.in, s.out, s.w.p, s.bias.p, op.act, stream_); break;
                case Impl::MaxPool: max_pool(s.in, s.out, op.k, op.stride, op.pad, stream_); break;
                case Impl::AvgPool: avg_pool(s.in, s.out, op.k, op.stride, op.pad, stream_); break;
                case Impl::Gap: global_avg_pool(s.in, s.out, stream_); break;
                case Impl::SE:
                    squeeze_excite(s.in, s.out, s.w.p, s.bias.p, s.w2.p, s.b2.p, op.se_reduced, se_scratch_.p, stream_);
                    break;
                case Impl::Add: add_act(s.in, s.in2, s.out, op.act, stream_); break;
                case Impl::Linear: {
                    const cublasStatus_t st = linear(cublas_, s.in, s.out, s.w.p);
                    if (st != CUBLAS_STATUS_SUCCESS) note_op(false, op, "cublasSgemm", cublas_error(st).c_str());
                    bias_act(s.out, s.bias.p, op.act, stream_);
                    break;
                }
            }
            // A launch fails at once (no kernel image for this GPU, a bad configuration):
            // name the op whose kernel it was.
            if (const cudaError_t e = cudaGetLastError(); e != cudaSuccess)
                note_op(false, op, "kernel launch", cudaGetErrorString(e));
        }
    }

    DevView view(const Value& v) const {
        const BufferInfo& b = plan_.buffers[v.buf];
        float* base = v.buf == plan_.input.buf ? input_dev_.p : arena_.p + layout_.offset[v.buf];
        const int64_t plane = int64_t(b.h) * b.w;
        return DevView{base + v.c_off * plane, plan_.batch, v.c, v.h, v.w, b.c * plane};
    }

    // The GPU reads exactly these sizes, so a short vector must fail here, not on the device.
    static void expect_size(const Op& op, const std::vector<float>& v, int64_t n, const char* what) {
        if (int64_t(v.size()) != n)
            throw Error(ErrorKind::InvalidArgument, op.name + ": " + what + " has " + std::to_string(v.size()) +
                                                        " values, expected " + std::to_string(n));
    }

    Step pack(const Op& op, const OpWeights& w) {
        switch (op.kind) {
            case OpKind::Conv:
                if (op.groups >= 1)
                    expect_size(op, w.weight, int64_t(op.out.c) * (op.in.c / op.groups) * op.k * op.k, "weight");
                if (op.bias) expect_size(op, w.bias, op.out.c, "bias");
                if (op.bn)
                    for (const auto* v : {&w.bn_gamma, &w.bn_beta, &w.bn_mean, &w.bn_var})
                        expect_size(op, *v, op.out.c, "bn");
                break;
            case OpKind::BnAct:
                for (const auto* v : {&w.bn_gamma, &w.bn_beta, &w.bn_mean, &w.bn_var})
                    expect_size(op, *v, op.in.c, "bn");
                break;
            case OpKind::SE:
                expect_size(op, w.se_w1, int64_t(op.se_reduced) * op.in.c, "se_w1");
                expect_size(op, w.se_b1, op.se_reduced, "se_b1");
                expect_size(op, w.se_w2, int64_t(op.in.c) * op.se_reduced, "se_w2");
                expect_size(op, w.se_b2, op.in.c, "se_b2");
                break;
            case OpKind::Linear:
                expect_size(op, w.weight, int64_t(op.out.c) * op.in.c, "weight");
                if (op.bias) expect_size(op, w.bias, op.out.c, "bias");
                break;
            default: break;
        }
        Step s;
        s.op = &op;
        s.in = view(op.in);
        s.out = view(op.out);
        if (op.kind == OpKind::Add) s.in2 = view(op.in2);
        switch (op.kind) {
            case OpKind::Conv: {
                if (op.groups < 1 || op.in.c % op.groups || op.out.c % op.groups)
                    throw Error(ErrorKind::InvalidArgument, op.name + ": channels not divisible by groups");
                s.impl = Impl::Conv;
                std::vector<float> wf, bf;
                fold_conv_bn(op, w, &wf, &bf);
                s.w = upload(wf, "conv weight");
                if (op.bias || op.bn) s.bias = upload(bf, "conv bias");
                break;
            }
            case OpKind::BnAct: {
                s.impl = Impl::BnAct;
                std::vector<float> scale, shift;
                bn_scale_shift(op, w, &scale, &shift);
                s.w = upload(scale, "bn scale");
                s.bias = upload(shift, "bn shift");
                break;
            }
            case OpKind::Pool: s.impl = op.pool == PoolKind::Max ? Impl::MaxPool : Impl::AvgPool; break;
            case OpKind::GlobalAvgPool: s.impl = Impl::Gap; break;
            case OpKind::SE:
                s.impl = Impl::SE;
                s.w = upload(w.se_w1, "se fc1");
                s.bias = upload(w.se_b1, "se fc1 bias");
                s.w2 = upload(w.se_w2, "se fc2");
                s.b2 = upload(w.se_b2, "se fc2 bias");
                break;
            case OpKind::Add: s.impl = Impl::Add; break;
            case OpKind::Linear:
                if (op.in.h != 1 || op.in.w != 1)
                    throw Error(ErrorKind::InvalidArgument, op.name + ": linear input must be (B, F, 1, 1)");
                s.impl = Impl::Linear;
                s.w = upload(w.weight, "linear weight");
                if (op.bias) s.bias = upload(w.bias, "linear bias");
                break;
        }
        return s;
    }

    // Every conv's algorithm (cache or cudnnFind on the real buffers within a temporary
    // workspace), then the one workspace run() shares: the largest any chosen one needs.
    void choose_algorithms() {
        size_t free_b = 0, total_b = 0;
        check(cudaMemGetInfo(&free_b, &total_b), "cudaMemGetInfo");
        const size_t find_bytes = std::min(kMaxFindWorkspace, free_b / 2) / 256 * 256;
        size_t need = 0;
        {
            DevMem find_ws(find_bytes, "cuDNN find workspace");
            const bool force = force_staging();
            for (Step& s : steps_) {
                if (s.impl != Impl::Conv) continue;
                s.conv_in = s.in, s.conv_out = s.out;
                bool staged = false;
                if (force) staged = stage(s.in, &s.conv_in, &s.stage_in) | stage(s.out, &s.conv_out, &s.stage_out);
                try {
                    s.conv.setup(cudnn_, device_, *s.op, s.conv_in, s.conv_out, s.w.p, tf32_, find_ws.p, find_ws.bytes);
                } catch (const Error& e) {
                    if (e.kind() != ErrorKind::Unsupported || staged) throw;
                    // cuDNN takes no strided slice here: go through packed copies instead.
                    staged = stage(s.in, &s.conv_in, &s.stage_in) | stage(s.out, &s.conv_out, &s.stage_out);
                    if (!staged) throw;
                    s.conv.setup(cudnn_, device_, *s.op, s.conv_in, s.conv_out, s.w.p, tf32_, find_ws.p, find_ws.bytes);
                }
                need = std::max(need, s.conv.algo().workspace);
                staging_bytes_ += s.stage_in.bytes + s.stage_out.bytes;
            }
            check(cudaDeviceSynchronize(), "cudaDeviceSynchronize (algorithm search)");
        }
        workspace_ = DevMem(need, "cuDNN workspace");
    }

    Handles h_;  // first member: destroyed last
    Plan plan_;  // steps_ point into plan_.ops: never copied after construction
    int device_ = 0;
    bool tf32_ = false;
    cudaStream_t stream_ = nullptr;
    cudaEvent_t start_ = nullptr, stop_ = nullptr;
    cudnnHandle_t cudnn_ = nullptr;
    cublasHandle_t cublas_ = nullptr;
    ArenaLayout layout_;
    DevMem arena_, input_dev_, se_scratch_, workspace_, cublas_ws_;
    PinnedMem input_host_, output_host_;
    std::vector<Step> steps_;
    size_t staging_bytes_ = 0;
    std::string error_;  // sticky: the first failure of run()/timed_run_ms()/output()
};

}  // namespace

void require_device(int device) {
    const int n = device_count();
    if (n == 0) throw Error(ErrorKind::Unsupported, "backend cuda: " + device_summary());  // says why there is none
    if (device < 0 || device >= n)
        throw Error(ErrorKind::InvalidArgument, "backend cuda: device " + std::to_string(device) + " out of range (" +
                                                    std::to_string(n) + " device(s))");
}

std::unique_ptr<Executor> make_executor(const Plan& plan, const Weights& weights, const ExecutorOptions& options) {
    require_device(options.device);
    return std::make_unique<CudaExecutor>(plan, weights, options);
}

}  // namespace esm::cuda
