// CUDA fully connected layer through cuBLAS (cublasSgemm on the executor's stream);
// bias and activation follow in activation.cu's bias_act. Not the SE FCs (se.cu).
#include "kernels.hpp"

namespace esm::cuda {

cublasStatus_t linear(cublasHandle_t h, const DevView& in, const DevView& out, const float* w) {
    // cuBLAS is column-major: row-major X (B, F) is column-major (F, B) with ld = the
    // batch stride, W (O, F) is column-major (F, O), so Y^T (O, B) = op_T(W) (O, F) X (F, B).
    const float one = 1.0f, zero = 0.0f;
    const int O = out.c, B = in.n, F = in.c;
    return cublasSgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, O, B, F, &one, w, F, in.data, static_cast<int>(in.batch_stride),
                       &zero, out.data, static_cast<int>(out.batch_stride));
}

}  // namespace esm::cuda
