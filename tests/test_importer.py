"""Tests for the TFLite importer (flatbuffer -> IR), the TFLite writer and the model zoo.

* The four MLPerf Tiny reference models and every zoo model are imported and compared, tensor by
  tensor and operator by operator, with what LiteRT's own interpreter reports (names, shapes,
  dtypes, quantisation, constant data, operator inputs/outputs).
* The zoo covers every OpKind and the op variants the kernels care about; it is deterministic.
* Each kind of bad input gives a one-line ModelError / UnsupportedOpError that names the problem:
  missing/empty/non-TFLite/truncated files, float and dynamic-range models from the real
  converter, and models made with :class:`TFLiteBuilder` that differ from a valid one in one
  property only (unsupported or custom op, op version, fused TANH, int16, uint8, asymmetric
  weights, batch 2, control flow, ...).
* A seeded mutation fuzz of a real model raises nothing but ModelError.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from tflite.BuiltinOptions import BuiltinOptions as BO
from tflite.TensorType import TensorType as TT

from tinym2net.errors import ModelError, UnsupportedOpError
from tinym2net.importer import load_tflite, parse_tflite
from tinym2net.importer.tflite_reader import unpack_int4
from tinym2net.importer.tflite_writer import TFLiteBuilder, fb, tensor_bytes, write_tflite
from tinym2net.ir import Activation, DType, Graph, OpKind, Padding, Tensor

SHARED = Path(__file__).parents[2] / "shared"
MLPERF = SHARED / "benchmarks" / "mlperf_tiny"

# Operator counts as published with the models (shared/benchmarks/mlperf_tiny/README.md).
MLPERF_OPS = {
    "ad01_int8.tflite": {"FULLY_CONNECTED": 10},
    "kws_ref_model.tflite": {
        "CONV_2D": 5,
        "DEPTHWISE_CONV_2D": 4,
        "AVERAGE_POOL_2D": 1,
        "RESHAPE": 1,
        "FULLY_CONNECTED": 1,
        "SOFTMAX": 1,
    },
    "vww_96_int8.tflite": {
        "CONV_2D": 14,
        "DEPTHWISE_CONV_2D": 13,
        "AVERAGE_POOL_2D": 1,
        "RESHAPE": 1,
        "FULLY_CONNECTED": 1,
        "SOFTMAX": 1,
    },
    "pretrainedResnet_quant.tflite": {
        "CONV_2D": 9,
        "ADD": 3,
        "AVERAGE_POOL_2D": 1,
        "RESHAPE": 1,
        "FULLY_CONNECTED": 1,
        "SOFTMAX": 1,
    },
}
MLPERF_INPUTS = {
    "ad01_int8.tflite": (1, 640),
    "kws_ref_model.tflite": (1, 49, 10, 1),
    "vww_96_int8.tflite": (1, 96, 96, 3),
    "pretrainedResnet_quant.tflite": (1, 32, 32, 3),
}


def mlperf_bytes(name: str) -> bytes:
    path = MLPERF / name
    if not path.is_file():
        pytest.skip(
            f"MLPerf Tiny reference model {path} is absent (shared/ is expected beside the repository)"
        )
    return path.read_bytes()


def litert(buf: bytes):
    interp = pytest.importorskip("ai_edge_litert.interpreter")
    it = interp.Interpreter(
        model_content=buf, experimental_op_resolver_type=interp.OpResolverType.BUILTIN_REF
    )
    it.allocate_tensors()
    return it


def assert_matches_litert(graph: Graph, buf: bytes) -> None:
    """Every tensor and operator of ``graph`` agrees with LiteRT's view of the same flatbuffer."""
    it = litert(buf)
    details = {d["index"]: d for d in it.get_tensor_details()}
    # LiteRT appends its own scratch tensors after the file's (e.g. for MEAN): compare the file's
    assert {i for i in details if i < len(graph.tensors)} == {t.index for t in graph.tensors}
    for t in graph.tensors:
        d = details[t.index]
        assert t.name == d["name"]
        assert t.shape == tuple(int(v) for v in d["shape"])
        if t.dtype is not DType.INT4:
            assert np.dtype(t.dtype.value) == np.dtype(d["dtype"]), t.name
        qp = d["quantization_parameters"]
        if t.quant is None:
            assert len(qp["scales"]) == 0, t.name
        else:
            assert np.array_equal(np.float32(t.quant.scale), qp["scales"]), t.name
            assert list(t.quant.zero_point) == [int(z) for z in qp["zero_points"]], t.name
            assert t.quant.axis == qp["quantized_dimension"], t.name
        if t.is_const and t.dtype is not DType.INT4:
            assert np.array_equal(t.data, it.get_tensor(t.index)), t.name
    ops = it._get_ops_details()
    assert [op.kind.value for op in graph.operators] == [o["op_name"] for o in ops]
    for op, o in zip(graph.operators, ops, strict=True):
        assert list(op.inputs) == [int(i) for i in o["inputs"]]
        assert list(op.outputs) == [int(i) for i in o["outputs"]]
    assert graph.inputs == [d["index"] for d in it.get_input_details()]
    assert graph.outputs == [d["index"] for d in it.get_output_details()]


# ---------------------------------------------------------------------------------------------
# MLPerf Tiny reference models
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(MLPERF_OPS))
def test_mlperf_model_matches_litert(name: str) -> None:
    buf = mlperf_bytes(name)
    graph = parse_tflite(buf, Path(name).stem)
    assert Counter(op.kind.value for op in graph.operators) == Counter(MLPERF_OPS[name])
    assert graph.tensor(graph.inputs[0]).shape == MLPERF_INPUTS[name]
    assert graph.tensor(graph.inputs[0]).dtype is DType.INT8
    assert_matches_litert(graph, buf)


def test_load_tflite_reads_file_and_options() -> None:
    mlperf_bytes("kws_ref_model.tflite")
    graph = load_tflite(MLPERF / "kws_ref_model.tflite")
    assert graph.name == "kws_ref_model"
    first = graph.operators[0]
    assert first.kind is OpKind.CONV_2D and first.version == 3
    o = first.options
    assert (o.padding, o.stride_h, o.stride_w, o.activation) == (Padding.SAME, 2, 2, Activation.RELU)
    w = graph.tensor(first.inputs[1])
    assert w.shape == (64, 10, 4, 1) and w.quant.per_channel and w.quant.axis == 0
    assert w.data.dtype == np.int8 and w.data.shape == w.shape
    dw = graph.operators[1]
    assert dw.kind is OpKind.DEPTHWISE_CONV_2D and dw.options.depth_multiplier == 1
    assert graph.tensor(dw.inputs[1]).quant.axis == 3
    reshape = next(op for op in graph.operators if op.kind is OpKind.RESHAPE)
    assert reshape.options.new_shape == graph.tensor(reshape.outputs[0]).shape
    assert next(op for op in graph.operators if op.kind is OpKind.SOFTMAX).options.beta == 1.0


@pytest.mark.parametrize("name", sorted(MLPERF_OPS))
def test_writer_round_trips_mlperf(name: str) -> None:
    graph = parse_tflite(mlperf_bytes(name), "m")
    again = parse_tflite(write_tflite(graph), "m")
    assert again.operators == graph.operators
    assert (again.inputs, again.outputs) == (graph.inputs, graph.outputs)
    for a, b in zip(graph.tensors, again.tensors, strict=True):
        assert (a.name, a.shape, a.dtype, a.quant) == (b.name, b.shape, b.dtype, b.quant)
        assert (a.data is None) == (b.data is None)
        if a.data is not None:
            assert np.array_equal(a.data, b.data)


# ---------------------------------------------------------------------------------------------
# the zoo
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def zoo_bytes() -> dict[str, bytes]:
    pytest.importorskip("tensorflow")
    from tinym2net.zoo import UNVERIFIABLE_MODELS, ZOO_MODELS, build_zoo_model

    return {name: build_zoo_model(name, seed=0) for name in ZOO_MODELS + UNVERIFIABLE_MODELS}


@pytest.fixture(scope="session")
def zoo(zoo_bytes: dict[str, bytes]) -> dict[str, Graph]:
    return {name: parse_tflite(buf, name) for name, buf in zoo_bytes.items()}


def test_zoo_covers_every_op_kind_and_variant(zoo: dict[str, Graph]) -> None:
    from tinym2net.zoo import ZOO_MODELS, describe_features, describe_ops

    kinds: Counter[OpKind] = Counter()
    features: set[str] = set()
    for name in ZOO_MODELS:
        kinds += describe_ops(zoo[name])
        features |= describe_features(zoo[name])
    assert set(kinds) == set(OpKind)
    assert {
        "conv:same",
        "conv:valid",
        "conv:stride2",
        "conv:dilation",
        "conv:relu",
        "conv:relu6",
        "depthwise:m1",
        "depthwise:m2",
        "add:same_shape",
        "add:broadcast",
        "mul:same_shape",
        "mul:broadcast",
        "concat:same_quant",
        "mean:keep_dims",
        "mean:reduce",
        "inputs:1",
        "inputs:2",
        "inputs:3",
        "io:float_edges",
        "quantize:requant",
        "weights:per_channel",
    } <= features
    assert "concat:mixed_quant" in describe_features(zoo["concat_mixed_quant"])


def test_zoo_models_are_small_full_integer_and_named_inputs(
    zoo_bytes: dict[str, bytes], zoo: dict[str, Graph]
) -> None:
    for name, buf in zoo_bytes.items():
        assert len(buf) < 50_000, name
    inputs = {name: sorted(g.tensor(i).name for i in g.inputs) for name, g in zoo.items()}
    assert inputs["depth_thermal"] == ["serving_default_depth:0", "serving_default_thermal:0"]
    assert {zoo["depth_thermal"].tensor(i).shape for i in zoo["depth_thermal"].inputs} == {
        (1, 8, 8, 1),
        (1, 24, 32, 1),
    }
    assert {zoo["audio_image"].tensor(i).shape for i in zoo["audio_image"].inputs} == {
        (1, 49, 10, 1),
        (1, 8, 8, 1),
    }
    assert len(zoo["tri_modal"].inputs) == 3
    for name, g in zoo.items():
        edge = {DType.FLOAT32} if name == "float_io" else {DType.INT8}
        assert {g.tensor(i).dtype for i in (*g.inputs, *g.outputs)} == edge, name
        assert all(t.dtype in (DType.INT8, DType.INT32, DType.FLOAT32) for t in g.tensors), name


def test_zoo_models_match_litert(zoo_bytes: dict[str, bytes], zoo: dict[str, Graph]) -> None:
    from tinym2net.zoo import ZOO_MODELS

    for name in ZOO_MODELS:
        assert_matches_litert(zoo[name], zoo_bytes[name])


def test_mixed_quant_concat_is_refused_by_litert(zoo_bytes: dict[str, bytes], zoo: dict[str, Graph]) -> None:
    g = zoo["concat_mixed_quant"]
    concat = next(op for op in g.operators if op.kind is OpKind.CONCATENATION)
    assert len({g.tensor(i).quant for i in concat.inputs}) == 2
    with pytest.raises(RuntimeError, match="scale"):
        litert(zoo_bytes["concat_mixed_quant"])


def test_zoo_is_deterministic_and_seeded(zoo_bytes: dict[str, bytes]) -> None:
    from tinym2net.zoo import build_zoo_model

    assert build_zoo_model("float_io", seed=0) == zoo_bytes["float_io"]
    assert build_zoo_model("float_io", seed=1) != zoo_bytes["float_io"]


def test_unknown_zoo_model_is_a_usage_error() -> None:
    from tinym2net.errors import UsageError
    from tinym2net.zoo import build_keras_model

    with pytest.raises(UsageError, match="unknown zoo model 'nope'.*conv_stack"):
        build_keras_model("nope")


# ---------------------------------------------------------------------------------------------
# int4 constants
# ---------------------------------------------------------------------------------------------


def test_unpack_int4_low_nibble_first() -> None:
    packed = np.array([0xF1, 0x87, 0x03], dtype=np.uint8)  # 1, -1, 7, -8, 3, (pad 0)
    assert unpack_int4(packed, (5,)).tolist() == [1, -1, 7, -8, 3]
    t = Tensor(0, "w", (5,), DType.INT4, data=np.array([1, -1, 7, -8, 3], dtype=np.int8))
    assert tensor_bytes(t) == bytes([0xF1, 0x87, 0x03])


def test_int4_weights_unpack_and_run_like_int8() -> None:
    """LiteRT gives the same result for int4-packed weights as for the same values stored int8."""
    w = np.random.default_rng(0).integers(-8, 8, size=(3, 5)).astype(np.int8)  # 15 values: odd, padded
    as_int8 = fc_model(weights=w)
    as_int4 = fc_model(weights=w, w_type=TT.INT4, version=10)
    g = parse_tflite(as_int4, "int4")
    assert g.tensor(1).dtype is DType.INT4 and g.tensor(1).nbytes == 8
    assert np.array_equal(g.tensor(1).data, w) and g.tensor(1).data.dtype == np.int8
    x = np.random.default_rng(1).integers(-128, 128, size=(1, 5), dtype=np.int8)
    outs = []
    for buf in (as_int8, as_int4):
        it = litert(buf)
        it.set_tensor(0, x)
        it.invoke()
        outs.append(it.get_tensor(3))
    assert np.array_equal(outs[0], outs[1])


# ---------------------------------------------------------------------------------------------
# models made with the builder: one valid FC model, and variants differing in one property
# ---------------------------------------------------------------------------------------------


def fc_options(activation: int = 0):
    def build(b):
        m = fb("FullyConnectedOptions")
        m.Start(b)
        m.AddFusedActivationFunction(b, activation)
        return m.End(b)

    return build


def fc_model(
    *,
    weights: np.ndarray | None = None,
    w_type: int = TT.INT8,
    act_type: int = TT.INT8,
    w_zero_point: int = 0,
    batch: int = 1,
    opcode: int = 9,
    version: int = 4,
    activation: int = 0,
    custom: str | None = None,
    extra_op: int | None = None,
    extra_subgraphs: int = 0,
    w_data: bytes | None = None,
    variable_input: bool = False,
    input_shape: tuple[int, ...] | None = None,
) -> bytes:
    """x[batch,5] -> FULLY_CONNECTED(w[3,5], b[3]) -> y[batch,3] (-> extra_op(y, y) -> z)."""
    w = weights if weights is not None else np.arange(-7, 8, dtype=np.int8).reshape(3, 5)
    act_quant = (
        {} if act_type == TT.FLOAT32 else {"scale": [0.1], "zero_point": [0 if act_type != TT.UINT8 else 128]}
    )
    b = TFLiteBuilder()
    x = b.add_tensor("input_x", input_shape or (batch, 5), act_type, is_variable=variable_input, **act_quant)
    if w_data is None:
        w_data = tensor_bytes(
            Tensor(0, "w", w.shape, DType.INT4 if w_type == TT.INT4 else DType.INT8, data=w)
        )
    wt = b.add_tensor("weights_w", w.shape, w_type, data=w_data, scale=[0.05], zero_point=[w_zero_point])
    bias = b.add_tensor("bias_b", (3,), TT.INT32, data=np.array([10, -20, 5], "<i4").tobytes(), scale=[0.005])
    y = b.add_tensor("output_y", (batch, 3), act_type, **act_quant)
    b.add_operator(
        opcode,
        [x, wt, bias],
        [y],
        version=version,
        custom_code=custom,
        options_type=BO.FullyConnectedOptions if custom is None else 0,
        options=fc_options(activation) if custom is None else None,
    )
    out = y
    if extra_op is not None:
        out = b.add_tensor("extra_z", (batch, 3), act_type, **act_quant)
        b.add_operator(extra_op, [y, y], [out])
    return b.finish([x], [out], extra_subgraphs=extra_subgraphs)


def test_builder_base_model_is_valid() -> None:
    buf = fc_model()
    g = parse_tflite(buf, "fc")
    assert [op.kind for op in g.operators] == [OpKind.FULLY_CONNECTED]
    assert_matches_litert(g, buf)


def refuse(buf: bytes, *fragments: str, error: type[ModelError] = ModelError) -> str:
    with pytest.raises(error) as info:
        parse_tflite(buf, "bad")
    msg = str(info.value)
    assert "\n" not in msg
    for fragment in fragments:
        assert fragment in msg, msg
    return msg


def test_unsupported_op_names_op_index_and_tensors() -> None:
    refuse(
        fc_model(extra_op=41),
        "operator 1",
        "SUB",
        "'output_y'",
        "'extra_z'",
        "supported ops",
        "CONV_2D",
        error=UnsupportedOpError,
    )
    refuse(fc_model(opcode=250), "operator 0", "BUILTIN_250", "'input_x'", error=UnsupportedOpError)


def test_custom_op_is_refused() -> None:
    refuse(
        fc_model(opcode=32, custom="MyFancyOp"),
        "custom op 'MyFancyOp'",
        "operator 0",
        "'weights_w'",
        error=UnsupportedOpError,
    )


def test_too_new_op_version_is_refused() -> None:
    refuse(
        fc_model(version=99), "op version 99", "FULLY_CONNECTED", "up to version 12", error=UnsupportedOpError
    )


@pytest.mark.parametrize(("code", "name"), [(4, "TANH"), (5, "SIGN_BIT")])
def test_unsupported_fused_activation_is_refused(code: int, name: str) -> None:
    refuse(fc_model(activation=code), f"fused activation {name}", "operator 0", error=UnsupportedOpError)


def test_supported_fused_activation_is_read() -> None:
    assert parse_tflite(fc_model(activation=3), "ok").operators[0].options.activation is Activation.RELU6


def test_int16_activations_are_refused() -> None:
    refuse(fc_model(act_type=TT.INT16), "int16 activations", "'input_x'", "TFLITE_BUILTINS_INT8")


def test_uint8_model_is_refused() -> None:
    refuse(fc_model(act_type=TT.UINT8), "uint8", "'input_x'", "full-integer int8")


def test_builder_float_model_is_refused() -> None:
    refuse(fc_model(act_type=TT.FLOAT32), "dynamic-range (hybrid)", "'weights_w'", "representative_dataset")


def test_asymmetric_weights_are_refused() -> None:
    refuse(fc_model(w_zero_point=3), "asymmetric weights 'weights_w'", "zero point 3")


def test_batch_other_than_one_is_refused() -> None:
    refuse(fc_model(batch=2), "batch size 2", "'input_x'", "batch-1")


def test_control_flow_subgraphs_are_refused() -> None:
    refuse(fc_model(extra_op=119, extra_subgraphs=2), "3 subgraphs", "WHILE", "operator 1")


def test_unused_extra_subgraph_is_ignored() -> None:
    assert len(parse_tflite(fc_model(extra_subgraphs=1), "ok").operators) == 1


def test_variable_tensor_is_refused() -> None:
    refuse(fc_model(variable_input=True), "'input_x' is a variable")


def test_buffer_size_mismatch_is_refused() -> None:
    refuse(fc_model(w_data=bytes(14)), "'weights_w'", "needs 15 bytes", "holds 14")


def test_bad_shape_is_refused() -> None:
    refuse(fc_model(input_shape=(1, 0)), "'input_x'", "shape [1, 0]")


def test_tensor_index_out_of_range_is_corrupt() -> None:
    b = TFLiteBuilder()
    x = b.add_tensor("x", (1, 4), TT.INT8, scale=[0.1], zero_point=[0])
    y = b.add_tensor("y", (1, 4), TT.INT8, scale=[0.1], zero_point=[0])
    b.add_operator(14, [x, 7], [y], version=2)
    refuse(b.finish([x], [y]), "corrupt", "refers to tensor 7")


# ---------------------------------------------------------------------------------------------
# float and dynamic-range models from the real converter
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "fragment"), [("float", "is a float model"), ("dynamic_range", "dynamic-range (hybrid)")]
)
def test_converter_float_and_hybrid_models_are_refused(mode: str, fragment: str) -> None:
    pytest.importorskip("tensorflow")
    from tinym2net.zoo import InputSpec, build_keras_model, convert_keras

    model, specs = build_keras_model("float_io", seed=0)
    if mode == "dynamic_range":  # the converter keeps tensors under 1024 elements float: use a big layer
        import tensorflow as tf

        x = tf.keras.Input((64,), name="v", batch_size=1)
        model, specs = tf.keras.Model(x, tf.keras.layers.Dense(32, name="big")(x)), [InputSpec("v", (64,))]
    buf = convert_keras(model, specs, mode=mode)
    msg = refuse(buf, fragment, "TFLITE_BUILTINS_INT8", "tinym2net quantize")
    assert "CONV_2D" in msg or "FULLY_CONNECTED" in msg


# ---------------------------------------------------------------------------------------------
# files that are not (whole) TFLite models
# ---------------------------------------------------------------------------------------------


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        load_tflite(tmp_path / "nope.tflite")
    with pytest.raises(ModelError, match="is a directory"):
        load_tflite(tmp_path)


def test_empty_and_foreign_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.tflite"
    empty.write_bytes(b"")
    with pytest.raises(ModelError, match="is empty"):
        load_tflite(empty)
    refuse(b"\x89HDF\r\n\x1a\n" + bytes(64), "not a TFLite flatbuffer", "TFL3", "Keras .h5")
    refuse(b"PK\x03\x04" + bytes(64), "not a TFLite flatbuffer", "zip")
    refuse(bytes(random.Random(3).randrange(256) for _ in range(500)), "not a TFLite flatbuffer")
    refuse(b"abc", "not a TFLite flatbuffer")


@pytest.mark.parametrize("cut", [8, 64, 1000, 20000, 53000])
def test_truncated_model_is_corrupt(cut: int) -> None:
    buf = mlperf_bytes("kws_ref_model.tflite")
    refuse(buf[:cut], "model 'bad'", "corrupt or truncated")


def test_mutation_fuzz_raises_only_model_errors() -> None:
    """300 seeded mutations (truncations, byte and word overwrites, bit flips) of a real model."""
    original = mlperf_bytes("kws_ref_model.tflite")
    rng = random.Random(20240601)
    outcomes: Counter[str] = Counter()
    for _ in range(300):
        buf = bytearray(original)
        mode = rng.randrange(4)
        if mode == 0:
            buf = buf[: rng.randrange(len(buf))]
        elif mode == 1:  # the flatbuffer's tables sit at both ends of the file; weights in between
            for _ in range(rng.randint(1, 8)):
                buf[rng.choice((rng.randrange(4096), rng.randrange(len(buf) - 4096, len(buf))))] = (
                    rng.randrange(256)
                )
        elif mode == 2:
            for _ in range(rng.randint(1, 4)):
                buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
        else:
            pos = rng.randrange(len(buf) - 4)
            buf[pos : pos + 4] = rng.randrange(1 << 32).to_bytes(4, "little")
        try:
            parse_tflite(bytes(buf), "fuzz")
            outcomes["parsed"] += 1
        except ModelError as err:
            assert "\n" not in str(err) and str(err).startswith("model 'fuzz'")
            outcomes["refused"] += 1
    assert outcomes["refused"] >= 100  # the mutations do hit the structure
