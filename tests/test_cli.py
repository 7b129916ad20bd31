"""`transformers-recap caption`: formats, bad inputs, batch mode, and resuming after a kill."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.video_fixtures import (
    save_tiny_model,
    write_audio_only,
    write_frameless_video,
    write_video,
)
from transformers_recap import HierarchicalCaptions, VideoReCapPipeline, cli


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return write_video(tmp_path_factory.mktemp("video") / "clip.mp4", 24 * 10, 24)


def caption(*args) -> int:
    return cli.main(["caption", *map(str, args), "--no-progress"])


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("fmt", ["json", "srt", "vtt", "md", "html"])
def test_single_video_in_every_format(model_dir, video, tmp_path, fmt):
    output = tmp_path / f"out.{fmt}"
    assert caption(video, "--model", model_dir, "--format", fmt, "--output", output, "--segment-seconds", "8") == 0
    text = output.read_text()
    if fmt == "json":
        result = HierarchicalCaptions.from_dict(json.loads(text))
        assert len(result.clips) == 3 and len(result.segments) == 2 and result.summary
    elif fmt == "srt":
        assert text.startswith("1\n00:00:00,000 --> 00:00:08,000\n")
    elif fmt == "vtt":
        assert text.startswith("WEBVTT\n\nNOTE\nSummary: ")
    elif fmt == "html":
        # The page embeds the same captions as the JSON output and plays the video by a path relative to the page.
        data = json.loads(re.search(r"<script type=\"application/json\"[^>]*>(.*?)</script>", text, re.S).group(1))[
            "captions"
        ]
        assert data["summary"] and len(data["clips"]) == 3 and len(data["segments"]) == 2
        assert f'src="{os.path.relpath(video, tmp_path)}"' in text
    else:
        assert text.startswith("# Video summary\n")


def test_single_video_to_stdout_with_options(model_dir, video, capsys):
    assert caption(video, "--model", model_dir, "--levels", "clip", "--clip-seconds", "5", "--batch-size", "1") == 0
    result = json.loads(capsys.readouterr().out)
    assert [(c["start"], c["end"]) for c in result["clips"]] == [(0.0, 5.0), (5.0, 10.0)]
    assert result["segments"] == [] and result["summary"] is None


def test_compile_gives_the_eager_captions(model_dir, video, capsys):
    assert caption(video, "--model", model_dir, "--levels", "clip", "--dtype", "float32") == 0
    eager = json.loads(capsys.readouterr().out)
    assert caption(video, "--model", model_dir, "--levels", "clip", "--dtype", "float32", "--compile") == 0
    assert json.loads(capsys.readouterr().out) == eager


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.mp4", "no such file"),
        (lambda d: (d / "notes.mp4").write_text("hello") and d / "notes.mp4", "not a readable video file"),
        (lambda d: write_frameless_video(d / "empty.mkv"), "zero-length video"),
        (lambda d: write_audio_only(d / "speech.m4a"), "no video stream (audio only)"),
        (lambda d: d / "truncated.mp4", "truncated"),
    ],
)
def test_bad_single_inputs_fail_with_one_line(model_dir, tmp_path, capsys, make, message):
    good = write_video(tmp_path / "good.mp4", 30 * 12, 30, faststart=True)
    (tmp_path / "truncated.mp4").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    path = make(tmp_path)
    assert caption(path, "--model", model_dir) == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert error[-1].startswith(f"transformers-recap: error: {path}") and message in error[-1]
    assert not any("Traceback" in line for line in error)


def test_usage_errors(model_dir, video, tmp_path, capsys):
    assert caption(video, "--model", model_dir, "--levels", "clip,scene") == 1
    assert "--levels" in capsys.readouterr().err
    (tmp_path / "nothing").mkdir()
    (tmp_path / "nothing" / "readme.txt").write_text("no videos here")
    assert caption(tmp_path / "nothing", "--model", model_dir, "--output", tmp_path / "r.jsonl") == 1
    assert "directory contains no videos" in capsys.readouterr().err
    assert caption(tmp_path / "nothing", "--model", model_dir) == 1
    assert "needs --output" in capsys.readouterr().err
    assert caption(video, "--model", tmp_path / "no-model") == 1
    assert f"{tmp_path / 'no-model'}: no such model directory" in capsys.readouterr().err


def test_batch_mode_reports_bad_items_and_resumes(model_dir, tmp_path, capsys, monkeypatch):
    folder = tmp_path / "videos"
    folder.mkdir()
    for name, seconds in (("a", 5), ("b", 3), ("d", 2)):
        write_video(folder / f"{name}.mp4", 24 * seconds, 24)
    (folder / "c.mp4").write_text("not a video")
    (folder / "notes.txt").write_text("ignored: not a video extension")
    output = tmp_path / "results.jsonl"

    # A kill while "b" is captioned, right after "a" was written and with half a line of "b" on disk.
    original = VideoReCapPipeline.__call__

    def interrupted(self, inputs, **kwargs):
        if inputs.endswith("b.mp4"):
            with open(output, "a") as file:
                file.write('{"video": "')
            raise KeyboardInterrupt
        return original(self, inputs, **kwargs)

    monkeypatch.setattr(VideoReCapPipeline, "__call__", interrupted)
    assert caption(folder, "--model", model_dir, "--output", output) == 130
    monkeypatch.undo()
    first, partial = output.read_text().split("\n")
    assert json.loads(first)["video"] == os.path.realpath(folder / "a.mp4") and partial == '{"video": "'

    # Exit status 1: c.mp4 failed.
    assert caption(folder, "--model", model_dir, "--output", output) == 1
    done = records(output)
    assert [Path(record["video"]).name for record in done] == ["a.mp4", "b.mp4", "c.mp4", "d.mp4"]
    assert "error" in done[2] and "not a readable video file" in done[2]["error"]
    assert all("clips" in record and record["summary"] for i, record in enumerate(done) if i != 2)
    assert "c.mp4: not a readable video file" in capsys.readouterr().err

    # Nothing left to do: a third run appends nothing (and still reports the failed video).
    assert caption(folder, "--model", model_dir, "--output", output) == 1
    assert len(records(output)) == 4
    assert "4 videos: 0 captioned, 0 failed, 4 already in" in capsys.readouterr().err

    # A list file with relative paths and comments.
    listing = tmp_path / "videos.txt"
    listing.write_text("# my videos\nvideos/a.mp4\n\nvideos/missing.mp4\n")
    listed = tmp_path / "listed.jsonl"
    assert caption(listing, "--model", model_dir, "--output", listed, "--levels", "clip") == 1
    assert [("error" in record, record.get("error")) for record in records(listed)] == [
        (False, None),
        (True, "no such file"),
    ]


def test_killed_process_loses_and_duplicates_nothing(model_dir, tmp_path):
    folder = tmp_path / "videos"
    folder.mkdir()
    for index in range(6):
        write_video(folder / f"{index}.mp4", 24 * 12, 24)
    output = tmp_path / "results.jsonl"
    command = [sys.executable, "-m", "transformers_recap.cli", "caption", str(folder), "--model", str(model_dir)]
    command += ["--output", str(output), "--no-progress", "--device", "cpu"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        if output.exists() and output.read_bytes().count(b"\n") >= 1:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    process.wait()
    finished_before = output.read_bytes().count(b"\n")
    assert caption(folder, "--model", model_dir, "--output", output, "--device", "cpu") == 0
    names = [Path(record["video"]).name for record in records(output)]
    assert sorted(names) == [f"{index}.mp4" for index in range(6)] and finished_before >= 1


# ---------------------------------------------------------------------------------------------------------------------
# Output formats and records
# ---------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "start"),
    [("out.srt", "1\n00:00:00,000 --> 00:00:04,000\n"), ("out.vtt", "WEBVTT\n"), ("out.md", "## Clip captions\n")],
)
def test_output_format_follows_the_extension(model_dir, video, tmp_path, name, start):
    output = tmp_path / name
    assert caption(video, "--model", model_dir, "--output", output, "--levels", "clip") == 0
    assert output.read_text().startswith(start)


def test_single_video_json_is_the_batch_record(model_dir, video, tmp_path, monkeypatch):
    monkeypatch.chdir(video.parent)
    output = tmp_path / "captions.json"
    assert caption(video.name, "--model", model_dir, "--output", output, "--levels", "clip") == 0
    record = json.loads(output.read_text())
    stat = video.stat()
    assert (record["video"], record["video_bytes"], record["video_mtime_ns"]) == (
        os.path.realpath(video),
        stat.st_size,
        stat.st_mtime_ns,
    )
    assert len(HierarchicalCaptions.from_dict(record).clips) == 3


# ---------------------------------------------------------------------------------------------------------------------
# Batch keys, locking and retries
# ---------------------------------------------------------------------------------------------------------------------


def test_batch_keys_videos_by_resolved_path_size_and_time(model_dir, tmp_path, monkeypatch, capsys):
    folder = tmp_path / "videos"
    folder.mkdir()
    a, b = write_video(folder / "a.mp4", 24 * 3, 24), write_video(folder / "b.mp4", 24 * 2, 24)
    (tmp_path / "alias.mp4").symlink_to(a)
    listing = tmp_path / "list.txt"
    listing.write_text(f"videos/a.mp4\n./videos/a.mp4\nvideos/../videos/b.mp4\n{b}\nalias.mp4\n")
    output = tmp_path / "results.jsonl"
    assert caption(listing, "--model", model_dir, "--output", output, "--levels", "clip") == 0
    assert [record["video"] for record in records(output)] == [os.path.realpath(a), os.path.realpath(b)]
    assert "3 entries of" in capsys.readouterr().err

    # From another directory, with other spellings of the list and the output, and as a directory: nothing new.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert caption("../list.txt", "--model", model_dir, "--output", "../results.jsonl", "--levels", "clip") == 0
    assert caption("../videos", "--model", model_dir, "--output", output, "--levels", "clip") == 0
    assert len(records(output)) == 2

    # A video replaced by another file (other size and time) is captioned again.
    write_video(b, 24 * 5, 24)
    assert caption("../videos", "--model", model_dir, "--output", output, "--levels", "clip") == 0
    last = records(output)[-1]
    assert len(records(output)) == 3 and last["video_bytes"] == b.stat().st_size and len(last["clips"]) == 2


def test_a_second_writer_is_refused_and_a_killed_one_releases_the_lock(model_dir, video, tmp_path, capsys):
    listing = tmp_path / "list.txt"
    listing.write_text(f"{video}\n")
    output = tmp_path / "results.jsonl"
    # Another process holding the results file, started without the package (results.py is standard library only).
    holder = (
        "import importlib.util, sys, time\n"
        "spec = importlib.util.spec_from_file_location('results', sys.argv[1])\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "module.ResultsFile(sys.argv[2]).__enter__()\n"
        "print('locked', flush=True)\n"
        "time.sleep(600)\n"
    )
    results_module = Path(cli.__file__).parent / "engine" / "results.py"
    process = subprocess.Popen(
        [sys.executable, "-c", holder, str(results_module), str(output)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout.readline() == "locked\n"
        assert caption(listing, "--model", model_dir, "--output", output, "--levels", "clip") == 1
        error = capsys.readouterr().err.strip().splitlines()
        assert error == [
            f"transformers-recap: error: {output} is being written by another process (pid {process.pid})"
        ]
        assert not output.exists()
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    # The kernel released the dead writer's lock; its lock file (with its pid) is taken over, then removed.
    assert Path(f"{output}.lock").read_text() == f"{process.pid}\n"
    assert caption(listing, "--model", model_dir, "--output", output, "--levels", "clip") == 0
    assert len(records(output)) == 1 and not Path(f"{output}.lock").exists()


def test_failed_videos_exit_nonzero_and_are_retried_with_retry_errors(model_dir, tmp_path, monkeypatch, capsys):
    from transformers_recap import VideoDecodingError

    folder = tmp_path / "videos"
    folder.mkdir()
    for name in ("a", "b"):
        write_video(folder / f"{name}.mp4", 24 * 2, 24)
    output = tmp_path / "results.jsonl"
    original = VideoReCapPipeline.__call__

    def failing_on_b(self, inputs, **kwargs):
        if inputs.endswith("b.mp4"):
            raise VideoDecodingError(inputs, "corrupt video data (simulated)")
        return original(self, inputs, **kwargs)

    monkeypatch.setattr(VideoReCapPipeline, "__call__", failing_on_b)
    assert caption(folder, "--model", model_dir, "--output", output, "--levels", "clip") == 1
    monkeypatch.undo()
    assert "2 videos: 1 captioned, 1 failed, 0 already in" in capsys.readouterr().err
    assert caption(folder, "--model", model_dir, "--output", output, "--levels", "clip") == 1
    assert "(1 of them failed; --retry-errors retries them)" in capsys.readouterr().err
    assert [("error" in record) for record in records(output)] == [False, True]

    assert caption(folder, "--model", model_dir, "--output", output, "--levels", "clip", "--retry-errors") == 0
    assert "2 videos: 1 captioned, 0 failed, 1 already in" in capsys.readouterr().err
    done = records(output)
    assert [Path(record["video"]).name for record in done] == ["a.mp4", "b.mp4"]
    assert all("error" not in record and len(record["clips"]) == 1 for record in done)


def test_batch_never_overwrites_a_file_that_is_not_a_results_file(model_dir, video, tmp_path, capsys):
    listing = tmp_path / "list.txt"
    listing.write_text(f"{video}\n")
    precious = write_video(tmp_path / "precious.mp4", 24, 24)
    data = precious.read_bytes()
    assert caption(listing, "--model", model_dir, "--output", precious) == 1
    assert precious.read_bytes() == data
    assert f"{precious}: exists and is not a results file" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------------------------
# Bad inputs: one line naming the file, nothing run
# ---------------------------------------------------------------------------------------------------------------------


def _unsafe_model(directory: Path, model_dir: Path, marker: Path) -> Path:
    """A model directory whose pytorch_model.bin would create `marker` if it were unpickled unsafely."""
    import shutil

    import torch

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    shutil.copytree(model_dir, directory, ignore=shutil.ignore_patterns("*.safetensors"))
    torch.save({"weight": Payload()}, directory / "pytorch_model.bin")
    return directory


BAD_INPUTS = {
    "list file not UTF-8": (
        lambda d, m, v: ((d / "list.txt").write_bytes(b"\xff\xfeclip.mp4\n"), [d / "list.txt", "--output", d / "r"]),
        "list.txt: not a UTF-8 text file (byte 0xff at offset 0)",
    ),
    "list file with NUL bytes": (
        lambda d, m, v: ((d / "list.txt").write_bytes(b"a.mp4\x00\n"), [d / "list.txt", "--output", d / "r"]),
        "list.txt: contains NUL bytes",
    ),
    "--output is a directory": (
        lambda d, m, v: (None, [v, "--output", d]),
        ": is a directory; --output names a file",
    ),
    "batch --output is a directory": (
        lambda d, m, v: ((d / "l.txt").write_text(f"{v}\n"), [d / "l.txt", "--output", d]),
        ": is a directory; --output names a file",
    ),
    "missing --model directory": (
        lambda d, m, v: (None, [v, "--model", d / "no-model"]),
        "no-model: no such model directory",
    ),
    "--model is a file": (
        lambda d, m, v: ((d / "model.bin").write_bytes(b"x"), [v, "--model", d / "model.bin"]),
        "model.bin: is a file; --model names a model directory",
    ),
    "--model without weights": (
        lambda d, m, v: ((d / "empty-model").mkdir(), [v, "--model", d / "empty-model"]),
        "empty-model: cannot load the model",
    ),
    "unsafe pytorch_model.bin": (
        lambda d, m, v: (_unsafe_model(d / "unsafe", m, d / "marker"), [v, "--model", d / "unsafe"]),
        "unsafe: cannot load the model: torch's safe loader refused its PyTorch weights (it asks to unpickle",
    ),
    "--device that is not one": (
        lambda d, m, v: (None, [v, "--device", "gpu0"]),
        "--device gpu0: not a device name",
    ),
    "--device cuda without a GPU": (
        lambda d, m, v: (None, [v, "--device", "cuda"]),
        "--device cuda: no cuda device is available here",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_inputs_fail_with_one_line_naming_them(model_dir, video, tmp_path, capsys, case):
    import torch

    if case == "--device cuda without a GPU" and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    make, message = BAD_INPUTS[case]
    _, arguments = make(tmp_path, model_dir, video)
    if "--model" not in arguments:
        arguments += ["--model", model_dir]
    assert caption(*arguments) == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and error[0].startswith("transformers-recap: error: ") and message in error[0]
    assert not (tmp_path / "marker").exists()


# --follow
# ---------------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    # A finished MPEG-TS recording: nothing writes it any more, so --follow stops at its end (or after the idle time).
    return write_video(tmp_path_factory.mktemp("recording") / "live.ts", 24 * 10, 24, container_format="mpegts")


def test_follow_prints_each_event_as_a_json_line(model_dir, recording, capsys):
    assert caption(recording, "--model", model_dir, "--follow", "0.5", "--segment-seconds", "8") == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(e["level"], e["index"], e["start"], e["end"]) for e in events] == [
        ("clip", 0, 0.0, 4.0),
        ("clip", 1, 4.0, 8.0),
        ("clip", 2, 8.0, 10.0),
        ("segment", 0, 0.0, 8.0),
        ("segment", 1, 8.0, 10.0),
        ("video", 0, 0.0, 10.0),
    ]
    assert all(event["final"] for event in events)
    assert caption(recording, "--model", model_dir, "--segment-seconds", "8") == 0
    whole = json.loads(capsys.readouterr().out)
    assert [e["text"] for e in events[:3]] == [clip["text"] for clip in whole["clips"]]
    assert events[-1]["text"] == whole["summary"]


def test_follow_appends_to_output_and_resumes_without_duplicates(model_dir, recording, tmp_path):
    output = tmp_path / "events.jsonl"
    options = ("--model", model_dir, "--follow", "0.5", "--segment-seconds", "8", "--output", output)
    assert caption(recording, *options) == 0
    complete = output.read_text()
    assert len(complete.splitlines()) == 6
    # A kill after three events, with half of the fourth on disk: the rerun appends the other three once.
    lines = complete.splitlines(keepends=True)
    output.write_text("".join(lines[:3]) + lines[3][:10])
    assert caption(recording, *options) == 0
    assert output.read_text() == complete


def test_follow_refuses_an_output_another_writer_holds(model_dir, recording, tmp_path, capsys):
    from transformers_recap.engine.results import WriterLock

    output = tmp_path / "events.jsonl"
    with WriterLock(output):  # another --follow (or batch) writing the same file
        assert caption(recording, "--model", model_dir, "--follow", "0.5", "--output", output) == 1
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("transformers-recap: error: ") and str(output) in error and "\n" not in error
    assert not output.exists()


def test_follow_usage_errors(model_dir, recording, tmp_path, capsys):
    assert caption(recording, "--model", model_dir, "--follow", "--format", "srt") == 1
    assert "--follow writes JSON lines" in capsys.readouterr().err
    assert caption(recording, "--model", model_dir, "--follow", "0") == 1
    assert "positive idle time" in capsys.readouterr().err
    missing = tmp_path / "not-yet.ts"
    assert caption(missing, "--model", model_dir, "--follow", "0.2") == 1
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error == f"transformers-recap: error: {missing}: does not exist after waiting 0.2 s for a recording"
