"""Typed graph IR: what the importer produces and every later stage reads.

A :class:`Graph` holds :class:`Tensor` objects (activations and constants) and :class:`Operator`
objects in the file's execution order. Operator options are small frozen dataclasses, one per
op family, so that code dispatches on :class:`OpKind` and reads declared fields, never strings.
Batch size is always 1 (the importer refuses other batch sizes).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np


class DType(enum.Enum):
    INT8 = "int8"
    INT4 = "int4"
    INT16 = "int16"
    INT32 = "int32"
    INT64 = "int64"
    UINT8 = "uint8"
    FLOAT32 = "float32"
    BOOL = "bool"

    @property
    def itemsize(self) -> int:
        """Bytes per element in RAM (int4 activations do not exist; int4 weights are packed)."""
        return {"int8": 1, "int4": 1, "int16": 2, "int32": 4, "int64": 8, "uint8": 1, "float32": 4, "bool": 1}[
            self.value
        ]

    @property
    def ctype(self) -> str:
        return {
            "int8": "int8_t",
            "int4": "int8_t",
            "int16": "int16_t",
            "int32": "int32_t",
            "int64": "int64_t",
            "uint8": "uint8_t",
            "float32": "float",
            "bool": "uint8_t",
        }[self.value]


class Activation(enum.Enum):
    NONE = "none"
    RELU = "relu"
    RELU6 = "relu6"
    RELU_N1_TO_1 = "relu_n1_to_1"


class Padding(enum.Enum):
    SAME = "same"
    VALID = "valid"


class OpKind(enum.Enum):
    CONV_2D = "CONV_2D"
    DEPTHWISE_CONV_2D = "DEPTHWISE_CONV_2D"
    FULLY_CONNECTED = "FULLY_CONNECTED"
    AVERAGE_POOL_2D = "AVERAGE_POOL_2D"
    MAX_POOL_2D = "MAX_POOL_2D"
    ADD = "ADD"
    MUL = "MUL"
    RESHAPE = "RESHAPE"
    SQUEEZE = "SQUEEZE"
    SOFTMAX = "SOFTMAX"
    LOGISTIC = "LOGISTIC"
    CONCATENATION = "CONCATENATION"
    PAD = "PAD"
    MEAN = "MEAN"
    QUANTIZE = "QUANTIZE"
    DEQUANTIZE = "DEQUANTIZE"


@dataclass(frozen=True)
class QuantParams:
    """Affine quantisation: real = scale * (q - zero_point); per-channel along ``axis`` when len(scale) > 1."""

    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    axis: int = 0

    @property
    def per_channel(self) -> bool:
        return len(self.scale) > 1


@dataclass
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: DType
    quant: QuantParams | None = None
    data: np.ndarray | None = None  # constants only (weights, biases, shape tensors)

    @property
    def is_const(self) -> bool:
        return self.data is not None

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def nbytes(self) -> int:
        """Bytes this tensor occupies: packed two per byte for int4, itemsize otherwise."""
        if self.dtype is DType.INT4:
            return (self.size + 1) // 2
        return self.size * self.dtype.itemsize

    @property
    def scale(self) -> float:
        assert self.quant is not None
        return self.quant.scale[0]

    @property
    def zero_point(self) -> int:
        assert self.quant is not None
        return self.quant.zero_point[0]


# ---- operator options, one dataclass per op family ----


@dataclass(frozen=True)
class NoOptions:
    pass


@dataclass(frozen=True)
class Conv2DOptions:
    padding: Padding
    stride_h: int
    stride_w: int
    dilation_h: int = 1
    dilation_w: int = 1
    activation: Activation = Activation.NONE


@dataclass(frozen=True)
class DepthwiseConv2DOptions:
    padding: Padding
    stride_h: int
    stride_w: int
    depth_multiplier: int
    dilation_h: int = 1
    dilation_w: int = 1
    activation: Activation = Activation.NONE


@dataclass(frozen=True)
class FullyConnectedOptions:
    activation: Activation = Activation.NONE
    keep_num_dims: bool = False


@dataclass(frozen=True)
class Pool2DOptions:
    padding: Padding
    stride_h: int
    stride_w: int
    filter_h: int
    filter_w: int
    activation: Activation = Activation.NONE


@dataclass(frozen=True)
class ElementwiseOptions:
    """ADD and MUL."""

    activation: Activation = Activation.NONE


@dataclass(frozen=True)
class ConcatenationOptions:
    axis: int
    activation: Activation = Activation.NONE


@dataclass(frozen=True)
class SoftmaxOptions:
    beta: float = 1.0


@dataclass(frozen=True)
class ReshapeOptions:
    new_shape: tuple[int, ...] = ()


@dataclass(frozen=True)
class SqueezeOptions:
    squeeze_dims: tuple[int, ...] = ()


@dataclass(frozen=True)
class ReducerOptions:
    """MEAN: the reduced axes come from the constant second input."""

    keep_dims: bool = False


OpOptions = (
    NoOptions
    | Conv2DOptions
    | DepthwiseConv2DOptions
    | FullyConnectedOptions
    | Pool2DOptions
    | ElementwiseOptions
    | ConcatenationOptions
    | SoftmaxOptions
    | ReshapeOptions
    | SqueezeOptions
    | ReducerOptions
)


@dataclass
class Operator:
    index: int
    kind: OpKind
    inputs: tuple[int, ...]  # tensor indices; -1 marks an omitted optional input (e.g. no bias)
    outputs: tuple[int, ...]
    options: OpOptions = field(default_factory=NoOptions)
    version: int = 1


@dataclass
class Graph:
    name: str
    tensors: list[Tensor]
    operators: list[Operator]
    inputs: list[int]
    outputs: list[int]
    # Whose arithmetic the generated code reproduces where TFLite's two interpreters differ:
    # "litert" (LiteRT's reference kernels, the default) or "tflm" (TFLite Micro).
    reference: str = "litert"

    def tensor(self, index: int) -> Tensor:
        return self.tensors[index]

    def op_inputs(self, op: Operator) -> list[Tensor | None]:
        return [self.tensors[i] if i >= 0 else None for i in op.inputs]

    def op_outputs(self, op: Operator) -> list[Tensor]:
        return [self.tensors[i] for i in op.outputs]

    @property
    def activation_tensors(self) -> list[Tensor]:
        """Non-constant tensors that some operator reads or writes, or that are graph inputs/outputs."""
        used: set[int] = set(self.inputs) | set(self.outputs)
        for op in self.operators:
            used.update(i for i in op.inputs if i >= 0)
            used.update(op.outputs)
        return [t for t in self.tensors if t.index in used and not t.is_const]

    @property
    def const_tensors(self) -> list[Tensor]:
        used: set[int] = set()
        for op in self.operators:
            used.update(i for i in op.inputs if i >= 0)
        return [t for t in self.tensors if t.index in used and t.is_const]
