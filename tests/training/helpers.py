"""Tiny segment-level training data (CLS feature files + captions) and trainer construction for training tests."""

import os
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from tests.utils import make_tiny_config, make_tiny_model, make_tiny_processor, train_tiny_tokenizer
from transformers_recap.training.collator import CLS_FEATURES_KEY, VideoReCapDataCollator
from transformers_recap.training.sampler import MultiLevelDataset
from transformers_recap.training.trainer import VideoReCapTrainer


ACTIVITIES = ["C tidies the table.", "C sorts the cups.", "C packs the box.", "C cleans the kitchen."]
ACTIONS = ["#C C picks up the red cup", "#C C puts down the blue box", "#C C opens the yellow box"]


def make_segment_examples(directory: Path, count: int = 24, seed: int = 0) -> list[dict]:
    """Segment examples whose target depends on both the features and the context, with feature files on disk."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    examples = []
    for index in range(count):
        activity = index % len(ACTIVITIES)
        features = rng.normal(size=(6, 32)).astype(np.float32)
        features[:, activity] += 3.0
        path = directory / f"video-{index}.safetensors"
        save_file({CLS_FEATURES_KEY: torch.from_numpy(features)}, os.fspath(path))
        examples.append(
            {
                "video_uid": f"video-{index}",
                "start_sec": 0.0,
                "end_sec": 20.0,
                "text": ACTIVITIES[activity],
                "clip_captions_pred": [ACTIONS[(activity + step) % len(ACTIONS)] for step in range(3)],
                "clip_captions_gt": [ACTIONS[activity % len(ACTIONS)]],
                "features_path": os.fspath(path),
            }
        )
    return examples


def make_model_and_processor(seed: int = 0, dropout: float = 0.0):
    tokenizer = train_tiny_tokenizer()
    dropouts = {"resid_pdrop": dropout, "embd_pdrop": dropout, "attn_pdrop": dropout}
    config = make_tiny_config(tokenizer)
    config.text_config.update(dropouts)
    config.qformer_config.hidden_dropout_prob = dropout
    config.qformer_config.attention_probs_dropout_prob = dropout
    torch.manual_seed(seed)
    model = make_tiny_model(config)
    processor = make_tiny_processor(tokenizer, config)
    return model, processor


def make_trainer(
    model, processor, examples, output_dir, callbacks=None, levels=("segment",), module_warmup=None, **arguments
) -> VideoReCapTrainer:
    from transformers import Seq2SeqTrainingArguments

    defaults = {
        "per_device_train_batch_size": 4,
        "learning_rate": 5e-3,
        "lr_scheduler_type": "cosine",
        "warmup_steps": 1,
        "max_steps": 6,
        "logging_steps": 1,
        "save_strategy": "no",
        "report_to": [],
        "seed": 0,
        "use_cpu": True,
        "disable_tqdm": True,
    }
    args = Seq2SeqTrainingArguments(
        output_dir=os.fspath(output_dir), remove_unused_columns=False, **{**defaults, **arguments}
    )
    if levels is not None:
        model.set_trainable_levels(levels)
    return VideoReCapTrainer(
        model=model,
        args=args,
        train_dataset=MultiLevelDataset({"segment": examples}),
        data_collator=VideoReCapDataCollator(processor),
        processing_class=processor,
        callbacks=callbacks,
        module_warmup=module_warmup,
    )


def trainable_state(model) -> dict[str, torch.Tensor]:
    return {
        name: parameter.detach().clone() for name, parameter in model.named_parameters() if parameter.requires_grad
    }


def main(argv=None) -> None:
    """Entry point for the multi-process test: trains and saves the trainable weights (rank 0)."""
    argv = argv or sys.argv[1:]
    data_dir, output_dir, batch_size = Path(argv[0]), Path(argv[1]), int(argv[2])
    model, processor = make_model_and_processor(seed=0)
    examples = make_segment_examples(data_dir)
    trainer = make_trainer(model, processor, examples, output_dir, per_device_train_batch_size=batch_size, max_steps=4)
    trainer.train()
    if trainer.is_world_process_zero():
        torch.save(trainable_state(model), output_dir / "weights.pt")
        torch.save([entry["loss"] for entry in trainer.state.log_history if "loss" in entry], output_dir / "losses.pt")


if __name__ == "__main__":
    main()
