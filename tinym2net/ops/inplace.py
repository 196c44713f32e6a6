"""In-place convolutions: what a convolution lowering offers the memory planner, and the ring it needs.

A convolution's output row ``r`` reads only input rows ``r*stride - pad`` .. ``+ span - 1``. The row-band
driver of ``firmware/kernels/tm2_inplace.h`` uses that to let the output overwrite its own input, both
starting at the same arena offset: it runs the op's ordinary kernel band by band (a band is ``band``
output rows, computed as a small convolution whose input is read straight from the arena and whose
output goes to a ring in the scratch buffer) and copies a finished row to its place only when no band
still to run reads the input bytes under it. The op then needs ``max(in, out)`` bytes plus the ring
instead of ``in + out``.

This module decides, at build time and from the shapes alone, the direction (bands top-down, or
bottom-up for outputs that outgrow their input), the band size and the ring size, by simulating the
driver exactly (:func:`ring_bands_needed`). :func:`offer_rows` attaches the result to a lowering:

``params["inplace_conv"] = "rows"``
    the capability: the output may start at the input's offset and overlap it (sizes may differ);
``params["inplace_scratch"]``
    scratch bytes when run in place (the kernel's own scratch, 16-aligned, then the ring); the plan
    uses it instead of ``Lowered.scratch_bytes`` for an op it runs in place;

and wraps the lowering's template in ``ops/inplace_rows.j2``, which renders the ordinary call when the
planner kept input and output apart and the band loop when it gave them the same offset. The planner
(:mod:`tinym2net.schedule`, :mod:`tinym2net.memory_plan`) takes the offer only where the input dies at
this op and the overlap saves more than the ring costs.

Pointwise layers of the packed CONV_2D kernel's pointwise path also offer the kernel on the whole tensor, no bands
and no ring (``params["inplace_pointwise"]``, the first of their ``inplace_wider`` overrides: see :func:`_pointwise`).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..ir import Graph, Operator
from . import packing
from .base import Lowered

# Kernel templates the band loop can drive: template -> C type of its params struct (every one has
# batches, in_h, out_h and pad_h fields, which the loop overrides per band).
KERNEL_PARAMS = {
    "ops/conv2d.j2": "tm2_conv_params",
    "ops/conv2d_s4.j2": "tm2_conv_params",
    "ops/conv2d_packed.j2": "tm2_conv_packed_params",
    "ops/depthwise_conv2d.j2": "tm2_dwconv_params",
    "ops/depthwise_conv2d_s4.j2": "tm2_dwconv_params",
    "ops/depthwise3x3_packed.j2": "tm2_dw3x3_packed_params",
}
# Templates whose bands run a scratch-free kernel of tm2_inplace.h on the same constants instead of their
# own kernel. None by default: the packed 3x3 depthwise kernel keeps the transposed rows of one channel
# quad only (32 * row_len bytes), so its bands run it directly. (Stride-1 3x3 depthwise layers of equal
# shapes run in place without bands at all, on whole channel planes: see _planes.)
DIRECT_KERNELS: dict[str, str] = {}
# Scratch-free kernels a template's bands may run instead, slower but without the kernel's scratch: the
# lowering offers them as ``params["inplace_alt"]`` and the planner takes one where it lowers the arena
# (tinym2net.memory_plan: vww's 48-wide depthwise layer at the peak).
ALT_KERNELS = {"ops/depthwise3x3_packed.j2": "tm2_depthwise3x3_s8_direct"}
WRAPPER_TEMPLATE = "ops/inplace_rows.j2"
PLANES_MIN_H = packing.PLANES_MIN_H  # output rows from which the whole-plane kernel pays off in place
PIXEL_BAND = 8  # pixels per kernel call for pointwise convolutions (two of the packed kernel's 4-pixel blocks)
WIDE_PIXEL_BANDS = (64, 32, 16)  # larger pointwise bands the planner takes where the arena does not grow
WIDE_ROW_BANDS = (4, 2)  # the same for other CONV_2D layers (output rows per band)
_ALIGN = 16


@dataclass(frozen=True)
class RowGeometry:
    """Rows of a convolution as the band driver sees them (``tm2_inplace_rows`` without the plan)."""

    in_h: int
    in_row: int  # bytes per input row
    out_h: int
    out_row: int  # bytes per output row
    stride: int
    pad: int  # padding rows above the first input row
    span: int  # input rows one output row reads: (filter_h - 1) * dilation_h + 1


@dataclass(frozen=True)
class RowPlan:
    geometry: RowGeometry
    band: int  # output rows per kernel call
    ring_bands: int  # bands of slots in the ring
    reverse: bool  # bands from the bottom up
    flat: bool = False  # pointwise: rows are single pixels (the kernel sees in_w = out_w = 1)

    @property
    def ring_bytes(self) -> int:
        return self.ring_bands * self.band * self.geometry.out_row


def _band_bounds(g: RowGeometry, band: int, reverse: bool, k: int) -> tuple[int, int]:
    if reverse:
        return max(0, g.out_h - (k + 1) * band), g.out_h - k * band
    return k * band, min(g.out_h, (k + 1) * band)


def _live_rows(g: RowGeometry, band: int, reverse: bool, k: int, n_bands: int) -> tuple[int, int]:
    """Input rows that bands k, k+1, ... still read (every row between their first and last); (1, 0) if none."""
    if k >= n_bands:
        return 1, 0
    start, end = _band_bounds(g, band, reverse, k)
    if reverse:
        return max(0, -g.pad), min(g.in_h - 1, (end - 1) * g.stride - g.pad + g.span - 1)
    return max(0, start * g.stride - g.pad), min(g.in_h - 1, (g.out_h - 1) * g.stride - g.pad + g.span - 1)


def ring_bands_needed(g: RowGeometry, band: int, reverse: bool) -> int | None:
    """Ring size, in bands, with which the driver never overwrites a row it has not stored yet.

    Runs the driver's schedule (``tm2_inplace_rows_next``) on the shapes: before band k the stored rows
    are, oldest first, those whose bytes hold no input row a band >= k reads; band k then goes to slot
    ``k % ring_bands``, which must not hold a pending row, so the ring needs ``k - (band of the oldest
    pending row) + 1`` bands. None when some band would read no input row at all (nothing to run).
    """
    if min(g.in_h, g.out_h, g.in_row, g.out_row, g.stride, g.span, band) < 1 or g.pad < 0:
        return None
    n_bands = -(-g.out_h // band)
    pend_lo = pend_hi = g.out_h if reverse else 0
    need = 1
    for k in range(n_bands + 1):
        lo, hi = _live_rows(g, band, reverse, k, n_bands)
        while pend_lo < pend_hi:
            q = pend_hi - 1 if reverse else pend_lo
            dest = (q * g.out_row, (q + 1) * g.out_row)
            if lo <= hi and dest[0] < (hi + 1) * g.in_row and lo * g.in_row < dest[1]:
                break
            if reverse:
                pend_hi -= 1
            else:
                pend_lo += 1
        if k == n_bands:
            break
        start, end = _band_bounds(g, band, reverse, k)
        first = max(0, start * g.stride - g.pad)
        last = min(g.in_h - 1, (end - 1) * g.stride - g.pad + g.span - 1)
        if last < first:
            return None
        if pend_lo < pend_hi:
            oldest = pend_hi - 1 if reverse else pend_lo
            oldest_band = (g.out_h - 1 - oldest) // band if reverse else oldest // band
            need = max(need, k - oldest_band + 1)
            if reverse:
                pend_lo = start
            else:
                pend_hi = end
        else:
            pend_lo, pend_hi = start, end
    return need


def plan_rows(g: RowGeometry, band: int = 1, *, flat: bool = False) -> RowPlan | None:
    """The direction with the smaller ring (forward on a tie), or None when neither works."""
    best: RowPlan | None = None
    for reverse in (False, True):
        n = ring_bands_needed(g, band, reverse)
        if n is None:
            continue
        cand = RowPlan(g, band, n, reverse, flat)
        if best is None or cand.ring_bytes < best.ring_bytes:
            best = cand
    return best


def pixel_band(pixels: int) -> int:
    """Pixels per band of an in-place pointwise convolution: PIXEL_BAND, unless that leaves a last band of one
    to three pixels, which the packed kernel would run as a block with idle lanes (its short blocks move back
    only within a call); then the band of 4 .. PIXEL_BAND pixels whose bands all hold at least four pixels
    and need the fewest 4-pixel blocks (9 pixels: bands of 5 and 4)."""
    if pixels <= PIXEL_BAND:
        return pixels
    best: tuple[int, int] | None = None
    for band in range(PIXEL_BAND, 3, -1):
        sizes = [band] * (pixels // band) + ([pixels % band] if pixels % band else [])
        if min(sizes) < 4:
            continue
        blocks = sum(-(-n // 4) for n in sizes)
        if best is None or blocks < best[0]:
            best = (blocks, band)
    return PIXEL_BAND if best is None else best[1]


def conv_rows_plan(params: dict[str, Any]) -> RowPlan | None:
    """Row plan of a CONV_2D / DEPTHWISE_CONV_2D lowering's params (batch 1), or None."""
    p = params
    if p.get("batches") != 1:
        return None
    pointwise = (
        p["filter_h"] == p["filter_w"] == 1
        and p["stride_h"] == p["stride_w"] == 1
        and p["pad_h"] == p["pad_w"] == 0
        and (p["in_h"], p["in_w"]) == (p["out_h"], p["out_w"])
    )
    if pointwise:
        pixels = p["in_h"] * p["in_w"]
        g = RowGeometry(pixels, p["in_c"], pixels, p["out_c"], 1, 0, 1)
        return plan_rows(g, pixel_band(pixels), flat=True)
    span = (p["filter_h"] - 1) * p["dilation_h"] + 1
    g = RowGeometry(
        p["in_h"], p["in_w"] * p["in_c"], p["out_h"], p["out_w"] * p["out_c"], p["stride_h"], p["pad_h"], span
    )
    return plan_rows(g)


def _align(n: int) -> int:
    return -(-n // _ALIGN) * _ALIGN


def offer_rows(low: Lowered) -> Lowered:
    """``low`` with the in-place offer attached (see the module docstring), or unchanged when its kernel
    template is not one the band loop can drive or the shapes do not allow it."""
    ctype = KERNEL_PARAMS.get(low.template)
    if ctype is None:
        return low
    plan = conv_rows_plan(low.params)
    if plan is None:
        return low
    direct = DIRECT_KERNELS.get(low.template)
    ring_offset = 0 if direct else _align(low.scratch_bytes)
    planes = _planes(low, ring_offset + plan.ring_bytes) if not direct else {}
    params = {
        **low.params,
        "inplace_conv": "rows",
        "inplace_scratch": ring_offset + plan.ring_bytes,
        "inplace_base": low.template,
        "inplace_ctype": ctype,
        "inplace_direct": direct or "",
        # take it only where the arena needs it when the in-place run is slower than the op's own kernel
        "inplace_slower": int(_slower(low, plan, direct)),
        "inplace_flat": int(plan.flat),
        "inplace_ring_offset": ring_offset,
        **_alternative(low, plan),
        "inplace_wider": _pointwise(low, plan) + _wider_bands(low, plan, ring_offset),
        **planes,
        "inplace_rows": _rows_params(plan),
    }
    return dataclasses.replace(low, template=WRAPPER_TEMPLATE, params=params)


def _rows_params(plan: RowPlan) -> dict[str, int]:
    """``tm2_inplace_rows`` of a row plan (the template's ``op.params.inplace_rows``)."""
    g = plan.geometry
    return {
        "in_h": g.in_h,
        "in_row": g.in_row,
        "out_h": g.out_h,
        "out_row": g.out_row,
        "stride": g.stride,
        "pad": g.pad,
        "span": g.span,
        "band": plan.band,
        "ring_bands": plan.ring_bands,
        "reverse": int(plan.reverse),
    }


def _wider_bands(low: Lowered, plan: RowPlan, ring_offset: int) -> list[dict[str, Any]]:
    """Larger bands, largest first (fewer driver and kernel calls, a larger ring): overrides the planner
    takes where the arena does not grow (MemoryPlan.wider_ops). Pointwise layers of the packed CONV_2D
    kernel: WIDE_PIXEL_BANDS pixels whose bands all hold a multiple of four pixels or at least four;
    other layers of the packed CONV_2D kernel: WIDE_ROW_BANDS rows. None for the depthwise kernels (their
    planes form, or the direct kernel at the arena peak)."""
    if low.template != "ops/conv2d_packed.j2":
        return []
    g = plan.geometry
    if plan.flat:
        sizes = [b for b in WIDE_PIXEL_BANDS if plan.band < b < g.out_h and (g.out_h % b == 0 or g.out_h % b >= 4)]
    else:
        sizes = [b for b in WIDE_ROW_BANDS if plan.band < b < g.out_h]
    out: list[dict[str, Any]] = []
    for b in sizes:
        wide = plan_rows(g, b, flat=plan.flat)
        if wide is None:
            continue
        out.append({"inplace_rows": _rows_params(wide), "inplace_scratch": ring_offset + wide.ring_bytes})
    return out


def _planes(low: Lowered, band_scratch: int) -> dict[str, Any]:
    """In-place overrides for a stride-1 3x3 depthwise layer of equal input and output shapes and at least
    PLANES_MIN_H rows: the whole-plane kernel (``tm2_depthwise3x3_s8_planes``) on the tensor itself, no bands
    and no ring, faster than the layer's own kernel. Channels go as many at a time (4, 2, 1) as fit in the
    scratch the bands would take; one at a time when none does. {} otherwise."""
    p = low.params
    if low.template != "ops/depthwise3x3_packed.j2" or p["stride_h"] != 1:
        return {}
    if (p["in_h"], p["in_w"]) != (p["out_h"], p["out_w"]) or p["in_c"] != p["out_c"]:
        return {}
    if p["out_h"] < PLANES_MIN_H:  # columns of one group or less: the packed kernel's rows are as good
        return {}
    plane_len, plane_cols = packing.dw3x3_planes_geometry(p)
    plane_ch = 1
    for n in (4, 2):
        if n <= p["in_c"] and packing.dw3x3_planes_scratch_bytes(n, plane_len, plane_cols) <= band_scratch:
            plane_ch = n
            break
    # more channels a time (cheaper transposes, fewer calls) where the plan has the room: the planner tries them
    wider = [
        {"plane_ch": n, "inplace_scratch": packing.dw3x3_planes_scratch_bytes(n, plane_len, plane_cols)}
        for n in (4, 2)
        if plane_ch < n <= p["in_c"]
    ]
    return {
        "inplace_planes": 1,
        "plane_len": plane_len,
        "plane_cols": plane_cols,
        "plane_ch": plane_ch,
        "inplace_scratch": packing.dw3x3_planes_scratch_bytes(plane_ch, plane_len, plane_cols),
        "inplace_ring_offset": 0,
        "inplace_slower": 0,
        "inplace_wider": wider,
    }


def _pointwise(low: Lowered, plan: RowPlan) -> list[dict[str, Any]]:
    """The whole-tensor form of a pointwise layer on the packed CONV_2D kernel's pointwise path (its ``pw<Kp>``
    entries), as the first of its ``inplace_wider`` overrides (so the planner takes it where the arena does not
    grow, after its choices of the other in-place offers): the kernel itself on the tensor, no bands and no ring.
    Safe because every loop that runs such a layer reads a pixel (widening it into the column scratch, or into
    registers) before it writes that pixel's output, never rewrites a pixel it has written, and overwrites only
    input pixels it has read: pixel i's output lies at i * out_c, at or before pixel i's input (i * in_c) when the
    layer does not expand, and the loops then run from the first pixel up (the DSP entries' blocks of four and their
    last pixels one by one; the plain C loop without DSP, whose short last block moves back but stores only its new
    pixels); at or after it when it expands (out_c > in_c), and every loop then runs from the last pixel down (the
    DSP entries' blocks, pixel pairs and single pixels; without DSP the C loop one block of four a call). [] for
    other layers."""
    p = low.params
    if low.template != "ops/conv2d_packed.j2" or not plan.flat or p.get("path") != packing.CONV_PATH_POINTWISE:
        return []
    return [{"inplace_pointwise": 1, "inplace_scratch": _align(low.scratch_bytes), "inplace_ring_offset": 0}]


def _alternative(low: Lowered, plan: RowPlan) -> dict[str, Any]:
    """``{"inplace_alt": overrides}`` for a template with a scratch-free band kernel (ALT_KERNELS), else {}."""
    alt = ALT_KERNELS.get(low.template)
    if alt is None or DIRECT_KERNELS.get(low.template):
        return {}
    return {
        "inplace_alt": {
            "inplace_direct": alt, "inplace_scratch": plan.ring_bytes, "inplace_ring_offset": 0,
            "inplace_slower": 1, "inplace_planes": 0, "inplace_wider": [],
        }
    }


def _slower(low: Lowered, plan: RowPlan, direct: str | None) -> bool:
    """Whether running in place costs speed: a direct kernel, and the packed 3x3 depthwise kernel on one-row
    bands (each band transposes its three input rows again), and the packed CONV_2D kernel computes pixels
    in blocks of four, so bands whose pixel count is not a multiple of four leave lanes idle (kws' first
    layer: 5 pixels a row)."""
    if direct or low.template == "ops/depthwise3x3_packed.j2":
        return True
    pixels = plan.band * (1 if plan.flat else int(low.params["out_w"]))
    return low.template == "ops/conv2d_packed.j2" and pixels % 4 != 0


def without_offer(low: Lowered) -> Lowered:
    """The lowering as it was before :func:`offer_rows`: the kernel's own template, no ``inplace_*`` params
    (what tests and tools that look at one kernel's parameters compare against)."""
    if low.template != WRAPPER_TEMPLATE:
        return low
    params = {k: v for k, v in low.params.items() if not k.startswith("inplace_")}
    return dataclasses.replace(low, template=low.params["inplace_base"], params=params)


def offers_inplace_rows(fn: Callable[[Operator, Graph], Lowered]) -> Callable[[Operator, Graph], Lowered]:
    """Decorator for a convolution lowering: its result goes through :func:`offer_rows`."""

    @functools.wraps(fn)
    def wrapped(op: Operator, graph: Graph) -> Lowered:
        return offer_rows(fn(op, graph))

    return wrapped
