"""Seeded splits and the on-disk cache shared by every data source.

A generated data set is cached as one ``.npz`` file whose name holds the source name, the seed, the
quick flag and the generator version (bump the version whenever a generator changes its output), so
a cached file is never served for a different configuration. Files are written to a temporary name
and renamed into place, so a reader in another process never sees a half-written cache.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .dataset import Dataset, Split

SPLIT_NAMES = ("train", "val", "test")
DEFAULT_FRACTIONS = (0.70, 0.15, 0.15)


def default_cache_dir() -> Path:
    """``$TINYM2NET_CACHE`` if set, else ``~/.cache/tinym2net``."""
    env = os.environ.get("TINYM2NET_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "tinym2net"


def cache_file(cache_dir: Path, name: str, seed: int, quick: bool, version: int) -> Path:
    """The cache file of one (source, seed, quick, version) configuration."""
    return Path(cache_dir) / f"{name}-v{version}-seed{seed}{'-quick' if quick else ''}.npz"


def stratified_split(
    y: np.ndarray, rng: np.random.Generator, fractions: Sequence[float] = DEFAULT_FRACTIONS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index arrays (train, val, test) that split every class by ``fractions``.

    Each class's indices are shuffled and cut at rounded cumulative fractions, so every split holds
    every class in the same proportion (up to one sample per class). The indices inside each split
    are shuffled again so that classes are interleaved.
    """
    cuts = np.cumsum(np.asarray(fractions, dtype=np.float64))
    cuts = cuts / cuts[-1]
    parts: list[list[np.ndarray]] = [[], [], []]
    for cls in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == cls))
        bounds = np.rint(cuts * len(idx)).astype(int)
        start = 0
        for k in range(3):
            parts[k].append(idx[start : bounds[k]])
            start = bounds[k]
    out = []
    for k in range(3):
        joined = np.concatenate(parts[k]) if parts[k] else np.zeros(0, dtype=np.int64)
        out.append(rng.permutation(joined).astype(np.int64))
    if any(o.size == 0 for o in out) and y.size >= 3:
        return _interleaved_split(y, rng, cuts)
    return out[0], out[1], out[2]


def _interleaved_split(y: np.ndarray, rng: np.random.Generator, cuts: np.ndarray):
    """Split for small data, where per-class rounding would leave a split empty.

    Every sample gets the key (rank within its shuffled class + jitter) / class size, so each class
    is spread evenly along the key order; the order is cut at the global fractions, with at least one
    sample per split.
    """
    keys = np.empty(y.size)
    for cls in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == cls))
        keys[idx] = (np.arange(idx.size) + rng.random(idx.size)) / idx.size
    order = np.argsort(keys, kind="stable")
    n = y.size
    b1 = int(np.clip(np.rint(cuts[0] * n), 1, n - 2))
    b2 = int(np.clip(np.rint(cuts[1] * n), b1 + 1, n - 1))
    parts = (order[:b1], order[b1:b2], order[b2:])
    return tuple(rng.permutation(p).astype(np.int64) for p in parts)


def subset(x: dict[str, np.ndarray], y: np.ndarray, idx: np.ndarray) -> Split:
    """The samples ``idx`` of every modality as a :class:`Split` (float32 x, int64 y)."""
    return Split(
        x={k: np.ascontiguousarray(v[idx], dtype=np.float32) for k, v in x.items()},
        y=np.ascontiguousarray(y[idx], dtype=np.int64),
    )


def build_dataset(
    name: str,
    x: dict[str, np.ndarray],
    y: np.ndarray,
    class_names: list[str],
    seed: int,
    split_idx: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> Dataset:
    """Assemble a :class:`Dataset` from whole arrays and the three index arrays of its splits."""
    splits = [subset(x, y, idx) for idx in split_idx]
    modalities = {k: tuple(int(s) for s in v.shape[1:]) for k, v in x.items()}
    return Dataset(
        name=name,
        modalities=modalities,
        class_names=list(class_names),
        train=splits[0],
        val=splits[1],
        test=splits[2],
        seed=seed,
    )


def save_dataset(path: Path, ds: Dataset) -> None:
    """Write ``ds`` to ``path`` (an ``.npz``) atomically."""
    arrays: dict[str, np.ndarray] = {}
    for split_name in SPLIT_NAMES:
        split: Split = getattr(ds, split_name)
        arrays[f"{split_name}/y"] = split.y
        for mod, arr in split.x.items():
            arrays[f"{split_name}/x/{mod}"] = arr
    meta = {
        "name": ds.name,
        "modalities": {k: list(v) for k, v in ds.modalities.items()},
        "class_names": ds.class_names,
        "seed": ds.seed,
    }
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.stem + ".", suffix=".tmp.npz", dir=path.parent)
    os.close(fd)
    try:
        np.savez(tmp, **arrays)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_saved(path: Path) -> Dataset | None:
    """Read a dataset written by :func:`save_dataset`; ``None`` if missing or unreadable."""
    try:
        with np.load(path) as data:
            meta = json.loads(bytes(data["meta"]).decode())
            splits = {}
            for split_name in SPLIT_NAMES:
                x = {mod: data[f"{split_name}/x/{mod}"] for mod in meta["modalities"]}
                splits[split_name] = Split(x=x, y=data[f"{split_name}/y"])
    except (OSError, KeyError, ValueError):
        return None
    return Dataset(
        name=meta["name"],
        modalities={k: tuple(v) for k, v in meta["modalities"].items()},
        class_names=list(meta["class_names"]),
        train=splits["train"],
        val=splits["val"],
        test=splits["test"],
        seed=int(meta["seed"]),
    )


def cached(
    name: str,
    seed: int,
    quick: bool,
    version: int,
    cache_dir: Path | None,
    build: Callable[[], Dataset],
) -> Dataset:
    """Return the cached dataset of this configuration, building and saving it on a miss."""
    path = cache_file(cache_dir if cache_dir is not None else default_cache_dir(), name, seed, quick, version)
    ds = load_saved(path)
    if ds is not None:
        return ds
    ds = build()
    save_dataset(path, ds)
    return ds
