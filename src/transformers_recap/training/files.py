# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""Durable file writes for the batch jobs of training: a kill or a crash never leaves half a file under its name."""

import os
from pathlib import Path


TEMPORARY_SUFFIX = ".tmp"
"""Temporary files are `.<name>.<pid>.tmp` next to their target; a later run deletes leftovers (see `remove_leftovers`)."""


def fsync_directory(directory: str | os.PathLike) -> None:
    """Makes the entries of `directory` (new and renamed files) durable; a no-op where directories cannot be opened."""
    if os.name != "posix":
        return
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_atomically(path: str | os.PathLike, data: bytes | str) -> None:
    """
    Writes `data` to a temporary file next to `path`, flushes it to disk, renames it over `path` and syncs the
    directory: readers see the old file or the whole new one, never a partial one.
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}{TEMPORARY_SUFFIX}")
    with open(temporary, "wb") as file:
        file.write(data.encode("utf-8") if isinstance(data, str) else data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    fsync_directory(path.parent)


def remove_leftovers(directory: str | os.PathLike) -> list[Path]:
    """
    Deletes the temporary files of [`write_atomically`] that a killed run left in `directory` (never taken for
    finished files, which are only ever renamed into place). Call it before any process of a new run writes there.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return []
    leftovers = [path for path in directory.glob(f".*{TEMPORARY_SUFFIX}") if path.is_file()]
    for path in leftovers:
        path.unlink()
    return leftovers


__all__ = ["TEMPORARY_SUFFIX", "fsync_directory", "remove_leftovers", "write_atomically"]
