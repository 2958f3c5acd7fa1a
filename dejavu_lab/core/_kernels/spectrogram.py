"""Compiled kernel of the spectrogram's power (:mod:`dejavu_lab.core.spectrogram`).

:func:`spectral_power` takes the STFT's power in a single pass over a query's (or a
song's) spectrum, replacing a few numpy calls and their temporaries with the same
arithmetic in the same order: the same bits as the numpy it replaces
(``tests/test_kernels.py``).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def spectral_power(spectrum: np.ndarray, scale: np.float32, out: np.ndarray) -> None:
    """``out = (re**2 + im**2) * scale`` of a complex64 spectrum, in float32, in one pass.

    The same float32 operations in the same order as numpy's
    ``np.multiply(re, re, out); out += im**2; out *= scale`` (numba contracts
    no multiply-add into a fused one without ``fastmath``), so the same bits
    (``tests/test_kernels.py``); numpy makes three passes and a temporary.

    Parameters
    ----------
    spectrum : np.ndarray, shape (n_frames, n_bins), complex64 (any strides)
    scale : np.float32
    out : np.ndarray, shape (n_frames, n_bins), float32
    """
    n_frames, n_bins = out.shape
    for f in range(n_frames):
        for b in range(n_bins):
            value = spectrum[f, b]
            out[f, b] = (value.real * value.real + value.imag * value.imag) * scale
