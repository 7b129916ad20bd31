"""
transformers' own common test suites (`ModelTesterMixin`, `ConfigTester`, ...), imported from the source distribution
of the installed transformers version, which ships them in `tests/`.

The sdist is fetched once from the package index into `~/.cache/transformers-recap/` (or `$TRANSFORMERS_TESTS_DIR`
names an unpacked `tests/` folder):

    python -m tests.transformers_suite --fetch

The sdist's `tests/` lacks a few helper modules the suites import (`tests/generation/`, `tests/exporters/`,
`tests/utils/`, `utils/fetch_hub_objects_for_ci.py`). Stand-ins are registered for them here, written for this
project and empty where they would hold tests: the generation and export mixins of those folders do not run (our
generation is tested against a step-by-step reference in `test_modeling_video_recap.py`), and hub objects are never
fetched. Nothing of the suites themselves is copied: they are imported, as package `transformers_sdist_tests`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
import tarfile
import tempfile
import types
from pathlib import Path

import transformers


PACKAGE = "transformers_sdist_tests"
CACHE_DIR = Path.home() / ".cache" / "transformers-recap"

CONFIG_COMMON_KWARGS = {
    "return_dict": False,
    "output_hidden_states": True,
    "output_attentions": True,
    "dtype": "float16",
    "chunk_size_feed_forward": 5,
    "tie_word_embeddings": False,
    "is_encoder_decoder": True,
    "problem_type": "regression",
    "id2label": {0: "label"},
    "label2id": {"label": "0"},
}
"""Generic `PreTrainedConfig` keywords for `ConfigTester.check_config_arguments_init` (our choice of values: the
suite's own table lives in `tests/utils/`, which the sdist does not ship)."""


def tests_dir() -> Path:
    """The unpacked `tests/` folder of the installed transformers version (it may not exist yet)."""
    if os.environ.get("TRANSFORMERS_TESTS_DIR"):
        return Path(os.environ["TRANSFORMERS_TESTS_DIR"])
    return CACHE_DIR / f"transformers-{transformers.__version__}" / "tests"


def fetch() -> Path:
    """Downloads the sdist of the installed transformers version with pip and unpacks its `tests/` folder."""
    target = tests_dir()
    if (target / "test_modeling_common.py").is_file() and (target / "__init__.py").is_file():
        return target
    version = transformers.__version__
    with tempfile.TemporaryDirectory() as download_dir:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                ":all:",
                f"transformers=={version}",
                "--dest",
                download_dir,
            ],
            check=True,
        )
        archive = Path(download_dir) / f"transformers-{version}.tar.gz"
        prefix = f"transformers-{version}/tests/"
        with tarfile.open(archive) as sdist:
            members = [member for member in sdist.getmembers() if member.name.startswith(prefix)]
            sdist.extractall(target.parent.parent, members=members, filter="data")
    # `ConfigTester`'s module runs `direct_transformers_import(Path(__file__).parent)`, which executes the folder's
    # `__init__.py`; transformers' repository has an empty one there, its sdist none.
    (target / "__init__.py").touch()
    return target


def _stand_in(name: str, **attributes) -> None:
    module = types.ModuleType(name)
    module.__dict__.update(attributes)
    sys.modules.setdefault(name, module)


def load() -> types.ModuleType | None:
    """
    Imports the sdist's `tests/` as package `transformers_sdist_tests` and returns it, or `None` when it is not
    there (fetch it first).
    """
    if PACKAGE in sys.modules:
        return sys.modules[PACKAGE]
    directory = tests_dir()
    if not (directory / "test_modeling_common.py").is_file() or not (directory / "__init__.py").is_file():
        return None
    package = types.ModuleType(PACKAGE)
    package.__path__ = [str(directory)]
    sys.modules[PACKAGE] = package
    for folder in ("exporters", "generation", "utils"):
        _stand_in(f"{PACKAGE}.{folder}", __path__=[])
    _stand_in(f"{PACKAGE}.exporters.test_export", ExportTesterMixin=type("ExportTesterMixin", (), {}))
    _stand_in(f"{PACKAGE}.generation.test_utils", GenerationTesterMixin=type("GenerationTesterMixin", (), {}))
    _stand_in(f"{PACKAGE}.utils.test_configuration_utils", config_common_kwargs=CONFIG_COMMON_KWARGS)
    _stand_in("fetch_hub_objects_for_ci", url_to_local_path=lambda url, **kwargs: url)
    return package


def import_suite(name: str) -> types.ModuleType:
    """`transformers_sdist_tests.<name>`, after [`load`]."""
    return importlib.import_module(f"{PACKAGE}.{name}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.transformers_suite", description=__doc__.split("\n\n")[0])
    parser.add_argument("--fetch", action="store_true", help="download and unpack the sdist's tests/")
    return parser


if __name__ == "__main__":
    if build_parser().parse_args().fetch:
        print(fetch())
