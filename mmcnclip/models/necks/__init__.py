from .projection import CLIPProjection

__all__ = ['CLIPProjection']
