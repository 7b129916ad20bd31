"""Pseudo annotations of the LLM teacher: the Ego4D-HCap loader reads them back, and interrupted runs resume."""

import json
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from transformers_recap.data import load_ego4d_hcap, load_plain_pickle, plan_synthetic_video
from transformers_recap.training.teacher import (
    ProgressLog,
    PseudoAnnotationError,
    generate_pseudo_annotations,
    plan_pseudo_windows,
    read_pseudo_sources,
    teacher_config_from_dict,
    train_teacher,
)
from transformers_recap.training.teacher import pseudo as pseudo_module

from .test_teacher import LAYOUT, NUM_TRAIN, TINY_T5, load_example, make_tiny_hcap, tiny_teacher_config, write_config


SEGMENT_SECONDS = LAYOUT["clips_per_segment"] * 4.0  # every manual synthetic segment lasts 4 clips of 4 s
VIDEO_SECONDS = LAYOUT["segments_per_video"] * SEGMENT_SECONDS


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Tiny Synthetic-HCap (4 narration-only videos) and a tiny T5 teacher trained for a few steps."""
    root = tmp_path_factory.mktemp("pseudo")
    summaries = make_tiny_hcap(root / "data")
    config = tiny_teacher_config(root / "run", root / "data", TINY_T5, pseudo={"video_windows_per_video": 2})
    train_teacher(teacher_config_from_dict(config), evaluate=False)
    return root, config, summaries


def config_for(trained, tmp_path: Path, **pseudo) -> dict:
    """The trained teacher's configuration writing to its own output and work folders under `tmp_path`."""
    _, config, _ = trained
    config = json.loads(json.dumps(config))
    # Short generations, kept although cut off: a teacher trained for a few steps rarely stops by itself.
    pseudo = {"generation": {"max_new_tokens": 8}, "keep_unfinished": True, **pseudo}
    config["pseudo"].update(output_dir=str(tmp_path / "out"), work_dir=str(tmp_path / "work"), **pseudo)
    return config


def file_bytes(directory: Path) -> dict[str, bytes]:
    return {
        name: (directory / name).read_bytes() for name in ("segments_train_pseudo.pkl", "videos_train_pseudo.json")
    }


def test_pseudo_files_round_trip_through_the_loader(trained, tmp_path, capsys):
    _, _, summaries = trained
    config = config_for(trained, tmp_path)
    path = write_config(tmp_path / "teacher.yaml", config)
    assert load_example("generate_pseudo_annotations").main(["--config", str(path)]) == 0
    printed = capsys.readouterr().out
    narration_only = summaries["train"].narration_only_video_uids
    assert len(narration_only) == 4
    assert f"segment: 12 pseudo annotations written to {tmp_path / 'out' / 'segments_train_pseudo.pkl'}" in printed
    assert "video: 8 pseudo annotations written" in printed

    # Plain data only: the restricted unpickler (which refuses any class or function) reads the file.
    records = load_plain_pickle(tmp_path / "out" / "segments_train_pseudo.pkl")
    assert all(type(r["start_sec"]) is float and type(r["captions_pred"][0][1]) is float for r in records)

    texts = ProgressLog.read((tmp_path / "work").glob("progress-*.jsonl"))
    segments = load_ego4d_hcap("segment", tmp_path / "out", pseudo=True, cache_dir=tmp_path / "cache", strict=True)
    videos = load_ego4d_hcap("video", tmp_path / "out", pseudo=True, cache_dir=tmp_path / "cache", strict=True)

    # Only the narration-only videos get pseudo annotations (not the annotated or validation ones); each is tiled
    # by 16-s windows (the manual segments' length), holding the clips the video's plan puts there.
    assert sorted(set(segments["video_uid"])) == sorted(narration_only) == sorted(set(videos["video_uid"]))
    by_video = {}
    for row in segments:
        by_video.setdefault(row["video_uid"], []).append(row)
    for index, vid in enumerate(narration_only):
        plan = plan_synthetic_video(vid, (0, NUM_TRAIN + index), clips_per_segment=4, segments_per_video=3)
        rows = sorted(by_video[vid], key=lambda row: row["start_sec"])
        assert [(row["start_sec"], row["end_sec"]) for row in rows] == [(16.0 * i, 16.0 * (i + 1)) for i in range(3)]
        for row, segment in zip(rows, plan.segments, strict=True):
            assert row["clip_captions_pred"] == [clip.caption for clip in segment.clips]
            assert row["clip_captions_gt"] == row["clip_captions_pred"]
            assert row["clip_starts_sec"] == [clip.start_sec for clip in segment.clips]
            key = f"segment:{vid}:{row['start_sec']:.3f}:{row['end_sec']:.3f}"
            assert row["text"] == texts[key]["text"] and row["text"]

        # Two video windows: the whole video, then a run of 2 of its 3 segment windows; their inputs are the pseudo
        # segment descriptions of those windows, in time order.
        summaries_of_video = sorted(
            (row for row in videos if row["video_uid"] == vid), key=lambda row: row["end_sec"] - row["start_sec"]
        )
        whole = summaries_of_video[-1]
        assert (whole["start_sec"], whole["end_sec"]) == (0.0, VIDEO_SECONDS)
        assert whole["segment_descriptions_pred"] == [row["text"] for row in rows]
        assert whole["segment_uids"] == [row["segment_uid"] for row in rows]
        part = summaries_of_video[0]
        assert part["end_sec"] - part["start_sec"] == 2 * SEGMENT_SECONDS
        inside = [row for row in rows if part["start_sec"] <= row["start_sec"] < part["end_sec"]]
        assert part["segment_descriptions_pred"] == [row["text"] for row in inside]
        assert part["text"] == texts[f"video:{vid}:{part['start_sec']:.3f}:{part['end_sec']:.3f}"]["text"]


def test_interrupted_run_loses_and_repeats_nothing(trained, tmp_path, monkeypatch):
    reference_dir = tmp_path / "reference"
    reference = teacher_config_from_dict(config_for(trained, reference_dir, batch_size=1))
    generate_pseudo_annotations(reference)
    expected = file_bytes(reference_dir / "out")

    config = teacher_config_from_dict(config_for(trained, tmp_path / "interrupted", batch_size=1))
    real_generate, calls = pseudo_module.generate_ids, []

    def failing_generate(*args, **kwargs):
        if len(calls) == 5:
            raise RuntimeError("simulated crash")
        calls.append(1)
        return real_generate(*args, **kwargs)

    monkeypatch.setattr(pseudo_module, "generate_ids", failing_generate)
    with pytest.raises(RuntimeError, match="simulated crash"):
        generate_pseudo_annotations(config)
    monkeypatch.setattr(pseudo_module, "generate_ids", real_generate)
    work = tmp_path / "interrupted" / "work"
    logs = sorted(work.glob("progress-*.jsonl"))
    before = ProgressLog.read(logs)
    assert len(before) == 5 and not (tmp_path / "interrupted" / "out").exists()
    # A kill in the middle of the next write leaves a torn line.
    with open(logs[0], "ab") as file:
        file.write(b'{"key": "segment:synthetic-0-00006:16.0')

    summary = generate_pseudo_annotations(config)
    assert summary.resumed == 5 and summary.generated_now == 20 - 5
    lines = [json.loads(line) for line in logs[0].read_text().splitlines()]
    assert len(lines) == 20 and len({line["key"] for line in lines}) == 20  # the torn line was cut off
    after = ProgressLog.read(logs)
    assert all(after[key]["text"] == record["text"] for key, record in before.items())
    assert file_bytes(tmp_path / "interrupted" / "out") == expected

    # A finished run reruns without generating anything.
    again = generate_pseudo_annotations(config)
    assert again.generated_now == 0 and again.resumed == 20
    assert file_bytes(tmp_path / "interrupted" / "out") == expected


def test_batched_generation_writes_what_one_at_a_time_does(trained, tmp_path):
    generate_pseudo_annotations(teacher_config_from_dict(config_for(trained, tmp_path / "one", batch_size=1)))
    generate_pseudo_annotations(teacher_config_from_dict(config_for(trained, tmp_path / "batched", batch_size=4)))
    assert file_bytes(tmp_path / "batched" / "out") == file_bytes(tmp_path / "one" / "out")


def test_other_settings_are_refused_until_restart(trained, tmp_path):
    generate_pseudo_annotations(teacher_config_from_dict(config_for(trained, tmp_path)))
    changed = teacher_config_from_dict(config_for(trained, tmp_path, video_windows_per_video=1))
    with pytest.raises(PseudoAnnotationError, match="plan.json belongs to a run with other settings"):
        generate_pseudo_annotations(changed)
    summary = generate_pseudo_annotations(changed, restart=True)
    assert summary.planned == {"segment": 12, "video": 4} and summary.resumed == 0
    records = json.loads((tmp_path / "out" / "videos_train_pseudo.json").read_text())
    assert [(r["start_sec"], r["end_sec"]) for r in records] == [(0.0, VIDEO_SECONDS)] * 4


def test_plan_time_scales_and_caps(trained):
    root, config, summaries = trained
    sources = read_pseudo_sources(root / "data")
    assert sources.eligible["segment"] == set(summaries["train"].narration_only_video_uids)
    assert sources.eligible["video"] == sources.eligible["segment"]
    options = teacher_config_from_dict(config).pseudo
    options.segment_seconds = [16, 32]
    windows = plan_pseudo_windows(sources, options, ("segment", "video"), "segment_descriptions", seed=0)
    segments = [w for w in windows if w.task == "segment"]
    # Per video: 16-s windows [0,16) [16,32) [32,48), and 32-s windows [0,32) [32,48), the last one planned once.
    assert len(segments) == 4 * 4 and len({w.key for w in windows}) == len(windows)
    spans = {(w.start_sec, w.end_sec) for w in segments if w.video_uid == segments[0].video_uid}
    assert spans == {(0.0, 16.0), (16.0, 32.0), (32.0, 48.0), (0.0, 32.0), (32.0, 48.0)}
    # Video windows are runs of the first (16-s) tiling.
    for window in (w for w in windows if w.task == "video"):
        assert len(window.segment_keys) in (2, 3)

    # Caps: 7 segments cover one video fully (4 windows) and part of another; only the complete one can have
    # summaries built from its segment descriptions.
    options.max_segments, options.max_videos = 7, 10
    capped = plan_pseudo_windows(sources, options, ("segment", "video"), "segment_descriptions", seed=0)
    capped_segments = [w for w in capped if w.task == "segment"]
    assert len(capped_segments) == 7
    complete = [
        vid for vid in {w.video_uid for w in capped_segments} if sum(w.video_uid == vid for w in capped_segments) == 4
    ]
    assert len(complete) == 1 and {w.video_uid for w in capped if w.task == "video"} == set(complete)


def test_generations_cut_off_before_their_end_are_skipped(trained, tmp_path):
    root, config, _ = trained
    eos = AutoTokenizer.from_pretrained(Path(config["output_dir"]) / "teacher").eos_token_id

    # The end-of-sequence token suppressed: no generation can end, so no segment description is written, and the
    # video windows, whose inputs are those descriptions, have no input.
    never = {"max_new_tokens": 8, "suppress_tokens": [eos]}
    summary = generate_pseudo_annotations(
        teacher_config_from_dict(config_for(trained, tmp_path / "never", generation=never, keep_unfinished=False))
    )
    assert summary.written == {"segment": 0, "video": 0} and summary.skipped == {"segment": 12, "video": 8}
    assert "cut off at max_new_tokens=8" in summary.skipped_examples[0]
    # The end-of-sequence token forced at the last step: every generation ends, nothing is skipped.
    always = {"max_new_tokens": 8, "forced_eos_token_id": eos}
    summary = generate_pseudo_annotations(
        teacher_config_from_dict(config_for(trained, tmp_path / "always", generation=always, keep_unfinished=False))
    )
    assert summary.written == {"segment": 12, "video": 8} and summary.skipped == {"segment": 0, "video": 0}


def test_missing_teacher_is_reported(trained, tmp_path, capsys):
    config = config_for(trained, tmp_path)
    path = write_config(tmp_path / "teacher.yaml", config)
    assert load_example("generate_pseudo_annotations").main(["--config", str(path), "--teacher", str(tmp_path)]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and error[0] == (
        f"error: {tmp_path} holds no trained teacher for the segment task; run examples/train_llm_teacher.py first."
    )
