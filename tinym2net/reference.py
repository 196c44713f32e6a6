"""The TFLite reference: LiteRT's interpreter with the reference op resolver (and TFLite Micro's host build).

Inputs and outputs are lists (one entry per sample) of lists of arrays in graph input/output order.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence

import numpy as np

from .errors import ToolchainError
from .ir import DType, Graph

Sample = list[np.ndarray]

_NP = {
    DType.INT8: np.int8,
    DType.FLOAT32: np.float32,
    DType.INT16: np.int16,
    DType.UINT8: np.uint8,
    DType.INT32: np.int32,
}


def np_dtype(dtype: DType) -> type:
    return _NP[dtype]


def random_inputs(graph: Graph, count: int, seed: int) -> list[Sample]:
    """Seeded random inputs covering each input's whole quantised range (floats: its dequantised range)."""
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(count):
        sample = []
        for idx in graph.inputs:
            t = graph.tensors[idx]
            if t.dtype is DType.FLOAT32:
                # a float input that a QUANTIZE op follows: draw over the consumer's representable range
                q = _consumer_quant(graph, idx)
                lo, hi = (-1.0, 1.0) if q is None else ((-128 - q[1]) * q[0], (127 - q[1]) * q[0])
                sample.append(rng.uniform(lo, hi, size=t.shape).astype(np.float32))
            else:
                info = np.iinfo(_NP[t.dtype])
                sample.append(rng.integers(info.min, info.max + 1, size=t.shape).astype(_NP[t.dtype]))
        samples.append(sample)
    return samples


def _consumer_quant(graph: Graph, idx: int) -> tuple[float, int] | None:
    for op in graph.operators:
        if idx in op.inputs:
            out = graph.tensors[op.outputs[0]]
            if out.quant is not None:
                return out.scale, out.zero_point
    return None


@contextlib.contextmanager
def _quiet_stderr():
    """TFLite prints to the C-level stderr; keep the user's terminal clean."""
    try:
        fd = os.dup(2)
    except OSError:
        yield
        return
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(fd, 2)
            os.close(fd)


def _litert(model: bytes, preserve: bool):
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ToolchainError("the LiteRT reference interpreter is missing: pip install 'tinym2net[ml]'") from e
    with _quiet_stderr():
        interp = Interpreter(
            model_content=model,
            experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
            experimental_preserve_all_tensors=preserve,
        )
        interp.allocate_tensors()
    return interp


def run_litert(model: bytes, graph: Graph, samples: Sequence[Sample]) -> list[Sample]:
    """Outputs of the LiteRT reference kernels, in graph output order."""
    interp = _litert(model, preserve=False)
    in_idx = list(graph.inputs)
    out_idx = list(graph.outputs)
    results = []
    for sample in samples:
        for tidx, arr in zip(in_idx, sample, strict=False):
            interp.set_tensor(tidx, arr)
        interp.invoke()
        results.append([np.array(interp.get_tensor(t)) for t in out_idx])
    return results


def run_litert_all_tensors(model: bytes, graph: Graph, sample: Sample) -> dict[int, np.ndarray]:
    """Every tensor's value after one inference (for the layer-by-layer comparison)."""
    interp = _litert(model, preserve=True)
    for tidx, arr in zip(graph.inputs, sample, strict=False):
        interp.set_tensor(tidx, arr)
    interp.invoke()
    values = {}
    for op in graph.operators:
        for t in op.outputs:
            with contextlib.suppress(ValueError):
                values[t] = np.array(interp.get_tensor(t))
    return values


def run_tflm(model: bytes, graph: Graph, samples: Sequence[Sample], arena_size: int = 1 << 22) -> list[Sample]:
    """Outputs of TFLite Micro's interpreter built for the host."""
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError:
        try:
            from tflite_micro import runtime  # type: ignore[no-redef]
        except ImportError as e:  # pragma: no cover
            raise ToolchainError("the TFLite Micro host interpreter is missing: pip install tflite-micro") from e
    with _quiet_stderr():
        interp = runtime.Interpreter.from_bytes(model, arena_size=arena_size)
    results = []
    for sample in samples:
        for i, arr in enumerate(sample):
            interp.set_input(arr, i)
        interp.invoke()
        results.append([np.array(interp.get_output(i)) for i in range(len(graph.outputs))])
    return results


def pack_samples(samples: Sequence[Sample]) -> bytes:
    """The tm2_io input protocol: uint32 count, then each sample's inputs' bytes in order."""
    parts = [np.uint32(len(samples)).tobytes()]
    for sample in samples:
        parts.extend(np.ascontiguousarray(a).tobytes() for a in sample)
    return b"".join(parts)


def unpack_outputs(data: bytes, graph: Graph, count: int) -> list[Sample]:
    outs = [graph.tensors[i] for i in graph.outputs]
    per = sum(t.nbytes for t in outs)
    if len(data) != per * count:
        raise ToolchainError(f"the firmware wrote {len(data)} output bytes, expected {per * count} ({count} samples)")
    results = []
    pos = 0
    for _ in range(count):
        sample = []
        for t in outs:
            arr = np.frombuffer(data[pos : pos + t.nbytes], dtype=_NP[t.dtype]).reshape(t.shape)
            sample.append(arr.copy())
            pos += t.nbytes
        results.append(sample)
    return results
