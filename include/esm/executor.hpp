// Executes a network plan (esm/plan.hpp) on a backend. Lifecycle create -> run (XNNPACK):
// create validates, allocates, generates and packs weights and folds BN; run() computes
// one forward pass and allocates nothing. Not a measurement protocol (esm/measure.hpp).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "esm/plan.hpp"
#include "esm/tensor.hpp"
#include "esm/weights.hpp"

namespace esm {

enum class Backend { Cpu, Cuda };
const char* backend_name(Backend b);
Backend parse_backend(const std::string& s);  // "cpu" | "cuda"; throws otherwise

// The most CPU threads an executor takes on this machine: 4 per hardware thread, at least 8,
// at most 1024 (more only wait, and an OpenMP runtime that cannot start them ends the process).
int max_cpu_threads();

struct ExecutorOptions {
    Backend backend = Backend::Cpu;  // chosen per executor, never a global mode
    int threads = 1;                 // CPU: OpenMP threads (1..max_cpu_threads()); each runs a single-threaded OpenBLAS
                                     // (run() sets OpenBLAS's process-wide count to 1)
    uint64_t seed = 1;               // weights (esm/weights.hpp) when create() makes them
    // CUDA: allow TF32 tensor-core math in cuDNN convolutions and cuBLAS GEMMs. Off by
    // default (exact FP32 FMA math); record it in every measurement header.
    bool tf32 = false;
    int device = 0;  // CUDA: device ordinal
};

// One thread at a time (run() reuses its buffers); one executor per thread is fine.
class Executor {
public:
    virtual ~Executor() = default;

    // Weights generated from options.seed. Throws esm::Error (Unsupported for a backend
    // this build lacks, InvalidArgument for a bad plan or thread count: a value outside
    // its buffer, an op output shape its input and attributes do not give, a buffer read
    // before any op writes it).
    static std::unique_ptr<Executor> create(const Plan& plan, const ExecutorOptions& options);
    // Given weights (indexed like plan.ops); copied and packed, the caller keeps its own.
    // InvalidArgument, naming the op and tensor, when one has another size than its op's
    // shape gives (weights made for another plan).
    static std::unique_ptr<Executor> create(const Plan& plan, const Weights& weights, const ExecutorOptions& options);

    // One forward pass of the input currently in input(). Never throws, never allocates.
    // CUDA: enqueues the host->device input copy and the pass on its stream, no wait.
    virtual void run() = 0;
    // Host view of plan.input, owned by the executor; fill it before run(). (B, 3, R, R)
    // for a whole network; for a segment plan (extract_segment) whatever it reads, maybe
    // a channel prefix of a wider buffer (batch_stride > c*h*w).
    virtual TensorView input() = 0;
    // Host view of plan.output of the last run, owned by the executor: (B, classes, 1, 1)
    // for a whole network. CUDA: each call copies the output device->host and
    // synchronises; read it after run().
    virtual TensorView output() = 0;

    // Bytes of activation memory this plan needs here: the reused buffer arena plus
    // scratch (im2col, SE), without the input and the weights.
    virtual size_t activation_bytes() const = 0;
    // What the activation buffers would take without reuse (sum over plan buffers).
    virtual size_t unshared_activation_bytes() const = 0;
    virtual size_t weight_bytes() const = 0;
    virtual Backend backend() const = 0;
    virtual int threads() const = 0;

    // One forward pass of input(), timed in milliseconds the backend's way: CPU (this
    // default) a steady clock around run(); CUDA events recorded on the executor's stream
    // around the forward pass only, after the input upload and a synchronisation.
    // Never throws; NaN when the backend has recorded an error (see last_error()).
    virtual double timed_run_ms();
    // The first error run()/timed_run_ms() recorded (they never throw), "" when none.
    // CPU never records one; CUDA keeps it sticky and output() then throws it.
    virtual std::string last_error() const { return {}; }
};

}  // namespace esm
