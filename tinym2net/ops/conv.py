"""Lowerings for CONV_2D and DEPTHWISE_CONV_2D (int8 or int4 weights); helpers shared with FC and pooling.

Everything TFLite computes in its Prepare step is computed here at build time, the same way:

* output size and padding: TFLite's ``ComputePaddingHeightWidth`` (SAME / VALID, with dilation);
  the kernels only need the padding before the first row/column;
* per-channel requantisation: for each output channel ``c`` the real multiplier
  ``double(input_scale) * double(filter_scale[c]) / double(output_scale)`` is split by
  ``QuantizeMultiplier`` into a Q31 significand and a power-of-two shift
  (``PopulateConvolutionQuantizationParams``; a per-tensor filter scale is broadcast);
* the fused activation clamp (``CalculateActivationRangeQuantized``).
"""

from __future__ import annotations

import numpy as np

from ..errors import UnsupportedOpError
from ..ir import Conv2DOptions, DepthwiseConv2DOptions, DType, Graph, Operator, OpKind, Padding, Tensor
from ..quantmath import activation_range_int8, quantize_multiplier
from . import packing
from .base import ConstArray, Lowered, register
from .inplace import offers_inplace_rows


def unsupported(op: Operator, what: str, fix: str) -> UnsupportedOpError:
    """The one-line error for an operator feature tinym2net cannot run."""
    return UnsupportedOpError(f"operator {op.index} ({op.kind.value}): {what}; {fix}")


_REQUANTIZE_FIX = (
    "convert the model with full-integer int8 quantisation (int8 activations, symmetric int8 weights)"
)


def require_int8_activation(op: Operator, t: Tensor | None, role: str) -> Tensor:
    """Check an activation tensor is quantised int8 and return it."""
    if t is None:
        raise unsupported(op, f"{role} tensor is missing", "re-export the model")
    if t.dtype is not DType.INT8 or t.quant is None:
        raise unsupported(
            op, f"{role} is {t.dtype.value}, only int8 activations are supported", _REQUANTIZE_FIX
        )
    return t


def require_int8_filter(op: Operator, t: Tensor | None, channels: int, axis: int) -> Tensor:
    """Check a weight tensor: constant, int8 or int4 (packed; see :func:`weights_template`), symmetric, one
    scale or one per output channel along ``axis``."""
    if t is None or not t.is_const:
        raise unsupported(op, "weights are not a constant tensor", "freeze the weights into the model")
    if t.dtype not in (DType.INT8, DType.INT4) or t.quant is None:
        raise unsupported(
            op, f"weights are {t.dtype.value}, only int8 or int4 weights are supported", _REQUANTIZE_FIX
        )
    if any(z != 0 for z in t.quant.zero_point):
        raise unsupported(
            op, f"weight zero point {max(t.quant.zero_point, key=abs)} is not 0", _REQUANTIZE_FIX
        )
    n = len(t.quant.scale)
    if n != 1 and (n != channels or t.quant.axis != axis):
        raise unsupported(
            op,
            f"weights have {n} scales along axis {t.quant.axis}, expected 1 or {channels} along axis {axis}",
            _REQUANTIZE_FIX,
        )
    return t


def weights_template(name: str, w: Tensor) -> str:
    """Template of an op's kernel: ``ops/<name>.j2`` (int8 weights) or ``ops/<name>_s4.j2`` (int4 weights,
    read packed from flash by the ``tm2_*_s4`` kernels of ``tm2_int4.h``, with the same parameters)."""
    return f"ops/{name}_s4.j2" if w.dtype is DType.INT4 else f"ops/{name}.j2"


def weight_arrays(w: Tensor, b: Tensor | None) -> tuple[tuple[int, ...], list[ConstArray]]:
    """``Lowered.const_inputs`` for the filter (input 1) and bias (input 2), plus extra arrays.

    The int8 kernels read the int32 bias tensor. The int4 kernels read an int16 copy (role ``bias16``, still
    counted as weights) when every bias value fits in int16, which is usual: int4 filter scales are about
    18x coarser than int8 ones, so the integer biases are that much smaller. The values are unchanged.
    """
    if b is None:
        return (1,), []
    assert b.data is not None
    if w.dtype is DType.INT4 and int(np.abs(b.data.astype(np.int64)).max(initial=0)) <= 32767:
        return (1,), [ConstArray("bias16", "int16_t", b.data.astype(np.int16).reshape(-1), weights=True)]
    return (1, 2), []


def require_bias(op: Operator, t: Tensor | None, channels: int) -> Tensor | None:
    """Check an optional bias: constant int32 with one value per output channel."""
    if t is None:
        return None
    if not t.is_const:
        raise unsupported(op, "bias is not a constant tensor", "freeze the bias into the model")
    if t.dtype is not DType.INT32:
        raise unsupported(
            op, f"bias is {t.dtype.value}, only int32 bias (int8 activations) is supported", _REQUANTIZE_FIX
        )
    if t.size != channels:
        raise unsupported(
            op, f"bias has {t.size} values for {channels} output channels", "re-export the model"
        )
    return t


def tflite_out_size(padding: Padding, in_size: int, filter_size: int, stride: int, dilation: int) -> int:
    """TFLite ``ComputeOutSize``: SAME -> ceil(in / stride); VALID -> ceil((in - eff + 1) / stride)."""
    effective = (filter_size - 1) * dilation + 1
    if padding is Padding.SAME:
        return (in_size + stride - 1) // stride
    return (in_size + stride - effective) // stride


def tflite_padding(
    padding: Padding, in_size: int, filter_size: int, stride: int, dilation: int
) -> tuple[int, int]:
    """TFLite ``ComputePaddingWithOffset`` for one spatial dim: returns (out_size, pad_before).

    The total padding ``(out - 1) * stride + effective_filter - in`` (clipped at 0) is split with the
    smaller half before; the extra odd element goes after, which the kernels get for free because
    they skip taps past the input's end.
    """
    out = tflite_out_size(padding, in_size, filter_size, stride, dilation)
    effective = (filter_size - 1) * dilation + 1
    total = max(0, (out - 1) * stride + effective - in_size)
    return out, total // 2


def per_channel_multipliers(
    input_scale: float, filter_scales: tuple[float, ...], output_scale: float, channels: int
):
    """(mult, shift) int32 arrays of length ``channels``, as ``PopulateConvolutionQuantizationParams``.

    Scales are float32 values held in Python floats (doubles), so ``a * b / c`` is exactly the C++
    ``static_cast<double>(a) * static_cast<double>(b) / static_cast<double>(c)``.
    """
    mult = np.zeros(channels, np.int32)
    shift = np.zeros(channels, np.int32)
    for c in range(channels):
        f = filter_scales[c] if len(filter_scales) > 1 else filter_scales[0]
        mult[c], shift[c] = quantize_multiplier(float(input_scale) * float(f) / float(output_scale))
    return mult, shift


def window_geometry(op: Operator, filter_hw: tuple[int, int], opts, x: Tensor, y: Tensor) -> dict[str, int]:
    """Batches, sizes, strides, dilations and padding of a windowed NHWC op, checked against the output shape."""
    if len(x.shape) != 4 or len(y.shape) != 4:
        raise unsupported(
            op, f"input {list(x.shape)} / output {list(y.shape)} are not 4-D NHWC", "re-export the model"
        )
    dil_h = getattr(opts, "dilation_h", 1)
    dil_w = getattr(opts, "dilation_w", 1)
    if min(opts.stride_h, opts.stride_w, dil_h, dil_w) < 1:
        raise unsupported(op, "stride and dilation must be >= 1", "re-export the model")
    out_h, pad_h = tflite_padding(opts.padding, x.shape[1], filter_hw[0], opts.stride_h, dil_h)
    out_w, pad_w = tflite_padding(opts.padding, x.shape[2], filter_hw[1], opts.stride_w, dil_w)
    if (out_h, out_w) != tuple(y.shape[1:3]) or y.shape[0] != x.shape[0]:
        raise unsupported(
            op,
            f"output shape {list(y.shape)} does not match the {opts.padding.value} padding arithmetic "
            f"({x.shape[0]}x{out_h}x{out_w})",
            "re-export the model with static shapes",
        )
    return {
        "batches": x.shape[0],
        "in_h": x.shape[1],
        "in_w": x.shape[2],
        "out_h": out_h,
        "out_w": out_w,
        "stride_h": opts.stride_h,
        "stride_w": opts.stride_w,
        "dilation_h": dil_h,
        "dilation_w": dil_w,
        "pad_h": pad_h,
        "pad_w": pad_w,
    }


def _io(op: Operator, graph: Graph) -> tuple[Tensor, Tensor | None, Tensor | None, Tensor]:
    ins = graph.op_inputs(op)
    if len(ins) not in (2, 3) or len(op.outputs) != 1:
        raise unsupported(op, f"{len(ins)} inputs / {len(op.outputs)} outputs", "re-export the model")
    x = require_int8_activation(op, ins[0], "input")
    y = require_int8_activation(op, graph.op_outputs(op)[0], "output")
    bias = ins[2] if len(ins) == 3 else None
    return x, ins[1], bias, y


@register(OpKind.CONV_2D)
@offers_inplace_rows
def lower_conv2d(op: Operator, graph: Graph) -> Lowered:
    """CONV_2D -> ``tm2_conv2d_s8`` / ``_s4`` (grouped convolution included: filter_in_c divides in_c)."""
    opts = op.options
    assert isinstance(opts, Conv2DOptions)
    x, w, b, y = _io(op, graph)
    if w is None or len(w.shape) != 4:
        raise unsupported(op, "filter is not a 4-D [out_c, h, w, in_c] tensor", "re-export the model")
    out_c, fh, fw, f_in_c = w.shape
    w = require_int8_filter(op, w, out_c, axis=0)
    b = require_bias(op, b, out_c)
    in_c = x.shape[3] if len(x.shape) == 4 else -1
    if in_c % f_in_c != 0 or out_c % (in_c // f_in_c) != 0 or y.shape[-1] != out_c:
        raise unsupported(
            op, f"filter {list(w.shape)} does not fit input {list(x.shape)}", "re-export the model"
        )
    geo = window_geometry(op, (fh, fw), opts, x, y)
    act_min, act_max = activation_range_int8(opts.activation, y)
    mult, shift = per_channel_multipliers(x.scale, w.quant.scale, y.scale, out_c)
    params = {
        **geo,
        "in_c": in_c,
        "out_c": out_c,
        "filter_h": fh,
        "filter_w": fw,
        "filter_in_c": f_in_c,
        "input_offset": -x.zero_point,
        "output_offset": y.zero_point,
        "act_min": act_min,
        "act_max": act_max,
    }
    if packing.PACKED and w.dtype is DType.INT8 and f_in_c == in_c:  # not grouped: im2col + SIMD matrix product
        low = packing.lower_conv_packed(params, w, b, mult, shift)
        if low is not None:
            return low
    const_inputs, extra = weight_arrays(w, b)
    return Lowered(
        template=weights_template("conv2d", w),
        params=params,
        const_inputs=const_inputs,
        consts=[ConstArray("mult", "int32_t", mult), ConstArray("shift", "int32_t", shift), *extra],
    )


@register(OpKind.DEPTHWISE_CONV_2D)
@offers_inplace_rows
def lower_depthwise_conv2d(op: Operator, graph: Graph) -> Lowered:
    """DEPTHWISE_CONV_2D -> ``tm2_depthwise_conv2d_s8`` / ``tm2_depthwise_conv2d_s4``.

    The depth multiplier is taken from the shapes (out_c / in_c), as TFLite's kernels effectively
    do; the option field is only cross-checked when it is set.
    """
    opts = op.options
    assert isinstance(opts, DepthwiseConv2DOptions)
    x, w, b, y = _io(op, graph)
    if w is None or len(w.shape) != 4 or w.shape[0] != 1:
        raise unsupported(op, "filter is not a 4-D [1, h, w, out_c] tensor", "re-export the model")
    _, fh, fw, out_c = w.shape
    in_c = x.shape[3] if len(x.shape) == 4 else -1
    if in_c <= 0 or out_c % in_c != 0 or y.shape[-1] != out_c:
        raise unsupported(
            op, f"filter {list(w.shape)} does not fit input {list(x.shape)}", "re-export the model"
        )
    dm = out_c // in_c
    if opts.depth_multiplier not in (0, dm):
        raise unsupported(
            op,
            f"depth_multiplier option {opts.depth_multiplier} disagrees with shapes ({dm})",
            "re-export the model",
        )
    w = require_int8_filter(op, w, out_c, axis=3)
    b = require_bias(op, b, out_c)
    geo = window_geometry(op, (fh, fw), opts, x, y)
    act_min, act_max = activation_range_int8(opts.activation, y)
    mult, shift = per_channel_multipliers(x.scale, w.quant.scale, y.scale, out_c)
    params = {
        **geo,
        "in_c": in_c,
        "out_c": out_c,
        "filter_h": fh,
        "filter_w": fw,
        "depth_multiplier": dm,
        "input_offset": -x.zero_point,
        "output_offset": y.zero_point,
        "act_min": act_min,
        "act_max": act_max,
    }
    if packing.dw3x3_applies(params, w):  # int8 3x3, multiplier 1: transposed rows + SIMD taps
        return packing.lower_dw3x3_packed(params, w, b, mult, shift)
    const_inputs, extra = weight_arrays(w, b)
    return Lowered(
        template=weights_template("depthwise_conv2d", w),
        params=params,
        const_inputs=const_inputs,
        consts=[ConstArray("mult", "int32_t", mult), ConstArray("shift", "int32_t", shift), *extra],
    )
