// The algorithm-cache key of a convolution problem (lib/conv_key.hpp): every field, each
// behind its own tag so adjacent numbers cannot run together. Not the cache (cuda/conv.cu).
#include "conv_key.hpp"

namespace esm {

std::string conv_problem_key(const ConvProblem& p) {
    auto i = [](int64_t v) { return std::to_string(v); };
    return "x" + i(p.n) + "x" + i(p.c) + "x" + i(p.h) + "x" + i(p.w) + "/s" + i(p.in_n_stride) + "," +
           i(p.in_c_stride) + ";f" + i(p.k_out) + "x" + i(p.kh) + "x" + i(p.kw) + ";st" + i(p.stride) + ";pad" +
           i(p.pad) + ";dil" + i(p.dilation) + ";g" + i(p.groups) + ";y" + i(p.out_h) + "x" + i(p.out_w) + "/s" +
           i(p.out_n_stride) + "," + i(p.out_c_stride) + ";" + p.dtype + ";" + p.math + ";al" + i(p.align);
}

}  // namespace esm
