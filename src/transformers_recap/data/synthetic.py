"""Synthetic-HCap: procedural hierarchical videos written in the Ego4D-HCap annotation format.

A small side view of a table seen by the camera wearer "C": a white "C"-shaped hand and two coloured objects. The three
caption levels are generated together with the pixels, so every level is grounded in what is drawn:

- **Clip** (one per `clip_seconds` window): one atomic action on one object whose direction can only be read across
  the clip's frames: "#C C picks up the red ball" (the ball rises from the table to the hand), "puts down" (the
  reverse), "pushes ... to the left/right" (the object slides on the table) and "carries ... to the left/right" (the
  object moves while held in the air).
- **Segment** (`clips_per_segment` clips, a new scene): an activity program on the two objects. Its description names
  the activity, which is determined by the sequence of clip actions, not by any single frame: "swaps the A and the B"
  (lift A, carry it past B, put it down, push B into A's place) and "puts the A where the B was" (push B away, then
  lift, carry and put down A) start from the same picture and use the same objects, only the order differs; "slides
  the A back and forth" and "pushes the A to the left side" differ only in the sequence of push directions.
- **Video** (`segments_per_video` segments): a summary listing the segments' activities in order.

Each level has a few paraphrase templates. The vocabulary is small (under 80 words) and the objects are big,
saturated shapes, so they survive resizing to 32 px.

Output layout of [`generate_synthetic_hcap`] (loaded unchanged by [`~transformers_recap.data.Ego4DHCap`]):

```
DIR/videos/<video_uid>.mp4                     H.264 (libx264, yuv420p), `size` x `size`, `fps` frames per second
DIR/annotations/clips_{train,val}.pkl          [(video_uid, start_sec, end_sec, caption), ...]
DIR/annotations/segments_{train,val}.pkl       [{"vid", "sid", "start_sec", "end_sec", "captions_pred",
                                                 "captions_gt", "segment_description"}, ...]
DIR/annotations/videos_{train,val}.json        [{"vid", "start_sec", "end_sec", "sids", "segment_descriptions",
                                                 "segment_descriptions_pred", "video_summary"}, ...]
```

The "predicted" lower-level inputs (`captions_pred`, `segment_descriptions_pred`) are filled with the ground truth;
curriculum training replaces them with the model's own predictions, as the original recipe does.

With `num_narration_only_videos`, more videos are rendered whose clip captions are written to `clips_<split>.pkl`
but which have no segment or video record: the scarcity of Ego4D, where most narrated videos have no higher-level
annotation. The LLM teacher (`transformers_recap.training.teacher`) writes pseudo annotations for them. They are
numbered after the annotated videos (`synthetic-<seed>-<num_videos + i>`), so the annotated videos and their files
are the same with or without them, and their clip captions follow the annotated ones in the clips file.

Generation is deterministic: the same arguments give byte-identical files (single-threaded libx264 without
macroblock tree, fixed encoder options, no timestamps in the container). Video uids are `synthetic-<seed>-<index>`, so
sets made with different seeds never share a video.

Command line:

```
python -m transformers_recap.data.synthetic --output DIR --num-videos 20 --seed 0
python -m transformers_recap.data.synthetic --output DIR --num-videos 4 --seed 1 --split validation
```
"""

import argparse
import json
import os
import pickle
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import av
import numpy as np
from datasets.utils import logging


logger = logging.get_logger(__name__)

COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 180, 60),
    "blue": (50, 90, 230),
    "yellow": (235, 205, 40),
}
"""Object colours (RGB), far apart from each other and from the background, table and hand."""

SHAPES: dict[str, tuple[float, float]] = {
    "box": (0.18, 0.18),
    "ball": (0.19, 0.19),
    "bottle": (0.10, 0.25),
    "bowl": (0.26, 0.13),
}
"""Object nouns and their (width, height) as fractions of the frame side: square, disc, tall and flat."""

BACKGROUND_COLOR = (24, 26, 36)
TABLE_COLOR = (105, 105, 105)
HAND_COLOR = (240, 240, 240)

ACTIONS = ("pick_up", "put_down", "push", "carry")
ACTIVITIES = ("inspect", "shuffle", "push_across", "relocate", "swap", "replace")
SPLITS = {"train": "train", "validation": "val"}
SYNTHETIC_SETTINGS_FILE = "synthetic_hcap.json"
"""Written next to a model trained on Synthetic-HCap: the data layout and the seeds of its training/validation sets."""
MIN_CLIPS_PER_SEGMENT = 4
MAX_CLIPS_PER_SEGMENT = 8

# Geometry, as fractions of the frame side: y grows downwards, objects are placed by their bottom-centre point.
_TABLE_Y = 0.80  # table top; bottom of objects that stand on it
_HELD_Y = 0.50  # bottom of a held object
_HAND_SIZE = 0.18
_HAND_HIGH_Y = 0.13  # centre of the hand when it waits above the table

_CLIP_TEMPLATES: dict[str, tuple[str, ...]] = {
    "pick_up": ("picks up the {o}", "lifts the {o}", "takes the {o} from the table"),
    "put_down": ("puts down the {o}", "places the {o} on the table", "sets the {o} down"),
    "push": ("pushes the {o} to the {d}", "slides the {o} to the {d}", "moves the {o} to the {d} on the table"),
    "carry": (
        "carries the {o} to the {d}",
        "holds the {o} and moves it to the {d}",
        "carries the {o} over to the {d}",
    ),
}
_ACTIVITY_TEMPLATES: dict[str, tuple[str, ...]] = {
    "inspect": ("inspects the {a}", "examines the {a}", "looks closely at the {a}"),
    "shuffle": (
        "slides the {a} back and forth",
        "moves the {a} back and forth on the table",
        "shifts the {a} left and right",
    ),
    "push_across": (
        "pushes the {a} to the {d} side of the table",
        "slides the {a} all the way to the {d}",
        "moves the {a} across the table to the {d}",
    ),
    "relocate": (
        "carries the {a} to the other side of the table",
        "lifts the {a} and sets it down on the {d} side",
        "brings the {a} over to the {d} side",
    ),
    "swap": (
        "swaps the {a} and the {b}",
        "switches the places of the {a} and the {b}",
        "exchanges the positions of the {a} and the {b}",
    ),
    "replace": (
        "puts the {a} where the {b} was",
        "replaces the {b} with the {a}",
        "moves the {b} aside and puts the {a} in its place",
    ),
}


@dataclass(frozen=True)
class SyntheticObject:
    """A coloured object on the table."""

    color: str
    shape: str

    @property
    def name(self) -> str:
        return f"{self.color} {self.shape}"


@dataclass(frozen=True)
class SyntheticClip:
    """One atomic action and how it is drawn.

    Attributes:
        start_sec, end_sec: the clip's time window in the video.
        caption: the Ego4D-style narration, e.g. `"#C C picks up the red ball"`.
        action: one of `ACTIONS`.
        target_index: which object of the segment acts (index into `SyntheticSegment.objects`).
        direction: `"left"` or `"right"` for `push` and `carry`, else `None`.
        x_start, x_end: horizontal centre of each of the segment's objects (fraction of the frame width) on the
            clip's first and last frame.
    """

    start_sec: float
    end_sec: float
    caption: str
    action: str
    target_index: int
    direction: str | None
    x_start: tuple[float, ...]
    x_end: tuple[float, ...]


@dataclass(frozen=True)
class SyntheticSegment:
    """A scene with two objects and one activity made of `len(clips)` consecutive clips."""

    segment_uid: str
    start_sec: float
    end_sec: float
    activity: str
    description: str
    objects: tuple[SyntheticObject, ...]
    clips: tuple[SyntheticClip, ...]


@dataclass(frozen=True)
class SyntheticVideo:
    """Ground truth of one synthetic video at the three levels."""

    video_uid: str
    segments: tuple[SyntheticSegment, ...]
    summary: str

    @property
    def clips(self) -> list[SyntheticClip]:
        return [clip for segment in self.segments for clip in segment.clips]

    @property
    def duration_sec(self) -> float:
        return self.segments[-1].end_sec


@dataclass(frozen=True)
class SyntheticHCapSummary:
    """What [`generate_synthetic_hcap`] wrote."""

    output_dir: str
    split: str
    video_uids: tuple[str, ...]
    num_segments: int
    num_clips: int
    total_seconds: float
    annotation_files: tuple[str, ...]
    narration_only_video_uids: tuple[str, ...] = ()


@lru_cache(maxsize=1)
def _clip_caption_patterns() -> list[tuple[re.Pattern, str]]:
    objects = "|".join(f"{color} {shape}" for color in COLORS for shape in SHAPES)
    patterns = []
    for action, templates in _CLIP_TEMPLATES.items():
        for template in templates:
            body = re.escape(template).replace(r"\{o\}", f"(?P<o>{objects})").replace(r"\{d\}", "(?P<d>left|right)")
            patterns.append((re.compile(rf"#C C {body}"), action))
    return patterns


def parse_clip_caption(caption: str) -> tuple[str, str, str | None] | None:
    """
    What a Synthetic-HCap clip caption says, whichever paraphrase it uses: `(action, object name, direction)`, e.g.
    `("carry", "red ball", "left")` for "#C C holds the red ball and moves it to the left"; `None` for text that
    follows no clip template. Two captions describe the same clip when their parses are equal.
    """
    text = caption.strip()
    for pattern, action in _clip_caption_patterns():
        match = pattern.fullmatch(text)
        if match:
            return action, match.group("o"), match.groupdict().get("d")
    return None


def _frames_per_clip(clip_seconds: float, fps: int) -> int:
    frames = clip_seconds * fps
    if clip_seconds <= 0 or abs(frames - round(frames)) > 1e-6 or round(frames) < 4:
        raise ValueError(
            f"clip_seconds * fps must be a whole number of at least 4 frames, got clip_seconds={clip_seconds} and "
            f"fps={fps}."
        )
    return round(frames)


def _check_encoding(size: int, fps: int) -> None:
    if size < 16 or size % 2:
        raise ValueError(f"size must be an even number of pixels, at least 16, got {size}.")
    if fps < 1:
        raise ValueError(f"fps must be a positive integer, got {fps}.")


def _check_layout(clip_seconds: float, clips_per_segment: int, segments_per_video: int) -> None:
    if clip_seconds <= 0:
        raise ValueError(f"clip_seconds must be positive, got {clip_seconds}.")
    if not MIN_CLIPS_PER_SEGMENT <= clips_per_segment <= MAX_CLIPS_PER_SEGMENT:
        raise ValueError(
            f"clips_per_segment must be between {MIN_CLIPS_PER_SEGMENT} and {MAX_CLIPS_PER_SEGMENT} (the activity "
            f"programs need at least {MIN_CLIPS_PER_SEGMENT} clips, and longer ones would make each movement too "
            f"small to see), got {clips_per_segment}."
        )
    if segments_per_video < 1:
        raise ValueError(f"segments_per_video must be at least 1, got {segments_per_video}.")


def _activity_program(
    activity: str, num_clips: int, rng: np.random.Generator
) -> tuple[tuple[float, float], list[tuple[str, int, float]]]:
    """Starting x of objects A and B and the clip steps `(action, target, dx)`, with A acting towards the right.

    The positions keep both objects on the table apart and inside the frame for every object shape.
    """
    if activity == "inspect":
        steps = [("pick_up" if i % 2 == 0 else "put_down", 0, 0.0) for i in range(num_clips)]
        return (0.30, 0.76), steps
    if activity == "shuffle":
        first = 1.0 if rng.integers(2) else -1.0
        return (0.33, 0.80), [("push", 0, first * 0.13 * (1 if i % 2 == 0 else -1)) for i in range(num_clips)]
    if activity == "push_across":
        return (0.14, 0.87), [("push", 0, 0.48 / num_clips)] * num_clips
    if activity == "relocate":
        carries = num_clips - 2
        return (0.14, 0.50), [("pick_up", 0, 0.0)] + [("carry", 0, 0.72 / carries)] * carries + [("put_down", 0, 0.0)]
    carries = (num_clips - 2) // 2
    pushes = num_clips - 2 - carries
    if activity == "swap":
        # A goes over B to the far side, then B is pushed into A's old place.
        lift_and_carry = [("pick_up", 0, 0.0)] + [("carry", 0, 0.64 / carries)] * carries + [("put_down", 0, 0.0)]
        return (0.18, 0.50), lift_and_carry + [("push", 1, -0.32 / pushes)] * pushes
    if activity == "replace":
        # B is pushed away first, then A is carried into B's old place.
        lift_and_carry = [("pick_up", 0, 0.0)] + [("carry", 0, 0.32 / carries)] * carries + [("put_down", 0, 0.0)]
        return (0.18, 0.50), [("push", 1, 0.32 / pushes)] * pushes + lift_and_carry
    raise ValueError(f"Unknown activity {activity!r}; expected one of {ACTIVITIES}.")


def _summarize(phrases: list[str], rng: np.random.Generator) -> str:
    if len(phrases) == 1:
        return ("C {0}.", "In this video C {0}.")[int(rng.integers(2))].format(phrases[0])
    template = int(rng.integers(3))
    if template == 0:
        return "C " + ", then ".join(phrases[:-1]) + ", and finally " + phrases[-1] + "."
    if template == 1:
        middle = "".join(f" Then C {phrase}." for phrase in phrases[1:-1])
        return f"First C {phrases[0]}.{middle} Finally C {phrases[-1]}."
    return "In this video C " + ", ".join(phrases[:-1]) + " and " + phrases[-1] + "."


def plan_synthetic_video(
    video_uid: str,
    seed: int | Sequence[int],
    *,
    clip_seconds: float = 4.0,
    clips_per_segment: int = 6,
    segments_per_video: int = 5,
) -> SyntheticVideo:
    """Draw the scenes, actions and captions of one synthetic video (nothing is rendered).

    Args:
        video_uid: the video's uid, used in segment uids.
        seed: seed (or seed sequence) of the video's random generator.
        clip_seconds: length of one clip, i.e. of one atomic action.
        clips_per_segment: clips per activity (4 to 8).
        segments_per_video: activities per video.

    Returns:
        The ground truth at the three levels, with the motion of every clip.
    """
    _check_layout(clip_seconds, clips_per_segment, segments_per_video)
    rng = np.random.default_rng(seed)
    colors, shapes = list(COLORS), list(SHAPES)
    segments, summary_phrases = [], []
    for segment_index in range(segments_per_video):
        activity = ACTIVITIES[int(rng.integers(len(ACTIVITIES)))]
        color_a, color_b = (colors[i] for i in rng.permutation(len(colors))[:2])
        objects = (
            SyntheticObject(color_a, shapes[int(rng.integers(len(shapes)))]),
            SyntheticObject(color_b, shapes[int(rng.integers(len(shapes)))]),
        )
        mirrored = bool(rng.integers(2))
        start_x, steps = _activity_program(activity, clips_per_segment, rng)
        positions = [1.0 - x if mirrored else x for x in start_x]
        segment_start = segment_index * clips_per_segment * clip_seconds

        clips = []
        for clip_index, (action, target, dx) in enumerate(steps):
            dx = -dx if mirrored else dx
            direction = None if action in ("pick_up", "put_down") else ("right" if dx > 0 else "left")
            x_start = tuple(positions)
            positions[target] += dx
            template = _CLIP_TEMPLATES[action][int(rng.integers(len(_CLIP_TEMPLATES[action])))]
            start_sec = segment_start + clip_index * clip_seconds
            clips.append(
                SyntheticClip(
                    start_sec=start_sec,
                    end_sec=start_sec + clip_seconds,
                    caption="#C C " + template.format(o=objects[target].name, d=direction),
                    action=action,
                    target_index=target,
                    direction=direction,
                    x_start=x_start,
                    x_end=tuple(positions),
                )
            )

        side = "left" if mirrored else "right"
        fields = {"a": objects[0].name, "b": objects[1].name, "d": side}
        templates = _ACTIVITY_TEMPLATES[activity]
        description = "C " + templates[int(rng.integers(len(templates)))].format(**fields) + "."
        summary_phrases.append(templates[int(rng.integers(len(templates)))].format(**fields))
        segments.append(
            SyntheticSegment(
                segment_uid=f"{video_uid}-{segment_index:03d}",
                start_sec=segment_start,
                end_sec=segment_start + clips_per_segment * clip_seconds,
                activity=activity,
                description=description,
                objects=objects,
                clips=tuple(clips),
            )
        )
    return SyntheticVideo(video_uid=video_uid, segments=tuple(segments), summary=_summarize(summary_phrases, rng))


@lru_cache(maxsize=64)
def _shape_mask(shape: str, size: int) -> np.ndarray:
    width, height = SHAPES[shape]
    w, h = max(2, round(width * size)), max(2, round(height * size))
    ys, xs = np.mgrid[0:h, 0:w]
    u = (xs + 0.5) / w * 2 - 1  # -1..1 across the object
    if shape == "box":
        return np.ones((h, w), dtype=bool)
    if shape == "ball":
        v = (ys + 0.5) / h * 2 - 1
        return u**2 + v**2 <= 1.0
    if shape == "bottle":
        neck = ys < 0.3 * h
        return ~neck | (np.abs(u) <= 0.5)
    if shape == "bowl":  # half disc, flat side up
        v = (ys + 0.5) / h
        return u**2 + v**2 <= 1.0
    raise ValueError(f"Unknown shape {shape!r}; expected one of {list(SHAPES)}.")


@lru_cache(maxsize=8)
def _hand_mask(size: int) -> np.ndarray:
    side = max(3, round(_HAND_SIZE * size))
    ys, xs = np.mgrid[0:side, 0:side]
    u = (xs + 0.5) / side * 2 - 1
    v = (ys + 0.5) / side * 2 - 1
    radius = u**2 + v**2
    ring = (radius <= 1.0) & (radius >= 0.3)
    opening = (u > 0.2) & (np.abs(v) < 0.4)
    return ring & ~opening


@lru_cache(maxsize=8)
def _background(size: int) -> np.ndarray:
    frame = np.empty((size, size, 3), dtype=np.uint8)
    frame[:] = BACKGROUND_COLOR
    frame[round(_TABLE_Y * size) :] = TABLE_COLOR
    return frame


def _paste(frame: np.ndarray, mask: np.ndarray, left: int, top: int, color: tuple[int, int, int]) -> None:
    height, width = mask.shape
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + height, frame.shape[0]), min(left + width, frame.shape[1])
    if y0 < y1 and x0 < x1:
        frame[y0:y1, x0:x1][mask[y0 - top : y1 - top, x0 - left : x1 - left]] = color


def _interpolate(start: float, end: float, t: float) -> float:
    t = min(max(t, 0.0), 1.0)
    return start + (end - start) * t


def _clip_pose(
    clip: SyntheticClip, objects: tuple[SyntheticObject, ...], progress: float
) -> tuple[list[tuple[float, float]], tuple[float, float]]:
    """Bottom-centre of every object and centre of the hand at `progress` (0 = first frame, 1 = last frame)."""
    poses = [(x, _TABLE_Y) for x in clip.x_start]
    target = clip.target_index
    width, height = SHAPES[objects[target].shape]
    x0, x1 = clip.x_start[target], clip.x_end[target]

    if clip.action in ("pick_up", "put_down"):
        # put_down is pick_up played backwards: the hand comes down to the object, then both rise.
        t = progress if clip.action == "pick_up" else 1.0 - progress
        if t < 0.4:
            bottom = _TABLE_Y
            hand_y = _interpolate(_HAND_HIGH_Y, _TABLE_Y - height - _HAND_SIZE / 2, t / 0.4)
        else:
            bottom = _interpolate(_TABLE_Y, _HELD_Y, (t - 0.4) / 0.6)
            hand_y = bottom - height - _HAND_SIZE / 2
        poses[target] = (x0, bottom)
        return poses, (x0, hand_y)

    if clip.action == "carry":
        x = _interpolate(x0, x1, (progress - 0.1) / 0.8)
        poses[target] = (x, _HELD_Y)
        return poses, (x, _HELD_Y - height - _HAND_SIZE / 2)

    # push: the hand comes down behind the object, then both slide along the table.
    sign = 1.0 if x1 > x0 else -1.0
    x = _interpolate(x0, x1, (progress - 0.25) / 0.6)
    poses[target] = (x, _TABLE_Y)
    hand_x = x - sign * (width / 2 + _HAND_SIZE / 2 + 0.01)
    hand_y = _interpolate(_HAND_HIGH_Y, _TABLE_Y - _HAND_SIZE / 2, progress / 0.25)
    return poses, (hand_x, hand_y)


def iter_synthetic_frames(video: SyntheticVideo, *, size: int = 64, fps: int = 8) -> Iterator[np.ndarray]:
    """Render the frames of `video` in order.

    Args:
        video: the plan from [`plan_synthetic_video`].
        size: frame height and width in pixels.
        fps: frames per second.

    Yields:
        `np.ndarray` of shape `(size, size, 3)`, dtype uint8, RGB. Clip `i` covers frames
        `[i * clip_seconds * fps, (i + 1) * clip_seconds * fps)`; its first frame shows the action's start state and
        its last frame the end state.
    """
    hand = _hand_mask(size)
    background = _background(size)
    for segment in video.segments:
        masks = [_shape_mask(obj.shape, size) for obj in segment.objects]
        for clip in segment.clips:
            num_frames = _frames_per_clip(clip.end_sec - clip.start_sec, fps)
            for frame_index in range(num_frames):
                poses, (hand_x, hand_y) = _clip_pose(clip, segment.objects, frame_index / (num_frames - 1))
                frame = background.copy()
                _paste(
                    frame,
                    hand,
                    round(hand_x * size - hand.shape[1] / 2),
                    round(hand_y * size - hand.shape[0] / 2),
                    HAND_COLOR,
                )
                # The acting object is drawn last so that it is never hidden.
                order = [i for i in range(len(poses)) if i != clip.target_index] + [clip.target_index]
                for i in order:
                    x, bottom = poses[i]
                    mask = masks[i]
                    left, top = round(x * size - mask.shape[1] / 2), round(bottom * size) - mask.shape[0]
                    _paste(frame, mask, left, top, COLORS[segment.objects[i].color])
                yield frame


def render_synthetic_video(path: str | os.PathLike, video: SyntheticVideo, *, size: int = 64, fps: int = 8) -> None:
    """Encode `video` to an H.264 mp4 at `path`, deterministically (same plan and options give the same bytes).

    Args:
        path: output `.mp4` file; written to a temporary name first and renamed when complete.
        video: the plan from [`plan_synthetic_video`].
        size: frame height and width in pixels (even, for yuv420p).
        fps: frames per second; a key frame starts every clip.
    """
    _check_encoding(size, fps)
    path = os.fspath(path)
    frames_per_clip = _frames_per_clip(video.segments[0].clips[0].end_sec - video.segments[0].clips[0].start_sec, fps)
    time_base = Fraction(1, fps)
    partial = path + ".partial"
    with av.open(partial, mode="w", format="mp4") as container:
        # One thread and no macroblock tree: with mbtree on, small frames were seen to encode differently from run
        # to run.
        options = {"crf": "18", "preset": "veryfast", "threads": "1", "g": str(frames_per_clip)}
        stream = container.add_stream("libx264", rate=fps, options={**options, "x264-params": "mbtree=0"})
        stream.width = size
        stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = time_base
        for index, rgb in enumerate(iter_synthetic_frames(video, size=size, fps=fps)):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = index
            frame.time_base = time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    os.replace(partial, path)


def render_in_layout(layout: dict, seed: int, directory: str | os.PathLike) -> tuple[SyntheticVideo, Path]:
    """
    Plans and renders the video of `seed` in the layout a Synthetic-HCap model was trained on (the `size`, `fps`,
    `clip_seconds`, `clips_per_segment` and `segments_per_video` of its `SYNTHETIC_SETTINGS_FILE`) into
    `directory/synthetic-<seed>-00000.mp4`. Returns the plan (the ground truth) and the path.
    """
    video = plan_synthetic_video(
        f"synthetic-{seed}-00000",
        (seed, 0),
        clip_seconds=layout["clip_seconds"],
        clips_per_segment=layout["clips_per_segment"],
        segments_per_video=layout["segments_per_video"],
    )
    path = Path(directory) / f"{video.video_uid}.mp4"
    render_synthetic_video(path, video, size=layout["size"], fps=layout["fps"])
    return video, path


def _annotation_records(videos: list[SyntheticVideo]) -> tuple[list, list, list]:
    clips, segments, summaries = [], [], []
    for video in videos:
        vid = video.video_uid
        for segment in video.segments:
            captions = [[vid, clip.start_sec, clip.end_sec, clip.caption] for clip in segment.clips]
            clips.extend(tuple(caption) for caption in captions)
            segments.append(
                {
                    "vid": vid,
                    "sid": segment.segment_uid,
                    "start_sec": segment.start_sec,
                    "end_sec": segment.end_sec,
                    "captions_pred": captions,
                    "captions_gt": [
                        {"narration_text": clip.caption, "timestamp_sec": (clip.start_sec + clip.end_sec) / 2}
                        for clip in segment.clips
                    ],
                    "segment_description": segment.description,
                }
            )
        descriptions = [segment.description for segment in video.segments]
        summaries.append(
            {
                "vid": vid,
                "start_sec": 0.0,
                "end_sec": video.duration_sec,
                "sids": [segment.segment_uid for segment in video.segments],
                "segment_descriptions": descriptions,
                "segment_descriptions_pred": list(descriptions),
                "video_summary": video.summary,
            }
        )
    return clips, segments, summaries


def generate_synthetic_hcap(
    output_dir: str | os.PathLike,
    num_videos: int,
    seed: int,
    *,
    split: str = "train",
    size: int = 64,
    fps: int = 8,
    clip_seconds: float = 4.0,
    clips_per_segment: int = 6,
    segments_per_video: int = 5,
    num_narration_only_videos: int = 0,
) -> SyntheticHCapSummary:
    """Write a Synthetic-HCap split: videos under `output_dir/videos`, annotations under `output_dir/annotations`.

    Args:
        output_dir: dataset directory (created if needed); other splits already in it are kept.
        num_videos: number of videos to render.
        seed: non-negative seed; video `i` gets the uid `synthetic-<seed>-<i:05d>` and the generator `(seed, i)`.
        split: `"train"` or `"validation"` (files `*_train.*` or `*_val.*`). Use another seed for a held-out set.
        size: frame side in pixels.
        fps: frames per second.
        clip_seconds: length of one clip (one atomic action).
        clips_per_segment: clips per activity segment (4 to 8).
        segments_per_video: segments per video; a video lasts `segments_per_video * clips_per_segment * clip_seconds`.
        num_narration_only_videos: extra videos (uids `synthetic-<seed>-<num_videos + i:05d>`) rendered and written to
            the clips file only, with no segment or video annotation.

    Returns:
        A [`SyntheticHCapSummary`] of what was written.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {list(SPLITS)}, got {split!r}.")
    if num_videos < 1:
        raise ValueError(f"num_videos must be at least 1, got {num_videos}.")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}.")
    if isinstance(num_narration_only_videos, bool) or not isinstance(num_narration_only_videos, int):
        raise ValueError(f"num_narration_only_videos must be an integer, got {num_narration_only_videos!r}.")
    if num_narration_only_videos < 0:
        raise ValueError(f"num_narration_only_videos must be non-negative, got {num_narration_only_videos}.")
    _check_layout(clip_seconds, clips_per_segment, segments_per_video)
    _check_encoding(size, fps)
    _frames_per_clip(clip_seconds, fps)

    output_dir = os.fspath(output_dir)
    video_dir = os.path.join(output_dir, "videos")
    annotation_dir = os.path.join(output_dir, "annotations")
    os.makedirs(video_dir, exist_ok=True)
    os.makedirs(annotation_dir, exist_ok=True)

    videos = []
    for index in range(num_videos + num_narration_only_videos):
        video = plan_synthetic_video(
            f"synthetic-{seed}-{index:05d}",
            (seed, index),
            clip_seconds=clip_seconds,
            clips_per_segment=clips_per_segment,
            segments_per_video=segments_per_video,
        )
        render_synthetic_video(os.path.join(video_dir, f"{video.video_uid}.mp4"), video, size=size, fps=fps)
        logger.info(f"Rendered {video.video_uid} ({index + 1}/{num_videos + num_narration_only_videos})")
        videos.append(video)
    videos, narration_only = videos[:num_videos], videos[num_videos:]

    clips, segments, summaries = _annotation_records(videos)
    clips.extend(_annotation_records(narration_only)[0])
    suffix = SPLITS[split]
    files = (
        os.path.join(annotation_dir, f"clips_{suffix}.pkl"),
        os.path.join(annotation_dir, f"segments_{suffix}.pkl"),
        os.path.join(annotation_dir, f"videos_{suffix}.json"),
    )
    for path, records in zip(files[:2], (clips, segments), strict=True):
        with open(path, "wb") as file:
            pickle.dump(records, file, protocol=4)
    with open(files[2], "w", encoding="utf-8") as file:
        json.dump(summaries, file)

    return SyntheticHCapSummary(
        output_dir=output_dir,
        split=split,
        video_uids=tuple(video.video_uid for video in videos),
        num_segments=len(segments),
        num_clips=len(clips),
        total_seconds=sum(video.duration_sec for video in videos + narration_only),
        annotation_files=files,
        narration_only_video_uids=tuple(video.video_uid for video in narration_only),
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m transformers_recap.data.synthetic",
        description="Write a Synthetic-HCap split (mp4 videos + Ego4D-HCap annotation files).",
    )
    parser.add_argument("--output", required=True, help="dataset directory")
    parser.add_argument("--num-videos", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True, help="use a different seed for each split")
    parser.add_argument("--split", choices=list(SPLITS), default="train")
    parser.add_argument("--size", type=int, default=64, help="frame side in pixels")
    parser.add_argument("--fps", type=int, default=8)
    parser.add_argument("--clip-seconds", type=float, default=4.0)
    parser.add_argument("--clips-per-segment", type=int, default=6)
    parser.add_argument("--segments-per-video", type=int, default=5)
    parser.add_argument(
        "--num-narration-only-videos",
        type=int,
        default=0,
        help="extra videos with clip captions only (no segment or video annotation)",
    )
    args = parser.parse_args(argv)

    started = time.perf_counter()
    try:
        summary = generate_synthetic_hcap(
            args.output,
            args.num_videos,
            args.seed,
            split=args.split,
            size=args.size,
            fps=args.fps,
            clip_seconds=args.clip_seconds,
            clips_per_segment=args.clips_per_segment,
            segments_per_video=args.segments_per_video,
            num_narration_only_videos=args.num_narration_only_videos,
        )
    except ValueError as err:
        parser.error(str(err))
    num_videos = len(summary.video_uids)
    extra = len(summary.narration_only_video_uids)
    extra = f" and {extra} narration-only video{'s' if extra != 1 else ''}" if extra else ""
    print(
        f"Wrote {num_videos} video{'s' if num_videos != 1 else ''}{extra} ({summary.total_seconds:.0f} s, "
        f"{summary.num_segments} segments, "
        f"{summary.num_clips} clips) as the {summary.split} split of {summary.output_dir} in "
        f"{time.perf_counter() - started:.1f} s"
    )


__all__ = [
    "ACTIONS",
    "ACTIVITIES",
    "COLORS",
    "SHAPES",
    "SYNTHETIC_SETTINGS_FILE",
    "SyntheticClip",
    "SyntheticHCapSummary",
    "SyntheticObject",
    "SyntheticSegment",
    "SyntheticVideo",
    "generate_synthetic_hcap",
    "iter_synthetic_frames",
    "parse_clip_caption",
    "plan_synthetic_video",
    "render_in_layout",
    "render_synthetic_video",
]


if __name__ == "__main__":
    main()
