"""Whole-graph memory plan: execution order, arena offsets of every activation tensor and scratch buffer.

:func:`plan_graph` runs three steps:

1. :mod:`tinym2net.schedule` picks the execution order with the smallest peak of live activation bytes
   (storages joined by aliases, in-place reuse where a lowering allows it and the input dies there).
2. Each storage is alive from the step that creates it (step 0 for graph inputs) to the last step that
   reads any tensor in it (the last step for graph outputs). Storages handed over in place form a
   chain that shares one offset; its bytes at each step are the largest member alive then (an in-place
   convolution's step holds ``max(in, out)``). Each chain becomes :class:`~tinym2net.planner.Buffer`
   parts of constant size tied to one offset; a lone storage is one buffer. Each op's scratch is a
   buffer alive during that op's step only (an op run in place gets its in-place scratch).
3. :func:`tinym2net.planner.solve` places the buffers; every tensor gets its storage's offset.

:func:`verify_plan` re-derives lifetimes from the graph and the plan alone and checks that no two bytes
in use at the same step collide, so a planning bug cannot reach generated code unnoticed.
"""

from __future__ import annotations

import dataclasses
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
    # of those, the ops whose output may differ in size from the input it overwrites (in-place convolutions,
    # ``Lowered.params["inplace_conv"]``); the others are element-wise and keep the size
    overlap_ops: frozenset[int] = frozenset()
    lower_bound: int = 0  # max-load bound of the chosen order: no offset plan can beat it
    offsets_optimal: bool = False  # arena proven minimal for this order
    schedule_exact: bool = False  # order proven to have the smallest peak
    file_order_peak: int = 0  # peak live bytes had the file's order been kept
    align: int = ALIGN
    # in-place convolutions that run their lowering's alternative kernel (``params["inplace_alt"]``: less
    # scratch, less speed), taken where that lowers the arena; :func:`with_alternatives` applies them
    alt_ops: frozenset[int] = frozenset()
    # ops that run a faster form of their kernel with more scratch, taken where the arena does not grow: op ->
    # index into its list of overrides, ``params["inplace_wider"]`` (parameters) for an op run in place,
    # ``params["wider"]`` (parameters and ``scratch_bytes``) for one run out of place; applied by
    # :func:`with_alternatives`
    wider_ops: tuple[tuple[int, int], ...] = ()

    @property
    def peak_bytes(self) -> int:
        return max(self.live_bytes, default=0)


INPLACE_POLICIES = ("needed", "all", "none")


def plan_graph(
    graph: Graph,
    lowered: Mapping[int, Lowered],
    *,
    align: int = ALIGN,
    reorder: bool = True,
    max_states: int = 1024,
    verify: bool = True,
    inplace: str = "needed",
) -> MemoryPlan:
    """Plan the order and the arena of ``graph`` (``lowered``: operator index -> its lowering).

    ``reorder=False`` keeps the file's order; ``verify`` runs :func:`verify_plan` on the result.
    ``inplace`` says which in-place convolution offers (``params["inplace_conv"]``) the plan may take:
    ``"all"``: every one whose input dies there and that lowers its step; ``"needed"`` (default): the same,
    then each taken offer whose lowering marks it ``params["inplace_slower"]`` (its in-place kernel is
    slower than the op's own) is given up again, in execution order, when the arena does not grow without
    it; ``"none"``: no convolution in place (element-wise in-place stays). Before that pass, an in-place
    convolution whose lowering offers a scratch-free alternative kernel (``params["inplace_alt"]``) runs it
    where that lowers the arena (``MemoryPlan.alt_ops``; :func:`with_alternatives`).
    """
    if inplace not in INPLACE_POLICIES:
        raise ValueError(f"inplace must be one of {INPLACE_POLICIES}, not {inplace!r}")
    low = dict(lowered)
    if inplace == "none":
        low = {k: _without_conv_offer(v) for k, v in low.items()}
    plan = _plan_once(graph, low, align=align, reorder=reorder, max_states=max_states)
    alt_ops: set[int] = set()
    if inplace != "none":
        for op_id in plan.order:
            if op_id in plan.overlap_ops and low[op_id].params.get("inplace_alt"):
                trial = {**low, op_id: with_alternative(low[op_id])}
                cand = _plan_once(graph, trial, align=align, reorder=reorder, max_states=max_states)
                if cand.arena_bytes < plan.arena_bytes and op_id in cand.overlap_ops:
                    low, plan = trial, cand
                    alt_ops.add(op_id)
    if inplace == "needed":
        for op_id in plan.order:
            if op_id in plan.overlap_ops and low[op_id].params.get("inplace_slower"):
                trial = {**low, op_id: _without_conv_offer(low[op_id])}
                cand = _plan_once(graph, trial, align=align, reorder=reorder, max_states=max_states)
                if cand.arena_bytes <= plan.arena_bytes:
                    low, plan = trial, cand
    wider: dict[int, int] = {}
    for op_id in plan.order:
        if op_id in alt_ops:
            continue
        in_place = op_id in plan.overlap_ops
        for k, over in enumerate(low[op_id].params.get("inplace_wider" if in_place else "wider") or ()):
            trial = {**low, op_id: _with_overrides(low[op_id], over)}
            cand = _plan_once(graph, trial, align=align, reorder=reorder, max_states=max_states)
            if cand.arena_bytes <= plan.arena_bytes and (op_id in cand.overlap_ops) == in_place:
                low, plan = trial, cand
                wider[op_id] = k
                break
    plan = dataclasses.replace(
        plan, alt_ops=frozenset(alt_ops & plan.overlap_ops), wider_ops=tuple(sorted(wider.items()))
    )
    if verify:
        verify_plan(graph, plan, with_alternatives(lowered, plan))
    return plan


def with_alternative(low: Lowered) -> Lowered:
    """``low`` with its in-place alternative (``params["inplace_alt"]``: parameter overrides) applied."""
    alt = low.params.get("inplace_alt")
    if not alt:
        return low
    params = {k: v for k, v in low.params.items() if k != "inplace_alt"}
    return dataclasses.replace(low, params={**params, **alt})


def _with_overrides(low: Lowered, over: Mapping) -> Lowered:
    """``low`` with parameter overrides; a ``scratch_bytes`` entry replaces the lowering's scratch."""
    params = {**low.params, **{k: v for k, v in over.items() if k != "scratch_bytes"}}
    if "scratch_bytes" in over:
        return dataclasses.replace(low, params=params, scratch_bytes=int(over["scratch_bytes"]))
    return dataclasses.replace(low, params=params)


def with_alternatives(lowered: Mapping[int, Lowered], plan: MemoryPlan) -> dict[int, Lowered]:
    """The lowerings as the plan runs them: the alternative of every op in ``plan.alt_ops``, the wider
    in-place kernel of every op in ``plan.wider_ops``."""
    out = {k: with_alternative(v) if k in plan.alt_ops else v for k, v in lowered.items()}
    for k, i in plan.wider_ops:
        key = "inplace_wider" if k in plan.overlap_ops else "wider"
        out[k] = _with_overrides(out[k], out[k].params[key][i])
    return out


def _without_conv_offer(low: Lowered) -> Lowered:
    if "inplace_conv" not in low.params:
        return low
    return dataclasses.replace(low, params={k: v for k, v in low.params.items() if k != "inplace_conv"})


def _plan_once(
    graph: Graph, lowered: Mapping[int, Lowered], *, align: int, reorder: bool, max_states: int
) -> MemoryPlan:
    problem, smap = build_problem(graph, lowered, align=align)
    sched = schedule_problem(problem, reorder=reorder, max_states=max_states)
    n = len(sched.order)
    step_of = {op: s for s, op in enumerate(sched.order)}
    local_of = {op_id: k for k, op_id in enumerate(problem.op_ids)}

    # union storages taken over in place
    n_st = len(problem.sizes)
    root = list(range(n_st))
    shared: dict[int, int] = {}
    overlap_ops: set[int] = set()
    for op_id in sched.order:
        offer = sched.inplace_taken.get(op_id)
        if offer is not None:
            src, dst, _ = offer
            root[dst] = root[src]
            op = graph.operators[local_of[op_id]]
            src_tensor = next(t for t in op.inputs if t in smap.storage and smap.storage[t] == src)
            shared[op.outputs[0]] = src_tensor
            if lowered[op_id].params.get("inplace_conv") and src_tensor == op.inputs[0]:
                overlap_ops.add(op_id)
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
    ties: list[list[int]] = []
    group_buffer: dict[int, int] = {}
    for r, members in groups.items():
        group_buffer[r] = len(buffers)
        if len(members) == 1:
            s = members[0]
            lo, hi = first[s], last[s]
            if lo > hi:  # a storage nobody creates or reads: keep it addressable but alive at step 0 only
                lo = hi = 0
            buffers.append(Buffer(size=problem.sizes[s], first=lo, last=hi))
            continue
        parts = _chain_parts([(problem.sizes[s], first[s], last[s]) for s in members])
        ties.append(list(range(len(buffers), len(buffers) + len(parts))))
        buffers.extend(parts)
    scratch_buffer: dict[int, int] = {}
    for op_id, step in step_of.items():
        offer = sched.inplace_taken.get(op_id)
        size = offer[2] if offer is not None else problem.scratch[local_of[op_id]]
        if size > 0:
            scratch_buffer[op_id] = len(buffers)
            buffers.append(Buffer(size=size, first=step, last=step))

    result = solve(buffers, ties=ties, align=align)
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
        overlap_ops=frozenset(overlap_ops),
        lower_bound=result.lower_bound,
        offsets_optimal=result.optimal,
        schedule_exact=sched.exact,
        file_order_peak=sched.file_order_peak,
        align=align,
    )
    return plan


def _chain_parts(members: list[tuple[int, int, int]]) -> list[Buffer]:
    """Buffers of an in-place chain: per step the largest member alive, cut into runs of equal size.

    ``members``: (size, first, last) of the chain's storages, whose lifetimes meet only at hand-over steps.
    """
    lo = min(f for _, f, _ in members)
    hi = max(last for _, _, last in members)
    parts: list[Buffer] = []
    run_size, run_start = -1, lo
    for t in range(lo, hi + 2):
        size = max((sz for sz, f, last in members if f <= t <= last), default=0) if t <= hi else -1
        if size != run_size:
            if run_size > 0:
                parts.append(Buffer(size=run_size, first=run_start, last=t - 1))
            run_size, run_start = size, t
    return parts


# ---------------------------------------------------------------------------------------------------------
# independent verifier


def verify_plan(graph: Graph, plan: MemoryPlan, lowered: Mapping[int, Lowered] | None = None) -> None:
    """Raise :class:`PlanError` unless ``plan`` is a valid memory plan for ``graph``.

    Independent of :func:`plan_graph`: lifetimes come from the graph and ``plan.order`` only. Checks: the
    order is a topological permutation of all operators; every activation tensor has an aligned offset
    inside the arena; each ``shared`` pair is produced by an alias or in-place op that reads the source and
    starts at the same offset, with equal sizes except for an in-place convolution (``overlap_ops``) over
    its first input; in place, the source and everything with the same content is read by no later step and
    is no graph output; and any two tensors / scratch buffers whose lifetimes meet either use disjoint
    bytes or are the same content (alias chain) or an in-place hand-over at one step (the only step where
    an in-place convolution's output overlaps its input). With ``lowered``, each in-place op's lowering must
    also offer what the plan uses (``inplace_input`` positions / ``inplace_conv``), and an in-place
    convolution must get at least its ``inplace_scratch``.
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
    if not plan.overlap_ops <= plan.inplace_ops:
        raise PlanError(f"ops {sorted(plan.overlap_ops - plan.inplace_ops)} overlap but are not in place")
    inplace_src: dict[int, int] = {}  # in-place op -> the input tensor it overwrites
    for dst, src in plan.shared.items():
        op_id = producer_op.get(dst)
        if op_id is None or src not in by_index[op_id].inputs or src not in acts:
            raise PlanError(f"tensor {dst} shares tensor {src} but its producer does not read it")
        same_size = graph.tensor(dst).nbytes == graph.tensor(src).nbytes
        overlap = op_id in plan.overlap_ops and op_id not in plan.alias_ops
        if extent[dst][0] != extent[src][0] or not (same_size or overlap):
            raise PlanError(f"tensor {dst} shares tensor {src} with a different offset or size")
        if op_id in plan.alias_ops:
            if by_index[op_id].inputs[0] != src:
                raise PlanError(f"alias op {op_id} must alias its first input")
            content[find(dst)] = find(src)
        elif op_id in plan.inplace_ops:
            if overlap and by_index[op_id].inputs[0] != src:
                raise PlanError(f"in-place convolution {op_id} may only overwrite its first input")
            if op_id in inplace_src:
                raise PlanError(f"op {op_id} writes two outputs in place")
            handover[dst] = src
            inplace_src[op_id] = src
        else:
            raise PlanError(f"tensor {dst} shares bytes but op {op_id} is neither alias nor in-place")
    if set(inplace_src) != set(plan.inplace_ops):
        raise PlanError(f"in-place ops {sorted(set(plan.inplace_ops) - set(inplace_src))} share no tensor")
    if lowered is not None:
        _check_offers(by_index, plan, lowered, inplace_src)
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


def _check_offers(by_index, plan: MemoryPlan, lowered: Mapping[int, Lowered], inplace_src: dict[int, int]) -> None:
    """Each in-place op uses an offer its lowering makes, with the scratch that offer needs."""
    for op_id, src in inplace_src.items():
        op = by_index[op_id]
        params = lowered[op_id].params
        pos = op.inputs.index(src)
        if op_id in plan.overlap_ops:
            if not params.get("inplace_conv") or pos != 0:
                raise PlanError(f"op {op_id} overlaps its output with input {pos} but offers no in-place convolution")
            have = plan.scratch.get(op_id, (0, 0))[1]
            if have < int(params["inplace_scratch"]):
                raise PlanError(f"in-place op {op_id} has {have} B of scratch, its kernel needs {params['inplace_scratch']}")
        else:
            offered = params.get("inplace_input")
            positions = [offered] if isinstance(offered, int) else list(offered or ())
            if pos not in positions:
                raise PlanError(f"op {op_id} overwrites input {pos} but its lowering offers {positions}")


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
