"""Output folders written whole: build in a temporary sibling, then move into place.

An interrupted run never leaves half a project, and a folder holding files tinym2net did not
write is never overwritten without ``force``.

The temporary sibling is ``.<name>.tmp-<pid>-<random>`` next to the destination (same file system,
so the final ``os.replace`` is one atomic rename). An exception or a handled signal (the CLI turns
SIGINT/SIGTERM/SIGHUP into exceptions) removes it on the way out. A process killed outright
(SIGKILL, power loss) cannot clean up, so the next run into the same destination removes siblings
whose process id no longer runs.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import UsageError

MARKER = ".tinym2net-output"


def check_writable_output(dest: Path, *, force: bool) -> None:
    """Refuse an existing non-empty folder that tinym2net did not write, unless ``force``."""
    if dest.exists() and not dest.is_dir():
        raise UsageError(f"output path {dest} exists and is not a folder; choose another --out")
    if dest.is_dir() and any(dest.iterdir()) and not (dest / MARKER).exists() and not force:
        raise UsageError(
            f"output folder {dest} already holds files tinym2net did not write; "
            "choose an empty or new --out, or pass --force to replace it"
        )


def _pid_running(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale_temporaries(dest: Path) -> list[Path]:
    """Remove ``.<name>.tmp-<pid>-*`` / ``.<name>.old-<pid>-*`` siblings of ``dest`` whose process is gone."""
    removed: list[Path] = []
    if not dest.parent.is_dir():
        return removed
    pattern = re.compile(rf"^\.{re.escape(dest.name)}\.(?:tmp|old)-(\d+)-")
    for entry in dest.parent.iterdir():
        m = pattern.match(entry.name)
        if m and entry.is_dir() and not entry.is_symlink() and not _pid_running(int(m.group(1))):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


@contextlib.contextmanager
def atomic_output_dir(dest: Path, *, force: bool = False) -> Iterator[Path]:
    """Yield a temporary folder; on success it replaces ``dest`` in one rename."""
    dest = Path(dest).resolve()
    check_writable_output(dest, force=force)
    dest.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(dest)
    pid = os.getpid()
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-{pid}-", dir=dest.parent))
    try:
        yield tmp
        (tmp / MARKER).write_text("written by tinym2net; safe to replace\n")
        if dest.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.old-{pid}-", dir=dest.parent))
            os.replace(dest, old / "x")
            os.replace(tmp, dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
