"""Thread count for the PyTorch comparisons (bench/torch_compare.py, bench/torch_mlp.py).

torch.set_num_threads only sizes PyTorch's own OpenMP pool. Debian's python3-torch sends
GEMM-shaped work (linear layers, many convolutions) to the system OpenBLAS, whose pthreads
pool keeps one thread per core whatever torch was told: a "1 thread" PyTorch run used both
cores of a 2-core machine for those ops (CPU time 2x wall time). This sets both pools.
"""
import ctypes

import torch


def _openblas():
    for line in open("/proc/self/maps"):
        path = line.split()[-1]
        if "openblas" in path and ".so" in path:
            try:
                return ctypes.CDLL(path)
            except OSError:
                pass
    return None


_LIB = _openblas()


def set_threads(n):
    """PyTorch's pool and OpenBLAS's (when PyTorch uses OpenBLAS) to n threads.
    Returns a note for the report."""
    torch.set_num_threads(n)
    if _LIB is not None and hasattr(_LIB, "openblas_set_num_threads"):
        _LIB.openblas_set_num_threads(ctypes.c_int(n))
        return f"torch and OpenBLAS threads = {n}"
    return f"torch threads = {n} (no OpenBLAS loaded)"
