"""A zoo of small full-integer int8 TFLite models that together exercise every :class:`~tinym2net.ir.OpKind`.

Each model is a tiny Keras 3 functional graph with seeded random weights, converted by
``tf.lite.TFLiteConverter`` with a seeded representative dataset (one dict per sample, keyed by
Input name: the converted model's input order is neither the Keras order nor reliably
alphabetical, so inputs must be matched by name, e.g. ``serving_default_<name>:0``). Conversion is
deterministic: the Keras session is cleared and every layer is named, so the same ``(name, seed)``
gives the same bytes in any process and in any call order.

Models (:data:`ZOO_MODELS`):

``conv_stack``
    image 16x16x3: CONV_2D (SAME+relu, VALID+stride 2+relu6, dilation 2), DEPTHWISE_CONV_2D
    (multiplier 1 and 2), MAX_POOL_2D, AVERAGE_POOL_2D, RESHAPE (flatten), FULLY_CONNECTED, SOFTMAX.
``elementwise``
    8x8x4: PAD (asymmetric), ADD (same shape and [1,1,1,C] broadcast), MUL (same shape and broadcast: a
    squeeze-excite gate through LOGISTIC), MEAN (keep_dims and global average pooling).
``depth_thermal``
    two inputs, 8x8x1 ``depth`` + 24x32x1 ``thermal``, two conv branches fused by CONCATENATION.
``audio_image``
    two inputs, 49x10x1 ``audio`` (MFCC, DS-CNN style) + 8x8x1 ``image``, fused by CONCATENATION.
``tri_modal``
    three inputs: ``audio`` 49x10x1, ``image`` 8x8x1, ``imu`` 32x3.
``float_io``
    float32 input and output: QUANTIZE at the input edge, DEQUANTIZE at the output edge.
``squeeze``
    SQUEEZE, plus a CONCATENATION fed by LOGISTIC through a requantising int8->int8 QUANTIZE. The
    converter never emits SQUEEZE (it rewrites every static one as RESHAPE), so the zoo turns the
    RESHAPE [1,1,1,C]->[1,C] back into SQUEEZE(dims 1,2) by graph surgery on the IR and writes the
    result with :func:`~tinym2net.importer.tflite_writer.write_tflite`.

Not in :data:`ZOO_MODELS` (:data:`UNVERIFIABLE_MODELS`), but built by :func:`build_zoo_model`:

``concat_mixed_quant``
    the ``squeeze`` graph with the requantising QUANTIZE removed, so CONCATENATION reads inputs
    of different scales. The converter never makes this: it gives every int8 CONCATENATION input
    the output's scale and zero point, and LiteRT's int8 kernel refuses anything else
    (``concatenation.cc``: input scale must equal output scale). Only useful to test a kernel's
    rescaling path against a Python reference.

:func:`describe_ops` and :func:`describe_features` summarise what a parsed graph exercises.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from .errors import UsageError
from .ir import Activation, DType, Graph, OpKind, Padding, SqueezeOptions

REPRESENTATIVE_SAMPLES = 16


@dataclass(frozen=True)
class InputSpec:
    """A graph input: Keras Input name, shape without batch, and the std-dev of its calibration data."""

    name: str
    shape: tuple[int, ...]
    spread: float = 1.0


# ---------------------------------------------------------------------------------------------
# Keras graphs (float, untrained, seeded weights)
# ---------------------------------------------------------------------------------------------


def _conv_stack(keras) -> tuple[object, list[InputSpec]]:
    L = keras.layers
    x = keras.Input((16, 16, 3), name="image", batch_size=1)
    y = L.Conv2D(8, 3, padding="same", activation="relu", name="conv_same_relu")(x)
    y = L.Conv2D(8, 3, strides=2, padding="valid", activation="relu6", name="conv_valid_s2_relu6")(y)
    y = L.Conv2D(8, 3, dilation_rate=2, padding="same", name="conv_dilated")(y)
    y = L.DepthwiseConv2D(3, padding="same", activation="relu", name="dw_m1")(y)
    y = L.DepthwiseConv2D(3, depth_multiplier=2, padding="valid", name="dw_m2")(y)
    a = L.MaxPooling2D(2, name="max_pool")(y)
    b = L.AveragePooling2D(2, strides=1, padding="same", name="avg_pool")(a)
    f = L.Flatten(name="flatten")(b)
    o = L.Dense(10, name="logits")(f)
    o = L.Softmax(name="probs")(o)
    return keras.Model(x, o, name="conv_stack"), [InputSpec("image", (16, 16, 3))]


def _elementwise(keras) -> tuple[object, list[InputSpec]]:
    L, ops = keras.layers, keras.ops
    x = keras.Input((8, 8, 4), name="features", batch_size=1)
    p = L.ZeroPadding2D(((0, 1), (1, 0)), name="pad")(x)  # asymmetric: cannot fold into a SAME conv
    a = L.Conv2D(8, 2, padding="valid", activation="relu", name="conv_a")(p)
    b = L.Conv2D(8, 1, name="conv_b")(x)
    s = L.Add(name="add_same")([a, b])
    m = ops.mean(s, axis=(1, 2), keepdims=True)  # MEAN keep_dims -> [1,1,1,8]
    t = L.Add(name="add_broadcast")([s, m])
    gate = L.Conv2D(8, 1, activation="sigmoid", name="gate")(m)  # LOGISTIC on [1,1,1,8]
    u = L.Multiply(name="mul_broadcast")([t, gate])
    v = L.Multiply(name="mul_same")([u, s])
    g = L.GlobalAveragePooling2D(name="gap")(v)  # MEAN without keep_dims
    o = L.Dense(5, name="logits")(g)
    o = L.Softmax(name="probs")(o)
    return keras.Model(x, o, name="elementwise"), [InputSpec("features", (8, 8, 4))]


def _depth_thermal(keras) -> tuple[object, list[InputSpec]]:
    L = keras.layers
    d = keras.Input((8, 8, 1), name="depth", batch_size=1)
    t = keras.Input((24, 32, 1), name="thermal", batch_size=1)
    a = L.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="depth_conv")(d)
    b = L.Conv2D(8, 3, strides=(3, 4), padding="same", activation="relu", name="thermal_conv")(t)
    b = L.MaxPooling2D(2, name="thermal_pool")(b)
    c = L.Concatenate(axis=-1, name="fuse")([a, b])  # [1,4,4,16]
    y = L.DepthwiseConv2D(3, padding="same", activation="relu", name="fused_dw")(c)
    y = L.Conv2D(16, 1, activation="relu", name="fused_pw")(y)
    g = L.GlobalAveragePooling2D(name="gap")(y)
    o = L.Dense(4, name="logits")(g)
    o = L.Softmax(name="probs")(o)
    return keras.Model([d, t], o, name="depth_thermal"), [
        InputSpec("depth", (8, 8, 1), 1.0),
        InputSpec("thermal", (24, 32, 1), 3.0),
    ]


def _audio_branch(keras, a):
    L = keras.layers
    y = L.Conv2D(16, (10, 4), strides=2, padding="same", activation="relu", name="audio_conv")(a)
    y = L.DepthwiseConv2D(3, padding="same", activation="relu", name="audio_dw")(y)
    y = L.Conv2D(16, 1, activation="relu", name="audio_pw")(y)
    y = L.AveragePooling2D((25, 5), name="audio_pool")(y)  # [1,1,1,16]
    return L.Flatten(name="audio_flat")(y)


def _image_branch(keras, i):
    L = keras.layers
    y = L.Conv2D(8, 3, padding="same", activation="relu", name="image_conv")(i)
    y = L.MaxPooling2D(2, name="image_pool")(y)
    y = L.Flatten(name="image_flat")(y)
    return L.Dense(16, activation="relu", name="image_fc")(y)


def _audio_image(keras) -> tuple[object, list[InputSpec]]:
    L = keras.layers
    a = keras.Input((49, 10, 1), name="audio", batch_size=1)
    i = keras.Input((8, 8, 1), name="image", batch_size=1)
    f = L.Concatenate(name="fuse")([_audio_branch(keras, a), _image_branch(keras, i)])
    o = L.Dense(6, name="logits")(f)
    o = L.Softmax(name="probs")(o)
    return keras.Model([a, i], o, name="audio_image"), [
        InputSpec("audio", (49, 10, 1), 2.0),
        InputSpec("image", (8, 8, 1), 1.0),
    ]


def _tri_modal(keras) -> tuple[object, list[InputSpec]]:
    L = keras.layers
    a = keras.Input((49, 10, 1), name="audio", batch_size=1)
    i = keras.Input((8, 8, 1), name="image", batch_size=1)
    m = keras.Input((32, 3), name="imu", batch_size=1)
    u = L.Flatten(name="imu_flat")(m)
    u = L.Dense(16, activation="relu6", name="imu_fc")(u)
    f = L.Concatenate(name="fuse")([_audio_branch(keras, a), _image_branch(keras, i), u])
    o = L.Dense(8, name="logits")(f)
    o = L.Softmax(name="probs")(o)
    return keras.Model([a, i, m], o, name="tri_modal"), [
        InputSpec("audio", (49, 10, 1), 2.0),
        InputSpec("image", (8, 8, 1), 1.0),
        InputSpec("imu", (32, 3), 0.5),
    ]


def _float_io(keras) -> tuple[object, list[InputSpec]]:
    L = keras.layers
    x = keras.Input((12, 12, 2), name="signal", batch_size=1)
    y = L.Conv2D(6, 3, strides=2, padding="same", activation="relu", name="conv")(x)
    y = L.Flatten(name="flatten")(y)
    o = L.Dense(4, name="logits")(y)
    return keras.Model(x, o, name="float_io"), [InputSpec("signal", (12, 12, 2))]


def _squeeze_concat(keras) -> tuple[object, list[InputSpec]]:
    L = keras.layers
    x = keras.Input((6, 6, 2), name="x", batch_size=1)
    a = L.Conv2D(4, 3, padding="same", name="conv_a")(x)
    g = L.Conv2D(4, 3, padding="same", activation="sigmoid", name="conv_gate")(x)  # output scale fixed 1/256
    c = L.Concatenate(name="concat_mixed")([a, g])  # converter requantises g to the concat scale
    y = L.Conv2D(6, 6, padding="valid", name="conv_to_1x1")(c)  # [1,1,1,6]
    y = L.Reshape((6,), name="to_vector")(y)  # RESHAPE [1,1,1,6] -> [1,6], becomes SQUEEZE
    o = L.Softmax(name="probs")(y)  # (a FULLY_CONNECTED here would absorb the reshape)
    return keras.Model(x, o, name="squeeze_concat"), [InputSpec("x", (6, 6, 2))]


@dataclass(frozen=True)
class _Recipe:
    graph: Callable[[object], tuple[object, list[InputSpec]]]
    int8_io: bool = True
    surgery: Callable[[Graph], Graph] | None = None


def _squeeze_reshapes(graph: Graph) -> Graph:
    """Turn each RESHAPE [n,1,1,C] -> [n,C] back into the SQUEEZE(dims 1,2) that the converter rewrote."""
    ops = []
    for op in graph.operators:
        x, y = graph.tensors[op.inputs[0]], graph.tensors[op.outputs[0]]
        if (
            op.kind is OpKind.RESHAPE
            and len(x.shape) == 4
            and x.shape[1:3] == (1, 1)
            and y.shape == (x.shape[0], x.shape[3])
        ):
            op = replace(
                op, kind=OpKind.SQUEEZE, inputs=(op.inputs[0],), options=SqueezeOptions((1, 2)), version=1
            )
        ops.append(op)
    return _compact(replace(graph, operators=ops))


def _drop_concat_requantize(graph: Graph) -> Graph:
    """Remove int8->int8 QUANTIZE ops that only feed a CONCATENATION, which then reads mixed scales."""
    consumers = Counter(i for op in graph.operators for i in op.inputs if i >= 0)
    concat_inputs = {i for op in graph.operators if op.kind is OpKind.CONCATENATION for i in op.inputs}
    rename: dict[int, int] = {}
    ops = []
    for op in graph.operators:
        if (
            op.kind is OpKind.QUANTIZE
            and graph.tensors[op.inputs[0]].dtype is DType.INT8
            and op.outputs[0] in concat_inputs
            and consumers[op.outputs[0]] == 1
        ):
            rename[op.outputs[0]] = op.inputs[0]
            continue
        ops.append(op)
    ops = [replace(op, inputs=tuple(rename.get(i, i) for i in op.inputs)) for op in ops]
    return _compact(replace(graph, operators=ops))


def _compact(graph: Graph) -> Graph:
    """Drop tensors no operator or graph edge uses, renumbering tensors and operators."""
    used = sorted(
        {i for op in graph.operators for i in (*op.inputs, *op.outputs) if i >= 0}
        | set(graph.inputs)
        | set(graph.outputs)
    )
    new = {old: k for k, old in enumerate(used)}
    tensors = [replace(graph.tensors[old], index=new[old]) for old in used]
    operators = [
        replace(
            op,
            index=k,
            inputs=tuple(new[i] if i >= 0 else -1 for i in op.inputs),
            outputs=tuple(new[i] for i in op.outputs),
        )
        for k, op in enumerate(graph.operators)
    ]
    return Graph(
        graph.name, tensors, operators, [new[i] for i in graph.inputs], [new[i] for i in graph.outputs]
    )


_RECIPES: dict[str, _Recipe] = {
    "conv_stack": _Recipe(_conv_stack),
    "elementwise": _Recipe(_elementwise),
    "depth_thermal": _Recipe(_depth_thermal),
    "audio_image": _Recipe(_audio_image),
    "tri_modal": _Recipe(_tri_modal),
    "float_io": _Recipe(_float_io, int8_io=False),
    "squeeze": _Recipe(_squeeze_concat, surgery=_squeeze_reshapes),
    "concat_mixed_quant": _Recipe(_squeeze_concat, surgery=_drop_concat_requantize),
}

#: Models LiteRT refuses to run, so there is no reference to compare with: they are not in ZOO_MODELS.
UNVERIFIABLE_MODELS: list[str] = ["concat_mixed_quant"]

#: The zoo: every model here is valid TFLite that LiteRT runs; together they cover every OpKind.
ZOO_MODELS: list[str] = [name for name in _RECIPES if name not in UNVERIFIABLE_MODELS]


# ---------------------------------------------------------------------------------------------
# building and converting
# ---------------------------------------------------------------------------------------------


def _tf():
    """Import TensorFlow quietly (its C++ logging level must be set before the first import)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    return tf


def build_keras_model(name: str, seed: int = 0) -> tuple[object, list[InputSpec]]:
    """The float Keras model of zoo entry ``name`` with seeded weights, and its input specs.

    Weights are drawn from ``numpy.random.default_rng(seed)``, layer by layer: kernels ~ N(0, 2 / fan_in)
    (fan_in = product of all kernel dims but the last; 0.25 / fan_in for the final ``logits`` layer so
    that softmax outputs do not saturate), biases ~ N(0, 0.1^2): activations neither vanish nor
    explode through a few untrained layers.
    """
    if name not in _RECIPES:
        raise UsageError(f"unknown zoo model {name!r}: choose one of {', '.join(_RECIPES)}")
    tf = _tf()
    keras = tf.keras
    keras.backend.clear_session()  # layer-name counters restart: names (and bytes) do not depend on history
    model, specs = _RECIPES[name].graph(keras)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        gain = 0.25 if layer.name == "logits" else 2.0  # small logits: softmax outputs do not saturate
        weights = []
        for w in layer.get_weights():
            if w.ndim >= 2:
                fan_in = int(np.prod(w.shape[:-1]))
                weights.append(rng.normal(0.0, np.sqrt(gain / fan_in), size=w.shape).astype(np.float32))
            else:
                weights.append(rng.normal(0.0, 0.1, size=w.shape).astype(np.float32))
        if weights:
            layer.set_weights(weights)
    return model, specs


def representative_samples(
    specs: list[InputSpec], seed: int, count: int = REPRESENTATIVE_SAMPLES
) -> list[dict[str, np.ndarray]]:
    """Seeded calibration samples: one dict per sample, keyed by Input name, batch 1, float32."""
    rng = np.random.default_rng(seed + 1_000_003)
    return [
        {s.name: (s.spread * rng.standard_normal((1, *s.shape))).astype(np.float32) for s in specs}
        for _ in range(count)
    ]


def convert_keras(model, specs: list[InputSpec], *, seed: int = 0, mode: str = "int8") -> bytes:
    """Convert a Keras model with TFLiteConverter.

    ``mode``: ``"int8"`` (full-integer, int8 input/output), ``"int8_float_io"`` (full-integer inside,
    float32 input/output through QUANTIZE/DEQUANTIZE), ``"float"`` (no quantisation) or
    ``"dynamic_range"`` (int8 weights, float activations: a hybrid model).
    """
    tf = _tf()
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if mode in ("int8", "int8_float_io"):
        samples = representative_samples(specs, seed)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: iter(samples)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if mode == "int8":
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
    elif mode == "dynamic_range":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif mode != "float":
        raise UsageError(f"unknown conversion mode {mode!r}: int8, int8_float_io, float or dynamic_range")
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        return bytes(converter.convert())


def build_zoo_model(name: str, seed: int = 0) -> bytes:
    """The TFLite flatbuffer of zoo model ``name`` (see the module docstring), deterministic in ``seed``."""
    model, specs = build_keras_model(name, seed)
    recipe = _RECIPES[name]
    data = convert_keras(model, specs, seed=seed, mode="int8" if recipe.int8_io else "int8_float_io")
    if recipe.surgery is not None:
        from .importer import parse_tflite
        from .importer.tflite_writer import write_tflite

        data = write_tflite(recipe.surgery(parse_tflite(data, name)), description=f"tinym2net zoo {name}")
    return data


# ---------------------------------------------------------------------------------------------
# what a graph exercises
# ---------------------------------------------------------------------------------------------


def describe_ops(graph: Graph) -> Counter[OpKind]:
    """How many operators of each kind the graph has."""
    return Counter(op.kind for op in graph.operators)


def describe_features(graph: Graph) -> set[str]:
    """Op variants the graph exercises, as short tags (e.g. ``conv:stride2``, ``concat:mixed_quant``).

    Tags: ``conv:{same,valid,stride2,dilation,relu,relu6}``, ``depthwise:m{1,2,...}``,
    ``{add,mul}:{same_shape,broadcast}``, ``concat:{same_quant,mixed_quant}``,
    ``mean:{keep_dims,reduce}``, ``inputs:<n>``, ``io:float_edges``, ``quantize:requant``,
    ``weights:per_channel``.
    """
    tags = {f"inputs:{len(graph.inputs)}"}
    t = graph.tensors
    for op in graph.operators:
        o = op.options
        if op.kind is OpKind.CONV_2D:
            tags.add("conv:same" if o.padding is Padding.SAME else "conv:valid")
            if max(o.stride_h, o.stride_w) > 1:
                tags.add("conv:stride2")
            if max(o.dilation_h, o.dilation_w) > 1:
                tags.add("conv:dilation")
            if o.activation in (Activation.RELU, Activation.RELU6):
                tags.add(f"conv:{o.activation.value}")
        elif op.kind is OpKind.DEPTHWISE_CONV_2D:
            tags.add(f"depthwise:m{o.depth_multiplier}")
        elif op.kind in (OpKind.ADD, OpKind.MUL):
            a, b = t[op.inputs[0]].shape, t[op.inputs[1]].shape
            tags.add(f"{op.kind.value.lower()}:{'same_shape' if a == b else 'broadcast'}")
        elif op.kind is OpKind.CONCATENATION:
            quants = {t[i].quant for i in (*op.inputs, *op.outputs)}
            tags.add("concat:same_quant" if len(quants) == 1 else "concat:mixed_quant")
        elif op.kind is OpKind.MEAN:
            tags.add("mean:keep_dims" if o.keep_dims else "mean:reduce")
        elif op.kind is OpKind.QUANTIZE:
            src = t[op.inputs[0]]
            tags.add("quantize:requant" if src.dtype is DType.INT8 else "io:float_edges")
        elif op.kind is OpKind.DEQUANTIZE:
            tags.add("io:float_edges")
        if op.kind in (OpKind.CONV_2D, OpKind.DEPTHWISE_CONV_2D) and t[op.inputs[1]].quant.per_channel:
            tags.add("weights:per_channel")
    return tags
