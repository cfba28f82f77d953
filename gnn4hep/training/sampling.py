"""Seeded order and randomness of per-event training, shared by the Lightning modules that train on
whole events one at a time (object condensation, metric learning).

Everything random in a training step is a pure function of (run seed, epoch, event index), never of
a global random state carried from step to step. So a run resumed from a checkpoint written at the
end of epoch k draws exactly what the uninterrupted run drew in epochs k+1.. (identical final
weights), and the draws do not depend on how many processes share the events under DDP.

- :func:`derived_seed`: a 63-bit seed from integer keys (``numpy.random.SeedSequence``);
- :func:`step_generator`: the ``torch.Generator`` of one step (seed, epoch, event index);
- :class:`EpochShuffle`: a sampler whose order in epoch e is a permutation drawn from (seed, e);
  Lightning calls its ``set_epoch`` before each epoch;
- :func:`event_loader`: a ``DataLoader`` yielding ``(index, item)`` one event per step.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

#: Key that separates the shuffling stream from the per-step streams of the same epoch.
_SHUFFLE = -1


def derived_seed(*keys: int) -> int:
    """A seed in [0, 2^63) from non-negative or negative integer keys; different keys give
    independent streams (``numpy.random.SeedSequence`` hashing)."""
    entropy = [int(k) % (1 << 64) for k in keys]
    words = np.random.SeedSequence(entropy).generate_state(2, dtype=np.uint32)
    return int((int(words[0]) << 31) ^ int(words[1])) & ((1 << 63) - 1)


def step_generator(seed: int, epoch: int, index: int) -> torch.Generator:
    """CPU generator of the training step on event ``index`` in ``epoch`` (0-based)."""
    return torch.Generator().manual_seed(derived_seed(seed, epoch, index))


def epoch_permutation(n: int, seed: int, epoch: int) -> list[int]:
    """The order of ``n`` events in ``epoch``: a permutation drawn from (seed, epoch) only."""
    generator = torch.Generator().manual_seed(derived_seed(seed, epoch, _SHUFFLE))
    return torch.randperm(n, generator=generator).tolist()


class EpochShuffle(Sampler[int]):
    """Indices 0..n-1 in the order :func:`epoch_permutation` gives for the current epoch.

    Lightning calls ``set_epoch(e)`` before epoch e (also after resuming from a checkpoint), so the
    order depends only on (seed, e).
    """

    def __init__(self, n: int, seed: int) -> None:
        self.n, self.seed, self.epoch = int(n), int(seed), 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[int]:
        return iter(epoch_permutation(self.n, self.seed, self.epoch))

    def __len__(self) -> int:
        return self.n


class IndexedEvents(Dataset):
    """``(index, item)`` pairs of a list: the index keys the step's random draws."""

    def __init__(self, items: Sequence[Any]) -> None:
        self.items = list(items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[int, Any]:
        return index, self.items[index]


def single_event(batch: list[tuple[int, Any]]) -> tuple[int, Any]:
    """Collate of a one-event batch: the ``(index, item)`` itself (a module-level function, so that
    DDP's spawned processes can unpickle the loader)."""
    if len(batch) != 1:
        raise ValueError(f"one event per step expected, got a batch of {len(batch)}")
    return batch[0]


def event_loader(items: Sequence[Any], seed: int) -> DataLoader:
    """One event per step, ``(index, item)``, in the seeded order of :class:`EpochShuffle`."""
    return DataLoader(IndexedEvents(items), batch_size=1, sampler=EpochShuffle(len(items), seed), collate_fn=single_event)
