"""Without network, the default-weights download of an mmcnclip model
fails in one line naming the file and how to pass a local path."""
from urllib.error import URLError

import pytest
from mmengine.runner import checkpoint as mmengine_checkpoint

from mmcnclip.checkpoint.download import CheckpointDownloadError


def _offline(*args, **kwargs):
    raise URLError('[Errno -3] Temporary failure in name resolution')


def test_inferencer_without_pretrained_offline(monkeypatch):
    from mmpretrain import ImageClassificationInferencer
    monkeypatch.setattr(mmengine_checkpoint, 'load_from_http', _offline)
    with pytest.raises(CheckpointDownloadError) as info:
        ImageClassificationInferencer(
            'cn-clip_resnet50_zeroshot-cls_cifar100')
    message = str(info.value)
    assert '\n' not in message
    assert 'https://' in message and 'clip_cn_rn50.pt' in message
    assert 'name resolution' in message
    assert "pretrained='/path/to/clip_cn_rn50.pt'" in message
    assert info.value.__cause__ is None and info.value.__suppress_context__
