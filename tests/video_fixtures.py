"""Test videos written with PyAV, whose frames carry their own index, and a tiny saved Video ReCap model."""

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from tests.models.video_recap.test_modeling_video_recap import randomize
from tests.utils import (
    TINY_INPUT_SETTINGS,
    make_tiny_config,
    make_tiny_model,
    make_tiny_processor,
    train_tiny_tokenizer,
)
from transformers_recap import VideoReCapForConditionalGeneration, VideoReCapProcessor


CODE_BITS = 10
CODE_HEIGHT = 16


def code_frame(value: int, width: int, height: int, moving: int = 0) -> np.ndarray:
    """
    An RGB frame whose top band encodes `value` in `CODE_BITS` black/white stripes (most significant bit first), with
    a grey square moving along the bottom.
    """
    frame = np.full((height, width, 3), 40, dtype=np.uint8)
    stripe = width / CODE_BITS
    for bit in range(CODE_BITS):
        if value >> (CODE_BITS - 1 - bit) & 1:
            frame[:CODE_HEIGHT, round(bit * stripe) : round((bit + 1) * stripe)] = 255
    side = max(4, (height - CODE_HEIGHT) // 3)
    x = moving * 3 % max(1, width - side)
    frame[height - side :, x : x + side] = (200, 120, 60)
    return frame


def read_code(frame: np.ndarray, written_height: int | None = None) -> int:
    """The value written by `code_frame`, read from the centre of each stripe (`written_height`: the height the frame
    was written at, for frames scaled while decoding)."""
    height, width = frame.shape[:2]
    band = frame[: max(1, height * CODE_HEIGHT // (written_height or height) // 2)]
    stripe = width / CODE_BITS
    value = 0
    for bit in range(CODE_BITS):
        centre = int((bit + 0.5) * stripe)
        value = value << 1 | int(band[:, max(0, centre - 1) : centre + 2].mean() > 128)
    return value


def write_video(
    path: Path,
    num_frames: int,
    fps: float | Fraction = 30,
    width: int = 96,
    height: int = 64,
    rotation: int = 0,
    pts_ms: list[int] | None = None,
    gop: int | None = None,
    faststart: bool = False,
    container_format: str | None = None,
) -> Path:
    """
    Writes an H.264 video (MP4 unless `container_format` says otherwise) whose frame i shows code i. `pts_ms` gives each frame's presentation time in milliseconds
    (a variable frame rate); otherwise frames are evenly spaced at `fps`.
    """
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", format=container_format, options=options) as container:
        rate = Fraction(fps).limit_denominator(1001)
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "12", **({"g": str(gop), "keyint_min": str(gop)} if gop else {})}
        if rotation:
            stream.set_display_rotation(rotation)
        if pts_ms is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        for index in range(num_frames):
            frame = av.VideoFrame.from_ndarray(code_frame(index, width, height, index), format="rgb24")
            if pts_ms is not None:
                frame.pts, frame.time_base = pts_ms[index], Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_audio_only(path: Path, seconds: float = 1.0) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        samples = int(seconds * 16000)
        tone = (0.2 * np.sin(np.arange(samples) * 2 * np.pi * 440 / 16000)).astype(np.float32)[None]
        frame = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
        frame.sample_rate = 16000
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_frameless_video(path: Path) -> Path:
    """A container with a video track header and no frames (a zero-length video)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        container.start_encoding()
    return path


def save_tiny_model(directory: Path, unified: bool = False, min_new_tokens: int = 2) -> Path:
    """A random tiny Video ReCap (-U) model and its processor saved to `directory` (captions are never empty)."""
    tokenizer = train_tiny_tokenizer()
    config = make_tiny_config(tokenizer, unified=unified)
    model = randomize(make_tiny_model(config))
    model.generation_config.min_new_tokens = min_new_tokens
    # The tiny decoder has 128 positions; long contexts are cut as the real model cuts them at 512.
    processor = make_tiny_processor(
        tokenizer,
        config,
        **{level: {**TINY_INPUT_SETTINGS[unified][level], "max_context_tokens": 96} for level in ("segment", "video")},
    )
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    return directory


def load_tiny(directory: Path):
    model = VideoReCapForConditionalGeneration.from_pretrained(directory).eval()
    processor = VideoReCapProcessor.from_pretrained(directory)
    return model, processor
