"""NumPy references for the packed-int4 kernels (``firmware/kernels/tm2_int4.c``).

TFLite stores an INT4 tensor flattened in its natural order, two values per byte, element ``i`` in the
low nibble of byte ``i // 2`` when ``i`` is even and in the high nibble when it is odd (two's
complement, -8..7). LiteRT's reference kernels and TFLite Micro unpack such a filter to int8 and run
the int8 kernel, so the references here unpack with their own nibble arithmetic (independent of
``tinym2net.codegen.pack_int4`` and of the importer) and call the int8 references of
:mod:`refops_linear`.
"""

from __future__ import annotations

import numpy as np
import refops_linear as ref


def pack(values: np.ndarray) -> np.ndarray:
    """int4 values (-8..7, any shape) -> packed bytes (uint8), flattened, low nibble first, odd tail padded 0."""
    flat = np.asarray(values, np.int64).reshape(-1)
    assert flat.size == 0 or (flat.min() >= -8 and flat.max() <= 7), "int4 values must lie in -8..7"
    nib = [v & 0xF for v in flat.tolist()]
    if len(nib) % 2:
        nib.append(0)
    return np.array([lo | (hi << 4) for lo, hi in zip(nib[0::2], nib[1::2], strict=True)], np.uint8)


def unpack(packed: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Packed bytes -> int8 values of ``shape`` (the inverse of :func:`pack`)."""
    n = int(np.prod(shape))
    b = np.asarray(packed, np.uint8).astype(np.int64)
    nib = np.empty(2 * b.size, np.int64)
    nib[0::2] = b & 0xF
    nib[1::2] = b >> 4
    vals = np.where(nib >= 8, nib - 16, nib)[:n]
    return vals.astype(np.int8).reshape(shape)


def conv2d(x, packed, filter_shape, bias, mult, shift, **kw) -> np.ndarray:
    """CONV_2D with a packed int4 filter ``[out_c, kh, kw, in_c/groups]`` (see ``refops_linear.conv2d``)."""
    return ref.conv2d(x, unpack(packed, filter_shape), bias, mult, shift, **kw)


def depthwise_conv2d(x, packed, filter_shape, bias, mult, shift, **kw) -> np.ndarray:
    """DEPTHWISE_CONV_2D with a packed int4 filter ``[1, kh, kw, out_c]``."""
    return ref.depthwise_conv2d(x, unpack(packed, filter_shape), bias, mult, shift, **kw)


def fully_connected(x, packed, filter_shape, bias, mult, shift, **kw) -> np.ndarray:
    """FULLY_CONNECTED with a packed int4 filter ``[out, depth]`` (``single_rounding``: LiteRT's rescale)."""
    return ref.fully_connected(x, unpack(packed, filter_shape), bias, mult, shift, **kw)


def requantize_weights(
    q8: np.ndarray, scales8: np.ndarray, axis: int | None, in_axis: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """int8 weights (one scale, or per channel along ``in_axis``) -> (int4 values, float32 scales):
    ``s4 = float32(max|real| / 7)`` per channel along ``axis`` or per tensor (``axis=None``),
    ``q4 = clip(round_half_away(real / s4), -7, 7)``, written with Python floats element by element."""
    q8 = np.asarray(q8, np.int64)
    s8 = np.asarray(scales8, np.float64).reshape(-1)
    real = np.empty(q8.shape, np.float64)
    for idx in np.ndindex(q8.shape):
        s = s8[idx[in_axis]] if s8.size > 1 else s8[0]
        real[idx] = float(q8[idx]) * float(s)
    if axis is None:
        groups = [[abs(v) for v in real.reshape(-1)]]
    else:
        groups = [[abs(v) for v in np.take(real, c, axis=axis).reshape(-1)] for c in range(q8.shape[axis])]
    s4 = np.array([float(np.float32(max(g) / 7.0)) if max(g) > 0 else 1.0 for g in groups])
    q4 = np.empty(q8.shape, np.int8)
    for idx in np.ndindex(q8.shape):
        s = s4[idx[axis]] if axis is not None else s4[0]
        v = real[idx] / s
        r = np.sign(v) * np.floor(abs(v) + 0.5)
        q4[idx] = int(min(7, max(-7, r)))
    return q4, s4
