"""The pipeline's stages on their own: `tinym2net train` and `tinym2net quantize` (then `compile`/`check`).

``train`` writes ``student.keras`` (the float export model, BatchNorm folded), ``teacher.keras``,
``model.tflite`` (int8) and ``train_report.json``; ``quantize`` turns a user's Keras model into a
full-integer int8 (or int4 / mixed) .tflite with a representative dataset, and reports its accuracy
with LiteRT's reference kernels.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModelError, UsageError
from .fsutil import atomic_output_dir, write_bytes_atomic
from .models import DEFAULT_WEIGHT_BUDGET

Progress = Callable[[str], None]


def _dataset(demo: str, data: Path | None, seed: int, quick: bool):
    from .data import load_dataset

    return load_dataset(str(data) if data is not None else demo, seed=seed, quick=quick)


def reference_accuracy(tflite: bytes, split) -> float:
    """Top-1 accuracy of an int8 model with LiteRT's reference kernels (what the firmware reproduces)."""
    from .importer import parse_tflite
    from .quantize import quantize_inputs
    from .reference import run_litert

    graph = parse_tflite(tflite, name="model")
    q = quantize_inputs(tflite, split.x)
    samples = [[arr[i : i + 1].reshape(graph.tensors[graph.inputs[k]].shape) for k, arr in enumerate(q)] for i in range(len(split))]
    out = run_litert(tflite, graph, samples)
    pred = np.array([int(np.argmax(o[0])) for o in out])
    return float(np.mean(pred == split.y))


def run_train(*, demo: str, data: Path | None, out_dir: Path, epochs: int | None, quick: bool, seed: int, force: bool, progress: Progress, ablations: bool = False, weight_budget: int = DEFAULT_WEIGHT_BUDGET) -> dict[str, Any]:
    from .training import train_pipeline

    dataset = _dataset(demo, data, seed, quick)
    progress(f"training on {dataset.name}: {len(dataset.train)} train / {len(dataset.val)} val / {len(dataset.test)} test samples")
    res = train_pipeline(dataset, epochs=epochs, seed=seed, quick=quick, progress=True, ablations=ablations,
                         weight_budget=weight_budget)
    report = {
        "demo": dataset.name,
        "seed": seed,
        "quick": quick,
        "weight_budget_bytes": weight_budget,
        "student_config": asdict(res.student_config),
        "scores": {k: {"float_accuracy": v.float_accuracy, "int8_accuracy": v.int8_accuracy, "weight_bytes": v.weight_bytes} for k, v in res.scores.items()},
        "student_int8_accuracy": reference_accuracy(res.tflite, dataset.test),
        "modalities": {k: list(v) for k, v in dataset.modalities.items()},
        "class_names": dataset.class_names,
    }
    with atomic_output_dir(out_dir, force=force) as tmp:
        res.student.save(tmp / "student.keras")
        (tmp / "model.tflite").write_bytes(res.tflite)
        (tmp / "train_report.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    return report


def run_quantize(*, model: Path, demo: str, data: Path | None, out: Path, bits: str, flash_budget: int | None, seed: int, quick: bool, progress: Progress) -> dict[str, Any]:
    import keras

    if not model.exists():
        raise ModelError(f"Keras model {model} does not exist; give the path of a .keras file (e.g. from `tinym2net train`)")
    if out.suffix != ".tflite":
        raise UsageError(f"--out {out} must name a .tflite file")
    try:
        kmodel = keras.models.load_model(model, compile=False)
    except Exception as e:  # Keras raises many kinds here
        raise ModelError(f"cannot load Keras model {model}: {str(e).splitlines()[0]}; save it with model.save('x.keras')") from None
    dataset = _dataset(demo, data, seed, quick)
    names = [i.name for i in kmodel.inputs]
    missing = [n for n in names if n not in dataset.train.x]
    if missing:
        raise UsageError(f"the model's inputs {missing} are not modalities of the data ({sorted(dataset.train.x)}); name Keras Inputs after the modalities")
    progress(f"quantising {model.name} to {bits}-bit weights with {dataset.name} as representative data")
    if bits == "8":
        from .quantize import quantize_int8

        tflite = quantize_int8(kmodel, dataset.train.x)
    else:
        try:
            from . import int4, mixed_precision
        except ImportError:
            raise UsageError("int4 quantisation is not available in this build; use --bits 8") from None
        if bits == "4":
            tflite = int4.quantize_int4(kmodel, dataset.train.x)
        else:
            tflite = mixed_precision.choose_and_quantize(kmodel, dataset, flash_budget=flash_budget).tflite
    write_bytes_atomic(out, tflite)
    acc = reference_accuracy(tflite, dataset.test)
    return {"model": str(model), "out": str(out), "bits": bits, "int8_accuracy": acc, "tflite_bytes": len(tflite)}
