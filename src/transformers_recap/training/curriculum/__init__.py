# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
Hierarchical curriculum training of Video ReCap (Islam et al., CVPR 2024, Sec. 3.3; original `train.py`,
`train_unified.py` and `scripts/*.sh` for the settings).

1. **clip**: train clip captions on video frames.
2. the clip model captions every clip of the training and validation videos and keeps their CLS features
   (through the recursive engine); the segment examples get these predicted clip captions as input.
3. **segment**: train segment descriptions on CLS features + predicted clip captions, starting from the clip weights.
4. the segment model describes every segment window; the video examples get these predicted descriptions.
5. **video**: train video summaries, starting from the segment weights.

Only the level-specific parts train (gated cross-attention blocks, GPT-2 `ln_1`/`ln_2`, the Q-Formers'
cross-attention and the query tokens); the encoder, GPT-2 and the rest of the Q-Formers stay frozen. Video ReCap-U
shares one set of those parts across levels and alternates batches between levels: stage 2 trains clip + segment,
stage 3 all three, the lower levels subsampled to the higher level's size.

The modules: `config` (the typed options and their parsing), `stages` (the model of each stage, what trains, the
training arguments), `extraction` (the predicted inputs between stages), `runner` ([`Curriculum`]: the run).

Stage outputs under `output_dir`:

```
text_model/              the caption tokenizer and GPT-2 trained first (model.text: {pretrain: ...})
<stage>/checkpoints/     Trainer checkpoints (optimizer, scheduler, sampler position and RNG: exact resume), each
                         marked complete by checkpoint_complete.json once it is on disk
<stage>/model/           the model and processor after the stage (what the next stage starts from); finished once
                         curriculum_run.json (the --max-steps it was trained with) exists
<stage>/context_copy/    with stages.<stage>.context_copy_steps: the warm-up's checkpoints, train_log.json and the
                         parameters it trained (trainable.safetensors, reused by a resumed stage)
<stage>/metrics.json     CIDEr / ROUGE-L / METEOR per trained level on the validation split
extraction/clip/         per-video CLS features (<vid>.safetensors) and predicted clip captions (<vid>.json)
extraction/segment/      per-video predicted segment descriptions (<vid>.json)
annotations/<stage>/     Ego4D-HCap annotation files whose *_pred inputs are the extracted predictions
```
"""

from .config import CurriculumConfig, CurriculumConfigError, read_curriculum_config, stage_levels
from .runner import Curriculum, load_curriculum_config
from .stages import STAGES, copy_level_weights, resize_query_tokens


__all__ = [
    "Curriculum",
    "CurriculumConfig",
    "CurriculumConfigError",
    "STAGES",
    "copy_level_weights",
    "load_curriculum_config",
    "read_curriculum_config",
    "resize_query_tokens",
    "stage_levels",
]
