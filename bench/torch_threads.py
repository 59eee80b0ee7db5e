"""Thread count for the PyTorch comparisons (bench/torch_compare.py, bench/torch_mlp.py).

torch.set_num_threads only sizes PyTorch's own OpenMP pool. Debian's python3-torch sends
GEMM-shaped work (linear layers, many convolutions) to the system OpenBLAS, whose pthreads
pool keeps one thread per core whatever torch was told: a "1 thread" PyTorch run used both
cores of a 2-core machine for those ops (CPU time 2x wall time). set_threads sets both.
"""
import ctypes

import torch


def _openblas():
    try:
        maps = open("/proc/self/maps").read().splitlines()
    except OSError:
        return None
    for line in maps:
        path = line.split()[-1]
        if "openblas" in path and ".so" in path:
            try:
                lib = ctypes.CDLL(path)
                return lib if hasattr(lib, "openblas_set_num_threads") else None
            except OSError:
                pass
    return None


_LIB = _openblas()


def _core():
    """The OpenBLAS kernel PyTorch's GEMMs run on (a generic one on CPUs OpenBLAS does not know)."""
    if _LIB is None or not hasattr(_LIB, "openblas_get_corename"):
        return "?"
    _LIB.openblas_get_corename.restype = ctypes.c_char_p
    return _LIB.openblas_get_corename().decode()


POOLS = (f"torch and OpenBLAS threads (OpenBLAS core {_core()})" if _LIB is not None
         else "torch threads (no OpenBLAS loaded)")


def set_threads(n):
    """PyTorch's pool and, when PyTorch uses OpenBLAS, OpenBLAS's pool to n threads."""
    torch.set_num_threads(n)
    if _LIB is not None:
        _LIB.openblas_set_num_threads(ctypes.c_int(n))
