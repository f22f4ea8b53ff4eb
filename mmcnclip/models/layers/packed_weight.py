"""A weight kept in a kernel's own layout, rebuilt when the weight changes."""
from typing import Callable, Hashable

import torch


class PackedWeight:
    """Cache of one derived copy of a weight (e.g. reordered into oneDNN's
    blocked layout), rebuilt when the weight's storage or values (its
    version counter) or the caller's key change. Copies and pickles of the
    owning module start empty: the packed tensor is opaque and rebuilt on
    use. Key and copy are stored as one tuple, so that threads sharing a
    module never see the key of one copy with another copy.
    """

    def __init__(self):
        self._entry = None  # (full key, packed copy)

    def __getstate__(self) -> dict:
        return {}

    def __setstate__(self, state: dict) -> None:
        self.__init__()

    @property
    def key(self):
        """The caller's key of the cached copy (None when empty)."""
        return None if self._entry is None else self._entry[0][0]

    def get(self, weight: torch.Tensor, key: Hashable,
            pack: Callable[[], torch.Tensor]) -> torch.Tensor:
        """The packed copy of ``weight`` for ``key``, from ``pack()`` when
        missing or stale. Inference tensors do not count their changes, so
        for them ``pack()`` runs at every call."""
        if weight.is_inference():
            return pack()
        full_key = (key, weight.dtype, weight.data_ptr(), weight._version)
        entry = self._entry
        if entry is None or entry[0] != full_key:
            entry = (full_key, pack())
            self._entry = entry
        return entry[1]
