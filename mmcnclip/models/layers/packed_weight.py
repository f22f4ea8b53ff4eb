"""A weight kept in a kernel's own layout, rebuilt when the weight changes."""
from typing import Callable, Hashable

import torch


class PackedWeight:
    """Cache of one derived copy of a weight (e.g. reordered into oneDNN's
    blocked layout), rebuilt when the weight's storage or values (its
    version counter) or the caller's key change. Copies and pickles of the
    owning module start empty: the packed tensor is opaque and rebuilt on
    use.
    """

    def __init__(self):
        self._key, self._value = None, None

    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        self.__init__()

    @property
    def key(self):
        """The key the cached copy was built for (None when empty)."""
        return self._key

    def get(self, weight: torch.Tensor, key: Hashable,
            pack: Callable[[], torch.Tensor]) -> torch.Tensor:
        """The packed copy of ``weight`` for ``key``, from ``pack()`` when
        missing or stale. Inference tensors do not count their changes, so
        for them ``pack()`` runs at every call."""
        if weight.is_inference():
            return pack()
        full_key = (key, weight.dtype, weight.data_ptr(), weight._version)
        if self._key != full_key:
            self._key, self._value = full_key, pack()
        return self._value
