"""Lowering for LOGISTIC (sigmoid), int8 in, int8 out with scale 1/256 and zero point -128.

The kernel is TFLite Micro's reference arithmetic (``reference_integer_ops::Logistic``, gemmlowp fixed
point). Its Prepare step (``CalculateArithmeticOpDataLogistic``), reproduced here at build time:

* ``double(input_scale) * 2^27`` (the factor that turns ``x - zero_point`` into a Q4.27 number) is split
  by ``frexp`` into ``q`` in [0.5, 1) and ``input_left_shift``; ``input_multiplier = round(q * 2^31)``
  (no renormalisation: with a float32 scale ``q * 2^31`` never rounds up to 2^31);
* ``input_range_radius = floor(15 * 2^27 / 2^input_left_shift)`` (``CalculateInputRadius(4, shift, 31)``):
  inputs at or beyond it saturate to -128 / 127 without evaluating the sigmoid.

LiteRT differs: its LOGISTIC (BUILTIN_REF and the optimized resolver alike) reads a 256-entry table built
in float32, ``round(256 / (1 + expf(-x))) - 128``. The two agree except where ``256 * sigmoid(x)`` lies
within float32 error of a rounding boundary: one input of the 256 for roughly 1 in 1000 input scales
(measured on random scales; e.g. scale 0.0039067366, zero point -83, input -73: TFLite Micro 2, LiteRT 3).
tinym2net matches TFLite Micro there.
"""

from __future__ import annotations

import math

import numpy as np

from ..ir import Graph, Operator, OpKind
from ..quantmath import tflite_round
from .base import Lowered, register
from .conv import unsupported
from .softmax import calculate_input_radius, probability_io

INPUT_INTEGER_BITS = 4
_FIX = "convert with TFLiteConverter full-integer int8 (it fixes logistic outputs to scale 1/256, zero point -128)"


def logistic_scaling(input_scale: float) -> tuple[int, int, int]:
    """``(input_multiplier, input_left_shift, input_range_radius)`` as TFLite Micro's LogisticPrepare.

    Needs ``input_scale >= 2^-28`` (a non-negative shift; TFLite shifts by it unchecked)."""
    real = float(np.float32(input_scale)) * float(1 << (31 - INPUT_INTEGER_BITS))
    frac, left_shift = math.frexp(real)
    multiplier = tflite_round(frac * (1 << 31))
    assert multiplier < (1 << 31)
    return multiplier, left_shift, calculate_input_radius(INPUT_INTEGER_BITS, left_shift, 31)


@register(OpKind.LOGISTIC)
def lower_logistic(op: Operator, graph: Graph) -> Lowered:
    x, y = probability_io(op, graph, _FIX)
    if x.size != y.size:
        raise unsupported(
            op, f"input shape {list(x.shape)} and output shape {list(y.shape)} differ", "re-export the model"
        )
    if float(np.float32(x.scale)) < 2.0**-28:
        raise unsupported(
            op, f"input scale {x.scale:.3g} is below 2^-28", "retrain or rescale the layer before it"
        )
    multiplier, left_shift, radius = logistic_scaling(x.scale)
    return Lowered(
        template="ops/logistic.j2",
        params={
            "size": x.size,
            "input_zero_point": x.zero_point,
            "input_range_radius": radius,
            "input_multiplier": multiplier,
            "input_left_shift": left_shift,
            "inplace_input": 0,  # element-wise: reads element i before writing element i
        },
    )
