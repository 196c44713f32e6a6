"""What tinym2net accepts from the TFLite schema: opcode, type, option and version tables.

The numbers here are the TFLite schema's own enum values (``schema.fbs``, mirrored by the ``tflite``
package). Keeping them in one place lets the reader stay a plain walk over the flatbuffer and lets
the error messages say exactly which value was refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from tflite.ActivationFunctionType import ActivationFunctionType
from tflite.BuiltinOptions import BuiltinOptions
from tflite.Padding import Padding as TflPadding
from tflite.TensorType import TensorType
from tflite.utils import BUILTIN_OPCODE2NAME

from ..ir import Activation, DType, OpKind, Padding

CUSTOM_CODE = 32  # BuiltinOperator.CUSTOM

#: TFLite builtin opcode -> OpKind, for the ops tinym2net has kernels for.
OPCODE_TO_KIND: dict[int, OpKind] = {
    code: OpKind[name] for code, name in BUILTIN_OPCODE2NAME.items() if name in OpKind.__members__
}

#: Ops whose operators refer to other subgraphs (control flow, composites).
SUBGRAPH_CALLING_OPS: frozenset[str] = frozenset(
    {
        "IF",
        "WHILE",
        "CALL",
        "CALL_ONCE",
        "STABLEHLO_WHILE",
        "STABLEHLO_COMPOSITE",
        "STABLEHLO_REDUCE",
        "STABLEHLO_REDUCE_WINDOW",
        "STABLEHLO_SORT",
        "STABLEHLO_SCATTER",
    }
)

#: Highest operator version accepted per op. These are the highest versions that TFLite's own version
#: rules (``tools/versioning/op_version.cc``) assign to each op today; the extra features that some of
#: those versions encode (int16 activations, float or hybrid inputs, int64, grouped or sparse weights)
#: are refused by separate checks with a clearer message. A version above this table comes from a
#: newer converter whose semantics tinym2net has not been checked against.
MAX_OP_VERSION: dict[OpKind, int] = {
    OpKind.CONV_2D: 8,
    OpKind.DEPTHWISE_CONV_2D: 7,
    OpKind.FULLY_CONNECTED: 12,
    OpKind.AVERAGE_POOL_2D: 3,
    OpKind.MAX_POOL_2D: 3,
    OpKind.ADD: 5,
    OpKind.MUL: 7,
    OpKind.RESHAPE: 1,
    OpKind.SQUEEZE: 2,
    OpKind.SOFTMAX: 3,
    OpKind.LOGISTIC: 3,
    OpKind.CONCATENATION: 4,
    OpKind.PAD: 4,
    OpKind.MEAN: 3,
    OpKind.QUANTIZE: 4,
    OpKind.DEQUANTIZE: 6,
}


@dataclass(frozen=True)
class Arity:
    """How many input/output tensor slots an op has in a TFLite file (-1 inputs allowed only where noted)."""

    min_inputs: int
    max_inputs: int | None  # None: unbounded (CONCATENATION)
    outputs: int
    optional_inputs: frozenset[int] = frozenset()  # slots that may hold -1 (no tensor)


ARITY: dict[OpKind, Arity] = {
    OpKind.CONV_2D: Arity(2, 3, 1, frozenset({2})),
    OpKind.DEPTHWISE_CONV_2D: Arity(2, 3, 1, frozenset({2})),
    OpKind.FULLY_CONNECTED: Arity(2, 3, 1, frozenset({2})),
    OpKind.AVERAGE_POOL_2D: Arity(1, 1, 1),
    OpKind.MAX_POOL_2D: Arity(1, 1, 1),
    OpKind.ADD: Arity(2, 2, 1),
    OpKind.MUL: Arity(2, 2, 1),
    OpKind.RESHAPE: Arity(1, 2, 1, frozenset({1})),
    OpKind.SQUEEZE: Arity(1, 1, 1),
    OpKind.SOFTMAX: Arity(1, 1, 1),
    OpKind.LOGISTIC: Arity(1, 1, 1),
    OpKind.CONCATENATION: Arity(1, None, 1),
    OpKind.PAD: Arity(2, 2, 1),
    OpKind.MEAN: Arity(2, 2, 1),
    OpKind.QUANTIZE: Arity(1, 1, 1),
    OpKind.DEQUANTIZE: Arity(1, 1, 1),
}

#: The BuiltinOptions union member each op carries (None: the op has no options we read).
OPTIONS_TYPE: dict[OpKind, int | None] = {
    OpKind.CONV_2D: BuiltinOptions.Conv2DOptions,
    OpKind.DEPTHWISE_CONV_2D: BuiltinOptions.DepthwiseConv2DOptions,
    OpKind.FULLY_CONNECTED: BuiltinOptions.FullyConnectedOptions,
    OpKind.AVERAGE_POOL_2D: BuiltinOptions.Pool2DOptions,
    OpKind.MAX_POOL_2D: BuiltinOptions.Pool2DOptions,
    OpKind.ADD: BuiltinOptions.AddOptions,
    OpKind.MUL: BuiltinOptions.MulOptions,
    OpKind.RESHAPE: BuiltinOptions.ReshapeOptions,
    OpKind.SQUEEZE: BuiltinOptions.SqueezeOptions,
    OpKind.SOFTMAX: BuiltinOptions.SoftmaxOptions,
    OpKind.LOGISTIC: None,
    OpKind.CONCATENATION: BuiltinOptions.ConcatenationOptions,
    OpKind.PAD: None,
    OpKind.MEAN: BuiltinOptions.ReducerOptions,
    OpKind.QUANTIZE: None,
    OpKind.DEQUANTIZE: None,
}

#: Ops that cannot be read without their options table (the schema defaults would be meaningless).
OPTIONS_REQUIRED: frozenset[OpKind] = frozenset(
    {
        OpKind.CONV_2D,
        OpKind.DEPTHWISE_CONV_2D,
        OpKind.AVERAGE_POOL_2D,
        OpKind.MAX_POOL_2D,
        OpKind.CONCATENATION,
        OpKind.SOFTMAX,
    }
)

TENSOR_TYPE_TO_DTYPE: dict[int, DType] = {
    TensorType.INT8: DType.INT8,
    TensorType.INT4: DType.INT4,
    TensorType.INT16: DType.INT16,
    TensorType.INT32: DType.INT32,
    TensorType.INT64: DType.INT64,
    TensorType.UINT8: DType.UINT8,
    TensorType.FLOAT32: DType.FLOAT32,
    TensorType.BOOL: DType.BOOL,
}

TENSOR_TYPE_NAMES: dict[int, str] = {
    v: k for k, v in vars(TensorType).items() if not k.startswith("_") and isinstance(v, int)
}

ACTIVATIONS: dict[int, Activation] = {
    ActivationFunctionType.NONE: Activation.NONE,
    ActivationFunctionType.RELU: Activation.RELU,
    ActivationFunctionType.RELU6: Activation.RELU6,
    ActivationFunctionType.RELU_N1_TO_1: Activation.RELU_N1_TO_1,
}

ACTIVATION_NAMES: dict[int, str] = {
    v: k for k, v in vars(ActivationFunctionType).items() if not k.startswith("_") and isinstance(v, int)
}

PADDINGS: dict[int, Padding] = {TflPadding.SAME: Padding.SAME, TflPadding.VALID: Padding.VALID}

#: numpy dtype (little-endian) of a constant buffer, per IR dtype. INT4 is packed and handled apart.
NUMPY_DTYPES: dict[DType, str] = {
    DType.INT8: "<i1",
    DType.INT16: "<i2",
    DType.INT32: "<i4",
    DType.INT64: "<i8",
    DType.UINT8: "<u1",
    DType.FLOAT32: "<f4",
    DType.BOOL: "<u1",
}


def opcode_name(code: int) -> str:
    """Schema name of a builtin opcode, or ``BUILTIN_<n>`` for one newer than the ``tflite`` package."""
    return BUILTIN_OPCODE2NAME.get(code, f"BUILTIN_{code}")
