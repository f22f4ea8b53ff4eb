"""Image loading that keeps the PIL semantics of the official Chinese CLIP.

OpenMMLab pipelines normally carry BGR ``numpy`` arrays (``mmcv.imread``),
while Chinese CLIP resizes PIL images and converts them to RGB afterwards.
:class:`LoadImagePIL` bridges both worlds: files are decoded by PIL exactly
as the official code sees them, and every ``numpy`` image that enters the
pipeline is taken as BGR (the OpenMMLab convention) and turned into an RGB
PIL image.
"""
import os
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform
from PIL import Image, UnidentifiedImageError

from mmcnclip.registry import TRANSFORMS

#: PIL mode of an (H, W, C) BGR(A) array, by its number of channels C.
_MODES = {1: 'L', 3: 'RGB', 4: 'RGBA'}


def bgr_array_to_pil(img: np.ndarray) -> Image.Image:
    """Turn an OpenMMLab image array (BGR or BGRA, or gray) into PIL.

    Args:
        img (np.ndarray): ``uint8`` array of shape (H, W) or (H, W, C) with
            C in (1, 3, 4); 3 and 4 channels are read as BGR and BGRA.

    Returns:
        PIL.Image.Image: The image in mode ``L``, ``RGB`` or ``RGBA``.

    Raises:
        TypeError: If ``img`` is not a ``uint8`` array.
        ValueError: If its shape is not an image shape.
    """
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8:
        raise TypeError('Expected a uint8 numpy image (BGR, OpenMMLab '
                        f'convention), got {type(img).__name__} with dtype '
                        f"{getattr(img, 'dtype', None)}")
    if img.ndim == 2:
        img = img[..., None]
    if img.ndim != 3 or img.shape[2] not in _MODES:
        raise ValueError('Expected an image array of shape (H, W) or (H, W, '
                         f'C) with C in {sorted(_MODES)}, got {img.shape}')
    channels = img.shape[2]
    if channels == 1:
        arr = img[..., 0]
    elif channels == 3:
        arr = img[..., ::-1]
    else:
        arr = img[..., [2, 1, 0, 3]]
    return Image.fromarray(np.ascontiguousarray(arr), mode=_MODES[channels])


def to_pil(img, source: str = 'results["img"]') -> Image.Image:
    """Return ``img`` as a PIL image, reading ``numpy`` arrays as BGR.

    Args:
        img (PIL.Image.Image | np.ndarray): The image.
        source (str): How to name the image in error messages. Defaults to
            ``'results["img"]'``.

    Returns:
        PIL.Image.Image: ``img`` itself when it is a PIL image, else
        :func:`bgr_array_to_pil` of it.
    """
    if isinstance(img, Image.Image):
        return img
    if isinstance(img, np.ndarray):
        return bgr_array_to_pil(img)
    raise TypeError(f'{source} must be a PIL image or a BGR uint8 numpy '
                    f'array, got {type(img).__name__}')


class ImageDecodeError(OSError):
    """An image file cannot be decoded (empty, truncated, not an image,
    too large); the message names the file."""


#: What PIL raises for files it cannot decode (DecompressionBombError: more
#: pixels than twice ``PIL.Image.MAX_IMAGE_PIXELS``).
DECODE_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError,
                 Image.DecompressionBombError)


def open_image(source, name: Optional[str] = None) -> Image.Image:
    """Open and fully decode an image with PIL, as Chinese CLIP does.

    The image keeps its mode and orientation: no EXIF transpose (the
    official code does not apply one either). Animated images give their
    first frame.

    Args:
        source (str | file): Path, or a binary file object.
        name (str, optional): How to name the image in errors; ``source``
            when None. Defaults to None.

    Returns:
        PIL.Image.Image: The decoded image.

    Raises:
        FileNotFoundError: ``source`` is a path that does not exist.
        ImageDecodeError: PIL cannot decode it (naming the file and why).
    """
    name = source if name is None else name
    try:
        if isinstance(source, (str, os.PathLike)):
            with open(source, 'rb') as f:
                img = Image.open(f)
                img.load()
        else:
            img = Image.open(source)
            img.load()
    except FileNotFoundError:
        raise FileNotFoundError(f'Image file not found: {name}') from None
    except Image.DecompressionBombError as e:
        raise ImageDecodeError(
            f'Cannot decode image {name}: too large ({e}). Raise '
            'PIL.Image.MAX_IMAGE_PIXELS if you trust it') from e
    except DECODE_ERRORS as e:
        raise ImageDecodeError(f'Cannot decode image {name}: {e}') from e
    return img


@TRANSFORMS.register_module()
class LoadImagePIL(BaseTransform):
    """Decode an image with PIL, the way Chinese CLIP reads images.

    Kept instead of mmcv's ``LoadImageFromFile``: see :class:`PILResize`
    for the measured differences (RGBA, palette images, speed).

    * If ``results['img_path']`` is set, the file is opened with PIL and
      kept in its own mode (``RGBA``, ``P``, ``L``, ``CMYK``...):
      ``cn_clip.clip.image_transform`` resizes first and converts to RGB
      afterwards, which gives different pixels for RGBA and palette images
      than converting first.
    * Otherwise ``results['img']`` is used: a ``numpy`` array is read as
      BGR(A) (the OpenMMLab convention of ``mmcv.imread``, mmpretrain's
      inferencers and the mmcnclip CIFAR datasets) and becomes an RGB(A)
      PIL image; a PIL image is kept as it is.

    The PIL image is stored in ``results['img']``; ``ori_shape`` and
    ``img_shape`` are set to its (height, width). Follow it with
    :class:`PILResize`, which yields the RGB ``uint8`` array.

    Args:
        convert_rgb (bool): Convert to RGB right after decoding, like the
            loader of torchvision's ``ImageFolder`` which the official
            zero-shot classification evaluation uses. Defaults to False
            (keep the mode, like the official retrieval data and
            ``cn_clip`` API usage ``preprocess(Image.open(path))``).
    """

    def __init__(self, convert_rgb: bool = False):
        self.convert_rgb = convert_rgb

    def transform(self, results: dict) -> Optional[dict]:
        """Load the image of ``results`` as PIL.

        Args:
            results (dict): Needs ``img_path`` or ``img``.

        Returns:
            dict: ``results`` with the PIL image in ``img``.
        """
        path = results.get('img_path')
        if path is not None:
            img = self._open(path)
        elif results.get('img') is not None:
            img = to_pil(results['img'])
        else:
            raise KeyError('LoadImagePIL needs results["img_path"] or '
                           f'results["img"]; got keys {sorted(results)}')
        if self.convert_rgb and img.mode != 'RGB':
            img = img.convert('RGB')
        results['img'] = img
        results['img_shape'] = (img.height, img.width)
        results['ori_shape'] = (img.height, img.width)
        return results

    @staticmethod
    def _open(path) -> Image.Image:
        """Open and fully decode ``path`` (errors name the file)."""
        return open_image(path)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(convert_rgb={self.convert_rgb})'
