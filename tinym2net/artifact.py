"""The model artifact: the documented hand-over between the compiler and the project generator.

Layout (see ``docs/artifact.md``)::

    <dir>/metadata.json        what the model needs and exposes (format "tinym2net-model/1")
    <dir>/src/model.h          public C API with exact RAM/flash needs at the top
    <dir>/src/model.c          arena, tensor table, tm2_model_invoke
    <dir>/src/model_weights.c  constant arrays (flash)
    <dir>/src/model_weights.h
    <dir>/src/main.c           tm2_io driver (host and emulator)

The project generator (:mod:`tinym2net.project`) reads only this folder.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .codegen import generate_sources
from .compiler import Compiled
from .reference import Sample, pack_samples

FORMAT = "tinym2net-model/1"


def _tensor_meta(compiled: Compiled, idx: int) -> dict[str, Any]:
    t = compiled.graph.tensors[idx]
    return {
        "name": t.name,
        "shape": list(t.shape),
        "dtype": t.dtype.value,
        "scale": float(t.quant.scale[0]) if t.quant else None,
        "zero_point": int(t.quant.zero_point[0]) if t.quant else None,
        "bytes": t.nbytes,
        "arena_offset": compiled.plan.offsets[idx],
    }


def build_metadata(compiled: Compiled, *, model_name: str, board: str | None) -> dict[str, Any]:
    g = compiled.graph
    plan = compiled.plan
    return {
        "format": FORMAT,
        "generator": f"tinym2net {__version__}",
        "model": model_name,
        "model_sha256": compiled.model_sha256,
        "board": board,
        "arena_bytes": plan.arena_bytes,
        "weights_bytes": compiled.weights_bytes,
        "tables_bytes": compiled.tables_bytes,
        "peak_op": plan.peak_op,
        "inputs": [_tensor_meta(compiled, i) for i in g.inputs],
        "outputs": [_tensor_meta(compiled, i) for i in g.outputs],
        "operators": [
            {
                "index": op.index,
                "kind": op.kind.value,
                "inputs": [g.tensors[i].name if i >= 0 else None for i in op.inputs],
                "outputs": [g.tensors[i].name for i in op.outputs],
                "scratch_bytes": compiled.lowered[op.index].scratch_bytes,
            }
            for op in (g.operators[i] for i in plan.order)
        ],
        "sources": ["src/model.h", "src/model.c", "src/model_weights.h", "src/model_weights.c", "src/main.c"],
    }


def write_artifact(
    compiled: Compiled,
    out_dir: Path,
    *,
    model_name: str,
    board: str | None,
    samples: Sequence[Sample] = (),
    expected: Sequence[Sample] = (),
) -> dict[str, Any]:
    """Write the artifact into ``out_dir`` (an existing, empty folder). Returns the metadata.

    ``samples`` / ``expected``: a few reference inputs and their reference outputs, stored as
    ``tm2_in.bin`` / ``tm2_out.bin`` (tm2_io protocol) so that ``pio test`` of the project checks them.
    """
    src = out_dir / "src"
    src.mkdir(parents=True, exist_ok=True)
    for name, text in generate_sources(compiled, model_name=model_name).items():
        (src / name).write_text(text)
    meta = build_metadata(compiled, model_name=model_name, board=board)
    if samples:
        (out_dir / "tm2_in.bin").write_bytes(pack_samples(samples))
        meta["sample_input"] = "tm2_in.bin"
        meta["samples"] = len(samples)
    if expected:
        (out_dir / "tm2_out.bin").write_bytes(b"".join(np.ascontiguousarray(a).tobytes() for s in expected for a in s))
        meta["sample_output"] = "tm2_out.bin"
    write_metadata(out_dir, meta)
    return meta


def write_metadata(out_dir: Path, meta: dict[str, Any]) -> None:
    (out_dir / "metadata.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def read_metadata(artifact_dir: Path) -> dict[str, Any]:
    return json.loads((artifact_dir / "metadata.json").read_text())
