# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""
The LLM teacher of Video ReCap (Islam et al., CVPR 2024, Sec. 3.4, Figure 4, Table 6): a language model fine-tuned
on the few manual annotations to map ground-truth clip captions to segment descriptions and segment descriptions
to video summaries, then run over videos that only have clip captions to write pseudo annotations for training
Video ReCap (`data.pseudo: true` in the curriculum configs).

    python examples/train_llm_teacher.py --config examples/configs/teacher_synthetic.yaml
    python examples/generate_pseudo_annotations.py --config examples/configs/teacher_synthetic.yaml

A teacher built from a config can first be pretrained by denoising the training text (`pretraining` section, see
`transformers_recap.training.teacher.pretraining`).
"""

from .modeling import Teacher, TeacherDataCollator, TeacherTrainer, load_teacher, save_teacher, train_teacher_tokenizer
from .options import (
    TASKS,
    DataOptions,
    EvaluationOptions,
    ModelOptions,
    PretrainingOptions,
    PseudoOptions,
    TaskOptions,
    TeacherConfig,
    TeacherConfigError,
    load_teacher_config,
    teacher_config_from_dict,
)
from .pairs import TeacherPair, build_pairs, clean_caption, format_prompt, read_annotation_split
from .pseudo import (
    ProgressLog,
    PseudoAnnotationError,
    PseudoAnnotationRun,
    PseudoSummary,
    PseudoWindow,
    generate_pseudo_annotations,
    plan_pseudo_windows,
    read_pseudo_sources,
)
from .training import TeacherRun, format_teacher_table, train_teacher


__all__ = [
    "TASKS",
    "DataOptions",
    "EvaluationOptions",
    "ModelOptions",
    "ProgressLog",
    "PseudoAnnotationError",
    "PretrainingOptions",
    "PseudoAnnotationRun",
    "PseudoOptions",
    "PseudoSummary",
    "PseudoWindow",
    "TaskOptions",
    "Teacher",
    "TeacherConfig",
    "TeacherConfigError",
    "TeacherDataCollator",
    "TeacherPair",
    "TeacherRun",
    "TeacherTrainer",
    "build_pairs",
    "clean_caption",
    "format_prompt",
    "format_teacher_table",
    "generate_pseudo_annotations",
    "load_teacher",
    "load_teacher_config",
    "plan_pseudo_windows",
    "read_annotation_split",
    "read_pseudo_sources",
    "save_teacher",
    "teacher_config_from_dict",
    "train_teacher",
    "train_teacher_tokenizer",
]
