"""Synthetic-HCap: determinism, and captions checked against the pixels that were actually drawn."""

import os
import pickle
import re

import av
import numpy as np
import pytest

from transformers_recap.data import (
    Ego4DHCap,
    generate_synthetic_hcap,
    iter_synthetic_frames,
    parse_clip_caption,
    plan_synthetic_video,
)
from transformers_recap.data.synthetic import main

from .conftest import SYNTHETIC_OPTIONS


# The test's own reading of the caption vocabulary: the first verb after "#C C" says how the object moves.
VERB_MOTIONS = {
    "picks": "up",
    "lifts": "up",
    "takes": "up",
    "puts": "down",
    "places": "down",
    "sets": "down",
    "pushes": "slide",
    "slides": "slide",
    "moves": "slide",
    "carries": "carry",
    "holds": "carry",
}
# Colour words as hue bands in degrees, independent of the generator's palette.
HUE_BANDS = {"red": ((340, 360), (0, 20)), "yellow": ((35, 70),), "green": ((90, 160),), "blue": ((190, 260),)}
CAPTION = re.compile(r"^#C C (\w+) .*?\bthe (red|green|blue|yellow) (\w+)(?: .*?\b(left|right)\b)?")


def colour_mask(frame: np.ndarray, colour: str) -> np.ndarray:
    """Pixels of a saturated, bright colour whose hue falls in the band of `colour`."""
    rgb = frame.astype(np.float64) / 255
    high, low = rgb.max(-1), rgb.min(-1)
    spread = np.maximum(high - low, 1e-6)
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    hue = np.where(
        high == red,
        (60 * (green - blue) / spread) % 360,
        np.where(high == green, 60 * (blue - red) / spread + 120, 60 * (red - green) / spread + 240),
    )
    saturated = ((high - low) / np.maximum(high, 1e-6) > 0.45) & (high > 0.35)
    in_band = np.zeros_like(saturated)
    for lower, upper in HUE_BANDS[colour]:
        in_band |= (hue >= lower) & (hue < upper)
    return saturated & in_band


def centroid(frame: np.ndarray, colour: str) -> tuple[float, float]:
    ys, xs = np.nonzero(colour_mask(frame, colour))
    assert len(xs) >= 12, f"the {colour} object is not visible"
    size = frame.shape[0]
    return xs.mean() / size, ys.mean() / size


def decode(path) -> list[np.ndarray]:
    with av.open(os.fspath(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def test_clip_captions_match_drawn_motion(synthetic_dir):
    with open(synthetic_dir / "annotations" / "clips_train.pkl", "rb") as file:
        clips = pickle.load(file)  # written by the generator in this session
    fps = SYNTHETIC_OPTIONS["fps"]
    frames, seen = {}, set()
    for vid, start, end, caption in clips:
        if vid not in frames:
            frames[vid] = decode(synthetic_dir / "videos" / f"{vid}.mp4")
        match = CAPTION.match(caption)
        assert match, caption
        verb, colour, _, direction = match.groups()
        motion = VERB_MOTIONS[verb]
        first, last = round(start * fps), round(end * fps) - 1
        # The frames a 4-frame clip sampler sees first and last (middle of the first and last quarter).
        quarter = (last - first + 1) // 8
        x0, y0 = centroid(frames[vid][first + quarter], colour)
        x1, y1 = centroid(frames[vid][last - quarter], colour)
        dx, dy = x1 - x0, y1 - y0
        if motion in ("up", "down"):
            assert abs(dx) < 0.02, caption
            assert (dy < -0.15) if motion == "up" else (dy > 0.15), caption
        else:
            assert abs(dy) < 0.02, caption
            assert abs(dx) > 0.04 and (dx > 0) == (direction == "right"), caption
            # Sliding happens on the table (low in the frame), carrying in the air above it.
            assert (y0 > 0.6) if motion == "slide" else (y0 < 0.55), caption
        seen.add((motion, colour))
    assert {motion for motion, _ in seen} == {"up", "down", "slide", "carry"}
    assert {colour for _, colour in seen} == set(HUE_BANDS)


def test_object_shapes_match_nouns():
    video = plan_synthetic_video("shapes", 11, clips_per_segment=4, segments_per_video=12)
    frames = list(iter_synthetic_frames(video, size=64, fps=4))
    nouns = set()
    for clip_index, clip in enumerate(video.clips):
        _, colour, noun, _ = CAPTION.match(clip.caption).groups()
        mask = colour_mask(frames[clip_index * 16], colour)
        ys, xs = np.nonzero(mask)
        height, width = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
        aspect, fill = height / width, mask.sum() / (height * width)
        if noun == "box":
            assert 0.9 < aspect < 1.1 and fill == 1.0, clip.caption
        elif noun == "ball":
            assert 0.9 < aspect < 1.1 and 0.7 < fill < 0.85, clip.caption
        elif noun == "bottle":
            assert aspect > 2.0, clip.caption
        elif noun == "bowl":
            assert aspect < 0.6 and fill < 0.85, clip.caption
        else:
            raise AssertionError(f"unexpected noun in {clip.caption!r}")
        nouns.add(noun)
    assert nouns == {"box", "ball", "bottle", "bowl"}


def activity_of(description: str) -> str:
    keywords = {
        "swap": ("swaps", "switches", "exchanges"),
        "replace": ("where the", "replaces", "aside"),
        "inspect": ("inspects", "examines", "looks closely"),
        "shuffle": ("back and forth", "left and right"),
        "push_across": ("side of the table", "all the way", "across the table to"),
        "relocate": ("carries", "sets it down", "brings"),
    }
    found = [name for name, words in keywords.items() if any(word in description for word in words)]
    assert len(found) == 1, description
    return found[0]


def test_segment_descriptions_follow_the_clip_sequence(synthetic_dir, tmp_path):
    builder = Ego4DHCap(config_name="segment_description", data_dir=synthetic_dir, cache_dir=tmp_path)
    builder.download_and_prepare()
    activities = set()
    for segment in builder.as_dataset(split="train"):
        parsed = [CAPTION.match(caption).groups() for caption in segment["clip_captions_gt"]]
        motions = [VERB_MOTIONS[verb] for verb, *_ in parsed]
        directions = [direction for *_, direction in parsed]
        objects = {f"{colour} {noun}" for _, colour, noun, _ in parsed}
        activity = activity_of(segment["text"])
        activities.add(activity)
        for name in re.findall(r"the (\w+ \w+)", segment["text"]):
            if name.split()[0] in HUE_BANDS:
                assert name in objects, segment["text"]
        if activity == "inspect":
            assert motions == ["up", "down", "up", "down", "up"] and len(objects) == 1
        elif activity == "shuffle":
            assert set(motions) == {"slide"} and all(a != b for a, b in zip(directions, directions[1:], strict=False))
        elif activity == "push_across":
            assert set(motions) == {"slide"} and len(set(directions)) == 1 and directions[0] in segment["text"]
        elif activity == "relocate":
            assert motions == ["up", "carry", "carry", "carry", "down"]
        elif activity == "swap":
            assert motions[0] == "up" and motions[-1] == "slide" and len(objects) == 2
        else:
            assert motions[0] == "slide" and motions[-1] == "down" and len(objects) == 2
    assert activities == {"inspect", "shuffle", "push_across", "relocate", "swap", "replace"}


def test_summary_lists_segment_activities_in_order(synthetic_dir, tmp_path):
    builder = Ego4DHCap(config_name="video_summary", data_dir=synthetic_dir, cache_dir=tmp_path)
    builder.download_and_prepare()
    for video in builder.as_dataset(split="train"):
        position = 0
        for description in video["segment_descriptions_gt"]:
            for name in re.findall(r"the ((?:red|green|blue|yellow) \w+)", description)[:1]:
                found = video["text"].find(name, position)
                assert found >= 0, (description, video["text"])
                position = found + len(name)


def test_videos_have_the_annotated_duration(synthetic_dir):
    path = next((synthetic_dir / "videos").iterdir())
    frames = decode(path)
    options = SYNTHETIC_OPTIONS
    seconds = options["segments_per_video"] * options["clips_per_segment"] * options["clip_seconds"]
    assert len(frames) == seconds * options["fps"]
    assert frames[0].shape == (options["size"], options["size"], 3)


def file_bytes(root) -> dict[str, bytes]:
    return {
        os.path.relpath(os.path.join(folder, name), root): open(os.path.join(folder, name), "rb").read()
        for folder, _, names in os.walk(root)
        for name in names
    }


def test_same_seed_gives_identical_bytes_and_other_seeds_other_videos(tmp_path):
    options = {"clips_per_segment": 4, "segments_per_video": 2, "size": 32}
    generate_synthetic_hcap(tmp_path / "a", 2, 5, **options)
    generate_synthetic_hcap(tmp_path / "b", 2, 5, **options)
    first, second = file_bytes(tmp_path / "a"), file_bytes(tmp_path / "b")
    assert len(first) == 5 and first == second

    other = generate_synthetic_hcap(tmp_path / "a", 2, 6, split="validation", **options)
    assert not set(other.video_uids) & {name[len("videos/") : -4] for name in first if name.startswith("videos/")}
    assert len(os.listdir(tmp_path / "a" / "videos")) == 4
    builder = Ego4DHCap(config_name="clip_caption", data_dir=tmp_path / "a", cache_dir=tmp_path / "cache")
    builder.download_and_prepare()
    train, validation = builder.as_dataset(split="train"), builder.as_dataset(split="validation")
    assert not set(train["video_uid"]) & set(validation["video_uid"])
    assert set(validation["video_uid"]) == set(other.video_uids)


def test_cli_writes_a_split(tmp_path, capsys):
    main(["--output", str(tmp_path), "--num-videos", "1", "--seed", "2", "--clips-per-segment", "4"])
    output = capsys.readouterr().out.strip().splitlines()
    assert len(output) == 1 and output[0].startswith("Wrote 1 video (80 s, 5 segments, 20 clips)")
    assert sorted(os.listdir(tmp_path / "annotations")) == [
        "clips_train.pkl",
        "segments_train.pkl",
        "videos_train.json",
    ]
    assert os.listdir(tmp_path / "videos") == ["synthetic-2-00000.mp4"]


@pytest.mark.parametrize(
    "options, field",
    [
        ({"clips_per_segment": 3}, "clips_per_segment"),
        ({"segments_per_video": 0}, "segments_per_video"),
        ({"size": 63}, "size"),
        ({"clip_seconds": 0.3}, "clip_seconds"),
        ({"split": "test"}, "split"),
    ],
)
def test_invalid_options_name_the_field(tmp_path, options, field):
    with pytest.raises(ValueError, match=field):
        generate_synthetic_hcap(tmp_path, 1, 0, **options)


def test_parse_clip_caption_recovers_what_each_clip_shows():
    seen_templates = set()
    for index in range(40):
        video = plan_synthetic_video(f"v{index}", (123, index), clips_per_segment=6, segments_per_video=3)
        for segment in video.segments:
            for clip in segment.clips:
                name = segment.objects[clip.target_index].name
                assert parse_clip_caption(clip.caption) == (clip.action, name, clip.direction), clip.caption
                seen_templates.add(re.sub(rf"{name}|left|right", "_", clip.caption))
    assert len(seen_templates) == 12  # every paraphrase of the four actions was exercised
    assert parse_clip_caption("#C C picks up the red") is None
    assert parse_clip_caption("#C C carries the red ball to the top") is None
    assert parse_clip_caption("  #C C lifts the green bowl ") == ("pick_up", "green bowl", None)


def test_narration_only_videos_add_clip_captions_only(tmp_path):
    options = {"clips_per_segment": 4, "segments_per_video": 2, "size": 16}
    plain = generate_synthetic_hcap(tmp_path / "plain", 2, 7, **options)
    extended = generate_synthetic_hcap(tmp_path / "extended", 2, 7, num_narration_only_videos=3, **options)
    plain_bytes, extended_bytes = file_bytes(tmp_path / "plain"), file_bytes(tmp_path / "extended")

    # The annotated videos and their segment/video records do not change.
    for name in ("annotations/segments_train.pkl", "annotations/videos_train.json", *plain.video_uids):
        name = name if name.startswith("annotations/") else f"videos/{name}.mp4"
        assert extended_bytes[name] == plain_bytes[name]
    assert extended.video_uids == plain.video_uids
    assert extended.narration_only_video_uids == ("synthetic-7-00002", "synthetic-7-00003", "synthetic-7-00004")
    for uid in extended.narration_only_video_uids:
        assert f"videos/{uid}.mp4" in extended_bytes

    # Their clip captions follow the annotated ones; they are the plans of videos 2..4 of seed 7.
    with open(tmp_path / "plain" / "annotations" / "clips_train.pkl", "rb") as file:
        plain_clips = pickle.load(file)
    with open(tmp_path / "extended" / "annotations" / "clips_train.pkl", "rb") as file:
        extended_clips = pickle.load(file)
    assert extended_clips[: len(plain_clips)] == plain_clips
    expected = []
    for index in (2, 3, 4):
        video = plan_synthetic_video(f"synthetic-7-{index:05d}", (7, index), clips_per_segment=4, segments_per_video=2)
        expected.extend((video.video_uid, clip.start_sec, clip.end_sec, clip.caption) for clip in video.clips)
    assert extended_clips[len(plain_clips) :] == expected
    assert extended.num_clips == len(plain_clips) + 3 * 8 and extended.num_segments == plain.num_segments

    with open(tmp_path / "extended" / "annotations" / "segments_train.pkl", "rb") as file:
        segment_vids = {record["vid"] for record in pickle.load(file)}
    assert segment_vids == set(plain.video_uids)


def test_narration_only_cli_and_invalid_count(tmp_path, capsys):
    main(["--output", str(tmp_path), "--num-videos", "1", "--seed", "2", "--clips-per-segment", "4",
          "--segments-per-video", "1", "--size", "16", "--num-narration-only-videos", "2"])  # fmt: skip
    output = capsys.readouterr().out.strip()
    assert output.startswith("Wrote 1 video and 2 narration-only videos (48 s, 1 segments, 12 clips)")
    assert sorted(os.listdir(tmp_path / "videos")) == [f"synthetic-2-0000{i}.mp4" for i in range(3)]
    with pytest.raises(ValueError, match="num_narration_only_videos"):
        generate_synthetic_hcap(tmp_path, 1, 0, num_narration_only_videos=-1)
