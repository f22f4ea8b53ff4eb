import mmpretrain.models  # noqa: F401  (fills the parent registry)

from .backbones import *  # noqa: F401,F403
from .chinese_clip import ChineseCLIP
from .classifiers import *  # noqa: F401,F403
from .data_preprocessor import ImageTextDataPreprocessor
from .heads import *  # noqa: F401,F403
from .inference import prepare_for_inference, to_low_precision
from .losses import *  # noqa: F401,F403
from .necks import *  # noqa: F401,F403
from .taiyi import *  # noqa: F401,F403

__all__ = [
    'ChineseCLIP', 'ImageTextDataPreprocessor', 'prepare_for_inference',
    'to_low_precision'
]
