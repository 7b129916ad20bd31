"""The one check for identifiers that become file names (video and segment uids).

Annotation files name videos and segments by uid, and the package turns each uid into a path: `<video_dir>/<uid>.mp4`,
`<features_dir>/<uid>.safetensors`, `segments/<sid>.npy`, `<output_dir>/<uid>.json`. A uid that is not a plain file
name would read or write outside those folders (`../../x/evil`, `/etc/passwd`, `C:evil`) or fail deep inside the
operating system (a NUL byte). [`validate_uid`] admits only names that are one plain file name on both POSIX and
Windows; every uid that becomes a path goes through it.
"""

import os
import unicodedata
from typing import Any


MAX_UID_BYTES = 200
"""Longest accepted uid in UTF-8 bytes: file systems allow 255 per name, and the suffixes and temporary names that the
package appends to a uid need the rest."""

# Characters Windows does not allow in file names (besides the separators and control characters checked apart).
_WINDOWS_RESERVED_CHARACTERS = frozenset('<>:"|?*')
# Device names that Windows reserves with any extension (`CON.mp4` opens the console), compared case-insensitively.
_WINDOWS_RESERVED_NAMES = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"{device}{digit}" for device in ("COM", "LPT") for digit in (*"123456789", "¹", "²", "³")]
)
_SHOWN_CHARACTERS = 60


class InvalidUidError(ValueError):
    """Raised by [`validate_uid`] for an identifier that is not a plain file name.

    Attributes:
        reason: the problem without the file name, e.g. `"vid '../x' is not a plain file name: it contains '/'"`.
    """

    def __init__(self, reason: str, source: str | os.PathLike | None = None):
        self.reason = reason
        super().__init__(reason if source is None else f"{os.fspath(source)}: {reason}")


def short_repr(value: Any) -> str:
    """A short one-line description of any value, safe for error messages.

    `repr` of an annotation value can itself fail or be huge: an integer of 50,000 digits raises `ValueError`, a
    list nested 100,000 deep raises `RecursionError`, a caption can be megabytes long. Strings are cut to 60
    characters, large integers are described by their size and containers by their type and length.
    """
    if value is None or isinstance(value, (bool, float)):
        return repr(value)
    if isinstance(value, int):
        return repr(value) if -(10**30) < value < 10**30 else f"an integer of {value.bit_length()} bits"
    if isinstance(value, (str, bytes)):
        if len(value) <= _SHOWN_CHARACTERS:
            return repr(value)
        return f"{value[:_SHOWN_CHARACTERS]!r}... ({len(value)} characters)"
    if isinstance(value, (list, tuple, dict, set, frozenset)):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"a {type(value).__name__}"


def _problem(value: Any) -> str | None:
    """Why `value` is not a plain file name, or `None` when it is one."""
    if not isinstance(value, str):
        return f"it must be a string, got {type(value).__name__}"
    if not value:
        return "it is empty"
    if not value.strip():
        return "it is only white space"
    for character in value:
        if character in "/\\":
            return f"it contains the path separator {character!r}"
        category = unicodedata.category(character)
        if category == "Cc":
            return f"it contains the control character {character!r}"
        if category == "Cs":
            return f"it contains the lone surrogate {character!r}, which is not valid Unicode text"
        if character in _WINDOWS_RESERVED_CHARACTERS:
            return f"it contains {character!r}, which Windows does not allow in file names"
    if value in (".", ".."):
        return f"{value!r} names a directory"
    if value != value.strip():
        return "it starts or ends with white space"
    if value.endswith("."):
        return "it ends with '.', which Windows drops from file names"
    if value.split(".", 1)[0].rstrip(" ").upper() in _WINDOWS_RESERVED_NAMES:
        return "it is a device name that Windows reserves"
    if len(value.encode("utf-8")) > MAX_UID_BYTES:
        return f"it is longer than {MAX_UID_BYTES} bytes"
    return None


def validate_uid(value: Any, field: str, source: str | os.PathLike | None = None) -> str:
    """Return `value` if it can be used as one plain file name, else raise [`InvalidUidError`].

    A plain file name is a non-empty string of at most [`MAX_UID_BYTES`] UTF-8 bytes without path separators (`/`,
    `\\`), control characters (NUL, newline, ...), lone surrogates or the characters `<>:"|?*`, that is not `.` or
    `..`, does not start or end with white space, does not end with `.`, and is not a device name Windows reserves
    (`CON`, `NUL`, `COM1`, ... with any extension). So it can never be absolute, climb out of its folder or name a
    different file on another operating system.

    Args:
        value: the identifier read from an annotation file (a video or segment uid).
        field: its field name, used in the message (e.g. `"vid"`, `"sids[3]"`).
        source: the file it was read from, put first in the message; `None` to leave it out.

    Returns:
        `value`, unchanged.

    Raises:
        InvalidUidError: a one-line message such as `"clips_train.pkl: vid '../x' is not a plain file name: it
            contains the path separator '/'"`.
    """
    problem = _problem(value)
    if problem is not None:
        raise InvalidUidError(f"{field} {short_repr(value)} is not a plain file name: {problem}", source)
    return value


__all__ = ["MAX_UID_BYTES", "InvalidUidError", "short_repr", "validate_uid"]
