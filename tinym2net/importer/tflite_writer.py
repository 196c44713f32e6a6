"""Write TFLite flatbuffers: the IR back to a ``.tflite`` file, and a low-level builder for tests.

Two layers:

* :class:`TFLiteBuilder` assembles a model from plain values (schema opcodes, tensor type codes,
  raw bytes, an options-table callback). It can express things the IR cannot (unsupported or
  custom ops, float tensors, extra subgraphs, any op version), which is what tests need to make
  models that the importer must refuse.
* :func:`write_tflite` serialises a :class:`~tinym2net.ir.Graph` through the builder. The zoo uses it
  for graph surgery the TFLite converter will not do itself (it always rewrites SQUEEZE as
  RESHAPE and always equalises CONCATENATION input scales); ``parse_tflite(write_tflite(g))``
  gives ``g`` back.

Layout follows the converter's: buffer 0 is the empty sentinel, each constant gets its own
buffer (data 16-byte aligned), run-time tensors point at buffer 0, and the file identifier is
``TFL3``. Flatbuffers are built back to front, so :meth:`TFLiteBuilder.finish` serialises
everything in one go, children before parents.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import flatbuffers
import numpy as np
from tflite.BuiltinOptions import BuiltinOptions

from ..ir import (
    Activation,
    ConcatenationOptions,
    Conv2DOptions,
    DepthwiseConv2DOptions,
    DType,
    ElementwiseOptions,
    FullyConnectedOptions,
    Graph,
    OpKind,
    OpOptions,
    Pool2DOptions,
    ReducerOptions,
    ReshapeOptions,
    SoftmaxOptions,
    SqueezeOptions,
    Tensor,
)
from .tflite_schema import ACTIVATIONS, OPCODE_TO_KIND, PADDINGS, TENSOR_TYPE_TO_DTYPE

__all__ = ["TFLiteBuilder", "fb", "tensor_bytes", "write_tflite"]

OptionsFn = Callable[[flatbuffers.Builder], int]


def fb(table: str):
    """The generated module of a schema table (its ``Start``/``Add...``/``End`` builder functions)."""
    return importlib.import_module(f"tflite.{table}")


@dataclass
class _TensorSpec:
    name: str
    shape: tuple[int, ...]
    type_code: int
    buffer: int
    scale: tuple[float, ...] | None
    zero_point: tuple[int, ...] | None
    axis: int
    is_variable: bool


@dataclass
class _OpSpec:
    opcode: int
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options_type: int
    options: OptionsFn | None


@dataclass
class TFLiteBuilder:
    """Collects tensors, buffers and operators of subgraph 0; :meth:`finish` returns the file's bytes."""

    description: str = "tinym2net"
    _tensors: list[_TensorSpec] = field(default_factory=list)
    _buffers: list[bytes] = field(default_factory=lambda: [b""])
    _opcodes: list[tuple[int, int, str | None]] = field(default_factory=list)
    _ops: list[_OpSpec] = field(default_factory=list)

    def add_tensor(
        self,
        name: str,
        shape: Sequence[int],
        type_code: int,
        *,
        data: bytes | None = None,
        scale: Sequence[float] | None = None,
        zero_point: Sequence[int] | None = None,
        axis: int = 0,
        is_variable: bool = False,
    ) -> int:
        """Add a tensor (``data``: raw little-endian bytes for a constant); returns its index."""
        buffer = 0
        if data:
            self._buffers.append(bytes(data))
            buffer = len(self._buffers) - 1
        self._tensors.append(
            _TensorSpec(
                name,
                tuple(int(d) for d in shape),
                type_code,
                buffer,
                tuple(float(s) for s in scale) if scale is not None else None,
                tuple(int(z) for z in zero_point) if zero_point is not None else None,
                axis,
                is_variable,
            )
        )
        return len(self._tensors) - 1

    def add_operator(
        self,
        opcode: int,
        inputs: Sequence[int],
        outputs: Sequence[int],
        *,
        version: int = 1,
        custom_code: str | None = None,
        options_type: int = 0,
        options: OptionsFn | None = None,
    ) -> int:
        """Add an operator (``options``: builds the options table, of union type ``options_type``)."""
        key = (opcode, version, custom_code)
        if key not in self._opcodes:
            self._opcodes.append(key)
        self._ops.append(
            _OpSpec(self._opcodes.index(key), tuple(inputs), tuple(outputs), options_type, options)
        )
        return len(self._ops) - 1

    def finish(self, inputs: Sequence[int], outputs: Sequence[int], *, extra_subgraphs: int = 0) -> bytes:
        """Serialise; ``extra_subgraphs`` appends empty subgraphs (as control-flow models carry)."""
        b = flatbuffers.Builder(1 << 16)
        buffers = [self._buffer(b, data) for data in self._buffers]
        tensors = [self._tensor(b, t) for t in self._tensors]
        ops = [self._operator(b, op) for op in self._ops]
        subgraphs = [self._subgraph(b, tensors, ops, inputs, outputs, "main")]
        subgraphs += [self._subgraph(b, [], [], [], [], f"extra{i}") for i in range(extra_subgraphs)]
        codes = [self._opcode(b, *key) for key in self._opcodes]
        description = b.CreateString(self.description)
        m = fb("Model")
        codes_vec = _offsets(b, m.StartOperatorCodesVector, codes)
        subgraphs_vec = _offsets(b, m.StartSubgraphsVector, subgraphs)
        buffers_vec = _offsets(b, m.StartBuffersVector, buffers)
        m.Start(b)
        m.AddVersion(b, 3)
        m.AddOperatorCodes(b, codes_vec)
        m.AddSubgraphs(b, subgraphs_vec)
        m.AddDescription(b, description)
        m.AddBuffers(b, buffers_vec)
        b.Finish(m.End(b), file_identifier=b"TFL3")
        return bytes(b.Output())

    # ---- serialisation helpers ----

    @staticmethod
    def _buffer(b: flatbuffers.Builder, data: bytes) -> int:
        m = fb("Buffer")
        vec = None
        if data:
            b.StartVector(1, len(data), 16)
            b.head -= len(data)
            b.Bytes[b.head : b.head + len(data)] = data
            vec = b.EndVector()
        m.Start(b)
        if vec is not None:
            m.AddData(b, vec)
        return m.End(b)

    @staticmethod
    def _tensor(b: flatbuffers.Builder, t: _TensorSpec) -> int:
        m, q = fb("Tensor"), fb("QuantizationParameters")
        quant = None
        if t.scale is not None:
            scale = b.CreateNumpyVector(np.asarray(t.scale, dtype="<f4"))
            zero = b.CreateNumpyVector(np.asarray(t.zero_point or (0,) * len(t.scale), dtype="<i8"))
            q.Start(b)
            q.AddScale(b, scale)
            q.AddZeroPoint(b, zero)
            q.AddQuantizedDimension(b, t.axis)
            quant = q.End(b)
        name = b.CreateString(t.name)
        shape = b.CreateNumpyVector(np.asarray(t.shape, dtype="<i4"))
        m.Start(b)
        m.AddShape(b, shape)
        m.AddType(b, t.type_code)
        m.AddBuffer(b, t.buffer)
        m.AddName(b, name)
        if quant is not None:
            m.AddQuantization(b, quant)
        if t.is_variable:
            m.AddIsVariable(b, True)
        return m.End(b)

    @staticmethod
    def _operator(b: flatbuffers.Builder, op: _OpSpec) -> int:
        m = fb("Operator")
        options = op.options(b) if op.options is not None else None
        ins = b.CreateNumpyVector(np.asarray(op.inputs, dtype="<i4"))
        outs = b.CreateNumpyVector(np.asarray(op.outputs, dtype="<i4"))
        m.Start(b)
        m.AddOpcodeIndex(b, op.opcode)
        m.AddInputs(b, ins)
        m.AddOutputs(b, outs)
        if options is not None:
            m.AddBuiltinOptionsType(b, op.options_type)
            m.AddBuiltinOptions(b, options)
        return m.End(b)

    @staticmethod
    def _subgraph(
        b: flatbuffers.Builder,
        tensors: list[int],
        ops: list[int],
        inputs: Sequence[int],
        outputs: Sequence[int],
        name: str,
    ) -> int:
        m = fb("SubGraph")
        tensors_vec = _offsets(b, m.StartTensorsVector, tensors)
        ops_vec = _offsets(b, m.StartOperatorsVector, ops)
        ins = b.CreateNumpyVector(np.asarray(inputs, dtype="<i4"))
        outs = b.CreateNumpyVector(np.asarray(outputs, dtype="<i4"))
        name_off = b.CreateString(name)
        m.Start(b)
        m.AddTensors(b, tensors_vec)
        m.AddInputs(b, ins)
        m.AddOutputs(b, outs)
        m.AddOperators(b, ops_vec)
        m.AddName(b, name_off)
        return m.End(b)

    @staticmethod
    def _opcode(b: flatbuffers.Builder, code: int, version: int, custom: str | None) -> int:
        m = fb("OperatorCode")
        custom_off = b.CreateString(custom) if custom is not None else None
        m.Start(b)
        m.AddDeprecatedBuiltinCode(b, min(code, 127))  # 127: PLACEHOLDER_FOR_GREATER_OP_CODES
        m.AddBuiltinCode(b, code)
        m.AddVersion(b, version)
        if custom_off is not None:
            m.AddCustomCode(b, custom_off)
        return m.End(b)


def _offsets(
    b: flatbuffers.Builder, start_vector: Callable[[flatbuffers.Builder, int], object], offsets: list[int]
) -> int:
    start_vector(b, len(offsets))
    for off in reversed(offsets):
        b.PrependUOffsetTRelative(off)
    return b.EndVector()


# ---- IR -> flatbuffer ----

_DTYPE_TO_TYPE = {dtype: code for code, dtype in TENSOR_TYPE_TO_DTYPE.items()}
_KIND_TO_OPCODE = {kind: code for code, kind in OPCODE_TO_KIND.items()}
_ACTIVATION_CODES = {act: code for code, act in ACTIVATIONS.items()}
_PADDING_CODES = {pad: code for code, pad in PADDINGS.items()}


def tensor_bytes(t: Tensor) -> bytes:
    """The buffer bytes of a constant tensor: little-endian, int4 packed two per byte (low nibble first)."""
    assert t.data is not None
    if t.dtype is DType.INT4:
        flat = np.asarray(t.data, dtype=np.int8).reshape(-1)
        nibbles = (flat.astype(np.int16) & 0x0F).astype(np.uint8)
        if nibbles.size % 2:
            nibbles = np.append(nibbles, np.uint8(0))
        return (nibbles[0::2] | (nibbles[1::2] << 4)).astype(np.uint8).tobytes()
    dt = {
        DType.INT8: "<i1",
        DType.INT16: "<i2",
        DType.INT32: "<i4",
        DType.INT64: "<i8",
        DType.UINT8: "<u1",
        DType.FLOAT32: "<f4",
        DType.BOOL: "<u1",
    }[t.dtype]
    return np.ascontiguousarray(t.data, dtype=dt).tobytes()


def _act(a: Activation) -> int:
    return _ACTIVATION_CODES[a]


def _options(kind: OpKind, o: OpOptions) -> tuple[int, OptionsFn | None]:
    """(union type, builder callback) for an IR operator's options."""

    def table(name: str, **fields: object) -> OptionsFn:
        def build(b: flatbuffers.Builder) -> int:
            m = fb(name)
            vectors = {
                k: b.CreateNumpyVector(np.asarray(v, dtype="<i4"))
                for k, v in fields.items()
                if isinstance(v, tuple)
            }
            m.Start(b)
            for key, value in fields.items():
                getattr(m, f"Add{key}")(b, vectors.get(key, value))
            return m.End(b)

        return build

    if isinstance(o, Conv2DOptions):
        return BuiltinOptions.Conv2DOptions, table(
            "Conv2DOptions",
            Padding=_PADDING_CODES[o.padding],
            StrideW=o.stride_w,
            StrideH=o.stride_h,
            FusedActivationFunction=_act(o.activation),
            DilationWFactor=o.dilation_w,
            DilationHFactor=o.dilation_h,
        )
    if isinstance(o, DepthwiseConv2DOptions):
        return BuiltinOptions.DepthwiseConv2DOptions, table(
            "DepthwiseConv2DOptions",
            Padding=_PADDING_CODES[o.padding],
            StrideW=o.stride_w,
            StrideH=o.stride_h,
            DepthMultiplier=o.depth_multiplier,
            FusedActivationFunction=_act(o.activation),
            DilationWFactor=o.dilation_w,
            DilationHFactor=o.dilation_h,
        )
    if isinstance(o, FullyConnectedOptions):
        return BuiltinOptions.FullyConnectedOptions, table(
            "FullyConnectedOptions", FusedActivationFunction=_act(o.activation), KeepNumDims=o.keep_num_dims
        )
    if isinstance(o, Pool2DOptions):
        return BuiltinOptions.Pool2DOptions, table(
            "Pool2DOptions",
            Padding=_PADDING_CODES[o.padding],
            StrideW=o.stride_w,
            StrideH=o.stride_h,
            FilterWidth=o.filter_w,
            FilterHeight=o.filter_h,
            FusedActivationFunction=_act(o.activation),
        )
    if isinstance(o, ElementwiseOptions):
        name = "AddOptions" if kind is OpKind.ADD else "MulOptions"
        return getattr(BuiltinOptions, name), table(name, FusedActivationFunction=_act(o.activation))
    if isinstance(o, ConcatenationOptions):
        return BuiltinOptions.ConcatenationOptions, table(
            "ConcatenationOptions", Axis=o.axis, FusedActivationFunction=_act(o.activation)
        )
    if isinstance(o, SoftmaxOptions):
        return BuiltinOptions.SoftmaxOptions, table("SoftmaxOptions", Beta=o.beta)
    if isinstance(o, ReshapeOptions):
        return BuiltinOptions.ReshapeOptions, table("ReshapeOptions", NewShape=tuple(o.new_shape))
    if isinstance(o, SqueezeOptions):
        return BuiltinOptions.SqueezeOptions, table("SqueezeOptions", SqueezeDims=tuple(o.squeeze_dims))
    if isinstance(o, ReducerOptions):
        return BuiltinOptions.ReducerOptions, table("ReducerOptions", KeepDims=o.keep_dims)
    return 0, None


def write_tflite(graph: Graph, description: str = "tinym2net") -> bytes:
    """Serialise an IR graph as a TFLite flatbuffer (tensor order, indices and op versions kept)."""
    builder = TFLiteBuilder(description=description)
    for t in graph.tensors:
        builder.add_tensor(
            t.name,
            t.shape,
            _DTYPE_TO_TYPE[t.dtype],
            data=tensor_bytes(t) if t.data is not None else None,
            scale=t.quant.scale if t.quant else None,
            zero_point=t.quant.zero_point if t.quant else None,
            axis=t.quant.axis if t.quant else 0,
        )
    for op in graph.operators:
        options_type, options = _options(op.kind, op.options)
        builder.add_operator(
            _KIND_TO_OPCODE[op.kind],
            op.inputs,
            op.outputs,
            version=op.version,
            options_type=options_type,
            options=options,
        )
    return builder.finish(graph.inputs, graph.outputs)
