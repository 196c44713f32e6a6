"""Lowering for MEAN (int8) over a constant set of axes, rank <= 4, with or without keep_dims.

Both LiteRT's BUILTIN_REF resolver and TFLite Micro run int8 MEAN through the same reference function,
``reference_ops::QuantizedMeanOrSum`` (current LiteRT no longer has a separate path for equal input and
output quantisation or for the 4-D H,W case in its reference kernel; the 4-D fast path exists only in the
optimized resolver). That covers ``tf.keras`` GlobalAveragePooling2D, which the converter turns into
MEAN over axes (1, 2) of NHWC with keep_dims false and, usually, a smaller output scale than the input's.

Build-time part, as TFLite computes it (Prepare, then the start of the kernel):

1. ``QuantizeMultiplier(double(input_scale) / double(output_scale))`` -> ``(m, shift)``;
2. ``n`` = product of the reduced dimensions (axes resolved: negatives wrapped, duplicates dropped);
3. the 1/n factor is folded into the multiplier: ``s = min(floor(log2 n), 32, 31 + shift)``,
   ``m = (m << s) // n`` (int64, truncating), ``shift -= s``.

Run time (the C kernel): per output, ``clamp(MultiplyByQuantizedMultiplier(sum - in_zp * n, m, shift)
+ out_zp)``. An empty axis list reduces nothing (a requantisation, n = 1).
"""

from __future__ import annotations

import numpy as np

from ..ir import Graph, Operator, OpKind, ReducerOptions
from ..quantmath import quantize_multiplier
from .base import Lowered, register
from .conv import require_int8_activation, unsupported

MAX_RANK = 4


def resolve_axes(op: Operator, axes: np.ndarray, rank: int) -> list[int]:
    """TFLite ``ResolveAxis``: wrap negative axes, drop duplicates (first occurrence kept), check range."""
    resolved: list[int] = []
    for a in np.asarray(axes).reshape(-1).tolist():
        r = a + rank if a < 0 else a
        if not 0 <= r < rank:
            raise unsupported(
                op, f"axis {a} is out of range for a rank-{rank} input", "fix the reduction axes"
            )
        if r not in resolved:
            resolved.append(r)
    return resolved


def mean_multiplier(input_scale: float, output_scale: float, num_elements: int) -> tuple[int, int]:
    """``(multiplier, shift)`` with the 1/num_elements factor folded in, exactly like QuantizedMeanOrSum."""
    multiplier, shift = quantize_multiplier(float(np.float32(input_scale)) / float(np.float32(output_scale)))
    s = min(num_elements.bit_length() - 1, 32, 31 + shift)
    return (multiplier << s) // num_elements, shift - s


@register(OpKind.MEAN)
def lower_mean(op: Operator, graph: Graph) -> Lowered:
    ins = graph.op_inputs(op)
    x = require_int8_activation(op, ins[0] if ins else None, "input")
    y = require_int8_activation(op, graph.op_outputs(op)[0], "output")
    axes_t = ins[1] if len(ins) > 1 else None
    if axes_t is None or not axes_t.is_const:
        raise unsupported(
            op, "the reduction axes are not a constant tensor", "use constant axes (e.g. keras mean)"
        )
    for t, role in ((x, "input"), (y, "output")):
        if t.quant is not None and t.quant.per_channel:
            raise unsupported(op, f"{role} has per-channel quantisation", "use per-tensor int8 activations")
    rank = len(x.shape)
    if rank > MAX_RANK:
        raise unsupported(
            op, f"input has rank {rank}, at most {MAX_RANK} is supported", "reshape before the MEAN"
        )
    if x.size == 0:
        raise unsupported(op, f"input shape {list(x.shape)} is empty", "remove the empty MEAN")
    axes = resolve_axes(op, axes_t.data, rank)
    num_elements = 1
    for a in axes:
        num_elements *= x.shape[a]
    if y.size * num_elements != x.size:
        raise unsupported(
            op,
            f"output shape {list(y.shape)} does not match input {list(x.shape)} reduced over {axes}",
            "re-export",
        )
    ratio = float(np.float32(x.scale)) / float(np.float32(y.scale))
    if not 0.0 < ratio < float(1 << 29):
        raise unsupported(
            op, f"input/output scale ratio {ratio:.3g} is outside (0, 2^29)", "re-convert the model"
        )
    multiplier, shift = mean_multiplier(x.scale, y.scale, num_elements)
    pad = MAX_RANK - rank
    dims = [1] * pad + list(x.shape)
    reduce = [0] * pad + [1 if a in axes else 0 for a in range(rank)]
    keep_dims = op.options.keep_dims if isinstance(op.options, ReducerOptions) else False
    return Lowered(
        template="ops/mean.j2",
        params={
            "dims": dims,
            "reduce": reduce,
            "num_elements": num_elements,
            "input_zero_point": x.zero_point,
            "output_zero_point": y.zero_point,
            "multiplier": multiplier,
            "shift": shift,
            "axes": axes,
            "keep_dims": keep_dims,
        },
    )
