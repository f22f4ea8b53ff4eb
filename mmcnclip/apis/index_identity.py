"""Which model and preprocessing a retrieval index was built with, and the
check that queries are encoded by the same ones."""
import json
import logging
from typing import Optional, Sequence

from mmengine.logging import print_log
from torch import nn

from mmcnclip.models.fingerprint import sampled_weights_digest


class OtherModelError(ValueError):
    """A retrieval index is searched with another model than it was built
    with."""


def model_identity(model: nn.Module,
                   pipeline: Optional[Sequence] = None) -> dict:
    """The identity stored in a retrieval index.

    Compute it right after loading the checkpoint: preparing the model for
    inference (folded, fused or low-precision weights) changes its weights.

    Args:
        model (nn.Module): The model whose features the index holds.
        pipeline (Sequence, optional): Config of the image preprocessing
            (transform dicts). Defaults to None.

    Returns:
        dict: ``weights`` (a sampled weights digest, see
        :func:`~mmcnclip.models.fingerprint.sampled_weights_digest`) and
        ``preprocessing`` (the pipeline as JSON, or None).
    """
    return dict(weights=sampled_weights_digest([model]),
                preprocessing=describe_pipeline(pipeline))


def describe_pipeline(pipeline: Optional[Sequence]) -> Optional[str]:
    """A comparable text form of a pipeline config (None stays None)."""
    if pipeline is None:
        return None
    return json.dumps([dict(t) if isinstance(t, dict) else repr(t)
                       for t in pipeline], sort_keys=True, default=repr,
                      ensure_ascii=False)


def check_index_model(stored: Optional[dict], current: dict, index_path: str,
                      allow_other_model: bool = False) -> None:
    """Refuse to search an index with another model than it was built with.

    Args:
        stored (dict, optional): The index's :func:`model_identity` (None
            for indexes written before identities were stored).
        current (dict): :func:`model_identity` of the searching model.
        index_path (str): The index file, for messages.
        allow_other_model (bool): Warn instead of raising. Defaults to
            False.

    Raises:
        OtherModelError: The weights differ or are unknown, and
            ``allow_other_model`` is False.
    """
    if stored is None or stored.get('weights') != current['weights']:
        what = ('stores no model identity (written by an older mmcnclip)'
                if stored is None else
                'was built with other model weights than the checkpoint '
                'given here')
        message = (f'The retrieval index {index_path} {what}: its features '
                   'and the query features would not be comparable')
        if not allow_other_model:
            raise OtherModelError(
                message + '. Search with the checkpoint the index was built '
                'with, rebuild the index (tools/extract_features.py), or '
                'pass --allow-other-model if you know they match')
        print_log(message + ' (allowed by --allow-other-model)',
                  logger='current', level=logging.WARNING)
    elif stored.get('preprocessing') is not None and current[
            'preprocessing'] is not None and stored[
                'preprocessing'] != current['preprocessing']:
        print_log(
            f'The image preprocessing of the config differs from the one '
            f'the retrieval index {index_path} was built with: image '
            'queries are preprocessed differently from the gallery',
            logger='current', level=logging.WARNING)
