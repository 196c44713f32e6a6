"""Data sources of the multimodal demos and of users' own data.

``load_dataset(name)`` is the one entry point:

* ``"posture"``: synthetic depth (8x8x1) + thermal (24x32x1) posture classification, 6 classes
  (see :mod:`tinym2net.data.posture`);
* ``"avdigits"``: spoken digits (49x10x1 MFCC) + 8x8 digit images, 10 classes
  (see :mod:`tinym2net.data.avdigits`);
* a path to a ``.csv`` manifest (or ``"manifest:<path>"``): users' data
  (see :mod:`tinym2net.data.manifest` and ``docs/data_manifest.md``);
* ``"coswara:<folder>"``: a Coswara-style cough / breathing / counting data set
  (see :mod:`tinym2net.data.coswara`).

Generated sources are seeded (same seed -> identical arrays) and cached as ``.npz`` in ``cache_dir``
(default ``$TINYM2NET_CACHE`` or ``~/.cache/tinym2net``).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DataError
from .dataset import Dataset, Split
from .store import cached

BUILTIN = ("posture", "avdigits")


def load_dataset(name: str, *, seed: int = 0, cache_dir: Path | None = None, quick: bool = False) -> Dataset:
    """Load a built-in demo data set by name, or users' data (manifest CSV path, ``coswara:<folder>``)."""
    if name == "posture":
        from . import posture

        return cached("posture", seed, quick, posture.GENERATOR_VERSION, cache_dir,
                      lambda: posture.build(seed=seed, quick=quick))
    if name == "avdigits":
        from . import avdigits

        return avdigits.load(seed=seed, quick=quick, cache_dir=cache_dir)
    if name.startswith("coswara:"):
        from . import coswara

        return coswara.load_coswara(Path(name[len("coswara:"):]), seed=seed)
    if name.startswith("manifest:") or name.lower().endswith(".csv"):
        from . import manifest

        return manifest.load_manifest(Path(name.removeprefix("manifest:")), seed=seed)
    raise DataError(
        f"unknown data set {name!r}: use one of {', '.join(BUILTIN)}, a manifest .csv path or coswara:<folder>"
    )


__all__ = ["Dataset", "Split", "load_dataset", "BUILTIN"]
