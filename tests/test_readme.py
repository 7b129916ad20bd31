"""
Every code block of README.md runs as written: the Python blocks are executed (in a fresh directory holding the
`kitchen.mp4` the quick start names, a short synthetic video), and each command of the bash blocks is parsed by the
argument parser of the program it runs (this package's commands and examples, pip, pytest), with the files it names
checked to exist.
"""

import argparse
import importlib.util
import re
import shlex
from pathlib import Path

import pytest

from tests import transformers_suite
from transformers_recap import cli
from transformers_recap.conversion.arguments import add_arguments as add_convert_arguments
from transformers_recap.data.synthetic import plan_synthetic_video, render_synthetic_video


ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
NOT_CODE = {"", "bibtex"}  # the architecture diagram and the citation


def block_params(language: str) -> list:
    return [pytest.param(line, code, id=f"line {line}") for line, code in code_blocks(language)]


def code_blocks(language: str) -> list[tuple[int, str]]:
    """(line number, text) of each fenced block of `language` in the README."""
    text = README.read_text(encoding="utf-8")
    blocks = []
    for match in re.finditer(r"^```(\w*)\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL):
        if match.group(1) == language:
            blocks.append((text.count("\n", 0, match.start()) + 1, match.group(2)))
    return blocks


def commands(block: str) -> list[list[str]]:
    """The commands of a bash block: continuation lines joined, comments dropped, split as the shell splits them."""
    joined = block.replace("\\\n", " ")
    return [words for line in joined.splitlines() if (words := shlex.split(line, comments=True))]


def test_every_block_is_python_bash_or_not_code():
    text = README.read_text(encoding="utf-8")
    languages = set(re.findall(r"^```(\w*)\n", text, flags=re.MULTILINE))
    assert languages <= {"python", "bash"} | NOT_CODE, languages
    assert len(code_blocks("python")) >= 3 and len(code_blocks("bash")) >= 8


# ---------------------------------------------------------------------------------------------------------------------
# Python blocks
# ---------------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("readme")
    # The quick start captions "kitchen.mp4": a 16-s synthetic video in the demo model's layout (4 clips, 1 segment).
    plan = plan_synthetic_video("kitchen", seed=11, clips_per_segment=4, segments_per_video=1)
    render_synthetic_video(directory / "kitchen.mp4", plan, size=64, fps=8)
    return directory


@pytest.mark.parametrize(("line", "code"), block_params("python"))
def test_python_block_runs_as_written(workdir, monkeypatch, capsys, line, code):
    monkeypatch.chdir(workdir)
    exec(compile(code, f"README.md, block at line {line}", "exec"), {"__name__": "__main__"})
    assert capsys.readouterr().out.strip()  # every block prints what it computed


# ---------------------------------------------------------------------------------------------------------------------
# Bash blocks
# ---------------------------------------------------------------------------------------------------------------------


def _example_parser(script: str):
    spec = importlib.util.spec_from_file_location(Path(script).stem, ROOT / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.parse_args


def _convert_parser(arguments: list[str]) -> argparse.Namespace:
    return add_convert_arguments(argparse.ArgumentParser()).parse_args(arguments)


def _pip_arguments(arguments: list[str]):
    from pip._internal.commands import create_command
    from pip._vendor.packaging.requirements import Requirement

    assert arguments[0] == "install", arguments
    options, requirements = create_command("install").parse_args(arguments[1:])
    for requirement in requirements:
        if requirement != ".[dev]":
            Requirement(requirement)
    return options, requirements


def _pytest_arguments(arguments: list[str]) -> None:
    assert arguments[:2] == ["-m", "not slow"] and arguments[2:] == ["tests"]
    assert '"slow:' in (ROOT / "pyproject.toml").read_text() and (ROOT / "tests").is_dir()


def check_command(words: list[str]) -> str:
    """Parses one README command with its program's own parser; returns what ran it."""
    while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
        words = words[1:]  # environment assignments
    if words[:2] == ["accelerate", "launch"] or words[0] == "torchrun":
        # The launcher's own options, up to the script or module it runs.
        start = next(i for i, word in enumerate(words) if word == "-m" or word.endswith(".py"))
        words = ["python", *words[start:]]
    if words[:3] == ["python", "-m", "transformers_recap.cli"]:
        cli.build_parser().parse_args(words[3:])
        return "transformers-recap"
    for word in words:
        if re.fullmatch(r"examples/\S+\.(py|yaml)", word):
            assert (ROOT / word).is_file(), word
    program, arguments = words[0], words[1:]
    if program == "transformers-recap":
        cli.build_parser().parse_args(arguments)
        return "transformers-recap"
    if program == "pip":
        _pip_arguments(arguments)
        return "pip"
    if program == "python" and arguments[:2] == ["-m", "transformers_recap.convert_original_checkpoint"]:
        _convert_parser(arguments[2:])
        return "convert"
    if program == "python" and arguments[:2] == ["-m", "pytest"]:
        _pytest_arguments(arguments[2:])
        return "pytest"
    if program == "python" and arguments[:2] == ["-m", "tests.transformers_suite"]:
        transformers_suite.build_parser().parse_args(arguments[2:])
        return "transformers-suite"
    if program == "python" and arguments[0].startswith("examples/"):
        _example_parser(arguments[0])(arguments[1:])
        return arguments[0]
    raise AssertionError(f"no check for the README command {' '.join(words)!r}")


@pytest.mark.parametrize(("line", "block"), block_params("bash"))
def test_bash_block_commands_parse(line, block):
    ran = [check_command(words) for words in commands(block)]
    assert ran, f"the bash block at line {line} has no command"


def test_install_routes_pin_the_builds_ci_installs():
    ci = (ROOT / ".ci" / "run").read_text()
    pins = sorted(re.findall(r"\b(torch(?:vision)?==[\w.]+)", ci))
    routes = [
        words for _, block in code_blocks("bash") for words in commands(block) if words[:2] == ["pip", "install"]
    ]
    torch_routes = [words for words in routes if any(word.startswith("torch==") for word in words)]
    assert len(torch_routes) == 2 and pins
    for words in torch_routes:
        assert sorted(word for word in words if word.startswith("torch")) == pins
    options, _ = _pip_arguments(torch_routes[1][1:])
    assert options.index_url == "https://download.pytorch.org/whl/cpu"  # the CPU-only builds
