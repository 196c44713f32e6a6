"""Reference arithmetic for the int8 SOFTMAX, LOGISTIC and MEAN kernels, in plain Python integers.

A scalar port of the arithmetic of TFLite's reference kernels (``reference_ops::Softmax``,
``reference_integer_ops::Logistic``, ``reference_ops::QuantizedMeanOrSum``) and of the gemmlowp
fixed-point functions they call. Python integers never overflow, so every place where the C++ code relies
on int32 wrap-around or saturation does it explicitly here. Written independently of the C kernels so that
the tests compare two implementations, and anchored against the TFLite interpreters in the tests.

Fixed-point convention (gemmlowp ``FixedPoint<int32, I>``): an int32 raw word r means r / 2^(31 - I).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
from collections.abc import Sequence

import numpy as np

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def wrap32(x: int) -> int:
    """Two's-complement int32 wrap-around of an arbitrary integer."""
    return ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def srdhm(a: int, b: int) -> int:
    """SaturatingRoundingDoublingHighMul: (a * b + nudge) / 2^31 with C's truncating division."""
    if a == INT32_MIN and b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    s = ab + ((1 << 30) if ab >= 0 else 1 - (1 << 30))
    q = abs(s) >> 31
    return q if s >= 0 else -q


def rdbpot(x: int, exponent: int) -> int:
    """RoundingDivideByPOT: x / 2^exponent rounded to nearest, ties away from zero."""
    assert 0 <= exponent <= 31
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def mul_pot(x: int, exponent: int) -> int:
    """SaturatingRoundingMultiplyByPOT: saturating x << e for e > 0, rounding x >> -e for e < 0."""
    if exponent > 0:
        threshold = (1 << (31 - exponent)) - 1
        if x > threshold:
            return INT32_MAX
        if x < -threshold:
            return INT32_MIN
        return x << exponent
    if exponent < 0:
        return rdbpot(x, -exponent)
    return x


def mbqm(x: int, multiplier: int, shift: int) -> int:
    """MultiplyByQuantizedMultiplier (double rounding); the left shift wraps like the C++ int product."""
    left = shift if shift > 0 else 0
    right = -shift if shift < 0 else 0
    return rdbpot(srdhm(wrap32(x << left), multiplier), right)


def one(int_bits: int) -> int:
    return INT32_MAX if int_bits == 0 else 1 << (31 - int_bits)


# ---- gemmlowp functions ----------------------------------------------------------------------


def exp_on_interval_between_negative_one_quarter_and_0_excl(a: int) -> int:
    """exp(a), a in [-1/4, 0) in Q0: fourth-order Taylor expansion around -1/8."""
    constant_term = 1895147668  # exp(-1/8)
    one_third = 715827883
    x = wrap32(a + (1 << 28))
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    x4_over_4 = mul_pot(x4, -2)
    poly = mul_pot(wrap32(srdhm(wrap32(x4_over_4 + x3), one_third) + x2), -1)
    return wrap32(constant_term + srdhm(constant_term, wrap32(x + poly)))


_EXP_BARREL = (
    (-2, 1672461947),
    (-1, 1302514674),
    (0, 790015084),
    (1, 290630308),
    (2, 39332535),
    (3, 720401),
    (4, 242),
)


def exp_on_negative_values(a: int, int_bits: int) -> int:
    """exp(a) for a <= 0 in Q(int_bits); result in Q0."""
    frac_bits = 31 - int_bits
    quarter = 1 << (frac_bits - 2)
    a_mod = wrap32((a & (quarter - 1)) - quarter)
    result = exp_on_interval_between_negative_one_quarter_and_0_excl(mul_pot(a_mod, int_bits))
    remainder = wrap32(a_mod - a)
    for exponent, multiplier in _EXP_BARREL:
        if int_bits > exponent and remainder & (1 << (frac_bits + exponent)):
            result = srdhm(result, multiplier)
    if int_bits > 5 and a < -(1 << (36 - int_bits)):
        result = 0
    if a == 0:
        result = INT32_MAX
    return result


def rounding_half_sum(a: int, b: int) -> int:
    s = a + b
    t = s + (1 if s >= 0 else -1)
    q = abs(t) // 2
    return q if t >= 0 else -q


def one_over_one_plus_x_for_x_in_0_1(a: int) -> int:
    """1 / (1 + a) for a in [0, 1) in Q0, by three Newton-Raphson steps in Q2."""
    half_den = rounding_half_sum(a, INT32_MAX)
    x = wrap32(1515870810 + srdhm(half_den, -1010580540))
    for _ in range(3):
        hx = srdhm(half_den, x)
        one_minus = wrap32((1 << 29) - hx)
        x = wrap32(x + mul_pot(srdhm(x, one_minus), 2))
    return mul_pot(x, 1)


def logistic_fixed(a: int, int_bits: int) -> int:
    """gemmlowp logistic(a) for a in Q(int_bits); result in Q0."""
    if a == 0:
        return 1 << 30
    abs_a = a if a > 0 else wrap32(-a)
    positive = one_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(wrap32(-abs_a), int_bits))
    return positive if a > 0 else wrap32(INT32_MAX - positive)


def get_reciprocal(x: int, x_integer_digits: int) -> tuple[int, int]:
    """TFLite GetReciprocal: returns (1/(1+s) in Q0, num_bits_over_unit) for x normalised to 1 + s."""
    headroom_plus_one = 32 - x.bit_length() if x > 0 else 32
    shifted_minus_one = wrap32(((x << headroom_plus_one) & 0xFFFFFFFF) - (1 << 31))
    return one_over_one_plus_x_for_x_in_0_1(shifted_minus_one), x_integer_digits - headroom_plus_one


# ---- build-time parameters, as TFLite computes them at Prepare -------------------------------


def tflite_round(x: float) -> int:
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def quantize_multiplier(m: float) -> tuple[int, int]:
    """QuantizeMultiplier as built by default (TFLITE_SINGLE_ROUNDING off: no clamp of shift > 30)."""
    if m == 0.0:
        return 0, 0
    q, shift = math.frexp(m)
    q_fixed = tflite_round(q * (1 << 31))
    if q_fixed == 1 << 31:
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return q_fixed, shift


def calculate_input_radius(int_bits: int, left_shift: int, total_signed_bits: int = 31) -> int:
    value = 1.0 * ((1 << int_bits) - 1) * (1 << (total_signed_bits - int_bits)) / (1 << left_shift)
    return int(math.floor(value))


def softmax_params(input_scale: float, beta: float) -> tuple[int, int, int]:
    """(input_multiplier, input_left_shift, diff_min) of PreprocessSoftmaxScaling with 5 integer bits."""
    real = min(float(np.float32(beta)) * float(np.float32(input_scale)) * (1 << 26), float((1 << 31) - 1))
    mult, shift = quantize_multiplier(real)
    return mult, shift, -calculate_input_radius(5, shift)


def logistic_params(input_scale: float) -> tuple[int, int, int]:
    """(input_multiplier, input_left_shift, input_range_radius) as TFLite Micro's LogisticPrepare."""
    q, shift = math.frexp(float(np.float32(input_scale)) * float(1 << 27))
    return tflite_round(q * (1 << 31)), shift, calculate_input_radius(4, shift, 31)


# ---- kernels ---------------------------------------------------------------------------------


def softmax_ref(x: np.ndarray, input_multiplier: int, input_left_shift: int, diff_min: int) -> np.ndarray:
    """reference_ops::Softmax, int8 -> int8 (1/256, -128), over the last axis."""
    x = np.asarray(x, dtype=np.int8)
    rows = x.reshape(-1, x.shape[-1]).astype(np.int64)
    out = np.empty(rows.shape, dtype=np.int8)
    for r, row in enumerate(rows.tolist()):
        mx = max(row)
        exps: list[int | None] = []
        total = 0
        for v in row:
            diff = v - mx
            if diff >= diff_min:
                e = exp_on_negative_values(srdhm(wrap32(diff << input_left_shift), input_multiplier), 5)
                total = wrap32(total + mul_pot(e, -12))
                exps.append(e)
            else:
                exps.append(None)
        recip, bits_over_unit = get_reciprocal(total, 12)
        exponent = bits_over_unit + 31 - 8
        assert exponent >= 0
        if exponent > 31:  # TFLite aborts (TFLITE_CHECK); tinym2net defines the row as all -128
            out[r, :] = -128
            continue
        for c, e in enumerate(exps):
            out[r, c] = -128 if e is None else min(max(rdbpot(srdhm(recip, e), exponent) - 128, -128), 127)
    return out.reshape(x.shape)


def logistic_ref(
    x: np.ndarray,
    input_zero_point: int,
    input_range_radius: int,
    input_multiplier: int,
    input_left_shift: int,
) -> np.ndarray:
    """reference_integer_ops::Logistic, int8 -> int8 (1/256, -128)."""
    x = np.asarray(x, dtype=np.int8)
    out = np.empty(x.size, dtype=np.int8)
    for i, v in enumerate(x.reshape(-1).tolist()):
        d = v - input_zero_point
        if d <= -input_range_radius:
            out[i] = -128
        elif d >= input_range_radius:
            out[i] = 127
        else:
            s = logistic_fixed(mbqm(d, input_multiplier, input_left_shift), 4)
            out[i] = min(max(rdbpot(s, 23) - 128, -128), 127)
    return out.reshape(x.shape)


def _libm_expf():
    """The C library's float32 exp, which LiteRT's table uses on this host (NumPy's float32 exp differs from
    it in the last bit for some arguments); None where libm cannot be loaded."""
    name = ctypes.util.find_library("m")
    if name is None:
        return None
    try:
        fn = ctypes.CDLL(name).expf
    except (OSError, AttributeError):
        return None
    fn.restype = ctypes.c_float
    fn.argtypes = [ctypes.c_float]
    return fn


def logistic_litert_lut(input_scale: float, input_zero_point: int) -> np.ndarray:
    """LiteRT's int8 LOGISTIC table (BUILTIN_REF and optimized alike, ``LUTPopulateInt8``), float32 math:
    ``clamp(round(256 / (1 + expf(-scale * (v - zp)))) - 128)``. Index i is the output for input i - 128."""
    expf = _libm_expf()
    s = np.float32(input_scale)
    out = np.empty(256, dtype=np.int8)
    for i, v in enumerate(range(-128, 128)):
        deq = np.float32(s * np.float32(v - input_zero_point))
        with np.errstate(over="ignore"):
            e = np.float32(expf(float(-deq))) if expf is not None else np.exp(-deq, dtype=np.float32)
            y = np.float32(1.0) / (np.float32(1.0) + e)
        q = tflite_round(float(np.float32(y * np.float32(256.0)))) - 128
        out[i] = min(max(q, -128), 127)
    return out


def mean_ref(
    x: np.ndarray,
    axes: Sequence[int],
    input_zero_point: int,
    output_zero_point: int,
    multiplier: int,
    shift: int,
) -> np.ndarray:
    """reference_ops::QuantizedMeanOrSum(compute_sum=false) for int8; returns the kept-dims result flattened
    into the shape without the reduced axes. ``multiplier``/``shift`` are QuantizeMultiplier(in/out scale);
    the 1/n folding happens here as TFLite does it at run time."""
    x = np.asarray(x, dtype=np.int8)
    rank = x.ndim
    resolved = sorted({a + rank if a < 0 else a for a in axes})
    n = 1
    for a in resolved:
        n *= x.shape[a]
    sums = x.astype(np.int64).sum(axis=tuple(resolved)) if resolved else x.astype(np.int64)
    sums = np.vectorize(wrap32, otypes=[np.int64])(sums) if sums.size else sums
    s = min(n.bit_length() - 1, 32)
    s = min(s, 31 + shift)
    mult = (multiplier << s) // n
    out_shift = shift - s
    flat = [
        min(max(mbqm(wrap32(int(v) - input_zero_point * n), mult, out_shift) + output_zero_point, -128), 127)
        for v in np.asarray(sums).reshape(-1).tolist()
    ]
    kept = tuple(d for i, d in enumerate(x.shape) if i not in resolved)
    return np.array(flat, dtype=np.int8).reshape(kept)
