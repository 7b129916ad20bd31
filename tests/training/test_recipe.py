"""The one-command recipe (teacher -> pseudo annotations -> curriculum): configuration and the order of the steps."""

from pathlib import Path

import pytest
import yaml

from transformers_recap.training import recipe
from transformers_recap.training.recipe import RecipeConfigError, load_recipe_config


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def write_recipe(directory: Path, **changes) -> Path:
    (directory / "teacher.yaml").write_text("output_dir: t\n")
    (directory / "curriculum.yaml").write_text("output_dir: c\n")
    mapping = {
        "output_dir": str(directory / "out"),
        "teacher": {"config": "teacher.yaml"},
        "curriculum": {"config": "curriculum.yaml", "overrides": ["stages.clip.num_train_epochs=2"]},
        **changes,
    }
    path = directory / "recipe.yaml"
    path.write_text(yaml.safe_dump(mapping))
    return path


def test_step_configs_resolve_next_to_the_recipe_and_share_the_data_folder(tmp_path):
    config = load_recipe_config(write_recipe(tmp_path))
    assert config.teacher.config == tmp_path / "teacher.yaml" and config.pseudo
    data = f"data.data_dir={tmp_path / 'out' / 'data'}"
    assert config.teacher_overrides() == [data]
    export = f"export_dir={tmp_path / 'out' / 'curriculum' / 'export'}"
    assert config.curriculum_overrides() == [export, "stages.clip.num_train_epochs=2", data, "data.pseudo=true"]
    assert config.curriculum_dir == tmp_path / "out" / "curriculum"
    ablation = load_recipe_config(write_recipe(tmp_path), ["pseudo=false"])
    assert ablation.curriculum_overrides()[-1] == "data.pseudo=false"
    assert ablation.curriculum_overrides()[0] == f"export_dir={tmp_path / 'out' / 'curriculum_no_pseudo' / 'export'}"
    assert ablation.curriculum_dir == tmp_path / "out" / "curriculum_no_pseudo"
    segment_only = load_recipe_config(write_recipe(tmp_path), ["pseudo=[segment]"])
    assert segment_only.curriculum_overrides()[-1] == 'data.pseudo=["segment"]'
    assert segment_only.curriculum_dir == tmp_path / "out" / "curriculum_pseudo_segment"
    package = tmp_path / "package" / "demo_model"
    into_package = load_recipe_config(write_recipe(tmp_path), [f"export_dir={package}", "allow_package_export=true"])
    assert into_package.curriculum_overrides() == [
        f"export_dir={package}",
        "stages.clip.num_train_epochs=2",
        data,
        "data.pseudo=true",
        "allow_package_export=true",
    ]


@pytest.mark.parametrize(
    "changes, overrides, message",
    [
        ({"pseudo": "yes"}, [], "pseudo must be true or false or a list, got 'yes'"),
        ({"teachr": {}}, [], "unknown key 'teachr'"),
        ({}, ["teacher.config=missing.yaml"], "teacher.config .*missing.yaml does not exist"),
        ({"curriculum": {"overrides": []}}, [], "curriculum.config is required"),
    ],
)
def test_bad_recipes_name_the_key(tmp_path, changes, overrides, message):
    path = write_recipe(tmp_path, **changes)
    with pytest.raises(RecipeConfigError, match=message):
        load_recipe_config(path, overrides)


def test_steps_run_in_order_and_pseudo_false_runs_only_the_curriculum(tmp_path, monkeypatch):
    from transformers_recap.training import curriculum, teacher

    calls = []

    class Run:
        metrics = {"segment": {"CIDEr": 1.0}}

    class Curriculum:
        def __init__(self, overrides):
            self.overrides = overrides

        def run(self, max_steps=None):
            calls.append(("curriculum", self.overrides[-1], max_steps))
            return {"video": {"CIDEr": 2.0}}

    def load_teacher_config(path, overrides, output_dir):
        calls.append(("teacher config", Path(path).name, overrides[-1], Path(output_dir).name))
        return "teacher-config"

    monkeypatch.setattr(teacher, "load_teacher_config", load_teacher_config)
    monkeypatch.setattr(teacher, "train_teacher", lambda config, max_steps: calls.append(("train", config)) or Run())
    monkeypatch.setattr(teacher, "generate_pseudo_annotations", lambda config: calls.append(("pseudo", config)))
    monkeypatch.setattr(
        curriculum, "load_curriculum_config", lambda path, overrides, output_dir: Curriculum(overrides)
    )
    results = recipe.run_recipe(load_recipe_config(write_recipe(tmp_path)), max_steps=3)
    data = f"data.data_dir={tmp_path / 'out' / 'data'}"
    assert calls == [
        ("teacher config", "teacher.yaml", data, "teacher"),
        ("train", "teacher-config"),
        ("pseudo", "teacher-config"),
        ("curriculum", "data.pseudo=true", 3),
    ]
    assert results == {"teacher": Run.metrics, "curriculum": {"video": {"CIDEr": 2.0}}}
    calls.clear()
    recipe.run_recipe(load_recipe_config(write_recipe(tmp_path), ["pseudo=false"]))
    assert calls == [("curriculum", "data.pseudo=false", None)]


def test_the_shipped_recipe_parses_with_its_step_configs():
    from transformers_recap.training.curriculum import load_curriculum_config
    from transformers_recap.training.teacher import load_teacher_config

    config = load_recipe_config(EXAMPLES / "configs" / "demo_recipe.yaml")
    curriculum = load_curriculum_config(
        config.curriculum.config, overrides=config.curriculum_overrides(), output_dir=config.curriculum_dir
    ).config
    teacher = load_teacher_config(config.teacher.config, overrides=config.teacher_overrides())
    assert curriculum.data.pseudo and curriculum.data.synthetic == teacher.data.synthetic
    assert curriculum.data.data_dir.resolve() == Path(teacher.data.data_dir).resolve()
    assert curriculum.export_dir.resolve() == (config.curriculum_dir / "export").resolve()


def test_script_reports_a_bad_recipe_in_one_line(tmp_path, capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location("train_demo_recipe", EXAMPLES / "train_demo_recipe.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    path = write_recipe(tmp_path, pseudo="yes")
    assert module.main(["--config", str(path)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: {path}: pseudo must be true or false or a list, got 'yes'."
    ]


@pytest.mark.slow
def test_tiny_recipe_end_to_end_mixes_pseudo_data_into_the_curriculum(tmp_path, capsys):
    """The shipped teacher and smoke configurations, shrunk: about 100 s of CPU."""
    import json
    import pickle

    tiny_data = (
        "{train: {num_videos: 6, seed: 0, num_narration_only_videos: 4}, validation: {num_videos: 2, seed: 1000}, "
        "size: 32, fps: 4, clips_per_segment: 4, segments_per_video: 2}"
    )
    recipe_file = tmp_path / "recipe.yaml"
    recipe_file.write_text(
        yaml.safe_dump(
            {
                "output_dir": str(tmp_path / "out"),
                "teacher": {
                    "config": str(EXAMPLES / "configs" / "teacher_synthetic.yaml"),
                    "overrides": [
                        f"data.synthetic={tiny_data}",
                        "model.config={model_type: t5, d_model: 32, d_ff: 64, d_kv: 16, num_layers: 2, "
                        "num_heads: 2, dropout_rate: 0.0}",
                        "training.num_train_epochs=80",
                        "pretraining.num_examples=200",
                        "pretraining.training={num_train_epochs: 1}",
                    ],
                },
                "curriculum": {
                    "config": str(EXAMPLES / "configs" / "smoke_synthetic.yaml"),
                    "overrides": ["data.synthetic.train={num_videos: 6, seed: 0, num_narration_only_videos: 4}"],
                },
            }
        )
    )
    config = load_recipe_config(recipe_file)
    results = recipe.run_recipe(config)
    assert set(results["curriculum"]) == {"clip", "segment", "video"}
    annotations = config.data_dir / "annotations"
    pseudo_segments = pickle.loads((annotations / "segments_train_pseudo.pkl").read_bytes())
    pseudo_videos = json.loads((annotations / "videos_train_pseudo.json").read_text())
    narration_only = {f"synthetic-0-{index:05d}" for index in range(6, 10)}
    assert pseudo_segments and {record["vid"] for record in pseudo_segments} <= narration_only
    assert pseudo_videos and {record["vid"] for record in pseudo_videos} <= narration_only
    extracted = pickle.loads(
        (config.curriculum_dir / "annotations" / "segment" / "segments_train_pseudo.pkl").read_bytes()
    )
    assert len(extracted) == len(pseudo_segments)
