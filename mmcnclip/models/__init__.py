import mmpretrain.models  # noqa: F401  (fills the parent registry)

from .backbones import *  # noqa: F401,F403
from .chinese_clip import ChineseCLIP
from .necks import *  # noqa: F401,F403

__all__ = ['ChineseCLIP']
