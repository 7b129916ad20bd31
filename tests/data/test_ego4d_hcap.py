"""The Ego4D-HCap builder: every config round trip, paths, record validation and clear errors."""

import json
import pickle
import re
import shutil

import numpy as np
import pytest
from safetensors.numpy import save_file

from transformers_recap.data import (
    Ego4DHCap,
    MalformedRecordError,
    load_ego4d_hcap,
    load_plain_pickle,
    read_feature_file,
)

from .conftest import SYNTHETIC_NUM_VIDEOS, SYNTHETIC_OPTIONS


CLIPS_PER_VIDEO = SYNTHETIC_OPTIONS["clips_per_segment"] * SYNTHETIC_OPTIONS["segments_per_video"]


def prepare(tmp_path, config_name, data_dir, split="train", **options):
    builder = Ego4DHCap(config_name=config_name, data_dir=data_dir, cache_dir=tmp_path / "cache", **options)
    builder.download_and_prepare()
    return builder, builder.as_dataset(split=split)


def write_pickle(path, records):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(records, protocol=4))


def segment_record(**overrides):
    record = {
        "vid": "v1",
        "sid": "s1",
        "start_sec": 0.0,
        "end_sec": 12.0,
        "captions_pred": [["v1", 0.0, 4.0, "#C C picks up a cup"], ["v1", 4.0, 8.0, "#C C puts down a cup"]],
        "captions_gt": [{"narration_text": "#C C lifts a cup"}],
        "segment_description": "C moves a cup.",
    }
    record.update(overrides)
    return record


@pytest.fixture(scope="module")
def pseudo_dir(synthetic_dir, tmp_path_factory):
    """The synthetic train annotations copied under the pseudo file names, in the flat (no annotations/) layout."""
    root = tmp_path_factory.mktemp("pseudo")
    shutil.copy(synthetic_dir / "annotations" / "segments_train.pkl", root / "segments_train_pseudo.pkl")
    shutil.copy(synthetic_dir / "annotations" / "videos_train.json", root / "videos_train_pseudo.json")
    return root


def test_clip_caption_round_trip(synthetic_dir, tmp_path):
    builder, dataset = prepare(tmp_path, "clip_caption", synthetic_dir)
    source = load_plain_pickle(synthetic_dir / "annotations" / "clips_train.pkl")
    assert list(builder.info.splits) == ["train"]
    assert dataset.column_names == ["video_uid", "start_sec", "end_sec", "text"]
    assert len(dataset) == len(source) == SYNTHETIC_NUM_VIDEOS * CLIPS_PER_VIDEO
    assert [tuple(row.values()) for row in dataset] == [tuple(record) for record in source]


@pytest.mark.parametrize("pseudo", [False, True])
def test_segment_description_round_trip(synthetic_dir, pseudo_dir, tmp_path, pseudo):
    data_dir = pseudo_dir if pseudo else synthetic_dir
    config = "segment_description_pseudo" if pseudo else "segment_description"
    _, dataset = prepare(tmp_path, config, data_dir)
    source = load_plain_pickle(synthetic_dir / "annotations" / "segments_train.pkl")
    assert len(dataset) == len(source) == SYNTHETIC_NUM_VIDEOS * SYNTHETIC_OPTIONS["segments_per_video"]
    for row, record in zip(dataset, source, strict=True):
        assert row["video_uid"] == record["vid"] and row["segment_uid"] == record["sid"]
        assert (row["start_sec"], row["end_sec"]) == (record["start_sec"], record["end_sec"])
        assert row["text"] == record["segment_description"]
        assert row["clip_captions_pred"] == [entry[3] for entry in record["captions_pred"]]
        assert row["clip_starts_sec"] == [entry[1] for entry in record["captions_pred"]]
        assert row["clip_ends_sec"] == [entry[2] for entry in record["captions_pred"]]
        assert row["clip_captions_gt"] == [entry["narration_text"] for entry in record["captions_gt"]]
        assert len(row["clip_captions_pred"]) == SYNTHETIC_OPTIONS["clips_per_segment"]


@pytest.mark.parametrize("pseudo", [False, True])
def test_video_summary_round_trip(synthetic_dir, pseudo_dir, tmp_path, pseudo):
    data_dir = pseudo_dir if pseudo else synthetic_dir
    _, dataset = prepare(tmp_path, "video_summary_pseudo" if pseudo else "video_summary", data_dir)
    source = json.loads((synthetic_dir / "annotations" / "videos_train.json").read_text())
    assert len(dataset) == len(source) == SYNTHETIC_NUM_VIDEOS
    for row, record in zip(dataset, source, strict=True):
        assert row["video_uid"] == record["vid"] and row["text"] == record["video_summary"]
        assert row["end_sec"] == record["end_sec"] == CLIPS_PER_VIDEO * SYNTHETIC_OPTIONS["clip_seconds"]
        assert row["segment_uids"] == record["sids"]
        assert row["segment_descriptions_gt"] == record["segment_descriptions"]
        assert row["segment_descriptions_pred"] == record["segment_descriptions_pred"]


def test_load_ego4d_hcap_helper(synthetic_dir, tmp_path):
    dataset = load_ego4d_hcap("segment", synthetic_dir, split="train[:2]", cache_dir=tmp_path)
    assert len(dataset) == 2 and "clip_captions_pred" in dataset.column_names
    with pytest.raises(ValueError, match=r"Split 'validation' is not available .* available: \['train'\]"):
        load_ego4d_hcap("segment", synthetic_dir, split="val", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="Unknown level 'segments'"):
        load_ego4d_hcap("segments", synthetic_dir, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="only for the 'segment' and 'video' levels"):
        load_ego4d_hcap("clip", synthetic_dir, pseudo=True, cache_dir=tmp_path)


def test_video_and_feature_paths(synthetic_dir, tmp_path):
    features = tmp_path / "features"
    (features / "segments").mkdir(parents=True)
    _, dataset = prepare(
        tmp_path, "segment_description", synthetic_dir, video_dir=synthetic_dir / "videos", features_dir=features
    )
    row = dataset[0]
    assert row["video_path"] == str(synthetic_dir / "videos" / f"{row['video_uid']}.mp4")
    assert (synthetic_dir / "videos" / f"{row['video_uid']}.mp4").is_file()
    assert row["features_path"] == str(features / "segments" / f"{row['segment_uid']}.npy")
    assert row["features_scope"] == "segment"

    _, dataset = prepare(tmp_path, "video_summary", synthetic_dir, features_dir=features)
    assert dataset[0]["features_path"] == str(features / "videos" / f"{dataset[0]['video_uid']}.npy")
    assert dataset[0]["features_scope"] == "video"

    _, dataset = prepare(tmp_path, "clip_caption", synthetic_dir, features_dir=features, features_layout="safetensors")
    assert dataset[0]["features_path"] == str(features / f"{dataset[0]['video_uid']}.safetensors")
    assert dataset[0]["features_scope"] == "video"


def test_version_v1_and_missing_end_sec(tmp_path):
    records = [
        {
            "vid": "v1",
            "start_sec": 0,
            "end_sec": 360.0,
            "version": "v1",
            "segment_descriptions_pred": "['C cooks rice.', 'C washes the pan, then dries it.']",
            "video_summary": "C cooks.",
        },
        {"vid": "v2", "sids": ["s1", "s2"], "segment_descriptions_pred": ["C reads."], "video_summary": "C reads."},
        {"vid": "v3", "segment_descriptions_pred": ["C reads."], "video_summary": "C reads."},
    ]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "videos_train.json").write_text(json.dumps(records))
    builder, dataset = prepare(
        tmp_path, "video_summary", tmp_path / "data", features_dir=tmp_path / "data", features_layout="original"
    )
    assert dataset["segment_descriptions_pred"] == [["C cooks rice. C washes the pan then dries it."], ["C reads."]]
    assert dataset["end_sec"] == [360.0, None] and dataset["segment_uids"] == [[], ["s1", "s2"]]
    assert dataset["features_scope"] == ["video", "segments"]
    assert builder.malformed_records["train"] == [
        (2, "missing field 'end_sec' (and no 'sids' to locate per-segment features)")
    ]


MALFORMED = [
    (segment_record(), None),
    ({k: v for k, v in segment_record().items() if k != "segment_description"}, "missing field 'segment_description'"),
    (segment_record(start_sec=10.0, end_sec=5.0), r"end_sec \(5.0\) < start_sec \(10.0\)"),
    (segment_record(segment_description="  "), "segment_description is empty"),
    (segment_record(captions_pred="#C C picks"), "captions_pred must be a list"),
    (segment_record(start_sec="0"), "start_sec must be a number"),
    (segment_record(vid="../etc"), "not a plain file name"),
    ("not a dict", "expected a dict"),
    (segment_record(sid="s2"), None),
]


def test_malformed_records_are_skipped_and_counted(tmp_path, caplog):
    write_pickle(tmp_path / "data" / "segments_train.pkl", [record for record, _ in MALFORMED])
    builder, dataset = prepare(tmp_path, "segment_description", tmp_path / "data")
    assert dataset["segment_uid"] == ["s1", "s2"]
    reported = builder.malformed_records["train"]
    assert [index for index, _ in reported] == [i for i, (_, reason) in enumerate(MALFORMED) if reason]
    for (index, message), (_, reason) in zip(reported, [item for item in MALFORMED if item[1]], strict=True):
        assert re.search(reason, message), (index, message)
    assert "Skipped 7 malformed record(s) of 9" in caplog.text and "record 2: end_sec" in caplog.text


def test_strict_raises_on_the_first_malformed_record(tmp_path):
    write_pickle(tmp_path / "data" / "segments_train.pkl", [record for record, _ in MALFORMED])
    builder = Ego4DHCap(
        config_name="segment_description", data_dir=tmp_path / "data", cache_dir=tmp_path / "cache", strict=True
    )
    with pytest.raises(
        MalformedRecordError, match=r"segments_train\.pkl, record 1: missing field 'segment_description'"
    ):
        builder.download_and_prepare()


def test_clip_records_are_validated(tmp_path):
    records = [("v", 0.0, 1.0, "#C C a"), ("v", 0.0, 1.0), ("v", 2.0, 1.0, "#C C b"), ("v", 0.0, 1.0, 5)]
    write_pickle(tmp_path / "data" / "clips_val.pkl", records)
    builder, dataset = prepare(tmp_path, "clip_caption", tmp_path / "data", split="validation")
    assert dataset["text"] == ["#C C a"]
    assert [index for index, _ in builder.malformed_records["validation"]] == [1, 2, 3]


def test_clear_errors_for_missing_inputs(tmp_path):
    with pytest.raises(FileNotFoundError, match="data_dir=.*nowhere.* does not exist"):
        Ego4DHCap(config_name="clip_caption", data_dir=tmp_path / "nowhere", cache_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="video_dir=.*no_videos"):
        Ego4DHCap(config_name="clip_caption", data_dir=tmp_path, video_dir=tmp_path / "no_videos", cache_dir=tmp_path)
    with pytest.raises(
        FileNotFoundError, match=r"No annotation file for the 'video_summary' config .*videos_train\.json"
    ):
        Ego4DHCap(config_name="video_summary", data_dir=tmp_path, cache_dir=tmp_path).download_and_prepare()
    with pytest.raises(ValueError, match="pass data_dir="):
        Ego4DHCap(config_name="video_summary", cache_dir=tmp_path).download_and_prepare()
    with pytest.raises(ValueError, match="BuilderConfig 'clips' not found"):
        Ego4DHCap(config_name="clips", data_dir=tmp_path, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="features_layout must be one of"):
        Ego4DHCap(config_name="clip_caption", data_dir=tmp_path, features_layout="h5", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="strict must be True or False"):
        Ego4DHCap(config_name="clip_caption", data_dir=tmp_path, strict=1, cache_dir=tmp_path)


def test_files_that_do_not_hold_a_list(tmp_path):
    write_pickle(tmp_path / "data" / "clips_train.pkl", {"vid": "v"})
    with pytest.raises(ValueError, match=r"clips_train\.pkl must hold a list of records, got dict"):
        prepare(tmp_path, "clip_caption", tmp_path / "data")
    (tmp_path / "data" / "videos_train.json").write_text("[{")
    with pytest.raises(ValueError, match=r"videos_train\.json is not valid JSON"):
        prepare(tmp_path, "video_summary", tmp_path / "data")


def test_cache_follows_changes_of_the_annotation_files(tmp_path):
    path = tmp_path / "data" / "segments_train.pkl"
    write_pickle(path, [segment_record()])
    assert prepare(tmp_path, "segment_description", tmp_path / "data")[1]["text"] == ["C moves a cup."]
    write_pickle(path, [segment_record(segment_description="C washes a cup."), segment_record(sid="s2")])
    assert prepare(tmp_path, "segment_description", tmp_path / "data")[1]["text"] == [
        "C washes a cup.",
        "C moves a cup.",
    ]


def test_read_feature_file(tmp_path):
    features = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.save(tmp_path / "plain.npy", features)
    np.testing.assert_array_equal(read_feature_file(tmp_path / "plain.npy"), features)
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=r"objects\.npy is not a plain numeric \.npy file"):
        read_feature_file(tmp_path / "objects.npy")
    save_file({"cls": features}, str(tmp_path / "one.safetensors"))
    np.testing.assert_array_equal(read_feature_file(tmp_path / "one.safetensors"), features)
    save_file({"cls": features, "dense": features}, str(tmp_path / "two.safetensors"))
    with pytest.raises(ValueError, match="pass key="):
        read_feature_file(tmp_path / "two.safetensors")
    np.testing.assert_array_equal(read_feature_file(tmp_path / "two.safetensors", key="dense"), features)
