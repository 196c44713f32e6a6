"""Lowering for SOFTMAX (int8 in, int8 out with scale 1/256 and zero point -128), over the last axis.

TFLite's reference kernel (``reference_ops::Softmax``, used by LiteRT's BUILTIN_REF resolver and by TFLite
Micro, which agree bit for bit) works on the differences ``x - max(row)`` in fixed point. Its Prepare step,
reproduced here at build time with the same double arithmetic (``PreprocessSoftmaxScaling`` and
``CalculateInputRadius`` with 5 integer bits):

* ``real = min(double(beta) * double(input_scale) * 2^26, 2^31 - 1)`` is the factor that turns an input
  difference into a Q5.26 number (beta and the scale are float32 in the model file);
* ``QuantizeMultiplierGreaterThanOne(real)`` gives ``input_multiplier`` (Q31) and ``input_left_shift``
  (0..31: the cap at 2^31 - 1 makes a shift of 31 possible, which TFLite's default double-rounding build
  keeps; ``tinym2net.quantmath.quantize_multiplier`` would clamp it to 30, so it is not used here);
* ``diff_min = -floor(31 * 2^26 / 2^input_left_shift)``: differences below it give exp() = 0 exactly.

The sum of exponentials is kept in Q12.19, so a row may have at most 4095 elements. A row whose sum of
exponentials reaches 512 (possible only with 512 or more elements near the row maximum) makes TFLite abort
(a TFLITE_CHECK); the C kernel writes -128 for such a row, every probability being at most half a step.
"""

from __future__ import annotations

import math

import numpy as np

from ..ir import Graph, Operator, OpKind, SoftmaxOptions, Tensor
from ..quantmath import tflite_round
from .base import Lowered, register
from .conv import require_int8_activation, unsupported

SCALED_DIFF_INTEGER_BITS = 5
MAX_DEPTH = 4095
OUTPUT_SCALE = 1.0 / 256.0
OUTPUT_ZERO_POINT = -128
_FIX = "convert with TFLiteConverter full-integer int8 (it fixes softmax outputs to scale 1/256, zero point -128)"


def quantize_multiplier_greater_than_one(real: float) -> tuple[int, int]:
    """TFLite ``QuantizeMultiplierGreaterThanOne`` in the default (double-rounding) build.

    ``real = q * 2^(shift - 31)`` with ``q`` in [2^30, 2^31) and ``shift >= 0``; no clamp of the shift.
    """
    assert real > 1.0
    frac, shift = math.frexp(real)
    q = tflite_round(frac * (1 << 31))
    if q == 1 << 31:
        q //= 2
        shift += 1
    assert 0 <= shift <= 31 and q <= (1 << 31) - 1
    return q, shift


def calculate_input_radius(
    input_integer_bits: int, input_left_shift: int, total_signed_bits: int = 31
) -> int:
    """TFLite ``CalculateInputRadius``: the largest |input| that does not overflow after rescaling (double math)."""
    max_input_rescaled = (
        1.0
        * ((1 << input_integer_bits) - 1)
        * (1 << (total_signed_bits - input_integer_bits))
        / (1 << input_left_shift)
    )
    return int(math.floor(max_input_rescaled))


def softmax_scaling(beta: float, input_scale: float) -> tuple[int, int, int]:
    """``(input_multiplier, input_left_shift, diff_min)`` exactly as TFLite's SoftmaxPrepare computes them."""
    real = min(
        float(np.float32(beta))
        * float(np.float32(input_scale))
        * float(1 << (31 - SCALED_DIFF_INTEGER_BITS)),
        float((1 << 31) - 1),
    )
    multiplier, left_shift = quantize_multiplier_greater_than_one(real)
    diff_min = -calculate_input_radius(SCALED_DIFF_INTEGER_BITS, left_shift)
    return multiplier, left_shift, diff_min


def probability_io(op: Operator, graph: Graph, fix: str) -> tuple[Tensor, Tensor]:
    """(input, output) of an op whose output is a probability (SOFTMAX, LOGISTIC): int8 tensors, a
    per-tensor input and the output quantisation TFLite fixes for them (scale 1/256, zero point -128)."""
    ins = graph.op_inputs(op)
    x = require_int8_activation(op, ins[0] if ins else None, "input")
    y = require_int8_activation(op, graph.op_outputs(op)[0], "output")
    if x.quant is not None and x.quant.per_channel:
        raise unsupported(op, "input has per-channel quantisation", fix)
    if y.scale != OUTPUT_SCALE or y.zero_point != OUTPUT_ZERO_POINT:
        raise unsupported(
            op,
            f"output quantisation (scale {y.scale!r}, zero point {y.zero_point}) is not (1/256, -128)",
            fix,
        )
    return x, y


@register(OpKind.SOFTMAX)
def lower_softmax(op: Operator, graph: Graph) -> Lowered:
    x, y = probability_io(op, graph, _FIX)
    if len(x.shape) < 1 or x.size != y.size:
        raise unsupported(
            op,
            f"input shape {list(x.shape)} and output shape {list(y.shape)} do not match",
            "re-export the model",
        )
    depth = x.shape[-1]
    if not 1 <= depth <= MAX_DEPTH:
        raise unsupported(
            op,
            f"last axis has {depth} elements, the int8 kernel handles 1..{MAX_DEPTH}",
            "reshape to shorter rows",
        )
    beta = op.options.beta if isinstance(op.options, SoftmaxOptions) else 1.0
    real = float(np.float32(beta)) * float(np.float32(x.scale)) * float(1 << (31 - SCALED_DIFF_INTEGER_BITS))
    if not real > 1.0:
        raise unsupported(
            op,
            f"beta * input scale = {beta * x.scale:.3g} is below 2^-26 (TFLite rejects it too)",
            "retrain or rescale",
        )
    multiplier, left_shift, diff_min = softmax_scaling(beta, x.scale)
    return Lowered(
        template="ops/softmax.j2",
        params={
            "outer_size": x.size // depth,
            "depth": depth,
            "input_multiplier": multiplier,
            "input_left_shift": left_shift,
            "diff_min": diff_min,
            "inplace_input": 0,  # the kernel reads element i of a row before writing it, never after
        },
    )
