"""NumPy reference implementations of TFLite's int8 reference kernels: conv, depthwise, FC, pooling, pad.

Written from TFLite's semantics (reference_integer_ops/*.h, kernels/padding.h, common.h) with int64
NumPy arithmetic, independently of the C kernels and of ``tinym2net.ops``; the tests compare all of
them. Integer helpers reproduce int32 C behaviour exactly (wrap-around, truncating division).
"""

from __future__ import annotations

import numpy as np

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


# ---- fixed point (gemmlowp / TFLite common.h) ----


def wrap_i32(v: np.ndarray) -> np.ndarray:
    """Reduce int64 values modulo 2**32 into the int32 range (two's complement wrap-around)."""
    v = np.asarray(v, np.int64)
    return ((v + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def trunc_div(n: np.ndarray, d) -> np.ndarray:
    """C integer division: quotient rounded toward zero."""
    n = np.asarray(n, np.int64)
    d = np.asarray(d, np.int64)
    q = np.abs(n) // np.abs(d)
    return np.where((n < 0) != (d < 0), -q, q)


def srdhm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """SaturatingRoundingDoublingHighMul: (a*b + nudge) / 2**31, truncated, where nudge rounds half away."""
    a = np.asarray(a, np.int64)
    b = np.asarray(b, np.int64)
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    res = trunc_div(ab + nudge, 1 << 31)
    return np.where((a == INT32_MIN) & (b == INT32_MIN), INT32_MAX, res)


def rdbpot(x: np.ndarray, exponent: np.ndarray) -> np.ndarray:
    """RoundingDivideByPOT: x / 2**exponent rounded to nearest, ties away from zero."""
    x = np.asarray(x, np.int64)
    e = np.asarray(exponent, np.int64)
    mask = (np.int64(1) << e) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> e) + (remainder > threshold)


def mbqm(x: np.ndarray, mult: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """MultiplyByQuantizedMultiplier (double rounding): shift > 0 shifts left (wrapping), < 0 right."""
    shift = np.asarray(shift, np.int64)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    x = wrap_i32(np.asarray(x, np.int64) << left)
    return rdbpot(srdhm(x, mult), right)


def mbqm_single(x: np.ndarray, mult: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """TFLite's int64 MultiplyByQuantizedMultiplier: one rounding, half up, of x * mult / 2**(31 - shift)."""
    total = 31 - np.asarray(shift, np.int64)
    prod = np.asarray(x, np.int64) * np.asarray(mult, np.int64)  # |x*m| < 2**62: exact in int64
    return (prod + (np.int64(1) << (total - 1))) >> total


def requantize(
    acc: np.ndarray, mult, shift, output_offset: int, act_min: int, act_max: int, single_rounding: bool = False
) -> np.ndarray:
    """int32 accumulators (last axis = channel) -> int8 outputs."""
    v = (mbqm_single if single_rounding else mbqm)(acc, mult, shift) + output_offset
    return np.clip(v, act_min, act_max).astype(np.int8)


# ---- padding arithmetic (kernels/padding.h) ----


def out_size_and_pad(same: bool, in_size: int, k: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """ComputeOutSize + ComputePaddingWithOffset: (output size, padding before)."""
    eff = (k - 1) * dilation + 1
    out = (in_size + stride - 1) // stride if same else (in_size + stride - eff) // stride
    total = max(0, (out - 1) * stride + eff - in_size)
    return out, total // 2


def _windows(x: np.ndarray, out_hw, k_hw, stride, dilation, pad, fill) -> tuple[np.ndarray, np.ndarray]:
    """Gather every filter tap: returns (taps [N, OH, OW, KH, KW, C], inside [OH, OW, KH, KW] bool).

    ``x`` is padded with ``fill`` far enough on every side that all taps index real memory; the
    mask says which taps fall inside the unpadded input.
    """
    n, h, w, c = x.shape
    oh, ow = out_hw
    kh, kw = k_hw
    oy = (
        np.arange(oh)[:, None, None, None] * stride[0]
        - pad[0]
        + np.arange(kh)[None, None, :, None] * dilation[0]
    )
    ox = (
        np.arange(ow)[None, :, None, None] * stride[1]
        - pad[1]
        + np.arange(kw)[None, None, None, :] * dilation[1]
    )
    iy = np.broadcast_to(oy, (oh, ow, kh, kw))
    ix = np.broadcast_to(ox, (oh, ow, kh, kw))
    inside = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
    lo_y = max(0, -int(iy.min(initial=0)))
    lo_x = max(0, -int(ix.min(initial=0)))
    hi_y = max(0, int(iy.max(initial=0)) - h + 1)
    hi_x = max(0, int(ix.max(initial=0)) - w + 1)
    xp = np.pad(x, ((0, 0), (lo_y, hi_y), (lo_x, hi_x), (0, 0)), constant_values=fill)
    taps = xp[:, iy + lo_y, ix + lo_x, :]
    return taps, inside


# ---- kernels ----


def conv2d(
    x: np.ndarray,
    w: np.ndarray,
    bias: np.ndarray | None,
    mult: np.ndarray,
    shift: np.ndarray,
    *,
    out_hw: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
    pad: tuple[int, int],
    input_offset: int,
    output_offset: int,
    act_min: int,
    act_max: int,
) -> np.ndarray:
    """ConvPerChannel. x [N,H,W,Cin] int8, w [Cout,KH,KW,Cin/groups] int8 -> [N,OH,OW,Cout] int8."""
    cin = x.shape[3]
    cout, kh, kw, fin = w.shape
    groups = cin // fin
    xs = x.astype(np.int64) + input_offset
    taps, inside = _windows(xs, out_hw, (kh, kw), stride, dilation, pad, fill=0)
    taps = taps * inside[None, :, :, :, :, None]  # skipped taps contribute exactly 0
    per_group = cout // groups
    acc = np.empty(taps.shape[:3] + (cout,), np.int64)
    for g in range(groups):
        t = taps[..., g * fin : (g + 1) * fin]
        wg = w[g * per_group : (g + 1) * per_group].astype(np.int64)
        acc[..., g * per_group : (g + 1) * per_group] = np.einsum("nyxabc,oabc->nyxo", t, wg)
    acc = wrap_i32(acc)
    if bias is not None:
        acc = wrap_i32(acc + bias.astype(np.int64))
    return requantize(acc, mult, shift, output_offset, act_min, act_max)


def depthwise_conv2d(
    x: np.ndarray,
    w: np.ndarray,
    bias: np.ndarray | None,
    mult: np.ndarray,
    shift: np.ndarray,
    *,
    depth_multiplier: int,
    out_hw: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int],
    pad: tuple[int, int],
    input_offset: int,
    output_offset: int,
    act_min: int,
    act_max: int,
) -> np.ndarray:
    """DepthwiseConvPerChannel. x [N,H,W,C], w [1,KH,KW,C*dm]; output channel c*dm+m reads input c."""
    _, kh, kw, _ = w.shape
    xs = x.astype(np.int64) + input_offset
    taps, inside = _windows(xs, out_hw, (kh, kw), stride, dilation, pad, fill=0)
    taps = taps * inside[None, :, :, :, :, None]
    taps = np.repeat(taps, depth_multiplier, axis=-1)
    acc = wrap_i32(np.einsum("nyxabo,abo->nyxo", taps, w[0].astype(np.int64)))
    if bias is not None:
        acc = wrap_i32(acc + bias.astype(np.int64))
    return requantize(acc, mult, shift, output_offset, act_min, act_max)


def fully_connected(
    x: np.ndarray,
    w: np.ndarray,
    bias: np.ndarray | None,
    mult: np.ndarray,
    shift: np.ndarray,
    *,
    input_offset: int,
    output_offset: int,
    act_min: int,
    act_max: int,
    single_rounding: bool = False,
) -> np.ndarray:
    """FullyConnected(PerChannel). x [..., D] (flattened to rows of D), w [O, D] -> [B, O].

    ``mult``/``shift`` hold one entry (per-tensor) or O entries (per-channel); both broadcast.
    """
    d = w.shape[1]
    xs = x.reshape(-1, d).astype(np.int64) + input_offset
    acc = wrap_i32(xs @ w.astype(np.int64).T)
    if bias is not None:
        acc = wrap_i32(acc + bias.astype(np.int64))
    return requantize(acc, mult, shift, output_offset, act_min, act_max, single_rounding)


def avg_pool2d(x: np.ndarray, *, k_hw, out_hw, stride, pad, act_min: int, act_max: int) -> np.ndarray:
    """Integer AveragePool: mean over in-bounds taps only, rounded half away from zero, then clamped."""
    taps, inside = _windows(x.astype(np.int64), out_hw, k_hw, stride, (1, 1), pad, fill=0)
    total = (taps * inside[None, :, :, :, :, None]).sum(axis=(3, 4))
    count = inside.sum(axis=(2, 3)).astype(np.int64)[None, :, :, None]
    half = count // 2
    avg = np.where(total > 0, trunc_div(total + half, count), trunc_div(total - half, count))
    return np.clip(avg, act_min, act_max).astype(np.int8)


def max_pool2d(x: np.ndarray, *, k_hw, out_hw, stride, pad, act_min: int, act_max: int) -> np.ndarray:
    """Integer MaxPool over in-bounds taps, then clamped."""
    taps, inside = _windows(x.astype(np.int64), out_hw, k_hw, stride, (1, 1), pad, fill=-128)
    taps = np.where(inside[None, :, :, :, :, None], taps, -128)
    return np.clip(taps.max(axis=(3, 4)), act_min, act_max).astype(np.int8)


def pad(x: np.ndarray, paddings: np.ndarray, pad_value: int) -> np.ndarray:
    """Constant PAD: paddings [rank][2] = (before, after) per dim."""
    return np.pad(x, [(int(a), int(b)) for a, b in np.asarray(paddings)], constant_values=pad_value).astype(
        x.dtype
    )


# ---- build-time quantities, written independently of tinym2net.ops ----


def quantize_multiplier(real: float) -> tuple[int, int]:
    """QuantizeMultiplier: real = q * 2**(shift - 31), q in [2**30, 2**31); (0, 0) for 0."""
    if real == 0.0:
        return 0, 0
    mant, exp = np.frexp(np.float64(real))
    q = int(np.floor(float(mant) * (1 << 31) + 0.5))  # std::round of a positive value (exact in double)
    if q == 1 << 31:
        q //= 2
        exp += 1
    if exp < -31:
        return 0, 0
    if exp > 30:
        return (1 << 31) - 1, 30
    return q, int(exp)


def conv_multipliers(in_scale: float, filter_scales, out_scale: float, channels: int):
    """Per-channel (mult, shift) from double(in) * double(f[c]) / double(out)."""
    fs = np.broadcast_to(np.asarray(filter_scales, np.float32), (channels,))
    pairs = [
        quantize_multiplier(float(np.float64(in_scale) * np.float64(f) / np.float64(out_scale))) for f in fs
    ]
    return np.array([p[0] for p in pairs], np.int32), np.array([p[1] for p in pairs], np.int32)


def fc_per_tensor_multiplier(in_scale: float, filter_scale: float, out_scale: float):
    """GetQuantizedConvolutionMultipler: the scale product is taken in float32 first."""
    prod = np.float32(in_scale) * np.float32(filter_scale)
    q, s = quantize_multiplier(float(np.float64(prod) / np.float64(np.float32(out_scale))))
    return np.array([q], np.int32), np.array([s], np.int32)


def activation_range(act: str, scale: float, zero_point: int) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for int8: act in {none, relu, relu6, relu_n1_to_1}."""

    def q(v: float) -> int:
        r = np.float32(v) / np.float32(scale)
        return zero_point + int(np.sign(r) * np.floor(np.abs(r) + 0.5))

    if act == "relu":
        return max(-128, q(0.0)), 127
    if act == "relu6":
        return max(-128, q(0.0)), min(127, q(6.0))
    if act == "relu_n1_to_1":
        return max(-128, q(-1.0)), min(127, q(1.0))
    return -128, 127
