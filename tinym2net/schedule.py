"""Operator scheduling: the execution order with the smallest peak of live activation bytes.

A graph with branches (one branch per modality before a concatenation, ResNet skip paths) has many
topological orders, and they differ in how many activation bytes are alive at once: running one branch to
its end before starting the next keeps one branch's intermediate tensors alive instead of all of them.

Storage model
-------------
The scheduler works on *storages*, not tensors. A storage is one block of arena bytes:

* tensors joined by an alias (RESHAPE/SQUEEZE lowered with ``Lowered.alias``) are one storage;
* each other activation tensor is its own storage (constants are in flash, not here).

A storage is *created* by the op that writes its first tensor (graph inputs exist before step 0) and is
*needed* until every op reading any of its tensors has run; graph outputs are needed until the end.
The live bytes of the step that runs op ``o`` after the set ``S`` of ops already ran are

    resident(S) + bytes of storages ``o`` creates + scratch(o)

where ``resident(S)`` sums the storages created (or input) and still needed after ``S``. Sizes are
rounded up to the planner's alignment so the peak equals the planner's max-load lower bound.

In-place: a lowering may offer to write its output over a dying input, in one of two ways:

* ``Lowered.params["inplace_input"] = k`` (or a list of positions): element-wise, same size; the kernel
  reads element i of input k before it writes element i of the output;
* ``Lowered.params["inplace_conv"]`` (input 0, see :mod:`tinym2net.ops.inplace`): the output starts at the
  input's offset and may be larger or smaller; the op then needs ``Lowered.params["inplace_scratch"]``
  bytes of scratch instead of ``Lowered.scratch_bytes``.

When the input's storage is needed by no op after ``o`` (and is no graph output), the output takes over
the input's bytes: the step costs ``max(in, out)`` instead of ``in + out`` (plus the in-place scratch).
An offer is taken only when it lowers the step (the bytes saved exceed any extra scratch); the first
applicable offer wins.

Search
------
``resident(S)`` and the cost of running ``o`` next depend only on the set ``S`` (a *down-set* of the
dependency order), not on the order inside it. So the minimal peak is a shortest-path problem over
down-sets with cost ``max``: dynamic programming level by level (level k = sets of k executed ops), each
state keeping the smallest peak with which it can be reached and a back pointer. This is exact while
every level has at most ``max_states`` states (a chain has one per level; k independent branches of
length L have at most (L+1)^k in all). Beyond that each level keeps the ``max_states`` best states by
(peak so far, resident bytes): a beam search, which with a beam of 1 is the greedy "run the op that keeps
the peak and the resident bytes lowest". Ties prefer the file's order: when the file order reaches the
optimal peak, it is returned unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .ir import Graph
from .ops.base import Lowered
from .planner import ALIGN, align_up


@dataclass(frozen=True)
class ScheduleProblem:
    """Storage-level view of a graph. Ops are numbered by their position in ``op_ids`` (file order)."""

    op_ids: tuple[int, ...]  # graph operator index of each local op
    deps: tuple[int, ...]  # bitmask of local ops that must run before each op
    reads: tuple[tuple[int, ...], ...]  # storages each op reads
    creates: tuple[tuple[int, ...], ...]  # storages each op creates
    sizes: tuple[int, ...]  # aligned bytes of each storage
    scratch: tuple[int, ...]  # aligned scratch bytes of each op
    graph_inputs: frozenset[int]  # storages alive from step 0
    graph_outputs: frozenset[int]  # storages alive until the end
    # per op, its in-place offers: (storage read, storage created, aligned scratch when run in place)
    inplace: tuple[tuple[tuple[int, int, int], ...], ...]

    @property
    def n_ops(self) -> int:
        return len(self.op_ids)

    def consumers(self) -> list[int]:
        """Bitmask of the ops that read each storage."""
        cons = [0] * len(self.sizes)
        for o, rs in enumerate(self.reads):
            for s in rs:
                cons[s] |= 1 << o
        return cons


@dataclass(frozen=True)
class StorageMap:
    """How graph tensors map to storages: ``storage[tensor index]`` for every activation tensor."""

    storage: dict[int, int]
    members: tuple[tuple[int, ...], ...]  # tensor indices of each storage, root (created) first
    alias_ops: frozenset[int]  # graph op indices whose output shares their input's storage


@dataclass(frozen=True)
class Schedule:
    order: tuple[int, ...]  # graph operator indices in execution order
    step_bytes: tuple[int, ...]  # live bytes at each step (aligned storages + scratch)
    peak_bytes: int
    file_order_peak: int
    exact: bool  # True when no level of the search was cut to the beam
    inplace_steps: frozenset[int]  # graph op indices that ran in place in this order
    inplace_taken: dict[int, tuple[int, int, int]] = field(default_factory=dict)  # op index -> offer used


def build_problem(
    graph: Graph, lowered: Mapping[int, Lowered], *, align: int = ALIGN
) -> tuple[ScheduleProblem, StorageMap]:
    """Storages, dependencies, scratch and in-place candidates of ``graph`` (ops missing from ``lowered``
    have no scratch, no alias and no in-place)."""
    acts = {t.index for t in graph.activation_tensors}
    parent = {t: t for t in acts}

    def find(t: int) -> int:
        while parent[t] != t:
            parent[t] = parent[parent[t]]
            t = parent[t]
        return t

    alias_ops: set[int] = set()
    for op in graph.operators:
        low = lowered.get(op.index)
        if low is None or not low.alias or not op.inputs or len(op.outputs) != 1:
            continue
        src, dst = op.inputs[0], op.outputs[0]
        if src in acts and dst in acts and graph.tensor(src).nbytes == graph.tensor(dst).nbytes:
            parent[find(dst)] = find(src)
            alias_ops.add(op.index)

    producer: dict[int, int] = {}  # tensor -> local op
    for k, op in enumerate(graph.operators):
        for t in op.outputs:
            producer.setdefault(t, k)

    # storages numbered by first appearance: graph inputs, then outputs of ops in file order
    roots: dict[int, int] = {}
    seen_order = [t for t in graph.inputs if t in acts]
    for op in graph.operators:
        seen_order += [t for t in op.outputs if t in acts]
        seen_order += [t for t in op.inputs if t in acts]
    seen_order += [t for t in graph.outputs if t in acts]
    members: list[list[int]] = []
    for t in seen_order:
        r = find(t)
        if r not in roots:
            roots[r] = len(members)
            members.append([])
        if t not in members[roots[r]]:
            members[roots[r]].append(t)
    storage = {t: roots[find(t)] for t in acts}
    sizes = [0] * len(members)
    for t in acts:
        s = storage[t]
        sizes[s] = max(sizes[s], align_up(graph.tensor(t).nbytes, align))

    n = len(graph.operators)
    deps: list[int] = []
    reads: list[tuple[int, ...]] = []
    creates: list[tuple[int, ...]] = []
    scratch: list[int] = []
    inplace: list[tuple[tuple[int, int, int], ...]] = []
    created: set[int] = {storage[t] for t in graph.inputs if t in acts}
    for k, op in enumerate(graph.operators):
        mask = 0
        for t in op.inputs:
            if t in producer and producer[t] != k:
                mask |= 1 << producer[t]
        deps.append(mask)
        rs = tuple(dict.fromkeys(storage[t] for t in op.inputs if t in acts))
        reads.append(rs)
        cs = []
        for t in op.outputs:
            if t in acts and storage[t] not in created and storage[t] not in rs:
                cs.append(storage[t])
                created.add(storage[t])
        creates.append(tuple(cs))
        low = lowered.get(op.index)
        scratch.append(align_up(low.scratch_bytes, align) if low is not None else 0)
        inplace.append(_offers(graph, op, low, cs, storage, sizes, acts, scratch[-1], align))
    problem = ScheduleProblem(
        op_ids=tuple(op.index for op in graph.operators),
        deps=tuple(deps),
        reads=tuple(reads),
        creates=tuple(creates),
        sizes=tuple(sizes),
        scratch=tuple(scratch),
        graph_inputs=frozenset(storage[t] for t in graph.inputs if t in acts),
        graph_outputs=frozenset(storage[t] for t in graph.outputs if t in acts),
        inplace=tuple(inplace),
    )
    assert len(deps) == n
    return problem, StorageMap(
        storage=storage, members=tuple(tuple(m) for m in members), alias_ops=frozenset(alias_ops)
    )


def _offers(graph: Graph, op, low: Lowered | None, cs, storage, sizes, acts, scratch: int, align: int):
    """The in-place offers of one op as (storage read, storage created, scratch when in place)."""
    if low is None or len(cs) != 1 or len(op.outputs) != 1:
        return ()
    out = op.outputs[0]
    offers: list[tuple[int, int, int]] = []
    pos = low.params.get("inplace_input")
    for k in [pos] if isinstance(pos, int) else list(pos or ()):
        if 0 <= k < len(op.inputs) and op.inputs[k] in acts:
            src = op.inputs[k]
            same = graph.tensor(src).nbytes == graph.tensor(out).nbytes and sizes[storage[src]] == sizes[cs[0]]
            if same and storage[src] != cs[0]:
                offers.append((storage[src], cs[0], scratch))
    if low.params.get("inplace_conv") and op.inputs and op.inputs[0] in acts and storage[op.inputs[0]] != cs[0]:
        offers.append((storage[op.inputs[0]], cs[0], align_up(int(low.params["inplace_scratch"]), align)))
    return tuple(offers)


class _Costs:
    """Step costs of a :class:`ScheduleProblem` as functions of the executed set (a bitmask)."""

    def __init__(self, p: ScheduleProblem):
        self.p = p
        self.cons = cons = p.consumers()
        self.unused_inputs = sum(
            p.sizes[s] for s in p.graph_inputs if cons[s] == 0 and s not in p.graph_outputs
        )
        self.initial = sum(p.sizes[s] for s in p.graph_inputs if cons[s] != 0 or s in p.graph_outputs)
        self.new_bytes = [sum(p.sizes[s] for s in cs) + p.scratch[o] for o, cs in enumerate(p.creates)]
        # per op: (size, consumers mask, pinned) of the storages it creates and of those it reads
        self.created = [[(p.sizes[s], cons[s], s in p.graph_outputs) for s in cs] for cs in p.creates]
        self.read = [[(p.sizes[s], cons[s], s in p.graph_outputs) for s in rs] for rs in p.reads]

    def inplace_offer(self, done: int, o: int) -> tuple[int, int, int] | None:
        """The first offer of op ``o`` whose input dies at this step and that lowers the step, if any."""
        for src, dst, ip_scratch in self.p.inplace[o]:
            if src in self.p.graph_outputs or self.cons[src] & ~(done | (1 << o)):
                continue
            saved = min(self.p.sizes[src], self.p.sizes[dst]) + self.p.scratch[o] - ip_scratch
            if saved > 0:
                return src, dst, ip_scratch
        return None

    def step(self, done: int, resident: int, o: int) -> tuple[int, int]:
        """(live bytes while ``o`` runs, resident bytes after it) given the executed set and its resident bytes."""
        after = done | (1 << o)
        live = resident + self.new_bytes[o]
        if done == 0:
            live += self.unused_inputs
        if self.p.inplace[o]:
            offer = self.inplace_offer(done, o)
            if offer is not None:
                src, dst, ip_scratch = offer
                live -= min(self.p.sizes[src], self.p.sizes[dst]) + self.p.scratch[o] - ip_scratch
        res = resident
        for size, cons, pinned in self.created[o]:
            if pinned or cons & ~after:
                res += size
        for size, cons, pinned in self.read[o]:
            if not pinned and not cons & ~after:
                res -= size
        return live, res


def evaluate_order(problem: ScheduleProblem, order: Sequence[int]) -> tuple[int, ...]:
    """Live bytes at each step when the local ops run in ``order`` (local op numbers)."""
    costs = _Costs(problem)
    done = 0
    resident = costs.initial
    out = []
    for o in order:
        if problem.deps[o] & ~done:
            raise ValueError(f"op {problem.op_ids[o]} scheduled before an op it depends on")
        live, resident = costs.step(done, resident, o)
        out.append(live)
        done |= 1 << o
    return tuple(out)


def best_order(problem: ScheduleProblem, *, max_states: int = 1024) -> tuple[list[int], bool]:
    """Local op order with the smallest peak (DP over down-sets; beam of ``max_states`` per level)."""
    n = problem.n_ops
    costs = _Costs(problem)
    succ: list[list[int]] = [[] for _ in range(n)]
    for o, d in enumerate(problem.deps):
        for q in range(n):
            if d >> q & 1:
                succ[q].append(o)
    start_ready = sum(1 << o for o in range(n) if problem.deps[o] == 0)
    # state (executed set) -> (peak so far, resident bytes, parent state, op, ready set)
    levels: list[dict[int, tuple[int, int, int, int, int]]] = [{0: (0, costs.initial, -1, -1, start_ready)}]
    exact = True
    for _ in range(n):
        nxt: dict[int, tuple[int, int, int, int, int]] = {}
        for done, (peak, resident, _, _, ready) in levels[-1].items():
            todo = ready
            while todo:
                bit = todo & -todo
                todo ^= bit
                o = bit.bit_length() - 1
                key = done | bit
                live, res_after = costs.step(done, resident, o)
                val = peak if peak > live else live
                old = nxt.get(key)
                if old is None or val < old[0]:
                    new_ready = ready ^ bit
                    for q in succ[o]:
                        if not problem.deps[q] & ~key:
                            new_ready |= 1 << q
                    nxt[key] = (val, res_after, done, o, new_ready)
        if len(nxt) > max_states:
            exact = False
            ranked = sorted(enumerate(nxt.items()), key=lambda e: (e[1][1][0], e[1][1][1], e[0]))
            nxt = dict(item for _, item in ranked[:max_states])
        if not nxt:
            raise ValueError("the operator graph has a cycle")
        levels.append(nxt)
    order: list[int] = []
    state = (1 << n) - 1
    for level in reversed(levels[1:]):
        prev, o = level[state][2], level[state][3]
        order.append(o)
        state = prev
    order.reverse()
    return order, exact


def schedule_problem(problem: ScheduleProblem, *, reorder: bool = True, max_states: int = 1024) -> Schedule:
    """Choose the order (file order when ``reorder`` is False or when it is already optimal)."""
    file_order = list(range(problem.n_ops))
    file_steps = evaluate_order(problem, file_order)
    file_peak = max(file_steps, default=0)
    order, exact = file_order, True
    steps = file_steps
    if reorder and problem.n_ops > 1:
        cand, exact = best_order(problem, max_states=max_states)
        cand_steps = evaluate_order(problem, cand)
        if max(cand_steps, default=0) < file_peak:
            order, steps = cand, cand_steps
    costs = _Costs(problem)
    done = 0
    taken: dict[int, tuple[int, int, int]] = {}
    for o in order:
        offer = costs.inplace_offer(done, o)
        if offer is not None:
            taken[problem.op_ids[o]] = offer
        done |= 1 << o
    return Schedule(
        order=tuple(problem.op_ids[o] for o in order),
        step_bytes=steps,
        peak_bytes=max(steps, default=0),
        file_order_peak=file_peak,
        exact=exact,
        inplace_steps=frozenset(taken),
        inplace_taken=taken,
    )


def schedule_graph(
    graph: Graph,
    lowered: Mapping[int, Lowered],
    *,
    align: int = ALIGN,
    reorder: bool = True,
    max_states: int = 1024,
) -> Schedule:
    """Execution order of ``graph`` with the smallest peak of live activation bytes (see the module docstring)."""
    problem, _ = build_problem(graph, lowered, align=align)
    return schedule_problem(problem, reorder=reorder, max_states=max_states)
