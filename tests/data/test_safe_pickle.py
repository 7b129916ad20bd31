"""The annotation unpickler admits plain data only and never runs what a pickle asks for."""

import collections
import os
import pickle

import pytest

from transformers_recap.data import Ego4DHCap, UnsafePickleError, load_plain_pickle


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
