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
3. Exact branch and bound, when the greedy result is above the lower bound. Any packing can be pushed
   down ("gravity") until every buffer rests at 0 or on top of a buffer it conflicts with, and repeating
   "sort by (offset, index), re-place each at its lowest free offset in that order" only lowers offsets,
   so some optimal packing is a fixed point of that map. Hence it suffices to search *placement orders*
   in which each buffer goes to its lowest free offset and the sequence of (offset, index) pairs strictly
   increases. The search branches on which buffer comes next and prunes a node when a bound reaches the
   best arena found so far. The bound uses that every unplaced buffer will sit at or above the last
   placed offset: (last offset + load of unplaced buffers at each step) and, per unplaced buffer, its
   lowest free offset at or above the last offset plus its size. Buffers identical in (size, first,
   last) are placed in index order only. Components with at most ``exact_limit`` buffers are searched
   with a node budget of ``max_nodes`` (proven optimal when the search finishes); larger components get a
   smaller improvement-only budget (``improve_nodes``). The best plan found is returned.

Everything is deterministic: ties are broken by buffer index and node budgets count nodes, not time.
"""

from __future__ import annotations

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


def _free_gaps(occupied: list[tuple[int, int]]) -> tuple[list[tuple[int, int]], int]:
    """Gaps between merged occupied ranges (sorted), and the top of the highest range."""
    gaps: list[tuple[int, int]] = []
    cursor = 0
    for start, end in sorted(occupied):
        if start > cursor:
            gaps.append((cursor, start))
        cursor = max(cursor, end)
    return gaps, cursor


def _greedy(
    sizes: list[int], firsts: list[int], lasts: list[int], order: list[int], best_fit: bool
) -> list[int]:
    n = len(sizes)
    offsets = [-1] * n
    placed: list[int] = []
    for i in order:
        occupied = [
            (offsets[j], offsets[j] + sizes[j])
            for j in placed
            if not (lasts[j] < firsts[i] or lasts[i] < firsts[j])
        ]
        gaps, top = _free_gaps(occupied)
        chosen = top
        if best_fit:
            fitting = [(end - start, start) for start, end in gaps if end - start >= sizes[i]]
            if fitting:
                chosen = min(fitting)[1]
        else:
            for start, end in gaps:
                if end - start >= sizes[i]:
                    chosen = start
                    break
        offsets[i] = chosen
        placed.append(i)
    return offsets


def _height(sizes: list[int], offsets: list[int]) -> int:
    return max((o + s for o, s in zip(offsets, sizes, strict=True)), default=0)


def _best_greedy(sizes: list[int], firsts: list[int], lasts: list[int]) -> list[int]:
    n = len(sizes)
    idx = list(range(n))
    length = [lasts[i] - firsts[i] + 1 for i in idx]
    orders = [
        sorted(idx, key=lambda i: (-sizes[i], i)),
        sorted(idx, key=lambda i: (-sizes[i] * length[i], i)),
        sorted(idx, key=lambda i: (-length[i], -sizes[i], i)),
        sorted(idx, key=lambda i: (firsts[i], -sizes[i], i)),
    ]
    best: list[int] | None = None
    best_h = 0
    for order in orders:
        for best_fit in (True, False):
            offs = _greedy(sizes, firsts, lasts, order, best_fit)
            h = _height(sizes, offs)
            if best is None or h < best_h:
                best, best_h = offs, h
    assert best is not None
    return best


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
    order = sorted(range(len(buffers)), key=lambda i: (-sizes[i], i))
    offs = _greedy(sizes, [b.first for b in buffers], [b.last for b in buffers], order, best_fit)
    return [o if b.size > 0 else 0 for o, b in zip(offs, buffers, strict=True)]


def solve(
    buffers: Sequence[Buffer],
    *,
    align: int = ALIGN,
    exact_limit: int = 12,
    max_nodes: int = 200_000,
    improve_nodes: int = 5_000,
) -> OffsetPlan:
    """Plan offsets (greedy, then branch and bound) and say how good the plan is; see the module docstring."""
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
        comp_lb = max_load([buffers[i] for i in comp], align=align)
        local = _best_greedy(sizes, firsts, lasts)
        comp_optimal = _height(sizes, local) <= comp_lb
        if not comp_optimal:
            budget = max_nodes if len(comp) <= exact_limit else improve_nodes
            search = _Search(sizes, firsts, lasts, comp_lb, budget)
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
