"""Lowerings for AVERAGE_POOL_2D and MAX_POOL_2D (int8).

TFLite's int8 pooling does not requantise: it requires the output to share the input's scale
(within 1e-6) and zero point, so the kernels work directly on the stored int8 values. Output
size and padding follow ``ComputePaddingHeightWidth`` with dilation 1; the clamp is the fused
activation range of the output.
"""

from __future__ import annotations

from ..ir import Graph, Operator, OpKind, Pool2DOptions
from ..quantmath import activation_range_int8
from .base import Lowered, register
from .conv import require_int8_activation, unsupported, window_geometry

_TEMPLATES = {OpKind.AVERAGE_POOL_2D: "ops/avg_pool2d.j2", OpKind.MAX_POOL_2D: "ops/max_pool2d.j2"}


@register(OpKind.AVERAGE_POOL_2D, OpKind.MAX_POOL_2D)
def lower_pool2d(op: Operator, graph: Graph) -> Lowered:
    """AVERAGE_POOL_2D -> ``tm2_avg_pool2d_s8``; MAX_POOL_2D -> ``tm2_max_pool2d_s8``."""
    opts = op.options
    assert isinstance(opts, Pool2DOptions)
    if len(op.inputs) != 1 or len(op.outputs) != 1:
        raise unsupported(op, f"{len(op.inputs)} inputs / {len(op.outputs)} outputs", "re-export the model")
    x = require_int8_activation(op, graph.op_inputs(op)[0], "input")
    y = require_int8_activation(op, graph.op_outputs(op)[0], "output")
    if abs(x.scale - y.scale) > 1e-6 or x.zero_point != y.zero_point:
        raise unsupported(
            op,
            f"output scale/zero point ({y.scale}, {y.zero_point}) differ from the input's ({x.scale}, {x.zero_point})",
            "int8 pooling cannot requantise; re-convert the model so both share quantisation",
        )
    if opts.filter_h < 1 or opts.filter_w < 1:
        raise unsupported(op, "filter size must be >= 1", "re-export the model")
    geo = window_geometry(op, (opts.filter_h, opts.filter_w), opts, x, y)
    if y.shape[3] != x.shape[3]:
        raise unsupported(
            op, f"output channels {y.shape[3]} != input channels {x.shape[3]}", "re-export the model"
        )
    act_min, act_max = activation_range_int8(opts.activation, y)
    params = {
        "batches": geo["batches"],
        "in_h": geo["in_h"],
        "in_w": geo["in_w"],
        "channels": x.shape[3],
        "out_h": geo["out_h"],
        "out_w": geo["out_w"],
        "filter_h": opts.filter_h,
        "filter_w": opts.filter_w,
        "stride_h": geo["stride_h"],
        "stride_w": geo["stride_w"],
        "pad_h": geo["pad_h"],
        "pad_w": geo["pad_w"],
        "act_min": act_min,
        "act_max": act_max,
    }
    return Lowered(template=_TEMPLATES[op.kind], params=params)
