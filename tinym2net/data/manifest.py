"""Users' own multimodal data, described by a CSV manifest (format: ``docs/data_manifest.md``).

One row per sample. Columns:

* ``label`` (required): the class name (any non-empty string); class indices follow the sorted names;
* ``split`` (optional): ``train``, ``val`` or ``test`` for every row; without it, a seeded stratified
  70/15/15 split is made;
* columns whose name starts with ``_`` are ignored (notes, ids);
* every other column is a modality (its name is the modality's name); its cells are paths,
  relative to the CSV's folder, to ``.wav`` (-> 49x10x1 MFCC, :mod:`tinym2net.data.audio`),
  ``.png`` (grayscale, values 0..255 -> -1..1, shape HxWx1) or ``.npy`` (any float array; 1-D
  -> (L, 1, 1), 2-D -> (H, W, 1), 3-D as is) files.

Every sample of a modality must have the same shape. Any problem raises
:class:`~tinym2net.errors.DataError` naming the manifest, its line number (the header is line 1)
and the data file.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import DataError
from . import audio
from .dataset import Dataset
from .store import SPLIT_NAMES, build_dataset, stratified_split

RESERVED = ("label", "split")
EXTENSIONS = (".wav", ".png", ".npy")


def load_png(path: Path) -> np.ndarray:
    """Grayscale PNG -> float32 [H, W, 1] in [-1, 1]."""
    from PIL import Image

    with Image.open(path) as im:
        arr = np.asarray(im.convert("L"), dtype=np.float32)
    return (arr / 127.5 - 1.0)[..., None]


def load_npy(path: Path) -> np.ndarray:
    """A numeric ``.npy`` array -> float32 with 3 dimensions (see the module doc)."""
    arr = np.load(path, allow_pickle=False)
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"dtype {arr.dtype} is not a real number type")
    arr = arr.astype(np.float32)
    if arr.ndim == 1:
        arr = arr[:, None, None]
    elif arr.ndim == 2:
        arr = arr[..., None]
    elif arr.ndim != 3:
        raise ValueError(f"{arr.ndim}-D array; expected 1-D, 2-D or 3-D")
    if not np.isfinite(arr).all():
        raise ValueError("contains NaN or infinity")
    return arr


def load_sample_file(path: Path, audio_mode: str = "loudest") -> np.ndarray:
    """Load one data file by its extension (raises ``ValueError``/``OSError`` etc. when unreadable)."""
    ext = path.suffix.lower()
    if ext == ".wav":
        x, sr = audio.read_wav(path)
        if x.size == 0:
            raise ValueError("no audio samples")
        return audio.features(x, sr, audio_mode)
    if ext == ".png":
        return load_png(path)
    if ext == ".npy":
        return load_npy(path)
    raise ValueError(f"unsupported file type {ext!r}")


def where(csv_path: Path, line: int, column: str | None = None) -> str:
    """``data.csv line 7 (column audio)``: how an error names its place."""
    return f"{csv_path} line {line}" + (f" (column {column})" if column else "")


def read_file_checked(csv_path: Path, line: int, column: str, rel: str, audio_mode: str = "loudest") -> np.ndarray:
    """Resolve ``rel`` against the CSV's folder and load it; every failure is a one-line DataError."""
    if not rel:
        raise DataError(f"{where(csv_path, line, column)}: empty path; give a file for every modality or drop the row")
    path = (csv_path.parent / rel).resolve()
    if path.suffix.lower() not in EXTENSIONS:
        raise DataError(
            f"{where(csv_path, line, column)}: {rel}: unsupported file type; use .wav, .png or .npy"
        )
    if not path.is_file():
        raise DataError(
            f"{where(csv_path, line, column)}: missing file {path}; fix the path (relative to the manifest's folder)"
            " or drop the row"
        )
    try:
        return load_sample_file(path, audio_mode)
    except DataError:
        raise
    except Exception as err:  # noqa: BLE001 - any reader failure becomes a user-facing error
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DataError(
            f"{where(csv_path, line, column)}: cannot read {path}: {msg}; replace the file or drop the row"
        ) from None


def check_shapes(samples: Sequence[np.ndarray], lines: Sequence[int], csv_path: Path, column: str) -> np.ndarray:
    """Stack one modality's samples, failing on the first whose shape differs from the first row's."""
    first = samples[0].shape
    for arr, line in zip(samples, lines, strict=True):
        if arr.shape != first:
            raise DataError(
                f"{where(csv_path, line, column)}: shape {arr.shape} differs from {first} of line {lines[0]}; "
                f"every {column} sample must have the same shape (resize or pad the file)"
            )
    return np.stack(samples).astype(np.float32)


def class_indices(labels: Sequence[str], lines: Sequence[int], csv_path: Path, what: str = "label"):
    """Sorted class names and int64 indices; empty labels and a single class are errors."""
    for lab, line in zip(labels, lines, strict=True):
        if not lab:
            raise DataError(f"{where(csv_path, line, what)}: empty {what}; give every row a class name")
    names = sorted(set(labels))
    if len(names) < 2:
        raise DataError(
            f"{csv_path}: only one class ({names[0]!r}) in {len(labels)} rows; a classifier needs at least two"
        )
    index = {n: i for i, n in enumerate(names)}
    return names, np.array([index[lab] for lab in labels], dtype=np.int64)


def split_indices(
    y: np.ndarray, split_values: Sequence[str] | None, lines: Sequence[int], csv_path: Path, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index arrays of train/val/test: from the split column when given, else seeded stratified 70/15/15."""
    if split_values is None:
        if y.size < 3:
            raise DataError(f"{csv_path}: {y.size} rows cannot make train/val/test splits; add rows")
        idx = stratified_split(y, np.random.default_rng(np.random.SeedSequence([seed, 0x5917])))
        if any(i.size == 0 for i in idx):
            raise DataError(
                f"{csv_path}: too few rows ({y.size}) for a 70/15/15 split with every split non-empty; add rows "
                "or give a split column"
            )
        return idx
    sv = [s.strip().lower() for s in split_values]
    for s, line in zip(sv, lines, strict=True):
        if s not in SPLIT_NAMES:
            raise DataError(
                f"{where(csv_path, line, 'split')}: unknown split value {s!r}; use train, val or test"
            )
    arr = np.array(sv)
    out = []
    for name in SPLIT_NAMES:
        idx = np.flatnonzero(arr == name)
        if idx.size == 0:
            raise DataError(f"{csv_path}: no row has split {name!r}; every split needs at least one row")
        out.append(idx.astype(np.int64))
    return out[0], out[1], out[2]


def read_csv(csv_path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Header and (line number, row) pairs of a CSV file; blank lines are skipped."""
    if not csv_path.is_file():
        raise DataError(f"manifest {csv_path} not found; give the path of an existing .csv file")
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = [h.strip() for h in next(reader, [])]
            rows = []
            for rec in reader:
                line = reader.line_num
                if not any(c.strip() for c in rec):
                    continue
                if len(rec) != len(header):
                    raise DataError(
                        f"{where(csv_path, line)}: {len(rec)} cells but the header has {len(header)}; "
                        "fix the row (quote cells that contain commas)"
                    )
                rows.append((line, {h: c.strip() for h, c in zip(header, rec, strict=True)}))
    except (UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"{csv_path}: not a readable UTF-8 CSV file ({err}); save it as CSV") from None
    if not header or not any(header):
        raise DataError(f"{csv_path}: empty file; the first line must be a header (label and modality columns)")
    if len(set(header)) != len(header):
        raise DataError(f"{csv_path}: duplicate column names in the header; rename them")
    if not rows:
        raise DataError(f"{csv_path}: no data rows; add one row per sample")
    return header, rows


def load_manifest(csv_path: Path, *, seed: int = 0) -> Dataset:
    """Read a manifest and every file it names into a :class:`Dataset` named after the CSV file."""
    csv_path = Path(csv_path)
    header, rows = read_csv(csv_path)
    if "label" not in header:
        raise DataError(f"{csv_path}: no 'label' column; add one with each sample's class name")
    modalities = [h for h in header if h not in RESERVED and not h.startswith("_")]
    if not modalities:
        raise DataError(
            f"{csv_path}: no modality columns; add a column of file paths (.wav, .png or .npy) per modality"
        )
    lines = [line for line, _ in rows]
    names, y = class_indices([row["label"] for _, row in rows], lines, csv_path)
    split_col = [row["split"] for _, row in rows] if "split" in header else None
    idx = split_indices(y, split_col, lines, csv_path, seed)
    x: dict[str, np.ndarray] = {}
    for mod in modalities:
        exts = set()
        samples = []
        for line, row in rows:
            samples.append(read_file_checked(csv_path, line, mod, row[mod]))
            exts.add(Path(row[mod]).suffix.lower())
        if len(exts) > 1:
            raise DataError(
                f"{csv_path}: column {mod} mixes file types {sorted(exts)}; use one type per modality"
            )
        x[mod] = check_shapes(samples, lines, csv_path, mod)
    return build_dataset(csv_path.stem, x, y, names, seed, idx)
