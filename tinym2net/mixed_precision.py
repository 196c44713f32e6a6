"""Mixed precision: 4- or 8-bit weights per layer, chosen to fit a flash budget with the least accuracy loss.

Algorithm (post-training, on a float ``.tflite`` and a representative data set):

1. Calibrate activation ranges once (:func:`tinym2net.int4.calibrate`); the ranges do not depend on the
   weights' bit widths, so every candidate below reuses them.
2. Baseline: every layer int8 (ai-edge-quantizer, the same recipe as the int4 layers get, 8-bit weights).
3. Sensitivity: for each weighted layer (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED) quantise the model
   with *only that layer* int4 and measure the validation accuracy; the layer's sensitivity is the drop
   from the baseline, and its saving is the exact drop in compiled weight bytes (int4 packed, plus the
   int16 bias the int4 kernels take when it fits).
4. Greedy: switch layers to int4 in order of increasing sensitivity (larger saving first on ties) until
   the weight bytes fit the budget, then quantise that recipe and measure it.

Savings add up exactly (each layer's weights and bias are separate arrays); the interactions between
layers' quantisation errors do not, which is why the chosen model's accuracy is measured, not summed.
The bytes are tinym2net's ``weights_bytes`` (what the generated C stores in flash for the weighted
layers' tensors), so a budget carries straight over to ``tinym2net check``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .compiler import compile_graph
from .data.dataset import Split
from .errors import UsageError
from .importer import parse_tflite
from .int4 import WeightedLayer, calibrate, quantize_int4, weighted_layers

Progress = Callable[[str], None]


def weights_bytes(model: bytes) -> int:
    """Flash bytes of a quantised model's weights as tinym2net compiles them."""
    return compile_graph(parse_tflite(model, name="model"), model).weights_bytes


def accuracy(model: bytes, split: Split) -> float:
    """Top-1 accuracy of a quantised model on ``split`` (LiteRT; inputs matched by name)."""
    from .quantize import evaluate_tflite

    return evaluate_tflite(model, split)


@dataclass(frozen=True)
class LayerSensitivity:
    layer: WeightedLayer
    accuracy_int4: float  # validation accuracy with only this layer int4
    drop: float  # baseline accuracy - accuracy_int4
    saving: int  # weight bytes saved by making this layer int4


@dataclass
class MixedPrecisionResult:
    tflite: bytes
    int4_layers: list[WeightedLayer]
    accuracy: float  # validation accuracy of the chosen model
    weights_bytes: int
    budget_bytes: int
    int8_accuracy: float
    int8_weights_bytes: int
    sensitivities: list[LayerSensitivity] = field(default_factory=list)

    @property
    def bits(self) -> dict[str, int]:
        """Weight bits per layer scope."""
        chosen = {layer.scope for layer in self.int4_layers}
        return {s.layer.scope: 4 if s.layer.scope in chosen else 8 for s in self.sensitivities}


def layer_sensitivities(
    float_model: bytes,
    calibration,
    val: Split,
    *,
    baseline: tuple[float, int],
    layers: Sequence[WeightedLayer] | None = None,
    progress: Progress = lambda s: None,
) -> list[LayerSensitivity]:
    """Step 3 of the module docstring; ``baseline`` is the all-int8 model's (accuracy, weight bytes)."""
    base_acc, base_bytes = baseline
    result = []
    for layer in layers if layers is not None else weighted_layers(float_model):
        progress(f"sensitivity of {layer.kind.value} {layer.scope[:60]}")
        model = quantize_int4(float_model, int4=[layer], calibration=calibration)
        acc = accuracy(model, val)
        result.append(LayerSensitivity(layer, acc, base_acc - acc, base_bytes - weights_bytes(model)))
    return result


def greedy_int4(sensitivities: Sequence[LayerSensitivity], int8_bytes: int, budget: int) -> list[WeightedLayer]:
    """Step 4: the least sensitive layers whose int4 savings bring ``int8_bytes`` within ``budget``."""
    order = sorted(sensitivities, key=lambda s: (s.drop, -s.saving, s.layer.index))
    chosen: list[WeightedLayer] = []
    total = int8_bytes
    for s in order:
        if total <= budget:
            break
        if s.saving <= 0:
            continue
        chosen.append(s.layer)
        total -= s.saving
    if total > budget:
        raise UsageError(
            f"the weights need {total} B even with every layer int4, more than the {budget} B budget: "
            "raise the budget or use a smaller model"
        )
    return sorted(chosen, key=lambda layer: layer.index)


def mixed_precision(
    float_model: bytes,
    samples: Iterable[Mapping[str, np.ndarray]],
    val: Split,
    budget_bytes: int,
    *,
    progress: Progress = lambda s: None,
) -> MixedPrecisionResult:
    """Per-layer 4/8-bit weights for ``float_model`` (float ``.tflite``) whose compiled weights fit in
    ``budget_bytes``, losing as little validation accuracy as the greedy search finds (module docstring).

    ``samples``: representative inputs (dicts: input name -> float32 array with batch dim 1); ``val``: the
    validation split that measures accuracy."""
    progress("calibrating activation ranges")
    calibration = calibrate(float_model, samples)
    int8 = quantize_int4(float_model, int4=[], calibration=calibration)
    int8_bytes = weights_bytes(int8)
    int8_acc = accuracy(int8, val)
    if int8_bytes <= budget_bytes:
        return MixedPrecisionResult(int8, [], int8_acc, int8_bytes, budget_bytes, int8_acc, int8_bytes)
    sens = layer_sensitivities(
        float_model, calibration, val, baseline=(int8_acc, int8_bytes), progress=progress
    )
    chosen = greedy_int4(sens, int8_bytes, budget_bytes)
    progress(f"quantising with {len(chosen)} of {len(sens)} layers int4")
    model = quantize_int4(float_model, int4=chosen, calibration=calibration)
    size = weights_bytes(model)
    if size > budget_bytes:  # cannot happen while savings add up; kept as a guard on that assumption
        raise UsageError(f"mixed-precision model has {size} B of weights, over the {budget_bytes} B budget")
    return MixedPrecisionResult(
        tflite=model,
        int4_layers=chosen,
        accuracy=accuracy(model, val),
        weights_bytes=size,
        budget_bytes=budget_bytes,
        int8_accuracy=int8_acc,
        int8_weights_bytes=int8_bytes,
        sensitivities=sens,
    )
