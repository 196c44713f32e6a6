"""Offset planning: place buffers with known lifetimes in one arena so that the arena is as small as possible.

The problem
-----------
Each :class:`Buffer` has a size and an inclusive lifetime ``[first, last]`` in execution steps. Two buffers
whose lifetimes share a step must get disjoint byte ranges; buffers that never coexist may share bytes.
Every offset is a multiple of ``align`` and every buffer occupies ``align``-rounded bytes, so the arena size
is ``max(offset + aligned size)``. This is the *dynamic storage allocation* problem, NP-hard in general.

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
# components


def _components(buffers: Sequence[Buffer]) -> list[list[int]]:
    """Indices of non-empty buffers grouped into time-connected components (each sorted by index)."""
    order = sorted((i for i, b in enumerate(buffers) if b.size > 0), key=lambda i: (buffers[i].first, i))
    comps: list[list[int]] = []
    reach = None
    for i in order:
        b = buffers[i]
        if reach is None or b.first > reach:
            comps.append([])
            reach = b.last
        comps[-1].append(i)
        reach = max(reach, b.last)
    return [sorted(c) for c in comps]


# ---------------------------------------------------------------------------------------------------------
# greedy


def _conflicts(firsts: list[int], lasts: list[int]) -> list[list[int]]:
    """For each buffer, the buffers alive at some common step (sweep over start times)."""
    n = len(firsts)
    out: list[list[int]] = [[] for _ in range(n)]
    by_start = sorted(range(n), key=lambda i: (firsts[i], i))
    for a, i in enumerate(by_start):
        for j in by_start[a + 1 :]:
            if firsts[j] > lasts[i]:
                break
            out[i].append(j)
            out[j].append(i)
    return out


def _greedy(
    sizes: list[int], conflicts: list[list[int]], order: list[int], best_fit: bool
) -> tuple[list[int], int]:
    """Place buffers in ``order`` into gaps among placed conflicting buffers; (offsets, arena)."""
    offsets = [-1] * len(sizes)
    height = 0
    for i in order:
        occupied = sorted((offsets[j], offsets[j] + sizes[j]) for j in conflicts[i] if offsets[j] >= 0)
        size = sizes[i]
        cursor = 0
        chosen = -1
        best_gap = -1
        for start, end in occupied:
            gap = start - cursor
            if gap >= size:
                if not best_fit:
                    chosen = cursor
                    break
                if best_gap < 0 or gap < best_gap:
                    best_gap, chosen = gap, cursor
            if end > cursor:
                cursor = end
        if chosen < 0:
            chosen = cursor
        offsets[i] = chosen
        if chosen + size > height:
            height = chosen + size
    return offsets, height


def _height(sizes: list[int], offsets: list[int]) -> int:
    return max((o + s for o, s in zip(offsets, sizes, strict=True)), default=0)


def _best_greedy(
    sizes: list[int], firsts: list[int], lasts: list[int], conflicts: list[list[int]]
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
    sizes: list[int], conflicts: list[list[int]], order: list[int], height: int, lower_bound: int, budget: int
) -> tuple[list[int] | None, int]:
    """Local search over priority orders (move one buffer elsewhere in the order, re-run best-fit greedy,
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

    def __init__(
        self, sizes: list[int], firsts: list[int], lasts: list[int], lower_bound: int, max_nodes: int
    ):
        self.n = n = len(sizes)
        self.sizes, self.firsts, self.lasts = sizes, firsts, lasts
        self.lower_bound = lower_bound
        self.max_nodes = max_nodes
        self.nodes = 0
        self.exhausted = False  # node budget ran out
        self.conflicts = [
            [j for j in range(n) if j != i and not (lasts[j] < firsts[i] or lasts[i] < firsts[j])]
            for i in range(n)
        ]
        points = sorted(set(firsts))
        self.points = points
        self.covers = [[p for p, t in enumerate(points) if firsts[i] <= t <= lasts[i]] for i in range(n)]
        self.unplaced_load = [0] * len(points)
        for i in range(n):
            for p in self.covers[i]:
                self.unplaced_load[p] += sizes[i]
        # twins: an earlier buffer with the same (size, first, last) must be placed first
        key_first: dict[tuple[int, int, int], int] = {}
        self.twin_before = [-1] * n
        for i in range(n):
            k = (sizes[i], firsts[i], lasts[i])
            if k in key_first:
                self.twin_before[i] = key_first[k]
            key_first[k] = i
        self.offsets = [-1] * n
        self.best_h = 0
        self.best_offsets: list[int] = []

    def lowest_fit(self, i: int, start: int) -> int:
        occ = sorted(
            (self.offsets[j], self.offsets[j] + self.sizes[j])
            for j in self.conflicts[i]
            if self.offsets[j] >= 0
        )
        off = start
        size = self.sizes[i]
        for s, e in occ:
            if off + size <= s:
                break
            if e > off:
                off = e
        return off

    def _bound(self, last_off: int, height: int) -> int:
        """Lower bound on the arena of any completion: per step, unplaced load + placed bytes above last_off."""
        above = list(self.unplaced_load)
        for j in range(self.n):
            off = self.offsets[j]
            if off >= 0:
                part = off + self.sizes[j] - max(off, last_off)
                if part > 0:
                    for p in self.covers[j]:
                        above[p] += part
        best = height
        for p, load in enumerate(above):
            if self.unplaced_load[p] and last_off + load > best:
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
                return  # this buffer cannot be placed below the incumbent anywhere in this subtree
            free = self.lowest_fit(i, 0)
            if (free, i) > (last_off, last_idx):
                children.append((free, -self.sizes[i], i))
        children.sort()
        for free, _, i in children:
            self.offsets[i] = free
            for p in self.covers[i]:
                self.unplaced_load[p] -= self.sizes[i]
            self._dfs(free, i, max(height, free + self.sizes[i]), remaining - 1)
            for p in self.covers[i]:
                self.unplaced_load[p] += self.sizes[i]
            self.offsets[i] = -1
            if self.best_h <= self.lower_bound or self.exhausted:
                return


# ---------------------------------------------------------------------------------------------------------
# public entry points


def greedy_offsets(buffers: Sequence[Buffer], *, align: int = ALIGN, best_fit: bool = True) -> list[int]:
    """The plain greedy alone: largest first (ties by index), best fit (or first fit, as TFLite Micro does)."""
    sizes = [align_up(b.size, align) for b in buffers]
    conflicts = _conflicts([b.first for b in buffers], [b.last for b in buffers])
    order = sorted(range(len(buffers)), key=lambda i: (-sizes[i], i))
    offs, _ = _greedy(sizes, conflicts, order, best_fit)
    return [o if b.size > 0 else 0 for o, b in zip(offs, buffers, strict=True)]


def solve(
    buffers: Sequence[Buffer],
    *,
    align: int = ALIGN,
    exact_limit: int = 12,
    max_nodes: int = 200_000,
    climb_budget: int = 2_000_000,
    search_only: bool = False,
) -> OffsetPlan:
    """Plan offsets (greedy, local search, branch and bound) and say how good the plan is (module docstring).

    ``search_only`` is a testing aid: skip the greedy and the local search, start the branch and bound of
    every component from all its buffers stacked, and do not stop at the lower bound, so the search alone
    must find and prove the optimum.
    """
    for i, b in enumerate(buffers):
        if b.size < 0 or b.first < 0 or b.last < b.first:
            raise ValueError(f"buffer {i} is malformed: {b}")
    offsets = [0] * len(buffers)
    arena = 0
    lower = 0
    optimal = True
    nodes = 0
    for comp in _components(buffers):
        sizes = [align_up(buffers[i].size, align) for i in comp]
        firsts = [buffers[i].first for i in comp]
        lasts = [buffers[i].last for i in comp]
        conflicts = _conflicts(firsts, lasts)
        comp_lb = max_load([buffers[i] for i in comp], align=align)
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
            search = _Search(sizes, firsts, lasts, 0 if search_only else comp_lb, max_nodes)
            search.run(local)
            local = search.best_offsets
            nodes += search.nodes
            comp_optimal = _height(sizes, local) <= comp_lb or not search.exhausted
        optimal = optimal and comp_optimal
        for k, i in enumerate(comp):
            offsets[i] = local[k]
        arena = max(arena, _height(sizes, local))
        lower = max(lower, comp_lb)
    return OffsetPlan(offsets=tuple(offsets), arena=arena, lower_bound=lower, optimal=optimal, nodes=nodes)


def plan_offsets(buffers: Sequence[Buffer], *, align: int = ALIGN) -> list[int]:
    """Offsets (multiples of ``align``) for ``buffers`` with a minimal or near-minimal arena; see :func:`solve`."""
    return list(solve(buffers, align=align).offsets)
