"""Memory planning (placeholder contract; the planning helper replaces the body).

plan_offsets(buffers) -> offsets: buffers are (size, first_use, last_use) triples, inclusive step
indices; two buffers whose lifetimes overlap must not overlap in memory. Offsets are aligned.
"""

from __future__ import annotations

from dataclasses import dataclass

ALIGN = 16


@dataclass(frozen=True)
class Buffer:
    size: int
    first: int
    last: int


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def plan_offsets(buffers: list[Buffer]) -> list[int]:
    """Greedy by size, first fit: place the largest buffers first at the lowest free offset."""
    order = sorted(range(len(buffers)), key=lambda i: (-buffers[i].size, i))
    placed: list[tuple[int, int, Buffer]] = []
    offsets = [0] * len(buffers)
    for i in order:
        b = buffers[i]
        live = sorted((o, o + _align(p.size)) for o, _, p in placed if not (p.last < b.first or b.last < p.first))
        off = 0
        for start, end in live:
            if off + _align(b.size) <= start:
                break
            off = max(off, end)
        offsets[i] = off
        placed.append((off, i, b))
    return offsets
