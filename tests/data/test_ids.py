"""The one uid validator: only plain file names on POSIX and Windows pass, and the builder uses it for every uid."""

import json
import os

import pytest

from transformers_recap.data import InvalidUidError, validate_uid

from .test_ego4d_hcap import prepare, segment_record, write_pickle


GOOD_UIDS = [
    "0a8f6747-7f79-4176-85ca-f5ec01a15435",  # an Ego4D video uid
    "0a8f6747-7f79-4176-85ca-f5ec01a15435_3",
    "s1",
    "a..b",
    ".hidden",
    "vidéo_日本",
    "CONSOLE",  # only the exact device names are reserved
    "COM10",
    "x" * 200,
]

# (uid, what the reason must say), each written out by hand from the rules in the docstring.
BAD_UIDS = [
    ("../../../x/evil", "path separator '/'"),
    ("/etc/passwd", "path separator '/'"),
    ("a/b", "path separator '/'"),
    ("..\\..\\evil", "path separator '\\\\\\\\'"),
    ("C:evil", "':', which Windows does not allow"),
    ("..", "'..' names a directory"),
    (".", "'.' names a directory"),
    ("", "it is empty"),
    ("   ", "only white space"),
    ("v\x00x", "control character '\\\\x00'"),
    ("v\nx", "control character '\\\\n'"),
    ("v\x7f", "control character '\\\\x7f'"),
    ("v\x85", "control character '\\\\x85'"),
    ("v\ud800", "lone surrogate"),
    ("a*b", "'\\*', which Windows"),
    ("a?b", "'\\?', which Windows"),
    ('a"b', "'\"', which Windows"),
    ("a<b", "'<', which Windows"),
    ("a|b", "'\\|', which Windows"),
    ("CON", "device name"),
    ("nul.txt", "device name"),
    ("com1", "device name"),
    ("LPT9.tar.gz", "device name"),
    ("AUX .x", "device name"),
    ("v.", "ends with '.'"),
    ("v ", "starts or ends with white space"),
    (" v", "starts or ends with white space"),
    ("x" * 201, "longer than 200 bytes"),
    ("é" * 101, "longer than 200 bytes"),
    (b"v1", "must be a string, got bytes"),
    (7, "must be a string, got int"),
    (None, "must be a string, got NoneType"),
    (["v1"], "must be a string, got list"),
]


@pytest.mark.parametrize("uid", GOOD_UIDS)
def test_plain_file_names_pass_unchanged(uid, tmp_path):
    assert validate_uid(uid, "vid", "a.pkl") is uid
    # An independent check that such a name is one file directly inside its folder.
    path = os.path.join(tmp_path, f"{uid}.json")
    assert os.path.dirname(path) == str(tmp_path) and os.path.basename(path) == f"{uid}.json"


@pytest.mark.parametrize(("uid", "reason"), BAD_UIDS)
def test_everything_else_is_refused_in_one_line(uid, reason):
    with pytest.raises(InvalidUidError, match=reason) as error:
        validate_uid(uid, "sids[2]", "/data/segments_train.pkl")
    message = str(error.value)
    assert isinstance(error.value, ValueError)
    assert message.startswith("/data/segments_train.pkl: sids[2] ") and "is not a plain file name: " in message
    assert "\n" not in message and len(message) < 200
    assert error.value.reason == message[len("/data/segments_train.pkl: ") :]


def test_without_a_source_the_message_is_the_reason():
    with pytest.raises(InvalidUidError) as error:
        validate_uid("a/b", "vid")
    assert (
        str(error.value)
        == error.value.reason
        == "vid 'a/b' is not a plain file name: it contains the path separator '/'"
    )


def test_a_huge_integer_uid_does_not_break_the_message():
    # repr() of a 50,000-digit integer raises ValueError (Python's int to str digit limit).
    with pytest.raises(InvalidUidError, match="vid an integer of 166097 bits is not a plain file name"):
        validate_uid(10**50000, "vid", "a.pkl")


def test_the_builder_skips_every_uid_that_is_not_a_plain_file_name(tmp_path):
    """Clip, segment and video records, `vid`, `sid` and `sids`: the paths kept all lie directly in their folders."""
    data, videos, features = tmp_path / "data", tmp_path / "videos", tmp_path / "features"
    videos.mkdir()
    (features / "segments").mkdir(parents=True)
    bad = ["../../../x/evil", "v\x00x", "CON", "C:evil", "v.", " v", "a|b"]

    write_pickle(data / "clips_train.pkl", [("v1", 0.0, 1.0, "#C C a")] + [(uid, 0.0, 1.0, "#C C a") for uid in bad])
    builder, dataset = prepare(tmp_path, "clip_caption", data, video_dir=videos, features_dir=features)
    assert dataset["video_uid"] == ["v1"]
    assert len(builder.malformed_records["train"]) == len(bad)
    assert all("is not a plain file name" in reason for _, reason in builder.malformed_records["train"])

    segments = [segment_record()] + [segment_record(vid=uid) for uid in bad] + [segment_record(sid=uid) for uid in bad]
    write_pickle(data / "segments_train.pkl", segments)
    builder, dataset = prepare(tmp_path, "segment_description", data, video_dir=videos, features_dir=features)
    assert dataset["segment_uid"] == ["s1"]
    assert len(builder.malformed_records["train"]) == 2 * len(bad)
    for path in [*dataset["video_path"], *dataset["features_path"]]:
        folder = os.path.dirname(path)
        assert folder in (str(videos), str(features / "segments")), path

    summary = {"video_summary": "C cooks.", "segment_descriptions_pred": ["C cooks."]}
    videos_records = [{"vid": "v1", "end_sec": 9.0, **summary}, {"vid": "v2", "sids": ["s1", "s2"], **summary}]
    videos_records += [{"vid": "v3", "sids": ["s1", uid], **summary} for uid in bad]
    (data / "videos_train.json").write_text(json.dumps(videos_records))
    builder, dataset = prepare(tmp_path, "video_summary", data)
    assert dataset["video_uid"] == ["v1", "v2"]
    assert [reason.split(" ", 1)[0] for _, reason in builder.malformed_records["train"]] == ["sids[1]"] * len(bad)
