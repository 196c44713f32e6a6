"""Read a TFLite flatbuffer into the typed IR (:mod:`tinym2net.ir`), refusing what tinym2net cannot run.

Reading happens in three passes over subgraph 0:

1. **Structure.** The ``tflite`` package's generated accessors walk the flatbuffer; every table is
   checked by :mod:`.flatbuffer_guard` before use, so corrupt or truncated bytes end in a
   :class:`~tinym2net.errors.ModelError` rather than an exception from deep inside flatbuffers
   (or a silent read of wrapped-around bytes). Tensors become :class:`~tinym2net.ir.Tensor`
   objects with shape, dtype, quantisation and, for constants, a numpy array of the logical shape
   (int4 buffers are packed two per byte, low nibble first, and are unpacked to int8 values).
   Operators become :class:`.model_checks.RawOperator` records.
2. **Model checks** (:mod:`.model_checks`): subgraph use, float/hybrid/int16/uint8 models,
   custom or unsupported ops, op versions, non-int8 activations.
3. **Operators.** Each raw operator's options table is decoded into the IR options dataclass of its
   :class:`~tinym2net.ir.OpKind` (fused activation, padding, strides, RESHAPE's resolved shape,
   SQUEEZE's dims, MEAN's keep_dims, ...), after which weights, quantisation, dataflow order and
   batch size are checked.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import tflite
from tflite.FullyConnectedOptionsWeightsFormat import FullyConnectedOptionsWeightsFormat

from ..errors import ModelError, TinyM2NetError, UnsupportedOpError
from ..ir import (
    Activation,
    ConcatenationOptions,
    Conv2DOptions,
    DepthwiseConv2DOptions,
    DType,
    ElementwiseOptions,
    FullyConnectedOptions,
    Graph,
    NoOptions,
    Operator,
    OpKind,
    OpOptions,
    Padding,
    Pool2DOptions,
    QuantParams,
    ReducerOptions,
    ReshapeOptions,
    SoftmaxOptions,
    SqueezeOptions,
    Tensor,
)
from . import model_checks
from .flatbuffer_guard import CorruptFlatbuffer, check_table, numpy_vector, table_vector
from .model_checks import ModelView, RawOperator
from .tflite_schema import (
    ACTIVATION_NAMES,
    ACTIVATIONS,
    ARITY,
    NUMPY_DTYPES,
    OPTIONS_REQUIRED,
    OPTIONS_TYPE,
    PADDINGS,
    TENSOR_TYPE_NAMES,
    TENSOR_TYPE_TO_DTYPE,
    opcode_name,
)

__all__ = ["load_tflite", "parse_tflite"]

SCHEMA_VERSION = 3
MAX_RANK = 8
MAX_DIM = 1 << 24
MAX_ELEMENTS = 1 << 28

# vtable slots of the vector-of-table fields the reader iterates (schema.fbs field order: 4 + 2 * id)
_MODEL_OPERATOR_CODES, _MODEL_SUBGRAPHS, _MODEL_BUFFERS = 6, 8, 12
_SUBGRAPH_TENSORS, _SUBGRAPH_OPERATORS = 4, 10

_EXPORT_HINT = "re-export it with tf.lite.TFLiteConverter (or download it again)"


def load_tflite(path: Path) -> Graph:
    """Read a ``.tflite`` file into a :class:`Graph` named after the file's stem."""
    path = Path(path)
    if not path.exists():
        raise ModelError(
            f"model file {path} does not exist: check the path (a .tflite file from TFLiteConverter)"
        )
    if path.is_dir():
        raise ModelError(
            f"model path {path} is a directory, not a .tflite file: convert the SavedModel or Keras model "
            "with tf.lite.TFLiteConverter (full-integer int8) and pass the .tflite file"
        )
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(
            f"cannot read model file {path} ({exc.strerror or exc}): check its permissions"
        ) from exc
    return parse_tflite(data, path.stem)


def parse_tflite(buf: bytes, name: str) -> Graph:
    """Parse TFLite flatbuffer bytes into a :class:`Graph`; any problem is a one-line ModelError."""
    data = bytes(buf)
    if not data:
        raise ModelError(f"model '{name}' is empty (0 bytes): {_EXPORT_HINT}")
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelError(
            f"model '{name}' is not a TFLite flatbuffer (no 'TFL3' file identifier{_guess_format(data)}): "
            "pass a .tflite file written by tf.lite.TFLiteConverter"
        )
    try:
        return _Reader(data, name).read()
    except TinyM2NetError:
        raise
    except CorruptFlatbuffer as exc:
        raise ModelError(f"model '{name}' is corrupt or truncated ({exc}): {_EXPORT_HINT}") from exc
    except Exception as exc:  # the generated accessors can fail in many ways on garbage bytes
        raise ModelError(
            f"model '{name}' is corrupt or truncated (unreadable flatbuffer: {type(exc).__name__}): "
            f"{_EXPORT_HINT}"
        ) from exc


def _guess_format(data: bytes) -> str:
    if data.startswith(b"\x89HDF"):
        return "; it looks like a Keras .h5 file"
    if data.startswith(b"PK\x03\x04"):
        return "; it looks like a zip archive such as a .keras file"
    if data[8:12] == b"TFL3":
        return "; it looks like a size-prefixed flatbuffer: drop the 4-byte size prefix"
    return ""


class _Reader:
    def __init__(self, data: bytes, name: str) -> None:
        self.data = data
        self.name = name

    # ---- pass 1: structure ----

    def read(self) -> Graph:
        model = check_table(tflite.Model.GetRootAs(self.data, 0), "the model table")
        if model.Version() != SCHEMA_VERSION:
            raise ModelError(
                f"model '{self.name}' uses TFLite schema version {model.Version()}, expected "
                f"{SCHEMA_VERSION}: {_EXPORT_HINT}"
            )
        subgraphs = table_vector(model, _MODEL_SUBGRAPHS, model.Subgraphs, "subgraph list")
        if not subgraphs:
            raise ModelError(f"model '{self.name}' has no subgraph: {_EXPORT_HINT}")
        opcodes = [
            self._opcode(i, oc)
            for i, oc in enumerate(
                table_vector(model, _MODEL_OPERATOR_CODES, model.OperatorCodes, "opcode list")
            )
        ]
        buffers = table_vector(model, _MODEL_BUFFERS, model.Buffers, "buffer list")
        sg = subgraphs[0]
        tensor_tables = table_vector(sg, _SUBGRAPH_TENSORS, sg.Tensors, "tensor list")
        tensors = [self._tensor(i, t, buffers) for i, t in enumerate(tensor_tables)]
        n = len(tensors)
        inputs = self._indices(sg.InputsAsNumpy, n, "graph input list", allow_omitted=False)
        outputs = self._indices(sg.OutputsAsNumpy, n, "graph output list", allow_omitted=False)
        if not inputs or not outputs:
            raise ModelError(
                f"model '{self.name}' has no graph {'inputs' if not inputs else 'outputs'}: {_EXPORT_HINT}"
            )
        for i in inputs:
            if tensors[i].is_const:
                raise ModelError(
                    f"model '{self.name}': graph input '{tensors[i].name}' is a constant: {_EXPORT_HINT}"
                )
        for i in outputs:
            if tensors[i].is_const:  # the firmware hands back outputs from the arena, where constants are not
                raise ModelError(
                    f"model '{self.name}': graph output '{tensors[i].name}' is a constant, not computed "
                    f"by any operator: {_EXPORT_HINT}"
                )
        op_tables = table_vector(sg, _SUBGRAPH_OPERATORS, sg.Operators, "operator list")
        if not op_tables:
            raise ModelError(f"model '{self.name}' has no operators: {_EXPORT_HINT}")
        raw_ops = [self._raw_op(i, op, opcodes, n) for i, op in enumerate(op_tables)]
        view = ModelView(self.name, tensors, raw_ops, inputs, outputs, len(subgraphs))

        # ---- pass 2: model checks ----
        model_checks.check_subgraphs(view)
        model_checks.check_numeric_types(view)
        kinds = [model_checks.op_kind(view, op) for op in raw_ops]
        model_checks.check_activation_types(view)

        # ---- pass 3: operators ----
        operators = [self._operator(view, raw, kind) for raw, kind in zip(raw_ops, kinds, strict=True)]
        model_checks.check_operator_tensors(view, operators)
        model_checks.check_batch(view)
        return Graph(name=self.name, tensors=tensors, operators=operators, inputs=inputs, outputs=outputs)

    def _opcode(self, index: int, oc: tflite.OperatorCode) -> tuple[int, int, str | None]:
        code = max(int(oc.DeprecatedBuiltinCode()), int(oc.BuiltinCode()))
        version = int(oc.Version())
        if code < 0 or version < 1:
            raise CorruptFlatbuffer(f"opcode {index} has code {code} and version {version}")
        custom = oc.CustomCode()
        return code, version, custom.decode("utf-8", "replace") if custom is not None else None

    def _indices(self, as_numpy, n: int, what: str, allow_omitted: bool) -> list[int]:
        values = [int(v) for v in numpy_vector(as_numpy, "<i8", what)]
        low = -1 if allow_omitted else 0
        for v in values:
            if not low <= v < n:
                raise CorruptFlatbuffer(f"{what} refers to tensor {v}, but the model has {n} tensors")
        return values

    def _tensor(self, index: int, t: tflite.Tensor, buffers: list[tflite.Buffer]) -> Tensor:
        raw_name = t.Name()
        name = raw_name.decode("utf-8", "replace") if raw_name is not None else f"tensor{index}"
        shape = tuple(int(d) for d in numpy_vector(t.ShapeAsNumpy, "<i8", f"shape of tensor {index}"))
        self._check_shape(name, shape)
        type_code = int(t.Type())
        dtype = TENSOR_TYPE_TO_DTYPE.get(type_code)
        if dtype is None:
            type_name = TENSOR_TYPE_NAMES.get(type_code, f"type {type_code}")
            raise ModelError(
                f"model '{self.name}': tensor '{name}' has type {type_name}, which tinym2net does not support"
                + (
                    f" (a float16/float64 model is a float model): {model_checks.INT8_RECIPE}"
                    if type_name in ("FLOAT16", "FLOAT64", "BFLOAT16")
                    else f": {model_checks.INT8_RECIPE}"
                )
            )
        if t.IsVariable():
            raise ModelError(
                f"model '{self.name}': tensor '{name}' is a variable (state) tensor; tinym2net runs "
                "stateless models only: remove stateful layers (stateful RNNs, variables) before converting"
            )
        if t.Sparsity() is not None:
            raise ModelError(
                f"model '{self.name}': tensor '{name}' is stored sparse; tinym2net needs dense weights: "
                "convert without tf.lite.Optimize.EXPERIMENTAL_SPARSITY"
            )
        quant = self._quant(name, t.Quantization(), shape, dtype)
        data = self._const_data(name, int(t.Buffer()), buffers, shape, dtype)
        return Tensor(index=index, name=name, shape=shape, dtype=dtype, quant=quant, data=data)

    def _check_shape(self, name: str, shape: tuple[int, ...]) -> None:
        if (
            len(shape) > MAX_RANK
            or any(d < 1 or d > MAX_DIM for d in shape)
            or math.prod(shape) > MAX_ELEMENTS
        ):
            raise ModelError(
                f"model '{self.name}': tensor '{name}' has shape {list(shape)}; tinym2net needs static "
                f"shapes with dimensions >= 1 (rank <= {MAX_RANK}, at most {MAX_ELEMENTS} elements): convert "
                "with a fixed batch-1 input shape"
            )

    def _quant(
        self, name: str, q: tflite.QuantizationParameters | None, shape: tuple[int, ...], dtype: DType
    ) -> QuantParams | None:
        if q is None:
            return None
        check_table(q, f"quantisation of tensor '{name}'")
        if q.DetailsType() != 0:
            raise ModelError(
                f"model '{self.name}': tensor '{name}' uses custom or blockwise quantisation; tinym2net "
                f"supports per-tensor and per-channel affine quantisation: {model_checks.INT8_RECIPE}"
            )
        scale = numpy_vector(q.ScaleAsNumpy, "<f4", f"scales of tensor '{name}'")
        zero = numpy_vector(q.ZeroPointAsNumpy, "<i8", f"zero points of tensor '{name}'")
        if scale.size == 0:
            return None  # min/max only (float models) or no quantisation
        if zero.size == 0:
            zero = np.zeros(scale.size, dtype="<i8")
        axis = int(q.QuantizedDimension())
        problem = None
        if zero.size != scale.size:
            problem = f"{scale.size} scales but {zero.size} zero points"
        elif not np.all(np.isfinite(scale)) or np.any(scale < 0):
            problem = f"scale {scale.tolist()[:4]}"
        elif scale.size > 1 and not (0 <= axis < len(shape) and shape[axis] == scale.size):
            problem = f"{scale.size} per-channel scales along axis {axis} of shape {list(shape)}"
        else:
            lo, hi = {
                DType.INT8: (-128, 127),
                DType.INT4: (-8, 7),
                DType.UINT8: (0, 255),
                DType.INT16: (-32768, 32767),
            }.get(dtype, (-(1 << 31), (1 << 31) - 1))
            if np.any(zero < lo) or np.any(zero > hi):
                problem = (
                    f"zero point {int(zero[(zero < lo) | (zero > hi)][0])} outside the {dtype.value} range"
                )
        if problem:
            raise ModelError(
                f"model '{self.name}': tensor '{name}' has invalid quantisation ({problem}): {_EXPORT_HINT}"
            )
        return QuantParams(
            scale=tuple(float(s) for s in scale), zero_point=tuple(int(z) for z in zero), axis=axis
        )

    def _const_data(
        self, name: str, buffer_index: int, buffers: list[tflite.Buffer], shape: tuple[int, ...], dtype: DType
    ) -> np.ndarray | None:
        if buffer_index >= len(buffers):
            raise CorruptFlatbuffer(f"tensor '{name}' refers to buffer {buffer_index} of {len(buffers)}")
        buf = buffers[buffer_index]
        offset, size = int(buf.Offset()), int(buf.Size())
        if offset > 1:  # models > 2 GB keep buffer data after the flatbuffer
            if offset + size > len(self.data):
                raise CorruptFlatbuffer(f"buffer {buffer_index} lies outside the file")
            raw = np.frombuffer(self.data, dtype="<u1", count=size, offset=offset)
        else:
            raw = numpy_vector(buf.DataAsNumpy, "<u1", f"buffer {buffer_index}")
        if raw.size == 0:
            return None
        count = math.prod(shape)
        expected = (count + 1) // 2 if dtype is DType.INT4 else count * dtype.itemsize
        if raw.size != expected:
            raise ModelError(
                f"model '{self.name}': constant tensor '{name}' ({dtype.value}{list(shape)}) needs "
                f"{expected} bytes but its buffer holds {raw.size}: {_EXPORT_HINT}"
            )
        if dtype is DType.INT4:
            return unpack_int4(raw, shape)
        return (
            np.frombuffer(raw.tobytes(), dtype=NUMPY_DTYPES[dtype])
            .astype(NUMPY_DTYPES[dtype][1:])
            .reshape(shape)
        )

    def _raw_op(
        self, index: int, op: tflite.Operator, opcodes: list[tuple[int, int, str | None]], n: int
    ) -> RawOperator:
        opcode_index = int(op.OpcodeIndex())
        if opcode_index >= len(opcodes):
            raise CorruptFlatbuffer(f"operator {index} uses opcode {opcode_index} of {len(opcodes)}")
        code, version, custom = opcodes[opcode_index]
        inputs = self._indices(op.InputsAsNumpy, n, f"input list of operator {index}", allow_omitted=True)
        outputs = self._indices(op.OutputsAsNumpy, n, f"output list of operator {index}", allow_omitted=False)
        return RawOperator(
            index=index,
            code=code,
            name=opcode_name(code),
            version=version,
            custom_code=custom,
            inputs=tuple(inputs),
            outputs=tuple(outputs),
            options_type=int(op.BuiltinOptionsType()),
            options=op.BuiltinOptions(),
        )

    # ---- pass 3: operators ----

    def _operator(self, view: ModelView, raw: RawOperator, kind: OpKind) -> Operator:
        desc = view.describe(raw)
        arity = ARITY[kind]
        n_in = len(raw.inputs)
        if (
            n_in < arity.min_inputs
            or (arity.max_inputs is not None and n_in > arity.max_inputs)
            or len(raw.outputs) != arity.outputs
        ):
            raise ModelError(
                f"model '{self.name}': {desc} has {n_in} inputs and {len(raw.outputs)} outputs, which is not "
                f"a valid {kind.value}: {_EXPORT_HINT}"
            )
        for slot, i in enumerate(raw.inputs):
            if i < 0 and slot not in arity.optional_inputs:
                raise ModelError(
                    f"model '{self.name}': {desc} lacks its required input {slot}: {_EXPORT_HINT}"
                )
        table = self._options_table(raw, kind, desc)
        options = _DECODERS[kind](self, view, raw, table, desc)
        return Operator(
            index=raw.index,
            kind=kind,
            inputs=raw.inputs,
            outputs=raw.outputs,
            options=options,
            version=raw.version,
        )

    def _options_table(self, raw: RawOperator, kind: OpKind, desc: str):
        """The op's options as the matching generated class (checked), or None if absent or not read."""
        expected = OPTIONS_TYPE[kind]
        if expected is None:
            return None
        if raw.options is None or raw.options_type == 0:
            if kind in OPTIONS_REQUIRED:
                raise ModelError(f"model '{self.name}': {desc} has no options table: {_EXPORT_HINT}")
            return None
        if raw.options_type != expected:
            raise ModelError(
                f"model '{self.name}': {desc} carries options of union type {raw.options_type}, expected "
                f"{expected}: {_EXPORT_HINT}"
            )
        cls = {
            OpKind.CONV_2D: tflite.Conv2DOptions,
            OpKind.DEPTHWISE_CONV_2D: tflite.DepthwiseConv2DOptions,
            OpKind.FULLY_CONNECTED: tflite.FullyConnectedOptions,
            OpKind.AVERAGE_POOL_2D: tflite.Pool2DOptions,
            OpKind.MAX_POOL_2D: tflite.Pool2DOptions,
            OpKind.ADD: tflite.AddOptions,
            OpKind.MUL: tflite.MulOptions,
            OpKind.RESHAPE: tflite.ReshapeOptions,
            OpKind.SQUEEZE: tflite.SqueezeOptions,
            OpKind.SOFTMAX: tflite.SoftmaxOptions,
            OpKind.CONCATENATION: tflite.ConcatenationOptions,
            OpKind.MEAN: tflite.ReducerOptions,
        }[kind]
        obj = cls()
        obj.Init(raw.options.Bytes, raw.options.Pos)
        return check_table(obj, f"options of operator {raw.index}")

    def activation(self, code: int, desc: str) -> Activation:
        act = ACTIVATIONS.get(int(code))
        if act is None:
            act_name = ACTIVATION_NAMES.get(int(code), f"activation {code}")
            raise UnsupportedOpError(
                f"model '{self.name}': {desc} has fused activation {act_name}, which tinym2net does not "
                "support (supported: none, relu, relu6, relu_n1_to_1): use relu/relu6 or a separate "
                "supported layer"
            )
        return act

    def padding(self, code: int, desc: str) -> Padding:
        pad = PADDINGS.get(int(code))
        if pad is None:
            raise ModelError(f"model '{self.name}': {desc} has unknown padding {code}: {_EXPORT_HINT}")
        return pad

    def positive(self, desc: str, **values: int) -> None:
        for key, v in values.items():
            if v < 1:
                raise ModelError(f"model '{self.name}': {desc} has {key} {v}, must be >= 1: {_EXPORT_HINT}")

    def rank(self, view: ModelView, desc: str, index: int, rank: int, what: str) -> tuple[int, ...]:
        shape = view.tensors[index].shape
        if len(shape) != rank:
            raise ModelError(
                f"model '{self.name}': {desc} has {what} {view.label(index)} of shape {list(shape)}, "
                f"expected rank {rank}: {_EXPORT_HINT}"
            )
        return shape

    def const(self, view: ModelView, desc: str, index: int, what: str) -> np.ndarray:
        t = view.tensors[index]
        if t.data is None or t.dtype not in (DType.INT32, DType.INT64):
            raise ModelError(
                f"model '{self.name}': {desc} needs a constant int32 {what} but {view.label(index)} is "
                f"{'a run-time' if t.data is None else 'a ' + t.dtype.value} tensor: convert with static "
                "shapes"
            )
        return t.data


def unpack_int4(packed: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Unpack TFLite's int4 layout (two values per byte, low nibble first) to int8 values of ``shape``."""
    packed = np.asarray(packed, dtype=np.uint8)
    nibbles = np.empty(packed.size * 2, dtype=np.int8)
    nibbles[0::2] = (packed & 0x0F).astype(np.int8)
    nibbles[1::2] = (packed >> 4).astype(np.int8)
    nibbles = np.where(nibbles >= 8, nibbles - 16, nibbles).astype(np.int8)
    return nibbles[: math.prod(shape)].reshape(shape)


# ---- options decoders, one per OpKind: (reader, view, raw op, options table or None, description) ----


def _conv(r: _Reader, view: ModelView, raw: RawOperator, o, desc: str) -> OpOptions:
    x = r.rank(view, desc, raw.inputs[0], 4, "input")
    w = r.rank(view, desc, raw.inputs[1], 4, "filter")
    r.rank(view, desc, raw.outputs[0], 4, "output")
    opts = Conv2DOptions(
        padding=r.padding(o.Padding(), desc),
        stride_h=int(o.StrideH()),
        stride_w=int(o.StrideW()),
        dilation_h=int(o.DilationHFactor()),
        dilation_w=int(o.DilationWFactor()),
        activation=r.activation(o.FusedActivationFunction(), desc),
    )
    r.positive(
        desc,
        stride_h=opts.stride_h,
        stride_w=opts.stride_w,
        dilation_h=opts.dilation_h,
        dilation_w=opts.dilation_w,
    )
    if w[3] != x[3]:
        raise UnsupportedOpError(
            f"model '{r.name}': {desc} is a grouped convolution ({x[3]} input channels, filter depth "
            f"{w[3]}), which tinym2net does not support: use groups=1 or depthwise + pointwise convolutions"
        )
    return opts


def _depthwise(r: _Reader, view: ModelView, raw: RawOperator, o, desc: str) -> OpOptions:
    x = r.rank(view, desc, raw.inputs[0], 4, "input")
    w = r.rank(view, desc, raw.inputs[1], 4, "filter")
    r.rank(view, desc, raw.outputs[0], 4, "output")
    multiplier = int(o.DepthMultiplier())
    if w[0] != 1 or w[3] % x[3]:
        raise ModelError(
            f"model '{r.name}': {desc} has filter shape {list(w)} for {x[3]} input channels; expected [1, h, "
            f"w, k*{x[3]}]: {_EXPORT_HINT}"
        )
    opts = DepthwiseConv2DOptions(
        padding=r.padding(o.Padding(), desc),
        stride_h=int(o.StrideH()),
        stride_w=int(o.StrideW()),
        # schema default 0 means "not written": the shapes define it then
        depth_multiplier=multiplier if multiplier != 0 else w[3] // x[3],
        dilation_h=int(o.DilationHFactor()),
        dilation_w=int(o.DilationWFactor()),
        activation=r.activation(o.FusedActivationFunction(), desc),
    )
    r.positive(
        desc,
        stride_h=opts.stride_h,
        stride_w=opts.stride_w,
        dilation_h=opts.dilation_h,
        dilation_w=opts.dilation_w,
    )
    return opts


def _fully_connected(r: _Reader, view: ModelView, raw: RawOperator, o, desc: str) -> OpOptions:
    w = r.rank(view, desc, raw.inputs[1], 2, "weights")
    if view.tensors[raw.inputs[0]].size % w[1]:
        raise ModelError(
            f"model '{r.name}': {desc} has {view.tensors[raw.inputs[0]].size} input values for weights of "
            f"shape {list(w)}: {_EXPORT_HINT}"
        )
    if o is None:
        return FullyConnectedOptions()
    if o.WeightsFormat() != FullyConnectedOptionsWeightsFormat.DEFAULT:
        raise UnsupportedOpError(
            f"model '{r.name}': {desc} stores its weights shuffled (format {o.WeightsFormat()}), which "
            "tinym2net does not support: convert without weight shuffling"
        )
    return FullyConnectedOptions(
        activation=r.activation(o.FusedActivationFunction(), desc), keep_num_dims=bool(o.KeepNumDims())
    )


def _pool(r: _Reader, view: ModelView, raw: RawOperator, o, desc: str) -> OpOptions:
    r.rank(view, desc, raw.inputs[0], 4, "input")
    r.rank(view, desc, raw.outputs[0], 4, "output")
    opts = Pool2DOptions(
        padding=r.padding(o.Padding(), desc),
        stride_h=int(o.StrideH()),
        stride_w=int(o.StrideW()),
        filter_h=int(o.FilterHeight()),
        filter_w=int(o.FilterWidth()),
        activation=r.activation(o.FusedActivationFunction(), desc),
    )
    r.positive(
        desc, stride_h=opts.stride_h, stride_w=opts.stride_w, filter_h=opts.filter_h, filter_w=opts.filter_w
    )
    return opts


def _elementwise(r: _Reader, view: ModelView, raw: RawOperator, o, desc: str) -> OpOptions:
    if o is None:
        return ElementwiseOptions()
    return ElementwiseOptions(activation=r.activation(o.FusedActivationFunction(), desc))


def _concatenation(r: _Reader, view: ModelView, raw: RawOperator, o, desc: str) -> OpOptions:
    rank = len(view.tensors[raw.outputs[0]].shape)
    axis = int(o.Axis())
    if not -rank <= axis < rank:
        raise ModelError(
            f"model '{r.name}': {desc} concatenates along axis {axis} of a rank-{rank} tensor: {_EXPORT_HINT}"
        )
    return ConcatenationOptions(axis=axis, activation=r.activation(o.FusedActivationFunction(), desc))


def _softmax(r: _Reader, view: ModelView, raw: RawOperator, o, desc: str) -> OpOptions:
    beta = float(o.Beta())
    if not (math.isfinite(beta) and beta > 0):
        raise ModelError(
            f"model '{r.name}': {desc} has softmax beta {beta}, must be positive: {_EXPORT_HINT}"
        )
    return SoftmaxOptions(beta=beta)


def _reshape(r: _Reader, view: ModelView, raw: RawOperator, o, desc: str) -> OpOptions:
    """RESHAPE's target shape, resolved: the constant shape input, else the options, else the output's shape.

    A single -1 entry is replaced by the size that keeps the element count; the result must
    describe the input's element count and agree with the output tensor's shape.
    """
    x, y = view.tensors[raw.inputs[0]], view.tensors[raw.outputs[0]]
    requested: list[int] | None = None
    if len(raw.inputs) > 1 and raw.inputs[1] >= 0 and view.tensors[raw.inputs[1]].is_const:
        requested = [int(v) for v in r.const(view, desc, raw.inputs[1], "shape").reshape(-1)]
    elif o is not None:
        from_options = [
            int(v) for v in numpy_vector(o.NewShapeAsNumpy, "<i8", f"new_shape of operator {raw.index}")
        ]
        requested = from_options or None
    if requested is None:
        requested = list(y.shape)
    if requested.count(-1) == 1:
        known = math.prod(d for d in requested if d != -1)
        if known > 0 and x.size % known == 0:
            requested[requested.index(-1)] = x.size // known
    if (
        any(d < 1 for d in requested)
        or math.prod(requested) != x.size
        or math.prod(y.shape) != x.size
        or tuple(requested) != y.shape
    ):
        raise ModelError(
            f"model '{r.name}': {desc} reshapes {list(x.shape)} to {requested}, which does not match its "
            f"output shape {list(y.shape)}: {_EXPORT_HINT}"
        )
    return ReshapeOptions(new_shape=tuple(requested))


def _squeeze(r: _Reader, view: ModelView, raw: RawOperator, o, desc: str) -> OpOptions:
    """SQUEEZE dims, normalised: non-negative, sorted, explicit (an empty list means every size-1 dim)."""
    x, y = view.tensors[raw.inputs[0]], view.tensors[raw.outputs[0]]
    rank = len(x.shape)
    dims = (
        [int(d) for d in numpy_vector(o.SqueezeDimsAsNumpy, "<i8", f"squeeze_dims of operator {raw.index}")]
        if o is not None
        else []
    )
    if not dims:
        dims = [d for d, size in enumerate(x.shape) if size == 1]
    if any(not -rank <= d < rank for d in dims):
        raise ModelError(
            f"model '{r.name}': {desc} squeezes dims {dims} of a rank-{rank} tensor: {_EXPORT_HINT}"
        )
    resolved = sorted({d % rank for d in dims}) if rank else []
    kept = tuple(s for d, s in enumerate(x.shape) if d not in resolved)
    if any(x.shape[d] != 1 for d in resolved) or kept != y.shape:
        raise ModelError(
            f"model '{r.name}': {desc} squeezes dims {resolved} of shape {list(x.shape)} into "
            f"{list(y.shape)}: {_EXPORT_HINT}"
        )
    return SqueezeOptions(squeeze_dims=tuple(resolved))


def _mean(r: _Reader, view: ModelView, raw: RawOperator, o, desc: str) -> OpOptions:
    r.const(view, desc, raw.inputs[1], "axis list")
    return ReducerOptions(keep_dims=bool(o.KeepDims()) if o is not None else False)


def _pad(r: _Reader, view: ModelView, raw: RawOperator, o, desc: str) -> OpOptions:
    paddings = r.const(view, desc, raw.inputs[1], "paddings")
    rank = len(view.tensors[raw.inputs[0]].shape)
    if paddings.shape != (rank, 2) or np.any(paddings < 0):
        raise ModelError(
            f"model '{r.name}': {desc} has paddings of shape {list(paddings.shape)} for a rank-{rank} input "
            f"(need [{rank}, 2], non-negative): {_EXPORT_HINT}"
        )
    return NoOptions()


def _no_options(r: _Reader, view: ModelView, raw: RawOperator, o, desc: str) -> OpOptions:
    return NoOptions()


_DECODERS = {
    OpKind.CONV_2D: _conv,
    OpKind.DEPTHWISE_CONV_2D: _depthwise,
    OpKind.FULLY_CONNECTED: _fully_connected,
    OpKind.AVERAGE_POOL_2D: _pool,
    OpKind.MAX_POOL_2D: _pool,
    OpKind.ADD: _elementwise,
    OpKind.MUL: _elementwise,
    OpKind.RESHAPE: _reshape,
    OpKind.SQUEEZE: _squeeze,
    OpKind.SOFTMAX: _softmax,
    OpKind.LOGISTIC: _no_options,
    OpKind.CONCATENATION: _concatenation,
    OpKind.PAD: _pad,
    OpKind.MEAN: _mean,
    OpKind.QUANTIZE: _no_options,
    OpKind.DEQUANTIZE: _no_options,
}
