"""The paper's ablations at demo scale, on held-out Synthetic-HCap seeds, next to a trivial baseline.

    python examples/ablations_synthetic.py --config examples/configs/demo_synthetic.yaml --output-dir outputs/ablations

Runs (or reuses) the demo curriculum of `--config`, then trains variants of it and scores every level on the
validation split (videos from a seed no training video came from), x100 as the paper reports:

- Video ReCap: the curriculum as configured (recursive inputs: CLS features + the lower level's predicted captions);
- no curriculum (Table 5): the segment and video levels start from their initial weights instead of the level below;
- video-only / text-only inputs (Tables 4 and 7): the segment and video levels read only the CLS features, or only
  the lower level's captions;
- Video ReCap-U: one set of level modules for all levels, batches alternating between levels (stage 2: clip and
  segment, stage 3: all three);
- the most frequent training caption of each level, predicted for every example.

The variants above the clip level reuse the demo run's clip stage and extracted clip predictions (copied). Prints a
Markdown table and writes `<output-dir>/ablations.json`. Arguments after the options are `key=value` overrides of
the configuration, applied to the demo run and every variant (e.g. `output_dir=outputs/demo_b seed=1`).
"""

import argparse
import copy
import json
import shutil
import sys
from pathlib import Path

from transformers_recap import LEVELS
from transformers_recap.data import load_ego4d_hcap
from transformers_recap.metrics import compute_caption_metrics
from transformers_recap.training.curriculum import Curriculum, CurriculumConfig, CurriculumConfigError
from transformers_recap.training.curriculum.config import read_config_mapping
from transformers_recap.training.evaluation import most_frequent_caption
from transformers_recap.training.overrides import ConfigOverrideError, apply_overrides


SHARED_FROM_BASE = ("text_model", "clip", "extraction/clip", "annotations/segment")


def variants(base: dict) -> dict[str, dict]:
    """Variant name -> curriculum configuration (without export)."""
    base = copy.deepcopy(base)
    base.pop("export_dir", None)

    def variant(name: str) -> dict:
        config = copy.deepcopy(base)
        config["output_dir"] = name
        return config

    level_settings = base.setdefault("model", {}).setdefault("config", {}).setdefault("level_settings", {})
    base.setdefault("stages", {})
    no_curriculum = variant("no_curriculum")
    for stage in ("segment", "video"):
        no_curriculum["stages"].setdefault(stage, {})["init"] = "scratch"
    video_only, text_only = variant("video_only"), variant("text_only")
    for level in ("segment", "video"):
        # The processor must agree: no previous-level text (no CLS features) for a level without text (video) queries.
        video_only["model"]["config"]["level_settings"].setdefault(level, {})["num_text_queries"] = 0
        video_only["model"].setdefault("input_settings", {}).setdefault(level, {})["context_separator"] = None
        text_only["model"]["config"]["level_settings"].setdefault(level, {})["num_video_queries"] = 0
        text_only["model"].setdefault("input_settings", {}).setdefault(level, {})["num_video_features"] = None
    video_only["stages"].get("video", {}).pop("context_copy_steps", None)  # it reads no text to copy
    unified = variant("video_recap_u")
    unified["model"]["unified"] = True
    # One query tensor per branch is shared by every level: use the largest counts of the separate model.
    video_queries = max(settings.get("num_video_queries", 0) for settings in level_settings.values())
    text_queries = max(settings.get("num_text_queries", 0) for settings in level_settings.values())
    for level in LEVELS:
        settings = unified["model"]["config"]["level_settings"].setdefault(level, {})
        settings["num_video_queries"] = video_queries
        if level != "clip":
            settings["num_text_queries"] = text_queries
    return {
        "no curriculum (segment/video from initial weights)": no_curriculum,
        "video-only inputs": video_only,
        "text-only inputs": text_only,
        "Video ReCap-U": unified,
    }


def stage_metrics(curriculum: Curriculum) -> dict[str, dict[str, float]]:
    """Validation scores per level, each from the stage that trained it last."""
    results = {}
    for stage in LEVELS:
        path = curriculum.stage_dir(stage) / "metrics.json"
        if path.is_file():
            results.update(json.loads(path.read_text()))
    return results


def trivial_baseline(curriculum: Curriculum) -> dict[str, dict[str, float]]:
    """Scores of predicting the most frequent training caption of each level for every validation example."""
    results = {}
    for level in LEVELS:
        kwargs = {"cache_dir": curriculum.output_dir / "cache"}
        train = load_ego4d_hcap(level, curriculum.data_dir, split="train", **kwargs)["text"]
        references = load_ego4d_hcap(level, curriculum.data_dir, split="validation", **kwargs)["text"]
        predictions = [most_frequent_caption(train)] * len(references)
        scores = compute_caption_metrics(predictions, references)
        results[level] = {
            "CIDEr": 100 * scores["CIDEr"],
            "ROUGE_L": 100 * scores["rougeLsum"],
            "METEOR": 100 * scores["METEOR"],
        }
    return results


def table(rows: dict[str, dict[str, dict[str, float]]]) -> str:
    header = "| variant | " + " | ".join(f"{level} C / R / M" for level in LEVELS) + " |"
    lines = [header, "|---|" + "---:|" * len(LEVELS)]
    for name, per_level in rows.items():
        cells = []
        for level in LEVELS:
            scores = per_level.get(level)
            cells.append(
                "-" if scores is None else " / ".join(f"{scores[key]:.1f}" for key in ("CIDEr", "ROUGE_L", "METEOR"))
            )
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="the demo curriculum (examples/configs/demo_synthetic.yaml)")
    parser.add_argument("--output-dir", "--output", required=True, help="directory for the variants' runs")
    parser.add_argument("--only", nargs="*", help="run only these variants (names as printed)")
    args, overrides = parser.parse_known_args(argv)
    for item in overrides:
        if item.startswith("-"):
            parser.error(f"unrecognized argument {item}")
    try:
        base_config, _ = apply_overrides(read_config_mapping(args.config), overrides)
        base = Curriculum(CurriculumConfig.from_dict(base_config, source=args.config))
        base.run()  # skips the stages already trained
        rows = {"Video ReCap (curriculum, recursive inputs)": stage_metrics(base)}
        output = Path(args.output_dir)
        for name, config in variants(base_config).items():
            if args.only and name not in args.only:
                continue
            config["output_dir"] = str(output / config["output_dir"])
            config.setdefault("data", {}).update(data_dir=str(base.data_dir), video_dir=str(base.video_dir))
            config["data"].pop("synthetic", None)  # the base run generated the data
            run_dir = Path(config["output_dir"])
            shared = ("text_model",) if config["model"].get("unified") else SHARED_FROM_BASE
            for relative in shared:
                if not (run_dir / relative).exists() and (base.output_dir / relative).exists():
                    shutil.copytree(base.output_dir / relative, run_dir / relative)
            curriculum = Curriculum(CurriculumConfig.from_dict(config, source=f"{args.config} ({name})"))
            curriculum.run()
            rows[name] = stage_metrics(curriculum)
    except (CurriculumConfigError, ConfigOverrideError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    rows["most frequent training caption"] = trivial_baseline(base)
    print(table(rows))
    output.mkdir(parents=True, exist_ok=True)
    (output / "ablations.json").write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
