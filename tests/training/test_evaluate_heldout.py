"""examples/evaluate_synthetic_heldout.py on the bundled demo model and one held-out video."""

import json

from transformers_recap.data.synthetic import plan_synthetic_video
from transformers_recap.metrics import compute_caption_metrics

from .test_teacher import load_example, make_tiny_hcap


def test_heldout_scores_are_the_metrics_of_the_written_predictions(tmp_path, capsys):
    make_tiny_hcap(tmp_path / "data")
    script = load_example("evaluate_synthetic_heldout")
    arguments = ["--seeds", "7000", "--model", "demo=demo", "--train-data", str(tmp_path / "data")]
    assert script.main([*arguments, "--work-dir", str(tmp_path / "out")]) == 0
    assert "| demo |" in capsys.readouterr().out
    written = json.loads((tmp_path / "out" / "predictions.json").read_text())
    truth = plan_synthetic_video("synthetic-7000-00000", (7000, 0))
    assert written["references"]["video"] == [truth.summary]
    assert written["references"]["segment"] == [segment.description for segment in truth.segments]
    assert len(written["predictions"]["demo"]["clip"]) == len(truth.clips)
    for name, per_level in written["predictions"].items():
        for level, predictions in per_level.items():
            expected = compute_caption_metrics(predictions, written["references"][level])
            assert abs(written["scores"][name][level]["CIDEr"] - 100 * expected["CIDEr"]) < 1e-9
    baseline = written["predictions"]["most frequent training caption"]["video"]
    assert len(baseline) == 1


def test_seeds_of_the_training_data_are_refused(tmp_path, capsys):
    script = load_example("evaluate_synthetic_heldout")
    assert script.main(["--seeds", "0", "--model", "demo", "--work-dir", str(tmp_path)]) == 2
    assert "seed 0 made training or validation data" in capsys.readouterr().err


def test_given_ground_truth_rows_read_the_truth_below(tmp_path):
    """The video level given the ground-truth descriptions, against the model run by hand on the same inputs."""
    import torch

    from transformers_recap import demo_model_path
    from transformers_recap.engine.video_io import read_clip_frames
    from transformers_recap.models.video_recap import VideoReCapForConditionalGeneration, VideoReCapProcessor

    script = load_example("evaluate_synthetic_heldout")
    arguments = ["--seeds", "7000", "--model", "demo=demo", "--given-ground-truth", "--work-dir", str(tmp_path)]
    assert script.main(arguments) == 0
    written = json.loads((tmp_path / "predictions.json").read_text())
    truth = plan_synthetic_video("synthetic-7000-00000", (7000, 0))
    phrases = [segment.description[len("C ") : -len(".")] for segment in truth.segments]
    expected_template = "C " + ", then ".join(phrases[:-1]) + ", and finally " + phrases[-1] + "."
    assert written["predictions"]["summary template of the ground-truth segment descriptions"]["video"] == [
        expected_template
    ]
    own = written["predictions"]["demo"]["segment"]
    own_template = written["predictions"]["summary template of demo's segment descriptions"]["video"][0]
    assert own_template.startswith("C " + own[0][len("C ") : -len(".")] + ", then ")

    model = VideoReCapForConditionalGeneration.from_pretrained(demo_model_path()).eval()
    processor = VideoReCapProcessor.from_pretrained(demo_model_path())
    video = tmp_path / "videos" / "synthetic-7000-00000.mp4"
    frames = [read_clip_frames(video, clip.start_sec, clip.end_sec, 4) for clip in truth.clips]
    with torch.no_grad():
        pixels = processor(videos=frames, return_tensors="pt")["pixel_values_videos"]
        cls = torch.cat([model.get_video_features(pixels[i : i + 1]).pooler_output for i in range(len(frames))])
        inputs = {
            **processor.prepare_video_features([cls], "video"),
            **processor.prepare_context([[segment.description for segment in truth.segments]], "video"),
        }
        summary = processor.batch_decode(model.generate(level="video", **inputs))[0]
    given = written["predictions"]["demo (given the ground truth below)"]
    assert given["video"] == [summary]
    assert len(given["segment"]) == len(truth.segments)
