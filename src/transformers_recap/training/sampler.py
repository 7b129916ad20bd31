# Copyright 2026 The transformers-recap authors. Licensed under the Apache License, Version 2.0.
"""Datasets and batch samplers that train one or several caption levels with level-homogeneous batches."""

from collections.abc import Iterator, Mapping, Sequence

import torch
from torch.utils.data import Dataset, Sampler

from ..models.video_recap.configuration_video_recap import LEVELS, validate_level


class MultiLevelDataset(Dataset):
    """
    Concatenates one dataset per caption level; every item is a dict that also carries its `"level"`.

    Args:
        datasets (`Mapping[str, Sequence[dict]]`): level name -> dataset of examples (e.g. `datasets.Dataset` rows).
    """

    def __init__(self, datasets: Mapping[str, Sequence[dict]]):
        if not datasets:
            raise ValueError("MultiLevelDataset needs at least one level.")
        self.levels = tuple(level for level in LEVELS if level in datasets)
        unknown = set(datasets) - set(self.levels)
        if unknown:
            raise ValueError(f"Unknown levels {sorted(unknown)}; expected a subset of {list(LEVELS)}.")
        self.datasets = {level: datasets[level] for level in self.levels}
        self.offsets = {}
        offset = 0
        for level in self.levels:
            if len(self.datasets[level]) == 0:
                raise ValueError(f"The {level} training set is empty.")
            self.offsets[level] = offset
            offset += len(self.datasets[level])
        self._length = offset

    def __len__(self) -> int:
        return self._length

    def level_indices(self, level: str) -> range:
        """Global indices of the items of `level`."""
        start = self.offsets[level]
        return range(start, start + len(self.datasets[level]))

    def __getitem__(self, index: int) -> dict:
        for level in reversed(self.levels):
            if index >= self.offsets[level]:
                return {**self.datasets[level][index - self.offsets[level]], "level": level}
        raise IndexError(index)


class LevelAlternatingBatchSampler(Sampler[list[int]]):
    """
    Yields level-homogeneous batches, alternating between levels (clip, segment, video, clip, ...), as Video ReCap-U
    trains (Islam et al., CVPR 2024, Sec. 3.4): every level contributes `samples_per_epoch[level]` examples per epoch,
    by default as many as the level with the fewest examples (the highest level), so the lower levels are subsampled
    afresh each epoch to prevent forgetting without drowning the higher level. With a single level this is a plain
    shuffled batch sampler.

    Batches are built as GLOBAL batches of `global_batch_size` examples and each is emitted as `num_processes`
    consecutive per-process chunks; accelerate's batch-sampler sharding hands chunk `i` to process `i`, so at every
    step all processes train the same level, and N processes see exactly the examples one process would see with
    the same global batch.

    Args:
        dataset ([`MultiLevelDataset`]): the examples.
        global_batch_size (`int`): examples per optimisation step over all processes.
        num_processes (`int`): data-parallel processes (divides `global_batch_size`).
        samples_per_epoch (`Mapping[str, int]`, *optional*): examples drawn per level per epoch.
        seed (`int`): base seed; epoch `e` uses `seed + e`.
        drop_last (`bool`): drop each level's last incomplete global batch.
    """

    def __init__(
        self,
        dataset: MultiLevelDataset,
        global_batch_size: int,
        num_processes: int = 1,
        samples_per_epoch: Mapping[str, int] | None = None,
        seed: int = 0,
        drop_last: bool = True,
    ):
        if global_batch_size < 1 or global_batch_size % num_processes:
            raise ValueError(
                f"global_batch_size ({global_batch_size}) must be a positive multiple of num_processes ({num_processes})."
            )
        self.dataset = dataset
        self.global_batch_size = global_batch_size
        self.num_processes = num_processes
        self.chunk_size = global_batch_size // num_processes
        self.seed = seed
        self.drop_last = drop_last
        self.epoch = 0
        smallest = min(len(dataset.level_indices(level)) for level in dataset.levels)
        samples_per_epoch = dict(samples_per_epoch or {})
        for level in samples_per_epoch:
            validate_level(level)
        self.samples_per_epoch = {
            level: min(samples_per_epoch.get(level, smallest), len(dataset.level_indices(level)))
            for level in dataset.levels
        }

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _num_batches(self, num_samples: int) -> int:
        full, rest = divmod(num_samples, self.global_batch_size)
        # An incomplete last batch is kept only when asked and when it still splits evenly over the processes.
        return full + int(bool(rest) and not self.drop_last and rest % self.num_processes == 0)

    def _global_batches(self) -> list[list[int]]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        per_level = []
        for level in self.dataset.levels:
            indices = self.dataset.level_indices(level)
            num_samples = self.samples_per_epoch[level]
            order = torch.randperm(len(indices), generator=generator)[:num_samples].tolist()
            chosen = [indices[position] for position in order]
            size = self.global_batch_size
            per_level.append([chosen[i * size : (i + 1) * size] for i in range(self._num_batches(num_samples))])
        interleaved = []
        for step in range(max(len(batches) for batches in per_level)):
            interleaved.extend(batches[step] for batches in per_level if step < len(batches))
        return interleaved

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self._global_batches():
            chunk = len(batch) // self.num_processes
            for rank in range(self.num_processes):
                yield batch[rank * chunk : (rank + 1) * chunk]

    def __len__(self) -> int:
        return self.num_processes * sum(self._num_batches(count) for count in self.samples_per_epoch.values())


__all__ = ["LevelAlternatingBatchSampler", "MultiLevelDataset"]
