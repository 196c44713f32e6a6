"""Lowerings for QUANTIZE (float32 -> int8, int8 -> int8) and DEQUANTIZE (int8 -> float32).

Arithmetic of TFLite's reference kernels (the same in LiteRT and TFLite Micro):

QUANTIZE float32 -> int8 (``AffineQuantize``)
    ``q = clamp(round_half_away(x / scale) + zero_point)`` with a float32 division by the float32
    scale. The C kernel does the same single-precision division (never a multiply by 1/scale).
QUANTIZE int8 -> int8 (``Requantize``)
    ``q = clamp(MultiplyByQuantizedMultiplier(q_in - z_in, M, shift) + z_out)`` with (M, shift) from
    ``QuantizeMultiplier(double(s_in) / double(s_out))``.
DEQUANTIZE int8 -> float32
    TFLite computes ``(float)(double(scale) * (q - z))``; the double product of a float32 and an integer
    below 2^9 is exact, so it equals the single-rounded float32 product ``scale * (float)(q - z)`` that
    the C kernel computes.
"""

from __future__ import annotations

from ..ir import DType, Graph, Operator, OpKind, Tensor
from ..quantmath import f32, quantize_multiplier
from .base import Lowered, register
from .conv import unsupported
from .elementwise import require_int8_per_tensor


def _single_io(op: Operator, graph: Graph) -> tuple[Tensor, Tensor]:
    ins = graph.op_inputs(op)
    if len(ins) != 1 or ins[0] is None or len(op.outputs) != 1:
        raise unsupported(
            op, f"{len(ins)} inputs and {len(op.outputs)} outputs, expected 1 and 1", "re-export the model"
        )
    x, y = ins[0], graph.op_outputs(op)[0]
    if x.size != y.size:
        raise unsupported(op, f"input has {x.size} elements, output {y.size}", "re-export the model")
    return x, y


@register(OpKind.QUANTIZE)
def lower_quantize(op: Operator, graph: Graph) -> Lowered:
    """QUANTIZE float32 -> int8 (``tm2_quantize_f32_s8``) or int8 -> int8 (``tm2_requantize_s8``)."""
    x, y = _single_io(op, graph)
    y = require_int8_per_tensor(op, y, "output")
    const = (0,) if x.is_const else ()
    if x.dtype is DType.FLOAT32:
        params = {"mode": "float", "scale": f32(y.scale), "zero_point": y.zero_point, "size": y.size}
        return Lowered(template="ops/quantize.j2", params=params, const_inputs=const)
    if x.dtype is DType.INT8:
        x = require_int8_per_tensor(op, x, "input")
        mult, shift = quantize_multiplier(f32(x.scale) / f32(y.scale))
        params = {
            "mode": "requantize",
            "input_zero_point": x.zero_point,
            "output_zero_point": y.zero_point,
            "multiplier": mult,
            "shift": shift,
            "size": y.size,
        }
        return Lowered(template="ops/quantize.j2", params=params, const_inputs=const)
    raise unsupported(
        op,
        f"{x.dtype.value} -> {y.dtype.value} is not supported (only float32 or int8 -> int8)",
        "convert the model with int8 (or float32) inputs",
    )


@register(OpKind.DEQUANTIZE)
def lower_dequantize(op: Operator, graph: Graph) -> Lowered:
    """DEQUANTIZE int8 -> float32 -> ``tm2_dequantize_s8_f32``."""
    x, y = _single_io(op, graph)
    if y.dtype is not DType.FLOAT32:
        raise unsupported(
            op, f"output is {y.dtype.value}, only float32 is supported", "use float32 or int8 outputs"
        )
    x = require_int8_per_tensor(op, x, "input")
    params = {"scale": f32(x.scale), "zero_point": x.zero_point, "size": x.size}
    return Lowered(template="ops/dequantize.j2", params=params, const_inputs=(0,) if x.is_const else ())
