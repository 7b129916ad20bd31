"""The multi-level dataset and the level-alternating batch sampler used by curriculum training."""

import pytest

from transformers_recap.training.sampler import LevelAlternatingBatchSampler, MultiLevelDataset


def make_dataset(sizes: dict[str, int]) -> MultiLevelDataset:
    return MultiLevelDataset({level: [{"id": f"{level}-{i}"} for i in range(size)] for level, size in sizes.items()})


def test_dataset_items_carry_their_level():
    dataset = make_dataset({"video": 2, "clip": 3})
    assert dataset.levels == ("clip", "video")  # hierarchy order, whatever the mapping order
    assert len(dataset) == 5
    assert dataset[0] == {"id": "clip-0", "level": "clip"}
    assert dataset[3] == {"id": "video-0", "level": "video"}
    assert list(dataset.level_indices("video")) == [3, 4]
    with pytest.raises(ValueError, match="Unknown levels"):
        MultiLevelDataset({"scene": [{}]})
    with pytest.raises(ValueError, match="empty"):
        MultiLevelDataset({"clip": []})


def test_batches_alternate_levels_and_subsample_lower_levels():
    dataset = make_dataset({"clip": 100, "segment": 20, "video": 8})
    sampler = LevelAlternatingBatchSampler(dataset, global_batch_size=4, seed=3)
    batches = list(sampler)
    levels = [dataset[batch[0]]["level"] for batch in batches]
    # 8 examples per level per epoch (as many as the smallest level), 2 batches each, round robin.
    assert levels == ["clip", "segment", "video"] * 2
    assert len(sampler) == len(batches) == 6
    for batch in batches:
        assert len(batch) == 4 and len({dataset[index]["level"] for index in batch}) == 1
    seen = [index for batch in batches for index in batch]
    assert len(seen) == len(set(seen))
    # A new epoch draws a different subset of the lower levels; the same epoch is reproducible.
    sampler.set_epoch(1)
    assert list(sampler) != batches
    sampler.set_epoch(0)
    assert list(sampler) == batches


def test_explicit_samples_per_epoch_and_single_level():
    dataset = make_dataset({"clip": 50, "segment": 10})
    sampler = LevelAlternatingBatchSampler(dataset, global_batch_size=5, samples_per_epoch={"clip": 30})
    levels = [dataset[batch[0]]["level"] for batch in sampler]
    assert levels.count("clip") == 6 and levels.count("segment") == 2
    assert levels[:4] == ["clip", "segment", "clip", "segment"]
    single = LevelAlternatingBatchSampler(make_dataset({"clip": 11}), global_batch_size=4)
    assert [len(batch) for batch in single] == [4, 4]  # last incomplete batch dropped
    with pytest.raises(ValueError, match="Unknown level"):
        LevelAlternatingBatchSampler(dataset, global_batch_size=4, samples_per_epoch={"scene": 3})


def test_processes_share_each_global_batch():
    dataset = make_dataset({"clip": 40, "segment": 16})
    one = list(LevelAlternatingBatchSampler(dataset, global_batch_size=8, num_processes=1, seed=7))
    two = list(LevelAlternatingBatchSampler(dataset, global_batch_size=8, num_processes=2, seed=7))
    assert len(two) == 2 * len(one)
    for step, batch in enumerate(one):
        rank0, rank1 = two[2 * step], two[2 * step + 1]
        assert rank0 + rank1 == batch
        assert {dataset[i]["level"] for i in rank0 + rank1} == {dataset[batch[0]]["level"]}
    with pytest.raises(ValueError, match="multiple of num_processes"):
        LevelAlternatingBatchSampler(dataset, global_batch_size=5, num_processes=2)
