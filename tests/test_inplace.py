"""In-place convolutions: the row-band driver (firmware/kernels/tm2_inplace.c) with every conv kernel, the
ring sizing (tinym2net/ops/inplace.py), the planner's overlap rule and whole models.

Kernel level: the output computed over its own input through the driver equals the out-of-place kernel
and the NumPy reference byte for byte, for random shapes, both band directions, every kernel the driver
runs (reference, packed, int4-free direct depthwise). Planner level: the overlapping offsets, the plan's
live bytes and verify_plan's accept/reject. Model level: host builds with in-place plans bit-exact with
LiteRT, and the arena figures of the MLPerf Tiny models.
"""

from __future__ import annotations

import ctypes
import dataclasses
import random
import re
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import refops_linear as ref
from kernel_lib import KERNELS, build_kernel_lib, make_struct, ptr, ptr_or_null, struct_from_header

from tinym2net import ops  # noqa: F401  (registers the lowerings)
from tinym2net.ir import (
    Activation,
    Conv2DOptions,
    DepthwiseConv2DOptions,
    DType,
    Graph,
    Operator,
    OpKind,
    Padding,
    QuantParams,
    Tensor,
)
from tinym2net.memory_plan import PlanError, plan_graph, verify_plan, with_alternatives
from tinym2net.ops.base import Lowered, lower
from tinym2net.ops.conv import per_channel_multipliers
from tinym2net.ops.inplace import (
    PIXEL_BAND,
    RowGeometry,
    RowPlan,
    conv_rows_plan,
    plan_rows,
    ring_bands_needed,
)
from tinym2net.planner import Buffer, solve

SENTINEL = 0x5A
GUARD = 32
SOURCES = [KERNELS / f for f in ("tm2_inplace.c", "tm2_conv.c", "tm2_conv_dsp.c", "tm2_dw_dsp.c", "tm2_dw_s2_dsp.c")]
HEADERS = {
    "tm2_conv_params": "tm2_conv.h",
    "tm2_dwconv_params": "tm2_conv.h",
    "tm2_conv_packed_params": "tm2_conv_dsp.h",
    "tm2_dw3x3_packed_params": "tm2_conv_dsp.h",
}


class Iter(ctypes.Structure):
    _fields_ = [
        ("k", ctypes.c_int32),
        ("bands", ctypes.c_int32),
        ("pend_lo", ctypes.c_int32),
        ("pend_hi", ctypes.c_int32),
        ("data", ctypes.c_void_p),
        ("ring", ctypes.c_void_p),
    ]


class Band(ctypes.Structure):
    _fields_ = [
        ("input", ctypes.c_void_p),
        ("in_h", ctypes.c_int32),
        ("pad_h", ctypes.c_int32),
        ("out_h", ctypes.c_int32),
        ("output", ctypes.c_void_p),
    ]


@pytest.fixture(scope="session")
def lib(tmp_path_factory):
    if shutil.which("gcc") is None and shutil.which("cc") is None:
        pytest.skip("host C compiler (gcc) not installed")
    return build_kernel_lib(tmp_path_factory.mktemp("inplace_kernels"), SOURCES)


# ---------------------------------------------------------------------------------------- cases


def _q(scales, axis: int = 0) -> QuantParams:
    s = tuple(float(np.float32(v)) for v in np.atleast_1d(scales))
    return QuantParams(s, (0,) * len(s), axis)


def conv_case(rng: np.random.Generator, kind: OpKind, *, pointwise: bool = False):
    """A random batch-1 CONV_2D / DEPTHWISE_CONV_2D: (graph, op, x, w, b, expected output from NumPy)."""
    while True:
        in_h, in_w = (int(v) for v in rng.integers(1, 11, 2))
        kh, kw = (1, 1) if pointwise else (int(v) for v in rng.integers(1, 5, 2))
        sh, sw = (1, 1) if pointwise else (int(v) for v in rng.integers(1, 4, 2))
        dh, dw = (1, 1) if pointwise or rng.random() < 0.7 else (int(v) for v in rng.integers(1, 3, 2))
        padding = Padding.SAME if pointwise or rng.random() < 0.6 else Padding.VALID
        if kind is OpKind.DEPTHWISE_CONV_2D and rng.random() < 0.5:  # the packed 3x3 kernel's shapes
            kh = kw = 3
            sh = sw = int(rng.integers(1, 3))
            dh = dw = 1
        same = padding is Padding.SAME
        oh, ph = ref.out_size_and_pad(same, in_h, kh, sh, dh)
        ow, pw = ref.out_size_and_pad(same, in_w, kw, sw, dw)
        if oh >= 1 and ow >= 1:
            break
    cin = int(rng.integers(1, 13))
    if kind is OpKind.DEPTHWISE_CONV_2D:
        dm = 1 if rng.random() < 0.7 else 2
        cout = cin * dm
        w = rng.integers(-127, 128, (1, kh, kw, cout)).astype(np.int8)
        axis = 3
    else:
        cout = int(rng.integers(1, 17))
        w = rng.integers(-127, 128, (cout, kh, kw, cin)).astype(np.int8)
        axis = 0
    in_scale, out_scale = np.float32(0.02), np.float32(10 ** rng.uniform(-0.3, 0.8))
    f_scales = np.float32(10 ** rng.uniform(-3, -2, cout))
    in_zp, out_zp = (int(v) for v in rng.integers(-128, 128, 2))
    x = rng.integers(-128, 128, (1, in_h, in_w, cin)).astype(np.int8)
    b = rng.integers(-3000, 3000, cout).astype(np.int32) if rng.random() < 0.8 else None
    act = [Activation.NONE, Activation.RELU, Activation.RELU6][int(rng.integers(3))]
    tensors = [
        Tensor(0, "x", x.shape, DType.INT8, QuantParams((float(in_scale),), (in_zp,))),
        Tensor(1, "w", w.shape, DType.INT8, _q(f_scales, axis), w),
        Tensor(2, "b", (cout,), DType.INT32, _q(1.0), b if b is not None else np.zeros(cout, np.int32)),
        Tensor(3, "y", (1, oh, ow, cout), DType.INT8, QuantParams((float(out_scale),), (out_zp,))),
    ]
    if kind is OpKind.DEPTHWISE_CONV_2D:
        opts = DepthwiseConv2DOptions(padding, sh, sw, cout // cin, dh, dw, act)
    else:
        opts = Conv2DOptions(padding, sh, sw, dh, dw, act)
    op = Operator(0, kind, (0, 1, 2 if b is not None else -1), (3,), opts)
    g = Graph("case", tensors, [op], [0], [3])
    low = lower(op, g)
    p = low.params
    mult, shift = per_channel_multipliers(float(in_scale), tuple(float(s) for s in f_scales), float(out_scale), cout)
    common = dict(
        out_hw=(oh, ow), stride=(sh, sw), dilation=(dh, dw), pad=(ph, pw), input_offset=-in_zp,
        output_offset=out_zp, act_min=p["act_min"], act_max=p["act_max"],
    )
    if kind is OpKind.DEPTHWISE_CONV_2D:
        expected = ref.depthwise_conv2d(x, w, b, mult, shift, depth_multiplier=cout // cin, **common)
    else:
        expected = ref.conv2d(x, w, b, mult, shift, **common)
    return g, op, low, x, w, b, (mult, shift), expected


def _struct(ctype: str, params: dict) -> ctypes.Structure:
    cls = struct_from_header(KERNELS / HEADERS[ctype], ctype)
    names = {f for f, _ in cls._fields_}
    # the dw3x3 struct's names; its plane fields are 0 unless the whole-plane in-place kernel is offered
    values = {"plane_len": 0, "plane_cols": 0, "plane_ch": 0, **params, "channels": params["in_c"],
              "stride": params["stride_h"]}
    return make_struct(cls, {k: v for k, v in values.items() if k in names})


def _consts(low: Lowered) -> dict[str, np.ndarray]:
    return {c.role: np.ascontiguousarray(c.values) for c in low.consts}


class Kernel:
    """Calls one conv kernel the way its template does: (params struct, input, output) -> None."""

    def __init__(self, lib, low: Lowered, w, b, mult_shift, *, reference: bool, direct: bool = False):
        self.lib, self.low, self.direct = lib, low, direct
        self.w = np.ascontiguousarray(w)
        self.b = None if b is None else np.ascontiguousarray(b, np.int32)
        self.c = _consts(low)
        base = low.params.get("inplace_base", low.template)
        self.reference = reference
        if reference:
            self.ctype = "tm2_dwconv_params" if "depth_multiplier" in low.params else "tm2_conv_params"
            self.mult = np.ascontiguousarray(mult_shift[0], np.int32)
            self.shift = np.ascontiguousarray(mult_shift[1], np.int32)
        else:
            self.ctype = {"ops/conv2d_packed.j2": "tm2_conv_packed_params",
                          "ops/depthwise3x3_packed.j2": "tm2_dw3x3_packed_params"}[base]
        self.base = base
        self.scratch = np.zeros(max(16, low.scratch_bytes) + GUARD, np.int8)

    def params(self) -> ctypes.Structure:
        return _struct(self.ctype, self.low.params)

    def __call__(self, p: ctypes.Structure, x, out) -> None:
        lib, bias = self.lib, ptr_or_null(self.b)
        if self.reference:
            fn = lib.tm2_depthwise_conv2d_s8 if self.ctype == "tm2_dwconv_params" else lib.tm2_conv2d_s8
            fn(ctypes.byref(p), x, ptr(self.w), bias, ptr(self.mult), ptr(self.shift), out)
        elif self.base == "ops/conv2d_packed.j2":
            lib.tm2_conv2d_s8_packed(ctypes.byref(p), x, ptr(self.c["packed"]), ptr(self.scratch), out)
        elif self.direct:
            lib.tm2_depthwise3x3_s8_direct(ctypes.byref(p), x, ptr(self.c["weights"]), bias, ptr(self.c["rq"]), out)
        else:
            lib.tm2_depthwise3x3_s8_packed(ctypes.byref(p), x, ptr(self.c["weights"]), bias, ptr(self.c["rq"]),
                                           ptr(self.scratch), out)


def run_out_of_place(kernel: Kernel, x: np.ndarray, out_bytes: int) -> np.ndarray:
    out = np.full(out_bytes + GUARD, SENTINEL, np.int8)
    xin = np.ascontiguousarray(x).reshape(-1)
    kernel(kernel.params(), ctypes.c_void_p(xin.ctypes.data), ctypes.c_void_p(out.ctypes.data))
    assert np.all(out[out_bytes:] == SENTINEL)
    return out[:out_bytes]


def run_in_place(lib, kernel: Kernel, plan: RowPlan, x: np.ndarray, out_bytes: int, ring_bands: int | None = None,
                 where: set | None = None):
    """The generated code's band loop, driven from Python: returns (output bytes, kernel calls). ``where``
    collects where bands wrote: "ring", or "tensor" (output clear of every input row still to be read)."""
    g = plan.geometry
    rb = plan.ring_bands if ring_bands is None else ring_bands
    in_bytes = x.size
    data = np.full(max(in_bytes, out_bytes) + GUARD, SENTINEL, np.int8)
    data[:in_bytes] = x.reshape(-1)
    ring = np.full(rb * plan.band * g.out_row + GUARD, SENTINEL, np.int8)
    rows = _rows_struct(plan, rb)
    it, band = Iter(), Band()
    lib.tm2_inplace_rows_begin(ctypes.byref(rows), ctypes.byref(it), ptr(data), ptr(ring))
    p = kernel.params()
    if plan.flat:
        p.in_w = p.out_w = 1
    calls = 0
    while lib.tm2_inplace_rows_next(ctypes.byref(rows), ctypes.byref(it), ctypes.byref(band)):
        p.in_h, p.pad_h, p.out_h = band.in_h, band.pad_h, band.out_h
        kernel(p, ctypes.c_void_p(band.input), ctypes.c_void_p(band.output))
        calls += 1
        if where is not None:
            where.add("tensor" if data.ctypes.data <= band.output < data.ctypes.data + data.size else "ring")
    assert np.all(data[max(in_bytes, out_bytes) :] == SENTINEL), "wrote past the tensor"
    assert np.all(ring[rb * plan.band * g.out_row :] == SENTINEL), "wrote past the ring"
    return data[:out_bytes].copy(), calls


def _rows_struct(plan: RowPlan, ring_bands: int) -> ctypes.Structure:
    g = plan.geometry
    cls = struct_from_header(KERNELS / "tm2_inplace.h", "tm2_inplace_rows")
    return make_struct(
        cls,
        dict(in_h=g.in_h, in_row=g.in_row, out_h=g.out_h, out_row=g.out_row, stride=g.stride, pad=g.pad,
             span=g.span, band=plan.band, ring_bands=ring_bands, reverse=int(plan.reverse)),
    )


def _plans(low: Lowered) -> list[RowPlan]:
    """The chosen plan and the other direction when it works (so both orders are exercised)."""
    chosen = conv_rows_plan(low.params)
    assert chosen is not None
    out = [chosen]
    other = ring_bands_needed(chosen.geometry, chosen.band, not chosen.reverse)
    if other is not None:
        out.append(RowPlan(chosen.geometry, chosen.band, other, not chosen.reverse, chosen.flat))
    for over in low.params.get("inplace_wider") or ():  # the larger bands the planner may take
        if "inplace_rows" in over:
            r = over["inplace_rows"]
            assert RowGeometry(*(r[k] for k in ("in_h", "in_row", "out_h", "out_row", "stride", "pad", "span"))) == (
                chosen.geometry
            )
            out.append(RowPlan(chosen.geometry, r["band"], r["ring_bands"], bool(r["reverse"]), chosen.flat))
    return out


# ------------------------------------------------------------------------------------ kernel level


@pytest.mark.parametrize(
    "kind,pointwise",
    [(OpKind.CONV_2D, False), (OpKind.CONV_2D, True), (OpKind.DEPTHWISE_CONV_2D, False)],
    ids=["conv", "pointwise", "depthwise"],
)
def test_in_place_bands_equal_the_out_of_place_kernel(lib, kind, pointwise):
    rng = np.random.default_rng(17 + int(pointwise) + 5 * (kind is OpKind.DEPTHWISE_CONV_2D))
    directions = set()
    planes = 0
    bands = set()
    where = set()
    for _ in range(60):
        g, op, low, x, w, b, ms, expected = conv_case(rng, kind, pointwise=pointwise)
        want = expected.reshape(-1).view(np.int8)
        kernels = [Kernel(lib, low, w, b, ms, reference=True)]
        base = low.params.get("inplace_base", low.template)
        if base in ("ops/conv2d_packed.j2", "ops/depthwise3x3_packed.j2"):
            kernels.append(Kernel(lib, low, w, b, ms, reference=False))
        if base == "ops/depthwise3x3_packed.j2":
            kernels.append(Kernel(lib, low, w, b, ms, reference=False, direct=True))
        for kern in kernels:
            np.testing.assert_array_equal(run_out_of_place(kern, x, want.size), want)
            for plan in _plans(low):
                got, calls = run_in_place(lib, kern, plan, x, want.size, where=where)
                np.testing.assert_array_equal(got, want, err_msg=f"{op.kind.value} {low.params} {plan}")
                assert calls == -(-plan.geometry.out_h // plan.band)
                directions.add(plan.reverse)
                bands.add(plan.band > _plans(low)[0].band)
        if low.params.get("inplace_planes"):  # stride 1, equal shapes: whole planes over the tensor itself
            planes += 1
            data = np.full(want.size + GUARD, SENTINEL, np.int8)
            data[: want.size] = x.reshape(-1)
            scratch = np.full(int(low.params["inplace_scratch"]) + GUARD, SENTINEL, np.int8)
            c = _consts(low)
            lib.tm2_depthwise3x3_s8_planes(
                ctypes.byref(_struct("tm2_dw3x3_packed_params", low.params)), ptr(data), ptr(c["weights"]),
                ptr_or_null(None if b is None else np.ascontiguousarray(b, np.int32)), ptr(c["rq"]), ptr(scratch),
                ptr(data),
            )
            np.testing.assert_array_equal(data[: want.size], want, err_msg=f"planes {low.params}")
            assert np.all(data[want.size :] == SENTINEL) and np.all(scratch[-GUARD:] == SENTINEL)
    assert directions == {False, True}
    assert kind is not OpKind.DEPTHWISE_CONV_2D or planes >= 2
    assert bands == ({False} if kind is OpKind.DEPTHWISE_CONV_2D else {False, True})  # wider bands: CONV_2D only
    assert where == {"ring", "tensor"}  # bands through the ring, and bands written straight to the tensor


def test_expanding_pointwise_runs_bottom_up_with_one_band_of_ring():
    """8 -> 16 channels over 48 x 48 pixels (vww's second pointwise layer): top-down would hold every row."""
    g = RowGeometry(48 * 48, 8, 48 * 48, 16, 1, 0, 1)
    plan = plan_rows(g, 8, flat=True)
    assert plan is not None and plan.reverse and plan.ring_bands == 1 and plan.ring_bytes == 8 * 16
    # top-down, output pixel q lands on input pixels 2q, 2q+1: it waits until those are read, so the ring
    # holds half of all the bands
    assert ring_bands_needed(g, 8, reverse=False) > 48 * 48 // 8 // 2


def test_same_size_3x3_keeps_two_rows_and_stride_2_one():
    same = RowGeometry(32, 32 * 16, 32, 32 * 16, 1, 1, 3)  # resnet's 3x3 stride-1 convolutions
    assert ring_bands_needed(same, 1, reverse=False) == 2
    down = RowGeometry(48, 48 * 16, 24, 24 * 16, 2, 0, 3)  # vww's stride-2 depthwise
    assert plan_rows(down).ring_bands == 1 and not plan_rows(down).reverse


def test_a_ring_one_band_short_corrupts_the_output(lib):
    """The ring size is not slack: one band fewer and pending rows are overwritten before they are stored."""
    rng = np.random.default_rng(3)
    broken = 0
    for _ in range(40):
        g, op, low, x, w, b, ms, expected = conv_case(rng, OpKind.CONV_2D)
        plan = conv_rows_plan(low.params)
        if plan.ring_bands < 2:
            continue
        kern = Kernel(lib, low, w, b, ms, reference=True)
        got, _ = run_in_place(lib, kern, plan, x, expected.size, ring_bands=plan.ring_bands - 1)
        broken += int(not np.array_equal(got, expected.reshape(-1).view(np.int8)))
        if broken >= 3:
            break
    assert broken >= 3


def test_bands_that_read_no_input_row_are_refused():
    assert ring_bands_needed(RowGeometry(2, 4, 4, 4, 1, 3, 1), 1, reverse=False) is None  # rows in the padding
    assert plan_rows(RowGeometry(0, 4, 1, 4, 1, 0, 1)) is None


# ----------------------------------------------------------------------------------- planner level


def _tie_collisions(buffers: list[Buffer], offsets: list[int], ties: list[list[int]]) -> list[str]:
    """Independent check: tied buffers share an offset; buffers alive together use disjoint bytes."""
    bad = [f"tie {t}" for t in ties if len({offsets[i] for i in t}) != 1]
    for i, a in enumerate(buffers):
        for j in range(i + 1, len(buffers)):
            b = buffers[j]
            if a.last < b.first or b.last < a.first:
                continue
            if offsets[i] < offsets[j] + b.size and offsets[j] < offsets[i] + a.size:
                bad.append(f"{i}/{j}")
    return bad


def _brute_force_tied(buffers: list[Buffer], ties: list[list[int]], align: int = 16) -> int:
    """Smallest arena by exhaustive search: heights from 0 up, every grid offset of every item (a tie is
    one item), depth first with the collisions of the items placed so far checked at each level."""
    tied = {i for t in ties for i in t}
    items = [list(t) for t in ties] + [[i] for i in range(len(buffers)) if i not in tied]
    offs = [-1] * len(buffers)

    def fits(k: int, height: int) -> bool:
        if k == len(items):
            return True
        top = max(buffers[i].size for i in items[k])
        for o in range(0, height - top + 1, align):
            for i in items[k]:
                offs[i] = o
            placed = [i for i in range(len(buffers)) if offs[i] >= 0]
            sub = [buffers[i] for i in placed]
            if not _tie_collisions(sub, [offs[i] for i in placed], []) and fits(k + 1, height):
                return True
        for i in items[k]:
            offs[i] = -1
        return False

    height = 0
    while not fits(0, height):
        height += align
    return height


def test_tied_buffers_share_one_offset_and_shrink_the_arena():
    # an in-place chain: 64 B at steps 0-1, 128 B at step 2 (the convolution's max(in, out)), 32 B after;
    # a 96 B buffer lives through all of it
    chain = [Buffer(64, 0, 1), Buffer(128, 2, 2), Buffer(32, 3, 4)]
    other = Buffer(96, 0, 4)
    res = solve(chain + [other], ties=[[0, 1, 2]])
    assert len(set(res.offsets[:3])) == 1
    assert not _tie_collisions(chain + [other], list(res.offsets), [[0, 1, 2]])
    assert res.arena == res.lower_bound == 128 + 96 and res.optimal
    untied = solve(chain + [other])
    assert untied.arena == res.arena  # ties cost nothing here ...
    assert res.offsets[0] == res.offsets[1]  # ... and are kept


def test_tied_buffers_must_not_coexist():
    with pytest.raises(ValueError, match="common step"):
        solve([Buffer(16, 0, 2), Buffer(16, 2, 3)], ties=[[0, 1]])
    with pytest.raises(ValueError, match="tied twice"):
        solve([Buffer(16, 0, 0), Buffer(16, 1, 1)], ties=[[0, 1], [1]])


def test_search_with_ties_matches_brute_force():
    rng = random.Random(11)
    for _ in range(25):
        buffers, ties = [], []
        for _ in range(rng.randint(1, 2)):  # chains of two or three parts
            start = rng.randint(0, 3)
            group = []
            for _ in range(rng.randint(2, 3)):
                length = rng.randint(0, 2)
                group.append(len(buffers))
                buffers.append(Buffer(16 * rng.randint(1, 4), start, start + length))
                start += length + 1
            ties.append(group)
        for _ in range(rng.randint(1, 3)):
            f = rng.randint(0, 6)
            buffers.append(Buffer(16 * rng.randint(1, 4), f, f + rng.randint(0, 3)))
        want = _brute_force_tied(buffers, ties)
        for search_only in (False, True):
            res = solve(buffers, ties=ties, search_only=search_only)
            assert not _tie_collisions(buffers, list(res.offsets), ties)
            assert res.arena == want, (buffers, ties, res)


# ------------------------------------------------------------------------------ memory plan level


def _act(i: int, n: int) -> Tensor:
    return Tensor(i, f"t{i}", (1, 1, 1, n), DType.INT8)


def conv_chain(sizes: list[int], extra_read: bool = False) -> Graph:
    """in -> op0 -> t1 -> op1 -> t2 ... with activation sizes ``sizes`` (one input each); optionally a final
    ADD re-reads t1, so op1 cannot overwrite it."""
    tensors = [_act(i, n) for i, n in enumerate(sizes)]
    ops_ = [Operator(i, OpKind.CONV_2D, (i,), (i + 1,)) for i in range(len(sizes) - 1)]
    outputs = [len(sizes) - 1]
    if extra_read:
        tensors.append(_act(len(sizes), sizes[-1]))
        ops_.append(Operator(len(ops_), OpKind.ADD, (len(sizes) - 1, 1), (len(sizes),)))
        outputs = [len(sizes)]
    return Graph("chain", tensors, ops_, [0], outputs)


def offer(scratch: int = 48, base_scratch: int = 0, slower: bool = False) -> Lowered:
    return Lowered(
        "ops/inplace_rows.j2",
        {"inplace_conv": "rows", "inplace_scratch": scratch, "inplace_slower": int(slower)},
        scratch_bytes=base_scratch,
    )


def lowered_for(g: Graph, **per_op: Lowered) -> dict[int, Lowered]:
    low = {op.index: Lowered("ops/none.j2", {}) for op in g.operators}
    low.update({int(k[2:]): v for k, v in per_op.items()})
    return low


def test_in_place_convolution_overlays_its_input_with_max_bytes():
    g = conv_chain([256, 512, 1024, 128])  # op1 expands 512 -> 1024, op2 contracts 1024 -> 128
    low = lowered_for(g, op1=offer(48), op2=offer(32))
    plan = plan_graph(g, low, inplace="all")
    assert plan.inplace_ops == plan.overlap_ops == {1, 2}
    assert plan.offsets[1] == plan.offsets[2] == plan.offsets[3]
    assert plan.shared == {2: 1, 3: 2}
    # step 0: 256 + 512; step 1: max(512, 1024) + 48 scratch; step 2: max(1024, 128) + 32
    assert plan.live_bytes == (768, 1024 + 48, 1024 + 32)
    assert plan.scratch[1][1] == 48 and plan.scratch[2][1] == 32
    assert plan.arena_bytes == plan.lower_bound == 1072
    apart = plan_graph(g, lowered_for(g))
    assert apart.arena_bytes == 512 + 1024 and not apart.inplace_ops
    verify_plan(g, plan, low)


def test_in_place_is_not_taken_when_the_ring_costs_more_than_it_saves():
    g = conv_chain([256, 64, 64])
    plan = plan_graph(g, lowered_for(g, op1=offer(96)), inplace="all")  # saves 64, costs 96
    assert not plan.inplace_ops and plan.live_bytes[1] == 128


def test_in_place_is_refused_while_the_input_is_read_later():
    g = conv_chain([64, 512, 512], extra_read=True)
    plan = plan_graph(g, lowered_for(g, op1=offer()), inplace="all")
    assert 1 not in plan.inplace_ops and plan.offsets[1] != plan.offsets[2]


def test_policies_needed_drops_slower_kernels_that_do_not_lower_the_arena():
    # op1 sits at the peak (in place it saves 512 B); op2's tensors are small, its overlap buys nothing
    g = conv_chain([64, 512, 512, 64, 64])
    low = lowered_for(g, op1=offer(32, slower=True), op2=offer(16, slower=True), op3=offer(16, slower=True))
    all_ = plan_graph(g, low, inplace="all")
    needed = plan_graph(g, low)
    none = plan_graph(g, low, inplace="none")
    assert {1, 2, 3} <= all_.overlap_ops
    assert needed.overlap_ops == {1} and needed.arena_bytes == all_.arena_bytes
    assert not none.overlap_ops and none.arena_bytes == 512 + 512 > needed.arena_bytes
    with pytest.raises(ValueError, match="inplace must be"):
        plan_graph(g, low, inplace="maybe")


def test_verifier_accepts_the_overlap_only_as_declared():
    g = conv_chain([256, 512, 1024, 128])
    low = lowered_for(g, op1=offer(48), op2=offer(32))
    plan = plan_graph(g, low, inplace="all")
    verify_plan(g, plan, low)
    verify_plan(g, plan)  # the plan's own record of the overlap suffices without the lowerings
    cases = [
        (replace(plan, overlap_ops=frozenset({2})), None, "different offset or size"),
        (replace(plan, offsets={**plan.offsets, 3: plan.offsets[3] + 16}), None, "different offset"),
        (replace(plan, scratch={**plan.scratch, 1: (plan.scratch[1][0], 32)}), low, "needs 48"),
        (plan, lowered_for(g, op2=offer(32)), "offers no in-place convolution"),
        (replace(plan, shared={3: 2}, inplace_ops=frozenset({2}), overlap_ops=frozenset({2})), None,
         "alive together and overlap"),
        (replace(plan, overlap_ops=frozenset({0, 1, 2})), None, "not in place"),
    ]
    for bad, lw, why in cases:
        with pytest.raises(PlanError, match=why):
            verify_plan(g, bad, lw)


def test_verifier_rejects_an_overlap_over_an_input_still_needed():
    g = conv_chain([64, 512, 512], extra_read=True)
    low = lowered_for(g, op1=offer())
    plan = plan_graph(g, low, inplace="all")
    forged = replace(
        plan,
        offsets={**plan.offsets, 2: plan.offsets[1]},
        shared={2: 1},
        inplace_ops=frozenset({1}),
        overlap_ops=frozenset({1}),
        scratch={**plan.scratch, 1: (plan.scratch.get(1, (0, 0))[0], 48)},
    )
    with pytest.raises(PlanError, match="still needed"):
        verify_plan(g, forged, low)


# ------------------------------------------------------------------------------------- model level

# issue 4's "done when": at most half of TFLite Micro's arena (kws 24,272, vww 103,680, ad01 4,640) and
# below the op-by-op bound of 49,152 B on ResNet-8
ARENA_LIMITS = {
    "kws_ref_model": 24_272 // 2,
    "vww_96_int8": 103_680 // 2,
    "pretrainedResnet_quant": 49_152 - 1,
    "ad01_int8": 4_640 // 2,
}


def _compiled(model: bytes, name: str, policy: str):
    from tinym2net.compiler import Compiled
    from tinym2net.importer import parse_tflite

    graph = parse_tflite(model, name=name)
    lowered = {op.index: lower(op, graph) for op in graph.operators}
    plan = plan_graph(graph, lowered, inplace=policy)
    return Compiled(graph, with_alternatives(lowered, plan), plan, "0" * 64)


def _op_by_op_bound(g: Graph) -> int:
    return max(
        sum(g.tensor(t).nbytes for t in {t for t in op.inputs + op.outputs if t >= 0 and not g.tensor(t).is_const})
        for op in g.operators
    )


@pytest.mark.parametrize("name", list(ARENA_LIMITS))
def test_mlperf_arenas_meet_the_issue_targets(name):
    from conftest import mlperf_path

    model = mlperf_path(name).read_bytes()
    c = _compiled(model, name, "needed")
    assert c.plan.arena_bytes <= ARENA_LIMITS[name]
    assert c.plan.arena_bytes == c.plan.lower_bound  # no fragmentation: the plan meets its own peak
    if name != "ad01_int8":  # the FC autoencoder has nothing to overlap
        assert c.plan.overlap_ops and c.plan.arena_bytes < _op_by_op_bound(c.graph)
    none = _compiled(model, name, "none").plan
    assert c.plan.arena_bytes <= none.arena_bytes and not none.overlap_ops


def _host_bit_exact(model: bytes, name: str, tmp: Path, n: int) -> tuple[int, int, int]:
    """(bytes differing from LiteRT, bytes compared, ops overlapping) for a host build planned with every offer."""
    from tinym2net.artifact import write_artifact
    from tinym2net.hostrun import build_host_model, run_host_model
    from tinym2net.reference import random_inputs, run_litert
    from tinym2net.verify import compare_outputs

    c = _compiled(model, name, "all")
    write_artifact(c, tmp, model_name=name, board=None)
    text = (tmp / "src" / "model.c").read_text()
    in_place_calls = ("tm2_inplace_rows_next(", "in place: whole channel planes", "in place: the whole tensor")
    assert sum(text.count(t) for t in in_place_calls) == len(c.plan.overlap_ops)
    exe = build_host_model(tmp, tmp / "model_host")
    samples = random_inputs(c.graph, n, seed=5)
    want = run_litert(model, c.graph, samples)
    return compare_outputs(run_host_model(exe, c.graph, samples), want), sum(a.nbytes for s in want for a in s), len(
        c.plan.overlap_ops
    )


@pytest.mark.parametrize("name", ["kws_ref_model", "vww_96_int8", "pretrainedResnet_quant"])
def test_mlperf_host_builds_with_every_overlap_are_bit_exact(name, tmp_path):
    from conftest import mlperf_path

    bad, total, overlaps = _host_bit_exact(mlperf_path(name).read_bytes(), name, tmp_path, n=6)
    assert total > 0 and overlaps >= 5
    assert bad == 0


@pytest.mark.parametrize("name", ["conv_stack", "elementwise", "tri_modal"])
def test_zoo_host_builds_with_every_overlap_are_bit_exact(name, zoo_dir, tmp_path):
    """Strided, VALID and dilated convolutions, depth multiplier 2; ADD / MUL over a same-shaped input;
    three modality branches (the other zoo models run in place too, with the default policy, in test_spine)."""
    bad, total, overlaps = _host_bit_exact((zoo_dir / f"{name}.tflite").read_bytes(), name, tmp_path, n=8)
    assert total > 0 and overlaps >= 1
    assert bad == 0


def test_int4_kws_runs_in_place_through_the_int4_kernels(tmp_path):
    """The band loop drives whatever kernel the lowering picked: here the packed-int4 ones."""
    from conftest import mlperf_path

    from tinym2net.int4 import requantize_tflite_int4

    model = requantize_tflite_int4(mlperf_path("kws_ref_model").read_bytes(), name="kws")
    bad, total, overlaps = _host_bit_exact(model, "kws_int4", tmp_path, n=6)
    assert total > 0 and overlaps == 9
    assert bad == 0
    c = _compiled(model, "kws_int4", "needed")
    assert {c.lowered[i].params["inplace_base"] for i in c.plan.overlap_ops} == {
        "ops/conv2d_s4.j2",
        "ops/depthwise_conv2d_s4.j2",
    }
    assert c.plan.arena_bytes <= ARENA_LIMITS["kws_ref_model"]


@pytest.mark.emulator
def test_vww_with_every_overlap_is_bit_exact_in_the_emulator(tmp_path):
    """Cortex-M4 build (the SIMD paths of the packed depthwise kernel on one-row bands and of the direct kernel
    where the plan takes that scratch-free alternative; 8 to 256 channels, strides 1 and 2, rows 48 to 3
    wide) with every convolution in place, against LiteRT."""
    from conftest import mlperf_path, require_cross_tools

    from tinym2net.artifact import write_artifact
    from tinym2net.boards import load_board
    from tinym2net.project import generate_project
    from tinym2net.reference import pack_samples, random_inputs, run_litert, unpack_outputs
    from tinym2net.toolchain import pio_build, run_qemu
    from tinym2net.verify import compare_outputs

    require_cross_tools()
    board = load_board("nano33")
    model = mlperf_path("vww_96_int8").read_bytes()
    c = _compiled(model, "vww", "all")
    dw = [i for i in c.plan.overlap_ops if c.lowered[i].params["inplace_base"] == "ops/depthwise3x3_packed.j2"]
    kernels = {c.lowered[i].params["inplace_direct"] for i in dw}
    assert len(dw) >= 10 and kernels == {"", "tm2_depthwise3x3_s8_direct"}  # packed bands and the alternative
    write_artifact(c, tmp_path / "artifact", model_name="vww", board=board.name)
    project = generate_project(tmp_path / "artifact", board, tmp_path / "project")
    build = pio_build(project, env="emulator")
    samples = random_inputs(c.graph, 3, seed=9)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "tm2_in.bin").write_bytes(pack_samples(samples))
    res = run_qemu(build.elf, board, run_dir, 300)
    assert res.returncode == 0, res.stderr[-2000:]
    got = unpack_outputs((run_dir / "tm2_out.bin").read_bytes(), c.graph, len(samples))
    assert compare_outputs(got, run_litert(model, c.graph, samples)) == 0


def test_offers_are_marked_slower_only_where_the_kernel_loses_speed():
    """Depthwise bands (one row each: the rows are transposed again per band) and packed-conv bands of a
    pixel count that is not a multiple of four are 'slower'; pointwise bands of 8 pixels and 32-wide rows
    are not. without_offer restores the lowering."""
    from conftest import mlperf_path

    from tinym2net.importer import parse_tflite
    from tinym2net.ops.inplace import without_offer

    kws = parse_tflite(mlperf_path("kws_ref_model").read_bytes(), name="kws")
    low = {op.index: lower(op, kws) for op in kws.operators}
    slower = {i for i, lw in low.items() if lw.params.get("inplace_slower")}
    # the 25x5 first conv; the four 3x3 depthwise layers run in place on whole channel planes, faster
    assert slower == {0}
    assert all(low[i].params["inplace_planes"] and low[i].params["plane_ch"] == 2 for i in (1, 3, 5, 7))
    plan = plan_graph(kws, low)
    assert 0 not in plan.overlap_ops and {1, 3, 5, 7} <= plan.overlap_ops
    base = without_offer(low[2])
    assert base.template == "ops/conv2d_packed.j2" and not any(k.startswith("inplace_") for k in base.params)
    assert without_offer(base) is base


def test_scratch_free_alternative_is_taken_only_where_it_lowers_the_arena():
    """The packed depthwise kernel's bands need a quad of transposed rows as scratch; where that raises the
    arena (vww's 48-wide stride-2 layer at the peak) the plan runs the direct kernel instead, and only there."""
    from conftest import mlperf_path

    from tinym2net.compiler import compile_graph
    from tinym2net.importer import parse_tflite

    model = mlperf_path("vww_96_int8").read_bytes()
    c = compile_graph(parse_tflite(model, name="vww"), model)
    assert c.plan.alt_ops and c.plan.alt_ops <= c.plan.overlap_ops
    for i in c.plan.overlap_ops:
        params = c.lowered[i].params
        assert "inplace_alt" not in params or i not in c.plan.alt_ops
        if i in c.plan.alt_ops:
            assert params["inplace_direct"] == "tm2_depthwise3x3_s8_direct" and params["inplace_ring_offset"] == 0
    graph = parse_tflite(model, name="vww")
    lowered = {op.index: lower(op, graph) for op in graph.operators}
    without = {k: dataclasses.replace(v, params={p: x for p, x in v.params.items() if p != "inplace_alt"})
               for k, v in lowered.items()}
    assert plan_graph(graph, without).arena_bytes > c.plan.arena_bytes


def test_wider_plane_kernels_are_taken_only_where_the_arena_allows():
    """The whole-plane depthwise kernel runs in place with as many channels a time as the band scratch allows;
    the plan widens it (params["inplace_wider"]) where the arena does not grow: vww's 48-wide (8 channels)
    and 24-wide layers, not kws' four layers, which sit at the peak. Out of place, vww's strided and 3 x 3
    layers take the plane kernel four channels a time (params["wider"], more scratch) for the same reason."""
    from conftest import mlperf_path

    from tinym2net.compiler import compile_graph
    from tinym2net.importer import parse_tflite

    def compiled(name):
        model = mlperf_path(name).read_bytes()
        return compile_graph(parse_tflite(model, name=name), model)

    kws = compiled("kws_ref_model")
    # only the whole-tensor form of the four pointwise layers (smaller scratch, no ring: taken wherever in place)
    assert kws.plan.wider_ops == ((2, 0), (4, 0), (6, 0), (8, 0))
    assert all(kws.lowered[i].params["inplace_pointwise"] for i, _ in kws.plan.wider_ops)
    assert {kws.lowered[i].params["plane_ch"] for i in (1, 3, 5, 7)} == {2}
    vww = compiled("vww_96_int8")
    in_place = [(i, k) for i, k in vww.plan.wider_ops if i in vww.plan.overlap_ops]
    out_of_place = [(i, k) for i, k in vww.plan.wider_ops if i not in vww.plan.overlap_ops]
    assert len(in_place) >= 2 and len(out_of_place) >= 3
    planes = [(i, k) for i, k in in_place if vww.lowered[i].params.get("inplace_planes")]
    whole = [(i, k) for i, k in in_place if vww.lowered[i].params.get("inplace_pointwise")]
    bands = [(i, k) for i, k in in_place if (i, k) not in planes + whole]
    assert len(planes) >= 2 and len(bands) >= 1 and len(whole) >= 9
    for i, k in whole:  # pointwise layers: the kernel on the tensor itself
        params = vww.lowered[i].params
        assert k == 0 and params["inplace_ring_offset"] == 0
    # the expanding ones (8 -> 16 at 48 x 48 at the arena peak, 16 -> 32, 32 -> 64, 64 -> 128) too, from the last
    # pixel down
    assert sum(vww.lowered[i].params["out_c"] > vww.lowered[i].params["in_c"] for i, _ in whole) == 4
    for i, k in planes:
        params = vww.lowered[i].params
        assert params["plane_ch"] == params["inplace_wider"][k]["plane_ch"] > 1
        assert params["inplace_scratch"] == params["inplace_wider"][k]["inplace_scratch"]
    for i, k in bands:  # larger row or pixel bands of the packed CONV_2D kernel
        params = vww.lowered[i].params
        assert params["inplace_rows"] == params["inplace_wider"][k]["inplace_rows"]
        assert params["inplace_rows"]["band"] > (1 if not params["inplace_flat"] else PIXEL_BAND)
        assert params["inplace_scratch"] == params["inplace_wider"][k]["inplace_scratch"]
    for i, k in out_of_place:
        low = vww.lowered[i]
        assert low.params["dw_planes"] == 1 and low.params["plane_ch"] == 4
        assert low.scratch_bytes == low.params["wider"][k]["scratch_bytes"]
    graph = parse_tflite(mlperf_path("vww_96_int8").read_bytes(), name="vww")
    lowered = {op.index: lower(op, graph) for op in graph.operators}
    narrow = {k: dataclasses.replace(v, params={**v.params, "inplace_wider": [], "wider": []}) for k, v in lowered.items()}
    assert plan_graph(graph, narrow).arena_bytes == vww.plan.arena_bytes


@pytest.mark.parametrize(
    ("name", "specs", "calls"),
    [("kws_ref_model", {"tm2_dw6_e12_c320_r60_h25_w5_i25_1_320_64_420_g2_rec"}, 4), ("vww_96_int8", None, 8)],
)
def test_plane_layers_instantiate_one_specialised_loop_per_shape(name, specs, calls, tmp_path):
    """The generated code defines TM2_DW_PLANE_SPEC once per distinct set of its constants (every one in the
    name) of its plane layers (a guard each) and passes the descriptor to each of their calls, all of them on
    the entry without the generic loops (tm2_depthwise3x3_s8_planes_whole): kws' four 25 x 5 x 64 layers share
    one loop; vww's stride-1 layers of 48, 24, 12 and 6 rows (the 3 x 3 one takes the three-output loop) one per
    shape and shift. Each in its records form (TM2_DW_PLANE_SPEC_REC, the name's _rec): the call passes the layer's
    records where TM2_DW6_RECORDS, else its packed weights, bias and rq."""
    from conftest import mlperf_path

    from tinym2net.artifact import write_artifact

    c = _compiled(mlperf_path(name).read_bytes(), name, "needed")
    write_artifact(c, tmp_path, model_name=name, board=None)
    text = (tmp_path / "src" / "model.c").read_text()
    # each layer's definition inside the guard of its name: the preprocessor keeps the first of each name
    defined = re.findall(
        r"^#ifndef (\w+)\n#define \1\nTM2_DW_PLANE_SPEC_REC\((\w+), (\d+), (\d+), (\d+), (\d+), (\d+), (\d+), ([01]), (\d+), (\d+), (\d+), (\d+)\)\n#endif$", text, re.M
    )
    assert len(defined) == text.count("TM2_DW_PLANE_SPEC") and all(g == n.upper() for g, n, *_ in defined)
    names = {d[1] for d in defined}
    # (each call twice: on the records where TM2_DW6_RECORDS, else on the packed weights, bias and rq)
    calls_of = re.findall(
        r"^ *#if TM2_DW6_RECORDS\n *tm2_depthwise3x3_s8_planes_whole\(&(\w+)_params, .*, (\w+), NULL, NULL, .*, &(\w+)\);\n"
        r" *#else\n *tm2_depthwise3x3_s8_planes_whole\(&\1_params, [^,]*, (\w+), .*, \(const tm2_rq \*\)\w+, .*, &\3\);\n"
        r" *#endif$", text, re.M
    )
    assert len(calls_of) == calls == text.count("tm2_depthwise3x3_s8_planes_whole(") // 2
    assert all(rec == f"tm2_{op}_dw6rec" and w == f"tm2_{op}_weights" for op, rec, _, w in calls_of)
    assert {n for *_, n, _ in calls_of} == names and "tm2_depthwise3x3_s8_planes_spec(" not in text
    # the name holds every constant of the definition
    for _, n, e, chm, rl2, rows, cols, in_h, head, row, ch, ps, g in defined:
        assert n == f"tm2_dw6_e{e}_c{chm}_r{rl2}_h{rows}_w{cols}_i{in_h}_{head}_{row}_{ch}_{ps}_g{g}_rec"
    if specs is not None:
        assert names == specs
    else:
        assert {int(d[5]) for d in defined} == {48, 24, 12, 6}
