"""Activation RAM of the MLPerf Tiny reference models: tinym2net's arena vs the op-by-op bound vs TFLite Micro.

For each ``.tflite`` model in the folder (default: ../shared/benchmarks/mlperf_tiny beside the repository) it prints

* ``ours``: ``MemoryPlan.arena_bytes`` from :func:`tinym2net.memory_plan.plan_graph` with the default
  in-place policy (scheduled order, exact offsets, in-place convolutions where they lower the arena;
  scratch included), with the plan's max-load lower bound and the number of ops run in place;
* ``apart``: the same plan with no convolution in place (``inplace="none"``): what the planner reaches
  when every op's inputs and outputs stay apart;
* ``op-by-op``: max over operators of the bytes of its activation inputs + outputs (the bound the issue
  quotes: no plan that keeps each op's inputs and outputs apart can go below it);
* ``TFLM``: the smallest ``arena_size`` with which ``tflite_micro.runtime.Interpreter.from_bytes``
  constructs the model, found by binary search in this run (it includes TFLite Micro's own tensor
  structs and bookkeeping, which tinym2net does not need at run time).

The graph comes from :mod:`tinym2net.importer` and the lowerings from :mod:`tinym2net.ops` when they
import; otherwise (``--reader tflite``) a minimal shape reader built on the ``tflite`` flatbuffer package
is used, with RESHAPE/SQUEEZE aliased and no scratch.

Run: ``.venv/bin/python benchmarks/memory.py [--json out.json] [--no-tflm] [--reader tflite]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tinym2net.ir import DType, Graph, Operator, OpKind, Tensor  # noqa: E402
from tinym2net.memory_plan import plan_graph  # noqa: E402
from tinym2net.ops.base import Lowered  # noqa: E402

DEFAULT_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "benchmarks" / "mlperf_tiny"
# figures quoted in the issue, for reference
ANCHORS = {
    "kws_ref_model": (24_272, 16_000),
    "vww_96_int8": (103_680, 55_296),
    "pretrainedResnet_quant": (55_984, 49_152),
    "ad01_int8": (4_640, 768),
}


# ---- minimal fallback reader (shapes, dtypes, constness, op kinds only) ----


def _read_with_tflite_package(buf: bytes, name: str) -> Graph:
    import tflite  # the flatbuffer accessor package

    model = tflite.Model.GetRootAsModel(buf, 0)
    sub = model.Subgraphs(0)
    type_map = {
        tflite.TensorType.INT8: DType.INT8,
        tflite.TensorType.INT16: DType.INT16,
        tflite.TensorType.INT32: DType.INT32,
        tflite.TensorType.INT64: DType.INT64,
        tflite.TensorType.UINT8: DType.UINT8,
        tflite.TensorType.FLOAT32: DType.FLOAT32,
        tflite.TensorType.BOOL: DType.BOOL,
    }
    if hasattr(tflite.TensorType, "INT4"):
        type_map[tflite.TensorType.INT4] = DType.INT4
    names = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
    tensors = []
    import numpy as np

    for i in range(sub.TensorsLength()):
        t = sub.Tensors(i)
        shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        b = model.Buffers(t.Buffer())
        is_const = b is not None and b.DataLength() > 0
        dtype = type_map[t.Type()]
        data = np.zeros(shape, np.int8) if is_const else None
        tensors.append(Tensor(i, t.Name().decode(), shape, dtype, data=data))
    operators = []
    for k in range(sub.OperatorsLength()):
        op = sub.Operators(k)
        code = model.OperatorCodes(op.OpcodeIndex())
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        kind = OpKind(names[builtin])
        ins = tuple(int(x) for x in op.InputsAsNumpy()) if op.InputsLength() else ()
        outs = tuple(int(x) for x in op.OutputsAsNumpy())
        operators.append(Operator(k, kind, ins, outs))
    inputs = [int(x) for x in sub.InputsAsNumpy()]
    outputs = [int(x) for x in sub.OutputsAsNumpy()]
    return Graph(name, tensors, operators, inputs, outputs)


def load(path: Path, reader: str) -> tuple[Graph, dict[int, Lowered]]:
    buf = path.read_bytes()
    if reader == "tinym2net":
        try:
            from tinym2net import ops  # noqa: F401  (registers the lowerings)
            from tinym2net.importer import parse_tflite
            from tinym2net.ops.base import lower

            graph = parse_tflite(buf, path.stem)
            return graph, {op.index: lower(op, graph) for op in graph.operators}
        except ImportError as exc:
            print(f"(tinym2net importer/lowerings unavailable: {exc}; using the tflite shape reader)")
    graph = _read_with_tflite_package(buf, path.stem)
    lowered = {
        op.index: Lowered("none", {}, alias=op.kind in (OpKind.RESHAPE, OpKind.SQUEEZE))
        for op in graph.operators
    }
    return graph, lowered


# ---- bounds and TFLite Micro ----


def op_by_op_bound(graph: Graph) -> int:
    """Max over operators of the bytes of its (distinct) activation inputs plus outputs."""
    best = 0
    for op in graph.operators:
        ts = {t for t in op.inputs + op.outputs if t >= 0 and not graph.tensor(t).is_const}
        best = max(best, sum(graph.tensor(t).nbytes for t in ts))
    return best


@contextlib.contextmanager
def _quiet_stderr():
    """Silence the C library's messages on fd 2 while probing too-small arenas."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def tflm_min_arena(buf: bytes, hi: int = 1 << 21) -> int | None:
    """Smallest arena (bytes) with which TFLite Micro's interpreter constructs the model (binary search)."""
    try:
        from tflite_micro import runtime
    except ImportError:
        return None

    def fits(n: int) -> bool:
        try:
            runtime.Interpreter.from_bytes(buf, arena_size=n)
            return True
        except (RuntimeError, ValueError):
            return False

    with _quiet_stderr():
        if not fits(hi):
            return None
        lo = 0  # invariant: lo does not fit (or is 0), hi fits
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if fits(mid):
                hi = mid
            else:
                lo = mid
    return hi


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="?", type=Path, default=DEFAULT_DIR)
    ap.add_argument("--reader", choices=["tinym2net", "tflite"], default="tinym2net")
    ap.add_argument("--no-tflm", action="store_true", help="skip the TFLite Micro arena search")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)

    rows = []
    head = (
        f"{'model':<24} {'ours':>8} {'bound':>8} {'in-pl':>5} {'apart':>8} {'op-by-op':>9} {'TFLM':>8} "
        f"{'ours/TFLM':>9} {'plan s':>6}  issue(TFLM, op-by-op)"
    )
    print(head)
    print("-" * len(head))
    for path in sorted(args.models.glob("*.tflite")):
        graph, lowered = load(path, args.reader)
        t0 = time.perf_counter()
        plan = plan_graph(graph, lowered)
        dt = time.perf_counter() - t0
        apart = plan_graph(graph, lowered, inplace="none")
        bound = op_by_op_bound(graph)
        tflm = None if args.no_tflm else tflm_min_arena(path.read_bytes())
        ratio = f"{plan.arena_bytes / tflm:.3f}" if tflm else "-"
        anchor = ANCHORS.get(path.stem)
        print(
            f"{path.stem:<24} {plan.arena_bytes:>8,} {plan.lower_bound:>8,} {len(plan.overlap_ops):>5} "
            f"{apart.arena_bytes:>8,} {bound:>9,} "
            f"{(f'{tflm:,}' if tflm else '-'):>8} {ratio:>9} {dt:>6.2f}  {anchor if anchor else ''}"
        )
        rows.append(
            {
                "model": path.stem,
                "arena_bytes": plan.arena_bytes,
                "lower_bound": plan.lower_bound,
                "peak_live_bytes": plan.peak_bytes,
                "file_order_peak": plan.file_order_peak,
                "inplace_ops": sorted(plan.inplace_ops),
                "overlap_ops": sorted(plan.overlap_ops),
                "arena_bytes_apart": apart.arena_bytes,
                "offsets_optimal": plan.offsets_optimal,
                "schedule_exact": plan.schedule_exact,
                "op_by_op_bound": bound,
                "tflm_arena_bytes": tflm,
                "scratch_bytes": sum(size for _, size in plan.scratch.values()),
                "plan_seconds": round(dt, 3),
                "reader": args.reader,
            }
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
