"""utils layer: Dataset, TensorDataset and DataLoader (batching, seeded shuffling, drop_last)."""

from __future__ import annotations

import math

from ..core.tensor import Tensor
from ..errors import GradcalcTypeError, GradcalcValueError

__all__ = ["DataLoader", "Dataset", "TensorDataset", "default_collate"]


class Dataset:
    """An indexable collection of samples: subclasses define __getitem__ (and __len__)."""

    def __getitem__(self, index):
        raise NotImplementedError("Subclasses of Dataset should implement __getitem__.")


class TensorDataset(Dataset):
    """Samples are rows of the given tensors (which must agree in their first dimension)."""

    def __init__(self, *tensors: Tensor) -> None:
        if any(tensors[0].size(0) != t.size(0) for t in tensors):
            raise AssertionError("Size mismatch between tensors")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].size(0)


def default_collate(batch):
    """Stack a list of samples: tensors → one tensor, tuples → a tuple of stacks, numbers → tensor."""
    from ..core.creation import tensor
    from ..core.shape import stack

    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack(batch, 0)
    if isinstance(elem, (int, float, bool)):
        return tensor(batch)
    if isinstance(elem, dict):
        return {k: default_collate([d[k] for d in batch]) for k in elem}
    if isinstance(elem, (tuple, list)):
        it = iter(batch)
        n = len(elem)
        if not all(len(e) == n for e in it):
            raise GradcalcValueError("each element in list of batch should be of equal size")
        cols = [default_collate(list(s)) for s in zip(*batch)]
        return tuple(cols) if isinstance(elem, tuple) else cols
    raise GradcalcTypeError(
        f"default_collate: batch must contain tensors, numbers, dicts or lists; found {type(elem)}"
    )


class DataLoader:
    """Iterates over a dataset in batches; `shuffle` draws a new order each epoch from `generator`."""

    def __init__(
        self,
        dataset,
        batch_size=1,
        shuffle=False,
        sampler=None,
        batch_sampler=None,
        num_workers=0,
        collate_fn=None,
        pin_memory=False,
        drop_last=False,
        timeout=0,
        worker_init_fn=None,
        generator=None,
        **kwargs,
    ) -> None:
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size <= 0):
            raise GradcalcValueError(
                f"batch_size should be a positive integer value, but got batch_size={batch_size}"
            )
        if sampler is not None and shuffle:
            raise GradcalcValueError("sampler option is mutually exclusive with shuffle")
        if shuffle and batch_sampler is None:
            n = len(dataset)  # PyTorch's RandomSampler refuses an empty dataset at once
            if n <= 0:
                raise GradcalcValueError(
                    f"num_samples should be a positive integer value, but got num_samples={n}")
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.sampler = sampler
        self.drop_last = drop_last
        self.num_workers = num_workers
        self.collate_fn = collate_fn
        self.generator = generator

    def _sampler(self):
        # the indices of one epoch, and the generator a shuffle drew them from
        n = len(self.dataset)
        if self.sampler is not None:
            return list(iter(self.sampler)), None
        if self.shuffle:
            from ..core import random as _random

            gen = self.generator
            if gen is None:  # PyTorch's RandomSampler: a generator seeded from the default one
                gen = _random.Generator().manual_seed(_random.draw_seed(None))
            return _random.randperm_values(gen, n).tolist(), gen
        return None, None

    def __iter__(self):
        from ..core import random as _random

        _random.draw_seed(self.generator)  # PyTorch's iterator draws its workers' base seed
        return self._batches()

    def _batches(self):
        n = len(self.dataset)
        order, gen = self._sampler()
        yield from self._batches_of(n, order)
        if gen is not None:
            # PyTorch's RandomSampler then draws randperm(n)[:0] for the rest of its samples
            from ..core import random as _random

            _random.randperm_values(gen, n)

    def _batches_of(self, n, order):
        bs = self.batch_size
        if bs is None:
            for i in range(n) if order is None else order:
                yield self.dataset[i]
            return
        stop = (n // bs) * bs if self.drop_last else n
        fast = isinstance(self.dataset, TensorDataset) and self.collate_fn is None
        if fast and order is not None:
            from ..core.creation import tensor
            from ..core.dtypes import int64
        for start in range(0, stop, bs):
            if fast:
                if order is None:
                    idx = slice(start, min(start + bs, n))
                else:
                    idx = tensor(order[start : start + bs], dtype=int64)
                yield tuple(t[idx] for t in self.dataset.tensors)
            else:
                ids = (
                    range(start, min(start + bs, n)) if order is None else order[start : start + bs]
                )
                batch = [self.dataset[i] for i in ids]
                yield (self.collate_fn or default_collate)(batch)

    def __len__(self) -> int:
        n = len(self.dataset)
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
