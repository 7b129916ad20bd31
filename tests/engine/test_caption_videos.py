"""Captioning many videos at once: cross-video batches give the captions of one video at a time; the progress bar."""

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from tests.video_fixtures import load_tiny, save_tiny_model, write_video
from transformers_recap import HierarchicalCaptioner, VideoDecodingError
from transformers_recap.engine.captioner import DECODING_STEP_MIN_ROWS


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return load_tiny(save_tiny_model(tmp_path_factory.mktemp("tiny")))


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("videos")
    # 10 s, 3 s, 21.5 s, 1 s, 6 s at 24 fps: 3, 1, 6, 1 and 2 clips.
    return [
        write_video(folder / f"{index}.mp4", int(seconds * 24), 24)
        for index, seconds in enumerate((10, 3, 21.5, 1, 6))
    ]


def test_library_equals_one_video_at_a_time(tiny, videos, tmp_path, monkeypatch):
    model, processor = tiny
    options = {"segment_seconds": 8, "batch_size": 4, "progress": False}
    reference = [HierarchicalCaptioner(model, processor, **options).caption_video(str(video)) for video in videos]
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    inputs = [str(videos[0]), str(broken), *map(str, videos[1:])]

    calls = []
    generate = model.generate

    def spy(level, **kwargs):
        calls.append((level, len(next(iter(kwargs.values())))))
        return generate(level=level, **kwargs)

    monkeypatch.setattr(model, "generate", spy)
    captioner = HierarchicalCaptioner(model, processor, **options)
    results = dict(captioner.caption_videos(inputs))
    monkeypatch.undo()

    assert sorted(results) == list(range(len(inputs)))
    assert isinstance(results[1], VideoDecodingError) and "not a readable video file" in str(results[1])
    got = [results[index] for index in (0, 2, 3, 4, 5)]
    assert [result.to_dict() for result in got] == [result.to_dict() for result in reference]
    # 13 clips in full batches of 4 across videos (one video at a time: 6 calls); the segment windows and the summaries
    # of different videos share calls too.
    assert [size for level, size in calls if level == "clip"] == [4, 4, 4, 1]
    segment_calls = [size for level, size in calls if level == "segment"]
    assert sum(segment_calls) == sum(len(result.segments) for result in reference) == 8
    assert max(segment_calls) == 4
    assert [size for level, size in calls if level == "video"] == [4, 1]


def test_max_waiting_videos_hands_out_videos_early(tiny, videos):
    model, processor = tiny
    captioner = HierarchicalCaptioner(model, processor, segment_seconds=8, batch_size=4, progress=False)
    order = [index for index, _ in captioner.caption_videos(map(str, videos), max_waiting_videos=1)]
    assert order == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="max_waiting_videos"):
        next(captioner.caption_videos([], max_waiting_videos=0))


# ---------------------------------------------------------------------------------------------------------------------
# Progress
# ---------------------------------------------------------------------------------------------------------------------


class RecordingBar:
    """Stands in for the tqdm bar: records its total and every update."""

    def __init__(self, total):
        self.total, self.n, self.updates, self.descriptions, self.totals = total, 0.0, [], [], []

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return None

    def update(self, amount):
        self.n += amount
        self.updates.append((self.descriptions[-1], amount))
        self.totals.append(self.total)

    def set_description(self, text):
        self.descriptions.append(text)

    def refresh(self):
        return None


def counted_flops(function) -> int:
    with FlopCounterMode(display=False) as counter:
        function()
    return counter.get_total_flops()


@pytest.fixture
def recording_bars(monkeypatch):
    bars = []

    def progress_bar(self, total):
        bars.append(RecordingBar(total))
        return bars[-1]

    monkeypatch.setattr(HierarchicalCaptioner, "_progress_bar", progress_bar)
    return bars


def test_the_progress_bar_weights_clips_and_decoding_steps_by_their_flops(tiny, videos, recording_bars):
    model, processor = tiny
    config = model.config
    vision = config.vision_config
    # The FLOPs torch counts: one clip through the encoder, and one more decoded row (a 2-token minus a 1-token pass).
    clip = torch.zeros(1, vision.num_frames, 3, vision.image_size, vision.image_size)
    memory = torch.zeros(1, 6, config.qformer_config.hidden_size)

    def decoder_pass(length):
        ids = torch.zeros(1, length, dtype=torch.long)
        return counted_flops(lambda: model(input_ids=ids, encoder_hidden_states=memory, level="clip", use_cache=False))

    with torch.no_grad():
        encode = counted_flops(lambda: model.get_video_features(clip))
        row = decoder_pass(2) - decoder_pass(1)
    captioner = HierarchicalCaptioner(model, processor, segment_seconds=8, batch_size=4)
    assert captioner.clip_encoding_flops() == pytest.approx(encode, rel=1e-9)
    assert captioner.decoding_step_flops() == pytest.approx(row, rel=1e-9)

    # 21.5 s: clips in batches of 4 and 2, then 3 segment windows in one batch, then the summary; the tiny model's
    # budgets are 12, 12 and 16 tokens, and a step of fewer than 32 rows costs 32 rows.
    captioner.caption_video(str(videos[2]))
    bar = recording_bars[-1]
    step = DECODING_STEP_MIN_ROWS * row
    expected = [
        ("clips", 4 * encode + 12 * step),
        ("clips", 2 * encode + 12 * step),
        ("segments", 12 * step),
        ("summary", 16 * step),
    ]
    assert [name for name, _ in bar.updates] == [name for name, _ in expected]
    assert [amount for _, amount in bar.updates] == pytest.approx([amount for _, amount in expected], rel=1e-9)
    assert bar.total == pytest.approx(sum(amount for _, amount in expected), rel=1e-9)
    # By caption counts the summary would be 1 of 10 (the bar at 90% while it runs); by its cost it is about 30%.
    assert bar.updates[-1][1] / bar.total > 0.29


def test_the_library_bar_counts_the_library_from_the_start_and_ends_full(tiny, videos, recording_bars):
    model, processor = tiny
    captioner = HierarchicalCaptioner(model, processor, segment_seconds=8, batch_size=4)
    # The stated durations (10, 3, 21.5, 1, 6 s) and a wrong one for the last video (it has 2 clips, not 5).
    durations = [10, 3, 21.5, 1, 20]
    list(captioner.caption_videos(map(str, videos), durations=durations))
    bar = recording_bars[-1]
    # Every window's share of a full batch: 13 clips, 8 segment windows and 5 summaries; planned from the durations,
    # 3 + 1 + 6 + 1 + 5 clips and 2 + 1 + 3 + 1 + 3 windows.
    share = {level: captioner._batch_cost(level, 4) / 4 for level in ("clip", "segment", "video")}
    planned = 16 * share["clip"] + 10 * share["segment"] + 5 * share["video"]
    assert bar.totals[0] == pytest.approx(planned, rel=1e-9)
    assert bar.total == pytest.approx(13 * share["clip"] + 8 * share["segment"] + 5 * share["video"], rel=1e-9)
    assert bar.n == pytest.approx(bar.total, rel=1e-9)
