"""``mmcnclip.checkpoint.convert_checkpoint``: a whole loaded checkpoint of
a published layout to a slim mmcnclip checkpoint (what
tools/model_converters/cnclip_to_mmcnclip.py writes)."""
import pytest
import torch

from mmcnclip import __version__
from mmcnclip.checkpoint import (CheckpointMismatchError, check_state_dict,
                                 convert_checkpoint)
from mmcnclip.registry import MODELS
from tiny_models import tiny_config, tiny_official


@pytest.fixture(scope='module')
def official():
    """A tiny official checkpoint as the official training code saves it:
    ``module.`` keys inside ``state_dict``, next to training state."""
    state = {f'module.{k}': v
             for k, v in tiny_official().state_dict().items()}
    return {'epoch': 1, 'step': 10, 'state_dict': state}


def test_converts_and_loads_strictly(official):
    before = {k: v.clone() for k, v in official['state_dict'].items()}
    slim = convert_checkpoint(official, 'clip_cn_tiny.pt')
    assert slim['meta'] == dict(source_format='official',
                                mmcnclip_version=__version__,
                                source='clip_cn_tiny.pt')
    model = MODELS.build(tiny_config())
    expected = {k: v.shape for k, v in model.state_dict().items()}
    model.load_state_dict(check_state_dict(slim['state_dict'], expected),
                          strict=True)
    # pure: the input is unchanged and shares no storage with the output
    assert all(torch.equal(v, before[k])
               for k, v in official['state_dict'].items())
    inputs = {v.untyped_storage().data_ptr()
              for v in official['state_dict'].values()}
    assert not inputs & {v.untyped_storage().data_ptr()
                         for v in slim['state_dict'].values()}


def test_half_and_a_bare_state_dict(official):
    full = convert_checkpoint(official['state_dict'], 'sd')['state_dict']
    half = convert_checkpoint(official, 'ckpt', half=True)['state_dict']
    assert half.keys() == full.keys()
    assert all(torch.equal(half[k], v.half()) for k, v in full.items())


def test_a_given_layout_is_checked(official):
    with pytest.raises(CheckpointMismatchError, match='huggingface'):
        convert_checkpoint(official, 'ckpt', fmt='huggingface')
