"""Data transforms that reproduce the Chinese CLIP image preprocessing."""
from .loading import LoadImagePIL, bgr_array_to_pil
from .processing import PILResize

__all__ = ['LoadImagePIL', 'PILResize', 'bgr_array_to_pil']
