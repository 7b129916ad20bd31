"""The annotation unpickler admits plain data only and never runs what a pickle asks for."""

import collections
import os
import pickle
import random
import struct

import pytest

from transformers_recap.data import Ego4DHCap, PickleExpansionError, UnsafePickleError, load_plain_pickle
from transformers_recap.data.safe_pickle import expanded_size


class MakeDirectoryOnLoad:
    """A pickle payload: unpickling it calls `os.mkdir(marker)`."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def test_plain_data_round_trips(tmp_path):
    records = [("vid", 0.0, 4, "#C C picks up a cup"), {"vid": "v", "sids": ["a", "b"], "end_sec": None, "ok": True}]
    path = tmp_path / "plain.pkl"
    path.write_bytes(pickle.dumps(records, protocol=4))
    assert load_plain_pickle(path) == records


def test_code_payload_is_refused_and_does_not_run(tmp_path):
    # The payload is live: calling what it reduces to creates its marker.
    control = tmp_path / "control"
    function, arguments = MakeDirectoryOnLoad(control).__reduce__()
    function(*arguments)
    assert control.is_dir()

    marker = tmp_path / "marker"
    path = tmp_path / "clips_train.pkl"
    path.write_bytes(pickle.dumps([("vid", 0.0, 1.0, "caption"), ("vid", 1.0, 2.0, MakeDirectoryOnLoad(marker))]))
    with pytest.raises(UnsafePickleError, match=r"clips_train\.pkl.*mkdir") as error:
        load_plain_pickle(path)
    assert isinstance(error.value, ValueError)
    assert not marker.exists()

    builder = Ego4DHCap(config_name="clip_caption", data_dir=tmp_path, cache_dir=tmp_path / "cache")
    with pytest.raises(UnsafePickleError, match="nothing in it was executed"):
        builder.download_and_prepare()
    assert not marker.exists()


def test_harmless_classes_are_refused_too(tmp_path):
    path = tmp_path / "ordered.pkl"
    path.write_bytes(pickle.dumps([collections.OrderedDict(vid="v")]))
    with pytest.raises(UnsafePickleError, match="collections.OrderedDict"):
        load_plain_pickle(path)


def test_broken_pickle_names_the_file(tmp_path):
    path = tmp_path / "broken.pkl"
    path.write_bytes(pickle.dumps(["a", "b"])[:-3])
    with pytest.raises(ValueError, match=r"broken\.pkl is not a readable pickle"):
        load_plain_pickle(path)


def tree_size(value):
    """Independent reference for `expanded_size`: walk the data as a tree, recursively."""
    if isinstance(value, (str, bytes)):
        return 1 + len(value)
    if isinstance(value, dict):
        return 1 + sum(tree_size(key) + tree_size(item) for key, item in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return 1 + sum(tree_size(item) for item in value)
    return 1


def test_expanded_size_counts_every_reference():
    caption = "#C C picks up a cup " * 5
    entry = ["v1", 0.0, 4.0, caption]
    record = {"vid": "v1", "captions_pred": [entry, entry, [entry]], "sids": ("a", "b"), "seen": {1, "x"}}
    cases = [
        None,
        "abc",
        [],
        [record, record, {"again": record}, (entry, caption)],
        {frozenset(["a", (1, "bc")]): b"bytes", "n": [[[[]]]]},
        [[entry] * 3] * 4,
    ]
    for data in cases:
        assert expanded_size(data) == tree_size(data), data
    # A pickle round trip keeps the sharing (memo references) and so the size.
    shared = pickle.loads(pickle.dumps(cases[3], protocol=4))
    assert shared[0] is shared[1] and expanded_size(shared) == tree_size(cases[3])
    assert expanded_size(cases[3], limit=tree_size(cases[3]) - 1) is None
    assert expanded_size(cases[3], limit=tree_size(cases[3])) == tree_size(cases[3])


def test_expanded_size_without_recursion_and_with_cycles():
    deep = []
    innermost = deep
    for _ in range(100_000):
        innermost.append([])
        innermost = innermost[0]
    assert expanded_size(deep) == 100_001
    loop = []
    loop.append(loop)
    assert expanded_size(loop) is None and expanded_size([1, loop]) is None
    inner, outer = [], []
    inner.append(outer)
    outer.append(inner)
    assert expanded_size({"a": [outer, inner]}) is None


def test_repeated_references_are_refused(tmp_path):
    # 12 kB on disk: one 10 kB caption named by 1,000 records. Arrow would store it 1,000 times (10 MB).
    caption = "#C C " + "x" * 10_000
    path = tmp_path / "data" / "clips_train.pkl"
    path.parent.mkdir()
    path.write_bytes(pickle.dumps([("v1", 0.0, 1.0, caption)] * 1_000, protocol=4))
    assert path.stat().st_size < 13_000
    limit = 64 * path.stat().st_size + (1 << 20)
    with pytest.raises(PickleExpansionError) as error:
        load_plain_pickle(path)
    message = str(error.value)
    assert isinstance(error.value, ValueError) and "\n" not in message
    assert message.startswith(
        f"{path} expands to more than {limit:,} units of data from {path.stat().st_size:,} bytes"
    )
    assert len(load_plain_pickle(path, max_expansion=None)) == 1_000  # trusted files can opt out

    builder = Ego4DHCap(config_name="clip_caption", data_dir=tmp_path / "data", cache_dir=tmp_path / "cache")
    with pytest.raises(PickleExpansionError, match=r"clips_train\.pkl expands to more than"):
        builder.download_and_prepare()
    cached = sum(file.stat().st_size for file in (tmp_path / "cache").rglob("*") if file.is_file())
    assert cached < 100_000

    # Two levels of sharing: 100 segments naming one list of 100 entries naming one 1 kB caption (10 MB as a tree).
    entry = ["v1", 0.0, 4.0, "#C C " + "y" * 1_000]
    segment = {
        "vid": "v1",
        "start_sec": 0.0,
        "end_sec": 4.0,
        "captions_pred": [entry] * 100,
        "segment_description": "d",
    }
    nested = tmp_path / "nested.pkl"
    nested.write_bytes(pickle.dumps([segment] * 100, protocol=4))
    assert nested.stat().st_size < 2_000 and tree_size([segment] * 100) > 10_000_000
    with pytest.raises(PickleExpansionError, match="nested.pkl expands"):
        load_plain_pickle(nested)


def test_a_pickle_that_contains_itself_is_refused(tmp_path):
    records = [("v1", 0.0, 1.0, "#C C a")]
    records.append(records)
    path = tmp_path / "cycle.pkl"
    path.write_bytes(pickle.dumps(records, protocol=4))
    with pytest.raises(PickleExpansionError, match=r"cycle\.pkl expands .* or contains itself"):
        load_plain_pickle(path)


def test_shared_ids_as_in_real_files_pass(tmp_path):
    # The same vid object in every record is written once and then referenced: a small, legitimate expansion.
    vid = "0a8f6747-7f79-4176-85ca-f5ec01a15435"
    records = [(vid, float(i), float(i + 1), f"#C C picks up cup {i}") for i in range(20_000)]
    path = tmp_path / "clips_train.pkl"
    path.write_bytes(pickle.dumps(records, protocol=4))
    loaded = load_plain_pickle(path)
    assert loaded == records and loaded[0][0] is loaded[1][0]
    assert tree_size(loaded) < 2 * path.stat().st_size


@pytest.mark.parametrize(
    ("opcodes", "reason"),
    [
        (b"\x80\x04\x8d" + struct.pack("<Q", 2**62) + b"abc.", "larger than the memory available"),  # BINUNICODE8
        (b"\x80\x04\x8e" + struct.pack("<Q", 2**62) + b"abc.", "larger than the memory available"),  # BINBYTES8
        (b"\x80\x05\x96" + struct.pack("<Q", 2**62) + b"abc.", "larger than the memory available"),  # BYTEARRAY8
        (b"\x80\x04\x95" + struct.pack("<Q", 2**62) + b"N.", "larger than the memory available"),  # FRAME
        (b"\x80\x04\x8d" + struct.pack("<Q", 2**64 - 1) + b"abc.", "exceeds system's maximum size"),
        (b"", "Ran out of input"),
        (b"\x80\x04]\x94(\x8c\x01a\x94", "truncated|Ran out of input"),
    ],
)
def test_impossible_lengths_are_one_line(tmp_path, opcodes, reason, capfd):
    path = tmp_path / "lengths.pkl"
    path.write_bytes(opcodes)
    with pytest.raises(ValueError, match=reason) as error:
        load_plain_pickle(path)
    assert str(error.value).startswith(f"{path} is not a readable pickle file: ") and "\n" not in str(error.value)
    assert capfd.readouterr().err == ""


def test_random_corruptions_end_in_data_or_one_line(tmp_path):
    """Seeded byte mutations of a real annotation pickle: each loads or raises a ValueError naming the file."""
    records = [
        {"vid": "v1", "sid": f"s{i}", "start_sec": 0.0, "end_sec": 12.0, "captions_pred": [["v1", 0.0, 4.0, "#C a"]]}
        for i in range(5)
    ]
    original = pickle.dumps(records, protocol=4)
    generator = random.Random(0)
    outcomes = collections.Counter()
    for attempt in range(300):
        data = bytearray(original)
        for _ in range(generator.randint(1, 4)):
            data[generator.randrange(len(data))] = generator.randrange(256)
        path = tmp_path / f"mutant{attempt}.pkl"
        path.write_bytes(bytes(data))
        try:
            load_plain_pickle(path)
            outcomes["loaded"] += 1
        except ValueError as err:
            assert str(err).startswith(str(path)) and "\n" not in str(err), err
            outcomes["refused"] += 1
    assert outcomes["loaded"] + outcomes["refused"] == 300 and outcomes["refused"] > 0
