"""mmpretrain's image classification inferencer, decoding files like the
dataset pipeline (PIL) instead of OpenCV."""
from pathlib import Path
from typing import List

from mmengine.dataset import Compose, default_collate
from mmpretrain.apis import ImageClassificationInferencer as _Inferencer
from mmpretrain.apis.base import InputType

from mmcnclip.datasets.transforms import LoadImagePIL


class ImageClassificationInferencer(_Inferencer):
    """Drop-in replacement of :class:`mmpretrain.ImageClassificationInferencer`
    whose image files are decoded by the config's ``mmcnclip.LoadImagePIL``.

    mmpretrain's inferencer reads a path with ``mmcv.imread`` (OpenCV), which
    differs from the official Chinese CLIP preprocessing (PIL
    ``Image.open``) for EXIF-rotated photos, 16-bit and palette PNGs and
    CMYK JPEGs. Here a path (``str`` or ``Path``) is handed to the test
    pipeline as ``img_path``, so it is decoded exactly as the dataset
    pipeline decodes it: PIL, the file's own pixel order (no EXIF
    transpose, like the official code), RGB conversion as the config's
    ``LoadImagePIL`` says, and errors that name the file. Arrays are read as
    BGR, as in mmpretrain.

    Configs whose test pipeline does not start with ``LoadImagePIL`` behave
    exactly like mmpretrain's inferencer.
    """

    def _init_pipeline(self, cfg) -> Compose:
        pipeline = super()._init_pipeline(cfg)
        transforms = pipeline.transforms
        self.decodes_paths = bool(transforms) and isinstance(
            transforms[0], LoadImagePIL)
        return pipeline

    def preprocess(self, inputs: List[InputType], batch_size: int = 1):
        """Load ``inputs`` (paths by the pipeline's ``LoadImagePIL``) and
        yield collated batches."""
        if not self.decodes_paths:
            yield from super().preprocess(inputs, batch_size)
            return

        def load(input_):
            if isinstance(input_, (str, Path)):
                return self.pipeline(dict(img_path=str(input_)))
            return self.pipeline(dict(img=input_))

        chunked_data = self._get_chunk_data(map(load, inputs), batch_size)
        yield from map(default_collate, chunked_data)
