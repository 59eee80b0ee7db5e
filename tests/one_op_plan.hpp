// Test helper shared by the kernel tests (CPU and CUDA): a plan of one op reading buffer 0
// (maybe wider than the op's input: a channel prefix) and writing buffer 1 (maybe wider
// than its output: a slice at out_off). Tests only.
#pragma once
#include "esm/plan.hpp"

inline esm::Plan one_op(esm::Op op, int batch, int in_buf_c, int out_buf_c, int out_off) {
    esm::Plan p;
    p.batch = batch;
    p.res = op.in.h;
    p.buffers = {{in_buf_c, op.in.h, op.in.w}, {out_buf_c, op.out.h, op.out.w}};
    p.input = esm::Value{0, 0, in_buf_c, op.in.h, op.in.w};
    op.in.buf = 0;
    if (op.kind == esm::OpKind::Add) op.in2.buf = 0;
    op.out.buf = 1;
    op.out.c_off = out_off;
    op.name = "op";
    p.ops = {op};
    p.output = p.ops[0].out;
    return p;
}
