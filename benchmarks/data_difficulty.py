"""How hard are the demo data sets? Per-modality vs fused accuracy of simple classifiers.

For each data set, trains on the train split and reports test accuracy of
  * a logistic regression (scikit-learn, standardised flattened inputs) and
  * a small MLP (one hidden layer of 128, early stopping)
on each modality alone and on all modalities concatenated (early fusion). The demos are designed
so that each single modality is clearly imperfect and fusion clearly wins.

Run:  python benchmarks/data_difficulty.py [--quick] [--seed 0] [--data posture avdigits]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tinym2net.data import load_dataset


def _flat(split, mods):
    return np.concatenate([split.x[m].reshape(len(split), -1) for m in mods], axis=1)


def _models(seed: int):
    return {
        "logreg": lambda: make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=500)),
        "mlp128": lambda: make_pipeline(
            StandardScaler(),
            MLPClassifier((128,), alpha=1e-3, early_stopping=True, max_iter=300, random_state=seed),
        ),
    }


def evaluate(name: str, seed: int, quick: bool) -> list[tuple[str, str, float]]:
    """(inputs, classifier, test accuracy) rows for one data set."""
    ds = load_dataset(name, seed=seed, quick=quick)
    mods = list(ds.modalities)
    groups = [[m] for m in mods] + ([mods] if len(mods) > 1 else [])
    rows = []
    for group in groups:
        xtr, xte = _flat(ds.train, group), _flat(ds.test, group)
        for clf_name, make in _models(seed).items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                clf = make().fit(xtr, ds.train.y)
            rows.append(("+".join(group), clf_name, float((clf.predict(xte) == ds.test.y).mean())))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="use the small CI versions")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", nargs="+", default=["posture", "avdigits"])
    args = ap.parse_args()
    print(f"{'data set':10s} {'inputs':22s} {'classifier':10s} {'test acc':>8s}")
    for name in args.data:
        t0 = time.time()
        for inputs, clf, acc in evaluate(name, args.seed, args.quick):
            print(f"{name:10s} {inputs:22s} {clf:10s} {100 * acc:7.1f}%")
        print(f"{name:10s} ({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
