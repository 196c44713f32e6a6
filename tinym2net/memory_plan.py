"""Whole-graph memory plan: execution order, arena offsets of every activation tensor and scratch buffer.

:func:`plan_graph` runs three steps:

1. :mod:`tinym2net.schedule` picks the execution order with the smallest peak of live activation bytes
   (storages joined by aliases, in-place reuse where a lowering allows it and the input dies there).
2. Each storage becomes one :class:`~tinym2net.planner.Buffer` alive from the step that creates it
   (step 0 for graph inputs) to the last step that reads any tensor in it (the last step for graph
   outputs); a storage taken over in place is merged with the input storage it overwrites. Each op's
   scratch is a buffer alive during that op's step only.
3. :func:`tinym2net.planner.solve` places the buffers; every tensor gets its storage's offset.

:func:`verify_plan` re-derives lifetimes from the graph and the plan alone and checks that no two bytes
in use at the same step collide, so a planning bug cannot reach generated code unnoticed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .ir import Graph
from .ops.base import Lowered
from .planner import ALIGN, Buffer, align_up, solve
from .schedule import build_problem, schedule_problem


class PlanError(Exception):
    """A memory plan breaks an invariant (an internal bug, never a user error)."""


@dataclass(frozen=True)
class MemoryPlan:
    order: tuple[int, ...]  # operator indices in execution order
    offsets: dict[int, int]  # activation tensor index -> byte offset in the arena
    scratch: dict[int, tuple[int, int]]  # operator index -> (offset, size) of its scratch buffer
    arena_bytes: int
    peak_step: int  # position in ``order`` where live bytes peak (-1 for an empty graph)
    peak_op: int  # operator index at that step (-1 for an empty graph)
    live_bytes: tuple[int, ...]  # live bytes (aligned) at each step, scratch included
    shared: dict[int, int] = field(default_factory=dict)  # tensor -> input tensor whose bytes it reuses
    alias_ops: frozenset[int] = frozenset()  # ops whose output is their input's bytes (RESHAPE/SQUEEZE)
    inplace_ops: frozenset[int] = frozenset()  # ops that write their output over a dying input
    lower_bound: int = 0  # max-load bound of the chosen order: no offset plan can beat it
    offsets_optimal: bool = False  # arena proven minimal for this order
    schedule_exact: bool = False  # order proven to have the smallest peak
    file_order_peak: int = 0  # peak live bytes had the file's order been kept
    align: int = ALIGN

    @property
    def peak_bytes(self) -> int:
        return max(self.live_bytes, default=0)


def plan_graph(
    graph: Graph,
    lowered: Mapping[int, Lowered],
    *,
    align: int = ALIGN,
    reorder: bool = True,
    max_states: int = 1024,
    verify: bool = True,
) -> MemoryPlan:
    """Plan the order and the arena of ``graph`` (``lowered``: operator index -> its lowering).

    ``reorder=False`` keeps the file's order; ``verify`` runs :func:`verify_plan` on the result.
    """
    problem, smap = build_problem(graph, lowered, align=align)
    sched = schedule_problem(problem, reorder=reorder, max_states=max_states)
    n = len(sched.order)
    step_of = {op: s for s, op in enumerate(sched.order)}
    local_of = {op_id: k for k, op_id in enumerate(problem.op_ids)}

    # union storages taken over in place
    n_st = len(problem.sizes)
    root = list(range(n_st))
    shared: dict[int, int] = {}
    for op_id in sched.order:
        if op_id in sched.inplace_steps:
            src, dst = problem.inplace[local_of[op_id]]  # type: ignore[misc]
            root[dst] = root[src]
            op = graph.operators[local_of[op_id]]
            pos = lowered[op_id].params["inplace_input"]
            shared[op.outputs[0]] = op.inputs[pos]
    for op_id in smap.alias_ops:
        op = graph.operators[local_of[op_id]]
        shared[op.outputs[0]] = op.inputs[0]

    def final(s: int) -> int:
        while root[s] != s:
            s = root[s]
        return s

    first = [n] * n_st
    last = [-1] * n_st
    for s in problem.graph_inputs:
        first[s] = 0
        last[s] = max(last[s], 0)
    for s in problem.graph_outputs:
        last[s] = max(n - 1, 0)
    for op_id, step in step_of.items():
        k = local_of[op_id]
        for s in problem.creates[k]:
            first[s] = min(first[s], step)
            last[s] = max(last[s], step)
        for s in problem.reads[k]:
            last[s] = max(last[s], step)
    groups: dict[int, list[int]] = {}
    for s in range(n_st):
        groups.setdefault(final(s), []).append(s)
    buffers: list[Buffer] = []
    group_buffer: dict[int, int] = {}
    for r, members in groups.items():
        lo = min(first[s] for s in members)
        hi = max(last[s] for s in members)
        if lo > hi:  # a storage nobody creates or reads: keep it addressable but alive at step 0 only
            lo = hi = 0
        group_buffer[r] = len(buffers)
        buffers.append(Buffer(size=max(problem.sizes[s] for s in members), first=lo, last=hi))
    scratch_buffer: dict[int, int] = {}
    for op_id, step in step_of.items():
        size = problem.scratch[local_of[op_id]]
        if size > 0:
            scratch_buffer[op_id] = len(buffers)
            buffers.append(Buffer(size=size, first=step, last=step))

    result = solve(buffers, align=align)
    offs = result.offsets
    offsets = {t: offs[group_buffer[final(s)]] for t, s in smap.storage.items()}
    scratch = {op_id: (offs[b], buffers[b].size) for op_id, b in scratch_buffer.items()}

    live = [0] * n
    for b in buffers:
        for step in range(b.first, min(b.last, n - 1) + 1):
            live[step] += align_up(b.size, align)
    if tuple(live) != sched.step_bytes:
        raise PlanError(
            f"lifetimes disagree with the schedule's live bytes: {live} vs {list(sched.step_bytes)}"
        )
    peak_step = max(range(n), key=lambda s: (live[s], -s)) if n else -1
    plan = MemoryPlan(
        order=sched.order,
        offsets=offsets,
        scratch=scratch,
        arena_bytes=result.arena,
        peak_step=peak_step,
        peak_op=sched.order[peak_step] if n else -1,
        live_bytes=tuple(live),
        shared=shared,
        alias_ops=smap.alias_ops,
        inplace_ops=sched.inplace_steps,
        lower_bound=result.lower_bound,
        offsets_optimal=result.optimal,
        schedule_exact=sched.exact,
        file_order_peak=sched.file_order_peak,
        align=align,
    )
    if verify:
        verify_plan(graph, plan)
    return plan


# ---------------------------------------------------------------------------------------------------------
# independent verifier


def verify_plan(graph: Graph, plan: MemoryPlan) -> None:
    """Raise :class:`PlanError` unless ``plan`` is a valid memory plan for ``graph``.

    Independent of :func:`plan_graph`: lifetimes come from the graph and ``plan.order`` only. Checks: the
    order is a topological permutation of all operators; every activation tensor has an aligned offset
    inside the arena; each ``shared`` pair is produced by an alias or in-place op that reads the source,
    has equal size and offset, and (in place) the source and everything with the same content is read by
    no later step and is no graph output; and any two tensors / scratch buffers whose lifetimes meet
    either use disjoint bytes or are the same content (alias chain) or an in-place hand-over at one step.
    """
    ops = graph.operators
    n = len(ops)
    if sorted(plan.order) != sorted(op.index for op in ops):
        raise PlanError(f"order {plan.order} is not a permutation of the operators")
    by_index = {op.index: op for op in ops}
    acts = {t.index for t in graph.activation_tensors}
    align = plan.align

    # lifetimes
    birth: dict[int, int] = {t: 0 for t in graph.inputs if t in acts}
    producer_op: dict[int, int] = {}
    for step, op_id in enumerate(plan.order):
        op = by_index[op_id]
        for t in op.inputs:
            if t in acts and t not in birth:
                raise PlanError(f"op {op_id} at step {step} reads tensor {t} before it is written")
        for t in op.outputs:
            if t in acts and t not in birth:
                birth[t] = step
                producer_op[t] = op_id
    death = dict(birth)
    for step, op_id in enumerate(plan.order):
        for t in by_index[op_id].inputs:
            if t in acts:
                death[t] = max(death[t], step)
    for t in graph.outputs:
        if t in acts:
            death[t] = max(death[t], n - 1, 0)
    if set(birth) != acts:
        raise PlanError(f"tensors never written or read: {sorted(acts - set(birth))}")

    # placement
    if set(plan.offsets) != acts:
        raise PlanError("offsets must cover exactly the activation tensors")
    extent: dict[int, tuple[int, int]] = {}
    for t in acts:
        off = plan.offsets[t]
        size = align_up(graph.tensor(t).nbytes, align)
        if off < 0 or off % align or off + size > plan.arena_bytes:
            raise PlanError(
                f"tensor {t}: offset {off} (+{size}) misaligned or outside the {plan.arena_bytes} B arena"
            )
        extent[t] = (off, off + size)
    for op_id, (off, size) in plan.scratch.items():
        if op_id not in by_index or off < 0 or off % align or off + size > plan.arena_bytes:
            raise PlanError(f"scratch of op {op_id} misaligned or outside the arena")

    # sharing relations
    content = {t: t for t in acts}  # alias-connected tensors hold the same bytes

    def find(t: int) -> int:
        while content[t] != t:
            t = content[t]
        return t

    handover: dict[int, int] = {}  # in-place output -> content root of the input it overwrote
    graph_outputs = set(graph.outputs)
    for dst, src in plan.shared.items():
        op_id = producer_op.get(dst)
        if op_id is None or src not in by_index[op_id].inputs or src not in acts:
            raise PlanError(f"tensor {dst} shares tensor {src} but its producer does not read it")
        if extent[dst] != extent[src] or graph.tensor(dst).nbytes != graph.tensor(src).nbytes:
            raise PlanError(f"tensor {dst} shares tensor {src} with a different offset or size")
        if op_id in plan.alias_ops:
            if by_index[op_id].inputs[0] != src:
                raise PlanError(f"alias op {op_id} must alias its first input")
            content[find(dst)] = find(src)
        elif op_id in plan.inplace_ops:
            handover[dst] = src
        else:
            raise PlanError(f"tensor {dst} shares bytes but op {op_id} is neither alias nor in-place")
    for dst, src in handover.items():
        s = birth[dst]
        for t in acts:
            if find(t) == find(src) and (death[t] > s or t in graph_outputs):
                raise PlanError(
                    f"op {producer_op[dst]} overwrites tensor {t} in place but it is still needed"
                )

    # pairwise collisions
    items: list[tuple[int, int, int, int, int]] = []  # (first, last, start, end, id); id < 0 for scratch
    for t in acts:
        items.append((birth[t], death[t], extent[t][0], extent[t][1], t))
    step_of = {op_id: s for s, op_id in enumerate(plan.order)}
    for op_id, (off, size) in plan.scratch.items():
        if size > 0:
            items.append((step_of[op_id], step_of[op_id], off, off + align_up(size, align), -1 - op_id))
    items.sort()
    for i, a in enumerate(items):
        for b in items[i + 1 :]:
            if b[0] > a[1]:
                break
            if a[2] >= b[3] or b[2] >= a[3]:
                continue
            x, y = a[4], b[4]
            if x >= 0 and y >= 0 and _sharing_ok(x, y, find, handover, birth, death):
                continue
            raise PlanError(f"buffers {_name(x)} and {_name(y)} are alive together and overlap in the arena")


def _sharing_ok(
    x: int, y: int, find, handover: dict[int, int], birth: dict[int, int], death: dict[int, int]
) -> bool:
    if find(x) == find(y):
        return True
    for new, old in ((x, y), (y, x)):
        # `new` was written in place over the content of `old` at the step where `old` is last read
        src = handover.get(new)
        if src is not None and find(src) == find(old) and death[old] == birth[new]:
            return True
        # later members of an in-place output's alias chain are born after the hand-over: no overlap
    return False


def _name(i: int) -> str:
    return f"tensor {i}" if i >= 0 else f"scratch of op {-1 - i}"
