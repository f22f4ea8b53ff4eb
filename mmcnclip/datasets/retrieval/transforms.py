"""Packing of image-text items, including text-only gallery items."""
from mmpretrain.datasets.transforms import PackInputs

from mmcnclip.registry import TRANSFORMS


@TRANSFORMS.register_module()
class PackImageText(PackInputs):
    """``PackInputs`` with the image-text fields. A text-only item gets no
    ``inputs`` (as in ``PackInputs``), so batches of texts collate with
    ``default_collate`` (mmpretrain's retrieval inferencers); retrieval
    datasets set ``inputs=None`` on their text-only gallery items.

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
