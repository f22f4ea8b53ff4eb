"""Offline-clear downloads of the official checkpoints.

mmpretrain's ``get_model`` and inferencers download a model's default
weights (its metafile ``Weights`` URL) when no ``pretrained=`` path is
given. Without network that ends in a long ``URLError`` traceback; for the
URLs of mmcnclip's models the error says in one line which file was tried
and how to pass a local copy instead.
"""
import os.path as osp
import re
from urllib.error import URLError
from urllib.parse import urlparse

from mmcnclip.model_table import MODEL_TABLE

#: URL prefixes (folders) of the weights in mmcnclip's model table, which
#: the metafile and so mmpretrain's ``get_model``/inferencers use.
OFFICIAL_URL_PREFIXES = tuple(sorted({
    url.rsplit('/', 1)[0] + '/'
    for info in MODEL_TABLE.values()
    for url in (info.weights, info.mmpretrain_weights) if url}))


class CheckpointDownloadError(RuntimeError):
    """An official checkpoint could not be downloaded."""


def download_error_message(url: str, reason) -> str:
    """One line: the URL tried, why it failed, how to use a local file."""
    name = osp.basename(urlparse(url).path)
    return (f'could not download the checkpoint {url} ({reason}). Without '
            f'network, get {name} elsewhere (README.md "Checkpoints") and '
            f"pass its local path: pretrained='/path/to/{name}' "
            '(get_model, inferencers), load_from=... (configs) or the '
            'CHECKPOINT argument of tools/test.py.')


def register_download_errors() -> None:
    """Route mmengine's loading of :data:`OFFICIAL_URL_PREFIXES` through
    :func:`load_from_official_url` (mmengine's public scheme registry;
    other URLs keep mmengine's loader)."""
    from mmengine.runner import CheckpointLoader
    CheckpointLoader.register_scheme(
        prefixes=[re.escape(p) for p in OFFICIAL_URL_PREFIXES],
        loader=load_from_official_url, force=True)


def load_from_official_url(filename: str, map_location=None):
    """mmengine's HTTP loading; network failures become one clear
    :class:`CheckpointDownloadError`.

    Args:
        filename (str): The URL.
        map_location (optional): As for ``torch.load``.

    Returns:
        dict: The checkpoint.
    """
    from mmengine.runner import checkpoint as mmengine_checkpoint
    try:
        return mmengine_checkpoint.load_from_http(filename, map_location)
    except (URLError, ConnectionError, TimeoutError) as err:
        reason = getattr(err, 'reason', None) or err
        raise CheckpointDownloadError(
            download_error_message(filename, reason)) from None
