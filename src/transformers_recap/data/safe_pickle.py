"""Reading annotation pickles without executing anything they contain and without unbounded expansion.

The Ego4D-HCap annotations are distributed as `.pkl` files holding plain Python data (lists, tuples, dicts, strings and
numbers). Pickle can also rebuild arbitrary objects by importing and calling globals, which runs code chosen by whoever
wrote the file. [`load_plain_pickle`] uses an unpickler that refuses every global, so only the opcodes for built-in
containers and scalars can succeed.

Plain data can still be hostile: a pickle stores an object once and refers to it again with a two-byte memo reference,
so a 12 kB file can hold a list that names one 10 kB caption 25,000 times, and every consumer that walks the data (the
`datasets` Arrow writer among them) expands each reference again. [`load_plain_pickle`] therefore measures the data
as a tree, every reference counted in full, and refuses files whose tree is more than [`MAX_PICKLE_EXPANSION`] times
larger than the file (see [`expanded_size`] for the unit).
"""

import io
import itertools
import os
import pickle
import sys
from typing import Any


MAX_PICKLE_EXPANSION = 64
"""Largest accepted ratio of [`expanded_size`] to the file size in bytes (plus [`PICKLE_EXPANSION_ALLOWANCE`]).

Without shared references the ratio is at most about 1 (every object costs at least one opcode byte and every
character at least one UTF-8 byte); ids shared between records raise it to a few. 64 leaves ample room for those and
stops files built from repeated references."""

PICKLE_EXPANSION_ALLOWANCE = 1 << 20
"""Expanded units always allowed on top of the ratio, so that tiny files with a few shared strings pass."""

_CONTAINERS = (list, tuple, dict, set, frozenset)


class UnsafePickleError(ValueError):
    """Raised when a pickle asks for anything other than plain data (a global, a persistent id)."""


class PickleExpansionError(UnsafePickleError):
    """Raised when a pickle's data, with every shared reference expanded, is far larger than the file."""


class _Stream:
    """The methods of a binary file that the unpickler reads with, leaving out `readinto`.

    Given `readinto`, the C unpickler fills a `bytearray8` of a declared 2**62 bytes through an exported buffer, and
    CPython then prints "SystemError: deallocated bytearray object has exported buffers" when the allocation fails;
    without it, the same file fails with a plain `MemoryError`, which is reported as one line.
    """

    def __init__(self, file: io.BufferedReader):
        self.read, self.readline, self.peek = file.read, file.readline, file.peek


class _PlainDataUnpickler(pickle.Unpickler):
    """Unpickler that builds only lists, tuples, dicts, sets, str, bytes, int, float, bool and None.

    Those types are made by dedicated opcodes and never go through `find_class`; every other object needs a global
    (a class or a callable), and asking for one raises [`UnsafePickleError`] before anything is imported or called.
    """

    def __init__(self, file: _Stream, source: str):
        super().__init__(file)
        self._source = source

    def find_class(self, module: str, name: str) -> Any:
        raise UnsafePickleError(
            f"{self._source} asks to load the global `{module}.{name}`; only plain data (lists, tuples, dicts, str, "
            "int, float, bool, None) is allowed in annotation pickles, so the file was not loaded and nothing in it "
            "was executed."
        )

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(
            f"{self._source} contains a persistent id ({pid!r}); only plain data is allowed in annotation pickles."
        )


def _children(container: Any) -> Any:
    if type(container) is dict:
        return itertools.chain(container.keys(), container.values())
    return iter(container)


def _unshared_refcount() -> int:
    """`sys.getrefcount` of a container held by exactly one parent, seen from the loop in [`expanded_size`]."""
    for child in _children([[]]):
        return sys.getrefcount(child)
    raise AssertionError("unreachable")


def expanded_size(data: Any, limit: int | None = None) -> int | None:
    """Size of `data` as a tree: every object counts 1 for each time it is referenced, strings and bytes add their length.

    This is what a consumer that walks the data (such as an Arrow writer) has to process: a string referenced 1,000
    times counts 1,000 times. Containers referenced more than once are measured once and their size reused, so the
    time taken is proportional to the number of distinct objects, not to the expanded size. Nesting depth is not
    limited by Python's recursion limit.

    Args:
        data: lists, tuples, dicts, sets, strings, bytes and scalars (anything else counts 1).
        limit: stop measuring as soon as the size exceeds it.

    Returns:
        The size, or `None` when it exceeds `limit` or the data contains itself (a reference cycle, which expands
        without end).
    """
    if type(data) not in _CONTAINERS:
        return 1 + len(data) if isinstance(data, (str, bytes, bytearray)) else 1
    unshared = _unshared_refcount()
    getrefcount = sys.getrefcount
    sizes: dict[int, int] = {}  # expanded size of the containers referenced more than once, by id
    open_ids = {id(data)}  # shared containers being measured: meeting one again is a cycle
    total = 1
    # Each entry: (iterator over a container's children, its id when it is shared else None, total before it)
    stack: list[tuple[Any, int | None, int]] = [(_children(data), id(data), 0)]
    while stack:
        children, key, before = stack[-1]
        for child in children:
            kind = type(child)
            if kind is str or kind is bytes or kind is bytearray:
                total += 1 + len(child)
                continue
            if kind not in _CONTAINERS:
                total += 1
                continue
            if getrefcount(child) <= unshared:
                # Held by this parent only: met once, so it needs no bookkeeping (the refcount only saves time and
                # memory; a shared container taken for an unshared one is measured at each reference, still right).
                if kind is not dict:
                    # Fast path for the common flat record (a tuple of strings and numbers).
                    flat = 1
                    for item in child:
                        item_kind = type(item)
                        if item_kind is str or item_kind is bytes or item_kind is bytearray:
                            flat += 1 + len(item)
                        elif item_kind in _CONTAINERS:
                            break
                        else:
                            flat += 1
                    else:
                        total += flat
                        continue
                stack.append((_children(child), None, total))
                total += 1
                break
            child_id = id(child)
            known = sizes.get(child_id)
            if known is not None:
                total += known
                if limit is not None and total > limit:
                    return None
                continue
            if child_id in open_ids:
                return None
            open_ids.add(child_id)
            stack.append((_children(child), child_id, total))
            total += 1
            break
        else:
            stack.pop()
            if key is not None:
                sizes[key] = total - before
                open_ids.discard(key)
        if limit is not None and total > limit:
            return None
    return total


def load_plain_pickle(path: str | os.PathLike, max_expansion: float | None = MAX_PICKLE_EXPANSION) -> Any:
    """Load a pickle file that may contain only plain data.

    Args:
        path: the `.pkl` file.
        max_expansion: refuse the file when its [`expanded_size`] exceeds `max_expansion` times the file size in
            bytes plus [`PICKLE_EXPANSION_ALLOWANCE`]; `None` accepts any expansion (trusted files only).

    Returns:
        The unpickled lists, tuples, dicts, strings and numbers.

    Raises:
        UnsafePickleError: the file references a global (class, function) or a persistent id; nothing was executed.
        PickleExpansionError: the data expands far beyond the file size (repeated references) or contains itself.
        ValueError: the file is not a readable pickle.
    """
    source = os.fspath(path)
    with open(source, "rb") as file:
        file_size = os.fstat(file.fileno()).st_size
        unpickler = _PlainDataUnpickler(_Stream(file), source)
        try:
            data = unpickler.load()
        except UnsafePickleError:
            raise
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError) as err:
            raise ValueError(f"{source} is not a readable pickle file: {err}") from None
        except OverflowError as err:  # a length field beyond the address space
            raise ValueError(f"{source} is not a readable pickle file: {err}") from None
        except MemoryError:  # a length field beyond the memory available (`BINUNICODE8` of 2**62 bytes)
            raise ValueError(
                f"{source} is not a readable pickle file: it declares an object larger than the memory available "
                f"(the file has {file_size:,} bytes)"
            ) from None
        finally:
            del unpickler  # its memo holds a reference to every object, which `expanded_size` counts
    if max_expansion is not None:
        limit = int(max_expansion * file_size) + PICKLE_EXPANSION_ALLOWANCE
        if expanded_size(data, limit) is None:
            raise PickleExpansionError(
                f"{source} expands to more than {limit:,} units of data from {file_size:,} bytes (the limit is "
                f"{max_expansion:g} per byte plus {PICKLE_EXPANSION_ALLOWANCE:,}): it repeats shared references or "
                "contains itself, so it was refused."
            )
    return data


__all__ = [
    "MAX_PICKLE_EXPANSION",
    "PICKLE_EXPANSION_ALLOWANCE",
    "PickleExpansionError",
    "UnsafePickleError",
    "expanded_size",
    "load_plain_pickle",
]
