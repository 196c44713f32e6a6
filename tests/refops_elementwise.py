"""NumPy references for the int8 ADD, MUL, CONCATENATION, QUANTIZE, DEQUANTIZE kernels.

Each function restates TFLite's reference arithmetic (LiteRT's ``BUILTIN_REF`` kernels) directly on
NumPy arrays, from the tensors' float scales and zero points, independently of the C kernels and of
the lowerings' parameter structs. Integer work is done in int64 with explicit wrap/round rules;
float32 work uses NumPy float32 operations (IEEE single precision, one rounding per operation).
The tests anchor these functions to the real LiteRT interpreter.
"""

from __future__ import annotations

import numpy as np

from tinym2net.quantmath import quantize_multiplier, quantize_multiplier_smaller_than_one_exp

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def srdhm(a: np.ndarray, b: int) -> np.ndarray:
    """gemmlowp SaturatingRoundingDoublingHighMul on int32 values held in int64."""
    a = np.asarray(a, dtype=np.int64)
    ab = a * np.int64(b)
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    s = ab + nudge
    q = np.where(s >= 0, s // (1 << 31), -((-s) // (1 << 31)))  # truncating division
    return np.where((a == INT32_MIN) & (b == INT32_MIN), INT32_MAX, q)


def rdbpot(x: np.ndarray, exponent: int) -> np.ndarray:
    """gemmlowp RoundingDivideByPOT: x / 2**exponent rounded half away from zero."""
    x = np.asarray(x, dtype=np.int64)
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def wrap32(x: np.ndarray) -> np.ndarray:
    """Two's-complement wrap to int32 (what the C shift of a uint32 does)."""
    return ((np.asarray(x, dtype=np.int64) + 2**31) % 2**32) - 2**31


def mbqm(x: np.ndarray, mult: int, shift: int) -> np.ndarray:
    """MultiplyByQuantizedMultiplier, double-rounding variant (TFLite's default build)."""
    left, right = max(shift, 0), max(-shift, 0)
    return rdbpot(srdhm(wrap32(np.asarray(x, dtype=np.int64) << left), mult), right)


def round_half_away(x: np.ndarray) -> np.ndarray:
    """std::round of float32 values, as int64. Done in float64, where |x| + 0.5 is exact for float32 x.

    Beyond +-2**30 (and for NaN) TFLite's int cast is undefined; like the C kernels we saturate there.
    """
    x = np.asarray(x, dtype=np.float32).astype(np.float64)
    x = np.where(np.isnan(x), -(2.0**30), np.clip(x, -(2.0**30), 2.0**30))  # the C kernels' saturation
    return (np.sign(x) * np.floor(np.abs(x) + 0.5)).astype(np.int64)


def activation_clamp(y: np.ndarray, act_min: int, act_max: int) -> np.ndarray:
    return np.clip(y, act_min, act_max).astype(np.int8)


def ref_add(x1, x2, s1, z1, s2, z2, so, zo, act_min=-128, act_max=127) -> np.ndarray:
    """int8 ADD with numpy broadcasting (reference_integer_ops::AddFunc, multipliers as add.cc)."""
    f1, f2, fo = np.float32(s1), np.float32(s2), np.float32(so)
    twice_max = 2.0 * float(max(f1, f2))
    m1, sh1 = quantize_multiplier_smaller_than_one_exp(float(f1) / twice_max)
    m2, sh2 = quantize_multiplier_smaller_than_one_exp(float(f2) / twice_max)
    mo, sho = quantize_multiplier_smaller_than_one_exp(twice_max / float(np.float32(1 << 20) * fo))
    a, b = np.broadcast_arrays(np.asarray(x1, np.int64), np.asarray(x2, np.int64))
    v1 = rdbpot(srdhm((a - z1) << 20, m1), -sh1)
    v2 = rdbpot(srdhm((b - z2) << 20, m2), -sh2)
    out = rdbpot(srdhm(v1 + v2, mo), -sho) + zo
    return activation_clamp(out, act_min, act_max)


def mul_multiplier_litert(s1: float, s2: float, so: float) -> tuple[int, int]:
    """LiteRT mul.cc: ``input1->params.scale * input2->params.scale / output->params.scale`` in float32."""
    real = np.float32(np.float32(s1) * np.float32(s2)) / np.float32(so)
    return quantize_multiplier(float(real))


def mul_multiplier_tflm(s1: float, s2: float, so: float) -> tuple[int, int]:
    """TFLite Micro mul_common.cc: the same ratio in double."""
    return quantize_multiplier(float(np.float32(s1)) * float(np.float32(s2)) / float(np.float32(so)))


def ref_mul(x1, x2, s1, z1, s2, z2, so, zo, act_min=-128, act_max=127, multiplier=None) -> np.ndarray:
    """int8 MUL with numpy broadcasting (reference_integer_ops::MulElementwise / BroadcastMul6DSlow).

    ``multiplier`` overrides the (Q31, shift) pair; by default LiteRT's float32 one.
    """
    mult, shift = multiplier if multiplier is not None else mul_multiplier_litert(s1, s2, so)
    a, b = np.broadcast_arrays(np.asarray(x1, np.int64), np.asarray(x2, np.int64))
    out = mbqm((a - z1) * (b - z2), mult, shift) + zo
    return activation_clamp(out, act_min, act_max)


def ref_concat(xs, scales, zero_points, so, zo, axis, qmin=-128, qmax=127) -> np.ndarray:
    """CONCATENATION: copy inputs with the output's (scale, zero point); otherwise rescale as
    ``ConcatenationWithScaling`` (float32 scale and bias). ``qmin``/``qmax`` select int8 or uint8."""
    dtype = np.int8 if qmin < 0 else np.uint8
    so32 = np.float32(so)
    inverse = np.float32(1.0) / so32
    parts = []
    for x, s, z in zip(xs, scales, zero_points, strict=True):
        x = np.asarray(x)
        if np.float32(s) == so32 and z == zo:
            parts.append(x.astype(dtype))
            continue
        scale = np.float32(s) * inverse
        bias = np.float32(-z) * scale
        v = x.astype(np.float32) * scale + bias
        parts.append(np.clip(round_half_away(v) + zo, qmin, qmax).astype(dtype))
    return np.concatenate(parts, axis=axis)


def ref_quantize(x, scale, zero_point) -> np.ndarray:
    """AffineQuantize float32 -> int8: round(x / scale) in float32, plus zero point, clamped."""
    with np.errstate(over="ignore"):  # huge inputs become inf and saturate, as in the C kernel
        q = np.asarray(x, dtype=np.float32) / np.float32(scale)
    return np.clip(round_half_away(q) + zero_point, -128, 127).astype(np.int8)


def ref_requantize(x, s_in, z_in, s_out, z_out) -> np.ndarray:
    """Requantize int8 -> int8 with QuantizeMultiplier(double(s_in) / double(s_out))."""
    mult, shift = quantize_multiplier(float(np.float32(s_in)) / float(np.float32(s_out)))
    out = mbqm(np.asarray(x, np.int64) - z_in, mult, shift) + z_out
    return np.clip(out, -128, 127).astype(np.int8)


def ref_dequantize(x, scale, zero_point) -> np.ndarray:
    """Dequantize int8 -> float32: ``(float)(double(scale) * (q - z))``, exactly as the C++ does."""
    return (float(np.float32(scale)) * (np.asarray(x, np.int64) - zero_point).astype(np.float64)).astype(
        np.float32
    )
