"""The bundled demo model and `transformers-recap demo`: a trained model, loaded offline, captioning unseen videos."""

import json
from pathlib import Path

from transformers_recap import VideoReCapForConditionalGeneration, VideoReCapProcessor, cli, demo_model_path
from transformers_recap.data.synthetic import SYNTHETIC_SETTINGS_FILE
from transformers_recap.demo import run_demo


def test_bundled_model_is_complete_and_small():
    directory = Path(demo_model_path())
    files = {path.name: path.stat().st_size for path in directory.iterdir()}
    assert {
        "config.json",
        "model.safetensors",
        "processor_config.json",
        "tokenizer.json",
        SYNTHETIC_SETTINGS_FILE,
    } <= set(files)
    assert sum(files.values()) < 20 * 2**20
    model, info = VideoReCapForConditionalGeneration.from_pretrained(directory, output_loading_info=True)
    assert not any(info.values()), info
    processor = VideoReCapProcessor.from_pretrained(directory)
    processor.check_model_config(model.config)
    assert model.generation_config.use_cache and model.config.text_config.use_cache  # shipped with the KV cache on
    layout = json.loads((directory / SYNTHETIC_SETTINGS_FILE).read_text())
    assert set(layout) >= {"seeds", "size", "fps", "clip_seconds", "clips_per_segment", "segments_per_video"}


def test_demo_captions_an_unseen_video_like_the_ground_truth(tmp_path):
    result = run_demo(seed=31337, output_dir=tmp_path, device="cpu", progress=False)
    truth = result.truth
    assert len(result.captions.clips) == len(truth.clips)
    assert [(c.start, c.end) for c in result.captions.clips] == [(c.start_sec, c.end_sec) for c in truth.clips]
    assert [(s.start, s.end) for s in result.captions.segments] == [(s.start_sec, s.end_sec) for s in truth.segments]
    # A random or broken model gets next to none of the clip captions exactly right.
    assert result.clip_accuracy() >= 0.5
    assert result.captions.summary
    report = result.report()
    for heading in ("Clip captions", "Segment descriptions", "Video summary", "truth:"):
        assert heading in report


def test_demo_command(tmp_path, capsys):
    assert cli.main(["demo", "--seed", "4242", "--output-dir", str(tmp_path), "--device", "cpu", "--no-progress"]) == 0
    output = capsys.readouterr().out
    assert "Video summary" in output and (tmp_path / "synthetic-4242-00000.mp4").is_file()
    seed = json.loads((Path(demo_model_path()) / SYNTHETIC_SETTINGS_FILE).read_text())["seeds"][0]
    assert cli.main(["demo", "--seed", str(seed), "--output-dir", str(tmp_path)]) == 1
    assert "generated the model's training or validation data" in capsys.readouterr().err


def test_demo_with_a_directory_that_is_no_synthetic_model(tmp_path, capsys):
    assert cli.main(["demo", "--model", str(tmp_path / "nowhere"), "--output-dir", str(tmp_path)]) == 1
    error = capsys.readouterr().err
    assert error.startswith("transformers-recap: error:") and "not a Synthetic-HCap model directory" in error
