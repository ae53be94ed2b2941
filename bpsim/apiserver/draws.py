"""numpy's own samplers, called from compiled code: the same draws, in the same order, as
``rng.poisson``, ``rng.random``, ``rng.multinomial`` and ``rng.multivariate_hypergeometric``.

The model draws every random number from the one ``numpy.random.Generator`` it was given. Its
compiled tick loop (:mod:`bpsim.apiserver.ticks`) cannot call that Generator's Python methods
without paying Python's price per draw, so it calls the C functions behind them instead, which
numpy documents as its C API for random numbers (``numpy/random/c_distributions.pxd``) and
exports from the module that implements ``Generator``. Each takes the Generator's
``bitgen_t *`` (``rng.bit_generator.ctypes.bit_generator``), so it consumes the very stream the
Python method would: a run gives the numbers a pure-Python loop gives, bit for bit, and leaves
the Generator where that loop would. The tests check both against the Python methods.

The functions are declared to numba by name (``ExternalFunction``) and their addresses given to
LLVM (``add_symbol``) at import, so compiled code that calls them can still be cached on disk.
Pointers travel as integers (``uintp``: the same register as a pointer in the C calling
convention); an array's is ``a.ctypes.data``.
"""
from __future__ import annotations

import ctypes

import numpy as np
import numpy.random._generator as _generator
from llvmlite import binding as _llvm
from numba import types

_NUMPY = ctypes.CDLL(_generator.__file__)
_P = types.uintp

_SIGNATURES = {
    # int64_t random_poisson(bitgen_t *, double lam)
    "random_poisson": types.int64(_P, types.float64),
    # double random_standard_uniform(bitgen_t *)
    "random_standard_uniform": types.float64(_P),
    # void random_multinomial(bitgen_t *, int64_t n, int64_t *mnix, double *pix, npy_intp d,
    #                         binomial_t *binomial)
    "random_multinomial": types.void(_P, types.int64, _P, _P, types.intp, _P),
    # void random_multivariate_hypergeometric_marginals(bitgen_t *, int64_t total,
    #     size_t num_colors, int64_t *colors, int64_t nsample, size_t num_variates,
    #     int64_t *variates)
    "random_multivariate_hypergeometric_marginals":
        types.void(_P, types.int64, types.uintp, _P, types.int64, types.uintp, _P),
}
for _name in _SIGNATURES:
    _llvm.add_symbol(_name, ctypes.cast(getattr(_NUMPY, _name), ctypes.c_void_p).value)

poisson = types.ExternalFunction("random_poisson", _SIGNATURES["random_poisson"])
uniform = types.ExternalFunction("random_standard_uniform", _SIGNATURES["random_standard_uniform"])
multinomial = types.ExternalFunction("random_multinomial", _SIGNATURES["random_multinomial"])
multivariate_hypergeometric = types.ExternalFunction(
    "random_multivariate_hypergeometric_marginals",
    _SIGNATURES["random_multivariate_hypergeometric_marginals"])

#: Room for numpy's ``binomial_t`` (the multinomial's cache of set-up values: 17 numbers of 8
#: bytes); a zeroed one makes it set up afresh, which changes no draw.
BINOMIAL_WORDS = 32


def bitgen(rng: np.random.Generator) -> int:
    """The address of ``rng``'s ``bitgen_t`` (valid while ``rng`` lives)."""
    return rng.bit_generator.ctypes.bit_generator.value
