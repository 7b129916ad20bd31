"""Hierarchical curriculum training of Video ReCap (clip -> segment -> video), with Accelerate.

    accelerate launch examples/train_curriculum.py --config examples/configs/video_recap_ego4d.yaml
    python examples/train_curriculum.py --config examples/configs/demo_synthetic.yaml
    python examples/train_curriculum.py --config CONFIG.yaml --stage segment --max-steps 20

Each stage trains one level (Video ReCap) or the levels up to it (Video ReCap-U), starting from the previous stage's
weights; between stages the script itself captions the training videos with the recursive engine and writes the
predictions where the next stage reads them. See `transformers_recap.training.curriculum` for the output layout.
"""

import argparse
import json
import sys

from transformers_recap.training.curriculum import STAGES, CurriculumConfigError, load_curriculum_config


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="curriculum YAML (see examples/configs/)")
    parser.add_argument("--stage", choices=[*STAGES, "all"], default="all", help="run one stage, or all (default)")
    parser.add_argument(
        "--max-steps", type=int, default=None, help="stop each stage after N optimiser steps (smoke runs)"
    )
    parser.add_argument("--resume", action="store_true", help="resume each stage from its last checkpoint")
    parser.add_argument("--no-eval", action="store_true", help="skip the validation captioning after each stage")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        curriculum = load_curriculum_config(args.config)
        stages = None if args.stage == "all" else [args.stage]
        results = curriculum.run(
            stages=stages, max_steps=args.max_steps, resume=args.resume, evaluate=not args.no_eval
        )
    except (CurriculumConfigError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if results:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
