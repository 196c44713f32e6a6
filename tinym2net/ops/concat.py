"""Lowering for int8 CONCATENATION along any axis.

The tensors are viewed as ``[outer, dim(axis) * inner]`` (``outer``: product of the dims before
the axis, ``inner``: after it); the kernel appends, for each outer index, one slice of every input.

TFLite's int8 kernels (LiteRT and TFLite Micro) require every input to share the output's scale
and zero point (the converter inserts a requantising QUANTIZE where they would differ), so a model
from the converter always takes the plain-copy path. For an input with other parameters we rescale
exactly as TFLite's reference ``ConcatenationWithScaling`` (its uint8 path) does, in float32:
``scale = s_in * (1 / s_out)``, ``bias = -z_in * scale``,
``q_out = clamp(round_half_away(q_in * scale + bias) + z_out, -128, 127)``.
"""

from __future__ import annotations

import numpy as np

from ..ir import Activation, ConcatenationOptions, Graph, Operator, OpKind
from .base import Lowered, register
from .conv import unsupported
from .elementwise import require_int8_per_tensor


def concat_rescale(in_scale: float, in_zero_point: int, out_scale: float) -> tuple[float, float]:
    """(scale, bias) float32 values of ``ConcatenationWithScaling`` for one input."""
    inverse = np.float32(1.0) / np.float32(out_scale)
    scale = np.float32(in_scale) * inverse
    bias = np.float32(-in_zero_point) * scale
    return float(scale), float(bias)


@register(OpKind.CONCATENATION)
def lower_concatenation(op: Operator, graph: Graph) -> Lowered:
    """CONCATENATION (int8, any axis, any number of inputs) -> ``tm2_concat_s8``."""
    opts = op.options
    if not isinstance(opts, ConcatenationOptions):
        raise unsupported(op, f"unexpected options {type(opts).__name__}", "re-export the model")
    if opts.activation is not Activation.NONE:
        raise unsupported(
            op,
            f"fused activation {opts.activation.value} (TFLite refuses it too)",
            "apply the activation separately",
        )
    ins = graph.op_inputs(op)
    if not ins or len(op.outputs) != 1:
        raise unsupported(op, f"{len(ins)} inputs and {len(op.outputs)} outputs", "re-export the model")
    xs = [require_int8_per_tensor(op, t, f"input {k}") for k, t in enumerate(ins)]
    y = require_int8_per_tensor(op, graph.op_outputs(op)[0], "output")
    rank = len(y.shape)
    axis = opts.axis + rank if opts.axis < 0 else opts.axis
    if rank == 0 or not 0 <= axis < rank:
        raise unsupported(op, f"axis {opts.axis} is out of range for rank {rank}", "re-export the model")
    total = 0
    for k, x in enumerate(xs):
        same = len(x.shape) == rank and all(x.shape[d] == y.shape[d] for d in range(rank) if d != axis)
        if not same:
            raise unsupported(
                op,
                f"input {k} shape {list(x.shape)} does not fit output {list(y.shape)} on axis {axis}",
                "re-export the model",
            )
        total += x.shape[axis]
    if total != y.shape[axis]:
        raise unsupported(
            op, f"inputs sum to {total} along axis {axis}, output has {y.shape[axis]}", "re-export the model"
        )
    outer = int(np.prod(y.shape[:axis], dtype=np.int64))
    inner = int(np.prod(y.shape[axis + 1 :], dtype=np.int64))
    out_scale = float(np.float32(y.scale))
    inputs = []
    for x in xs:
        requantize = not (float(np.float32(x.scale)) == out_scale and x.zero_point == y.zero_point)
        scale, bias = concat_rescale(x.scale, x.zero_point, y.scale) if requantize else (1.0, 0.0)
        inputs.append(
            {"copy_size": x.shape[axis] * inner, "requantize": int(requantize), "scale": scale, "bias": bias}
        )
    params = {
        "num_inputs": len(xs),
        "outer_size": outer,
        "output_zero_point": y.zero_point,
        "inputs": inputs,
    }
    const_inputs = tuple(k for k, x in enumerate(xs) if x.is_const)
    return Lowered(template="ops/concatenation.j2", params=params, const_inputs=const_inputs)
