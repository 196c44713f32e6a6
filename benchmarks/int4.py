"""int4 vs int8 weights: flash bytes on the MLPerf Tiny models; accuracy and bytes on the demo data sets.

Table 1, MLPerf Tiny (``../shared/benchmarks/mlperf_tiny`` beside the repository): ``weights_bytes`` of the compiled int8
reference model and of the same model with its weights requantised to int4
(:func:`tinym2net.int4.requantize_tflite_int4`; these models exist only as int8), and the ratio. The
bytes are what the generated C keeps in flash for the weighted layers: filters (int4 packed two per
byte) and biases (int32, or int16 for int4 layers whose biases fit).

Table 2, demos (``posture``, ``avdigits``): one TinyM2Net student per data set (the project's builder,
trained with hard labels, BatchNorm folded), then

* ``int8``: the project's TFLite-converter int8 model (:func:`tinym2net.quantize.quantize_int8`);
* ``int4 PTQ``: every weighted layer int4 by ai-edge-quantizer (:func:`tinym2net.int4.quantize_int4`);
* ``int4 QAT``: fake-quantised fine-tuning, converted to native int4 (:func:`tinym2net.int4.qat_int4`);
* ``auto``: mixed 4/8-bit weights under a budget of ``--budget`` x the int8 (ai-edge-quantizer) weight
  bytes, chosen on the validation split (:func:`tinym2net.mixed_precision.mixed_precision`).

Accuracy is top-1 on the test split with LiteRT; bytes are tinym2net's compiled ``weights_bytes``.
A data set that cannot be loaded is reported as such and skipped.

Run: ``.venv/bin/python benchmarks/int4.py [--quick] [--demos posture,avdigits] [--no-demos]
[--epochs N] [--budget 0.7] [--json out.json]``.
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
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tinym2net.compiler import compile_graph  # noqa: E402
from tinym2net.importer import parse_tflite  # noqa: E402

MLPERF_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "benchmarks" / "mlperf_tiny"
MLPERF_MODELS = ["kws_ref_model", "vww_96_int8", "pretrainedResnet_quant", "ad01_int8"]


def compiled_weights(model: bytes, name: str = "model") -> int:
    return compile_graph(parse_tflite(model, name=name), model).weights_bytes


def mlperf_rows(folder: Path) -> list[dict]:
    from tinym2net.int4 import requantize_tflite_int4

    rows = []
    for name in MLPERF_MODELS:
        path = folder / f"{name}.tflite"
        if not path.exists():
            rows.append({"model": name, "missing": str(path)})
            continue
        b8 = path.read_bytes()
        b4 = requantize_tflite_int4(b8, name=name)
        w8, w4 = compiled_weights(b8, name), compiled_weights(b4, name)
        rows.append({"model": name, "int8_bytes": w8, "int4_bytes": w4, "ratio": w4 / w8})
    return rows


def train_student(ds, epochs: int, seed: int):
    """A student trained with hard labels (the pipeline's 'student' stage), BatchNorm folded."""
    from tinym2net.distill import DistillConfig
    from tinym2net.models.student import build_student, fold_batchnorm, size_student
    from tinym2net.training import TrainSettings, fit_model, seed_everything

    cfg = size_student(ds.modalities, ds.num_classes)  # the default student of the pipeline (6 KB of int8)
    settings = TrainSettings(jit_compile=False)
    seed_everything(seed)
    model = build_student(ds.modalities, ds.num_classes, cfg)
    fit_model(model, ds.train, ds.val, config=DistillConfig(), epochs=epochs, lr=settings.student_lr,
              settings=settings, seed=seed)
    return fold_batchnorm(model, ds.modalities, ds.num_classes, cfg)


def demo_rows(name: str, *, quick: bool, epochs: int, qat_epochs: int, budget: float, seed: int) -> list[dict]:
    from tinym2net.data import load_dataset
    from tinym2net.int4 import (
        QATSettings,
        float_tflite,
        qat_int4,
        quantize_int4,
        split_samples,
        with_batch_one,
    )
    from tinym2net.mixed_precision import mixed_precision
    from tinym2net.quantize import evaluate_tflite, quantize_int8

    try:
        ds = load_dataset(name, seed=seed, quick=quick)
    except Exception as e:  # noqa: BLE001 - a demo that cannot load is reported, the others still run
        return [{"data": name, "variant": "-", "error": f"{type(e).__name__}: {e}"}]
    t0 = time.perf_counter()
    model = train_student(ds, epochs, seed)
    mods = list(ds.modalities)
    rows = []

    def row(variant: str, tfl: bytes, extra: str = "") -> None:
        rows.append({"data": name, "variant": variant, "accuracy": evaluate_tflite(tfl, ds.test),
                     "weights_bytes": compiled_weights(tfl), "note": extra})

    # batch 1: the student's global max pooling flattens through the batch dim otherwise (SHAPE ops)
    row("int8", quantize_int8(with_batch_one(model), ds.train.x, num_samples=200))
    fl = float_tflite(model)
    samples = split_samples(ds.train.x, mods, 200)
    row("int4 PTQ", quantize_int4(fl, samples))
    qat_tfl, _ = qat_int4(model, ds.train, ds.val, QATSettings(epochs=qat_epochs, seed=seed))
    row("int4 QAT", qat_tfl)
    int8_aeq = quantize_int4(fl, samples, int4=[])
    limit = int(budget * compiled_weights(int8_aeq))
    mp = mixed_precision(fl, samples, ds.val, limit)
    row("auto", mp.tflite, f"budget {limit} B, {len(mp.int4_layers)}/{len(mp.sensitivities)} layers int4")
    for r in rows:
        r["seconds_total"] = round(time.perf_counter() - t0, 1)
    return rows


def print_tables(mlperf: list[dict], demos: list[dict]) -> None:
    print("### Weight bytes, MLPerf Tiny (int8 reference vs int4 requantised)\n")
    print("| model | int8 B | int4 B | int4 / int8 |")
    print("|---|---:|---:|---:|")
    for r in mlperf:
        if "missing" in r:
            print(f"| {r['model']} | missing | | |")
        else:
            print(f"| {r['model']} | {r['int8_bytes']:,} | {r['int4_bytes']:,} | {r['ratio']:.3f} |")
    if not demos:
        return
    print("\n### Demos: test accuracy and weight bytes\n")
    print("| data | variant | accuracy | weights B | note |")
    print("|---|---|---:|---:|---|")
    for r in demos:
        if "error" in r:
            print(f"| {r['data']} | - | - | - | not run: {r['error'][:100]} |")
        else:
            print(f"| {r['data']} | {r['variant']} | {r['accuracy']:.3f} | {r['weights_bytes']:,} | {r['note']} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mlperf-dir", type=Path, default=MLPERF_DIR)
    ap.add_argument("--demos", default="posture,avdigits")
    ap.add_argument("--no-demos", action="store_true")
    ap.add_argument("--quick", action="store_true", help="quick data sets and few epochs")
    ap.add_argument("--epochs", type=int, default=None, help="student epochs (default 30, quick 8)")
    ap.add_argument("--qat-epochs", type=int, default=None, help="QAT fine-tuning epochs (default 10, quick 3)")
    ap.add_argument("--budget", type=float, default=0.7, help="auto: fraction of the int8 weight bytes")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    epochs = args.epochs or (8 if args.quick else 30)
    qat_epochs = args.qat_epochs or (3 if args.quick else 10)
    mlperf = mlperf_rows(args.mlperf_dir)
    demos: list[dict] = []
    if not args.no_demos:
        for name in [d for d in args.demos.split(",") if d]:
            with contextlib.redirect_stdout(sys.stderr):  # TensorFlow's converter prints to stdout
                demos += demo_rows(name, quick=args.quick, epochs=epochs, qat_epochs=qat_epochs,
                                   budget=args.budget, seed=args.seed)
    print_tables(mlperf, demos)
    if args.json:
        args.json.write_text(json.dumps({"mlperf": mlperf, "demos": demos}, indent=2))


if __name__ == "__main__":
    main()
