"""Full-integer int8 post-training quantisation of Keras models, and running the result on the host.

:func:`quantize_int8` calibrates activation ranges on a representative set and returns a TFLite flatbuffer
whose inputs and outputs are int8 too (no QUANTIZE/DEQUANTIZE ops left in the graph). Weights are int8
(per-channel for convolutions), biases int32.

Inputs: TFLite does not keep the Keras input order, so everything here maps inputs by name (the Keras Input
name = the modality name). :func:`quantize_inputs` turns float samples into the int8 tensors the firmware
receives, in graph input order, with the arithmetic of TFLite's QUANTIZE kernel:
``q = clamp(round_half_away_from_zero(float32(x) / float32(scale)) + zero_point, -128, 127)``.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Mapping

import keras
import numpy as np
import tensorflow as tf
import tflite
from ai_edge_litert.interpreter import Interpreter

from tinym2net.data.dataset import Split

_SERVING_PREFIX = "serving_default_"


def _representative_indices(n: int, num_samples: int) -> np.ndarray:
    """Evenly spaced sample indices (deterministic, and spread over data that may be sorted by class)."""
    if n <= num_samples:
        return np.arange(n)
    return np.linspace(0, n - 1, num_samples).round().astype(np.int64)


def quantize_int8(model: keras.Model, rep_data: dict[str, np.ndarray], *, num_samples: int = 200) -> bytes:
    """Full-integer int8 TFLite model of ``model`` (int8 inputs and outputs), calibrated on up to
    ``num_samples`` evenly spaced samples of ``rep_data`` (modality name -> float array [N, ...])."""
    names = [inp.name for inp in model.inputs]
    missing = [n for n in names if n not in rep_data]
    if missing:
        raise KeyError(f"representative data lacks model inputs {missing}")
    n = len(rep_data[names[0]])
    idx = _representative_indices(n, num_samples)

    def representative():
        for i in idx:
            yield {name: np.asarray(rep_data[name][i : i + 1], dtype=np.float32) for name in names}

    from .int4 import with_batch_one

    # batch size 1, as the firmware runs it: static shapes, so Flatten becomes a RESHAPE, not SHAPE ops
    converter = tf.lite.TFLiteConverter.from_keras_model(with_batch_one(model))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    # The Keras exporter prints its endpoint signature on stdout and the converter warns about its own
    # deprecated calibration interpreter: neither is for the user.
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bytes(converter.convert())


def _interpreter(tflite_bytes: bytes) -> Interpreter:
    it = Interpreter(model_content=tflite_bytes)
    it.allocate_tensors()
    return it


def _input_name(tensor_name: str) -> str:
    """``serving_default_depth:0`` -> ``depth``."""
    name = tensor_name.split(":")[0]
    return name[len(_SERVING_PREFIX) :] if name.startswith(_SERVING_PREFIX) else name


def input_names(tflite_bytes: bytes) -> list[str]:
    """Modality names of the model's inputs in graph input order (the order the firmware uses)."""
    return [_input_name(d["name"]) for d in _interpreter(tflite_bytes).get_input_details()]


def quantize_array(x: np.ndarray, scale: float, zero_point: int, dtype=np.int8) -> np.ndarray:
    """TFLite QUANTIZE arithmetic: float32 division, round half away from zero, add zero point, clamp."""
    q = (np.asarray(x, dtype=np.float32) / np.float32(scale)).astype(np.float64)
    rounded = np.sign(q) * np.floor(np.abs(q) + 0.5)
    info = np.iinfo(dtype)
    return np.clip(rounded + zero_point, info.min, info.max).astype(dtype)


def quantize_inputs(tflite_bytes: bytes, x: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    """Float inputs (modality name -> array, batch axis optional) -> int8 arrays in graph input order."""
    out = []
    for d in _interpreter(tflite_bytes).get_input_details():
        name = _input_name(d["name"])
        if name not in x:
            raise KeyError(f"input {name!r} of the TFLite model is missing from the data ({sorted(x)})")
        scale, zp = d["quantization"]
        out.append(quantize_array(x[name], scale, zp, np.dtype(d["dtype"]).type))
    return out


def predict_tflite(tflite_bytes: bytes, x: Mapping[str, np.ndarray]) -> np.ndarray:
    """Raw (int8) outputs of the first output for every sample of ``x``, one ``invoke`` per sample."""
    it = _interpreter(tflite_bytes)
    inputs = it.get_input_details()
    output = it.get_output_details()[0]
    q = quantize_inputs(tflite_bytes, x)
    n = len(q[0])
    results = np.empty((n, *output["shape"][1:]), dtype=output["dtype"])
    for i in range(n):
        for d, arr in zip(inputs, q, strict=True):
            it.set_tensor(d["index"], arr[i : i + 1])
        it.invoke()
        results[i] = it.get_tensor(output["index"])[0]
    return results


def evaluate_tflite(tflite_bytes: bytes, split: Split) -> float:
    """Top-1 accuracy of the TFLite model on ``split`` (argmax of the int8 output; first index wins ties)."""
    out = predict_tflite(tflite_bytes, split.x)
    pred = out.reshape(len(out), -1).argmax(axis=1)
    return float(np.mean(pred == split.y))


_WEIGHT_OPS = {
    tflite.BuiltinOperator.CONV_2D,
    tflite.BuiltinOperator.DEPTHWISE_CONV_2D,
    tflite.BuiltinOperator.FULLY_CONNECTED,
}


def tflite_weight_bytes(tflite_bytes: bytes) -> int:
    """Bytes of the constant filters and biases of CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED, as stored
    in the flatbuffer (int8 weights, int32 biases); quantisation parameters are not counted."""
    model = tflite.Model.GetRootAsModel(tflite_bytes, 0)
    seen: set[int] = set()
    total = 0
    for s in range(model.SubgraphsLength()):
        graph = model.Subgraphs(s)
        for o in range(graph.OperatorsLength()):
            op = graph.Operators(o)
            code = model.OperatorCodes(op.OpcodeIndex())
            builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            if builtin not in _WEIGHT_OPS:
                continue
            for pos in (1, 2):
                if pos >= op.InputsLength() or op.Inputs(pos) < 0:
                    continue
                tensor = graph.Tensors(op.Inputs(pos))
                if tensor.Buffer() in seen:
                    continue
                seen.add(tensor.Buffer())
                total += model.Buffers(tensor.Buffer()).DataLength()
    return total
