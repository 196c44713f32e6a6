"""Lowering for PAD (int8, constant paddings, rank <= 4).

The paddings tensor ``[rank][2]`` (before, after per dim) is folded into the parameter struct at
build time; shapes are right-aligned to rank 4 with leading size-1 dims. The pad value is the
output zero point (real 0.0), as TFLite's int8 PAD without a constant-values input.
"""

from __future__ import annotations

from ..ir import Graph, Operator, OpKind
from .base import Lowered, register
from .conv import require_int8_activation, unsupported


@register(OpKind.PAD)
def lower_pad(op: Operator, graph: Graph) -> Lowered:
    """PAD -> ``tm2_pad_s8``."""
    ins = graph.op_inputs(op)
    if len(ins) != 2 or len(op.outputs) != 1:
        raise unsupported(op, f"{len(ins)} inputs (PADV2-style constant value?)", "use PAD with zero padding")
    x = require_int8_activation(op, ins[0], "input")
    y = require_int8_activation(op, graph.op_outputs(op)[0], "output")
    paddings = ins[1]
    if paddings is None or not paddings.is_const:
        raise unsupported(op, "paddings are not a constant tensor", "freeze the paddings into the model")
    rank = len(x.shape)
    if rank > 4:
        raise unsupported(op, f"input has rank {rank}, at most 4 is supported", "reshape to rank <= 4")
    pads = paddings.data.astype("int64").reshape(-1)
    if pads.size != 2 * rank or len(y.shape) != rank:
        raise unsupported(
            op, f"paddings shape {list(paddings.shape)} does not match rank {rank}", "re-export the model"
        )
    before = [int(v) for v in pads[0::2]]
    after = [int(v) for v in pads[1::2]]
    if min(before + after, default=0) < 0:
        raise unsupported(op, f"negative paddings {pads.tolist()}", "use slicing instead of negative padding")
    expect = [d + p + q for d, p, q in zip(x.shape, before, after, strict=True)]
    if expect != list(y.shape):
        raise unsupported(op, f"output shape {list(y.shape)} != padded input {expect}", "re-export the model")
    lead = 4 - rank
    params = {
        "in_dims": [1] * lead + list(x.shape),
        "pad_before": [0] * lead + before,
        "pad_after": [0] * lead + after,
        "pad_value": y.zero_point,
    }
    return Lowered(template="ops/pad.j2", params=params)
