# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
The bundled demo: a tiny Video ReCap trained on Synthetic-HCap (`examples/configs/demo_synthetic.yaml`), and a run
that renders a synthetic video from a seed the model never saw, captions it offline at the three levels and prints
the captions next to the ground truth.
"""

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from .data.synthetic import (
    SYNTHETIC_SETTINGS_FILE,
    SyntheticVideo,
    parse_clip_caption,
    render_in_layout,
)
from .engine import HierarchicalCaptioner, HierarchicalCaptions
from .models.video_recap import VideoReCapForConditionalGeneration, VideoReCapProcessor


DEMO_MODEL_DIRECTORY = Path(__file__).resolve().parent / "demo_model"


def demo_model_path() -> str:
    """Directory of the bundled demo model (config, safetensors weights, processor and tokenizer)."""
    if not (DEMO_MODEL_DIRECTORY / "config.json").is_file():
        raise FileNotFoundError(
            f"The demo model is missing from {DEMO_MODEL_DIRECTORY}; rebuild it with python examples/train_curriculum.py "
            "--config examples/configs/demo_synthetic.yaml."
        )
    return os.fspath(DEMO_MODEL_DIRECTORY)


@dataclass
class DemoResult:
    """A demo run: the rendered video, its ground truth and the model's captions."""

    video_path: str
    truth: SyntheticVideo
    captions: HierarchicalCaptions

    def clip_accuracy(self) -> float:
        """
        Fraction of clips whose predicted caption says what the ground truth says (same action, object and
        direction, in any of the paraphrases; see [`parse_clip_caption`]).
        """
        clips = self.truth.clips
        hits = sum(_same_clip(pred.text, clip.caption) for pred, clip in zip(self.captions.clips, clips, strict=True))
        return hits / len(clips)

    def report(self) -> str:
        """The three levels, predictions next to the ground truth (`=`: the same action, object and direction)."""
        lines = [
            f"Video {self.video_path} ({self.truth.duration_sec:.0f} s, unseen seed)",
            "",
            "Clip captions (every 4 s)",
        ]
        for predicted, clip in zip(self.captions.clips, self.truth.clips, strict=True):
            mark = "=" if _same_clip(predicted.text, clip.caption) else "x"
            lines.append(f"  {_clock(clip.start_sec)}-{_clock(clip.end_sec)} {mark} {predicted.text}")
            if mark == "x":
                lines.append(f"  {'':11}   truth: {clip.caption}")
        lines += ["", "Segment descriptions"]
        for predicted, segment in zip(self.captions.segments, self.truth.segments, strict=True):
            lines.append(f"  {_clock(segment.start_sec)}-{_clock(segment.end_sec)} model: {predicted.text}")
            lines.append(f"  {'':11} truth: {segment.description}")
        lines += ["", "Video summary", f"  model: {self.captions.summary}", f"  truth: {self.truth.summary}", ""]
        lines.append(
            f"Clip captions saying what the truth says (action, object, direction): {self.clip_accuracy():.0%} of "
            f"{len(self.truth.clips)}"
        )
        return "\n".join(lines)


def _same_clip(predicted: str, truth: str) -> bool:
    parsed = parse_clip_caption(predicted)
    return parsed is not None and parsed == parse_clip_caption(truth)


def _clock(seconds: float) -> str:
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}"


def run_demo(
    seed: int = 2026,
    model: str | os.PathLike | None = None,
    output_dir: str | os.PathLike | None = None,
    device: str | None = None,
    progress: bool = True,
) -> DemoResult:
    """
    Renders the synthetic video of `seed` (in the demo model's training layout) and captions it at three levels.

    Args:
        seed (`int`): any seed other than those of the model's training and validation data.
        model (`str`, *optional*): a Synthetic-HCap model directory (default: the bundled demo model).
        output_dir (`str`, *optional*): where the video is written (default: a temporary directory).
        device (`str`, *optional*): e.g. `"cpu"` or `"cuda"` (default: CUDA if available).
    """
    model_dir = Path(model) if model is not None else Path(demo_model_path())
    settings_file = model_dir / SYNTHETIC_SETTINGS_FILE
    if not settings_file.is_file():
        raise FileNotFoundError(
            f"{model_dir} is not a Synthetic-HCap model directory (it has no {SYNTHETIC_SETTINGS_FILE}, which "
            "examples/train_curriculum.py writes next to a model it exports)."
        )
    settings = json.loads(settings_file.read_text())
    if seed in settings["seeds"]:
        raise ValueError(f"Seed {seed} generated the model's training or validation data; choose another.")
    output_dir = Path(output_dir or tempfile.mkdtemp(prefix="video-recap-demo-"))
    output_dir.mkdir(parents=True, exist_ok=True)
    truth, video_path = render_in_layout(settings, seed, output_dir)

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    recap = VideoReCapForConditionalGeneration.from_pretrained(model_dir).to(device).eval()
    processor = VideoReCapProcessor.from_pretrained(model_dir)
    captioner = HierarchicalCaptioner(recap, processor, batch_size=32, progress=progress)
    return DemoResult(os.fspath(video_path), truth, captioner.caption_video(os.fspath(video_path)))


__all__ = ["DemoResult", "demo_model_path", "run_demo"]
