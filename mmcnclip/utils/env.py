"""Checks of the OpenMMLab environment mmcnclip runs in."""
import warnings
from importlib.metadata import PackageNotFoundError, version

from packaging.version import Version

#: mmdet 3.3 and mmseg 1.2 refuse mmcv >= 2.2; mmpretrain 1.2 needs >= 2.0.
MMCV_MIN, MMCV_MAX = Version('2.0.0'), Version('2.2.0')


def check_mmcv_version():
    """Fail early, with the fix, when mmcv(-lite) is missing or too new.

    mmcv is not an install requirement of mmcnclip because ``mmcv`` and
    ``mmcv-lite`` install the same files: users pick one of them.
    """
    try:
        import mmcv
    except ImportError:
        raise ImportError(
            'mmcnclip needs mmcv: `pip install mmcv-lite==2.1.0` for '
            'classification/retrieval, or a full mmcv 2.1 (with compiled '
            'ops) for mmdet/mmseg models; never both') from None
    found = Version(mmcv.__version__)
    if not MMCV_MIN <= found < MMCV_MAX:
        raise ImportError(
            f'mmcv {found} is installed, but mmcnclip needs '
            f'{MMCV_MIN} <= mmcv < {MMCV_MAX} (mmdet 3.3/mmseg 1.2 refuse '
            'newer versions)')


def check_transformers_version():
    """mmpretrain imports its multimodal models (which need transformers
    < 4.52) whenever pycocotools and transformers are both installed; say so
    before that import crashes with an obscure error."""
    try:
        found = Version(version('transformers'))
        version('pycocotools')
    except PackageNotFoundError:
        return
    if found >= Version('4.52'):
        raise ImportError(
            f'transformers {found} is installed together with pycocotools: '
            "mmpretrain's multimodal import (which mmcnclip triggers through "
            'mmpretrain.models) crashes on transformers >= 4.52. Install '
            '`transformers==4.51.3` (or uninstall pycocotools).')


def import_mmcv_quietly():
    """Import mmcv's transformer bricks without the mmcv-lite warning.

    With mmcv-lite (the intended install for classification and retrieval)
    ``mmcv.cnn.bricks.transformer`` warns on import that the compiled
    ``MultiScaleDeformableAttention`` is missing, on every command. mmcnclip
    never uses that op, so its first import happens here with exactly that
    warning filtered (nothing else is silenced, and the filter ends with
    the import). mmdet/mmseg models that need the op still fail loudly when
    they build it.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            'ignore', message='Fail to import ``MultiScaleDeformableAttention',
            category=UserWarning)
        import mmcv.cnn.bricks.transformer  # noqa: F401
