"""Fine-tune and evaluate the LLM teacher of Video ReCap (Sec. 3.4, Table 6a), with Accelerate.

    accelerate launch examples/train_llm_teacher.py --config examples/configs/teacher_ego4d.yaml
    python examples/train_llm_teacher.py --config examples/configs/teacher_synthetic.yaml
    python examples/train_llm_teacher.py --config CONFIG.yaml --max-steps 20            # smoke run

The teacher maps ground-truth clip captions to segment descriptions and segment descriptions to video summaries; it
is trained on the manual Ego4D-HCap annotations and evaluated by generation on the validation split (CIDEr / ROUGE-L /
METEOR, printed in the layout of Table 6a). Then `examples/generate_pseudo_annotations.py` writes pseudo annotations
with it. See `transformers_recap.training.teacher` for the pair sampling and the output layout.
"""

import argparse
import sys

from transformers_recap.training.teacher_cli import add_teacher_arguments, run_teacher


def parse_args(argv=None) -> argparse.Namespace:
    return add_teacher_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0])).parse_args(argv)


def main(argv=None) -> int:
    return run_teacher(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
