"""Loader for Coswara-style COVID-19 audio data: cough, breathing and counting per participant.

Layout (the public Coswara release, or your own recordings in the same form)::

    root/
      metadata.csv                 # or combined_data.csv, or the only .csv in root
      <participant id>/            # directly in root, or one level down (root/<date>/<id>/)
        cough-heavy.wav            # cough:     cough-heavy.wav, else cough-shallow.wav, else cough.wav
        breathing-deep.wav         # breathing: breathing-deep.wav, else breathing-shallow.wav, else breathing.wav
        counting-normal.wav        # counting:  counting-normal.wav, else counting-fast.wav, else counting.wav

Metadata columns: the participant id (``id``, ``participant_id`` or ``participant``) and the status
(``covid_status`` or ``status``); an optional ``split`` column (train/val/test) as in manifests.
Status values: ``positive`` or anything starting with ``positive`` (Coswara: positive_mild,
positive_moderate, positive_asymp) -> positive; ``negative`` or ``healthy`` -> negative. Rows with
Coswara's other statuses (no_resp_illness_exposed, resp_illness_not_identified, recovered_full,
under_validation) are skipped; any other value is an error.

Features: three audio modalities ``cough``, ``breathing``, ``counting``, each 49x10x1 MFCC
(:mod:`tinym2net.data.audio`, per-utterance normalised). Recordings are longer than 1 s: the cough
keeps its loudest second (the cough burst); breathing and counting average the MFCCs of 1 s
windows with a 0.5 s hop over the whole recording.

Any bad row or file raises :class:`~tinym2net.errors.DataError` naming the metadata file, the line
and the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataError
from .dataset import Dataset
from .manifest import check_shapes, class_indices, read_csv, read_file_checked, split_indices, where
from .store import build_dataset

CLASS_NAMES = ["negative", "positive"]
RECORDINGS = {
    "cough": (("cough-heavy.wav", "cough-shallow.wav", "cough.wav"), "loudest"),
    "breathing": (("breathing-deep.wav", "breathing-shallow.wav", "breathing.wav"), "average"),
    "counting": (("counting-normal.wav", "counting-fast.wav", "counting.wav"), "average"),
}
ID_COLUMNS = ("id", "participant_id", "participant")
STATUS_COLUMNS = ("covid_status", "status")
SKIPPED_STATUSES = ("no_resp_illness_exposed", "resp_illness_not_identified", "recovered_full", "under_validation")
METADATA_NAMES = ("metadata.csv", "combined_data.csv")


def _metadata_file(root: Path) -> Path:
    if not root.is_dir():
        raise DataError(f"Coswara folder {root} not found; give the folder that holds the metadata CSV")
    for name in METADATA_NAMES:
        if (root / name).is_file():
            return root / name
    csvs = sorted(root.glob("*.csv"))
    if len(csvs) == 1:
        return csvs[0]
    raise DataError(
        f"{root}: no metadata CSV ({' or '.join(METADATA_NAMES)}, or a single .csv file); add one with id and "
        "covid_status columns"
    )


def status_class(value: str) -> str | None:
    """'positive' / 'negative' for a status value, None for a skipped one, '' for an unknown one."""
    v = value.strip().lower()
    if v.startswith("positive"):
        return "positive"
    if v in ("negative", "healthy"):
        return "negative"
    if v in SKIPPED_STATUSES:
        return None
    return ""


def _participant_dir(root: Path, pid: str) -> Path | None:
    direct = root / pid
    if direct.is_dir():
        return direct
    nested = [p for p in root.glob(f"*/{pid}") if p.is_dir()]
    return nested[0] if len(nested) == 1 else None


def load_coswara(root: Path, *, seed: int = 0) -> Dataset:
    """Read a Coswara-style folder into a :class:`Dataset` (see the module doc)."""
    root = Path(root)
    meta = _metadata_file(root)
    header, rows = read_csv(meta)
    id_col = next((c for c in ID_COLUMNS if c in header), None)
    status_col = next((c for c in STATUS_COLUMNS if c in header), None)
    if id_col is None or status_col is None:
        raise DataError(
            f"{meta}: needs a participant id column ({'/'.join(ID_COLUMNS)}) and a status column "
            f"({'/'.join(STATUS_COLUMNS)}); rename the header"
        )
    kept: list[tuple[int, str, str, dict[str, str]]] = []
    for line, row in rows:
        pid = row[id_col]
        if not pid:
            raise DataError(f"{where(meta, line, id_col)}: empty participant id; fill it in or drop the row")
        if not row[status_col]:
            raise DataError(f"{where(meta, line, status_col)}: empty status; use positive or negative")
        cls = status_class(row[status_col])
        if cls is None:
            continue
        if cls == "":
            raise DataError(
                f"{where(meta, line, status_col)}: unknown status {row[status_col]!r}; use positive or negative "
                "(or healthy, positive_mild, ...)"
            )
        kept.append((line, pid, cls, row))
    if not kept:
        raise DataError(f"{meta}: no participant with a positive or negative status; check the status column")

    lines = [k[0] for k in kept]
    names, y = class_indices([k[2] for k in kept], lines, meta, what=status_col)
    split_col = [k[3]["split"] for k in kept] if "split" in header else None
    idx = split_indices(y, split_col, lines, meta, seed)
    x: dict[str, np.ndarray] = {}
    folders = {}
    for line, pid, _, _ in kept:
        folder = _participant_dir(root, pid)
        if folder is None:
            raise DataError(
                f"{where(meta, line, id_col)}: no folder {root / pid} (or {root}/*/{pid}) for participant {pid}; "
                "add the recordings or drop the row"
            )
        folders[line] = folder
    for mod, (candidates, mode) in RECORDINGS.items():
        samples = []
        for line, _pid, _, _ in kept:
            folder = folders[line]
            name = next((c for c in candidates if (folder / c).is_file()), candidates[0])
            rel = str((folder / name).relative_to(meta.parent))
            samples.append(read_file_checked(meta, line, mod, rel, audio_mode=mode))
        x[mod] = check_shapes(samples, lines, meta, mod)
    return build_dataset(f"coswara-{root.name}", x, y, names, seed, idx)
