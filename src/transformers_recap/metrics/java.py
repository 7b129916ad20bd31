# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""Locating the Java runtime and the jars that pycocoevalcap ships (Meteor 1.5, Stanford PTB tokenizer)."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path


JAVA_INSTALL_HINT = "install a Java runtime, e.g. `apt-get install -y openjdk-17-jre-headless`"


class JavaNotFoundError(RuntimeError):
    """Raised when a scorer needs Java and no `java` executable can be found."""


def find_java() -> str:
    """Returns the path of the `java` executable (from `PATH`, else `$JAVA_HOME/bin/java`)."""
    java = shutil.which("java")
    if java is None and os.environ.get("JAVA_HOME"):
        java = shutil.which("java", path=str(Path(os.environ["JAVA_HOME"]) / "bin"))
    if java is None:
        raise JavaNotFoundError(
            f"METEOR and PTB tokenisation need Java but `java` was not found: {JAVA_INSTALL_HINT}."
        )
    return java


def pycocoevalcap_file(*parts: str) -> Path:
    """Returns a file shipped inside the installed `pycocoevalcap` package, e.g. `("meteor", "meteor-1.5.jar")`."""
    spec = importlib.util.find_spec("pycocoevalcap")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "The caption metrics need the jars shipped by pycocoevalcap: `pip install pycocoevalcap>=1.2`."
        )
    for location in spec.submodule_search_locations:
        path = Path(location).joinpath(*parts)
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"{'/'.join(parts)} is missing from pycocoevalcap: reinstall it with `pip install pycocoevalcap`."
    )


__all__ = ["JAVA_INSTALL_HINT", "JavaNotFoundError", "find_java", "pycocoevalcap_file"]
