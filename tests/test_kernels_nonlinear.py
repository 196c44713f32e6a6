"""Ladder tests for the int8 SOFTMAX, LOGISTIC and MEAN kernels (tolerance 0 everywhere).

1. gemmlowp helpers: the static inline functions of ``tm2_gemmlowp.h`` (through a small C shim) equal the
   Python port in ``refops_nonlinear`` on random and edge fixed-point words;
2. kernels: on random shapes, quantisations and betas, the lowering's build-time numbers equal the ones
   ``refops_nonlinear`` computes independently, and the C kernels (host gcc, ctypes) equal the reference;
3. templates: ``decl``/``call`` render C that compiles with the kernels and prints the reference bytes;
4. anchors: tiny tf.keras models converted to full-integer int8 (plus copies with other quantisation
   written into the flatbuffer) run in LiteRT's BUILTIN_REF interpreter and in TFLite Micro; the model is
   read by tinym2net's importer, lowered, and the C kernels must give the interpreters' bytes. LOGISTIC
   is anchored to TFLite Micro; where LiteRT's float table disagrees, a test pins the known case.
"""

from __future__ import annotations

import ctypes

import numpy as np
import pytest
import refops_nonlinear as ref
from kernel_lib import (
    KERNELS,
    build_kernel_lib,
    guarded_output,
    kernel_lib_or_skip,
    make_struct,
    ptr,
    quant,
    render_op,
    require_host_cc,
    run_host_program,
    run_on_cortex_m4,
    struct_from_header,
    template_env,
    unguard,
)

from tinym2net.errors import UnsupportedOpError
from tinym2net.ir import (
    DType,
    Graph,
    NoOptions,
    Operator,
    OpKind,
    ReducerOptions,
    SoftmaxOptions,
    Tensor,
)
from tinym2net.ops import logistic as _logistic  # noqa: F401  (registers the lowerings)
from tinym2net.ops import mean as _mean  # noqa: F401
from tinym2net.ops import softmax as _softmax  # noqa: F401
from tinym2net.ops.base import Lowered, lower

SOURCES = [KERNELS / f for f in ("tm2_softmax.c", "tm2_logistic.c", "tm2_mean.c")]
KERNEL_OF = {
    OpKind.SOFTMAX: ("tm2_softmax.h", "tm2_softmax_params", "tm2_softmax_s8"),
    OpKind.LOGISTIC: ("tm2_logistic.h", "tm2_logistic_params", "tm2_logistic_s8"),
    OpKind.MEAN: ("tm2_mean.h", "tm2_mean_params", "tm2_mean_s8"),
}
ALL_INT8 = np.arange(-128, 128, dtype=np.int8)

SHIM = r"""
#include "tm2_gemmlowp.h"
int32_t shim_exp(int32_t a, int32_t int_bits) { return tm2_fp_exp_on_negative_values(a, int_bits); }
int32_t shim_logistic(int32_t a, int32_t int_bits) { return tm2_fp_logistic(a, int_bits); }
int32_t shim_one_over(int32_t a) { return tm2_fp_one_over_one_plus_x_for_x_in_0_1(a); }
int32_t shim_reciprocal(int32_t x, int32_t int_bits, int32_t *bits_over_unit) {
  int n = 0;
  int32_t r = tm2_get_reciprocal(x, int_bits, &n);
  *bits_over_unit = n;
  return r;
}
"""


@pytest.fixture(scope="session")
def lib(tmp_path_factory):
    return kernel_lib_or_skip(tmp_path_factory, "nonlinear_kernels", SOURCES)


@pytest.fixture(scope="session")
def shim(tmp_path_factory):
    require_host_cc()
    d = tmp_path_factory.mktemp("gemmlowp_shim")
    (d / "shim.c").write_text(SHIM)
    so = build_kernel_lib(d, [d / "shim.c"])
    for name in ("shim_exp", "shim_logistic", "shim_one_over", "shim_reciprocal"):
        getattr(so, name).restype = ctypes.c_int32
    return so


# ---------------------------------------------------------------- IR helpers


def _one_op(
    kind: OpKind, options, x: Tensor, y: Tensor, consts: tuple[Tensor, ...] = ()
) -> tuple[Operator, Graph]:
    tensors = [x, *consts, y]
    for i, t in enumerate(tensors):
        t.index = i
    op = Operator(0, kind, tuple(range(len(tensors) - 1)), (len(tensors) - 1,), options)
    return op, Graph("t", tensors, [op], [0], [len(tensors) - 1])


def _act(shape, scale, zp, dtype=DType.INT8) -> Tensor:
    return Tensor(0, "t", tuple(int(d) for d in shape), dtype, quant(scale, zp))


def softmax_case(shape, in_scale, in_zp, beta=1.0, out_scale=1 / 256, out_zp=-128) -> tuple[Operator, Graph]:
    return _one_op(
        OpKind.SOFTMAX, SoftmaxOptions(beta), _act(shape, in_scale, in_zp), _act(shape, out_scale, out_zp)
    )


def logistic_case(shape, in_scale, in_zp, out_scale=1 / 256, out_zp=-128) -> tuple[Operator, Graph]:
    return _one_op(OpKind.LOGISTIC, NoOptions(), _act(shape, in_scale, in_zp), _act(shape, out_scale, out_zp))


def mean_case(shape, axes, keep_dims, in_q, out_q) -> tuple[Operator, Graph]:
    rank = len(shape)
    resolved = {a % rank for a in axes}
    out_shape = [1 if i in resolved else d for i, d in enumerate(shape) if keep_dims or i not in resolved]
    axes_t = Tensor(0, "axes", (len(axes),), DType.INT32, None, np.array(axes, np.int32))
    return _one_op(
        OpKind.MEAN, ReducerOptions(keep_dims), _act(shape, *in_q), _act(out_shape, *out_q), (axes_t,)
    )


def run_kernel(
    lib, kind: OpKind, lw: Lowered, x: np.ndarray, out_size: int, in_place: bool = False
) -> np.ndarray:
    """Call the C kernel with the lowering's params; every output byte must be written, none past the end."""
    header, typedef, fn = KERNEL_OF[kind]
    cls = struct_from_header(KERNELS / header, typedef)
    names = {f for f, _ in cls._fields_}
    params = make_struct(cls, {k: v for k, v in lw.params.items() if k in names})
    x = np.ascontiguousarray(x, np.int8).reshape(-1)
    out = guarded_output(out_size)
    if in_place:
        out[: x.size] = x
        getattr(lib, fn)(ctypes.byref(params), ptr(out), ptr(out))
    else:
        getattr(lib, fn)(ctypes.byref(params), ptr(x), ptr(out))
    return unguard(out, out_size).copy()


# ---------------------------------------------------------------- 1. gemmlowp helpers


def _edge_words(rng, n):
    edges = [
        0,
        -1,
        1,
        -(1 << 31),
        (1 << 31) - 1,
        -(1 << 29),
        -(1 << 30),
        -(1 << 26),
        -(1 << 24),
        -(1 << 27) - 1,
    ]
    return edges + [int(v) for v in rng.integers(-(1 << 31), 1 << 31, n)]


@pytest.mark.parametrize("int_bits", [0, 1, 4, 5, 6, 12])
def test_exp_on_negative_values_matches_gemmlowp_port(shim, int_bits):
    rng = np.random.default_rng(int_bits)
    words = [w for w in _edge_words(rng, 3000) if w <= 0] + [-int(v) for v in rng.integers(0, 1 << 28, 500)]
    got = [shim.shim_exp(w, int_bits) for w in words]
    want = [ref.exp_on_negative_values(w, int_bits) for w in words]
    assert got == want
    # sanity of the port itself: it is exp() to about 1e-6
    for w, e in zip(words[:200], want[:200], strict=True):
        assert abs(e / 2**31 - np.exp(w / 2 ** (31 - int_bits))) < 1e-6


@pytest.mark.parametrize("int_bits", [0, 2, 4, 5])
def test_logistic_matches_gemmlowp_port(shim, int_bits):
    rng = np.random.default_rng(10 + int_bits)
    words = _edge_words(rng, 3000)
    assert [shim.shim_logistic(w, int_bits) for w in words] == [
        ref.logistic_fixed(w, int_bits) for w in words
    ]


def test_reciprocal_and_one_over_one_plus_x_match_port(shim):
    rng = np.random.default_rng(7)
    xs = [0, 1, (1 << 31) - 1, 1 << 30] + [int(v) for v in rng.integers(0, 1 << 31, 3000)]
    assert [shim.shim_one_over(a) for a in xs] == [ref.one_over_one_plus_x_for_x_in_0_1(a) for a in xs]
    for a in xs[:100]:
        assert abs(ref.one_over_one_plus_x_for_x_in_0_1(a) / 2**31 - 1 / (1 + a / 2**31)) < 1e-8
    bits = ctypes.c_int32()
    for x in [1, 1 << 19, (1 << 31) - 1] + [int(v) for v in rng.integers(1, 1 << 31, 2000)]:
        r = shim.shim_reciprocal(x, 12, ctypes.byref(bits))
        assert (r, bits.value) == ref.get_reciprocal(x, 12)


# ---------------------------------------------------------------- 2. kernels vs reference


def test_softmax_random_cases(lib):
    rng = np.random.default_rng(1)
    fixed = [(0.1, 1.0), (40.0, 1.0), (32.0, 1.0), (1e-5, 1.0), (1e-7, 1.0), (0.5, 1e-6), (0.25, 3.0)]
    for k in range(40):
        if k < len(fixed):
            scale, beta = fixed[k]
        else:
            scale, beta = 10 ** rng.uniform(-3, 1.2), (10 ** rng.uniform(-1, 1) if k % 2 else 1.0)
        zp = int(rng.integers(-128, 128))
        rank = int(rng.integers(1, 5))
        shape = [int(rng.integers(1, 4)) for _ in range(rank - 1)] + [int(rng.integers(1, 40))]
        op, g = softmax_case(shape, scale, zp, beta)
        lw = lower(op, g)
        m, s, dm = ref.softmax_params(scale, beta)
        assert (lw.params["input_multiplier"], lw.params["input_left_shift"], lw.params["diff_min"]) == (
            m,
            s,
            dm,
        )
        x = rng.integers(-128, 128, shape).astype(np.int8)
        x.reshape(-1, shape[-1])[0, : max(1, shape[-1] // 2)] = 127  # ties at the maximum
        want = ref.softmax_ref(x, m, s, dm).reshape(-1)
        np.testing.assert_array_equal(
            run_kernel(lib, OpKind.SOFTMAX, lw, x, x.size), want, err_msg=f"case {k}"
        )
        np.testing.assert_array_equal(run_kernel(lib, OpKind.SOFTMAX, lw, x, x.size, in_place=True), want)


def test_softmax_extreme_rows(lib):
    """Constant rows (511 wide: largest sum TFLite accepts; 4095: largest Q12 sum, where TFLite aborts and
    tinym2net writes -128), one-hot rows, a ramp."""
    for scale, row in [
        (0.05, np.full(511, 7, np.int8)),
        (0.05, np.full(4095, 7, np.int8)),
        (0.05, np.r_[np.int8(127), np.full(30, -128, np.int8)]),
        (2.0, np.r_[np.int8(0), np.int8(-1), np.full(6, -128, np.int8)]),
        (1e-4, np.arange(-128, 128, dtype=np.int8)),
    ]:
        op, g = softmax_case((1, row.size), scale, 0)
        lw = lower(op, g)
        m, s, dm = ref.softmax_params(scale, 1.0)
        got = run_kernel(lib, OpKind.SOFTMAX, lw, row, row.size)
        np.testing.assert_array_equal(got, ref.softmax_ref(row[None], m, s, dm).reshape(-1))
        if row.size == 511:
            assert (got == -127).all()  # 256 / 511 rounds to 1
        if row.size == 4095:
            assert (got == -128).all()


def test_logistic_all_inputs_random_quantisation(lib):
    rng = np.random.default_rng(2)
    cases = [(0.0039067366, -83), (0.1735776514, -45), (2.0**-28, 0), (16.0, 5), (1.0, -128)]
    cases += [(10 ** rng.uniform(-3, 0.5), int(rng.integers(-128, 128))) for _ in range(40)]
    for scale, zp in cases:
        op, g = logistic_case((256,), scale, zp)
        lw = lower(op, g)
        m, s, radius = ref.logistic_params(scale)
        p = lw.params
        assert (p["input_multiplier"], p["input_left_shift"], p["input_range_radius"]) == (m, s, radius)
        want = ref.logistic_ref(ALL_INT8, zp, radius, m, s)
        np.testing.assert_array_equal(
            run_kernel(lib, OpKind.LOGISTIC, lw, ALL_INT8, 256), want, err_msg=str(scale)
        )
        np.testing.assert_array_equal(
            run_kernel(lib, OpKind.LOGISTIC, lw, ALL_INT8, 256, in_place=True), want
        )
        assert np.all(np.diff(want.astype(int)) >= 0), "sigmoid must be monotonic"


def _random_mean_case(rng, k):
    rank = int(rng.integers(1, 5))
    shape = [int(rng.integers(1, 7)) for _ in range(rank)]
    n_axes = int(rng.integers(0, rank + 1))
    axes = [int(a) for a in rng.choice(rank, n_axes, replace=False)]
    axes = [a - rank if rng.random() < 0.3 else a for a in axes]  # negative spellings
    if axes and rng.random() < 0.2:
        axes.append(axes[0])  # a duplicate, which TFLite ignores
    in_scale = 10 ** rng.uniform(-3, 0)
    in_zp = int(rng.integers(-128, 128))
    if k % 4 == 0:
        out_scale, out_zp = in_scale, in_zp
    else:
        out_scale, out_zp = in_scale * 10 ** rng.uniform(-2, 2), int(rng.integers(-128, 128))
    return shape, axes, bool(rng.integers(0, 2)), (in_scale, in_zp), (out_scale, out_zp)


def test_mean_random_cases(lib):
    rng = np.random.default_rng(3)
    cases = [_random_mean_case(rng, k) for k in range(80)]
    # global average pooling shapes, equal and different quantisation, large n (shift clamp at 31 + shift)
    cases += [
        ([1, 7, 9, 16], [1, 2], False, (0.05, -3), (0.02, 7)),
        ([1, 5, 5, 8], [1, 2], True, (0.05, -3), (0.05, -3)),
        ([1, 64, 64, 2], [1, 2], False, (0.003, 100), (0.9, -100)),
        ([1, 40, 40, 3], [2, 1], False, (1e-3, 0), (1e-3 / 2**25, 0)),
        ([1, 32, 32, 2], [1, 2], False, (1e-6, 5), (1e-6 * 2**24, -7)),  # log2(n) clamped to 31 + shift
        ([2, 3], [], False, (0.1, 4), (0.07, -9)),
    ]
    for shape, axes, keep, in_q, out_q in cases:
        (op, g), mean = _mean_with_ref(shape, axes, keep, in_q, out_q)
        lw = lower(op, g)
        x = rng.integers(-128, 128, shape).astype(np.int8)
        want = mean(x).reshape(-1)
        got = run_kernel(lib, OpKind.MEAN, lw, x, want.size)
        np.testing.assert_array_equal(got, want, err_msg=f"{shape} {axes} {in_q} {out_q}")


def test_mean_extreme_inputs(lib):
    """All -128 / all 127 inputs saturate; an identity requantisation returns the input."""
    for fill in (-128, 127):
        (op, g), mean = _mean_with_ref([1, 9, 9, 4], [1, 2], False, (0.1, 0), (0.01, 0))
        lw = lower(op, g)
        x = np.full((1, 9, 9, 4), fill, np.int8)
        want = mean(x).reshape(-1)
        np.testing.assert_array_equal(run_kernel(lib, OpKind.MEAN, lw, x, 4), want)
        assert (want == fill).all()
    op, g = mean_case([3, 5], [], True, (0.1, 3), (0.1, 3))
    x = np.random.default_rng(4).integers(-128, 128, (3, 5)).astype(np.int8)
    np.testing.assert_array_equal(run_kernel(lib, OpKind.MEAN, lower(op, g), x, 15), x.reshape(-1))


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda: softmax_case((1, 10), 0.1, 0, out_scale=1 / 255), "1/256"),
        (lambda: softmax_case((1, 10), 0.1, 0, out_zp=0), "1/256"),
        (lambda: softmax_case((1, 4096), 0.1, 0), "4095"),
        (lambda: softmax_case((1, 10), 1e-9, 0), "2^-26"),
        (lambda: logistic_case((4,), 0.1, 0, out_zp=0), "1/256"),
        (lambda: logistic_case((4,), 1e-9, 0), "2^-28"),
        (lambda: mean_case([1, 2, 2, 2, 2], [1], False, (0.1, 0), (0.1, 0)), "rank 5"),
        (lambda: mean_case([1, 2, 2], [3], False, (0.1, 0), (0.1, 0)), "out of range"),
    ],
)
def test_unsupported_cases_are_refused_in_one_line(make, words):
    op, g = make()
    with pytest.raises(UnsupportedOpError) as err:
        lower(op, g)
    msg = str(err.value)
    assert words in msg and "\n" not in msg and msg.startswith("operator 0 (")


def test_int16_and_nonconstant_axes_are_refused():
    op, g = softmax_case((1, 4), 0.1, 0)
    g.tensors[0].dtype = DType.INT16
    with pytest.raises(UnsupportedOpError, match="int16"):
        lower(op, g)
    op, g = mean_case([1, 3, 3, 2], [1, 2], False, (0.1, 0), (0.1, 0))
    g.tensors[1].data = None
    with pytest.raises(UnsupportedOpError, match="constant"):
        lower(op, g)


# ---------------------------------------------------------------- 3. templates


def test_templates_render_to_c_that_computes_the_reference(tmp_path):
    env = template_env()
    rng = np.random.default_rng(9)
    cases = [
        _softmax_with_ref((2, 3, 7), 0.07, 5, 1.5),
        _softmax_with_ref((1, 5), 50.0, 0),
        _logistic_with_ref((3, 11), 0.04, -7),
        _mean_with_ref([1, 6, 5, 3], [1, 2], False, (0.02, -4), (0.006, 11)),
        _mean_with_ref([2, 3, 4], [-1], True, (0.1, 0), (0.1, 0)),
    ]
    decls, calls, expected = [], [], []
    for k, ((op, g), fn) in enumerate(cases):
        x = rng.integers(-128, 128, g.tensors[0].shape).astype(np.int8)
        _render_case(env, k, op, g, fn, x, decls, calls, expected, "fwrite({0}, 1, sizeof {0}, stdout);")
    headers = ["tm2_softmax.h", "tm2_logistic.h", "tm2_mean.h"]
    out = run_host_program(tmp_path, headers, decls, calls, SOURCES)
    np.testing.assert_array_equal(np.frombuffer(out, np.int8), np.concatenate(expected))


def _softmax_with_ref(shape, scale, zp, beta=1.0):
    """A SOFTMAX one-op graph and its NumPy reference (input -> output)."""
    return softmax_case(shape, scale, zp, beta), lambda x: ref.softmax_ref(
        x, *ref.softmax_params(scale, beta)
    )


def _logistic_with_ref(shape, scale, zp):
    return logistic_case(shape, scale, zp), lambda x: _logistic_ref(x, scale, zp)


def _mean_with_ref(shape, axes, keep, in_q, out_q):
    m, s = ref.quantize_multiplier(float(np.float32(in_q[0])) / float(np.float32(out_q[0])))
    return mean_case(shape, axes, keep, in_q, out_q), lambda x: ref.mean_ref(x, axes, in_q[1], out_q[1], m, s)


def _render_case(
    env, k: int, op: Operator, g: Graph, fn, x: np.ndarray, decls, calls, expected, write: str
) -> None:
    """Append op k's input and output arrays and template decl to ``decls``, its call and ``write`` of its
    output (a format string of the array's name) to ``calls``, and the reference ``fn(x)`` to ``expected``."""
    lw = lower(op, g)
    oid = f"op{k}"
    want = fn(x).reshape(-1)
    vals = ", ".join(str(int(v)) for v in x.reshape(-1))
    decls += [f"static int8_t {oid}_in[] = {{ {vals} }};", f"static int8_t {oid}_out[{want.size}];"]
    inputs: list[str | None] = [f"{oid}_in"] + [None] * (len(op.inputs) - 1)
    decl, call = render_op(env, lw, oid, op.kind.value, inputs, [f"{oid}_out"], index=k)
    decls.append(decl)
    calls += [call, write.format(f"{oid}_out")]
    expected.append(want)


def _logistic_ref(x, scale, zp):
    m, s, radius = ref.logistic_params(scale)
    return ref.logistic_ref(x, zp, radius, m, s)


# ---------------------------------------------------------------- 4. interpreter anchors


def _convert(model, shape, lo, hi) -> bytes:
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(11)

    def rep():
        for _ in range(24):
            yield [rng.uniform(lo, hi, (1, *shape)).astype(np.float32)]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    return conv.convert()


@pytest.fixture(scope="module")
def anchor_models():
    """Name -> .tflite bytes of one-op models as tf.keras + the converter produce them."""
    keras = pytest.importorskip("tensorflow").keras
    pytest.importorskip("ai_edge_litert.interpreter")
    L = keras.layers

    def one(layer, shape, lo=-4.0, hi=4.0):
        x = keras.Input(shape)
        return _convert(keras.Model(x, layer(x)), shape, lo, hi)

    return {
        "softmax": one(L.Softmax(), (4, 10), -6, 6),
        "sigmoid": one(L.Activation("sigmoid"), (3, 12), -9, 9),
        "gap": one(L.GlobalAveragePooling2D(), (6, 7, 5)),
        "mean_keep": one(L.Lambda(lambda t: keras.ops.mean(t, axis=1, keepdims=True)), (5, 9)),
        "mean_13": one(L.Lambda(lambda t: keras.ops.mean(t, axis=(1, 3))), (4, 5, 6)),
    }


def _litert(buf: bytes, xs: list[np.ndarray]) -> list[np.ndarray]:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(model_content=buf, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    i, o = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]
    out = []
    for x in xs:
        it.set_tensor(i, x)
        it.invoke()
        out.append(it.get_tensor(o).copy())
    return out


def _tflm(buf: bytes, xs: list[np.ndarray]) -> list[np.ndarray] | None:
    try:
        from tflite_micro import runtime
    except ImportError:
        return None
    it = runtime.Interpreter.from_bytes(buf, arena_size=64 * 1024)
    out = []
    for x in xs:
        it.set_input(x, 0)
        it.invoke()
        out.append(np.asarray(it.get_output(0)).copy())
    return out


def _requantised(buf: bytes, quants: dict[int, tuple[float, int]], beta: float | None = None) -> bytes:
    """The same model with other quantisation parameters (and softmax beta) written into the flatbuffer."""
    import flatbuffers
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(buf, 0))
    sg = model.subgraphs[0]
    for t, (scale, zp) in quants.items():
        sg.tensors[t].quantization.scale = [float(np.float32(scale))]
        sg.tensors[t].quantization.zeroPoint = [int(zp)]
    if beta is not None:
        sg.operators[0].builtinOptions.beta = float(np.float32(beta))
    b = flatbuffers.Builder(1024)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _variants(name: str, buf: bytes, rng) -> list[bytes]:
    """The converted model plus copies with random input (and, for MEAN, output) quantisation."""
    from tinym2net.importer import parse_tflite

    g = parse_tflite(buf, name)
    op = g.operators[0]
    t_in, t_out = op.inputs[0], op.outputs[0]
    out = [buf]
    for k in range(6):
        in_q = (10 ** rng.uniform(-3, 0.3), int(rng.integers(-128, 128)))
        quants = {t_in: in_q}
        beta = None
        if op.kind is OpKind.MEAN:
            quants[t_out] = (
                in_q if k % 3 == 0 else (in_q[0] * 10 ** rng.uniform(-1.5, 1.5), int(rng.integers(-128, 128)))
            )
        if op.kind is OpKind.SOFTMAX and k % 2:
            beta = 10 ** rng.uniform(-1, 1)
        out.append(_requantised(buf, quants, beta))
    return out


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("name", ["softmax", "sigmoid", "gap", "mean_keep", "mean_13"])
def test_interpreter_anchor(lib, anchor_models, name):
    """LiteRT BUILTIN_REF == TFLite Micro == tinym2net (importer + lowering + C kernel), byte for byte."""
    from tinym2net.importer import parse_tflite

    rng = np.random.default_rng(sum(map(ord, name)))
    for buf in _variants(name, anchor_models[name], rng):
        g = parse_tflite(buf, name)
        (op,) = g.operators
        lw = lower(op, g)
        shape = g.tensors[g.inputs[0]].shape
        xs = [rng.integers(-128, 128, shape).astype(np.int8) for _ in range(6)]
        xs.append(np.full(shape, 127, np.int8))
        xs.append(np.full(shape, -128, np.int8))
        if op.kind is OpKind.LOGISTIC:
            xs.append(np.resize(ALL_INT8, shape).astype(np.int8))
        lite = _litert(buf, xs)
        micro = _tflm(buf, xs)
        out_size = g.tensors[g.outputs[0]].size
        for i, x in enumerate(xs):
            ours = run_kernel(lib, op.kind, lw, x, out_size)
            if micro is not None:
                np.testing.assert_array_equal(ours, micro[i].reshape(-1), err_msg=f"{name}: TFLite Micro")
            if op.kind is not OpKind.LOGISTIC or micro is None:
                np.testing.assert_array_equal(ours, lite[i].reshape(-1), err_msg=f"{name}: LiteRT")
            elif not np.array_equal(ours, lite[i].reshape(-1)):
                # LiteRT's LOGISTIC reads a float32 table; where it differs from the fixed-point result
                # (rare, see tinym2net/ops/logistic.py) LiteRT must give exactly that table's entries.
                xq = g.tensors[g.inputs[0]].quant
                table = ref.logistic_litert_lut(xq.scale[0], xq.zero_point[0])
                np.testing.assert_array_equal(lite[i].reshape(-1), table[x.reshape(-1).astype(int) + 128])


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_logistic_litert_and_tflm_differ_on_a_known_input(lib, anchor_models):
    """Where the two TFLite interpreters disagree, tinym2net gives TFLite Micro's value (fixed point), and
    LiteRT's value is the float32 table entry (libm expf)."""
    pytest.importorskip("tflite_micro")
    from tinym2net.importer import parse_tflite

    scale, zp, x_val = 0.0039067366, -83, -73
    g0 = parse_tflite(anchor_models["sigmoid"], "sigmoid")
    buf = _requantised(anchor_models["sigmoid"], {g0.inputs[0]: (scale, zp)})
    g = parse_tflite(buf, "sigmoid")
    x = np.full(g.tensors[g.inputs[0]].shape, x_val, np.int8)
    ours = run_kernel(lib, OpKind.LOGISTIC, lower(g.operators[0], g), x, x.size)
    micro = _tflm(buf, [x])[0].reshape(-1)
    lite = _litert(buf, [x])[0].reshape(-1)
    np.testing.assert_array_equal(ours, micro)
    assert int(ours[0]) == int(_logistic_ref(np.int8([x_val]), scale, zp)[0]) == 2
    assert int(lite[0]) == int(ref.logistic_litert_lut(scale, zp)[x_val + 128]) == 3


# ---------------------------------------------------------------- 5. on the Cortex-M4 (QEMU)


@pytest.mark.emulator
def test_kernels_on_cortex_m4_in_qemu(tmp_path):
    """The same rendered templates, cross-compiled for the nRF52840's core (Cortex-M4F) with the project's
    start-up and semihosting I/O, run in QEMU (mps2-an386): the output bytes equal the reference."""
    env = template_env()
    rng = np.random.default_rng(123)
    cases = []
    for k in range(12):
        scale, beta = 10 ** rng.uniform(-3, 1.2), (10 ** rng.uniform(-1, 1) if k % 2 else 1.0)
        shape = (int(rng.integers(1, 4)), int(rng.integers(1, 40)))
        cases.append(_softmax_with_ref(shape, scale, int(rng.integers(-128, 128)), beta))
    for _ in range(12):
        scale, zp = 10 ** rng.uniform(-3, 0.5), int(rng.integers(-128, 128))
        cases.append(_logistic_with_ref((256,), scale, zp))
    for k in range(20):
        cases.append(_mean_with_ref(*_random_mean_case(rng, k)))
    decls, calls, expected = [], [], []
    for k, ((op, g), fn) in enumerate(cases):
        x = (
            ALL_INT8.copy()
            if op.kind is OpKind.LOGISTIC
            else rng.integers(-128, 128, g.tensors[0].shape).astype(np.int8)
        )
        _render_case(env, k, op, g, fn, x, decls, calls, expected, "tm2_io_write({0}, sizeof {0});")
    src = "\n".join(
        [
            '#include "tm2_io.h"',
            '#include "tm2_softmax.h"',
            '#include "tm2_logistic.h"',
            '#include "tm2_mean.h"',
        ]
        + decls
        + ["int main(int argc, char **argv) {", "if (tm2_io_open(argc, argv) != 0) return 2;"]
        + calls
        + ["tm2_io_close();", "return 0;", "}"]
    )
    (tmp_path / "prog.c").write_text(src)
    out = run_on_cortex_m4(
        tmp_path, [tmp_path / "prog.c", *SOURCES], b"\0\0\0\0", stack_bytes=16384, timeout_s=60
    )
    np.testing.assert_array_equal(np.frombuffer(out, np.int8), np.concatenate(expected))
