// Host tensors: contiguous NCHW float32, 64-byte aligned. A move-only owning Tensor and
// the non-owning TensorView that kernels take. Not a device (CUDA) tensor and not a
// general strided array: the only stride is the batch stride of a channel slice.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <utility>

namespace esm {

// A view of (n, c, h, w) floats. Sample b's channel ch starts at
// data + b * batch_stride + ch * h * w; batch_stride = c*h*w for a whole buffer and
// buf.c*h*w for a channel slice of a wider buffer (DenseNet concatenation).
struct TensorView {
    float* data = nullptr;
    int n = 0, c = 0, h = 0, w = 0;
    int64_t batch_stride = 0;

    int64_t plane() const { return int64_t(h) * w; }
    int64_t sample_size() const { return int64_t(c) * h * w; }
    int64_t size() const { return int64_t(n) * c * h * w; }
    float* sample(int b) const { return data + b * batch_stride; }
    float* channel(int b, int ch) const { return data + b * batch_stride + ch * plane(); }
    bool contiguous() const { return batch_stride == sample_size(); }
};

inline TensorView make_view(float* data, int n, int c, int h, int w) {
    return TensorView{data, n, c, h, w, int64_t(c) * h * w};
}

// Owning, 64-byte aligned, move-only. Allocation only happens here (create time).
class Tensor {
public:
    Tensor() = default;
    Tensor(int n, int c, int h, int w) : n_(n), c_(c), h_(h), w_(w) { data_ = alloc_floats(size()); }
    ~Tensor() { std::free(data_); }
    Tensor(const Tensor&) = delete;
    Tensor& operator=(const Tensor&) = delete;
    Tensor(Tensor&& o) noexcept { swap(o); }
    Tensor& operator=(Tensor&& o) noexcept {
        Tensor t(std::move(o));
        swap(t);
        return *this;
    }

    float* data() { return data_; }
    const float* data() const { return data_; }
    int64_t size() const { return int64_t(n_) * c_ * h_ * w_; }
    TensorView view() { return make_view(data_, n_, c_, h_, w_); }

    // 64-byte aligned floats, freed with std::free; throws std::bad_alloc.
    static float* alloc_floats(int64_t count) {
        size_t bytes = (static_cast<size_t>(count > 0 ? count : 1) * sizeof(float) + 63) / 64 * 64;
        void* p = std::aligned_alloc(64, bytes);
        if (!p) throw std::bad_alloc();
        return static_cast<float*>(p);
    }

private:
    void swap(Tensor& o) noexcept {
        std::swap(data_, o.data_);
        std::swap(n_, o.n_);
        std::swap(c_, o.c_);
        std::swap(h_, o.h_);
        std::swap(w_, o.w_);
    }
    float* data_ = nullptr;
    int n_ = 0, c_ = 0, h_ = 0, w_ = 0;
};

}  // namespace esm
