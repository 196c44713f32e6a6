"""Lowerings for int8 ADD and MUL with general broadcasting.

Both follow TFLite's reference kernels (LiteRT ``kernels/add.cc`` / ``mul.cc``, which the
``BUILTIN_REF`` resolver runs):

ADD
    ``left_shift = 20``; ``twice_max = 2 * max(s1, s2)`` (float32, exact); the input multipliers are
    ``s_i / twice_max`` and the output multiplier ``twice_max / (2**20 * s_out)`` (doubles), each
    turned into (Q31, shift <= 0) by ``QuantizeMultiplierSmallerThanOneExp``. At run time both offset
    inputs are shifted left by 20, scaled to a common scale, summed and scaled to the output.
MUL
    ``(q1 - z1) * (q2 - z2)`` rescaled by ``s1 * s2 / s_out``. LiteRT computes that ratio in
    **float32** (``input1->params.scale * input2->params.scale / output->params.scale``) before
    widening it to double; TFLite Micro computes it in double. The two multipliers usually differ in
    their low bits, and on rare inputs the outputs differ by one; we follow LiteRT.

Broadcasting: shapes are right-aligned (numpy rules), size-1 output dims dropped, and adjacent dims
merged where both inputs broadcast alike; the result (at most 4 dims) is passed to the kernel as the
output shape plus one element stride per dim and input (0 where that input is broadcast).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir import DType, ElementwiseOptions, Graph, Operator, OpKind, Tensor
from ..quantmath import (
    activation_range_int8,
    f32,
    quantize_multiplier,
    quantize_multiplier_smaller_than_one_exp,
)
from .base import Lowered, register
from .conv import unsupported

MAX_BCAST_DIMS = 4
ADD_LEFT_SHIFT = 20
_INT8_FIX = "convert the model with full-integer int8 quantisation (int8 activations, per-tensor scales)"


@dataclass(frozen=True)
class Broadcast:
    """A broadcast loop nest: output dims (outermost first) and each input's element stride per dim."""

    out_shape: tuple[int, ...]
    in1_strides: tuple[int, ...]
    in2_strides: tuple[int, ...]


def broadcast_shape(shape1: tuple[int, ...], shape2: tuple[int, ...]) -> tuple[int, ...] | None:
    """Numpy / TFLite broadcast of two shapes, or None if they are incompatible."""
    rank = max(len(shape1), len(shape2))
    a = (1,) * (rank - len(shape1)) + tuple(shape1)
    b = (1,) * (rank - len(shape2)) + tuple(shape2)
    out = []
    for x, y in zip(a, b, strict=True):
        if x != y and x != 1 and y != 1:
            return None
        out.append(y if x == 1 else x)
    return tuple(out)


def collapse_broadcast(
    shape1: tuple[int, ...], shape2: tuple[int, ...], out_shape: tuple[int, ...]
) -> Broadcast:
    """The smallest loop nest that walks ``out_shape`` in order, reading both (contiguous) inputs.

    Steps: right-align all three shapes; drop dims whose output size is 1; label each remaining dim
    by which inputs are broadcast along it ((in1 is 1, in2 is 1)); merge runs of equally labelled
    neighbours by multiplying their sizes; then give each input the stride of its contiguous layout
    over the merged dims, with 0 on the dims it broadcasts. An empty result (a scalar op) becomes one
    dim of size 1.
    """
    rank = len(out_shape)
    a = (1,) * (rank - len(shape1)) + tuple(shape1)
    b = (1,) * (rank - len(shape2)) + tuple(shape2)
    dims: list[list[int]] = []  # [out size, in1 broadcast?, in2 broadcast?]
    for x, y, o in zip(a, b, out_shape, strict=True):
        if o == 1:
            continue
        label = [o, int(x == 1), int(y == 1)]
        if dims and dims[-1][1:] == label[1:]:
            dims[-1][0] *= o
        else:
            dims.append(label)
    if not dims:
        dims = [[1, 0, 0]]
    out = tuple(d[0] for d in dims)

    def strides(col: int) -> tuple[int, ...]:
        result = [0] * len(dims)
        step = 1
        for k in range(len(dims) - 1, -1, -1):
            if not dims[k][col]:
                result[k] = step
                step *= dims[k][0]
        return tuple(result)

    return Broadcast(out, strides(1), strides(2))


def pad_broadcast(bc: Broadcast, ndims: int = MAX_BCAST_DIMS) -> Broadcast:
    """Left-pad a loop nest to ``ndims`` dims with size-1, stride-0 dims."""
    lead = ndims - len(bc.out_shape)
    return Broadcast((1,) * lead + bc.out_shape, (0,) * lead + bc.in1_strides, (0,) * lead + bc.in2_strides)


def require_int8_per_tensor(op: Operator, t: Tensor | None, role: str) -> Tensor:
    """An int8 tensor with one scale and zero point (activation or constant)."""
    if t is None:
        raise unsupported(op, f"{role} tensor is missing", "re-export the model")
    if t.dtype is not DType.INT8 or t.quant is None:
        raise unsupported(op, f"{role} is {t.dtype.value}, only quantised int8 is supported", _INT8_FIX)
    if t.quant.per_channel:
        raise unsupported(
            op, f"{role} has {len(t.quant.scale)} scales, only per-tensor is supported", _INT8_FIX
        )
    if not t.scale > 0.0:
        raise unsupported(op, f"{role} has scale {t.scale}, it must be positive", _INT8_FIX)
    return t


def _binary_io(op: Operator, graph: Graph) -> tuple[Tensor, Tensor, Tensor, Broadcast]:
    ins = graph.op_inputs(op)
    if len(ins) != 2 or len(op.outputs) != 1:
        raise unsupported(
            op, f"{len(ins)} inputs and {len(op.outputs)} outputs, expected 2 and 1", "re-export the model"
        )
    x1 = require_int8_per_tensor(op, ins[0], "input 1")
    x2 = require_int8_per_tensor(op, ins[1], "input 2")
    y = require_int8_per_tensor(op, graph.op_outputs(op)[0], "output")
    shape = broadcast_shape(x1.shape, x2.shape)
    if shape is None or shape != tuple(y.shape):
        raise unsupported(
            op,
            f"input shapes {list(x1.shape)} and {list(x2.shape)} do not broadcast to output {list(y.shape)}",
            "re-export the model",
        )
    bc = collapse_broadcast(x1.shape, x2.shape, y.shape)
    if len(bc.out_shape) > MAX_BCAST_DIMS:
        raise unsupported(
            op,
            f"broadcasting {list(x1.shape)} with {list(x2.shape)} needs {len(bc.out_shape)} loop dims, "
            f"at most {MAX_BCAST_DIMS} are supported",
            "reshape the operands so that fewer dims alternate between broadcast and full",
        )
    return x1, x2, y, pad_broadcast(bc)


def _activation(op: Operator):
    opts = op.options
    if not isinstance(opts, ElementwiseOptions):
        raise unsupported(op, f"unexpected options {type(opts).__name__}", "re-export the model")
    return opts.activation


def _bcast_params(bc: Broadcast) -> dict[str, list[int]]:
    return {
        "out_shape": list(bc.out_shape),
        "in1_strides": list(bc.in1_strides),
        "in2_strides": list(bc.in2_strides),
    }


def _same_shape_inputs(op: Operator, graph: Graph) -> list[int]:
    """Inputs the output may overwrite (memory planner): activations that are not broadcast. The kernels
    walk the output in order and read element i of such an input just before writing element i."""
    out = graph.op_outputs(op)[0]
    return [k for k, t in enumerate(graph.op_inputs(op)) if t is not None and not t.is_const and t.shape == out.shape]


def _const_positions(op: Operator, graph: Graph) -> tuple[int, ...]:
    return tuple(k for k, t in enumerate(graph.op_inputs(op)) if t is not None and t.is_const)


def add_multipliers(s1: float, s2: float, s_out: float) -> dict[str, int]:
    """The fixed-point rescaling of int8 ADD exactly as TFLite's ``add.cc`` Prepare computes it."""
    s1, s2, s_out = f32(s1), f32(s2), f32(s_out)
    twice_max = 2.0 * max(s1, s2)  # float32 in LiteRT; doubling is exact
    real1 = s1 / twice_max
    real2 = s2 / twice_max
    real_out = twice_max / f32((1 << ADD_LEFT_SHIFT) * s_out)  # int * float is a float32 product in LiteRT
    m1, sh1 = quantize_multiplier_smaller_than_one_exp(real1)
    m2, sh2 = quantize_multiplier_smaller_than_one_exp(real2)
    mo, sho = quantize_multiplier_smaller_than_one_exp(real_out)
    return {
        "left_shift": ADD_LEFT_SHIFT,
        "input1_multiplier": m1,
        "input1_shift": sh1,
        "input2_multiplier": m2,
        "input2_shift": sh2,
        "output_multiplier": mo,
        "output_shift": sho,
    }


def mul_real_multiplier(s1: float, s2: float, s_out: float) -> float:
    """LiteRT's MUL rescale ``s1 * s2 / s_out``, evaluated in float32 as the C++ expression is."""
    return float(np.float32(np.float32(s1) * np.float32(s2)) / np.float32(s_out))


@register(OpKind.ADD)
def lower_add(op: Operator, graph: Graph) -> Lowered:
    """ADD (int8, broadcasting) -> ``tm2_add_s8``."""
    x1, x2, y, bc = _binary_io(op, graph)
    act = _activation(op)
    if not 2.0 * max(f32(x1.scale), f32(x2.scale)) < f32((1 << ADD_LEFT_SHIFT) * f32(y.scale)):
        raise unsupported(
            op,
            f"largest input scale {max(x1.scale, x2.scale):g} is 2^19 or more times the output scale {y.scale:g}",
            _INT8_FIX,
        )
    act_min, act_max = activation_range_int8(act, y)
    params = {
        "input1_offset": -x1.zero_point,
        "input2_offset": -x2.zero_point,
        "output_offset": y.zero_point,
        **add_multipliers(x1.scale, x2.scale, y.scale),
        "act_min": act_min,
        "act_max": act_max,
        **_bcast_params(bc),
        "inplace_input": _same_shape_inputs(op, graph),
    }
    return Lowered(template="ops/add.j2", params=params, const_inputs=_const_positions(op, graph))


@register(OpKind.MUL)
def lower_mul(op: Operator, graph: Graph) -> Lowered:
    """MUL (int8, broadcasting) -> ``tm2_mul_s8``."""
    x1, x2, y, bc = _binary_io(op, graph)
    act = _activation(op)
    mult, shift = quantize_multiplier(mul_real_multiplier(x1.scale, x2.scale, y.scale))
    act_min, act_max = activation_range_int8(act, y)
    params = {
        "input1_offset": -x1.zero_point,
        "input2_offset": -x2.zero_point,
        "output_offset": y.zero_point,
        "output_multiplier": mult,
        "output_shift": shift,
        "act_min": act_min,
        "act_max": act_max,
        **_bcast_params(bc),
        "inplace_input": _same_shape_inputs(op, graph),
    }
    return Lowered(template="ops/mul.j2", params=params, const_inputs=_const_positions(op, graph))
