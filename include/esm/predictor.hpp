// A trained latency predictor and its self-describing, versioned, checksummed file
// (docs/predictor_format.md): space, encoding, normalisation, MLP weights, metadata.
// Not the trainer (esm::train_mlp) and not the lookup-table baseline.
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "esm/arch.hpp"
#include "esm/encode.hpp"
#include "esm/mlp.hpp"
#include "esm/space.hpp"

namespace esm {

namespace detail {
class FusedMlp;
}

// Version 2 added the linear skip (MlpModel::skip); version 1 files still load (no skip).
constexpr int kPredictorFormatVersion = 2;

// The const methods (predict*, serialize, the accessors) may be called from any number of
// threads at once: one predictor serves a search's every thread (docs/api.md, "Threads").
class Predictor {
public:
    Predictor(const Space& space, Encoding encoding, MlpModel model, ResEncoding res = ResEncoding::Scalar);

    // Reads a predictor file; throws esm::Error (Io or Format) naming the file, the line
    // and what is wrong: truncated, checksum mismatch, unsupported version, bad field.
    static Predictor load(const std::string& path);
    // As load, and also fails unless the file's space equals `expected`.
    static Predictor load(const std::string& path, const Space& expected);
    static Predictor parse(const std::string& bytes, const std::string& where);

    // Writes atomically (temporary file, fsync, rename): an existing file is replaced
    // whole or left untouched. A path naming a device, FIFO or socket is refused (Io).
    void save(const std::string& path) const;
    std::string serialize() const;

    const Space& space() const { return encoder_.space(); }
    Encoding encoding() const { return encoder_.encoding(); }
    const Encoder& encoder() const { return encoder_; }
    const MlpModel& model() const { return model_; }

    // Metadata carried by the file (all optional).
    std::string target = "latency_ms";  // the dataset column it predicts
    int n_bins = 5;
    std::vector<std::pair<std::string, std::string>> dataset_meta;  // the dataset's device header
    std::string metrics_json;   // test metrics at training time
    std::string training;       // one line: how it was trained (sizes, seed, options)
    std::string library_version;  // of the library that wrote it (set on save)

    // Latency in the target's unit (ms). Throws esm::Error on an arch not of this space.
    double predict(const Arch& arch) const;
    double predict(const std::string& arch_text) const;  // throws on text of another space
    // out: (n). Encode + batched MLP in chunks; allocates only small per-call buffers. The
    // hot path of a search: the archs must be of this predictor's space (from parse_arch,
    // a Sampler or validate_arch on it), they are not checked again; an arch of another
    // space reads and writes out of bounds.
    void predict_batch(const Arch* archs, size_t n, float* out) const;
    // The same for archs held elsewhere (handles, a population): n pointers.
    void predict_batch(const Arch* const* archs, size_t n, float* out) const;
    // out: (n) from rows already encoded by encoder(): x (n, encoder().length()).
    void predict_encoded(const float* x, size_t n, float* out) const;

private:
    Encoder encoder_;
    MlpModel model_;
    // model_.net with the input standardisation folded into the first layer (W' = W diag(inv_std),
    // b' = b - W' mean), so prediction skips a pass over the inputs, packed for the fused
    // inference kernels (lib/mlp_fused.hpp). Derived, never stored; immutable, shared by copies.
    std::shared_ptr<const detail::FusedMlp> fused_;
    // The linear skip folded the same way, in target units: lin(x) = skip_c_ + skip_raw_ . x
    // (empty without a skip).
    std::vector<float> skip_raw_;
    double skip_c_ = 0;
};

// FNV-1a 64-bit hash (the file's checksum).
uint64_t fnv1a64(const void* data, size_t n);

// Writes `bytes` to `path` atomically (tmp + fsync + rename + directory fsync); refuses
// (Io) a path that names a device, FIFO or socket, which the rename would replace.
void write_file_atomic(const std::string& path, const std::string& bytes);
// The directory a file path lies in: "." for "x", "/" for "/x", "a/b" for "a/b/x".
std::string parent_directory(const std::string& path);
// Creates `path` and its missing parents (mkdir -p); throws esm::Error (Io) naming the part
// that cannot be made (a file in the way, no permission).
void make_directories(const std::string& path);

}  // namespace esm
