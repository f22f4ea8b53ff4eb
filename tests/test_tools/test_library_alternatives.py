"""Smoke test of tools/misc/library_alternatives.py (the measurements the
kept tokenizer, image transforms, image folder and BERT quote)."""
import pytest
from helpers.processes import run_tool


def test_library_alternatives_quick():
    pytest.importorskip('cn_clip')
    pytest.importorskip('torchvision')
    out = run_tool('misc/library_alternatives.py', '--quick',
                   with_stderr=False)
    assert 'ids differing from cn_clip: ours 0,' in out
    assert 'RGBA png max |diff| to cn_clip: ours' in out
    assert 'ZeroShotImageFolder equal: True' in out
    assert 'ours prepared' in out
