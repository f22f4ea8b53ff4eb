from .zero_shot_head import ZeroShotClsHead

__all__ = ['ZeroShotClsHead']
