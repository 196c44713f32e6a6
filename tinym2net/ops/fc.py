"""Lowering for FULLY_CONNECTED (int8 activations, int8 or int4 symmetric weights, int32 or no bias).

The requantisation multiplier follows TFLite's Prepare step exactly:

* per-channel weights (one scale per output row): ``double(input_scale) * double(filter_scale[o])
  / double(output_scale)`` per row, like the convolutions;
* per-tensor weights: ``GetQuantizedConvolutionMultipler``, which multiplies the two scales in
  float32 *before* widening: ``double(float(input_scale * filter_scale)) / double(output_scale)``.
  The two can differ in the last bit of the significand, hence the separate path.

Any leading dims of the input are flattened into batches (``batches = input size / accum_depth``).
"""

from __future__ import annotations

import numpy as np

from ..ir import DType, FullyConnectedOptions, Graph, Operator, OpKind
from ..quantmath import activation_range_int8, f32, quantize_multiplier
from . import packing
from .base import ConstArray, Lowered, register
from .conv import (
    per_channel_multipliers,
    require_bias,
    require_int8_activation,
    require_int8_filter,
    unsupported,
    weight_arrays,
    weights_template,
)


@register(OpKind.FULLY_CONNECTED)
def lower_fully_connected(op: Operator, graph: Graph) -> Lowered:
    """FULLY_CONNECTED -> ``tm2_fully_connected_s8`` / ``tm2_fully_connected_s4`` (int4 weights)."""
    opts = op.options
    assert isinstance(opts, FullyConnectedOptions)
    ins = graph.op_inputs(op)
    if len(ins) not in (2, 3) or len(op.outputs) != 1:
        raise unsupported(op, f"{len(ins)} inputs / {len(op.outputs)} outputs", "re-export the model")
    x = require_int8_activation(op, ins[0], "input")
    y = require_int8_activation(op, graph.op_outputs(op)[0], "output")
    w = ins[1]
    if w is None or len(w.shape) != 2:
        raise unsupported(op, "weights are not a 2-D [out, in] tensor", "re-export the model")
    out_depth, accum_depth = w.shape
    w = require_int8_filter(op, w, out_depth, axis=0)
    b = require_bias(op, ins[2] if len(ins) == 3 else None, out_depth)
    if accum_depth <= 0 or x.size % accum_depth != 0:
        raise unsupported(
            op, f"input {list(x.shape)} is not a multiple of {accum_depth} features", "re-export the model"
        )
    batches = x.size // accum_depth
    if y.size != batches * out_depth or y.shape[-1] != out_depth:
        raise unsupported(
            op,
            f"output {list(y.shape)} does not match {batches} rows of {out_depth} features",
            "re-export the model",
        )
    act_min, act_max = activation_range_int8(opts.activation, y)
    per_channel = w.quant.per_channel
    if per_channel:
        mult, shift = per_channel_multipliers(x.scale, w.quant.scale, y.scale, out_depth)
    else:
        q, s = quantize_multiplier(f32(x.scale * w.scale) / float(y.scale))
        mult, shift = np.array([q], np.int32), np.array([s], np.int32)
    params = {
        "batches": batches,
        "accum_depth": accum_depth,
        "out_depth": out_depth,
        "input_offset": -x.zero_point,
        "output_offset": y.zero_point,
        "act_min": act_min,
        "act_max": act_max,
        "per_channel": int(per_channel),
        # LiteRT's reference FULLY_CONNECTED rescales with one int64 rounding, TFLite Micro's with two.
        "single_rounding": int(graph.reference == "litert"),
    }
    if packing.PACKED and w.dtype is DType.INT8:  # packed rows + SIMD dot products
        return packing.lower_fc_packed(params, w, b, mult, shift)
    const_inputs, extra = weight_arrays(w, b)
    return Lowered(
        template=weights_template("fully_connected", w),
        params=params,
        const_inputs=const_inputs,
        consts=[ConstArray("mult", "int32_t", mult), ConstArray("shift", "int32_t", shift), *extra],
    )
