# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
Results files of batch captioning: JSON lines, one record per finished video, that a killed run never leaves half
written and a rerun never duplicates.

- A video is identified by its [`VideoKey`]: the resolved path (`os.path.realpath`: the same from any working
  directory, through any symbolic link or spelling) with the file's size and modification time, so that a video
  replaced by another file is captioned again. Each record starts with the key's fields (`"video"`, `"video_bytes"`,
  `"video_mtime_ns"`), then either the captions or `"error"`.
- A record is appended with one `write` on an `O_APPEND` descriptor and synced, so a line is either whole or, after a
  kill, the torn last line, which the next writer removes.
- One process writes a results file at a time: [`ResultsFile`] holds an exclusive `flock` on `<results>.lock` (holding
  the writer's pid, [`WriterLock`]) while it is open; a second writer is refused at once with [`ResultsLockedError`].

Only the standard library is used (fcntl: POSIX systems).
"""

import fcntl
import json
import os
import socket
from collections.abc import Iterable
from typing import Any, NamedTuple


class ResultsFileError(Exception):
    """A results file that cannot be used. `str(error)` is one line naming the file."""


class ResultsLockedError(ResultsFileError):
    """A results file that another process is writing."""

    def __init__(self, path: str, pid: int | None):
        self.path = path
        self.pid = pid
        super().__init__(f"{path} is being written by another process (pid {pid if pid is not None else 'unknown'})")


class VideoKey(NamedTuple):
    """What identifies a video in a results file: its resolved path, size and modification time (`None` if missing)."""

    path: str
    size: int | None
    mtime_ns: int | None

    def to_record(self) -> dict[str, Any]:
        """The fields a record starts with."""
        return {"video": self.path, "video_bytes": self.size, "video_mtime_ns": self.mtime_ns}

    @classmethod
    def from_record(cls, record: Any) -> "VideoKey | None":
        """The key of a record (`None` for a line that is not a record)."""
        if not isinstance(record, dict) or not isinstance(record.get("video"), str):
            return None
        return cls(record["video"], record.get("video_bytes"), record.get("video_mtime_ns"))


def video_key(path: str | os.PathLike) -> VideoKey:
    """The [`VideoKey`] of a video file as it is now (size and time `None` when it cannot be read)."""
    resolved = os.path.realpath(path)
    try:
        stat = os.stat(resolved)
    except (OSError, ValueError):
        return VideoKey(resolved, None, None)
    return VideoKey(resolved, stat.st_size, stat.st_mtime_ns)


def read_records(path: str | os.PathLike) -> tuple[list[dict[str, Any]], int]:
    """
    The records of a results file and the number of bytes of its complete lines (a last line without its newline,
    torn by a kill, is not counted). A missing file has none.

    Raises:
        [`ResultsFileError`]: the file is not a results file: its lines hold no record, or what follows its last
            newline is not the start of one.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as file:
            data = file.read()
    except FileNotFoundError:
        return [], 0
    except OSError as error:
        raise ResultsFileError(f"{path}: cannot be read ({error.strerror or error})") from None
    complete = data[: data.rfind(b"\n") + 1]
    records = []
    for line in complete.splitlines():
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        if VideoKey.from_record(record) is not None:
            records.append(record)
    torn = data[len(complete) :]
    if (complete.strip() and not records) or (torn.strip() and not torn.lstrip().startswith(b"{")):
        raise ResultsFileError(
            f'{path}: exists and is not a results file (JSON lines with a "video" key); it was left untouched'
        )
    return records, len(complete)


def write_atomically(path: str | os.PathLike, text: str) -> None:
    """Writes a whole file through a synced temporary file and a rename, so a kill never leaves half a file."""
    target = os.path.abspath(path)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    # Named by host and process: the processes of a multi-machine run may share the directory.
    temporary = f"{target}.tmp-{socket.gethostname()}-{os.getpid()}"
    try:
        with open(temporary, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def _record_line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False) + "\n"


def append_line(path: str | os.PathLike, record: dict[str, Any]) -> None:
    """Appends `record` as one JSON line with a single `write` on an `O_APPEND` descriptor, then syncs it to disk."""
    data = _record_line(record).encode("utf-8")
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        written = os.write(descriptor, data)
        while written < len(data):
            written += os.write(descriptor, data[written:])
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def drop_torn_line(path: str | os.PathLike) -> None:
    """Removes a last line without its newline (cut short by a kill), so the next append starts on a fresh line."""
    with open(path, "r+b") as file:
        data = file.read()
        complete = data.rfind(b"\n") + 1
        if complete < len(data):
            file.truncate(complete)


class WriterLock:
    """
    The one-writer lock of an append-only file: an exclusive `flock` on `<path>.lock`, which holds the writer's pid,
    taken on entering and released (the lock file removed) on exit. [`ResultsFile`] takes it; so does anything else
    that appends to such a file (the `--follow` event log).

    Raises (on entering):
        [`ResultsLockedError`]: another process holds the lock.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        self.lock_path = f"{self.path}.lock"
        self._lock_descriptor: int | None = None

    def __enter__(self) -> "WriterLock":
        self._lock()
        return self

    def __exit__(self, *exc_info) -> None:
        self._unlock()

    def _lock(self) -> None:
        while True:
            descriptor = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                with os.fdopen(descriptor, "rb") as file:
                    text = file.read().decode("ascii", "replace").strip()
                raise ResultsLockedError(self.path, int(text) if text.isdigit() else None) from None
            # The holder before us may have removed the lock file after we opened it: lock the file now at the path.
            try:
                same = os.path.samestat(os.fstat(descriptor), os.stat(self.lock_path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(descriptor)
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{os.getpid()}\n".encode("ascii"))
        self._lock_descriptor = descriptor

    def _unlock(self) -> None:
        if self._lock_descriptor is None:
            return
        # Removed while still locked, so that no other process can lock this file once it is gone from the path.
        try:
            os.remove(self.lock_path)
        except FileNotFoundError:
            pass
        os.close(self._lock_descriptor)
        self._lock_descriptor = None


class ResultsFile:
    r"""
    A results file opened for writing by this process: a context manager that takes the lock, drops a torn last line
    and reads the finished records; released on exit.

    Args:
        path (`str` or `os.PathLike`): the JSON-lines file (created, with its directory, on the first append).

    Raises (on entering):
        [`ResultsLockedError`]: another process holds the lock.
        [`ResultsFileError`]: the file is not a results file or cannot be written.

    Example:

    ```python
    >>> with ResultsFile("results.jsonl") as results:
    ...     key = video_key("a.mp4")
    ...     if key not in results.finished:
    ...         results.append({**key.to_record(), "summary": "..."})
    ```
    """

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        self.finished: dict[VideoKey, dict[str, Any]] = {}
        self._writer = WriterLock(self.path)

    def __enter__(self) -> "ResultsFile":
        if os.path.isdir(self.path):
            raise ResultsFileError(f"{self.path}: is a directory; a results file is a .jsonl file")
        try:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            self._writer.__enter__()
        except OSError as error:
            raise ResultsFileError(f"{self.path}: cannot be written ({error.strerror or error})") from None
        try:
            records, complete = read_records(self.path)
            if os.path.exists(self.path) and os.path.getsize(self.path) > complete:
                os.truncate(self.path, complete)
        except BaseException:
            self._writer.__exit__(None, None, None)
            raise
        self.finished = {VideoKey.from_record(record): record for record in records}
        return self

    def __exit__(self, *exc_info) -> None:
        self._writer.__exit__(*exc_info)

    def append(self, record: dict[str, Any]) -> None:
        """Appends one record (starting with its key's fields) with a single synced write."""
        append_line(self.path, record)
        self.finished[VideoKey.from_record(record)] = record

    def drop_errors(self, keys: Iterable[VideoKey]) -> int:
        """
        Removes the error records of `keys` (rewriting the file atomically), so that those videos are pending again;
        returns how many were removed.
        """
        retry = {key for key in keys if "error" in self.finished.get(key, {})}
        if retry:
            records, _ = read_records(self.path)
            kept = [record for record in records if not ("error" in record and VideoKey.from_record(record) in retry)]
            write_atomically(self.path, "".join(map(_record_line, kept)))
            self.finished = {key: record for key, record in self.finished.items() if key not in retry}
        return len(retry)


__all__ = [
    "append_line",
    "drop_torn_line",
    "ResultsFile",
    "ResultsFileError",
    "ResultsLockedError",
    "WriterLock",
    "VideoKey",
    "read_records",
    "video_key",
    "write_atomically",
]
