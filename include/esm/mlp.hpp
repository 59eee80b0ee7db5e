// The latency regressor (ESM paper): a fully connected ReLU network with one output, Adam,
// MSE on standardised targets, early stopping on a validation split. Own code: AVX-512 or
// AVX2 small-GEMM kernels where the CPU has them, cblas_sgemm elsewhere; not a general
// deep-learning framework (no other layers or losses).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace esm {

// The bare network: layers in -> hidden... -> 1, ReLU between, linear output.
// Parameters live in one flat vector: per layer W (out, in) row-major, then b (out).
class Mlp {
public:
    Mlp() = default;
    // Weights and biases uniform in +-1/sqrt(fan_in) (PyTorch's nn.Linear default), seeded.
    Mlp(int inputs, const std::vector<int>& hidden, uint64_t seed);
    // From explicit sizes and parameters (loading); throws when the count does not match.
    Mlp(const std::vector<int>& sizes, std::vector<float> params);

    int inputs() const { return sizes_.empty() ? 0 : sizes_.front(); }
    const std::vector<int>& sizes() const { return sizes_; }  // inputs, hidden..., 1
    int layers() const { return static_cast<int>(sizes_.size()) - 1; }
    size_t param_count() const { return params_.size(); }
    std::vector<float>& params() { return params_; }
    const std::vector<float>& params() const { return params_; }
    size_t weight_offset(int layer) const { return offsets_[static_cast<size_t>(layer)]; }
    size_t bias_offset(int layer) const;

    // Reusable buffers for forward/backward on up to `rows` rows.
    struct Workspace {
        size_t rows = 0;
        std::vector<float> act;   // activations of every layer, (rows, width) each
        std::vector<float> grad;  // two ping-pong buffers for backpropagated gradients
        std::vector<float> wt;    // the weights transposed, (in, out) per layer, for the vector kernels
    };
    void reserve(Workspace& ws, size_t rows) const;

    // y: (n) = net(x), x: (n, inputs) row-major. Allocates only if ws is too small.
    void forward(const float* x, size_t n, float* y, Workspace& ws) const;
    // Mean squared error of net(x) against t over n rows, each row's squared error times
    // w[i] when w is given; g (param_count()) receives d loss / d params (overwritten).
    // Returns the loss.
    double loss_grad(const float* x, const float* t, size_t n, float* g, Workspace& ws, const float* w = nullptr) const;

private:
    void forward_keep(const float* x, size_t n, Workspace& ws) const;
    std::vector<int> sizes_;
    std::vector<size_t> offsets_;  // start of each layer's W
    std::vector<float> params_;
};

// Adam (Kingma & Ba) with L2 weight decay added to the gradient (PyTorch's Adam
// weight_decay), bias-corrected moments.
class Adam {
public:
    Adam(size_t n, double lr, double weight_decay = 0, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8);
    void step(float* params, const float* grad);  // params, grad: (n)
    void set_lr(double lr) { lr_ = lr; }
    double lr() const { return lr_; }
    long steps() const { return t_; }

private:
    std::vector<float> m_, v_;
    double lr_, wd_, b1_, b2_, eps_;
    long t_ = 0;
};

enum class LrSchedule { Constant, Cosine };

struct MlpModel;

struct MlpOptions {
    std::vector<int> hidden = {64, 64, 64};
    double lr = 0.01;
    double weight_decay = 1e-4;
    int epochs = 200;
    // At least this many optimiser steps: a small training set runs more epochs than
    // `epochs` (200 epochs of 64-row batches reach 20,000 steps from ~7,000 rows on;
    // 500 rows alone would get 1,600 steps and stay undertrained; docs/performance.md).
    long min_steps = 20000;
    int batch_size = 64;
    double val_frac = 0.1;  // share of the training rows held out for early stopping (0 = none)
    int patience = 0;       // stop after this many epochs without improvement (0 = never stop early)
    LrSchedule schedule = LrSchedule::Cosine;
    bool log_target = false;  // regress log(latency) instead of latency
    // A linear skip connection from the inputs to the output: a ridge least-squares fit of
    // the (log) target on the standardised inputs first (its ridge chosen on the validation
    // split), then the network learns what that linear model leaves (docs/performance.md).
    bool linear_skip = false;
    // Each row's squared error weighted by 1 / latency^2 (scaled to mean 1), in the skip's
    // fit, the network's loss and the validation score: the error minimised is the relative
    // one, which the accuracy metric (100 - MAPE) averages, instead of one in ms that the
    // slowest architectures dominate. Needs latencies > 0; not with log_target.
    bool relative_loss = false;
    uint64_t seed = 1;
    // Fine-tuning: start from this model (e.g. another device's predictor calibrated to the
    // new one, esm::fine_tune_predictor) instead of a fresh one. Its input and target
    // standardisation and its network's shape are kept (`hidden`, `linear_skip` and the
    // standardisation of these rows are not used). With more training rows (after the
    // validation split) than inputs + 1, a linear correction of what the model leaves comes
    // first: a ridge fit on the standardised inputs, its ridge (or none) chosen by exact
    // leave-one-out on the training rows, added to the model's skip and constant. Then the
    // network trains from the model's weights; the model so far counts as epoch -1 for early
    // stopping, so a training that only makes the validation loss worse returns it with its
    // network unchanged. Needs the same number of inputs and the same `log_target`.
    std::shared_ptr<const MlpModel> init;
};

struct TrainReport {
    int epochs_run = 0;
    int best_epoch = -1;             // -1: none better than the start (fine-tuning: the model as given)
    double best_val_loss = 0;        // MSE in standardised target space of the weights kept (without a
                                     // validation split: on the training rows, scored after the epoch)
    std::vector<double> train_loss;  // per epoch
    std::vector<double> val_loss;    // per epoch (empty without a validation split)
    double skip_ridge = 0;           // with a linear skip: the ridge chosen (lambda / training rows);
                                     // fine-tuning: its linear correction's (0: none)
    double skip_only_val_loss = -1;  // with a linear skip and a validation split: the skip alone's
                                     // MSE there, in the network's units (what the network improves on)
};

// A trained regressor: the network plus input/target standardisation.
struct MlpModel {
    Mlp net;
    std::vector<float> x_mean, x_inv_std;  // per input feature
    double y_mean = 0, y_std = 1;          // of the (possibly log) target; with a skip, y_std is its residual's
    bool log_target = false;
    // Linear skip weights on the standardised inputs (empty: none). The (log) target is
    // y_mean + skip . x_std + y_std * net(x_std).
    std::vector<float> skip;

    int inputs() const { return net.inputs(); }
    // latency: (n) from encoded rows x: (n, inputs). Batched, chunked, allocates a
    // small workspace per call; thread-safe.
    void predict(const float* x, size_t n, float* latency) const;
    double predict_one(const float* x) const;
    // y: (n) raw network outputs -> latencies, in place (undoes the target standardisation
    // and, with log_target, the log). lin: (n) the skip's term per row in target units, or
    // null without a skip.
    void to_latency(float* y, size_t n, const float* lin = nullptr) const;
};

// Trains on n rows x: (n, d) with latencies y: (n) (> 0 when log_target). Deterministic
// for a given seed and inputs. Throws esm::Error on bad arguments.
MlpModel train_mlp(const float* x, const float* y, size_t n, int d, const MlpOptions& opt,
                   TrainReport* report = nullptr);

// Sets OpenBLAS's thread count (the MLP's matrices are small: one thread is fastest).
// Process-wide; every CPU Executor::run() sets it to 1 (its own GEMMs run one OpenBLAS
// thread inside each OpenMP thread): not while another thread's executor runs.
// Training is bit-identical on any thread count where the own training kernels run (x86
// with AVX2 or AVX-512); elsewhere its products go through OpenBLAS's sgemm, whose threads
// sum in their own order, and only a fixed thread count (the tools' default 1) reproduces it.
void set_blas_threads(int n);

}  // namespace esm
