"""Offset planning: place buffers with known lifetimes in one arena so that the arena is as small as possible.

The problem
-----------
Each :class:`Buffer` has a size and an inclusive lifetime ``[first, last]`` in execution steps. Two buffers
whose lifetimes share a step must get disjoint byte ranges; buffers that never coexist may share bytes.
Every offset is a multiple of ``align`` and every buffer occupies ``align``-rounded bytes, so the arena size
is ``max(offset + aligned size)``. This is the *dynamic storage allocation* problem, NP-hard in general.

Tied buffers
------------
``solve(..., ties=...)`` also takes groups of buffers that must share one offset (their lifetimes must not
meet): an in-place chain whose bytes change from step to step. Each group is placed as one *item* whose
height at a step is the size of its member alive then. Two items i, j alive together then need
``o_i + h(i|j) <= o_j`` or ``o_j + h(j|i) <= o_i``, where ``h(i|j)`` is the largest part of i alive at a step
where j is alive (for two plain buffers, their sizes), and everything below works on items with these
pair-dependent heights: the greedy scans the forbidden open intervals ``(o_j - h(i|j), o_j + h(j|i))``,
the bounds sum the parts alive at each step, and pushing items down in offset order still never breaks a
constraint, so the branch and bound stays exact.

Lower bound
-----------
At any step the buffers alive then must be stacked without overlap, so the arena is at least the largest
sum of aligned sizes alive at one step (the *max load*). It suffices to look at steps where some buffer
starts. When a plan reaches this bound it is optimal and no search is needed.

Algorithm of :func:`plan_offsets` / :func:`solve`
-------------------------------------------------
1. Split the buffers into *conflict components*: maximal groups whose lifetimes chain together in time.
   Different components never coexist, so each is planned on its own from offset 0 and the arena is the
   largest component's.
2. Greedy (TFLite Micro's GreedyMemoryPlanner idea): take the buffers in a fixed priority order and put
   each one into a gap between the already placed buffers that are alive at the same time. The main
   variant orders by size (largest first) and picks the *best fit* (the smallest gap that holds the buffer;
   above everything when none does). A few more variants are tried for free (first fit as TFLite Micro
   does; orders by lifetime length, by size x lifetime, by start) and the best result is kept.
3. Local search, when the greedy result is above the lower bound (the idea of TVM's hill-climb memory
   planner): move one buffer to another place in the priority order, re-run the best-fit greedy, keep
   the move unless the arena grows; a seeded generator and a work budget (``climb_budget``, counted
   in conflict-list entries visited) keep it deterministic and bounded.
4. Exact branch and bound, for components of at most ``exact_limit`` buffers still above the bound.
   Any packing can be pushed down ("gravity") until every buffer rests at 0 or on top of a buffer it
   conflicts with, and repeating "sort by (offset, index), re-place each at its lowest free offset in
   that order" only lowers offsets, so some optimal packing is a fixed point of that map. Hence it
   suffices to search *placement orders* in which each buffer goes to its lowest free offset and the
   sequence of (offset, index) pairs strictly increases. The search branches on which buffer comes
   next and prunes a node when a bound reaches the best arena found so far. The bound uses that every
   unplaced buffer will sit at or above the last placed offset ``o``: per step, ``o`` + the bytes of
   placed buffers above ``o`` + the load of unplaced buffers, and per unplaced buffer its lowest free
   offset at or above ``o`` plus its size. Buffers identical in (size, first, last) are placed in
   index order only. A node budget (``max_nodes``) bounds the search; when it finishes, the plan is
   proven optimal. The best plan found is returned.

Everything is deterministic: ties are broken by buffer index and node budgets count nodes, not time.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

ALIGN = 16


@dataclass(frozen=True)
class Buffer:
    """A block of ``size`` bytes alive from step ``first`` to step ``last`` (both inclusive)."""

    size: int
    first: int
    last: int


@dataclass(frozen=True)
class OffsetPlan:
    """Result of :func:`solve`: offsets, arena size, the max-load lower bound and whether it is proven optimal."""

    offsets: tuple[int, ...]
    arena: int
    lower_bound: int
    optimal: bool
    nodes: int  # branch-and-bound nodes visited (0 when the greedy already met the lower bound)


def align_up(n: int, align: int = ALIGN) -> int:
    return (n + align - 1) // align * align


def _overlaps(a: Buffer, b: Buffer) -> bool:
    return not (a.last < b.first or b.last < a.first)


def arena_size(buffers: Sequence[Buffer], offsets: Sequence[int], *, align: int = ALIGN) -> int:
    """Arena bytes a plan needs: the highest ``offset + aligned size`` over non-empty buffers (0 if none)."""
    top = 0
    for b, off in zip(buffers, offsets, strict=True):
        if b.size > 0:
            top = max(top, off + align_up(b.size, align))
    return top


def max_load(buffers: Sequence[Buffer], *, align: int = ALIGN) -> int:
    """Lower bound on any arena: the largest sum of aligned sizes alive at one step."""
    best = 0
    for t in {b.first for b in buffers}:
        best = max(
            best, sum(align_up(b.size, align) for b in buffers if b.size > 0 and b.first <= t <= b.last)
        )
    return best


def check_offsets(buffers: Sequence[Buffer], offsets: Sequence[int], *, align: int = ALIGN) -> None:
    """Raise ``ValueError`` when two buffers alive at the same step overlap in memory or an offset is misaligned."""
    if len(offsets) != len(buffers):
        raise ValueError(f"{len(offsets)} offsets for {len(buffers)} buffers")
    for i, off in enumerate(offsets):
        if off < 0 or off % align:
            raise ValueError(f"buffer {i}: offset {off} is negative or not a multiple of {align}")
    live = [i for i, b in enumerate(buffers) if b.size > 0]
    for ii, i in enumerate(live):
        for j in live[ii + 1 :]:
            if _overlaps(buffers[i], buffers[j]):
                ei = offsets[i] + align_up(buffers[i].size, align)
                ej = offsets[j] + align_up(buffers[j].size, align)
                if offsets[i] < ej and offsets[j] < ei:
                    raise ValueError(f"buffers {i} and {j} are alive together and overlap in memory")


# ---------------------------------------------------------------------------------------------------------
# items: buffers tied to one offset


# One placement unit: the (aligned size, first, last) parts of one buffer, or of buffers tied together.
_Parts = tuple[tuple[int, int, int], ...]
# Per item, the items alive with it: (j, h_ij, h_ji): item i must end h_ij bytes below j's offset or start
# h_ji bytes above it (the largest parts of i, resp. j, alive at a common step).
_Conflicts = list[list[tuple[int, int, int]]]


def _pair_heights(a: _Parts, b: _Parts) -> tuple[int, int]:
    hab = hba = 0
    for sa, fa, la in a:
        for sb, fb, lb in b:
            if not (la < fb or lb < fa):
                hab = max(hab, sa)
                hba = max(hba, sb)
    return hab, hba


def _conflicts(items: Sequence[_Parts]) -> _Conflicts:
    """For each item, the items alive at some common step, with the pair's heights (sweep over spans)."""
    n = len(items)
    firsts = [min(f for _, f, _ in p) for p in items]
    lasts = [max(last for _, _, last in p) for p in items]
    out: _Conflicts = [[] for _ in range(n)]
    by_start = sorted(range(n), key=lambda i: (firsts[i], i))
    for a, i in enumerate(by_start):
        for j in by_start[a + 1 :]:
            if firsts[j] > lasts[i]:
                break
            hij, hji = _pair_heights(items[i], items[j])
            if hij and hji:
                out[i].append((j, hij, hji))
                out[j].append((i, hji, hij))
    return out


def _components(items: Sequence[_Parts]) -> list[list[int]]:
    """Indices of items grouped into time-connected components (each sorted by index)."""
    span = [(min(f for _, f, _ in p), max(last for _, _, last in p)) for p in items]
    order = sorted(range(len(items)), key=lambda i: (span[i][0], i))
    comps: list[list[int]] = []
    reach = None
    for i in order:
        first, last = span[i]
        if reach is None or first > reach:
            comps.append([])
            reach = last
        comps[-1].append(i)
        reach = max(reach, last)
    return [sorted(c) for c in comps]


def _load(items: Sequence[_Parts]) -> int:
    best = 0
    for t in {f for p in items for _, f, _ in p}:
        best = max(best, sum(s for p in items for s, f, last in p if f <= t <= last))
    return best


# ---------------------------------------------------------------------------------------------------------
# greedy


def _greedy(sizes: list[int], conflicts: _Conflicts, order: list[int], best_fit: bool) -> tuple[list[int], int]:
    """Place items in ``order`` into gaps among placed conflicting items; (offsets, arena).

    Item i may go at offset o when, for every placed j it conflicts with, o <= o_j - h_ij or
    o >= o_j + h_ji: the forbidden offsets are the open intervals (o_j - h_ij, o_j + h_ji). Scanning
    them by their lower end, the cursor is feasible whenever it is at or below the next lower end; best
    fit takes the feasible cursor with the least slack to that end (for plain buffers: the tightest gap).
    """
    offsets = [-1] * len(sizes)
    height = 0
    for i in order:
        blocked = sorted((offsets[j] - hij, offsets[j] + hji) for j, hij, hji in conflicts[i] if offsets[j] >= 0)
        cursor = 0
        chosen = -1
        best_slack = -1
        for lo, hi in blocked:
            slack = lo - cursor
            if slack >= 0:
                if not best_fit:
                    chosen = cursor
                    break
                if best_slack < 0 or slack < best_slack:
                    best_slack, chosen = slack, cursor
            if hi > cursor:
                cursor = hi
        if chosen < 0:
            chosen = cursor
        offsets[i] = chosen
        if chosen + sizes[i] > height:
            height = chosen + sizes[i]
    return offsets, height


def _height(sizes: list[int], offsets: list[int]) -> int:
    return max((o + s for o, s in zip(offsets, sizes, strict=True)), default=0)


def _best_greedy(
    sizes: list[int], firsts: list[int], lasts: list[int], conflicts: _Conflicts
) -> tuple[list[int], list[int], int]:
    """Best of the greedy variants: (offsets, the priority order that gave them, arena)."""
    idx = list(range(len(sizes)))
    length = [lasts[i] - firsts[i] + 1 for i in idx]
    orders = [
        sorted(idx, key=lambda i: (-sizes[i], i)),
        sorted(idx, key=lambda i: (-sizes[i] * length[i], i)),
        sorted(idx, key=lambda i: (-length[i], -sizes[i], i)),
        sorted(idx, key=lambda i: (firsts[i], -sizes[i], i)),
    ]
    best: tuple[list[int], list[int], int] | None = None
    for order in orders:
        for best_fit in (True, False):
            offs, h = _greedy(sizes, conflicts, order, best_fit)
            if best is None or h < best[2]:
                best = (offs, order, h)
    assert best is not None
    return best


def _hill_climb(
    sizes: list[int], conflicts: _Conflicts, order: list[int], height: int, lower_bound: int, budget: int
) -> tuple[list[int] | None, int]:
    """Local search over priority orders (move one item elsewhere in the order, re-run best-fit greedy,
    keep the move unless the arena grows). ``budget`` counts conflict-list entries visited, so large
    problems get fewer iterations. Seeded, hence deterministic. Returns (better offsets or None, arena)."""
    n = len(order)
    if n < 2:
        return None, height
    rng = random.Random(0x7A11)
    cost = n + sum(len(c) for c in conflicts)
    best_offs = None
    order = list(order)
    for _ in range(max(1, budget // cost)):
        if height <= lower_bound:
            break
        cand = list(order)
        item = cand.pop(rng.randrange(n))
        cand.insert(rng.randrange(n), item)
        offs, h = _greedy(sizes, conflicts, cand, True)
        if h <= height:
            if h < height:
                best_offs = offs
            order, height = cand, h
    return best_offs, height


# ---------------------------------------------------------------------------------------------------------
# exact branch and bound


class _Search:
    """Branch and bound over canonical placement orders (see the module docstring)."""

    def __init__(self, items: Sequence[_Parts], conflicts: _Conflicts, lower_bound: int, max_nodes: int):
        self.n = n = len(items)
        self.sizes = [max(s for s, _, _ in p) for p in items]
        self.lower_bound = lower_bound
        self.max_nodes = max_nodes
        self.nodes = 0
        self.exhausted = False  # node budget ran out
        self.conflicts = conflicts
        points = sorted({f for p in items for _, f, _ in p})
        # per item: (point, bytes of the item alive at that point)
        self.covers = [
            [(k, s) for k, t in enumerate(points) for s, f, last in p if f <= t <= last] for p in items
        ]
        self.unplaced_load = [0] * len(points)
        for i in range(n):
            for k, s in self.covers[i]:
                self.unplaced_load[k] += s
        # twins: an earlier item with the same parts must be placed first
        key_first: dict[_Parts, int] = {}
        self.twin_before = [-1] * n
        for i, p in enumerate(items):
            if p in key_first:
                self.twin_before[i] = key_first[p]
            key_first[p] = i
        self.offsets = [-1] * n
        self.best_h = 0
        self.best_offsets: list[int] = []

    def lowest_fit(self, i: int, start: int) -> int:
        blocked = sorted(
            (self.offsets[j] - hij, self.offsets[j] + hji) for j, hij, hji in self.conflicts[i] if self.offsets[j] >= 0
        )
        off = start
        for lo, hi in blocked:
            if off <= lo:
                break
            if hi > off:
                off = hi
        return off

    def _bound(self, last_off: int, height: int) -> int:
        """Lower bound on the arena of any completion: per step, unplaced load + placed bytes above last_off."""
        above = list(self.unplaced_load)
        for j in range(self.n):
            off = self.offsets[j]
            if off >= 0:
                for k, s in self.covers[j]:
                    part = off + s - max(off, last_off)
                    if part > 0:
                        above[k] += part
        best = height
        for k, load in enumerate(above):
            if self.unplaced_load[k] and last_off + load > best:
                best = last_off + load
        return best

    def run(self, incumbent: list[int]) -> None:
        self.best_offsets = list(incumbent)
        self.best_h = _height(self.sizes, incumbent)
        if self.best_h > self.lower_bound:
            self._dfs(0, -1, 0, self.n)

    def _dfs(self, last_off: int, last_idx: int, height: int, remaining: int) -> None:
        if self.best_h <= self.lower_bound or self.exhausted:
            return
        self.nodes += 1
        if self.nodes > self.max_nodes:
            self.exhausted = True
            return
        if remaining == 0:
            if height < self.best_h:
                self.best_h = height
                self.best_offsets = list(self.offsets)
            return
        if self._bound(last_off, height) >= self.best_h:
            return
        children: list[tuple[int, int, int]] = []
        for i in range(self.n):
            if self.offsets[i] >= 0:
                continue
            tb = self.twin_before[i]
            if tb >= 0 and self.offsets[tb] < 0:
                continue
            above = self.lowest_fit(i, last_off)
            if above + self.sizes[i] >= self.best_h:
                return  # this item cannot be placed below the incumbent anywhere in this subtree
            free = self.lowest_fit(i, 0)
            if (free, i) > (last_off, last_idx):
                children.append((free, -self.sizes[i], i))
        children.sort()
        for free, _, i in children:
            self.offsets[i] = free
            for k, s in self.covers[i]:
                self.unplaced_load[k] -= s
            self._dfs(free, i, max(height, free + self.sizes[i]), remaining - 1)
            for k, s in self.covers[i]:
                self.unplaced_load[k] += s
            self.offsets[i] = -1
            if self.best_h <= self.lower_bound or self.exhausted:
                return


# ---------------------------------------------------------------------------------------------------------
# public entry points


def _items(
    buffers: Sequence[Buffer], ties: Sequence[Sequence[int]], align: int
) -> tuple[list[_Parts], list[list[int]]]:
    """Placement items (non-empty parts only) and the buffer indices of each; empty buffers are left out."""
    tied: dict[int, int] = {}
    for g, group in enumerate(ties):
        for i in group:
            if not 0 <= i < len(buffers) or i in tied:
                raise ValueError(f"tie {g}: buffer {i} is out of range or tied twice")
            tied[i] = g
    groups: list[list[int]] = [list(g) for g in ties] + [[i] for i in range(len(buffers)) if i not in tied]
    items: list[_Parts] = []
    members: list[list[int]] = []
    for group in groups:
        parts = sorted(
            (align_up(buffers[i].size, align), buffers[i].first, buffers[i].last)
            for i in group
            if buffers[i].size > 0
        )
        for a in range(len(parts)):
            for b in range(a + 1, len(parts)):
                if not (parts[a][2] < parts[b][1] or parts[b][2] < parts[a][1]):
                    raise ValueError(f"tied buffers {sorted(group)} are alive at a common step")
        if parts:
            items.append(tuple(parts))
            members.append(group)
    return items, members


def greedy_offsets(buffers: Sequence[Buffer], *, align: int = ALIGN, best_fit: bool = True) -> list[int]:
    """The plain greedy alone: largest first (ties by index), best fit (or first fit, as TFLite Micro does)."""
    items, members = _items(buffers, (), align)
    sizes = [p[0][0] for p in items]
    order = sorted(range(len(items)), key=lambda i: (-sizes[i], members[i][0]))
    offs, _ = _greedy(sizes, _conflicts(items), order, best_fit)
    out = [0] * len(buffers)
    for k, group in enumerate(members):
        out[group[0]] = offs[k]
    return out


def solve(
    buffers: Sequence[Buffer],
    *,
    ties: Sequence[Sequence[int]] = (),
    align: int = ALIGN,
    exact_limit: int = 12,
    max_nodes: int = 200_000,
    climb_budget: int = 2_000_000,
    search_only: bool = False,
) -> OffsetPlan:
    """Plan offsets (greedy, local search, branch and bound) and say how good the plan is (module docstring).

    ``ties``: groups of buffers that must share one offset (their lifetimes must not meet): an in-place
    chain whose size changes from step to step. Each group is placed as one item whose height at a step
    is the size of its member alive then; the bound and the search apply unchanged.

    ``search_only`` is a testing aid: skip the greedy and the local search, start the branch and bound of
    every component from all its items stacked, and do not stop at the lower bound, so the search alone
    must find and prove the optimum.
    """
    for i, b in enumerate(buffers):
        if b.size < 0 or b.first < 0 or b.last < b.first:
            raise ValueError(f"buffer {i} is malformed: {b}")
    items, members = _items(buffers, ties, align)
    item_offsets = [0] * len(items)
    arena = 0
    lower = 0
    optimal = True
    nodes = 0
    for comp in _components(items):
        parts = [items[i] for i in comp]
        sizes = [max(s for s, _, _ in p) for p in parts]
        firsts = [min(f for _, f, _ in p) for p in parts]
        lasts = [max(last for _, _, last in p) for p in parts]
        conflicts = _conflicts(parts)
        comp_lb = _load(parts)
        if search_only:
            local = [sum(sizes[:k]) for k in range(len(sizes))]
            height = sum(sizes)
        else:
            local, order, height = _best_greedy(sizes, firsts, lasts, conflicts)
        if height > comp_lb and not search_only:
            better, height = _hill_climb(sizes, conflicts, order, height, comp_lb, climb_budget)
            if better is not None:
                local = better
        comp_optimal = height <= comp_lb
        if (search_only or not comp_optimal) and len(comp) <= exact_limit:
            search = _Search(parts, conflicts, 0 if search_only else comp_lb, max_nodes)
            search.run(local)
            local = search.best_offsets
            nodes += search.nodes
            comp_optimal = _height(sizes, local) <= comp_lb or not search.exhausted
        optimal = optimal and comp_optimal
        for k, i in enumerate(comp):
            item_offsets[i] = local[k]
        arena = max(arena, _height(sizes, local))
        lower = max(lower, comp_lb)
    offsets = [0] * len(buffers)
    for k, group in enumerate(members):
        for i in group:
            offsets[i] = item_offsets[k]
    return OffsetPlan(offsets=tuple(offsets), arena=arena, lower_bound=lower, optimal=optimal, nodes=nodes)


def plan_offsets(
    buffers: Sequence[Buffer], *, ties: Sequence[Sequence[int]] = (), align: int = ALIGN
) -> list[int]:
    """Offsets (multiples of ``align``) for ``buffers`` with a minimal or near-minimal arena; see :func:`solve`."""
    return list(solve(buffers, ties=ties, align=align).offsets)
