"""Whole-model checks: is this a full-integer int8 graph that tinym2net can run?

The reader first turns the flatbuffer into :class:`RawOperator` records (opcode name, version,
tensor indices, the undecoded options table) and IR :class:`~tinym2net.ir.Tensor` objects. The
checks here then refuse, one readable line each, in this order (the first problem a user must fix
comes first):

1. control flow over several subgraphs;
2. float and dynamic-range (hybrid) models, int16 activations, legacy uint8 quantisation
   (only a QUANTIZE that reads a float/uint8 graph input and a DEQUANTIZE/QUANTIZE that writes a
   float/uint8 graph output may touch non-int8 activations);
3. custom ops, ops without a kernel, op versions newer than :data:`MAX_OP_VERSION`;
4. other non-int8 activations (int32, int4, ...);

and, once operators are decoded, :func:`check_operator_tensors` checks weights (constant,
int8/int4, symmetric), quantisation parameters of int8 tensors, dataflow order and batch size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ModelError, UnsupportedOpError
from ..ir import DType, Operator, OpKind, Tensor
from .tflite_schema import CUSTOM_CODE, MAX_OP_VERSION, OPCODE_TO_KIND, SUBGRAPH_CALLING_OPS

INT8_RECIPE = (
    "convert it to a full-integer int8 model: TFLiteConverter with "
    "optimizations=[tf.lite.Optimize.DEFAULT], a representative_dataset, "
    "target_spec.supported_ops=[tf.lite.OpsSet.TFLITE_BUILTINS_INT8] and "
    "inference_input_type=inference_output_type=tf.int8 (or run `tinym2net quantize`)"
)

WEIGHTED_OPS = (OpKind.CONV_2D, OpKind.DEPTHWISE_CONV_2D, OpKind.FULLY_CONNECTED)


@dataclass
class RawOperator:
    """One operator as stored in the file, before its options are decoded."""

    index: int
    code: int  # builtin opcode (max of deprecated_builtin_code and builtin_code)
    name: str  # "CONV_2D", "BUILTIN_250" for unknown codes
    version: int
    custom_code: str | None
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options_type: int
    options: Any  # flatbuffers.table.Table or None


@dataclass
class ModelView:
    """What the checks read: the model's name, its tensors and raw operators, and graph inputs/outputs."""

    name: str
    tensors: list[Tensor]
    ops: list[RawOperator]
    inputs: list[int]
    outputs: list[int]
    n_subgraphs: int

    def label(self, index: int) -> str:
        """A tensor's name for messages; the converter's fused names ``a;b;c`` are cut to ``a;...``."""
        name = self.tensors[index].name
        return f"'{name.split(';')[0]};...'" if ";" in name else f"'{name}'"

    def describe(self, op: RawOperator) -> str:
        """``operator 3 (CONV_2D; inputs 'x', 'w', 'b'; outputs 'y')``."""
        ins = ", ".join(self.label(i) if i >= 0 else "(none)" for i in op.inputs) or "none"
        outs = ", ".join(self.label(i) for i in op.outputs) or "none"
        return f"operator {op.index} ({op.name}; inputs {ins}; outputs {outs})"


def check_subgraphs(view: ModelView) -> None:
    """Refuse control flow: tinym2net runs subgraph 0 only, so no operator may call another subgraph."""
    for op in view.ops:
        if op.name in SUBGRAPH_CALLING_OPS:
            raise ModelError(
                f"model '{view.name}' has {view.n_subgraphs} subgraphs and {view.describe(op)} runs another "
                "subgraph: tinym2net runs a single subgraph; remove control flow (tf.cond/tf.while_loop) "
                "from the model before converting"
            )


def _is_edge_tensor(view: ModelView, op: RawOperator, index: int, is_input: bool) -> bool:
    """A float/uint8 tensor that only converts data at the graph boundary (allowed)."""
    t = view.tensors[index]
    if op.name == "QUANTIZE" and is_input:
        return index in view.inputs and t.dtype in (DType.FLOAT32, DType.UINT8)
    if op.name == "DEQUANTIZE" and not is_input:
        return index in view.outputs and t.dtype is DType.FLOAT32
    if op.name == "QUANTIZE" and not is_input:
        return index in view.outputs and t.dtype is DType.UINT8
    return False


def _find_hybrid(view: ModelView) -> tuple[RawOperator, int, int] | None:
    """An op that mixes run-time float32 inputs with constant int weights, or dequantises int weights."""
    for op in view.ops:
        ins = [i for i in op.inputs if i >= 0]
        float_acts = [
            i for i in ins if view.tensors[i].dtype is DType.FLOAT32 and not view.tensors[i].is_const
        ]
        int_consts = [
            i
            for i in ins
            if view.tensors[i].is_const and view.tensors[i].dtype in (DType.INT8, DType.INT4, DType.UINT8)
        ]
        if float_acts and int_consts:
            return op, float_acts[0], int_consts[0]
        if op.name == "DEQUANTIZE" and int_consts:
            return op, op.outputs[0], int_consts[0]
    return None


def check_numeric_types(view: ModelView) -> None:
    """Refuse float, hybrid, int16 and legacy uint8 models (see the module docstring)."""
    for op in view.ops:
        for is_input, indices in ((True, op.inputs), (False, op.outputs)):
            for i in indices:
                if i < 0:
                    continue
                t = view.tensors[i]
                if t.dtype is DType.FLOAT32 and not _is_edge_tensor(view, op, i, is_input):
                    hybrid = _find_hybrid(view)
                    if hybrid is not None:
                        h_op, f_idx, w_idx = hybrid
                        raise ModelError(
                            f"model '{view.name}' is a dynamic-range (hybrid) quantised model: "
                            f"{view.describe(h_op)} mixes float32 {view.label(f_idx)} with int8 weights "
                            f"{view.label(w_idx)}; tinym2net needs int8 activations too: {INT8_RECIPE}"
                        )
                    raise ModelError(
                        f"model '{view.name}' is a float model: {view.describe(op)} uses float32 tensor "
                        f"{view.label(i)}: {INT8_RECIPE}"
                    )
                if t.dtype is DType.INT16 and not t.is_const:
                    raise ModelError(
                        f"model '{view.name}' has int16 activations (16x8 quantisation): tensor "
                        f"{view.label(i)} of {view.describe(op)}; tinym2net needs int8 activations: convert "
                        "with target_spec.supported_ops=[tf.lite.OpsSet.TFLITE_BUILTINS_INT8] instead of "
                        "EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8"
                    )
                if t.dtype is DType.UINT8 and not _is_edge_tensor(view, op, i, is_input):
                    raise ModelError(
                        f"model '{view.name}' uses legacy uint8 quantisation: tensor {view.label(i)} of "
                        f"{view.describe(op)} is uint8; {INT8_RECIPE}"
                    )


def op_kind(view: ModelView, op: RawOperator) -> OpKind:
    """The OpKind of a raw operator; refuses custom ops, ops without a kernel and too-new op versions."""
    supported = ", ".join(k.value for k in OpKind)
    if op.code == CUSTOM_CODE:
        raise UnsupportedOpError(
            f"model '{view.name}': {view.describe(op)} is the custom op '{op.custom_code or '?'}'; tinym2net "
            f"runs builtin ops only ({supported}): rebuild the model without custom ops"
        )
    kind = OPCODE_TO_KIND.get(op.code)
    if kind is None:
        raise UnsupportedOpError(
            f"model '{view.name}': {view.describe(op)} is not supported by tinym2net (supported ops: "
            f"{supported}); rebuild the model from layers that convert to those ops"
        )
    if op.version > MAX_OP_VERSION[kind]:
        raise UnsupportedOpError(
            f"model '{view.name}': {view.describe(op)} has op version {op.version}, but tinym2net knows "
            f"{op.name} up to version {MAX_OP_VERSION[kind]}: convert with an older TensorFlow release or "
            "update tinym2net"
        )
    return kind


def check_activation_types(view: ModelView) -> None:
    """Every run-time tensor must be int8 (edge conversions and RESHAPE's shape input excepted)."""
    for op in view.ops:
        for is_input, indices in ((True, op.inputs), (False, op.outputs)):
            for slot, i in enumerate(indices):
                if i < 0:
                    continue
                t = view.tensors[i]
                if t.is_const or t.dtype is DType.INT8 or _is_edge_tensor(view, op, i, is_input):
                    continue
                if t.dtype is DType.INT4:
                    raise ModelError(
                        f"model '{view.name}': {view.describe(op)} uses int4 activation tensor "
                        f"{view.label(i)}; tinym2net supports int4 only for constant "
                        "CONV_2D/DEPTHWISE_CONV_2D/FULLY_CONNECTED weights: keep activations int8"
                    )
                if op.name == "RESHAPE" and is_input and slot == 1:
                    continue  # a computed shape; the output shape is static, so it is not needed
                raise ModelError(
                    f"model '{view.name}': {view.describe(op)} uses {t.dtype.value} run-time tensor "
                    f"{view.label(i)}; tinym2net kernels take int8 activations only: {INT8_RECIPE}"
                )


def _check_weights(view: ModelView, op: Operator, desc: str) -> None:
    """CONV/DEPTHWISE/FC weights: constant, int8 or int4, quantised, symmetric, per-channel on the right "
    "axis."""
    w_idx = op.inputs[1]
    w = view.tensors[w_idx]
    label = view.label(w_idx)
    if not w.is_const:
        raise ModelError(
            f"model '{view.name}': {desc} has run-time weights {label}; tinym2net needs constant weights "
            "(convert a trained Keras model, not a graph that feeds weights as inputs)"
        )
    if w.dtype not in (DType.INT8, DType.INT4):
        raise ModelError(
            f"model '{view.name}': {desc} has {w.dtype.value} weights {label}; tinym2net needs int8 or int4 "
            f"weights: {INT8_RECIPE}"
        )
    if w.quant is None:
        raise ModelError(
            f"model '{view.name}': weights {label} of {desc} have no quantisation parameters: {INT8_RECIPE}"
        )
    nonzero = [z for z in w.quant.zero_point if z != 0]
    if nonzero:
        raise ModelError(
            f"model '{view.name}': {desc} has asymmetric weights {label} (zero point {nonzero[0]}); "
            "tinym2net needs symmetric weights (zero point 0) as TFLiteConverter's int8 quantisation makes "
            f"them: {INT8_RECIPE}"
        )
    if w.quant.per_channel:
        axis = 3 if op.kind is OpKind.DEPTHWISE_CONV_2D else 0
        if w.quant.axis != axis:
            raise ModelError(
                f"model '{view.name}': {desc} has weights {label} quantised per channel along axis "
                f"{w.quant.axis}, expected axis {axis} (output channels): re-export the model with "
                "TFLiteConverter"
            )
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        b = view.tensors[op.inputs[2]]
        if not b.is_const or b.dtype is not DType.INT32:
            raise ModelError(
                f"model '{view.name}': {desc} has a {'' if b.is_const else 'run-time '}{b.dtype.value} bias "
                f"{view.label(op.inputs[2])}; tinym2net needs a constant int32 bias: {INT8_RECIPE}"
            )


def check_operator_tensors(view: ModelView, operators: list[Operator]) -> None:
    """Per-operator tensor checks once OpKinds are known (see the module docstring)."""
    written: set[int] = set()
    for op, raw in zip(operators, view.ops, strict=True):
        desc = view.describe(raw)
        if op.kind in WEIGHTED_OPS:
            _check_weights(view, op, desc)
        for slot, i in enumerate(op.inputs):
            if i < 0:
                continue
            t = view.tensors[i]
            if t.dtype is DType.INT4 and not (op.kind in WEIGHTED_OPS and slot == 1):
                raise ModelError(
                    f"model '{view.name}': {desc} reads int4 constant {view.label(i)}; only CONV_2D, "
                    "DEPTHWISE_CONV_2D and FULLY_CONNECTED weights may be int4"
                )
            if not t.is_const and i not in view.inputs and i not in written:
                raise ModelError(
                    f"model '{view.name}': {desc} reads tensor {view.label(i)} before any operator writes "
                    "it: the file's operators are out of order or corrupt; re-export it with TFLiteConverter"
                )
        for i in op.outputs:
            t = view.tensors[i]
            if t.is_const or i in view.inputs or i in written:
                raise ModelError(
                    f"model '{view.name}': {desc} writes tensor {view.label(i)}, which is a constant, a "
                    "graph input or written twice: the file is corrupt; re-export it with TFLiteConverter"
                )
            written.add(i)
        for i in (*op.inputs, *op.outputs):
            if i >= 0 and view.tensors[i].dtype is DType.INT8:
                q = view.tensors[i].quant
                if q is None or (q.per_channel and not view.tensors[i].is_const):
                    raise ModelError(
                        f"model '{view.name}': int8 tensor {view.label(i)} of {desc} has "
                        f"{'no' if q is None else 'per-channel'} quantisation parameters; tinym2net needs "
                        f"one scale and zero point per activation tensor: {INT8_RECIPE}"
                    )
                if not view.tensors[i].is_const and not q.scale[0] > 0:
                    raise ModelError(
                        f"model '{view.name}': int8 tensor {view.label(i)} of {desc} has scale {q.scale[0]}; "
                        f"activation scales must be positive: {INT8_RECIPE}"
                    )
    for i in view.outputs:
        if i not in written and i not in view.inputs and not view.tensors[i].is_const:
            raise ModelError(
                f"model '{view.name}': graph output {view.label(i)} is written by no operator: the file is "
                "corrupt; re-export it with TFLiteConverter"
            )


def check_batch(view: ModelView) -> None:
    """Batch size 1: graph inputs/outputs of rank >= 2 and all rank-4 (NHWC) run-time tensors."""
    for group, indices in (("input", view.inputs), ("output", view.outputs)):
        for i in indices:
            t = view.tensors[i]
            if len(t.shape) >= 2 and t.shape[0] != 1:
                raise ModelError(
                    f"model '{view.name}' has batch size {t.shape[0]} (graph {group} {view.label(i)} has "
                    f"shape {list(t.shape)}): tinym2net runs batch 1; convert with a batch-1 input (e.g. "
                    "keras.Input(shape=..., batch_size=1))"
                )
    for op in view.ops:
        for i in (*op.inputs, *op.outputs):
            if (
                i >= 0
                and not view.tensors[i].is_const
                and len(view.tensors[i].shape) == 4
                and view.tensors[i].shape[0] != 1
            ):
                raise ModelError(
                    f"model '{view.name}': {view.describe(op)} works on batch {view.tensors[i].shape[0]} "
                    f"(tensor {view.label(i)} has shape {list(view.tensors[i].shape)}): tinym2net runs batch "
                    "1; convert with a batch-1 input"
                )
