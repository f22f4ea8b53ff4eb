"""Packing of image-text items, including text-only gallery items."""
from mmpretrain.datasets.transforms import PackInputs

from mmcnclip.registry import TRANSFORMS


@TRANSFORMS.register_module()
class PackImageText(PackInputs):
    """``PackInputs`` that always sets ``inputs`` (None for text-only
    items), so retrieval galleries with mixed batches collate.

    Args:
        algorithm_keys (Sequence[str]): Data sample fields. Defaults to
            ``('text', 'image_id', 'text_id', 'gt_image_ids')``.
        meta_keys (Sequence[str]): Defaults to ``()``.
    """

    def __init__(self,
                 algorithm_keys=('text', 'image_id', 'text_id',
                                 'gt_image_ids'),
                 meta_keys=(),
                 **kwargs):
        super().__init__(algorithm_keys=algorithm_keys, meta_keys=meta_keys,
                         **kwargs)

    def transform(self, results: dict) -> dict:
        packed = super().transform(results)
        packed.setdefault('inputs', None)
        return packed
