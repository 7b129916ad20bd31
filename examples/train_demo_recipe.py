"""The whole "pseudo ✓" recipe in one command: LLM teacher -> pseudo annotations -> curriculum.

    OMP_NUM_THREADS=1 python examples/train_demo_recipe.py --config examples/configs/demo_recipe.yaml
    OMP_NUM_THREADS=1 python examples/train_demo_recipe.py --config examples/configs/demo_recipe.yaml pseudo=false

The recipe YAML names a teacher configuration and a curriculum configuration (see
`transformers_recap.training.recipe`); the three steps share `<output_dir>/data`. `pseudo=false` runs the same
curriculum without the teacher and its pseudo data, into `<output_dir>/curriculum_no_pseudo` (the Table 6b ablation).
Arguments after the options are `key=value` overrides of the recipe YAML, e.g.
`export_dir=src/transformers_recap/demo_model allow_package_export=true` (replaces the bundled demo model).
"""

import argparse
import json
import sys

from transformers_recap.training.checkpoints import CheckpointError
from transformers_recap.training.config_parsing import ConfigError


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="recipe YAML (see examples/configs/demo_recipe.yaml)")
    parser.add_argument("--max-steps", type=int, default=None, help="bound every training run to N steps (smoke)")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="settings over the recipe YAML's")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    from transformers_recap.training.recipe import load_recipe_config, run_recipe

    args = parse_args(argv)
    try:
        results = run_recipe(load_recipe_config(args.config, args.overrides), max_steps=args.max_steps)
    except (ConfigError, CheckpointError, FileNotFoundError) as error:
        print(f"error: {str(error).splitlines()[0]}", file=sys.stderr)
        return 2
    print(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
