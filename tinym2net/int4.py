"""int4 weights: post-training (ai-edge-quantizer), quantisation-aware fine-tuning, and int8 -> int4 requantisation.

Every route ends in a TFLite flatbuffer with **int4 weights and int8 activations**: CONV_2D and
DEPTHWISE_CONV_2D weights per output channel, FULLY_CONNECTED weights per tensor (TFLite Micro refuses
per-channel int4 FULLY_CONNECTED), symmetric (zero point 0), packed two per byte. Biases stay int32 with
scale ``input_scale * weight_scale``; inputs and outputs are int8. tinym2net runs such models with the
``tm2_*_s4`` kernels, which read the packed weights straight from flash.

Routes
------
:func:`quantize_int4` (post-training)
    A float ``.tflite`` (:func:`float_tflite` converts a Keras model) plus a representative data set go
    through ai-edge-quantizer 0.10 (``pip install ai-edge-quantizer==0.10.0``): every supported op is made
    static int8 (weights and activations, min/max calibration), then the weighted layers chosen (all by
    default) get 4-bit weights. Layers are chosen by their *scope*, ai-edge-quantizer's name for an op (its
    output tensor names joined by ``;``), so a recipe can mix 4- and 8-bit layers (see
    :mod:`tinym2net.mixed_precision`). A 4-bit weight scale is ``max|w| / 7`` per channel (or tensor), so
    the integer weights lie in -7..7.
:func:`qat_int4` (quantisation-aware)
    A Keras model is cloned with fake quantisation: each Conv2D / DepthwiseConv2D / Dense kernel goes
    through ``tf.quantization.fake_quant_with_min_max_vars(_per_channel)(num_bits=4, narrow_range=True)``
    with range ``[-max|w|, max|w|]`` (per output channel for convolutions, per tensor for Dense), and the
    activations through 8-bit fake quantisation with ranges tracked by an exponential moving average
    (initialised on the training data). The clone is fine-tuned with the hard-label loss (straight-through
    gradients), and the TFLite converter turns the fully fake-quantised graph into native INT4 weight
    tensors and int8 activations, taking every range from the fake-quant nodes (no calibration pass).
:func:`requantize_int4` (from an int8 model)
    For models that exist only as int8 (the MLPerf Tiny references): each weight tensor is dequantised
    and re-quantised to int4 (``scale = max|w| / 7``), and the int32 biases are rescaled to the new
    ``input_scale * weight_scale`` (rounded half away from zero). The graph is written back with
    :func:`~tinym2net.importer.tflite_writer.write_tflite`. This is a requantisation of already rounded
    weights, so it loses a little more accuracy than quantising the float weights would; it exists to
    test the int4 kernels on real architectures.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import warnings
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from .errors import ModelError, UsageError
from .ir import DType, Graph, OpKind, QuantParams, Tensor

WEIGHTED_KINDS = (OpKind.CONV_2D, OpKind.DEPTHWISE_CONV_2D, OpKind.FULLY_CONNECTED)
INT4_MAX = 7  # symmetric narrow range: -7..7
_F32 = np.float32


# ---------------------------------------------------------------------------------------------
# int8 model -> int4 model (requantisation of the stored weights)
# ---------------------------------------------------------------------------------------------


def _channel_axis(kind: OpKind) -> int | None:
    """Axis of a weight tensor along which int4 scales are kept (None: one scale per tensor)."""
    return {OpKind.CONV_2D: 0, OpKind.DEPTHWISE_CONV_2D: 3, OpKind.FULLY_CONNECTED: None}[kind]


def _round_half_away(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def _per_channel_scales(w: Tensor) -> np.ndarray:
    """The weight tensor's scale of every element's channel, broadcastable against ``w.data``."""
    assert w.quant is not None and w.data is not None
    scales = np.asarray(w.quant.scale, np.float64)
    if len(scales) == 1:
        return np.full([1] * w.data.ndim, scales[0])
    shape = [1] * w.data.ndim
    shape[w.quant.axis] = len(scales)
    return scales.reshape(shape)


def requantize_int4(graph: Graph, *, ops: Collection[int] | None = None) -> Graph:
    """A copy of an int8 ``graph`` whose weighted operators (``ops``: operator indices; default all CONV_2D,
    DEPTHWISE_CONV_2D and FULLY_CONNECTED with int8 weights) have int4 weights.

    Per weighted op: real weights ``r = s8 * q8``; new scale ``s4 = float32(max|r| / 7)`` per output channel
    (CONV axis 0, DEPTHWISE axis 3) or per tensor (FULLY_CONNECTED); ``q4 = clip(round(r / s4), -7, 7)``.
    The bias (scale ``s_in * s8``) becomes ``round(q_b * s_in * s8 / (s_in * s4))`` with scale
    ``float32(s_in * s4)`` (per channel like the weights), which TFLite checks against
    ``input_scale * filter_scale``.
    Ops whose weight or bias tensor is shared with another op are left int8.
    """
    tensors = list(graph.tensors)
    users: dict[int, int] = {}
    for op in graph.operators:
        for i in op.inputs[1:]:
            if i >= 0:
                users[i] = users.get(i, 0) + 1
    chosen = set(ops) if ops is not None else None
    for op in graph.operators:
        if op.kind not in WEIGHTED_KINDS or (chosen is not None and op.index not in chosen):
            continue
        w = tensors[op.inputs[1]]
        if w.dtype is not DType.INT8 or w.data is None or w.quant is None:
            continue
        b = tensors[op.inputs[2]] if len(op.inputs) > 2 and op.inputs[2] >= 0 else None
        if users.get(w.index, 0) > 1 or (b is not None and users.get(b.index, 0) > 1):
            continue
        x = tensors[op.inputs[0]]
        assert x.quant is not None
        real = w.data.astype(np.float64) * _per_channel_scales(w)
        axis = _channel_axis(op.kind)
        if axis is None:
            amax = np.full(1, np.abs(real).max(initial=0.0))
        else:
            amax = np.abs(np.moveaxis(real, axis, 0)).reshape(real.shape[axis], -1).max(axis=1, initial=0.0)
        s4 = np.where(amax > 0, amax / INT4_MAX, 1.0).astype(_F32).astype(np.float64)
        bshape = [1] * real.ndim
        if axis is not None:
            bshape[axis] = len(s4)
        q4 = np.clip(_round_half_away(real / s4.reshape(bshape)), -INT4_MAX, INT4_MAX).astype(np.int8)
        tensors[w.index] = replace(
            w,
            dtype=DType.INT4,
            data=q4,
            quant=QuantParams(tuple(float(s) for s in s4), (0,) * len(s4), axis if axis is not None else 0),
        )
        if b is not None and b.data is not None:
            out_c = b.data.size
            old = np.broadcast_to(np.asarray(w.quant.scale, np.float64), (out_c,))
            new = np.broadcast_to(s4, (out_c,))
            s_in = float(x.quant.scale[0])
            new_bias_scale = np.array([float(_F32(s_in) * _F32(s)) for s in new])
            ratio = np.array([s_in * o for o in old]) / new_bias_scale
            qb = _round_half_away(b.data.astype(np.float64).reshape(-1) * ratio)
            qb = np.clip(qb, -(2**31), 2**31 - 1).astype(np.int32).reshape(b.data.shape)
            # per-tensor weights get a per-tensor bias: LiteRT reads a multi-scale tensor's scale as 0
            kept = new_bias_scale if axis is not None else new_bias_scale[:1]
            tensors[b.index] = replace(
                b, data=qb, quant=QuantParams(tuple(float(s) for s in kept), (0,) * len(kept), 0)
            )
    return replace(graph, tensors=tensors)


def requantize_tflite_int4(model: bytes, *, name: str = "model", ops: Collection[int] | None = None) -> bytes:
    """:func:`requantize_int4` on a ``.tflite`` file's bytes; returns the int4 model's bytes."""
    from .importer import parse_tflite
    from .importer.tflite_writer import write_tflite

    graph = parse_tflite(model, name=name)
    return write_tflite(requantize_int4(graph, ops=ops), description=f"tinym2net int4 requantised {name}")


# ---------------------------------------------------------------------------------------------
# post-training int4 with ai-edge-quantizer
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeightedLayer:
    """One weighted op of a float model, as ai-edge-quantizer names it."""

    index: int  # operator index in the float model's subgraph 0 (the quantiser may insert ops: match by scope)
    kind: OpKind
    scope: str  # ai-edge-quantizer's op scope: output tensor names joined by ";" plus a trailing ";"
    weight_elements: int

    @property
    def regex(self) -> str:
        """An anchored regex that selects this op alone in a recipe."""
        return "^" + re.escape(self.scope) + "$"


def _tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    return tf


def with_batch_one(model):
    """The same functional Keras model (same layer classes, weights copied) with every input's batch size
    fixed to 1, as the firmware runs it. Shapes are then static, so e.g. ``Flatten`` converts to a RESHAPE
    with a constant shape instead of SHAPE / STRIDED_SLICE / PACK ops on the batch dimension."""
    _tf()
    import keras

    inputs = [
        keras.Input(batch_shape=(1, *t.shape[1:]), name=t.name.split(":")[0], dtype=t.dtype) for t in model.inputs
    ]
    one = keras.models.clone_model(model, input_tensors=inputs)
    one.set_weights(model.get_weights())
    return one


def float_tflite(model) -> bytes:
    """A Keras model converted to a float32 ``.tflite`` with batch size 1 (the input of :func:`quantize_int4`)."""
    tf = _tf()
    converter = tf.lite.TFLiteConverter.from_keras_model(with_batch_one(model))
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        return bytes(converter.convert())


def weighted_layers(float_model: bytes) -> list[WeightedLayer]:
    """The CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED ops of a float ``.tflite`` with their scopes."""
    import tflite

    from .importer.tflite_schema import OPCODE_TO_KIND

    m = tflite.Model.GetRootAsModel(float_model, 0)
    g = m.Subgraphs(0)
    layers = []
    for i in range(g.OperatorsLength()):
        op = g.Operators(i)
        code = m.OperatorCodes(op.OpcodeIndex())
        kind = OPCODE_TO_KIND.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()))
        if kind not in WEIGHTED_KINDS:
            continue
        names = [g.Tensors(op.Outputs(k)).Name().decode() for k in range(op.OutputsLength()) if op.Outputs(k) >= 0]
        w = g.Tensors(op.Inputs(1))
        elements = int(np.prod(w.ShapeAsNumpy())) if w.ShapeLength() else 0
        layers.append(WeightedLayer(i, kind, ";".join(names) + ";", elements))
    return layers


def _op_config(weight_bits: int, per_channel: bool):
    from ai_edge_quantizer import qtyping

    return qtyping.OpQuantizationConfig(
        activation_tensor_config=qtyping.TensorQuantizationConfig(num_bits=8, symmetric=False),
        weight_tensor_config=qtyping.TensorQuantizationConfig(
            num_bits=weight_bits,
            symmetric=True,
            granularity=qtyping.QuantGranularity.CHANNELWISE if per_channel else qtyping.QuantGranularity.TENSORWISE,
        ),
        compute_precision=qtyping.ComputePrecision.INTEGER,
        explicit_dequantize=False,
        # ai-edge-quantizer's default policy lists int4 static configs for CONV_2D and FULLY_CONNECTED only;
        # LiteRT and TFLite Micro run int4 DEPTHWISE_CONV_2D too (checked bit for bit by tests/test_int4.py).
        skip_checks=True,
    )


_AEQ_OP = {OpKind.CONV_2D: "CONV_2D", OpKind.DEPTHWISE_CONV_2D: "DEPTHWISE_CONV_2D", OpKind.FULLY_CONNECTED: "FULLY_CONNECTED"}


def _quantizer(float_model: bytes, int4: Sequence[WeightedLayer] | None):
    """An ai-edge-quantizer Quantizer with the int8 recipe and int4 weights on ``int4`` (None: all)."""
    try:
        from ai_edge_quantizer import qtyping, quantizer
    except ImportError as e:  # pragma: no cover - depends on the install
        raise UsageError("int4 post-training quantisation needs ai-edge-quantizer: pip install ai-edge-quantizer==0.10.0") from e
    q = quantizer.Quantizer(float_model)
    op_name = qtyping.TFLOperationName
    q.add_static_config(".*", op_name.ALL_SUPPORTED, 8, 8)
    if int4 is None:
        for kind in WEIGHTED_KINDS:
            q.update_quantization_recipe(".*", op_name(_AEQ_OP[kind]), _op_config(4, kind is not OpKind.FULLY_CONNECTED))
    else:
        for layer in int4:
            q.update_quantization_recipe(
                layer.regex, op_name(_AEQ_OP[layer.kind]), _op_config(4, layer.kind is not OpKind.FULLY_CONNECTED)
            )
    return q


def _signature_key(float_model: bytes) -> str:
    from ai_edge_litert.interpreter import Interpreter

    keys = list(Interpreter(model_content=float_model).get_signature_list())
    if not keys:
        raise ModelError("the float model has no signature: convert it with TFLiteConverter.from_keras_model")
    return keys[0]


def calibrate(float_model: bytes, samples: Iterable[Mapping[str, np.ndarray]]):
    """Activation ranges (ai-edge-quantizer QSVs) of ``float_model`` over ``samples`` (dicts: input name ->
    float32 array with a batch dim of 1). The ranges do not depend on weight bit widths, so one calibration
    serves every recipe of :func:`quantize_int4`."""
    data = [{k: np.asarray(v, np.float32) for k, v in s.items()} for s in samples]
    if not data:
        raise UsageError("int4 quantisation needs at least one representative sample")
    q = _quantizer(float_model, None)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return q.calibrate({_signature_key(float_model): data}, num_threads=1)


def quantize_int4(
    float_model: bytes,
    samples: Iterable[Mapping[str, np.ndarray]] | None = None,
    *,
    int4: Sequence[WeightedLayer] | None = None,
    calibration=None,
) -> bytes:
    """Post-training quantisation of a float ``.tflite``: int8 activations, int4 weights on the layers in
    ``int4`` (default: every CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED), int8 weights elsewhere.

    ``samples`` is the representative data set (see :func:`calibrate`); pass ``calibration`` instead to reuse
    one. ``int4=[]`` gives the all-int8 model made the same way."""
    if calibration is None:
        if samples is None:
            raise UsageError("quantize_int4 needs representative samples or a calibration result")
        calibration = calibrate(float_model, samples)
    q = _quantizer(float_model, int4)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        result = q.quantize(calibration, enable_progress_report=False, enable_progress_bar=False)
    return _fill_deprecated_opcodes(bytes(result.quantized_model))


def _fill_deprecated_opcodes(model: bytes) -> bytes:
    """Set every operator code's ``deprecated_builtin_code`` to ``min(builtin_code, 127)``, as the TFLite
    converter does.

    ai-edge-quantizer writes the operator codes it adds (QUANTIZE, for requantising activations) with
    ``builtin_code`` only. TFLite reads ``max(builtin_code, deprecated_builtin_code)``, but the ``tflite``
    package's ``BuiltinCode()`` accessor (which tinym2net's importer uses) returns the deprecated field for
    codes below 127, i.e. 0 = ADD for such an op.
    """
    from ai_edge_litert.tools import flatbuffer_utils

    m = flatbuffer_utils.read_model_from_bytearray(bytearray(model))
    changed = False
    for oc in m.operatorCodes:
        want = min(int(oc.builtinCode), 127)
        if int(oc.deprecatedBuiltinCode) != want:
            oc.deprecatedBuiltinCode = want
            changed = True
    return bytes(flatbuffer_utils.convert_object_to_bytearray(m)) if changed else model


def split_samples(x: Mapping[str, np.ndarray], names: Sequence[str], count: int) -> list[dict[str, np.ndarray]]:
    """Up to ``count`` evenly spaced samples of ``x`` (modality -> [N, ...]) as batch-1 dicts."""
    n = len(x[names[0]])
    idx = np.arange(n) if n <= count else np.linspace(0, n - 1, count).round().astype(np.int64)
    return [{k: np.asarray(x[k][i : i + 1], np.float32) for k in names} for i in idx]


# ---------------------------------------------------------------------------------------------
# quantisation-aware training (fake quantisation) -> native INT4
# ---------------------------------------------------------------------------------------------


def _fake_quant_kernel(tf, kernel, per_channel: bool):
    """4-bit narrow-range symmetric fake quantisation of a kernel whose last axis is the output channel."""
    if per_channel:
        m = tf.stop_gradient(tf.reduce_max(tf.abs(tf.reshape(kernel, (-1, kernel.shape[-1]))), axis=0))
        m = tf.maximum(m, 1e-8)
        return tf.quantization.fake_quant_with_min_max_vars_per_channel(kernel, -m, m, num_bits=4, narrow_range=True)
    m = tf.maximum(tf.stop_gradient(tf.reduce_max(tf.abs(kernel))), 1e-8)
    return tf.quantization.fake_quant_with_min_max_vars(kernel, -m, m, num_bits=4, narrow_range=True)


def _qat_classes():
    """Keras layer classes of the fake-quantised clone (defined lazily: importing Keras is slow)."""
    tf = _tf()
    import keras
    from keras import layers, ops

    class QATConv2D(layers.Conv2D):
        """Conv2D whose kernel is fake-quantised to 4 bits per output channel."""

        def convolution_op(self, inputs, kernel):
            return super().convolution_op(inputs, _fake_quant_kernel(tf, kernel, True))

    class QATDepthwiseConv2D(layers.DepthwiseConv2D):
        """DepthwiseConv2D whose kernel (kh, kw, cin, mult) is fake-quantised per output channel
        ``c * mult + m``: TFLite's [1, kh, kw, cin * mult] filter axis 3."""

        def call(self, inputs):
            k = self.kernel
            flat = ops.reshape(k, (k.shape[0], k.shape[1], k.shape[2] * k.shape[3]))
            kq = ops.reshape(_fake_quant_kernel(tf, flat, True), k.shape)
            y = ops.depthwise_conv(
                inputs, kq, strides=self.strides, padding=self.padding, dilation_rate=self.dilation_rate,
                data_format=self.data_format,
            )
            if self.use_bias:
                y = ops.add(y, self.bias)
            return self.activation(y) if self.activation is not None else y

    class QATDense(layers.Dense):
        """Dense whose kernel is fake-quantised to 4 bits per tensor (int4 FULLY_CONNECTED is per tensor)."""

        def call(self, inputs, training=None):
            y = ops.matmul(inputs, _fake_quant_kernel(tf, self.kernel, False))
            if self.bias is not None:
                y = ops.add(y, self.bias)
            return self.activation(y) if self.activation is not None else y

    class FakeQuant8(layers.Layer):
        """8-bit asymmetric fake quantisation of an activation. The range follows an exponential moving
        average of batch min/max while training (the first batch sets it) and always contains 0; a fixed
        range (``fixed=(lo, hi)``) is used as is (softmax outputs: [0, 255/256], TFLite's 1/256 scale)."""

        def __init__(self, momentum: float = 0.99, fixed: tuple[float, float] | None = None, **kwargs):
            super().__init__(**kwargs)
            self.momentum = momentum
            self.fixed = fixed

        def build(self, input_shape):
            self.lo = self.add_weight(shape=(), initializer="zeros", trainable=False, name="lo")
            self.hi = self.add_weight(shape=(), initializer="zeros", trainable=False, name="hi")
            self.seen = self.add_weight(shape=(), initializer="zeros", trainable=False, name="seen")

        def call(self, x, training=None):
            if self.fixed is not None:
                return tf.quantization.fake_quant_with_min_max_args(x, self.fixed[0], self.fixed[1], num_bits=8)
            if training:
                bmin = tf.stop_gradient(tf.reduce_min(x))
                bmax = tf.stop_gradient(tf.reduce_max(x))
                first = tf.equal(self.seen, 0.0)
                m = self.momentum
                self.lo.assign(tf.where(first, bmin, m * self.lo + (1 - m) * bmin))
                self.hi.assign(tf.where(first, bmax, m * self.hi + (1 - m) * bmax))
                self.seen.assign(1.0)
            lo = tf.minimum(self.lo, 0.0)
            hi = tf.maximum(tf.maximum(self.hi, 0.0), lo + 1e-6)
            return tf.quantization.fake_quant_with_min_max_vars(x, lo, hi, num_bits=8)

        def get_config(self):
            return {**super().get_config(), "momentum": self.momentum, "fixed": self.fixed}

    return keras, layers, QATConv2D, QATDepthwiseConv2D, QATDense, FakeQuant8


def qat_model(model):
    """A fake-quantised clone of a functional Keras model (weights copied), ready to fine-tune.

    Where the fake-quant nodes go, so that the converter fuses what it fuses in an int8 model: after
    every model input; after every layer except shape-only ones (Flatten, Reshape, Dropout), pooling
    (its output keeps its input's range) and a weighted layer without activation whose outputs all go
    into ReLU layers (the node goes after the ReLU, which the converter fuses into the layer). Softmax
    outputs get TFLite's fixed int8 range.
    """
    keras, layers, QConv, QDw, QDense, FQ = _qat_classes()
    swap = {layers.Conv2D: QConv, layers.DepthwiseConv2D: QDw, layers.Dense: QDense}
    no_fq = (layers.Flatten, layers.Reshape, layers.Dropout, layers.MaxPooling2D, layers.AveragePooling2D)

    def consumers(layer) -> list:
        return [node.operation for node in getattr(layer, "_outbound_nodes", [])]

    def is_relu(layer) -> bool:
        if isinstance(layer, layers.ReLU):
            return layer.max_value is None and not layer.negative_slope and not layer.threshold
        return isinstance(layer, layers.Activation) and getattr(layer.activation, "__name__", "") == "relu"

    def wants_fq(layer) -> bool:
        if isinstance(layer, no_fq):
            return False
        if type(layer) in swap and getattr(layer.activation, "__name__", "linear") == "linear":
            outs = consumers(layer)
            if outs and all(is_relu(c) for c in outs):
                return False
        return True

    originals = {layer.name: layer for layer in model.layers}
    inputs = [keras.Input(batch_shape=t.shape, name=t.name.split(":")[0], dtype=t.dtype) for t in model.inputs]
    fq_inputs = {id(t): FQ(name=f"fq_input_{i}")(t) for i, t in enumerate(inputs)}

    def clone(layer):
        cls = swap.get(type(layer), type(layer))
        return cls.from_config(layer.get_config())

    def call(layer, *args, **kwargs):
        args = keras.tree.map_structure(lambda t: fq_inputs.get(id(t), t), args)
        out = layer(*args, **kwargs)
        orig = originals.get(layer.name)
        if orig is None or not wants_fq(orig):
            return out
        fixed = (0.0, 255.0 / 256.0) if isinstance(orig, layers.Softmax) else None
        return FQ(fixed=fixed, name=f"fq_{layer.name}")(out)

    clone_model = keras.models.clone_model(model, input_tensors=inputs, clone_function=clone, call_function=call)
    for layer in clone_model.layers:
        if layer.name in originals and originals[layer.name].weights:
            layer.set_weights(originals[layer.name].get_weights())
    return clone_model


def init_ranges(qat, x: Mapping[str, np.ndarray], batch_size: int = 64) -> None:
    """Set the activation ranges of a :func:`qat_model` clone from one pass over ``x`` in training mode."""
    names = [t.name.split(":")[0] for t in qat.inputs]
    n = len(x[names[0]])
    for start in range(0, n, batch_size):
        qat({k: x[k][start : start + batch_size] for k in names}, training=True)


# LiteRT's reference op resolver (BUILTIN_REF, the reference tinym2net checks against) registers
# DEPTHWISE_CONV_2D versions 1-6 only, while the converter marks an int4 DEPTHWISE_CONV_2D as version 7;
# the reference kernel itself runs int4 filters (ai-edge-quantizer's models keep version 1 and run).
_REF_MAX_VERSION = {OpKind.DEPTHWISE_CONV_2D: 6}


def _tidy_converted(model: bytes) -> bytes:
    """Give the graph inputs the names a plain conversion gives them (``serving_default_<input>:0``) and
    cap op versions at what LiteRT's reference resolver registers (:data:`_REF_MAX_VERSION`).

    In a fake-quantised graph the converter names each input tensor after the fake-quant node that reads
    it; :mod:`tinym2net.quantize` (and users) find inputs by Keras Input name. The signature still maps
    input names to tensors, so the tensors are renamed from it and the model rewritten.
    """
    import tflite

    from .importer import parse_tflite
    from .importer.tflite_writer import write_tflite

    m = tflite.Model.GetRootAsModel(model, 0)
    names: dict[int, str] = {}
    if m.SignatureDefsLength() > 0:
        sig = m.SignatureDefs(0)
        names = {sig.Inputs(i).TensorIndex(): sig.Inputs(i).Name().decode() for i in range(sig.InputsLength())}
    graph = parse_tflite(model, name="qat")
    tensors = list(graph.tensors)
    for idx, name in names.items():
        tensors[idx] = replace(tensors[idx], name=f"serving_default_{name}:0")
    ops = [
        replace(op, version=min(op.version, _REF_MAX_VERSION[op.kind])) if op.kind in _REF_MAX_VERSION else op
        for op in graph.operators
    ]
    return write_tflite(replace(graph, tensors=tensors, operators=ops), description="tinym2net int4 QAT")


def convert_qat(qat) -> bytes:
    """The fully fake-quantised clone -> ``.tflite`` with INT4 weights and int8 activations and I/O (batch 1)."""
    tf = _tf()
    converter = tf.lite.TFLiteConverter.from_keras_model(with_batch_one(qat))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        return _tidy_converted(bytes(converter.convert()))


@dataclass(frozen=True)
class QATSettings:
    epochs: int = 10
    lr: float = 5e-4
    batch_size: int = 64
    patience: int = 4  # early stopping on validation accuracy; the best epoch's weights are kept
    seed: int = 0


def qat_int4(model, train, val, settings: QATSettings = QATSettings()) -> tuple[bytes, object]:
    """Quantisation-aware int4 fine-tuning of a trained float Keras model (BatchNorm folded, softmax
    output, inputs named by modality) on ``train`` / ``val`` (:class:`~tinym2net.data.dataset.Split`).

    Returns the converted int4 ``.tflite`` and the fine-tuned fake-quantised Keras clone."""
    tf = _tf()
    import keras

    keras.utils.set_random_seed(settings.seed)
    qat = qat_model(model)
    names = [t.name.split(":")[0] for t in qat.inputs]
    init_ranges(qat, {k: train.x[k] for k in names}, settings.batch_size)
    qat.compile(
        optimizer=keras.optimizers.Adam(settings.lr),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=["accuracy"],
    )
    stop = keras.callbacks.EarlyStopping(
        monitor="val_accuracy", mode="max", patience=settings.patience, restore_best_weights=True
    )
    train_ds = (
        tf.data.Dataset.from_tensor_slices(({k: train.x[k] for k in names}, train.y.astype(np.int64)))
        .shuffle(len(train), seed=settings.seed)
        .batch(settings.batch_size)
    )
    val_ds = tf.data.Dataset.from_tensor_slices(({k: val.x[k] for k in names}, val.y.astype(np.int64))).batch(512)
    qat.fit(train_ds, validation_data=val_ds, epochs=settings.epochs, callbacks=[stop], verbose=0)
    return convert_qat(qat), qat
