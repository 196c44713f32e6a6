"""Ladder tests for the int8 ADD, MUL, CONCATENATION, QUANTIZE, DEQUANTIZE, RESHAPE/SQUEEZE kernels.

Rungs, each with tolerance 0:
1. lowering + C kernel (host build, ctypes) == NumPy reference, over many random shapes, broadcasts
   and quantisation parameters;
2. NumPy reference == LiteRT's reference kernels (``OpResolverType.BUILTIN_REF``) on single-op models
   built directly as TFLite flatbuffers with random parameters, and on one tf.keras model converted
   with full-integer int8 quantisation (every op checked on the interpreter's own intermediate tensors);
3. the Jinja templates render to C that compiles and gives the same outputs;
4. where TFLite Micro differs from LiteRT (MUL's multiplier), the difference is shown on one input.
"""

from __future__ import annotations

import ctypes
import math

import numpy as np
import pytest
from kernel_lib import (
    KERNELS,
    SENTINEL,
    build_kernel_lib,
    kernel_lib_or_skip,
    ptr,
    render_op,
    require_host_cc,
    template_env,
)
from refops_elementwise import (
    mul_multiplier_litert,
    mul_multiplier_tflm,
    ref_add,
    ref_concat,
    ref_dequantize,
    ref_mul,
    ref_quantize,
    ref_requantize,
)

from tinym2net.errors import UnsupportedOpError
from tinym2net.ir import (
    Activation,
    ConcatenationOptions,
    DType,
    ElementwiseOptions,
    Graph,
    NoOptions,
    Operator,
    OpKind,
    QuantParams,
    ReshapeOptions,
    Tensor,
)
from tinym2net.ops.base import Lowered, lower
from tinym2net.ops.cformat import cfloat
from tinym2net.ops.elementwise import collapse_broadcast
from tinym2net.quantmath import activation_range_int8

SOURCES = [KERNELS / "tm2_elementwise.c", KERNELS / "tm2_concat.c", KERNELS / "tm2_quantize.c"]
HOST_FLAGS = ("-ffp-contract=off",)
ACTS = [Activation.NONE, Activation.RELU, Activation.RELU6, Activation.RELU_N1_TO_1]


# ---------------------------------------------------------------- ctypes mirrors of the C structs

I32 = ctypes.c_int32
I32x4 = I32 * 4


class Bcast4(ctypes.Structure):
    _fields_ = [("out_shape", I32x4), ("in1_strides", I32x4), ("in2_strides", I32x4)]


ADD_FIELDS = [
    "input1_offset",
    "input2_offset",
    "output_offset",
    "left_shift",
    "input1_multiplier",
    "input1_shift",
    "input2_multiplier",
    "input2_shift",
    "output_multiplier",
    "output_shift",
    "act_min",
    "act_max",
]
MUL_FIELDS = [
    "input1_offset",
    "input2_offset",
    "output_offset",
    "output_multiplier",
    "output_shift",
    "act_min",
    "act_max",
]


class AddParams(ctypes.Structure):
    _fields_ = [(f, I32) for f in ADD_FIELDS] + [("bcast", Bcast4)]


class MulParams(ctypes.Structure):
    _fields_ = [(f, I32) for f in MUL_FIELDS] + [("bcast", Bcast4)]


class ConcatInput(ctypes.Structure):
    _fields_ = [("copy_size", I32), ("requantize", I32), ("scale", ctypes.c_float), ("bias", ctypes.c_float)]


class ConcatParams(ctypes.Structure):
    _fields_ = [
        ("num_inputs", I32),
        ("outer_size", I32),
        ("output_zero_point", I32),
        ("inputs", ctypes.POINTER(ConcatInput)),
    ]


class QuantizeParams(ctypes.Structure):
    _fields_ = [("scale", ctypes.c_float), ("zero_point", I32), ("size", I32)]


class RequantizeParams(ctypes.Structure):
    _fields_ = [(f, I32) for f in ("input_zero_point", "output_zero_point", "multiplier", "shift", "size")]


DequantizeParams = QuantizeParams  # same layout: float scale, int32 zero_point, int32 size


@pytest.fixture(scope="module")
def lib(tmp_path_factory):
    return kernel_lib_or_skip(tmp_path_factory, "k2", SOURCES, extra_flags=HOST_FLAGS)


def _bcast(p: dict) -> Bcast4:
    return Bcast4(I32x4(*p["out_shape"]), I32x4(*p["in1_strides"]), I32x4(*p["in2_strides"]))


def run_lowered(
    lib, kind: OpKind, low: Lowered, inputs: list[np.ndarray], out_shape, out_dtype
) -> np.ndarray:
    """Call the C kernel for a lowered op on NumPy inputs; the output starts as a sentinel pattern."""
    p = low.params
    ins = [np.ascontiguousarray(x) for x in inputs]
    out = np.full(tuple(out_shape), SENTINEL, dtype=out_dtype)
    if kind in (OpKind.ADD, OpKind.MUL):
        fields = ADD_FIELDS if kind is OpKind.ADD else MUL_FIELDS
        cls = AddParams if kind is OpKind.ADD else MulParams
        params = cls(**{f: p[f] for f in fields}, bcast=_bcast(p))
        fn = lib.tm2_add_s8 if kind is OpKind.ADD else lib.tm2_mul_s8
        fn(ctypes.byref(params), ptr(ins[0]), ptr(ins[1]), ptr(out))
    elif kind is OpKind.CONCATENATION:
        descs = (ConcatInput * p["num_inputs"])(
            *(ConcatInput(d["copy_size"], d["requantize"], d["scale"], d["bias"]) for d in p["inputs"])
        )
        params = ConcatParams(p["num_inputs"], p["outer_size"], p["output_zero_point"], descs)
        table = (ctypes.c_void_p * len(ins))(*(x.ctypes.data for x in ins))
        lib.tm2_concat_s8(ctypes.byref(params), table, ptr(out))
    elif kind is OpKind.QUANTIZE and p["mode"] == "float":
        params = QuantizeParams(p["scale"], p["zero_point"], p["size"])
        lib.tm2_quantize_f32_s8(ctypes.byref(params), ptr(ins[0]), ptr(out))
    elif kind is OpKind.QUANTIZE:
        params = RequantizeParams(
            p["input_zero_point"], p["output_zero_point"], p["multiplier"], p["shift"], p["size"]
        )
        lib.tm2_requantize_s8(ctypes.byref(params), ptr(ins[0]), ptr(out))
    elif kind is OpKind.DEQUANTIZE:
        params = DequantizeParams(p["scale"], p["zero_point"], p["size"])
        lib.tm2_dequantize_s8_f32(ctypes.byref(params), ptr(ins[0]), ptr(out))
    elif kind in (OpKind.RESHAPE, OpKind.SQUEEZE):
        lib.tm2_copy(ptr(out), ptr(ins[0]), I32(p["nbytes"]))
    else:
        raise AssertionError(kind)
    return out


# ---------------------------------------------------------------- IR construction


def qtensor(index: int, shape, scale: float, zp: int, dtype: DType = DType.INT8, data=None) -> Tensor:
    quant = None if scale is None else QuantParams((float(np.float32(scale)),), (int(zp),))
    return Tensor(index, f"t{index}", tuple(int(d) for d in shape), dtype, quant, data)


def one_op_graph(kind: OpKind, inputs: list[Tensor], output: Tensor, options=None) -> tuple[Operator, Graph]:
    tensors = [*inputs, output]
    for k, t in enumerate(tensors):
        t.index = k
    op = Operator(0, kind, tuple(range(len(inputs))), (len(inputs),), options or NoOptions())
    graph = Graph("g", tensors, [op], [k for k, t in enumerate(inputs) if not t.is_const], [len(inputs)])
    return op, graph


def rand_scale(rng, lo=-3.0, hi=0.0) -> float:
    return float(np.float32(10.0 ** rng.uniform(lo, hi)))


def rand_i8(rng, shape) -> np.ndarray:
    return rng.integers(-128, 128, size=shape, dtype=np.int8)


def rand_broadcast_shapes(rng, max_rank=4):
    """An output shape and two input shapes that broadcast to it (inputs may have lower rank)."""
    rank = int(rng.integers(0, max_rank + 1))
    out = [int(rng.integers(1, 6)) for _ in range(rank)]
    shapes = []
    for _ in range(2):
        s = [d if rng.random() < 0.6 else 1 for d in out]
        drop = int(rng.integers(0, rank + 1)) if rng.random() < 0.3 else 0
        shapes.append(tuple(s[drop:]))
    # the output is the broadcast of the two inputs (a dim the inputs both drop to 1 becomes 1)
    true_out = np.broadcast_shapes(shapes[0], shapes[1])
    return tuple(true_out), shapes[0], shapes[1]


def binary_case(rng, kind: OpKind, shapes=None, act=None):
    out_shape, sh1, sh2 = shapes or rand_broadcast_shapes(rng)
    s1, s2 = rand_scale(rng), rand_scale(rng)
    if kind is OpKind.ADD:
        so = float(np.float32((s1 + s2) * 10.0 ** rng.uniform(-0.3, 0.7)))
    else:
        so = float(np.float32(s1 * s2 * 128 * 10.0 ** rng.uniform(-1.0, 1.0)))
    z1, z2, zo = (int(v) for v in rng.integers(-128, 128, size=3))
    if act is None:
        act = Activation.NONE if rng.random() < 0.5 else ACTS[int(rng.integers(0, len(ACTS)))]
    x1, x2 = rand_i8(rng, sh1), rand_i8(rng, sh2)
    t1, t2, to = qtensor(0, sh1, s1, z1), qtensor(1, sh2, s2, z2), qtensor(2, out_shape, so, zo)
    op, graph = one_op_graph(kind, [t1, t2], to, ElementwiseOptions(act))
    lo, hi = activation_range_int8(act, to)
    ref = (ref_add if kind is OpKind.ADD else ref_mul)(x1, x2, s1, z1, s2, z2, so, zo, lo, hi)
    return op, graph, [x1, x2], ref


# ================================================================ rung 1: C kernel == NumPy reference


@pytest.mark.parametrize("kind", [OpKind.ADD, OpKind.MUL])
def test_binary_random_sweep(lib, kind):
    rng = np.random.default_rng(1 if kind is OpKind.ADD else 2)
    inside = total = 0
    for _ in range(300):
        op, graph, xs, ref = binary_case(rng, kind)
        low = lower(op, graph)
        out = run_lowered(lib, kind, low, xs, ref.shape, np.int8)
        np.testing.assert_array_equal(out, ref)
        inside += int(np.count_nonzero((ref > low.params["act_min"]) & (ref < low.params["act_max"])))
        total += ref.size
    assert inside > 0.35 * total  # many outputs come from the arithmetic, not from the clamps


@pytest.mark.parametrize("kind", [OpKind.ADD, OpKind.MUL])
def test_binary_high_rank_broadcasts_collapse(lib, kind):
    """5-D and 6-D operands that collapse to <= 4 loop dims run; ones that cannot are refused."""
    rng = np.random.default_rng(3)
    for shapes in [
        ((2, 3, 4, 5, 2), (2, 3, 4, 5, 2), (1, 1, 4, 5, 2)),
        ((2, 2, 3, 3, 2, 2), (2, 2, 3, 3, 2, 2), (2, 2, 1, 1, 2, 2)),
        ((3, 1, 4, 1, 5), (3, 1, 4, 1, 5), (5,)),
    ]:
        op, graph, xs, ref = binary_case(rng, kind, shapes)
        out = run_lowered(lib, kind, lower(op, graph), xs, ref.shape, np.int8)
        np.testing.assert_array_equal(out, ref)
    op, graph, _, _ = binary_case(rng, kind, ((2, 2, 2, 2, 2), (2, 1, 2, 1, 2), (1, 2, 1, 2, 1)))
    with pytest.raises(UnsupportedOpError, match=rf"operator 0 \({kind.value}\): .*5 loop dims"):
        lower(op, graph)


def test_add_extremes(lib):
    """Largest and smallest scale ratios, every input pair of a 256x256 grid."""
    a = np.arange(-128, 128, dtype=np.int8).reshape(256, 1)
    b = np.arange(-128, 128, dtype=np.int8).reshape(1, 256)
    for s1, s2, so, z1, z2, zo in [
        (1.0, 1.0 / 1024, 1.0, -128, 127, 0),
        (0.05, 0.05, 0.1, 0, 0, -128),
        (1e-4, 3e-4, 1e-5, 12, -7, 3),
        (0.02, 0.5, 2.0, 127, -128, 127),
    ]:
        t1, t2, to = qtensor(0, a.shape, s1, z1), qtensor(1, b.shape, s2, z2), qtensor(2, (256, 256), so, zo)
        op, graph = one_op_graph(OpKind.ADD, [t1, t2], to, ElementwiseOptions())
        out = run_lowered(lib, OpKind.ADD, lower(op, graph), [a, b], (256, 256), np.int8)
        np.testing.assert_array_equal(out, ref_add(a, b, s1, z1, s2, z2, so, zo))


def test_mul_full_grid_with_left_shift(lib):
    """A multiplier > 1 (positive shift) and a tiny one, over all 65536 input pairs."""
    a = np.arange(-128, 128, dtype=np.int8).reshape(256, 1)
    b = np.arange(-128, 128, dtype=np.int8).reshape(1, 256)
    shifts = []
    for s1, s2, so in [(0.5, 0.25, 0.01), (0.01, 0.02, 0.5), (0.003, 0.007, 0.0001)]:
        t1, t2, to = qtensor(0, a.shape, s1, 3), qtensor(1, b.shape, s2, -5), qtensor(2, (256, 256), so, 1)
        op, graph = one_op_graph(OpKind.MUL, [t1, t2], to, ElementwiseOptions())
        low = lower(op, graph)
        shifts.append(low.params["output_shift"])
        out = run_lowered(lib, OpKind.MUL, low, [a, b], (256, 256), np.int8)
        np.testing.assert_array_equal(out, ref_mul(a, b, s1, 3, s2, -5, so, 1))
    assert max(shifts) > 0 and min(shifts) < 0


def test_collapse_broadcast_layout():
    bc = collapse_broadcast((2, 3, 4), (1, 3, 1), (2, 3, 4))
    assert bc.out_shape == (2, 3, 4)
    assert bc.in1_strides == (12, 4, 1) and bc.in2_strides == (0, 1, 0)
    bc = collapse_broadcast((2, 3, 4, 5, 6), (2, 3, 4, 5, 6), (2, 3, 4, 5, 6))
    assert bc.out_shape == (720,) and bc.in1_strides == (1,) and bc.in2_strides == (1,)
    bc = collapse_broadcast((4, 1, 5), (5,), (4, 1, 5))  # size-1 output dim dropped, then merged
    assert bc.out_shape == (4, 5) and bc.in1_strides == (5, 1) and bc.in2_strides == (0, 1)
    bc = collapse_broadcast((), (), ())
    assert bc.out_shape == (1,)


def test_concat_random_sweep(lib):
    rng = np.random.default_rng(4)
    copies = requants = 0
    for _ in range(200):
        rank = int(rng.integers(1, 5))
        base = [int(rng.integers(1, 5)) for _ in range(rank)]
        axis = int(rng.integers(-rank, rank))
        n = int(rng.integers(1, 5))
        so, zo = rand_scale(rng), int(rng.integers(-128, 128))
        tensors, xs, scales, zps = [], [], [], []
        for k in range(n):
            shape = list(base)
            shape[axis] = int(rng.integers(1, 4))
            if rng.random() < 0.4:
                s, z = so, zo
                copies += 1
            else:
                s, z = float(np.float32(so * 10.0 ** rng.uniform(-1, 1))), int(rng.integers(-128, 128))
                requants += 1
            xs.append(rand_i8(rng, shape))
            scales.append(s)
            zps.append(z)
            tensors.append(qtensor(k, shape, s, z))
        ref = ref_concat(xs, scales, zps, so, zo, axis)
        out_t = qtensor(n, ref.shape, so, zo)
        op, graph = one_op_graph(OpKind.CONCATENATION, tensors, out_t, ConcatenationOptions(axis))
        out = run_lowered(lib, OpKind.CONCATENATION, lower(op, graph), xs, ref.shape, np.int8)
        np.testing.assert_array_equal(out, ref)
    assert copies > 50 and requants > 50


def test_quantize_float_sweep(lib):
    rng = np.random.default_rng(5)
    for _ in range(60):
        scale, zp = rand_scale(rng, -4, 1), int(rng.integers(-128, 128))
        k = rng.integers(-300, 300, size=400).astype(np.float32)
        x = np.concatenate(
            [
                (rng.standard_normal(400) * 200 * scale).astype(np.float32),
                (k + np.float32(0.5)) * np.float32(scale),  # ties (or their float neighbours)
                np.nextafter((k + np.float32(0.5)) * np.float32(scale), np.float32(np.inf)),
                (rng.uniform(-1, 1, 50) * 1e6 * scale).astype(np.float32),
                np.array([0.0, -0.0, 1e-40, -1e-40, 3e38, -3e38], np.float32),
            ]
        ).astype(np.float32)
        t_in, t_out = qtensor(0, x.shape, None, 0, DType.FLOAT32), qtensor(1, x.shape, scale, zp)
        op, graph = one_op_graph(OpKind.QUANTIZE, [t_in], t_out)
        out = run_lowered(lib, OpKind.QUANTIZE, lower(op, graph), [x], x.shape, np.int8)
        np.testing.assert_array_equal(out, ref_quantize(x, scale, zp))


def test_requantize_sweep(lib):
    rng = np.random.default_rng(6)
    x = np.arange(-128, 128, dtype=np.int8)
    for _ in range(200):
        s_in = rand_scale(rng)
        s_out = float(np.float32(s_in * 10.0 ** rng.uniform(-2.5, 2.5))) if rng.random() < 0.9 else s_in
        z_in, z_out = (int(v) for v in rng.integers(-128, 128, size=2))
        op, graph = one_op_graph(
            OpKind.QUANTIZE, [qtensor(0, x.shape, s_in, z_in)], qtensor(1, x.shape, s_out, z_out)
        )
        out = run_lowered(lib, OpKind.QUANTIZE, lower(op, graph), [x], x.shape, np.int8)
        np.testing.assert_array_equal(out, ref_requantize(x, s_in, z_in, s_out, z_out))


def test_dequantize_sweep(lib):
    rng = np.random.default_rng(7)
    x = np.arange(-128, 128, dtype=np.int8)
    for _ in range(200):
        scale, zp = rand_scale(rng, -38, 36), int(rng.integers(-128, 128))
        op, graph = one_op_graph(
            OpKind.DEQUANTIZE, [qtensor(0, x.shape, scale, zp)], qtensor(1, x.shape, None, 0, DType.FLOAT32)
        )
        out = run_lowered(lib, OpKind.DEQUANTIZE, lower(op, graph), [x], x.shape, np.float32)
        np.testing.assert_array_equal(out.view(np.uint32), ref_dequantize(x, scale, zp).view(np.uint32))


def test_reshape_squeeze_copy(lib):
    x = np.arange(24, dtype=np.int8).reshape(2, 3, 4)
    for kind, out_shape in [(OpKind.RESHAPE, (6, 4)), (OpKind.SQUEEZE, (2, 3, 4))]:
        t_in = qtensor(0, (2, 3, 4) if kind is OpKind.RESHAPE else (2, 1, 3, 4), 0.1, 3)
        op, graph = one_op_graph(kind, [t_in], qtensor(1, out_shape, 0.1, 3))
        low = lower(op, graph)
        assert low.alias and low.params["nbytes"] == 24 and low.template == "ops/reshape.j2"
        out = run_lowered(lib, kind, low, [x], out_shape, np.int8)
        np.testing.assert_array_equal(out.reshape(-1), x.reshape(-1))
    # overlapping (memmove) and identical buffers
    buf = np.arange(32, dtype=np.int8)
    lib.tm2_copy(ctypes.c_void_p(buf.ctypes.data + 4), ctypes.c_void_p(buf.ctypes.data), I32(20))
    np.testing.assert_array_equal(buf[4:24], np.arange(20, dtype=np.int8))
    before = buf.copy()
    lib.tm2_copy(ptr(buf), ptr(buf), I32(32))
    np.testing.assert_array_equal(buf, before)
    # int4 tensors are packed: two per byte
    t4 = Tensor(0, "w", (5, 3), DType.INT4, QuantParams((0.1,), (0,)))
    op, graph = one_op_graph(
        OpKind.RESHAPE, [t4], Tensor(1, "r", (15,), DType.INT4, QuantParams((0.1,), (0,)))
    )
    assert lower(op, graph).params["nbytes"] == 8


def test_unsupported_ops_raise_one_line():
    f32t = qtensor(0, (4,), None, 0, DType.FLOAT32)
    cases = [
        (
            OpKind.ADD,
            [f32t, qtensor(1, (4,), 0.1, 0)],
            qtensor(2, (4,), 0.1, 0),
            ElementwiseOptions(),
            "float32",
        ),
        (
            OpKind.MUL,
            [qtensor(0, (3,), 0.1, 0), qtensor(1, (4,), 0.1, 0)],
            qtensor(2, (4,), 0.1, 0),
            None,
            "broadcast",
        ),
        (
            OpKind.ADD,
            [Tensor(0, "a", (4,), DType.INT8, QuantParams((0.1, 0.2), (0, 0))), qtensor(1, (4,), 0.1, 0)],
            qtensor(2, (4,), 0.1, 0),
            ElementwiseOptions(),
            "per-tensor",
        ),
        (
            OpKind.CONCATENATION,
            [qtensor(0, (2, 2), 0.1, 0), qtensor(1, (2, 2), 0.1, 0)],
            qtensor(2, (4, 2), 0.1, 0),
            ConcatenationOptions(0, Activation.RELU),
            "activation",
        ),
        (
            OpKind.QUANTIZE,
            [qtensor(0, (4,), 0.1, 0, DType.INT16)],
            qtensor(1, (4,), 0.1, 0),
            None,
            "int16 -> int8",
        ),
        (OpKind.DEQUANTIZE, [qtensor(0, (4,), 0.1, 0)], qtensor(1, (4,), 0.1, 0), None, "only float32"),
        (OpKind.RESHAPE, [qtensor(0, (4,), 0.1, 0)], qtensor(1, (5,), 0.1, 0), ReshapeOptions((5,)), "size"),
    ]
    for kind, ins, out, opts, needle in cases:
        op, graph = one_op_graph(kind, ins, out, opts)
        with pytest.raises(UnsupportedOpError) as err:
            lower(op, graph)
        msg = str(err.value)
        assert msg.startswith(f"operator 0 ({kind.value}): ") and needle in msg and "\n" not in msg, msg


def test_cfloat_is_exact():
    assert cfloat(0.1) == "0x1.99999ap-4f"
    assert cfloat(1.0) == "0x1p+0f" and cfloat(-2.5) == "-0x1.4p+1f"
    assert cfloat(0.0) == "0x0p+0f"
    rng = np.random.default_rng(8)
    values = np.concatenate([rng.standard_normal(50) * 10.0 ** rng.uniform(-40, 38, 50), [1e-45, 3.4e38]])
    for v in values.astype(np.float32):
        assert np.float32(float.fromhex(cfloat(v)[:-1])) == v
    with pytest.raises(ValueError):
        cfloat(math.inf)


# ================================================================ rung 2: NumPy reference == LiteRT


def _litert():
    interp_mod = pytest.importorskip("ai_edge_litert.interpreter")
    schema = pytest.importorskip("ai_edge_litert.schema_py_generated")
    return interp_mod, schema


_TYPES = {np.int8: "INT8", np.uint8: "UINT8", np.float32: "FLOAT32"}


def build_single_op_model(schema, opcode, options_type, options, ins, out) -> bytes:
    """A one-operator TFLite flatbuffer. ``ins``/``out``: (shape, numpy dtype, scale, zero point[, const data])."""
    import flatbuffers

    model = schema.ModelT()
    model.version = 3
    code = schema.OperatorCodeT()
    code.builtinCode = opcode
    code.deprecatedBuiltinCode = min(opcode, 127)
    code.version = 1
    model.operatorCodes = [code]
    model.buffers = [schema.BufferT()]
    sub = schema.SubGraphT()
    sub.tensors = []
    for k, spec in enumerate([*ins, out]):
        shape, dtype, scale, zp = spec[:4]
        t = schema.TensorT()
        t.shape = list(shape)
        t.type = getattr(schema.TensorType, _TYPES[dtype])
        t.name = f"t{k}"
        t.buffer = 0
        if len(spec) > 4:
            buf = schema.BufferT()
            buf.data = list(np.ascontiguousarray(spec[4], dtype=dtype).tobytes())
            model.buffers.append(buf)
            t.buffer = len(model.buffers) - 1
        if scale is not None:
            q = schema.QuantizationParametersT()
            q.scale = [float(np.float32(scale))]
            q.zeroPoint = [int(zp)]
            t.quantization = q
        sub.tensors.append(t)
    opr = schema.OperatorT()
    opr.opcodeIndex = 0
    opr.inputs = list(range(len(ins)))
    opr.outputs = [len(ins)]
    if options is not None:
        opr.builtinOptionsType = options_type
        opr.builtinOptions = options
    sub.operators = [opr]
    sub.inputs = [k for k, spec in enumerate(ins) if len(spec) == 4]
    sub.outputs = [len(ins)]
    model.subgraphs = [sub]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def run_litert(interp_mod, model: bytes, inputs: list[np.ndarray]) -> np.ndarray:
    it = interp_mod.Interpreter(
        model_content=model, experimental_op_resolver_type=interp_mod.OpResolverType.BUILTIN_REF
    )
    it.allocate_tensors()
    for d, x in zip(it.get_input_details(), inputs, strict=True):
        it.set_tensor(d["index"], x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"])


_ACT_CODES = {Activation.NONE: 0, Activation.RELU: 1, Activation.RELU_N1_TO_1: 2, Activation.RELU6: 3}


@pytest.mark.parametrize("kind", [OpKind.ADD, OpKind.MUL])
def test_binary_matches_litert_single_op_models(lib, kind):
    interp_mod, schema = _litert()
    rng = np.random.default_rng(10 if kind is OpKind.ADD else 11)
    for case in range(25):
        op, graph, xs, ref = binary_case(rng, kind)
        t1, t2, to = graph.tensors
        act = op.options.activation
        if kind is OpKind.ADD:
            opts, otype, code = (
                schema.AddOptionsT(),
                schema.BuiltinOptions.AddOptions,
                schema.BuiltinOperator.ADD,
            )
        else:
            opts, otype, code = (
                schema.MulOptionsT(),
                schema.BuiltinOptions.MulOptions,
                schema.BuiltinOperator.MUL,
            )
        opts.fusedActivationFunction = _ACT_CODES[act]
        const_second = case % 5 == 4  # now and then the second operand is a constant tensor
        spec2 = (t2.shape, np.int8, t2.scale, t2.zero_point) + ((xs[1],) if const_second else ())
        model = build_single_op_model(
            schema,
            code,
            otype,
            opts,
            [(t1.shape, np.int8, t1.scale, t1.zero_point), spec2],
            (to.shape, np.int8, to.scale, to.zero_point),
        )
        got = run_litert(interp_mod, model, xs[:1] if const_second else xs)
        np.testing.assert_array_equal(got, ref, err_msg=f"case {case}")
        if const_second:
            t2.data = xs[1]
        low = lower(op, graph)
        assert low.const_inputs == ((1,) if const_second else ())
        np.testing.assert_array_equal(run_lowered(lib, kind, low, xs, ref.shape, np.int8), got)


def test_concat_matches_litert(lib):
    """int8 same-scale concat == LiteRT; mixed-scale int8 is refused by LiteRT; the rescaling arithmetic
    (ref_concat) equals LiteRT's uint8 ConcatenationWithScaling bit for bit."""
    interp_mod, schema = _litert()
    rng = np.random.default_rng(12)
    code, otype = schema.BuiltinOperator.CONCATENATION, schema.BuiltinOptions.ConcatenationOptions
    for axis in (0, 1, 2, -1):
        opts = schema.ConcatenationOptionsT()
        opts.axis = axis
        shapes = [[2, 3, 4], [2, 3, 4]]
        shapes[1][axis] = 2
        xs = [rand_i8(rng, s) for s in shapes]
        ref = ref_concat(xs, [0.05, 0.05], [3, 3], 0.05, 3, axis)
        model = build_single_op_model(
            schema, code, otype, opts, [(s, np.int8, 0.05, 3) for s in shapes], (ref.shape, np.int8, 0.05, 3)
        )
        got = run_litert(interp_mod, model, xs)
        np.testing.assert_array_equal(got, ref)
        tensors = [qtensor(k, s, 0.05, 3) for k, s in enumerate(shapes)]
        op, graph = one_op_graph(
            OpKind.CONCATENATION, tensors, qtensor(2, ref.shape, 0.05, 3), ConcatenationOptions(axis)
        )
        np.testing.assert_array_equal(
            run_lowered(lib, OpKind.CONCATENATION, lower(op, graph), xs, ref.shape, np.int8), got
        )
    # int8 with mixed scales: TFLite refuses the model (so the converter never emits it)
    opts = schema.ConcatenationOptionsT()
    opts.axis = 0
    model = build_single_op_model(
        schema,
        code,
        otype,
        opts,
        [((2,), np.int8, 0.05, 3), ((2,), np.int8, 0.1, 3)],
        ((4,), np.int8, 0.05, 3),
    )
    with pytest.raises(Exception):  # noqa: B017 - LiteRT raises RuntimeError or ValueError by version
        run_litert(interp_mod, model, [np.zeros(2, np.int8), np.zeros(2, np.int8)])
    # uint8 mixed scales: LiteRT's ConcatenationWithScaling vs the same float arithmetic in ref_concat
    for _ in range(12):
        so, zo = rand_scale(rng), int(rng.integers(0, 256))
        ins = [(rand_scale(rng), int(rng.integers(0, 256))) for _ in range(3)] + [(so, zo)]
        xs = [rng.integers(0, 256, size=(3, 1 + k), dtype=np.uint8) for k in range(4)]
        ref = ref_concat(xs, [s for s, _ in ins], [z for _, z in ins], so, zo, 1, qmin=0, qmax=255)
        opts = schema.ConcatenationOptionsT()
        opts.axis = 1
        model = build_single_op_model(
            schema,
            code,
            otype,
            opts,
            [(x.shape, np.uint8, s, z) for x, (s, z) in zip(xs, ins, strict=True)],
            (ref.shape, np.uint8, so, zo),
        )
        np.testing.assert_array_equal(run_litert(interp_mod, model, xs), ref)


def test_quantize_dequantize_match_litert(lib):
    interp_mod, schema = _litert()
    rng = np.random.default_rng(13)
    q_code, dq_code = schema.BuiltinOperator.QUANTIZE, schema.BuiltinOperator.DEQUANTIZE
    all_i8 = np.arange(-128, 128, dtype=np.int8)
    for _ in range(15):
        scale, zp = rand_scale(rng, -4, 1), int(rng.integers(-128, 128))
        k = rng.integers(-200, 200, size=300).astype(np.float32)
        x = np.concatenate(
            [
                (rng.standard_normal(300) * 150 * scale).astype(np.float32),
                (k + np.float32(0.5)) * np.float32(scale),
                np.array([0.0, -0.0, 1e-40], np.float32),
            ]
        ).astype(np.float32)
        model = build_single_op_model(
            schema, q_code, 0, None, [(x.shape, np.float32, None, 0)], (x.shape, np.int8, scale, zp)
        )
        got = run_litert(interp_mod, model, [x])
        np.testing.assert_array_equal(got, ref_quantize(x, scale, zp))
        op, graph = one_op_graph(
            OpKind.QUANTIZE, [qtensor(0, x.shape, None, 0, DType.FLOAT32)], qtensor(1, x.shape, scale, zp)
        )
        np.testing.assert_array_equal(
            run_lowered(lib, OpKind.QUANTIZE, lower(op, graph), [x], x.shape, np.int8), got
        )

        s_in, z_in = rand_scale(rng), int(rng.integers(-128, 128))
        model = build_single_op_model(
            schema, q_code, 0, None, [((256,), np.int8, s_in, z_in)], ((256,), np.int8, scale, zp)
        )
        got = run_litert(interp_mod, model, [all_i8])
        np.testing.assert_array_equal(got, ref_requantize(all_i8, s_in, z_in, scale, zp))

        model = build_single_op_model(
            schema, dq_code, 0, None, [((256,), np.int8, scale, zp)], ((256,), np.float32, None, 0)
        )
        got = run_litert(interp_mod, model, [all_i8])
        np.testing.assert_array_equal(got.view(np.uint32), ref_dequantize(all_i8, scale, zp).view(np.uint32))


def _find_mul_divergence(rng):
    """Scales and one input pair where LiteRT's float32 MUL multiplier and TFLite Micro's double one
    give different outputs."""
    a = np.arange(-128, 128, dtype=np.int64).reshape(256, 1)
    b = np.arange(-128, 128, dtype=np.int64).reshape(1, 256)
    for _ in range(400):
        s1, s2 = rand_scale(rng, -2, 0), rand_scale(rng, -2, 0)
        so = float(np.float32(s1 * s2 * 10.0 ** rng.uniform(1.5, 2.5)))
        m_lite, m_micro = mul_multiplier_litert(s1, s2, so), mul_multiplier_tflm(s1, s2, so)
        if m_lite == m_micro:
            continue
        y_lite = ref_mul(a, b, s1, 0, s2, 0, so, 0)
        y_micro = ref_mul(a, b, s1, 0, s2, 0, so, 0, multiplier=m_micro)
        diff = np.argwhere(y_lite != y_micro)
        if diff.size:
            i, j = diff[0]
            return s1, s2, so, np.int8(a[i, 0]), np.int8(b[0, j]), y_lite[i, j], y_micro[i, j]
    raise AssertionError("no diverging MUL case found")


def test_mul_litert_float_multiplier_vs_tflm(lib):
    """LiteRT computes MUL's rescale in float32; on the found input it gives LiteRT's answer, our kernel
    too, and TFLite Micro (double) the other one."""
    interp_mod, schema = _litert()
    s1, s2, so, x1, x2, y_lite, y_micro = _find_mul_divergence(np.random.default_rng(14))
    assert y_lite != y_micro
    model = build_single_op_model(
        schema,
        schema.BuiltinOperator.MUL,
        schema.BuiltinOptions.MulOptions,
        schema.MulOptionsT(),
        [((1,), np.int8, s1, 0), ((1,), np.int8, s2, 0)],
        ((1,), np.int8, so, 0),
    )
    xs = [np.array([x1], np.int8), np.array([x2], np.int8)]
    assert run_litert(interp_mod, model, xs)[0] == y_lite
    op, graph = one_op_graph(
        OpKind.MUL,
        [qtensor(0, (1,), s1, 0), qtensor(1, (1,), s2, 0)],
        qtensor(2, (1,), so, 0),
        ElementwiseOptions(),
    )
    assert run_lowered(lib, OpKind.MUL, lower(op, graph), xs, (1,), np.int8)[0] == y_lite
    assert run_tflm(model, xs)[0] == y_micro


def run_tflm(model: bytes, inputs: list[np.ndarray]) -> np.ndarray:
    micro = pytest.importorskip("tflite_micro")
    it = micro.runtime.Interpreter.from_bytes(model, arena_size=65536)
    for k, x in enumerate(inputs):
        it.set_input(x, k)
    it.invoke()
    return it.get_output(0)


def test_tflm_agrees_with_reference_for_add_quantize_dequantize():
    """TFLite Micro's reference kernels give the same bits as LiteRT / our reference for ADD, QUANTIZE
    (float and int8 input) and DEQUANTIZE; only MUL's multiplier differs (test above)."""
    _, schema = _litert()
    rng = np.random.default_rng(17)
    for _ in range(8):
        op, graph, xs, ref = binary_case(rng, OpKind.ADD)
        t1, t2, to = graph.tensors
        opts = schema.AddOptionsT()
        opts.fusedActivationFunction = _ACT_CODES[op.options.activation]
        model = build_single_op_model(
            schema,
            schema.BuiltinOperator.ADD,
            schema.BuiltinOptions.AddOptions,
            opts,
            [(t.shape or (1,), np.int8, t.scale, t.zero_point) for t in (t1, t2)],
            (to.shape or (1,), np.int8, to.scale, to.zero_point),
        )
        got = run_tflm(model, [x.reshape(x.shape or (1,)) for x in xs])
        np.testing.assert_array_equal(got.reshape(ref.shape), ref)
    all_i8 = np.arange(-128, 128, dtype=np.int8)
    x = (rng.standard_normal(256) * 4).astype(np.float32)
    for _ in range(8):
        scale, zp = rand_scale(rng), int(rng.integers(-128, 128))
        s_in, z_in = rand_scale(rng), int(rng.integers(-128, 128))
        q = schema.BuiltinOperator.QUANTIZE
        model = build_single_op_model(
            schema, q, 0, None, [((256,), np.float32, None, 0)], ((256,), np.int8, scale, zp)
        )
        np.testing.assert_array_equal(run_tflm(model, [x]), ref_quantize(x, scale, zp))
        model = build_single_op_model(
            schema, q, 0, None, [((256,), np.int8, s_in, z_in)], ((256,), np.int8, scale, zp)
        )
        np.testing.assert_array_equal(
            run_tflm(model, [all_i8]), ref_requantize(all_i8, s_in, z_in, scale, zp)
        )
        model = build_single_op_model(
            schema,
            schema.BuiltinOperator.DEQUANTIZE,
            0,
            None,
            [((256,), np.int8, scale, zp)],
            ((256,), np.float32, None, 0),
        )
        got = run_tflm(model, [all_i8])
        np.testing.assert_array_equal(got.view(np.uint32), ref_dequantize(all_i8, scale, zp).view(np.uint32))


def test_converted_keras_model_matches_litert(lib):
    """One tf.keras model, converted to full-integer int8: every ADD, MUL, CONCATENATION, QUANTIZE,
    DEQUANTIZE and RESHAPE in it (the converter turns the squeeze into a RESHAPE), run by our lowering +
    kernel on the interpreter's own input tensors, gives the interpreter's output tensor bit for bit (and
    so does the NumPy reference for ADD and MUL)."""
    interp_mod, _ = _litert()
    tf = pytest.importorskip("tensorflow")
    keras = tf.keras
    a = keras.Input((6, 8, 4), batch_size=1, name="a")
    b = keras.Input((1, 8, 1), batch_size=1, name="b")
    s = keras.layers.Add()([a, keras.layers.Lambda(lambda t: t * 0.5)(b)])
    m = keras.layers.Multiply()([s, a])
    m2 = keras.layers.Lambda(lambda t: t[0] * t[1])([m, b])
    c = keras.layers.Concatenate(axis=-1)([s, m2, keras.layers.Lambda(lambda t: t * 3.0 + 1.0)(a)])
    r = keras.layers.Reshape((48, 12))(c)
    sq = keras.layers.Lambda(lambda t: tf.squeeze(t, axis=3))(keras.layers.Multiply()([b, b]))
    model = keras.Model([a, b], [r, sq])
    rng = np.random.default_rng(15)

    def rep():
        for _ in range(20):
            yield {
                "a": rng.standard_normal((1, 6, 8, 4)).astype(np.float32),
                "b": rng.uniform(-2, 2, (1, 1, 8, 1)).astype(np.float32),
            }

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    flat = conv.convert()

    it = interp_mod.Interpreter(
        model_content=flat,
        experimental_op_resolver_type=interp_mod.OpResolverType.BUILTIN_REF,
        experimental_preserve_all_tensors=True,
    )
    it.allocate_tensors()
    for d in it.get_input_details():
        shape = d["shape"]
        it.set_tensor(d["index"], (rng.standard_normal(shape) * 2).astype(np.float32))
    it.invoke()

    details = {d["index"]: d for d in it.get_tensor_details()}
    dtypes = {
        np.dtype(np.int8): DType.INT8,
        np.dtype(np.float32): DType.FLOAT32,
        np.dtype(np.int32): DType.INT32,
    }

    def ir_tensor(idx: int) -> Tensor:
        d = details[idx]
        q = d["quantization_parameters"]
        quant = None
        if len(q["scales"]):
            quant = QuantParams(tuple(float(v) for v in q["scales"]), tuple(int(v) for v in q["zero_points"]))
        dtype = dtypes.get(np.dtype(d["dtype"]), DType.INT64)
        return Tensor(idx, d["name"], tuple(int(v) for v in d["shape"]), dtype, quant)

    tensors = [ir_tensor(i) for i in range(max(details) + 1)]
    seen: set[str] = set()
    for od in it._get_ops_details():
        kind = OpKind(od["op_name"])
        seen.add(kind.value)
        in_idx = [int(i) for i in od["inputs"] if i >= 0]
        out_idx = int(od["outputs"][0])
        out_shape, in0_shape = tensors[out_idx].shape, tensors[in_idx[0]].shape
        if kind in (OpKind.ADD, OpKind.MUL):
            options = ElementwiseOptions()  # no activations in this model
        elif kind is OpKind.CONCATENATION:
            axis = next((k for k, (i, o) in enumerate(zip(in0_shape, out_shape, strict=True)) if i != o), 0)
            options = ConcatenationOptions(axis)
        else:
            options = NoOptions()
            in_idx = in_idx[:1]  # RESHAPE's shape operand is not read at run time
        op = Operator(0, kind, tuple(in_idx), (out_idx,), options)
        graph = Graph("m", tensors, [op], [], [out_idx])
        expected = it.get_tensor(out_idx)
        values = [it.get_tensor(i) for i in in_idx]
        got = run_lowered(lib, kind, lower(op, graph), values, expected.shape, expected.dtype)
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got.view(np.uint8), expected.view(np.uint8), err_msg=kind.value)
        if kind is OpKind.ADD:
            t1, t2, to = (tensors[i] for i in (*in_idx, out_idx))
            ref = ref_add(*values, t1.scale, t1.zero_point, t2.scale, t2.zero_point, to.scale, to.zero_point)
            np.testing.assert_array_equal(ref, expected)
        elif kind is OpKind.MUL:
            t1, t2, to = (tensors[i] for i in (*in_idx, out_idx))
            ref = ref_mul(*values, t1.scale, t1.zero_point, t2.scale, t2.zero_point, to.scale, to.zero_point)
            np.testing.assert_array_equal(ref, expected)
    assert {"ADD", "MUL", "CONCATENATION", "QUANTIZE", "DEQUANTIZE", "RESHAPE"} <= seen, seen


# ================================================================ rung 3: templates render to working C


def test_templates_compile_and_run(tmp_path):
    require_host_cc()
    env = template_env()
    rng = np.random.default_rng(16)

    op_add, g_add, xs_add, ref_a = binary_case(rng, OpKind.ADD, ((3, 4, 5), (3, 4, 5), (4, 1)))
    op_mul, g_mul, xs_mul, ref_m = binary_case(rng, OpKind.MUL, ((3, 4, 5), (1, 4, 5), (3, 1, 1)))
    cat_ins = [qtensor(0, (2, 3), 0.1, 2), qtensor(1, (2, 2), 0.07, -9), qtensor(2, (2, 1), 0.1, 2)]
    op_cat, g_cat = one_op_graph(
        OpKind.CONCATENATION, cat_ins, qtensor(3, (2, 6), 0.1, 2), ConcatenationOptions(1)
    )
    xs_cat = [rand_i8(rng, t.shape) for t in cat_ins]
    ref_c = ref_concat(xs_cat, [0.1, 0.07, 0.1], [2, -9, 2], 0.1, 2, 1)
    xq = (rng.standard_normal(50) * 3).astype(np.float32)
    op_q, g_q = one_op_graph(
        OpKind.QUANTIZE, [qtensor(0, (50,), None, 0, DType.FLOAT32)], qtensor(1, (50,), 0.031, -4)
    )
    op_rq, g_rq = one_op_graph(OpKind.QUANTIZE, [qtensor(0, (50,), 0.031, -4)], qtensor(1, (50,), 0.07, 11))
    op_dq, g_dq = one_op_graph(
        OpKind.DEQUANTIZE, [qtensor(0, (50,), 0.07, 11)], qtensor(1, (50,), None, 0, DType.FLOAT32)
    )
    op_rs, g_rs = one_op_graph(OpKind.RESHAPE, [qtensor(0, (5, 10), 0.07, 11)], qtensor(1, (50,), 0.07, 11))

    specs = [
        (
            "add",
            op_add,
            g_add,
            ["in0", "in1"],
            ["(int8_t *)out"],
            "const int8_t *in0, const int8_t *in1, void *out",
        ),
        (
            "mul",
            op_mul,
            g_mul,
            ["in0", "in1"],
            ["(int8_t *)out"],
            "const int8_t *in0, const int8_t *in1, void *out",
        ),
        (
            "cat",
            op_cat,
            g_cat,
            ["in0", "in1", "in2"],
            ["(int8_t *)out"],
            "const int8_t *in0, const int8_t *in1, const int8_t *in2, void *out",
        ),
        ("q", op_q, g_q, ["(const float *)in0"], ["(int8_t *)out"], "const void *in0, void *out"),
        ("rq", op_rq, g_rq, ["(const int8_t *)in0"], ["(int8_t *)out"], "const void *in0, void *out"),
        ("dq", op_dq, g_dq, ["(const int8_t *)in0"], ["(float *)out"], "const void *in0, void *out"),
        ("rs", op_rs, g_rs, ["(const int8_t *)in0"], ["(int8_t *)out"], "const void *in0, void *out"),
    ]
    parts = ['#include "tm2_elementwise.h"', '#include "tm2_concat.h"', '#include "tm2_quantize.h"']
    for name, op, graph, inputs, outputs, sig in specs:
        decl, call = render_op(env, lower(op, graph), f"op_{name}", op.kind.value, inputs, outputs)
        parts.append(decl)
        parts.append(f"void run_{name}({sig}) {{\n{call}\n}}")
    src = tmp_path / "ops_rendered.c"
    src.write_text("\n".join(parts) + "\n")
    rl = build_kernel_lib(tmp_path, [src, *SOURCES], extra_flags=HOST_FLAGS)

    def call(name, inputs, shape, dtype):
        out = np.full(shape, SENTINEL, dtype=dtype)
        getattr(rl, f"run_{name}")(*(ptr(np.ascontiguousarray(x)) for x in inputs), ptr(out))
        return out

    np.testing.assert_array_equal(call("add", xs_add, ref_a.shape, np.int8), ref_a)
    np.testing.assert_array_equal(call("mul", xs_mul, ref_m.shape, np.int8), ref_m)
    np.testing.assert_array_equal(call("cat", xs_cat, ref_c.shape, np.int8), ref_c)
    q = call("q", [xq], (50,), np.int8)
    np.testing.assert_array_equal(q, ref_quantize(xq, 0.031, -4))
    rq = call("rq", [q], (50,), np.int8)
    np.testing.assert_array_equal(rq, ref_requantize(q, 0.031, -4, 0.07, 11))
    dq = call("dq", [rq], (50,), np.float32)
    np.testing.assert_array_equal(dq.view(np.uint32), ref_dequantize(rq, 0.07, 11).view(np.uint32))
    np.testing.assert_array_equal(call("rs", [rq.reshape(5, 10)], (50,), np.int8), rq)
    assert "0x1.fbe76cp-6f" in src.read_text()  # the quantize scale 0.031f as an exact hex literal
