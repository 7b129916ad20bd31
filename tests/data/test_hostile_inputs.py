"""Hostile or broken annotation and feature files end in one line naming the file, or in a skipped, counted record."""

import json
import logging
import struct

import numpy as np
import pytest
from safetensors.numpy import save_file

from transformers_recap.data import AnnotationFileError, FeatureFileError, load_ego4d_hcap, read_feature_file

from .test_ego4d_hcap import prepare, segment_record, write_pickle


GOOD_CLIP = ("v1", 0.0, 1.0, "#C C a")
VIDEO_FIELDS = {"video_summary": "C cooks.", "segment_descriptions_pred": ["C cooks."]}


def expect_one_line(error_info, path, *phrases):
    """The error is a ValueError whose message is one line naming `path` and saying each of `phrases`."""
    message = str(error_info.value)
    assert isinstance(error_info.value, ValueError)
    assert "\n" not in message and str(path) in message, message
    for phrase in phrases:
        assert phrase in message, (phrase, message)


def reasons(builder, split="train"):
    return [reason for _, reason in builder.malformed_records[split]]


def nested_list_opcodes(depth):
    """Pickle opcodes (protocol 2, no header) that push one list nested `depth` deep: `[[[...[]...]]]`.

    `pickle.dumps` itself cannot write it (it recurses), but the C unpickler reads it without recursion.
    """
    return b"]" * depth + b"a" * (depth - 1)


def test_times_beyond_the_float_range_skip_their_record(tmp_path):
    write_pickle(tmp_path / "data" / "clips_train.pkl", [GOOD_CLIP, ("v1", 10**400, 10**401, "#C C b")])
    builder, dataset = prepare(tmp_path, "clip_caption", tmp_path / "data")
    assert dataset["text"] == ["#C C a"]
    assert reasons(builder) == ["start_sec must be a finite non-negative number, got an integer of 1329 bits"]

    # JSON: an integer literal of 401 digits, and 1e400 which Python's json reads as infinity.
    records = [{"vid": "v1", "end_sec": 9.0, **VIDEO_FIELDS}, {"vid": "v2", "end_sec": 1, **VIDEO_FIELDS}]
    records.append({"vid": "v3", "end_sec": 2, **VIDEO_FIELDS})
    text = json.dumps(records).replace('"end_sec": 1,', '"end_sec": 1' + "0" * 400 + ",")
    text = text.replace('"end_sec": 2,', '"end_sec": 1e400,')
    (tmp_path / "data" / "videos_train.json").write_text(text)
    builder, dataset = prepare(tmp_path, "video_summary", tmp_path / "data")
    assert dataset["video_uid"] == ["v1"]
    assert reasons(builder) == [
        "end_sec must be a finite non-negative number, got an integer of 1329 bits",
        "end_sec must be a finite non-negative number, got inf",
    ]


def test_a_50000_digit_number(tmp_path):
    path = tmp_path / "data" / "videos_train.json"
    path.parent.mkdir()
    path.write_text('[{"vid": "v1", "end_sec": ' + "9" * 50000 + ', "video_summary": "s"}]')
    with pytest.raises(ValueError) as error:
        prepare(tmp_path, "video_summary", tmp_path / "data")
    expect_one_line(error, path, "holds a number that cannot be read", "50000 digits")

    # In a pickle the number is stored in binary and loads; its record is skipped.
    write_pickle(tmp_path / "data" / "clips_train.pkl", [GOOD_CLIP, ("v1", 0.0, 10**50000 - 1, "#C C b")])
    builder, dataset = prepare(tmp_path, "clip_caption", tmp_path / "data")
    assert dataset["text"] == ["#C C a"]
    assert reasons(builder) == ["end_sec must be a finite non-negative number, got an integer of 166097 bits"]


def test_json_nested_100000_deep(tmp_path):
    path = tmp_path / "data" / "videos_train.json"
    path.parent.mkdir()
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError) as error:
        prepare(tmp_path, "video_summary", tmp_path / "data")
    expect_one_line(error, path, "nests arrays or objects deeper than Python's JSON parser allows")


def test_pickle_nested_100000_deep_skips_its_record(tmp_path):
    def string(text):
        return b"X" + struct.pack("<I", len(text)) + text.encode()

    def seconds(value):
        return b"G" + struct.pack(">d", value)

    # [GOOD_CLIP, (<a list nested 100,000 deep>, 0.0, 1.0, "#C C b")], written opcode by opcode (protocol 2).
    good = b"(" + string("v1") + seconds(0.0) + seconds(1.0) + string("#C C a") + b"t"
    deep = b"(" + nested_list_opcodes(100_000) + seconds(0.0) + seconds(1.0) + string("#C C b") + b"t"
    path = tmp_path / "data" / "clips_train.pkl"
    path.parent.mkdir()
    path.write_bytes(b"\x80\x02]" + good + b"a" + deep + b"a.")
    builder, dataset = prepare(tmp_path, "clip_caption", tmp_path / "data")
    assert dataset["text"] == ["#C C a"]
    assert reasons(builder) == ["vid a list of 1 items is not a plain file name: it must be a string, got list"]


def test_lone_surrogates_skip_their_record(tmp_path):
    # JSON's "\ud800" escape gives a Python string that is not valid Unicode, which Arrow cannot store.
    records = [{"vid": "v1", "end_sec": 9.0, **VIDEO_FIELDS}, {"vid": "v2", "end_sec": 9.0, **VIDEO_FIELDS}]
    records.append({"vid": "v3", "end_sec": 9.0, "video_summary": "s", "segment_descriptions_pred": ["a", "b"]})
    text = json.dumps(records).replace('"C cooks."', '"C \\ud800cooks."', 1).replace('"b"', '"\\udfff"')
    path = tmp_path / "data" / "videos_train.json"
    path.parent.mkdir()
    path.write_text(text)
    assert "\\ud800" in path.read_text()
    builder, dataset = prepare(tmp_path, "video_summary", tmp_path / "data")
    assert dataset["video_uid"] == ["v2"]
    assert reasons(builder) == [
        "video_summary contains the lone surrogate '\\ud800' at character 2, which is not valid Unicode text",
        "segment_descriptions_pred[1] contains the lone surrogate '\\udfff' at character 0, which is not valid "
        "Unicode text",
    ]

    # Pickles store surrogates too (with "surrogatepass"): in captions_pred, captions_gt and the target.
    segments = [
        segment_record(),
        segment_record(captions_pred=[["v1", 0.0, 4.0, "#C \udc80"]]),
        segment_record(captions_gt=[{"narration_text": "\ud83d"}]),
        segment_record(segment_description="C \udfffwashes."),
    ]
    write_pickle(tmp_path / "data" / "segments_train.pkl", segments)
    builder, dataset = prepare(tmp_path, "segment_description", tmp_path / "data")
    assert dataset["text"] == ["C moves a cup."]
    assert [reason.split(" contains")[0] for reason in reasons(builder)] == [
        "captions_pred[0] caption",
        "captions_gt[0] narration_text",
        "segment_description",
    ]


def test_json_that_is_not_utf8(tmp_path):
    path = tmp_path / "data" / "videos_train.json"
    path.parent.mkdir()
    path.write_bytes('[{"vid": "v1", "end_sec": 9, "video_summary": "C cuit du pâté."}]'.encode("latin-1"))
    with pytest.raises(ValueError) as error:
        prepare(tmp_path, "video_summary", tmp_path / "data")
    expect_one_line(error, path, "is not UTF-8 text: byte 0xe2 at offset 58")

    # The same text in UTF-8, with a byte-order mark, is read.
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps([{"vid": "v1", "end_sec": 9, **VIDEO_FIELDS}]).encode())
    assert prepare(tmp_path, "video_summary", tmp_path / "data")[1]["video_uid"] == ["v1"]


def test_a_split_whose_records_are_all_malformed_names_its_file(tmp_path):
    path = tmp_path / "data" / "segments_train.pkl"
    write_pickle(path, [segment_record(end_sec=-1.0), segment_record(vid="a/b")])
    with pytest.raises(ValueError) as error:
        prepare(tmp_path, "segment_description", tmp_path / "data")
    expect_one_line(
        error, path, "all 2 records are malformed", "'train' split", "record 0: end_sec must be a finite non-negative"
    )
    assert isinstance(error.value, AnnotationFileError)


def test_an_empty_file_is_reported_and_left_out(tmp_path, caplog):
    data = tmp_path / "data"
    write_pickle(data / "clips_train.pkl", [])
    write_pickle(data / "clips_val.pkl", [GOOD_CLIP])
    with caplog.at_level(logging.WARNING):
        builder, dataset = prepare(tmp_path, "clip_caption", data, split="validation")
    assert dataset["text"] == ["#C C a"] and list(builder.info.splits) == ["validation"]
    assert f"{data / 'clips_train.pkl'} holds no records; the 'train' split is left out." in caplog.text
    with pytest.raises(ValueError, match=r"Split 'train' is not available .* available: \['validation'\]"):
        load_ego4d_hcap("clip", data, split="train", cache_dir=tmp_path / "cache")

    write_pickle(data / "clips_val.pkl", [])
    with pytest.raises(ValueError) as error:
        prepare(tmp_path, "clip_caption", data)
    expect_one_line(error, data / "clips_val.pkl", "Every annotation file of the 'clip_caption' config is empty")


def test_captions_pred_entries_that_end_before_they_start(tmp_path):
    segments = [
        segment_record(),
        segment_record(captions_pred=[["v1", 0.0, 4.0, "#C C a"], ["v1", 8.0, 4.0, "#C C b"]]),
        segment_record(captions_pred=[["v1", -1.0, 4.0, "#C C a"]]),
    ]
    write_pickle(tmp_path / "data" / "segments_train.pkl", segments)
    builder, dataset = prepare(tmp_path, "segment_description", tmp_path / "data")
    assert dataset["clip_starts_sec"] == [[0.0, 4.0]] and dataset["clip_ends_sec"] == [[4.0, 8.0]]
    assert reasons(builder) == [
        "captions_pred[1] end_sec (4.0) < captions_pred[1] start_sec (8.0)",
        "captions_pred[0] start_sec must be a finite non-negative number, got -1.0",
    ]


def test_truncated_and_corrupt_feature_files(tmp_path):
    features = np.arange(24, dtype=np.float32).reshape(6, 4)
    save_file({"cls": features}, str(tmp_path / "whole.safetensors"))
    data = (tmp_path / "whole.safetensors").read_bytes()
    np.save(tmp_path / "whole.npy", features)
    npy = (tmp_path / "whole.npy").read_bytes()
    header = json.dumps({"cls": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}}).encode()
    broken = {
        "empty.safetensors": b"",
        "short.safetensors": data[:7],
        "header.safetensors": data[:20],
        "truncated.safetensors": data[:-5],
        "huge_header.safetensors": struct.pack("<Q", 2**62) + b"{}",
        "bfloat16.safetensors": struct.pack("<Q", len(header)) + header + b"\0" * 4,
        "empty.npy": b"",
        "header.npy": npy[:10],
        "truncated.npy": npy[:-7],
    }
    for name, content in broken.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ValueError) as error:
            read_feature_file(tmp_path / name)
        expect_one_line(error, tmp_path / name, "is not a ")
        assert isinstance(error.value, FeatureFileError), name
    np.testing.assert_array_equal(read_feature_file(tmp_path / "whole.safetensors"), features)
    np.testing.assert_array_equal(read_feature_file(tmp_path / "whole.npy"), features)
