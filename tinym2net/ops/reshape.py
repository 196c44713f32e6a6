"""Lowerings for RESHAPE and SQUEEZE: the output holds the input's bytes unchanged.

The kernel is a memmove (``tm2_copy``), skipped when the planner gives both tensors the same
storage (``Lowered.alias``). A RESHAPE's optional shape input is not needed at run time: the output
shape is known at build time.
"""

from __future__ import annotations

from ..ir import Graph, Operator, OpKind
from .base import Lowered, register
from .conv import unsupported


@register(OpKind.RESHAPE, OpKind.SQUEEZE)
def lower_reshape(op: Operator, graph: Graph) -> Lowered:
    """RESHAPE / SQUEEZE (any dtype) -> ``tm2_copy``."""
    ins = graph.op_inputs(op)
    if not ins or ins[0] is None or len(op.outputs) != 1:
        raise unsupported(op, f"{len(ins)} inputs and {len(op.outputs)} outputs", "re-export the model")
    x, y = ins[0], graph.op_outputs(op)[0]
    if x.dtype is not y.dtype or x.size != y.size:
        raise unsupported(
            op,
            f"input {x.dtype.value}{list(x.shape)} and output {y.dtype.value}{list(y.shape)} differ in type or size",
            "re-export the model",
        )
    if x.quant != y.quant:
        raise unsupported(op, "input and output quantisation differ", "re-export the model")
    return Lowered(
        template="ops/reshape.j2",
        params={"nbytes": x.nbytes},
        const_inputs=(0,) if x.is_const else (),
        alias=True,
    )
