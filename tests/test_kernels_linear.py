"""Ladder tests for the int8 conv / depthwise / FC / pooling / pad kernels.

Rungs, each checked with tolerance 0:
1. LiteRT's reference interpreter (BUILTIN_REF) on real converted models == the NumPy reference
   (``refops_linear``) == the C kernels, with parameters from the tinym2net lowerings;
2. many random seeded cases: the lowering's build-time numbers == numbers computed independently
   by the NumPy side, and the C kernels (host gcc, ctypes) == the NumPy reference;
3. the Jinja templates render C that compiles with the kernel headers and computes the same bytes.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

import numpy as np
import pytest
import refops_linear as ref
from kernel_lib import (
    KERNELS,
    c_array,
    guarded_output,
    kernel_lib_or_skip,
    make_struct,
    ptr,
    ptr_or_null,
    quant,
    random_window,
    render_op,
    run_host_program,
    struct_from_header,
    template_env,
    unguard,
)

from tinym2net.errors import UnsupportedOpError
from tinym2net.ir import (
    Activation,
    Conv2DOptions,
    DepthwiseConv2DOptions,
    DType,
    FullyConnectedOptions,
    Graph,
    NoOptions,
    Operator,
    OpKind,
    Padding,
    Pool2DOptions,
    QuantParams,
    Tensor,
)
from tinym2net.ops import conv as _conv  # noqa: F401  (registers lowerings)
from tinym2net.ops import fc as _fc  # noqa: F401
from tinym2net.ops import packing as _packing
from tinym2net.ops import pad as _pad  # noqa: F401
from tinym2net.ops import pool as _pool  # noqa: F401
from tinym2net.ops.base import Lowered, lower
from tinym2net.ops.inplace import without_offer

SOURCES = [KERNELS / f for f in ("tm2_conv.c", "tm2_fc.c", "tm2_pool.c", "tm2_pad.c")]
STRUCTS = {
    OpKind.CONV_2D: ("tm2_conv.h", "tm2_conv_params"),
    OpKind.DEPTHWISE_CONV_2D: ("tm2_conv.h", "tm2_dwconv_params"),
    OpKind.FULLY_CONNECTED: ("tm2_fc.h", "tm2_fc_params"),
    OpKind.AVERAGE_POOL_2D: ("tm2_pool.h", "tm2_pool_params"),
    OpKind.MAX_POOL_2D: ("tm2_pool.h", "tm2_pool_params"),
    OpKind.PAD: ("tm2_pad.h", "tm2_pad_params"),
}
ACTS = list(Activation)


@pytest.fixture(scope="session")
def lib(tmp_path_factory):
    return kernel_lib_or_skip(tmp_path_factory, "linear_kernels", SOURCES)


# ---------------------------------------------------------------- IR helpers


def _graph(
    kind: OpKind, options, x: Tensor, consts: list[Tensor | None], y: Tensor
) -> tuple[Operator, Graph]:
    """One-op graph: tensor 0 = input, then the constant inputs (None -> omitted), last = output."""
    tensors = [x]
    inputs = [0]
    for c in consts:
        if c is None:
            inputs.append(-1)
        else:
            c.index = len(tensors)
            tensors.append(c)
            inputs.append(c.index)
    y.index = len(tensors)
    tensors.append(y)
    op = Operator(0, kind, tuple(inputs), (y.index,), options)
    return op, Graph("t", tensors, [op], [0], [y.index])


def _act_tensor(shape, scale, zp, index=0) -> Tensor:
    return Tensor(index, "t", tuple(int(d) for d in shape), DType.INT8, quant(scale, zp))


def run_kernel(lib, kind: OpKind, lw: Lowered, x, w=None, b=None, out_shape=()) -> np.ndarray:
    """Call the C kernel for ``kind`` with the lowering's params; checks every output byte is written
    and nothing past the end is touched."""
    header, typedef = STRUCTS[kind]
    params = make_struct(struct_from_header(KERNELS / header, typedef), lw.params)
    size = int(np.prod(out_shape))
    out = guarded_output(size)
    x = np.ascontiguousarray(x, np.int8)
    consts = {c.role: np.ascontiguousarray(c.values, np.int32) for c in lw.consts}
    if kind in (OpKind.CONV_2D, OpKind.DEPTHWISE_CONV_2D, OpKind.FULLY_CONNECTED):
        fn = {
            OpKind.CONV_2D: lib.tm2_conv2d_s8,
            OpKind.DEPTHWISE_CONV_2D: lib.tm2_depthwise_conv2d_s8,
            OpKind.FULLY_CONNECTED: lib.tm2_fully_connected_s8,
        }[kind]
        w = np.ascontiguousarray(w, np.int8)
        b = None if b is None else np.ascontiguousarray(b, np.int32)
        fn(
            ctypes.byref(params),
            ptr(x),
            ptr(w),
            ptr_or_null(b),
            ptr(consts["mult"]),
            ptr(consts["shift"]),
            ptr(out),
        )
    else:
        fn = {
            OpKind.AVERAGE_POOL_2D: lib.tm2_avg_pool2d_s8,
            OpKind.MAX_POOL_2D: lib.tm2_max_pool2d_s8,
            OpKind.PAD: lib.tm2_pad_s8,
        }[kind]
        fn(ctypes.byref(params), ptr(x), ptr(out))
    return unguard(out, size).reshape(out_shape)


# ---------------------------------------------------------------- random cases


@dataclass
class Case:
    """One random operator instance: IR graph + operands + the NumPy reference output."""

    kind: OpKind
    op: Operator
    graph: Graph
    x: np.ndarray
    w: np.ndarray | None
    b: np.ndarray | None
    expected: np.ndarray
    expect_params: dict
    expect_mult: np.ndarray | None = None
    expect_shift: np.ndarray | None = None
    desc: str = ""


def _scales(rng, n):
    return np.float32(10 ** rng.uniform(-3, -1, n))


def _out_scale_for(rng, in_scale, f_scales, taps, tiny):
    """An output scale that spreads outputs over the int8 range (sometimes saturating), or, in
    ``tiny`` mode, one that makes the real multiplier > 1 (positive shifts)."""
    if tiny:
        return np.float32(in_scale * float(np.max(f_scales)) / rng.uniform(1.0, 40.0))
    acc_std = np.sqrt(taps) * 74.0 * 74.0
    return np.float32(in_scale * float(np.mean(f_scales)) * acc_std / 40.0 * 10 ** rng.uniform(-1, 1))


def _rand_x(rng, shape, zp, tiny):
    if tiny:
        return np.clip(zp + rng.integers(-3, 4, shape), -128, 127).astype(np.int8)
    return rng.integers(-128, 128, shape).astype(np.int8)


def _rand_w(rng, shape, tiny):
    return rng.integers(-3 if tiny else -127, 4 if tiny else 128, shape).astype(np.int8)


def _rand_bias(rng, n, taps):
    if rng.random() < 0.2:
        return None
    lim = int(min(2**30, 2 * np.sqrt(taps) * 74 * 74 + 10))
    return rng.integers(-lim, lim + 1, n).astype(np.int32)


def _geometry(rng, dilation: bool):
    dilation_p = 0.5 if dilation else 0.0
    return random_window(rng, in_max=10, k_max=5, stride_max=4, dilation_p=dilation_p, dilation_max=4)


def _conv_ref_args(p: dict) -> dict:
    """The NumPy conv / depthwise reference's geometry and offsets from the kernel's params."""
    return dict(
        out_hw=(p["out_h"], p["out_w"]),
        stride=(p["stride_h"], p["stride_w"]),
        dilation=(p["dilation_h"], p["dilation_w"]),
        pad=(p["pad_h"], p["pad_w"]),
        input_offset=p["input_offset"],
        output_offset=p["output_offset"],
        act_min=p["act_min"],
        act_max=p["act_max"],
    )


def _pool_ref_args(p: dict) -> dict:
    """The NumPy pooling reference's geometry and clamp from the kernel's params."""
    return dict(
        k_hw=(p["filter_h"], p["filter_w"]),
        out_hw=(p["out_h"], p["out_w"]),
        stride=(p["stride_h"], p["stride_w"]),
        pad=(p["pad_h"], p["pad_w"]),
        act_min=p["act_min"],
        act_max=p["act_max"],
    )


def conv_case(rng, depthwise: bool) -> Case:
    in_hw, k_hw, stride, dil, padding, out_hw, pad = _geometry(rng, dilation=True)
    n = 1 if rng.random() < 0.8 else 2
    tiny = rng.random() < 0.15
    act = ACTS[int(rng.integers(len(ACTS)))]
    in_zp, out_zp = (int(v) for v in rng.integers(-128, 128, 2))
    in_scale = np.float32(10 ** rng.uniform(-2.5, -0.5))
    if depthwise:
        cin = int(rng.integers(1, 7))
        dm = int(rng.integers(1, 4))
        cout = cin * dm
        w = _rand_w(rng, (1, *k_hw, cout), tiny)
        taps = k_hw[0] * k_hw[1]
        fin = cin
    else:
        groups = 1 if rng.random() < 0.8 else int(rng.integers(2, 4))
        fin = int(rng.integers(1, 6))
        cin = fin * groups
        cout = groups * int(rng.integers(1, 5))
        w = _rand_w(rng, (cout, *k_hw, fin), tiny)
        taps = k_hw[0] * k_hw[1] * fin
    per_channel = rng.random() < 0.8
    f_scales = _scales(rng, cout if per_channel else 1)
    out_scale = _out_scale_for(rng, in_scale, f_scales, taps, tiny)
    x = _rand_x(rng, (n, *in_hw, cin), in_zp, tiny)
    b = _rand_bias(rng, cout, taps)
    act_min, act_max = ref.activation_range(act.value, out_scale, out_zp)
    mult, shift = ref.conv_multipliers(in_scale, f_scales, out_scale, cout)
    axis = 3 if depthwise else 0
    wt = Tensor(1, "w", w.shape, DType.INT8, quant(f_scales, np.zeros(len(f_scales)), axis), w)
    bt = None if b is None else Tensor(2, "b", b.shape, DType.INT32, quant(1.0, 0), b)
    xt = _act_tensor(x.shape, in_scale, in_zp)
    yt = _act_tensor((n, *out_hw, cout), out_scale, out_zp)
    geo = dict(
        batches=n,
        in_h=in_hw[0],
        in_w=in_hw[1],
        in_c=cin,
        out_h=out_hw[0],
        out_w=out_hw[1],
        out_c=cout,
        filter_h=k_hw[0],
        filter_w=k_hw[1],
        stride_h=stride[0],
        stride_w=stride[1],
        dilation_h=dil[0],
        dilation_w=dil[1],
        pad_h=pad[0],
        pad_w=pad[1],
        input_offset=-in_zp,
        output_offset=out_zp,
        act_min=act_min,
        act_max=act_max,
    )
    if depthwise:
        opts = DepthwiseConv2DOptions(padding, stride[0], stride[1], dm, dil[0], dil[1], act)
        expected = ref.depthwise_conv2d(x, w, b, mult, shift, depth_multiplier=dm, **_conv_ref_args(geo))
        geo["depth_multiplier"] = dm
        kind = OpKind.DEPTHWISE_CONV_2D
    else:
        opts = Conv2DOptions(padding, stride[0], stride[1], dil[0], dil[1], act)
        expected = ref.conv2d(x, w, b, mult, shift, **_conv_ref_args(geo))
        geo["filter_in_c"] = fin
        kind = OpKind.CONV_2D
    op, g = _graph(kind, opts, xt, [wt, bt], yt)
    desc = f"{kind.value} x{x.shape} w{w.shape} s{stride} d{dil} {padding.value} {act.value} tiny={tiny} bias={b is not None}"
    return Case(kind, op, g, x, w, b, expected, geo, mult, shift, desc)


def fc_case(rng) -> Case:
    lead = [int(v) for v in rng.integers(1, 4, int(rng.integers(0, 3)))]
    d = int(rng.integers(1, 70))
    o = int(rng.integers(1, 20))
    tiny = rng.random() < 0.15
    act = ACTS[int(rng.integers(len(ACTS)))]
    in_zp, out_zp = (int(v) for v in rng.integers(-128, 128, 2))
    in_scale = np.float32(10 ** rng.uniform(-2.5, -0.5))
    per_channel = rng.random() < 0.5 and o > 1  # one scale is per-tensor in TFLite too
    f_scales = _scales(rng, o if per_channel else 1)
    out_scale = _out_scale_for(rng, in_scale, f_scales, d, tiny)
    x = _rand_x(rng, (*lead, d) if lead else (1, d), in_zp, tiny)
    w = _rand_w(rng, (o, d), tiny)
    b = _rand_bias(rng, o, d)
    batches = x.size // d
    act_min, act_max = ref.activation_range(act.value, out_scale, out_zp)
    if per_channel:
        mult, shift = ref.conv_multipliers(in_scale, f_scales, out_scale, o)
    else:
        mult, shift = ref.fc_per_tensor_multiplier(in_scale, f_scales[0], out_scale)
    reference = "litert" if rng.random() < 0.5 else "tflm"  # LiteRT rounds once, TFLite Micro twice
    expected = ref.fully_connected(
        x, w, b, mult, shift, input_offset=-in_zp, output_offset=out_zp, act_min=act_min, act_max=act_max,
        single_rounding=reference == "litert",
    )
    wt = Tensor(1, "w", w.shape, DType.INT8, quant(f_scales, np.zeros(len(f_scales))), w)
    bt = None if b is None else Tensor(2, "b", b.shape, DType.INT32, quant(1.0, 0), b)
    xt = _act_tensor(x.shape, in_scale, in_zp)
    yt = _act_tensor((batches, o), out_scale, out_zp)
    op, g = _graph(OpKind.FULLY_CONNECTED, FullyConnectedOptions(act), xt, [wt, bt], yt)
    g.reference = reference
    params = dict(
        batches=batches,
        accum_depth=d,
        out_depth=o,
        input_offset=-in_zp,
        output_offset=out_zp,
        act_min=act_min,
        act_max=act_max,
        per_channel=int(per_channel),
        single_rounding=int(reference == "litert"),
    )
    desc = f"FC x{x.shape} w{w.shape} per_channel={per_channel} {reference} {act.value} tiny={tiny} bias={b is not None}"
    return Case(
        OpKind.FULLY_CONNECTED, op, g, x, w, None if b is None else b, expected, params, mult, shift, desc
    )


def pool_case(rng, kind: OpKind) -> Case:
    in_hw, k_hw, stride, _, padding, out_hw, pad = _geometry(rng, dilation=False)
    n = 1 if rng.random() < 0.8 else 2
    c = int(rng.integers(1, 9))
    act = ACTS[int(rng.integers(len(ACTS)))]
    zp = int(rng.integers(-128, 128))
    scale = np.float32(10 ** rng.uniform(-2, 0))
    x = rng.integers(-128, 128, (n, *in_hw, c)).astype(np.int8)
    act_min, act_max = ref.activation_range(act.value, scale, zp)
    opts = Pool2DOptions(padding, stride[0], stride[1], k_hw[0], k_hw[1], act)
    op, g = _graph(kind, opts, _act_tensor(x.shape, scale, zp), [], _act_tensor((n, *out_hw, c), scale, zp))
    params = dict(
        batches=n,
        in_h=in_hw[0],
        in_w=in_hw[1],
        channels=c,
        out_h=out_hw[0],
        out_w=out_hw[1],
        filter_h=k_hw[0],
        filter_w=k_hw[1],
        stride_h=stride[0],
        stride_w=stride[1],
        pad_h=pad[0],
        pad_w=pad[1],
        act_min=act_min,
        act_max=act_max,
    )
    fn = ref.avg_pool2d if kind is OpKind.AVERAGE_POOL_2D else ref.max_pool2d
    expected = fn(x, **_pool_ref_args(params))
    desc = f"{kind.value} x{x.shape} k{k_hw} s{stride} {padding.value} {act.value}"
    return Case(kind, op, g, x, None, None, expected, params, desc=desc)


def pad_case(rng) -> Case:
    rank = int(rng.integers(1, 5))
    shape = tuple(int(v) for v in rng.integers(1, 6, rank))
    paddings = rng.integers(0, 4, (rank, 2)).astype(np.int32)
    zp = int(rng.integers(-128, 128))
    x = rng.integers(-128, 128, shape).astype(np.int8)
    expected = ref.pad(x, paddings, zp)
    pt = Tensor(1, "paddings", paddings.shape, DType.INT32, None, paddings)
    op, g = _graph(
        OpKind.PAD, NoOptions(), _act_tensor(shape, 0.1, zp), [pt], _act_tensor(expected.shape, 0.1, zp)
    )
    lead = 4 - rank
    params = dict(
        in_dims=[1] * lead + list(shape),
        pad_before=[0] * lead + paddings[:, 0].tolist(),
        pad_after=[0] * lead + paddings[:, 1].tolist(),
        pad_value=zp,
    )
    return Case(OpKind.PAD, op, g, x, None, None, expected, params, desc=f"PAD x{shape} p{paddings.tolist()}")


MAKERS = {
    OpKind.CONV_2D: lambda rng: conv_case(rng, depthwise=False),
    OpKind.DEPTHWISE_CONV_2D: lambda rng: conv_case(rng, depthwise=True),
    OpKind.FULLY_CONNECTED: fc_case,
    OpKind.AVERAGE_POOL_2D: lambda rng: pool_case(rng, OpKind.AVERAGE_POOL_2D),
    OpKind.MAX_POOL_2D: lambda rng: pool_case(rng, OpKind.MAX_POOL_2D),
    OpKind.PAD: pad_case,
}
N_CASES = 150


def _check_case(lib, case: Case) -> None:
    lw = without_offer(lower(case.op, case.graph))
    assert lw.params == case.expect_params, case.desc
    if case.expect_mult is not None:
        consts = {c.role: c.values for c in lw.consts}
        np.testing.assert_array_equal(consts["mult"], case.expect_mult, err_msg=case.desc)
        np.testing.assert_array_equal(consts["shift"], case.expect_shift, err_msg=case.desc)
    got = run_kernel(lib, case.kind, lw, case.x, case.w, case.b, case.expected.shape)
    np.testing.assert_array_equal(got, case.expected, err_msg=case.desc)


@pytest.mark.parametrize("kind", list(MAKERS), ids=lambda k: k.value)
def test_random_cases_match_reference(lib, kind):
    rng = np.random.default_rng(1000 + list(MAKERS).index(kind))
    spread = set()
    for _ in range(N_CASES):
        case = MAKERS[kind](rng)
        _check_case(lib, case)
        spread.update(np.unique(case.expected).tolist())
    assert len(spread) > 100, "random cases should exercise most of the int8 output range"


def test_positive_shifts_and_saturation_are_exercised():
    """The random conv cases include real multipliers > 1 (left shifts) and clamped outputs."""
    rng = np.random.default_rng(1000)
    shifts, clamped = [], 0
    for _ in range(N_CASES):
        case = conv_case(rng, depthwise=False)
        shifts.extend(case.expect_shift.tolist())
        clamped += int(np.sum((case.expected == -128) | (case.expected == 127)))
    assert max(shifts) > 0 and min(shifts) < -10
    assert clamped > 0


# ---------------------------------------------------------------- hand-checked edge cases


def test_avg_pool_rounds_half_away_from_zero(lib):
    # windows of 2: sums -3 -> -2, 3 -> 2, -1 -> -1, 1 -> 1; window of 3 with sum -4 -> -1 (=-(4+1)/3)
    x = np.array([-1, -2, 1, 2, 0, -1, 0, 1], np.int8).reshape(1, 1, 8, 1)
    op, g = _graph(
        OpKind.AVERAGE_POOL_2D,
        Pool2DOptions(Padding.VALID, 1, 2, 1, 2),
        _act_tensor(x.shape, 0.1, 0),
        [],
        _act_tensor((1, 1, 4, 1), 0.1, 0),
    )
    got = run_kernel(lib, OpKind.AVERAGE_POOL_2D, without_offer(lower(op, g)), x, out_shape=(1, 1, 4, 1))
    assert got.reshape(-1).tolist() == [-2, 2, -1, 1]
    np.testing.assert_array_equal(
        ref.avg_pool2d(x, k_hw=(1, 2), out_hw=(1, 4), stride=(1, 2), pad=(0, 0), act_min=-128, act_max=127),
        got,
    )
    x3 = np.array([-1, -1, -2], np.int8).reshape(1, 1, 3, 1)
    op, g = _graph(
        OpKind.AVERAGE_POOL_2D,
        Pool2DOptions(Padding.VALID, 1, 1, 1, 3),
        _act_tensor(x3.shape, 0.1, 0),
        [],
        _act_tensor((1, 1, 1, 1), 0.1, 0),
    )
    assert run_kernel(lib, OpKind.AVERAGE_POOL_2D, without_offer(lower(op, g)), x3, out_shape=(1, 1, 1, 1)).item() == -1


def test_avg_pool_same_padding_counts_only_inside_taps(lib):
    x = np.full((1, 2, 2, 1), 100, np.int8)
    op, g = _graph(
        OpKind.AVERAGE_POOL_2D,
        Pool2DOptions(Padding.SAME, 1, 1, 3, 3),
        _act_tensor(x.shape, 0.1, 0),
        [],
        _act_tensor((1, 2, 2, 1), 0.1, 0),
    )
    got = run_kernel(lib, OpKind.AVERAGE_POOL_2D, without_offer(lower(op, g)), x, out_shape=(1, 2, 2, 1))
    assert np.all(got == 100)  # a count including padding would give 44


def test_conv_same_padding_skips_taps_instead_of_using_zero_point(lib):
    # 1x1 input, 3x3 SAME filter of ones: only the centre tap counts, so acc = x + input_offset.
    x = np.array([[[[10]]]], np.int8)
    w = np.ones((1, 3, 3, 1), np.int8)
    xt, yt = _act_tensor(x.shape, 1.0, -5), _act_tensor((1, 1, 1, 1), 1.0, 0)
    wt = Tensor(1, "w", w.shape, DType.INT8, quant(1.0, 0), w)
    op, g = _graph(OpKind.CONV_2D, Conv2DOptions(Padding.SAME, 1, 1), xt, [wt, None], yt)
    lw = without_offer(lower(op, g))
    assert lw.const_inputs == (1,)
    assert run_kernel(lib, OpKind.CONV_2D, lw, x, w, None, (1, 1, 1, 1)).item() == 15


def test_fc_per_tensor_multiplier_uses_float32_product():
    """Scales whose float32 and double products round to different multipliers."""
    rng = np.random.default_rng(7)
    found = 0
    for _ in range(20000):
        a, b, c = (float(np.float32(v)) for v in 10 ** rng.uniform(-3, 0, 3))
        if ref.quantize_multiplier(a * b / c) != ref.quantize_multiplier(
            float(np.float32(a) * np.float32(b)) / c
        ):
            found += 1
            xt, yt = _act_tensor((1, 4), a, 0), _act_tensor((1, 2), c, 0)
            w = np.ones((2, 4), np.int8)
            wt = Tensor(1, "w", w.shape, DType.INT8, quant(b, 0), w)
            op, g = _graph(OpKind.FULLY_CONNECTED, FullyConnectedOptions(), xt, [wt], yt)
            consts = {k.role: k.values for k in without_offer(lower(op, g)).consts}
            m, s = ref.fc_per_tensor_multiplier(a, b, c)
            assert (consts["mult"].tolist(), consts["shift"].tolist()) == (m.tolist(), s.tolist())
    assert found > 0


def test_kernels_reject_what_they_cannot_run():
    x = _act_tensor((1, 4, 4, 2), 0.1, 0)
    w = np.ones((3, 3, 3, 2), np.int8)
    y = _act_tensor((1, 4, 4, 3), 0.1, 0)

    def conv_err(**wq):
        wt = Tensor(1, "w", w.shape, DType.INT8, quant(**wq), w)
        op, g = _graph(OpKind.CONV_2D, Conv2DOptions(Padding.SAME, 1, 1), x, [wt, None], y)
        with pytest.raises(UnsupportedOpError) as e:
            without_offer(lower(op, g))
        msg = str(e.value)
        assert msg.startswith("operator 0 (CONV_2D):") and "\n" not in msg
        return msg

    assert "zero point 3" in conv_err(scale=0.1, zp=3)
    assert "2 scales" in conv_err(scale=[0.1, 0.2], zp=[0, 0])

    x16 = Tensor(0, "x", (1, 4, 4, 2), DType.INT16, quant(0.1, 0))
    wt = Tensor(1, "w", w.shape, DType.INT8, quant(0.1, 0), w)
    op, g = _graph(OpKind.CONV_2D, Conv2DOptions(Padding.SAME, 1, 1), x16, [wt, None], y)
    with pytest.raises(UnsupportedOpError, match="int16"):
        without_offer(lower(op, g))

    op, g = _graph(
        OpKind.MAX_POOL_2D, Pool2DOptions(Padding.VALID, 1, 1, 1, 1), x, [], _act_tensor(x.shape, 0.2, 0)
    )
    with pytest.raises(UnsupportedOpError, match="requantise"):
        without_offer(lower(op, g))

    pads = Tensor(1, "p", (4, 2), DType.INT32, None, np.array([[0, 0], [-1, 0], [0, 0], [0, 0]], np.int32))
    op, g = _graph(OpKind.PAD, NoOptions(), x, [pads], _act_tensor((1, 3, 4, 2), 0.1, 0))
    with pytest.raises(UnsupportedOpError, match="negative"):
        without_offer(lower(op, g))

    # Output shape inconsistent with the padding arithmetic.
    op, g = _graph(OpKind.CONV_2D, Conv2DOptions(Padding.VALID, 1, 1), x, [wt, None], y)
    with pytest.raises(UnsupportedOpError, match="does not match"):
        without_offer(lower(op, g))


# ---------------------------------------------------------------- templates


def test_templates_render_to_c_that_computes_the_reference(tmp_path):
    """Render decl()/call() of every template for random cases into one C program, build it with the
    kernels and compare the bytes it prints with the NumPy reference."""
    env = template_env()
    rng = np.random.default_rng(99)
    decls, calls, expected = [], [], []
    k = 0
    for kind, make in MAKERS.items():
        for _ in range(3):
            case = make(rng)
            lw = without_offer(lower(case.op, case.graph))
            oid = f"op{k}"
            k += 1
            decls.append(c_array(f"{oid}_in", "int8_t", case.x, const=False))
            decls.append(f"static int8_t {oid}_out[{case.expected.size}];")
            inputs: list[str | None] = [f"{oid}_in"]
            if case.w is not None:
                decls.append(c_array(f"{oid}_w", "int8_t", case.w))
                inputs.append(f"{oid}_w")
                if case.b is not None:
                    decls.append(c_array(f"{oid}_b", "int32_t", case.b))
                    inputs.append(f"{oid}_b")
                else:
                    inputs.append(None)
            consts = {}
            for c in lw.consts:
                decls.append(c_array(f"{oid}_{c.role}", c.ctype, c.values))
                consts[c.role] = f"{oid}_{c.role}"
            decl, call = render_op(env, lw, oid, kind.value, inputs, [f"{oid}_out"], consts)
            decls.append(decl)
            calls += [call, f"fwrite({oid}_out, 1, sizeof {oid}_out, stdout);"]
            expected.append(case.expected.reshape(-1))
    headers = ["tm2_conv.h", "tm2_fc.h", "tm2_pool.h", "tm2_pad.h"]
    out = run_host_program(tmp_path, headers, decls, calls, SOURCES)
    np.testing.assert_array_equal(np.frombuffer(out, np.int8), np.concatenate(expected))


# ---------------------------------------------------------------- LiteRT anchor


_TFL_ACT = {0: Activation.NONE, 1: Activation.RELU, 2: Activation.RELU_N1_TO_1, 3: Activation.RELU6}
_TFL_DTYPE = {9: DType.INT8, 2: DType.INT32, 0: DType.FLOAT32, 7: DType.INT16, 4: DType.INT64, 3: DType.UINT8}


def _ir_from_tflite(buf: bytes) -> Graph:
    """Just enough of a .tflite reader for this file's op kinds (test-local; not the real importer)."""
    import tflite

    model = tflite.Model.GetRootAsModel(buf, 0)
    sg = model.Subgraphs(0)
    tensors = []
    for i in range(sg.TensorsLength()):
        t = sg.Tensors(i)
        dtype = _TFL_DTYPE.get(t.Type(), DType.BOOL)
        shape = tuple(int(v) for v in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        qp = t.Quantization()
        quant = None
        if qp is not None and qp.ScaleLength() > 0:
            quant = QuantParams(
                tuple(float(v) for v in qp.ScaleAsNumpy()),
                tuple(int(v) for v in qp.ZeroPointAsNumpy()),
                int(qp.QuantizedDimension()),
            )
        data = None
        b = model.Buffers(t.Buffer())
        if b is not None and b.DataLength() > 0:
            np_dtype = {DType.INT8: np.int8, DType.INT32: np.int32, DType.INT64: np.int64}.get(
                dtype, np.uint8
            )
            data = np.frombuffer(b.DataAsNumpy().tobytes(), np_dtype).reshape(shape)
        tensors.append(Tensor(i, t.Name().decode(), shape, dtype, quant, data))
    names = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
    pad_map = {tflite.Padding.SAME: Padding.SAME, tflite.Padding.VALID: Padding.VALID}
    ops = []
    for i in range(sg.OperatorsLength()):
        o = sg.Operators(i)
        oc = model.OperatorCodes(o.OpcodeIndex())
        name = names[max(oc.BuiltinCode(), oc.DeprecatedBuiltinCode())]
        try:
            kind = OpKind(name)
        except ValueError:
            continue
        tab = o.BuiltinOptions()
        opts = NoOptions()
        if kind is OpKind.CONV_2D:
            p = tflite.Conv2DOptions()
            p.Init(tab.Bytes, tab.Pos)
            opts = Conv2DOptions(
                pad_map[p.Padding()],
                p.StrideH(),
                p.StrideW(),
                p.DilationHFactor(),
                p.DilationWFactor(),
                _TFL_ACT[p.FusedActivationFunction()],
            )
        elif kind is OpKind.DEPTHWISE_CONV_2D:
            p = tflite.DepthwiseConv2DOptions()
            p.Init(tab.Bytes, tab.Pos)
            opts = DepthwiseConv2DOptions(
                pad_map[p.Padding()],
                p.StrideH(),
                p.StrideW(),
                p.DepthMultiplier(),
                p.DilationHFactor(),
                p.DilationWFactor(),
                _TFL_ACT[p.FusedActivationFunction()],
            )
        elif kind in (OpKind.AVERAGE_POOL_2D, OpKind.MAX_POOL_2D):
            p = tflite.Pool2DOptions()
            p.Init(tab.Bytes, tab.Pos)
            opts = Pool2DOptions(
                pad_map[p.Padding()],
                p.StrideH(),
                p.StrideW(),
                p.FilterHeight(),
                p.FilterWidth(),
                _TFL_ACT[p.FusedActivationFunction()],
            )
        elif kind is OpKind.FULLY_CONNECTED:
            p = tflite.FullyConnectedOptions()
            p.Init(tab.Bytes, tab.Pos)
            opts = FullyConnectedOptions(_TFL_ACT[p.FusedActivationFunction()], bool(p.KeepNumDims()))
        ops.append(
            Operator(
                i,
                kind,
                tuple(int(v) for v in o.InputsAsNumpy()),
                tuple(int(v) for v in o.OutputsAsNumpy()),
                opts,
            )
        )
    return Graph(
        "m", tensors, ops, [int(v) for v in sg.InputsAsNumpy()], [int(v) for v in sg.OutputsAsNumpy()]
    )


def _anchor_models():
    """Two small Keras models covering every kernel feature LiteRT can produce from Keras layers."""
    keras = pytest.importorskip("tensorflow").keras
    keras.utils.set_random_seed(3)
    init = dict(kernel_initializer="glorot_uniform", bias_initializer=keras.initializers.RandomNormal(0, 0.3))
    L = keras.layers
    a_in = keras.Input((12, 11, 3), batch_size=1, name="x")  # batch None turns dilation into SPACE_TO_BATCH
    a = L.Conv2D(8, 3, strides=2, padding="same", activation="relu", **init)(a_in)
    a = L.Conv2D(6, (2, 3), groups=2, padding="same", **init)(a)
    a = L.DepthwiseConv2D(
        3,
        depth_multiplier=2,
        dilation_rate=2,
        padding="same",
        activation="relu6",
        **{"depthwise_initializer": "glorot_uniform", "bias_initializer": init["bias_initializer"]},
    )(a)
    a = L.ZeroPadding2D(((1, 0), (2, 1)))(a)
    a = L.AveragePooling2D(3, strides=2, padding="same")(a)
    a = L.MaxPooling2D(2, strides=1, padding="valid")(a)
    a = L.Flatten()(a)
    a = L.Dense(10, activation="relu", **init)(a)
    a = L.Dense(6, **init)(a)
    model_a = keras.Model(a_in, a)

    b_in = keras.Input((10, 9, 4), batch_size=1, name="x")
    b = L.Conv2D(5, (2, 3), dilation_rate=(2, 1), padding="valid", use_bias=False)(b_in)
    b = L.DepthwiseConv2D(
        (3, 2), strides=(2, 1), padding="valid", activation="relu", bias_initializer=init["bias_initializer"]
    )(b)
    b = L.MaxPooling2D(3, strides=2, padding="same")(b)
    b = L.AveragePooling2D((1, 2), padding="valid")(b)
    b = L.Conv2D(6, 1, padding="same", activation="tanh", **init)(b)  # tanh: keeps CONV's act NONE
    b = L.Flatten()(b)
    b = L.Dense(7, activation="relu6", **init)(b)
    model_b = keras.Model(b_in, b)
    return [(model_a, False), (model_b, True)]


def _convert(model, per_tensor_dense: bool) -> bytes:
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(5)
    shape = model.inputs[0].shape[1:]

    def rep():
        for _ in range(16):
            yield {"x": rng.normal(0, 1, (1, *shape)).astype(np.float32)}

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    if per_tensor_dense:
        conv._experimental_disable_per_channel_quantization_for_dense_layers = True
    return conv.convert()


@pytest.fixture(scope="module")
def litert_runs():
    """For each anchor model: (graph, {tensor index: value after one BUILTIN_REF invoke})."""
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    runs = []
    for model, per_tensor_dense in _anchor_models():
        buf = _convert(model, per_tensor_dense)
        interp = litert.Interpreter(
            model_content=buf,
            experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF,
            experimental_preserve_all_tensors=True,
        )
        interp.allocate_tensors()
        det = interp.get_input_details()[0]
        rng = np.random.default_rng(11)
        interp.set_tensor(det["index"], rng.integers(-128, 128, det["shape"]).astype(np.int8))
        interp.invoke()
        g = _ir_from_tflite(buf)
        values = {}
        for op in g.operators:
            for i in (*op.inputs, *op.outputs):
                if i >= 0:
                    values[i] = interp.get_tensor(i)
        runs.append((g, values))
    return runs


def _reference_from_lowering(kind: OpKind, lw: Lowered, x, w, b) -> np.ndarray:
    """The NumPy reference driven by the lowering's build-time numbers."""
    p = lw.params
    c = {k.role: k.values for k in lw.consts}
    if kind in (OpKind.CONV_2D, OpKind.DEPTHWISE_CONV_2D):
        kw = _conv_ref_args(p)
        if kind is OpKind.CONV_2D:
            return ref.conv2d(x, w, b, c["mult"], c["shift"], **kw)
        return ref.depthwise_conv2d(
            x, w, b, c["mult"], c["shift"], depth_multiplier=p["depth_multiplier"], **kw
        )
    if kind is OpKind.FULLY_CONNECTED:
        return ref.fully_connected(
            x,
            w,
            b,
            c["mult"],
            c["shift"],
            input_offset=p["input_offset"],
            output_offset=p["output_offset"],
            act_min=p["act_min"],
            act_max=p["act_max"],
        )
    if kind is OpKind.PAD:
        pads = np.stack([p["pad_before"], p["pad_after"]], axis=1)[4 - x.ndim :]
        return ref.pad(x, pads, p["pad_value"])
    fn = ref.avg_pool2d if kind is OpKind.AVERAGE_POOL_2D else ref.max_pool2d
    return fn(x, **_pool_ref_args(p))


def _features(kind: OpKind, p: dict) -> set[str]:
    """Which kernel features one lowered op exercises (to prove the anchor models cover them)."""
    f = set()
    if kind in (OpKind.CONV_2D, OpKind.DEPTHWISE_CONV_2D):
        f |= {"dilation"} if max(p["dilation_h"], p["dilation_w"]) > 1 else set()
        f |= {"stride"} if max(p["stride_h"], p["stride_w"]) > 1 else set()
        f |= {"padded"} if max(p["pad_h"], p["pad_w"]) > 0 else set()
        f |= {"groups"} if p.get("filter_in_c", p["in_c"]) < p["in_c"] else set()
        f |= {"depth_multiplier"} if p.get("depth_multiplier", 1) > 1 else set()
    elif kind is OpKind.FULLY_CONNECTED:
        f.add("per_channel" if p["per_channel"] else "per_tensor")
    elif kind is OpKind.PAD:
        f |= {"asymmetric"} if p["pad_before"] != p["pad_after"] else set()
    else:
        f |= {"padded"} if max(p["pad_h"], p["pad_w"]) > 0 else set()
    return f


ANCHOR_FEATURES = {
    OpKind.CONV_2D: {"dilation", "stride", "padded", "groups", "activation"},
    OpKind.DEPTHWISE_CONV_2D: {"dilation", "stride", "padded", "depth_multiplier", "activation"},
    OpKind.FULLY_CONNECTED: {"per_channel", "per_tensor", "activation"},
    OpKind.AVERAGE_POOL_2D: {"padded"},
    OpKind.MAX_POOL_2D: {"padded"},
    OpKind.PAD: {"asymmetric"},
}


@pytest.mark.parametrize("kind", list(MAKERS), ids=lambda k: k.value)
def test_litert_reference_interpreter_anchor(lib, litert_runs, kind):
    """LiteRT BUILTIN_REF == NumPy reference == C kernel, on every op of ``kind`` in the anchor models."""
    checked = 0
    seen: set[str] = set()
    for g, values in litert_runs:
        for op in g.operators:
            if op.kind is not kind:
                continue
            lw = without_offer(lower(op, g))
            x = values[op.inputs[0]]
            w = (
                g.tensors[op.inputs[1]].data
                if kind not in (OpKind.PAD, OpKind.AVERAGE_POOL_2D, OpKind.MAX_POOL_2D)
                else None
            )
            b = None
            if len(op.inputs) > 2 and op.inputs[2] >= 0:
                b = g.tensors[op.inputs[2]].data
            want = values[op.outputs[0]]
            mine = _reference_from_lowering(kind, lw, x, w, b)
            np.testing.assert_array_equal(
                mine.reshape(want.shape), want, err_msg=f"NumPy vs LiteRT, op {op.index}"
            )
            got = run_kernel(lib, kind, lw, x, w, b, want.shape)
            np.testing.assert_array_equal(got, want, err_msg=f"C vs LiteRT, op {op.index}")
            assert len(np.unique(want)) > 3, "anchor output is degenerate"
            seen |= _features(kind, lw.params)
            if getattr(op.options, "activation", Activation.NONE) is not Activation.NONE:
                seen.add("activation")  # fused by the converter (its clamp is usually a no-op there)
            checked += 1
    assert checked >= 1, f"no {kind.value} op in the anchor models"
    assert ANCHOR_FEATURES[kind] <= seen, f"anchor models miss {ANCHOR_FEATURES[kind] - seen}"


@pytest.fixture(autouse=True)
def _portable_lowering(monkeypatch):
    """These tests check the portable reference kernels and their own lowering: switch off the packed DSP
    layouts (tested in tests/test_dsp_kernels.py) for the duration of each test."""
    monkeypatch.setattr(_packing, "PACKED", False)
