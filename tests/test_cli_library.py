"""A video library across processes: `caption --output-dir` shards under torchrun or --shard, resuming, `merge`."""

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.video_fixtures import save_tiny_model, write_video
from transformers_recap import cli
from transformers_recap.engine.library import assign_shards, shard_file_name


SECONDS = (10, 3, 21.5, 1, 6, 14, 2, 9)
OPTIONS = ["--segment-seconds", "8", "--batch-size", "2", "--dtype", "float32", "--device", "cpu", "--no-progress"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    folder = tmp_path_factory.mktemp("library")
    for index, seconds in enumerate(SECONDS):
        write_video(folder / f"{index}.mp4", int(seconds * 24), 24)
    (folder / "broken.mp4").write_text("not a video")
    return folder


@pytest.fixture(scope="module")
def reference(model_dir, library, tmp_path_factory):
    """One process, one results file, one video at a time (the pipeline per video): the existing batch mode."""
    output = tmp_path_factory.mktemp("reference") / "results.jsonl"
    assert cli.main(["caption", str(library), "--model", str(model_dir), "--output", str(output), *OPTIONS]) == 1
    return output.read_text()


def caption(*args) -> int:
    return cli.main(["caption", *map(str, args), *OPTIONS])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def torchrun(library: Path, model_dir: Path, output_dir: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", "2"]
    command += ["--master-addr", "127.0.0.1", "--master-port", str(free_port())]
    command += ["-m", "transformers_recap.cli", "caption", str(library), "--model", str(model_dir)]
    command += ["--output-dir", str(output_dir), *OPTIONS]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(cli.__file__).parents[1]), env.get("PYTHONPATH", "")])
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def keys(path: Path) -> list[str]:
    return [json.loads(line)["video"] for line in lines(path)]


def test_two_torchrun_processes_give_the_single_process_results_line_for_line(
    model_dir, library, reference, tmp_path, capsys
):
    output_dir = tmp_path / "results"
    process = torchrun(library, model_dir, output_dir)
    log = process.communicate(timeout=300)[0]
    # Exit status 1: broken.mp4 failed (recorded, as in the reference).
    assert process.returncode == 1, log
    assert "shard 0 of 2" in log and "shard 1 of 2" in log
    shards = [output_dir / shard_file_name(index, 2) for index in range(2)]
    # Balanced by duration, longest first to the shorter shard: 21.5 + 9 + 2 + 1 = 33.5 s and 14 + 10 + 6 + 3 = 33 s
    # (+ the unreadable video, 0 s).
    names = [sorted(Path(key).name for key in keys(shard)) for shard in shards]
    assert names == [["2.mp4", "3.mp4", "6.mp4", "7.mp4"], ["0.mp4", "1.mp4", "4.mp4", "5.mp4", "broken.mp4"]]
    merged = tmp_path / "all.jsonl"
    assert cli.main(["merge", str(output_dir), "-o", str(merged)]) == 0
    assert merged.read_text() == reference
    assert "merged 9 videos from 2 shard files" in capsys.readouterr().err


def test_a_killed_process_resumes_its_shard_and_nothing_is_lost_or_captioned_twice(
    model_dir, library, reference, tmp_path, capsys
):
    output_dir = tmp_path / "results"
    process = torchrun(library, model_dir, output_dir)
    killed_shard = output_dir / shard_file_name(1, 2)
    deadline = time.monotonic() + 300
    killed = None
    try:
        while process.poll() is None and time.monotonic() < deadline:
            lock = Path(f"{killed_shard}.lock")
            if len(lines(killed_shard)) >= 1 and lock.exists():
                pid = lock.read_text().strip()
                if pid.isdigit():
                    os.kill(int(pid), signal.SIGKILL)
                    killed = len(lines(killed_shard))
                    break
            time.sleep(0.005)
    finally:
        # torchrun stops the other process when one dies.
        process.communicate(timeout=120)
    assert killed is not None and process.returncode != 0
    before = {index: keys(output_dir / shard_file_name(index, 2)) for index in range(2)}
    assert 1 <= len(before[1]) < 5

    # Each shard on its own (as a Slurm array task would): shard 1 finishes what the kill left, shard 0 too.
    assert caption(library, "--model", model_dir, "--output-dir", output_dir, "--shard", "1/2") == 1
    assert caption(library, "--model", model_dir, "--output-dir", output_dir, "--shard", "0/2") in (0, 1)
    after = {index: keys(output_dir / shard_file_name(index, 2)) for index in range(2)}
    for index in range(2):
        # What was written stays, in place; each video is recorded once.
        assert after[index][: len(before[index])] == before[index]
        assert len(set(after[index])) == len(after[index])
    assert sorted(Path(key).name for key in after[0] + after[1]) == sorted(
        [f"{index}.mp4" for index in range(len(SECONDS))] + ["broken.mp4"]
    )
    captioned_again = capsys.readouterr().err
    assert f"{len(before[1])} already done" in captioned_again

    merged = tmp_path / "all.jsonl"
    assert cli.main(["merge", str(output_dir), "-o", str(merged)]) == 0
    assert merged.read_text() == reference

    # A third run captions nothing; neither does one with another process count (the records are found anywhere).
    assert caption(library, "--model", model_dir, "--output-dir", output_dir, "--shard", "0/2") in (0, 1)
    assert caption(library, "--model", model_dir, "--output-dir", output_dir, "--shard", "0/3") == 0
    assert ": 0 captioned, 0 failed" in capsys.readouterr().err
    assert not lines(output_dir / shard_file_name(0, 3))


# ---------------------------------------------------------------------------------------------------------------------
# Sharding and merging
# ---------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_shards_are_balanced_within_graham_s_bound_of_the_best(seed):
    import random

    rng = random.Random(seed)
    durations = [rng.choice([None, rng.uniform(1, 3600)]) for _ in range(8)]
    for count in (1, 2, 3):
        shards = assign_shards(durations, count)
        assert shards == assign_shards(list(durations), count) and set(shards) <= set(range(count))
        seconds = [duration or 0.0 for duration in durations]
        splits = itertools.product(range(count), repeat=len(seconds))
        best = min(longest_shard(seconds, split, count) for split in splits)
        # Longest-first greedy: at most 4/3 - 1/(3 * count) of the best split (Graham, 1969).
        assert longest_shard(seconds, shards, count) <= (4 / 3 - 1 / (3 * count)) * best + 1e-6


def longest_shard(seconds, assignment, count) -> float:
    return max(
        sum(s for s, shard in zip(seconds, assignment, strict=True) if shard == index) for index in range(count)
    )


def record(path: str, **fields) -> str:
    return json.dumps({"video": path, "video_bytes": 1, "video_mtime_ns": 2, **fields}) + "\n"


def test_merge_dedupes_prefers_captions_follows_the_input_order_and_reports_missing(tmp_path, capsys):
    results = tmp_path / "results"
    results.mkdir()
    (results / "videos.jsonl").write_text(
        "".join(record(name, duration=1.0, shard=0) for name in ("/v/b", "/v/a", "/v/c", "/v/missing"))
    )
    (results / shard_file_name(0, 2)).write_text(record("/v/a", error="corrupt") + record("/v/c", summary="c"))
    (results / shard_file_name(1, 2)).write_text(
        record("/v/b", summary="b") + record("/v/a", summary="a") + record("/v/old", summary="o") + '{"video": "/v/t'
    )
    (results / "notes.jsonl").write_text("not a shard\n")
    merged = tmp_path / "all.jsonl"
    # Exit status 1: a listed video has no record yet.
    assert cli.main(["merge", str(results), "-o", str(merged)]) == 1
    assert merged.read_text() == (
        record("/v/b", summary="b")
        + record("/v/a", summary="a")
        + record("/v/c", summary="c")
        + record("/v/old", summary="o")
    )
    err = capsys.readouterr().err
    assert "merged 4 videos from 2 shard files" in err and "1 duplicate records left out" in err
    assert "1 listed videos have no record yet" in err


@pytest.mark.parametrize(
    ("make", "arguments", "message"),
    [
        (lambda d: None, ["merge", "{d}/nothing", "-o", "{d}/all.jsonl"], "nothing: no such directory"),
        (lambda d: (d / "empty").mkdir(), ["merge", "{d}/empty", "-o", "{d}/all.jsonl"], "no shard files"),
        (
            lambda d: (
                (d / "r").mkdir(),
                (d / "r" / shard_file_name(0, 1)).write_text(record("/v/a")),
                (d / "notes.txt").write_text("my notes\n"),
            ),
            ["merge", "{d}/r", "-o", "{d}/notes.txt"],
            "notes.txt: exists and is not a results file",
        ),
        (lambda d: None, ["merge", "{d}", "-o", "{d}/shard-00000-of-00001.jsonl"], "is the name of a file"),
        (lambda d: None, ["caption", "{d}", "--model", "m", "--shard", "0/2"], "--shard needs --output-dir"),
        (
            lambda d: None,
            ["caption", "{d}", "--model", "m", "--output-dir", "{d}/r", "--output", "{d}/a.jsonl"],
            "not both",
        ),
        (
            lambda d: write_video(d / "one.mp4", 24, 24),
            ["caption", "{d}/one.mp4", "--model", "m", "--output-dir", "{d}/r"],
            "--output-dir captions a directory or a .txt list of videos",
        ),
        (
            lambda d: (d / "file").write_text("x"),
            ["caption", "{d}", "--model", "m", "--output-dir", "{d}/file"],
            "file: is a file; --output-dir names a directory",
        ),
        (
            lambda d: (d / "a.mp4").write_text("x"),
            ["caption", "{d}", "--model", "m", "--output-dir", "{d}/r", "--shard", "2/2"],
            "--shard 2/2: expected INDEX/COUNT with 0 <= INDEX < COUNT",
        ),
    ],
    ids=[
        "no directory",
        "no shards",
        "-o not results",
        "-o a shard name",
        "--shard alone",
        "both outputs",
        "one video",
        "--output-dir a file",
        "bad --shard",
    ],
)
def test_library_mistakes_fail_with_one_line(tmp_path, capsys, make, arguments, message):
    make(tmp_path)
    assert cli.main([argument.format(d=tmp_path) for argument in arguments]) == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and error[0].startswith("transformers-recap: error: ") and message in error[0], error


def test_a_multi_process_launch_without_output_dir_is_refused(library, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert cli.main(["caption", str(library), "--model", "m", "--output", str(tmp_path / "r.jsonl")]) == 1
    assert "launched as 2 processes" in capsys.readouterr().err and not (tmp_path / "r.jsonl").exists()
