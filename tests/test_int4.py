"""int4 weights end to end: packed-int4 kernels, lowerings, int4 models (requantised, post-training, QAT,
mixed precision) on the host and in the emulator, all bit-exact with LiteRT's reference kernels and with
TFLite Micro (tolerance 0).

Model routes: the MLPerf Tiny references exist only as int8, so their weights are requantised to int4
(``tinym2net.int4.requantize_tflite_int4``); zoo models are quantised from their float versions with
ai-edge-quantizer (``quantize_int4``); a small student goes through quantisation-aware fine-tuning
(``qat_int4``) and mixed precision (``mixed_precision``).
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import refops_int4 as ref4
import refops_linear as ref
from conftest import MLPERF_MODELS, mlperf_path, require_cross_tools
from kernel_lib import (
    KERNELS,
    guarded_output,
    kernel_lib_or_skip,
    make_struct,
    ptr,
    ptr_or_null,
    quant,
    random_window,
    run_on_cortex_m4,
    struct_from_header,
    unguard,
)

from tinym2net.artifact import write_artifact
from tinym2net.codegen import pack_int4
from tinym2net.compiler import compile_graph
from tinym2net.hostrun import build_host_model, run_host_model
from tinym2net.importer import parse_tflite
from tinym2net.importer.tflite_reader import unpack_int4
from tinym2net.importer.tflite_writer import tensor_bytes
from tinym2net.ir import (
    Activation,
    Conv2DOptions,
    DepthwiseConv2DOptions,
    DType,
    FullyConnectedOptions,
    Graph,
    Operator,
    OpKind,
    Padding,
    Tensor,
)
from tinym2net.ops.base import lower
from tinym2net.reference import random_inputs, run_litert, run_tflm
from tinym2net.verify import compare_outputs

WEIGHTED = (OpKind.CONV_2D, OpKind.DEPTHWISE_CONV_2D, OpKind.FULLY_CONNECTED)
ZOO_INT4 = ["conv_stack", "depth_thermal", "tri_modal"]


@pytest.fixture(scope="session")
def lib(tmp_path_factory):
    return kernel_lib_or_skip(tmp_path_factory, "int4_kernels", [KERNELS / "tm2_int4.c"])


# ---------------------------------------------------------------- one-op graphs with int4 weights


def _graph(kind: OpKind, options, x: Tensor, w: Tensor, b: Tensor | None, y: Tensor) -> tuple[Operator, Graph]:
    x.index, w.index = 0, 1
    tensors = [x, w]
    inputs = [0, 1]
    if b is not None:
        b.index = 2
        tensors.append(b)
        inputs.append(2)
    y.index = len(tensors)
    tensors.append(y)
    op = Operator(0, kind, tuple(inputs), (y.index,), options)
    return op, Graph("t", tensors, [op], [0], [y.index])


def _act(shape, scale, zp) -> Tensor:
    return Tensor(0, "a", tuple(int(d) for d in shape), DType.INT8, quant(scale, zp))


@dataclass
class Case:
    kind: OpKind
    op: Operator
    graph: Graph
    x: np.ndarray
    w: np.ndarray  # int4 values in int8 storage
    b: np.ndarray | None
    expected: np.ndarray
    mult: np.ndarray
    shift: np.ndarray
    desc: str


def _bias(rng, n: int) -> np.ndarray | None:
    """No bias, a bias that fits int16 (int16 copy in flash) or one that does not (int32 tensor)."""
    r = rng.random()
    if r < 0.2:
        return None
    lim = 30000 if r < 0.7 else 3_000_000
    b = rng.integers(-lim, lim + 1, n).astype(np.int32)
    if lim > 32767:
        b[int(rng.integers(n))] = 40000  # at least one value outside int16
    return b


def _out_scale(rng, in_scale, f_scales, taps):
    acc_std = np.sqrt(taps) * 74.0 * 4.0
    return np.float32(in_scale * float(np.mean(f_scales)) * acc_std / 40.0 * 10 ** rng.uniform(-1, 1))


def _geometry(rng):
    return random_window(rng, in_max=9, k_max=4, stride_max=3, dilation_p=0.3, dilation_max=3)


def conv_case(rng, depthwise: bool) -> Case:
    in_hw, k_hw, stride, dil, padding, out_hw, pad = _geometry(rng)
    n = 1 if rng.random() < 0.8 else 2
    act = list(Activation)[int(rng.integers(len(Activation)))]
    in_zp, out_zp = (int(v) for v in rng.integers(-128, 128, 2))
    in_scale = np.float32(10 ** rng.uniform(-2.5, -0.5))
    if depthwise:
        cin, dm = int(rng.integers(1, 7)), int(rng.integers(1, 4))
        cout = cin * dm  # odd and even: the kernel pairs channels sharing a byte only when out_c is even
        wshape, taps, axis = (1, *k_hw, cout), k_hw[0] * k_hw[1], 3
    else:
        groups = 1 if rng.random() < 0.8 else int(rng.integers(2, 4))
        fin = int(rng.integers(1, 6))  # odd depths start filter rows on a high nibble
        cin, cout = fin * groups, groups * int(rng.integers(1, 5))
        wshape, taps, axis = (cout, *k_hw, fin), k_hw[0] * k_hw[1] * fin, 0
    w = rng.integers(-8, 8, wshape).astype(np.int8)  # -8 too: the kernels must decode every nibble
    f_scales = np.float32(10 ** rng.uniform(-2, 0, cout))
    out_scale = _out_scale(rng, in_scale, f_scales, taps)
    x = rng.integers(-128, 128, (n, *in_hw, cin)).astype(np.int8)
    b = _bias(rng, cout)
    act_min, act_max = ref.activation_range(act.value, out_scale, out_zp)
    mult, shift = ref.conv_multipliers(in_scale, f_scales, out_scale, cout)
    common = dict(out_hw=out_hw, stride=stride, dilation=dil, pad=pad, input_offset=-in_zp,
                  output_offset=out_zp, act_min=act_min, act_max=act_max)
    wt = Tensor(1, "w", wshape, DType.INT4, quant(f_scales, np.zeros(cout), axis), w)
    bt = None if b is None else Tensor(2, "b", b.shape, DType.INT32, quant(1.0, 0), b)
    xt, yt = _act(x.shape, in_scale, in_zp), _act((n, *out_hw, cout), out_scale, out_zp)
    packed = ref4.pack(w)
    if depthwise:
        opts = DepthwiseConv2DOptions(padding, stride[0], stride[1], dm, dil[0], dil[1], act)
        expected = ref4.depthwise_conv2d(x, packed, wshape, b, mult, shift, depth_multiplier=dm, **common)
        kind = OpKind.DEPTHWISE_CONV_2D
    else:
        opts = Conv2DOptions(padding, stride[0], stride[1], dil[0], dil[1], act)
        expected = ref4.conv2d(x, packed, wshape, b, mult, shift, **common)
        kind = OpKind.CONV_2D
    op, g = _graph(kind, opts, xt, wt, bt, yt)
    desc = f"{kind.value} x{x.shape} w{wshape} s{stride} d{dil} {padding.value} {act.value} bias={b is not None}"
    return Case(kind, op, g, x, w, b, expected, mult, shift, desc)


def fc_case(rng) -> Case:
    d, o = int(rng.integers(1, 60)), int(rng.integers(1, 12))  # odd depths: rows start on a high nibble
    batches = int(rng.integers(1, 4))
    act = list(Activation)[int(rng.integers(len(Activation)))]
    in_zp, out_zp = (int(v) for v in rng.integers(-128, 128, 2))
    in_scale = np.float32(10 ** rng.uniform(-2.5, -0.5))
    per_channel = rng.random() < 0.3 and o > 1  # TFLite Micro runs per-tensor int4 FC only; the kernel does both
    f_scales = np.float32(10 ** rng.uniform(-2, 0, o if per_channel else 1))
    out_scale = _out_scale(rng, in_scale, f_scales, d)
    x = rng.integers(-128, 128, (batches, d)).astype(np.int8)
    w = rng.integers(-8, 8, (o, d)).astype(np.int8)
    b = _bias(rng, o)
    act_min, act_max = ref.activation_range(act.value, out_scale, out_zp)
    if per_channel:
        mult, shift = ref.conv_multipliers(in_scale, f_scales, out_scale, o)
    else:
        mult, shift = ref.fc_per_tensor_multiplier(in_scale, f_scales[0], out_scale)
    reference = "litert" if rng.random() < 0.5 else "tflm"
    expected = ref4.fully_connected(
        x, ref4.pack(w), (o, d), b, mult, shift, input_offset=-in_zp, output_offset=out_zp,
        act_min=act_min, act_max=act_max, single_rounding=reference == "litert",
    )
    wt = Tensor(1, "w", (o, d), DType.INT4, quant(f_scales, np.zeros(len(f_scales))), w)
    bt = None if b is None else Tensor(2, "b", b.shape, DType.INT32, quant(1.0, 0), b)
    op, g = _graph(OpKind.FULLY_CONNECTED, FullyConnectedOptions(act), _act(x.shape, in_scale, in_zp), wt, bt,
                   _act((batches, o), out_scale, out_zp))
    g.reference = reference
    desc = f"FC x{x.shape} w{w.shape} per_channel={per_channel} {reference} {act.value} bias={b is not None}"
    return Case(OpKind.FULLY_CONNECTED, op, g, x, w, b, expected, mult, shift, desc)


_STRUCTS = {
    OpKind.CONV_2D: ("tm2_conv.h", "tm2_conv_params", "tm2_conv2d_s4"),
    OpKind.DEPTHWISE_CONV_2D: ("tm2_conv.h", "tm2_dwconv_params", "tm2_depthwise_conv2d_s4"),
    OpKind.FULLY_CONNECTED: ("tm2_fc.h", "tm2_fc_params", "tm2_fully_connected_s4"),
}


def run_case(lib, case: Case) -> np.ndarray:
    """Lower the op, check what the lowering chose, and run the C kernel on the packed weights exactly as
    the generated code passes them (codegen's packing, int16 or int32 bias as the lowering decided)."""
    lw = lower(case.op, case.graph)
    header, typedef, fn_name = _STRUCTS[case.kind]
    # a convolution's template may be wrapped (in-place row bands, ops/inplace.py) around its kernel's
    assert lw.params.get("inplace_base", lw.template).endswith("_s4.j2"), lw.template
    assert lw.scratch_bytes == 0
    consts = {c.role: c for c in lw.consts}
    assert np.array_equal(consts["mult"].values, case.mult) and np.array_equal(consts["shift"].values, case.shift)
    fits16 = case.b is not None and int(np.abs(case.b.astype(np.int64)).max()) <= 32767
    assert ("bias16" in consts) == fits16, case.desc
    assert (2 in lw.const_inputs) == (case.b is not None and not fits16), case.desc
    packed = np.ascontiguousarray(pack_int4(case.w))
    assert packed.view(np.uint8).tobytes() == ref4.pack(case.w).tobytes()
    b32 = np.ascontiguousarray(case.b, np.int32) if 2 in lw.const_inputs else None
    b16 = np.ascontiguousarray(consts["bias16"].values, np.int16) if fits16 else None
    if b16 is not None:
        assert consts["bias16"].weights and np.array_equal(b16.astype(np.int32), case.b)
    struct = struct_from_header(KERNELS / header, typedef)
    params = make_struct(struct, {f: lw.params[f] for f, _ in struct._fields_})
    size = case.expected.size
    out = guarded_output(size)
    x = np.ascontiguousarray(case.x, np.int8)
    mult = np.ascontiguousarray(consts["mult"].values, np.int32)
    shift = np.ascontiguousarray(consts["shift"].values, np.int32)
    getattr(lib, fn_name)(ctypes.byref(params), ptr(x), ptr(packed), ptr_or_null(b32), ptr_or_null(b16),
                          ptr(mult), ptr(shift), ptr(out))
    return unguard(out, size).reshape(case.expected.shape)


@pytest.mark.parametrize("kind", WEIGHTED, ids=lambda k: k.value)
def test_int4_kernels_match_numpy_reference_on_random_cases(lib, kind):
    rng = np.random.default_rng({"CONV_2D": 1, "DEPTHWISE_CONV_2D": 2, "FULLY_CONNECTED": 3}[kind.value])
    seen_bias = set()
    for _ in range(150):
        case = fc_case(rng) if kind is OpKind.FULLY_CONNECTED else conv_case(rng, kind is OpKind.DEPTHWISE_CONV_2D)
        got = run_case(lib, case)
        assert np.array_equal(got, case.expected), case.desc
        seen_bias.add("none" if case.b is None else ("16" if np.abs(case.b).max() <= 32767 else "32"))
    assert seen_bias == {"none", "16", "32"}


def test_int4_packing_is_tflite_layout():
    """Low nibble first, two's complement, odd tail padded: codegen, writer, importer and the test's own
    packer agree, and unpacking inverts packing."""
    rng = np.random.default_rng(5)
    for n in (1, 2, 7, 64, 129):
        v = rng.integers(-8, 8, n).astype(np.int8)
        packed = ref4.pack(v)
        assert packed.size == (n + 1) // 2
        assert pack_int4(v).view(np.uint8).tobytes() == packed.tobytes()
        t = Tensor(0, "w", (n,), DType.INT4, quant(1.0, 0), v)
        assert tensor_bytes(t) == packed.tobytes()
        assert np.array_equal(unpack_int4(packed.view(np.int8), (n,)), v)
        assert np.array_equal(ref4.unpack(packed, (n,)), v)
    assert ref4.pack(np.array([1, -1, -8, 7], np.int8)).tolist() == [0xF1, 0x78]


def test_int4_weights_are_counted_packed_and_bias_narrowed():
    """weights_bytes of an int4 layer = packed filter + int16 bias; the int8 tables (mult/shift) stay tables."""
    rng = np.random.default_rng(11)
    w = rng.integers(-7, 8, (6, 3, 3, 5)).astype(np.int8)
    b = rng.integers(-1000, 1000, 6).astype(np.int32)
    xt, yt = _act((1, 8, 8, 5), 0.05, 3), _act((1, 8, 8, 6), 0.1, -2)
    wt = Tensor(1, "w", w.shape, DType.INT4, quant(np.full(6, 0.01), np.zeros(6)), w)
    bt = Tensor(2, "b", (6,), DType.INT32, quant(0.0005, 0), b)
    op, g = _graph(OpKind.CONV_2D, Conv2DOptions(Padding.SAME, 1, 1), xt, wt, bt, yt)
    compiled = compile_graph(g, b"model")
    assert compiled.weights_bytes == (w.size + 1) // 2 + 2 * 6
    assert compiled.tables_bytes == 2 * 4 * 6
    assert compiled.lowered[0].scratch_bytes == 0  # the int4 kernel itself needs no scratch (no unpacked copy)


# ---------------------------------------------------------------- the same cases on the Cortex-M4

# A test firmware that reads cases from tm2_in.bin, runs one int4 kernel per case and writes the output
# bytes plus a flag telling whether the 16 bytes after the output stayed untouched. Built for the nano33
# core (Cortex-M4F, so the SIMD dot product of tm2_int4.c runs) and with -DTM2_PORTABLE (plain C on the
# same core), run in QEMU.
_HARNESS_C = r"""
#include <stdint.h>
#include <string.h>

#include "tm2_int4.h"
#include "tm2_io.h"

#define ARENA (64 * 1024)
static uint8_t arena[ARENA] __attribute__((aligned(16)));
static int32_t params[32];

static uint32_t u32(void) {
  uint32_t v = 0;
  if (tm2_io_read(&v, 4) != 0) tm2_io_exit(3);
  return v;
}

/* A length-prefixed blob at the next 16-aligned arena offset (+1 when odd_start, to test unaligned
 * loads); NULL for length 0. */
static void *blob(uint32_t *used, uint32_t odd_start) {
  const uint32_t n = u32();
  if (n == 0) return NULL;
  uint8_t *p = arena + *used + odd_start;
  if (*used + n + 32 > ARENA || tm2_io_read(p, n) != 0) tm2_io_exit(4);
  *used = (*used + odd_start + n + 15) & ~15u;
  return p;
}

int main(int argc, char **argv) {
  if (tm2_io_open(argc, argv) != 0) return 2;
  const uint32_t cases = u32();
  for (uint32_t c = 0; c < cases; ++c) {
    uint32_t used = 0;
    const uint32_t kind = u32(), np = u32();
    if (np > 32 || tm2_io_read(params, 4 * np) != 0) return 5;
    const int8_t *x = blob(&used, c & 1u);
    const int8_t *w = blob(&used, 0);
    const int32_t *b32 = blob(&used, 0);
    const int16_t *b16 = blob(&used, 0);
    const int32_t *mult = blob(&used, 0);
    const int32_t *shift = blob(&used, 0);
    const uint32_t out_len = u32();
    int8_t *out = (int8_t *)(arena + used);
    if (used + out_len + 16 > ARENA) return 6;
    memset(out, 0x5A, out_len + 16);
    if (kind == 1 && np * 4 == sizeof(tm2_conv_params)) {
      tm2_conv2d_s4((const tm2_conv_params *)params, x, w, b32, b16, mult, shift, out);
    } else if (kind == 2 && np * 4 == sizeof(tm2_dwconv_params)) {
      tm2_depthwise_conv2d_s4((const tm2_dwconv_params *)params, x, w, b32, b16, mult, shift, out);
    } else if (kind == 3 && np * 4 == sizeof(tm2_fc_params)) {
      tm2_fully_connected_s4((const tm2_fc_params *)params, x, w, b32, b16, mult, shift, out);
    } else {
      return 7;
    }
    uint32_t guard_ok = 1;
    for (uint32_t i = 0; i < 16; ++i) guard_ok &= (uint8_t)out[out_len + i] == 0x5A;
    if (tm2_io_write(out, out_len) != 0 || tm2_io_write(&guard_ok, 4) != 0) return 8;
  }
  tm2_io_close();
  return 0;
}
"""
_KIND_CODE = {OpKind.CONV_2D: 1, OpKind.DEPTHWISE_CONV_2D: 2, OpKind.FULLY_CONNECTED: 3}


def _encode_case(case: Case) -> bytes:
    import struct as st

    lw = lower(case.op, case.graph)
    header, typedef, _ = _STRUCTS[case.kind]
    fields = [f for f, _ in struct_from_header(KERNELS / header, typedef)._fields_]
    consts = {c.role: c.values for c in lw.consts}
    b32 = case.b.astype("<i4").tobytes() if 2 in lw.const_inputs else b""
    b16 = consts["bias16"].astype("<i2").tobytes() if "bias16" in consts else b""
    blobs = [case.x.tobytes(), pack_int4(case.w).tobytes(), b32, b16,
             consts["mult"].astype("<i4").tobytes(), consts["shift"].astype("<i4").tobytes()]
    parts = [st.pack("<II", _KIND_CODE[case.kind], len(fields)),
             np.array([lw.params[f] for f in fields], "<i4").tobytes()]
    parts += [st.pack("<I", len(b)) + b for b in blobs]
    return b"".join(parts) + st.pack("<I", case.expected.size)


@pytest.mark.emulator
@pytest.mark.parametrize("variant", ["simd", "portable"])
def test_int4_kernels_bit_exact_on_cortex_m4(variant, tmp_path):
    import struct as st

    (tmp_path / "harness.c").write_text(_HARNESS_C)
    rng = np.random.default_rng(21)
    cases = [conv_case(rng, False) for _ in range(60)] + [conv_case(rng, True) for _ in range(60)]
    cases += [fc_case(rng) for _ in range(60)]
    data = run_on_cortex_m4(
        tmp_path,
        [tmp_path / "harness.c", KERNELS / "tm2_int4.c"],
        st.pack("<I", len(cases)) + b"".join(_encode_case(c) for c in cases),
        defines=["TM2_PORTABLE"] if variant == "portable" else None,
    )
    pos = 0
    for case in cases:
        got = np.frombuffer(data[pos : pos + case.expected.size], np.int8).reshape(case.expected.shape)
        (guard,) = st.unpack_from("<I", data, pos + case.expected.size)
        pos += case.expected.size + 4
        assert np.array_equal(got, case.expected), (variant, case.desc)
        assert guard == 1, (variant, "wrote past the output", case.desc)
    assert pos == len(data)


# ---------------------------------------------------------------- int8 -> int4 requantisation


def test_requantize_int4_rescales_weights_and_bias():
    from tinym2net.int4 import requantize_int4

    rng = np.random.default_rng(3)
    w = rng.integers(-127, 128, (4, 2, 2, 3)).astype(np.int8)
    s8 = np.float32([0.01, 0.02, 0.005, 0.04])
    b = rng.integers(-5000, 5000, 4).astype(np.int32)
    xt, yt = _act((1, 4, 4, 3), 0.03, 1), _act((1, 4, 4, 4), 0.2, 0)
    wt = Tensor(1, "w", w.shape, DType.INT8, quant(s8, np.zeros(4), 0), w)
    bt = Tensor(2, "b", (4,), DType.INT32, quant(np.float32(0.03) * s8, np.zeros(4)), b)
    _, g = _graph(OpKind.CONV_2D, Conv2DOptions(Padding.VALID, 1, 1), xt, wt, bt, yt)
    g4 = requantize_int4(g)
    w4, b4 = g4.tensors[1], g4.tensors[2]
    q4, s4 = ref4.requantize_weights(w, s8, axis=0)
    assert w4.dtype is DType.INT4 and np.array_equal(w4.data, q4)
    assert np.allclose(w4.quant.scale, s4, rtol=0, atol=0)
    assert int(np.abs(w4.data).max()) == 7 and w4.quant.zero_point == (0,) * 4
    for c in range(4):
        bias_scale = float(np.float32(0.03) * np.float32(s4[c]))
        assert b4.quant.scale[c] == bias_scale
        want = b[c] * float(np.float32(0.03)) * float(s8[c]) / bias_scale
        assert abs(int(b4.data[c]) - want) <= 0.5
    assert g.tensors[1].dtype is DType.INT8  # the input graph is not modified


def test_requantized_fc_is_per_tensor_with_one_bias_scale():
    from tinym2net.int4 import requantize_int4

    rng = np.random.default_rng(4)
    w = rng.integers(-127, 128, (5, 9)).astype(np.int8)
    s8 = np.float32([0.01, 0.02, 0.03, 0.04, 0.05])  # per-channel int8 in, per-tensor int4 out
    xt, yt = _act((1, 9), 0.1, 0), _act((1, 5), 0.3, 0)
    wt = Tensor(1, "w", w.shape, DType.INT8, quant(s8, np.zeros(5)), w)
    bt = Tensor(2, "b", (5,), DType.INT32, quant(np.float32(0.1) * s8, np.zeros(5)), np.arange(5, dtype=np.int32))
    _, g = _graph(OpKind.FULLY_CONNECTED, FullyConnectedOptions(), xt, wt, bt, yt)
    g4 = requantize_int4(g)
    q4, s4 = ref4.requantize_weights(w, s8, axis=None)
    assert len(g4.tensors[1].quant.scale) == 1 and len(g4.tensors[2].quant.scale) == 1
    assert np.array_equal(g4.tensors[1].data, q4) and g4.tensors[1].quant.scale[0] == s4[0]


# ---------------------------------------------------------------- whole models on the host


def _host_vs(model: bytes, name: str, tmp: Path, reference: str, n: int = 6) -> int:
    graph = parse_tflite(model, name=name)
    graph.reference = reference
    compiled = compile_graph(graph, model)
    d = tmp / f"{name}_{reference}"
    write_artifact(compiled, d, model_name=name, board=None)
    exe = build_host_model(d, d / "model_host")
    samples = random_inputs(graph, n, seed=17)
    got = run_host_model(exe, graph, samples)
    want = run_litert(model, graph, samples) if reference == "litert" else run_tflm(model, graph, samples)
    assert sum(a.size for s in want for a in s) > 0
    return compare_outputs(got, want)


def _weighted_dtypes(model: bytes) -> set[DType]:
    g = parse_tflite(model, name="m")
    return {g.tensors[op.inputs[1]].dtype for op in g.operators if op.kind in WEIGHTED}


@pytest.fixture(scope="session")
def mlperf_int4(tmp_path_factory) -> dict[str, tuple[bytes, bytes]]:
    from tinym2net.int4 import requantize_tflite_int4

    out = {}
    for name in MLPERF_MODELS:
        b8 = mlperf_path(name).read_bytes()
        out[name] = (b8, requantize_tflite_int4(b8, name=name))
    return out


# TFLite Micro is compared on the models whose FULLY_CONNECTED outputs differ most between the two
# interpreters (ad01: FC only; kws: conv + depthwise + FC); every model is compared with LiteRT.
_MLPERF_REFS = {"kws_ref_model": ("litert", "tflm"), "ad01_int8": ("litert", "tflm")}


@pytest.mark.parametrize("name", MLPERF_MODELS)
def test_mlperf_int4_bit_exact_on_host(name, mlperf_int4, tmp_path):
    b8, b4 = mlperf_int4[name]
    assert _weighted_dtypes(b4) == {DType.INT4}
    c8 = compile_graph(parse_tflite(b8, name), b8)
    c4 = compile_graph(parse_tflite(b4, name), b4)
    assert c4.weights_bytes <= 0.52 * c8.weights_bytes, (c4.weights_bytes, c8.weights_bytes)
    assert c4.arena_bytes <= c8.arena_bytes
    for reference in _MLPERF_REFS.get(name, ("litert",)):
        assert _host_vs(b4, name, tmp_path, reference) == 0, reference


def test_litert_and_tflm_differ_on_int4_fc_and_graph_reference_selects(mlperf_int4):
    """The two interpreters round int4 FULLY_CONNECTED differently (LiteRT once, TFLite Micro twice), so
    matching both above is only possible because ``graph.reference`` picks the rescale."""
    _, b4 = mlperf_int4["ad01_int8"]
    graph = parse_tflite(b4, name="ad01")
    samples = random_inputs(graph, 2, seed=17)
    assert compare_outputs(run_litert(b4, graph, samples), run_tflm(b4, graph, samples)) > 0


@pytest.fixture(scope="session")
def zoo_int4() -> dict[str, tuple[bytes, bytes]]:
    """(all-int8, all-int4) ai-edge-quantizer models of some zoo graphs, from their float versions."""
    pytest.importorskip("ai_edge_quantizer")
    from tinym2net.int4 import calibrate, quantize_int4
    from tinym2net.zoo import build_keras_model, convert_keras, representative_samples

    out = {}
    for name in ZOO_INT4:
        model, specs = build_keras_model(name, seed=0)
        fl = convert_keras(model, specs, mode="float")
        cal = calibrate(fl, representative_samples(specs, 0))
        out[name] = (quantize_int4(fl, int4=[], calibration=cal), quantize_int4(fl, calibration=cal))
    return out


@pytest.mark.parametrize("name", ZOO_INT4)
def test_zoo_int4_from_float_bit_exact_on_host(name, zoo_int4, tmp_path):
    b8, b4 = zoo_int4[name]
    assert _weighted_dtypes(b4) == {DType.INT4} and _weighted_dtypes(b8) == {DType.INT8}
    c8 = compile_graph(parse_tflite(b8, name), b8)
    c4 = compile_graph(parse_tflite(b4, name), b4)
    assert c4.weights_bytes <= 0.52 * c8.weights_bytes
    assert c4.arena_bytes <= c8.arena_bytes
    for reference in ("litert", "tflm") if name == "tri_modal" else ("litert",):
        assert _host_vs(b4, name, tmp_path, reference) == 0, reference


# ---------------------------------------------------------------- emulator


@pytest.mark.emulator
def test_int4_models_bit_exact_in_emulator_and_use_no_more_ram(mlperf_int4, zoo_int4, tmp_path):
    """``check`` (firmware in QEMU vs LiteRT) on int4 models; the int4 build needs no more RAM than the int8
    build (the packed weights are read in place, no unpacked copy or scratch) and, for the MLPerf models,
    less flash."""
    require_cross_tools()
    from tinym2net.boards import load_board
    from tinym2net.verify import check_model

    board = load_board("nano33")
    models = {**{n: mlperf_int4[n] for n in MLPERF_MODELS}, **{n: zoo_int4[n] for n in ZOO_INT4[:2]}}
    for name, (b8, b4) in models.items():
        p8, p4 = tmp_path / f"{name}_int8.tflite", tmp_path / f"{name}_int4.tflite"
        p8.write_bytes(b8)
        p4.write_bytes(b4)
        r8 = check_model(p8, board, inputs=3, seed=1)
        r4 = check_model(p4, board, inputs=3, seed=1)
        assert r4.bit_exact, (name, r4.first_mismatch)
        assert r4.weights_bytes <= 0.52 * r8.weights_bytes, (name, r4.weights_bytes, r8.weights_bytes)
        assert r4.ram_bytes <= r8.ram_bytes, (name, r4.ram_bytes, r8.ram_bytes)
        if name in MLPERF_MODELS:  # weights dominate; in a 1 KB zoo model the int4 kernels' code outweighs them
            assert r4.flash_bytes < r8.flash_bytes, name


# ---------------------------------------------------------------- QAT and mixed precision


@pytest.fixture(scope="session")
def tiny_student():
    """A small two-modality student (the project's builder, BatchNorm folded), data and labels."""
    pytest.importorskip("ai_edge_quantizer")
    from tinym2net.data.dataset import Split
    from tinym2net.models.student import StudentConfig, build_student, fold_batchnorm

    mods = {"depth": (8, 8, 1), "thermal": (12, 16, 1)}
    cfg = StudentConfig(width=4, blocks=1, head_units=8)
    rng = np.random.default_rng(0)
    n = 96
    x = {k: rng.normal(size=(n, *s)).astype(np.float32) for k, s in mods.items()}
    y = (x["depth"].mean(axis=(1, 2, 3)) > 0).astype(np.int64) + 2 * (x["thermal"][:, :6].mean(axis=(1, 2, 3)) > 0)
    model = fold_batchnorm(build_student(mods, 4, cfg), mods, 4, cfg)
    split = Split(x, y)
    return model, mods, split


@pytest.mark.slow
def test_qat_converts_to_native_int4_and_runs_bit_exact(tiny_student, tmp_path):
    from tinym2net.int4 import QATSettings, qat_int4

    model, mods, split = tiny_student
    tfl, qat = qat_int4(model, split, split, QATSettings(epochs=1, batch_size=32))
    g = parse_tflite(tfl, name="qat")
    assert _weighted_dtypes(tfl) == {DType.INT4}
    assert {g.tensors[i].dtype for i in (*g.inputs, *g.outputs)} == {DType.INT8}
    assert sorted(g.tensors[i].name for i in g.inputs) == sorted(f"serving_default_{m}:0" for m in mods)
    assert any(layer.name.startswith("fq_") for layer in qat.layers)
    # the conv weights sit on the 4-bit grid that training used: -7..7, every channel reaching +-7
    for op in g.operators:
        if op.kind is OpKind.CONV_2D:
            w = g.tensors[op.inputs[1]].data
            assert np.abs(w).max() <= 7
            assert np.all(np.abs(w.reshape(w.shape[0], -1)).max(axis=1) == 7)
    assert _host_vs(tfl, "qat", tmp_path, "litert") == 0
    assert _host_vs(tfl, "qat", tmp_path, "tflm") == 0


def test_greedy_switches_least_sensitive_layers_until_the_budget_fits():
    from tinym2net.errors import UsageError
    from tinym2net.int4 import WeightedLayer
    from tinym2net.mixed_precision import LayerSensitivity, greedy_int4

    def s(i, drop, saving):
        return LayerSensitivity(WeightedLayer(i, OpKind.CONV_2D, f"l{i};", 10), 0.9 - drop, drop, saving)

    sens = [s(0, 0.05, 100), s(1, 0.0, 40), s(2, 0.01, 300), s(3, 0.0, 60)]
    assert greedy_int4(sens, 1000, 1000) == []
    assert [layer.index for layer in greedy_int4(sens, 1000, 950)] == [3]  # ties: larger saving first
    assert [layer.index for layer in greedy_int4(sens, 1000, 900)] == [1, 3]
    assert [layer.index for layer in greedy_int4(sens, 1000, 899)] == [1, 2, 3]
    with pytest.raises(UsageError, match="budget"):
        greedy_int4(sens, 1000, 499)


def test_mixed_precision_fits_the_budget_with_per_layer_bits(tiny_student, tmp_path):
    from tinym2net.int4 import float_tflite, split_samples, weighted_layers
    from tinym2net.mixed_precision import mixed_precision, weights_bytes

    model, mods, split = tiny_student
    fl = float_tflite(model)
    samples = split_samples(split.x, list(mods), 24)
    full = mixed_precision(fl, samples, split, 10**9)
    assert full.int4_layers == [] and full.weights_bytes == full.int8_weights_bytes
    budget = full.int8_weights_bytes - 1
    r = mixed_precision(fl, samples, split, budget)
    assert r.weights_bytes == weights_bytes(r.tflite) <= budget
    assert len(r.sensitivities) == len(weighted_layers(fl)) > len(r.int4_layers) >= 1
    # which layers came out int4, found by scope (op indices may shift when the quantizer inserts ops)
    g = parse_tflite(r.tflite, name="mixed")
    scopes = {layer.index: layer.scope for layer in weighted_layers(r.tflite)}
    int4_scopes = {scopes[op.index] for op in g.operators
                   if op.kind in WEIGHTED and g.tensors[op.inputs[1]].dtype is DType.INT4}
    assert int4_scopes == {layer.scope for layer in r.int4_layers}
    assert r.bits == {s.layer.scope: 4 if s.layer.scope in int4_scopes else 8 for s in r.sensitivities}
    assert _host_vs(r.tflite, "mixed", tmp_path, "litert") == 0
