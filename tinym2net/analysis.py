"""Per-layer analysis for ``tinym2net analyze``: shapes, MACs, weight bytes, live RAM at each step, scratch.

One :class:`LayerRow` per operator in execution order, plus totals against the board's budget.

Counting rules
--------------
MACs (multiply-accumulates, batch 1):

* CONV_2D: out_h * out_w * out_c * kh * kw * in_c, with kh, kw, in_c read from the filter
  ``[out_c, kh, kw, in_c]`` (so grouped filters count their own depth);
* DEPTHWISE_CONV_2D: out_h * out_w * out_c * kh * kw (filter ``[1, kh, kw, out_c]``);
* FULLY_CONNECTED: output elements * in_features (= in * out for one row);
* every other op counts 0 (pooling, ADD, MUL, softmax, ... do a few operations per element, no MACs).

Weight bytes of an op: the constant input tensors its lowering emits as flash arrays
(``Lowered.const_inputs``; all constant inputs for an op without a lowering), int4 packed two per byte;
shape/axis constants that are folded into code do not count. ``table_bytes`` is the op's extra constant arrays (per-channel
multipliers, shifts, lookup tables) from its lowering. Totals count each constant tensor once even when
several ops read it. ``live_bytes`` is the plan's live activation bytes while that op runs (aligned
storages alive at that step plus the op's scratch), so its maximum over rows is the plan's peak.
``inplace`` (the table's "memory" column) marks an op that writes its output over its dying input
(element-wise, or an in-place convolution whose scratch is then the band ring; see docs/memory.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .ir import Graph, Operator, OpKind
from .memory_plan import MemoryPlan
from .ops.base import Lowered


@dataclass(frozen=True)
class LayerRow:
    step: int
    op_index: int
    op: str  # OpKind value, e.g. "CONV_2D"
    input_shapes: tuple[tuple[int, ...], ...]  # activation (non-constant) inputs
    output_shapes: tuple[tuple[int, ...], ...]
    macs: int
    weight_bytes: int
    table_bytes: int
    live_bytes: int
    scratch_bytes: int
    inplace: bool  # output written over a dying input
    alias: bool  # output is the input's bytes (no copy)

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "op_index": self.op_index,
            "op": self.op,
            "input_shapes": [list(s) for s in self.input_shapes],
            "output_shapes": [list(s) for s in self.output_shapes],
            "macs": self.macs,
            "weight_bytes": self.weight_bytes,
            "table_bytes": self.table_bytes,
            "live_bytes": self.live_bytes,
            "scratch_bytes": self.scratch_bytes,
            "inplace": self.inplace,
            "alias": self.alias,
        }


@dataclass(frozen=True)
class Analysis:
    name: str
    rows: tuple[LayerRow, ...]
    arena_bytes: int
    weights_bytes: int
    tables_bytes: int
    macs: int
    peak_bytes: int
    peak_step: int
    peak_op: int
    lower_bound: int  # no offset plan of this order can use less than this
    file_order_peak: int  # peak live bytes if the file's order had been kept
    ram_budget: int | None = None  # bytes of RAM the arena may use, when known
    flash_budget: int | None = None  # bytes of flash the weights and tables may use, when known

    @property
    def ram_left(self) -> int | None:
        return None if self.ram_budget is None else self.ram_budget - self.arena_bytes

    @property
    def flash_left(self) -> int | None:
        return (
            None if self.flash_budget is None else self.flash_budget - self.weights_bytes - self.tables_bytes
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "rows": [r.to_json() for r in self.rows],
            "totals": {
                "arena_bytes": self.arena_bytes,
                "weights_bytes": self.weights_bytes,
                "tables_bytes": self.tables_bytes,
                "macs": self.macs,
                "peak_bytes": self.peak_bytes,
                "peak_step": self.peak_step,
                "peak_op": self.peak_op,
                "lower_bound": self.lower_bound,
                "file_order_peak": self.file_order_peak,
            },
            "budget": {
                "ram_bytes": self.ram_budget,
                "ram_left": self.ram_left,
                "flash_bytes": self.flash_budget,
                "flash_left": self.flash_left,
            },
        }

    def format_table(self) -> str:
        """Plain-text table, one line per layer, then the totals (and the budget when known)."""
        head = (
            f"{'step':>4} {'op':>4} {'kind':<18} {'in':<22} {'out':<16} {'MACs':>11} {'weights':>8} {'live':>8} "
            f"{'scratch':>7} memory"
        )
        lines = [head, "-" * len(head)]
        for r in self.rows:
            ins = ",".join("x".join(map(str, s)) for s in r.input_shapes)
            outs = ",".join("x".join(map(str, s)) for s in r.output_shapes)
            mark = "*" if r.step == self.peak_step else " "
            lines.append(
                f"{r.step:>4} {r.op_index:>4} {r.op:<18} {ins:<22} {outs:<16} {r.macs:>11,} {r.weight_bytes:>8,} "
                f"{r.live_bytes:>8,}{mark}{r.scratch_bytes:>7,} {'in place' if r.inplace else 'alias' if r.alias else ''}"
                .rstrip()
            )
        lines.append("-" * len(head))
        lines.append(
            f"arena {self.arena_bytes:,} B (peak live {self.peak_bytes:,} B at step {self.peak_step}, op {self.peak_op}; "
            f"file order would peak at {self.file_order_peak:,} B); weights {self.weights_bytes:,} B, "
            f"tables {self.tables_bytes:,} B; {self.macs:,} MACs"
        )
        if self.ram_budget is not None:
            lines.append(
                f"RAM budget {self.ram_budget:,} B: the arena takes {self.arena_bytes:,} B, "
                f"{self.ram_left:,} B remain for stack and runtime"
            )
        if self.flash_budget is not None:
            lines.append(
                f"flash budget {self.flash_budget:,} B: weights and tables take "
                f"{self.weights_bytes + self.tables_bytes:,} B, {self.flash_left:,} B remain for code"
            )
        return "\n".join(lines)


def op_macs(graph: Graph, op: Operator) -> int:
    """Multiply-accumulates of one operator (rules in the module docstring)."""
    if op.kind not in (OpKind.CONV_2D, OpKind.DEPTHWISE_CONV_2D, OpKind.FULLY_CONNECTED):
        return 0
    out = graph.tensor(op.outputs[0])
    filt = graph.tensor(op.inputs[1])
    if op.kind is OpKind.CONV_2D:
        _, kh, kw, in_c = filt.shape
        return out.size * kh * kw * in_c
    if op.kind is OpKind.DEPTHWISE_CONV_2D:
        _, kh, kw, _ = filt.shape
        return out.size * kh * kw
    return out.size * filt.shape[-1]


def analyze_graph(
    graph: Graph,
    lowered: Mapping[int, Lowered],
    plan: MemoryPlan,
    *,
    ram_budget: int | None = None,
    flash_budget: int | None = None,
) -> Analysis:
    """Per-layer rows in execution order and totals (see the module docstring for the counting rules)."""
    ops = {op.index: op for op in graph.operators}
    rows: list[LayerRow] = []
    seen_consts: set[int] = set()
    weights_total = 0
    tables_total = 0
    for step, op_index in enumerate(plan.order):
        op = ops[op_index]
        low = lowered.get(op_index)
        if low is not None:  # the constant tensors the generated code emits as arrays
            consts = [op.inputs[pos] for pos in low.const_inputs if op.inputs[pos] >= 0]
        else:
            consts = [t for t in op.inputs if t >= 0 and graph.tensor(t).is_const]
        weight_bytes = sum(graph.tensor(t).nbytes for t in consts)
        for t in consts:
            if t not in seen_consts:
                seen_consts.add(t)
                weights_total += graph.tensor(t).nbytes
        extra = low.consts if low is not None else []
        table_bytes = sum(int(c.values.nbytes) for c in extra if not c.weights)
        tables_total += table_bytes
        narrowed = sum(int(c.values.nbytes) for c in extra if c.weights)  # e.g. an int4 layer's int16 bias
        weight_bytes += narrowed
        weights_total += narrowed
        rows.append(
            LayerRow(
                step=step,
                op_index=op_index,
                op=op.kind.value,
                input_shapes=tuple(
                    graph.tensor(t).shape for t in op.inputs if t >= 0 and not graph.tensor(t).is_const
                ),
                output_shapes=tuple(graph.tensor(t).shape for t in op.outputs),
                macs=op_macs(graph, op),
                weight_bytes=weight_bytes,
                table_bytes=table_bytes,
                live_bytes=plan.live_bytes[step],
                scratch_bytes=plan.scratch.get(op_index, (0, 0))[1],
                inplace=op_index in plan.inplace_ops,
                alias=op_index in plan.alias_ops,
            )
        )
    return Analysis(
        name=graph.name,
        rows=tuple(rows),
        arena_bytes=plan.arena_bytes,
        weights_bytes=weights_total,
        tables_bytes=tables_total,
        macs=sum(r.macs for r in rows),
        peak_bytes=plan.peak_bytes,
        peak_step=plan.peak_step,
        peak_op=plan.peak_op,
        lower_bound=plan.lower_bound,
        file_order_peak=plan.file_order_peak,
        ram_budget=ram_budget,
        flash_budget=flash_budget,
    )
