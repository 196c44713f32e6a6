"""Offset planner: exact hand-made cases, optimality against brute force, and a no-overlap property test."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinym2net.planner import Buffer, arena_size, greedy_offsets, max_load, plan_offsets, solve


def _collisions(buffers: list[Buffer], offsets: list[int], align: int = 16) -> list[tuple[int, int]]:
    """Pairs alive at a common step whose aligned byte ranges intersect (written independently of the planner)."""
    out = []
    for i, a in enumerate(buffers):
        for j in range(i + 1, len(buffers)):
            b = buffers[j]
            if a.size == 0 or b.size == 0:
                continue
            if a.last < b.first or b.last < a.first:
                continue
            a_end = offsets[i] + -(-a.size // align) * align
            b_end = offsets[j] + -(-b.size // align) * align
            if offsets[i] < b_end and offsets[j] < a_end:
                out.append((i, j))
    return out


def _brute_force_arena(buffers: list[Buffer], align: int = 16) -> int:
    """Smallest arena by exhaustive search over the offset grid, trying heights from the load bound upwards."""
    units = [-(-b.size // align) for b in buffers]
    n = len(buffers)
    alive_together = [
        [
            j
            for j in range(n)
            if j != i and not (buffers[i].last < buffers[j].first or buffers[j].last < buffers[i].first)
        ]
        for i in range(n)
    ]
    order = sorted(range(n), key=lambda i: -units[i])
    offs = [-1] * n

    def fits(k: int, height: int) -> bool:
        if k == n:
            return True
        i = order[k]
        for o in range(height - units[i] + 1):
            if all(
                offs[j] < 0 or o + units[i] <= offs[j] or offs[j] + units[j] <= o for j in alive_together[i]
            ):
                offs[i] = o
                ok = fits(k + 1, height)
                offs[i] = -1
                if ok:
                    return True
        return False

    height = max(
        sum(units[j] for j in range(n) if buffers[j].first <= buffers[i].first <= buffers[j].last)
        for i in range(n)
    )
    while not fits(0, height):
        height += 1
    return height * align


# ---- exact offsets on hand-made cases ----


def test_chain_stacks_neighbours_and_reuses_the_rest():
    # a -> b -> c: each overlaps only its neighbour; sizes round up to 16
    bufs = [Buffer(100, 0, 1), Buffer(200, 1, 2), Buffer(50, 2, 3)]
    assert plan_offsets(bufs) == [208, 0, 208]
    assert arena_size(bufs, plan_offsets(bufs)) == 320 == max_load(bufs)


def test_disjoint_lifetimes_share_offset_zero():
    bufs = [Buffer(64, 0, 0), Buffer(48, 1, 1), Buffer(160, 2, 3)]
    assert plan_offsets(bufs) == [0, 0, 0]
    assert arena_size(bufs, [0, 0, 0]) == 160


def test_greedy_places_largest_first_into_gaps():
    bufs = [Buffer(256, 0, 1), Buffer(128, 1, 4), Buffer(64, 2, 3), Buffer(64, 3, 5), Buffer(32, 5, 6)]
    assert greedy_offsets(bufs) == [0, 256, 0, 64, 0]
    assert plan_offsets(bufs) == [0, 256, 0, 64, 0]
    assert arena_size(bufs, plan_offsets(bufs)) == 384


def test_best_fit_takes_the_tightest_gap_first_fit_the_lowest():
    # when N (index 4) is placed, the live buffers leave gaps [0, 64) and [96, 128)
    bufs = [Buffer(128, 0, 1), Buffer(112, 1, 3), Buffer(64, 2, 2), Buffer(32, 2, 3), Buffer(32, 3, 3)]
    assert greedy_offsets(bufs, best_fit=True) == [0, 128, 0, 64, 96]
    assert greedy_offsets(bufs, best_fit=False) == [0, 128, 0, 64, 0]


def test_search_beats_greedy_on_a_known_case():
    bufs = [Buffer(64, 4, 7), Buffer(32, 4, 5), Buffer(80, 1, 3), Buffer(64, 2, 4)]
    greedy = min(arena_size(bufs, greedy_offsets(bufs, best_fit=bf)) for bf in (True, False))
    assert greedy == 176
    assert _brute_force_arena(bufs) == 160
    for kwargs in (
        {},
        {"climb_budget": 0},
        {"search_only": True},
    ):  # all stages, without local search, B&B alone
        result = solve(bufs, **kwargs)
        assert result.arena == 160 and result.optimal
        assert _collisions(bufs, list(result.offsets)) == []
    assert solve(bufs, climb_budget=0).nodes > 0


def test_alignment_parameter_and_zero_sized_buffers():
    bufs = [Buffer(5, 0, 1), Buffer(0, 0, 1), Buffer(3, 1, 1)]
    offs = plan_offsets(bufs, align=4)
    assert all(o % 4 == 0 for o in offs)
    assert offs[1] == 0
    assert arena_size(bufs, offs, align=4) == 12
    assert plan_offsets([]) == []


def test_malformed_buffer_is_rejected():
    with pytest.raises(ValueError):
        plan_offsets([Buffer(16, 3, 2)])


# ---- optimality ----


def test_exact_search_matches_brute_force_and_never_loses_to_greedy():
    rng = random.Random(5)
    beaten = 0
    for _ in range(300):
        n = rng.randint(3, 7)
        bufs = []
        for _ in range(n):
            first = rng.randint(0, 4)
            bufs.append(Buffer(rng.randint(1, 5) * 16 - rng.randint(0, 15), first, first + rng.randint(0, 3)))
        best = _brute_force_arena(bufs)
        result = solve(bufs)
        greedy = arena_size(bufs, greedy_offsets(bufs))
        assert result.arena <= greedy
        assert result.arena == best, bufs
        assert result.optimal
        assert _collisions(bufs, list(result.offsets)) == []
        beaten += result.arena < greedy
        # the branch and bound on its own, from the worst start and without stopping at the load bound
        alone = solve(bufs, search_only=True)
        assert alone.arena == best and alone.optimal and alone.nodes > 0, bufs
        assert _collisions(bufs, list(alone.offsets)) == []
    assert beaten > 0  # some cases need more than the plain greedy


def test_twelve_buffer_problems_are_solved_to_optimality_quickly():
    rng = random.Random(7)
    for _ in range(20):
        bufs = []
        for _ in range(12):
            first = rng.randint(0, 8)
            bufs.append(Buffer(rng.randint(1, 12) * 16, first, first + rng.randint(0, 5)))
        result = solve(bufs)
        assert result.optimal
        assert result.arena >= result.lower_bound == max_load(bufs)
        assert solve(bufs, climb_budget=0).arena == result.arena  # the search alone gets there too
        assert _collisions(bufs, list(result.offsets)) == []


# ---- property: no two live buffers overlap ----


@settings(max_examples=2000, deadline=None, derandomize=True, database=None)
@given(st.lists(st.tuples(st.integers(0, 300), st.integers(0, 20), st.integers(0, 6)), max_size=16))
def test_random_lifetimes_never_overlap(triples):
    bufs = [Buffer(size, first, first + length) for size, first, length in triples]
    offs = plan_offsets(bufs)
    assert len(offs) == len(bufs)
    assert all(o >= 0 and o % 16 == 0 for o in offs)
    assert _collisions(bufs, offs) == []
    arena = arena_size(bufs, offs)
    assert arena >= max_load(bufs)
    assert arena <= arena_size(bufs, greedy_offsets(bufs))
    assert plan_offsets(bufs) == offs  # deterministic
