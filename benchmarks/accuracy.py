"""Accuracy vs weight bytes of every model the training pipeline builds, on both demos, over several seeds.

For each demo (``posture``, ``avdigits``) and each training seed, runs
:func:`tinym2net.training.train_pipeline` (teacher, fused student alone, +KD, +KD+AT, single-modality
students, int8 quantisation) on the same data (``--data-seed``) and prints one markdown table per demo:
test accuracy (float and int8, mean +- sample standard deviation over the seeds) against weight bytes
(int8 weights + int32 biases), followed by the three goals of the issue:

* the int8 KD+AT student (<= 6 KB of weights) is within 1.5 points of the float teacher;
* the fused student beats the best single-modality student by >= 3 points;
* KD+AT is at least as good as the student trained alone (seed average).

Run:  python benchmarks/accuracy.py [--demos posture avdigits] [--seeds 0 1 2] [--quick] [--epochs N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from tinym2net.data import load_dataset
from tinym2net.training import TrainResult, train_pipeline

ROWS = [
    ("teacher", "teacher (float)"),
    ("student", "student alone"),
    ("student_kd", "student + KD"),
    ("student_kd_at", "student + KD + AT"),
]
BUDGET = 6 * 1024


def _pm(values: list[float]) -> str:
    pct = [100.0 * v for v in values]
    if len(pct) == 1:
        return f"{pct[0]:.2f}"
    return f"{statistics.mean(pct):.2f} ± {statistics.stdev(pct):.2f}"


def _mean(values: list[float]) -> float:
    return 100.0 * statistics.mean(values)


def table(demo: str, results: list[TrainResult]) -> str:
    """Markdown table of one demo over the seeds, plus the goal lines."""
    keys = [k for k, _ in ROWS] + sorted(k for k in results[0].scores if k.startswith("single_"))
    labels = dict(ROWS)
    lines = [
        f"### {demo} (seeds {', '.join(str(r.seed) for r in results)}; "
        f"{'quick' if results[0].quick else 'default'} settings, "
        f"{statistics.mean(r.seconds for r in results):.0f} s per run)",
        "",
        "| model | weight bytes | float acc % | int8 acc % | epochs (best) |",
        "|---|---:|---:|---:|---:|",
    ]
    for k in keys:
        s = [r.scores[k] for r in results]
        label = labels.get(k, f"single-modality: {k.removeprefix('single_')}")
        epochs = ", ".join(f"{x.epochs_run}({x.best_epoch})" for x in s)
        lines.append(
            f"| {label} | {s[0].weight_bytes} | {_pm([x.float_accuracy for x in s])} | "
            f"{_pm([x.int8_accuracy for x in s])} | {epochs} |"
        )
    teacher = _mean([r.teacher.float_accuracy for r in results])
    int8 = _mean([r.int8_accuracy for r in results])
    fused = _mean([r.scores["student_kd_at"].float_accuracy for r in results])
    singles = {k: _mean([r.scores[k].float_accuracy for r in results]) for k in keys if k.startswith("single_")}
    best_single = max(singles.values())
    alone = _mean([r.scores["student"].float_accuracy for r in results])
    wb = results[0].weight_bytes
    ok = {True: "met", False: "NOT met"}
    lines += [
        "",
        f"- int8 KD+AT student ({wb} B {'<=' if wb <= BUDGET else '>'} {BUDGET} B) vs float teacher: "
        f"{int8:.2f} vs {teacher:.2f} ({int8 - teacher:+.2f} points; goal >= -1.5): "
        f"{ok[int8 - teacher >= -1.5 and wb <= BUDGET]}",
        f"- fused KD+AT student vs best single-modality student: {fused:.2f} vs {best_single:.2f} "
        f"({fused - best_single:+.2f} points; goal >= +3): {ok[fused - best_single >= 3.0]}",
        f"- KD+AT vs student alone: {fused:.2f} vs {alone:.2f} ({fused - alone:+.2f} points; goal >= 0): "
        f"{ok[fused >= alone]}",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--demos", nargs="+", default=["posture", "avdigits"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--data-seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="quick training settings (the data stays full size)")
    ap.add_argument("--epochs", type=int, default=None, help="override the student epoch count")
    ap.add_argument("--json", type=Path, default=None, help="also write every figure to this JSON file")
    args = ap.parse_args()

    report, raw = [], {}
    for demo in args.demos:
        ds = load_dataset(demo, seed=args.data_seed)
        results = []
        for seed in args.seeds:
            t0 = time.perf_counter()
            r = train_pipeline(ds, seed=seed, quick=args.quick, epochs=args.epochs, progress=False)
            results.append(r)
            print(f"[{demo} seed {seed}] {time.perf_counter() - t0:.0f} s: "
                  + ", ".join(f"{k}={100 * s.float_accuracy:.1f}/{100 * s.int8_accuracy:.1f}"
                              for k, s in r.scores.items()), flush=True)
            raw.setdefault(demo, []).append(
                {"seed": seed, "seconds": r.seconds, "scores": {k: vars(s) for k, s in r.scores.items()}}
            )
        report.append(table(demo, results))
    print("\n\n".join(report))
    if args.json:
        args.json.write_text(json.dumps(raw, indent=1, default=str))


if __name__ == "__main__":
    main()
