"""Hierarchical curriculum training of Video ReCap (clip -> segment -> video), with Accelerate.

    python examples/train_curriculum.py --config examples/configs/smoke_synthetic.yaml --output-dir outputs/smoke
    accelerate launch examples/train_curriculum.py --config examples/configs/video_recap_ego4d.yaml
    python examples/train_curriculum.py --config examples/configs/demo_synthetic.yaml
    python examples/train_curriculum.py --config CONFIG.yaml --max-steps 20 training.learning_rate=1e-4

Each stage trains one level (Video ReCap) or the levels up to it (Video ReCap-U), starting from the previous stage's
weights; between stages the script itself captions the training videos with the recursive engine and writes the
predictions where the next stage reads them. See `transformers_recap.training.curriculum` for the output layout.
Arguments after the options are `key=value` overrides of the configuration (dotted keys, YAML values), e.g.
`stages.clip.num_train_epochs=2` or `data.pseudo=true`.
"""

import json
import sys
from dataclasses import dataclass, field

from transformers import HfArgumentParser

from transformers_recap.training.checkpoints import CheckpointError
from transformers_recap.training.curriculum import STAGES, CurriculumConfigError, load_curriculum_config


@dataclass
class ScriptArguments:
    config: str = field(metadata={"help": "curriculum YAML (see examples/configs/)"})
    output_dir: str | None = field(default=None, metadata={"help": "where the run writes (overrides output_dir)"})
    stage: str = field(
        default="all", metadata={"help": "run one stage, or all (default)", "choices": [*STAGES, "all"]}
    )
    max_steps: int | None = field(
        default=None, metadata={"help": "bound every training run (caption LM, each stage) to N steps: smoke runs"}
    )
    resume: bool = field(default=False, metadata={"help": "resume each stage from its last complete checkpoint"})
    no_eval: bool = field(default=False, metadata={"help": "skip the validation captioning after each stage"})


def parse_args(argv=None) -> tuple[ScriptArguments, list[str]]:
    """The options, and the `key=value` overrides that follow them."""
    parser = HfArgumentParser(ScriptArguments, description=__doc__.splitlines()[0])
    args, overrides = parser.parse_args_into_dataclasses(
        args=argv, return_remaining_strings=True, look_for_args_file=False
    )
    for item in overrides:
        if item.startswith("-"):
            parser.error(f"unrecognized argument {item}")
    return args, overrides


def main(argv=None) -> int:
    args, overrides = parse_args(argv)
    try:
        if args.max_steps is not None and args.max_steps < 1:
            raise CurriculumConfigError(f"--max-steps must be at least 1, got {args.max_steps}.")
        curriculum = load_curriculum_config(args.config, overrides=overrides, output_dir=args.output_dir)
        stages = None if args.stage == "all" else [args.stage]
        results = curriculum.run(
            stages=stages, max_steps=args.max_steps, resume=args.resume, evaluate=not args.no_eval
        )
    except (CurriculumConfigError, CheckpointError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if results:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
