"""How hard are the demo data sets? Per-modality vs fused accuracy of simple classifiers.

For each data set, trains on the train split and reports test accuracy of
  * a logistic regression (scikit-learn, standardised flattened inputs),
  * a small MLP (one hidden layer of 128, early stopping) and, with ``--cnn``,
  * a small Keras CNN (per modality: conv 16 -> [pool] -> conv 32 -> pool -> conv 32 -> global
    average pool; modalities fused by concatenation; dense 64 -> softmax; about 16 k parameters
    per branch; Adam, up to 60 epochs with early stopping on the validation split)
on each modality alone and on all modalities together. The demos are designed so that each single
modality is clearly imperfect and fusion clearly wins. Flat classifiers see no translation
invariance, so on the posture scenes (people anywhere in the frame) they sit far below the CNN;
the CNN column is the one that predicts what the students reach.

Run:  python benchmarks/data_difficulty.py [--quick] [--cnn] [--seed 0] [--data posture avdigits]
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


def _cnn_accuracy(ds, group: list[str], seed: int) -> float:
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    layers = tf.keras.layers
    inputs, feats = [], []
    for mod in group:
        inp = layers.Input(ds.modalities[mod], name=mod)
        x = layers.Conv2D(16, 3, padding="same", activation="relu")(inp)
        if ds.modalities[mod][0] >= 16:
            x = layers.MaxPool2D()(x)
        x = layers.Conv2D(32, 3, padding="same", activation="relu")(x)
        x = layers.MaxPool2D()(x)
        x = layers.Conv2D(32, 3, padding="same", activation="relu")(x)
        inputs.append(inp)
        feats.append(layers.GlobalAveragePooling2D()(x))
    x = feats[0] if len(feats) == 1 else layers.Concatenate()(feats)
    x = layers.Dropout(0.2)(layers.Dense(64, activation="relu")(x))
    model = tf.keras.Model(inputs, layers.Dense(ds.num_classes, activation="softmax")(x))
    model.compile(optimizer=tf.keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    stop = tf.keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=10, restore_best_weights=True)
    model.fit({m: ds.train.x[m] for m in group}, ds.train.y, epochs=60, batch_size=64, verbose=0,
              validation_data=({m: ds.val.x[m] for m in group}, ds.val.y), callbacks=[stop])
    pred = model.predict({m: ds.test.x[m] for m in group}, verbose=0).argmax(axis=1)
    return float((pred == ds.test.y).mean())


def evaluate(name: str, seed: int, quick: bool, cnn: bool = False) -> list[tuple[str, str, float]]:
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
        if cnn:
            rows.append(("+".join(group), "cnn", _cnn_accuracy(ds, group, seed)))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="use the small CI versions")
    ap.add_argument("--cnn", action="store_true", help="also train a small Keras CNN (minutes on a CPU)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", nargs="+", default=["posture", "avdigits"])
    args = ap.parse_args()
    print(f"{'data set':10s} {'inputs':22s} {'classifier':10s} {'test acc':>8s}")
    for name in args.data:
        t0 = time.time()
        for inputs, clf, acc in evaluate(name, args.seed, args.quick, args.cnn):
            print(f"{name:10s} {inputs:22s} {clf:10s} {100 * acc:7.1f}%")
        print(f"{name:10s} ({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
