from .projection import CLIPProjection
from .simple_pyramid import SimpleFeaturePyramid

__all__ = ['CLIPProjection', 'SimpleFeaturePyramid']
