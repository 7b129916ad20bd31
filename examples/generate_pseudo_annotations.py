"""Write pseudo segment descriptions and video summaries with a trained LLM teacher (Sec. 3.4), resumably.

    accelerate launch examples/generate_pseudo_annotations.py --config examples/configs/teacher_ego4d.yaml
    python examples/generate_pseudo_annotations.py --config examples/configs/teacher_synthetic.yaml

Runs the teacher over windows of the training videos that have clip captions but no higher-level annotation and
writes `segments_train_pseudo.pkl` and `videos_train_pseudo.json` next to `clips_train.pkl`, where the curriculum
reads them with `data.pseudo: true`. A killed run loses nothing already written: rerun the same command to continue
(`--restart` starts over). See `transformers_recap.training.teacher.pseudo` for the windows.
"""

import argparse
import sys

from transformers_recap.training.teacher_cli import add_pseudo_arguments, run_pseudo


def parse_args(argv=None) -> argparse.Namespace:
    return add_pseudo_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0])).parse_args(argv)


def main(argv=None) -> int:
    return run_pseudo(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
