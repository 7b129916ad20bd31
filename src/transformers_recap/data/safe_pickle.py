"""Reading annotation pickles without executing anything they contain.

The Ego4D-HCap annotations are distributed as `.pkl` files holding plain Python data (lists, tuples, dicts, strings and
numbers). Pickle can also rebuild arbitrary objects by importing and calling globals, which runs code chosen by whoever
wrote the file. [`load_plain_pickle`] uses an unpickler that refuses every global, so only the opcodes for built-in
containers and scalars can succeed.
"""

import io
import os
import pickle
from typing import Any


class UnsafePickleError(ValueError):
    """Raised when a pickle asks for anything other than plain data (a global, a persistent id)."""


class _PlainDataUnpickler(pickle.Unpickler):
    """Unpickler that builds only lists, tuples, dicts, sets, str, bytes, int, float, bool and None.

    Those types are made by dedicated opcodes and never go through `find_class`; every other object needs a global
    (a class or a callable), and asking for one raises [`UnsafePickleError`] before anything is imported or called.
    """

    def __init__(self, file: io.BufferedIOBase, source: str):
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


def load_plain_pickle(path: str | os.PathLike) -> Any:
    """Load a pickle file that may contain only plain data.

    Args:
        path: the `.pkl` file.

    Returns:
        The unpickled lists, tuples, dicts, strings and numbers.

    Raises:
        UnsafePickleError: the file references a global (class, function) or a persistent id; nothing was executed.
        ValueError: the file is not a readable pickle.
    """
    source = os.fspath(path)
    with open(source, "rb") as file:
        try:
            return _PlainDataUnpickler(file, source).load()
        except UnsafePickleError:
            raise
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError) as err:
            raise ValueError(f"{source} is not a readable pickle file: {err}") from None


__all__ = ["UnsafePickleError", "load_plain_pickle"]
