"""Where the top-level ``templates/``, ``firmware/`` and ``boards/`` folders are.

In a source checkout (or an editable install) they sit beside the package; in a built wheel they
are force-included as ``tinym2net/_data/<name>``.
"""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """Path of a shipped resource folder: ``templates``, ``firmware`` or ``boards``."""
    packaged = _PKG / "_data" / name
    if packaged.is_dir():
        return packaged
    source = _PKG.parent / name
    if source.is_dir():
        return source
    raise FileNotFoundError(f"tinym2net resource folder {name!r} not found (looked in {packaged} and {source})")


def templates_dir() -> Path:
    return resource_dir("templates")


def firmware_dir() -> Path:
    return resource_dir("firmware")


def boards_dir() -> Path:
    return resource_dir("boards")
