"""Front half of the compiler: IR graph -> lowered ops + memory plan (no files written here)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from . import ops  # noqa: F401  (registers every lowering)
from .errors import ModelError
from .ir import DType, Graph, Operator
from .memory_plan import MemoryPlan, plan_graph, with_alternatives
from .ops.base import Lowered, lower
from .quantmath import RescaleRangeError


@dataclass
class Compiled:
    graph: Graph
    lowered: dict[int, Lowered]  # operator index -> lowering
    plan: MemoryPlan
    model_sha256: str

    @property
    def arena_bytes(self) -> int:
        return self.plan.arena_bytes

    @property
    def weights_bytes(self) -> int:
        """Bytes of the model's constant tensors as stored in flash (int4 packed two per byte)."""
        seen: set[int] = set()
        total = 0
        for op in self.graph.operators:
            for pos in self.lowered[op.index].const_inputs:
                t = op.inputs[pos]
                if t >= 0 and t not in seen:
                    seen.add(t)
                    total += self.graph.tensors[t].nbytes
        return total + sum(c.values.nbytes for lw in self.lowered.values() for c in lw.consts if c.weights)

    @property
    def tables_bytes(self) -> int:
        """Bytes of the per-op constant tables (multipliers, shifts, ...)."""
        return sum(
            int(c.values.size) * c.values.dtype.itemsize
            for lw in self.lowered.values()
            for c in lw.consts
            if not c.weights
        )


_IO_DTYPES = {DType.INT8, DType.FLOAT32, DType.INT16, DType.UINT8, DType.INT32}


def compile_graph(graph: Graph, model_bytes: bytes) -> Compiled:
    for idx in list(graph.inputs) + list(graph.outputs):
        t = graph.tensors[idx]
        if t.dtype not in _IO_DTYPES:
            raise ModelError(f"graph input/output {t.name!r} has type {t.dtype.value}, which tinym2net cannot pass in or out")
    lowered = {op.index: _lower(op, graph) for op in graph.operators}
    plan = plan_graph(graph, lowered)
    return Compiled(graph, with_alternatives(lowered, plan), plan, hashlib.sha256(model_bytes).hexdigest())


def _lower(op: Operator, graph: Graph) -> Lowered:
    """``lower`` with the operator named in a rescale-range error (absurd scales, see quantmath)."""
    try:
        return lower(op, graph)
    except RescaleRangeError as exc:
        out = graph.tensors[op.outputs[0]].name.split(";")[0]
        raise ModelError(
            f"model '{graph.name}': operator {op.index} ({op.kind.value} -> '{out}') {exc}: its quantisation "
            "scales are corrupt or extreme; re-export it with tf.lite.TFLiteConverter"
        ) from None
