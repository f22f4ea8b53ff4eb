"""The converter never destroys its source or an existing destination."""
import hashlib
import os
import os.path as osp
import sys

import pytest
import torch
from safetensors.torch import save_file

from helpers.processes import run
from mmcnclip.checkpoint import load_checkpoint_file
from mmcnclip.registry import MODELS
from test_converter import TOOL, load_tool
from tiny_models import tiny_config


def digest(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture
def hf_folder(tmp_path):
    """A model folder holding a (tiny, mmcnclip-layout) model.safetensors."""
    folder = tmp_path / 'hfsafe'
    folder.mkdir()
    torch.manual_seed(0)
    state = MODELS.build(tiny_config()).state_dict()
    save_file({k: v.contiguous() for k, v in state.items()},
              str(folder / 'model.safetensors'))
    (folder / 'config.json').write_text('{}')
    return folder


def destinations(folder, tmp_path):
    weights = folder / 'model.safetensors'
    symlink = tmp_path / 'link.pth'
    symlink.symlink_to(weights)
    hardlink = tmp_path / 'hard.pth'
    os.link(weights, hardlink)
    linked_dir = tmp_path / 'alias'
    linked_dir.symlink_to(folder)
    return {
        'file in the source folder': folder / 'model.safetensors',
        'new file in the source folder': folder / 'converted.pth',
        'symlink to the source': symlink,
        'hard link to the source': hardlink,
        'through a linked folder': linked_dir / 'model.safetensors',
    }


@pytest.mark.parametrize('src_kind', ['folder', 'file'])
def test_destination_naming_the_source_is_refused(hf_folder, tmp_path,
                                                  src_kind):
    src = hf_folder if src_kind == 'folder' else \
        hf_folder / 'model.safetensors'
    before = {p.name: digest(p) for p in hf_folder.iterdir()}
    for what, dst in destinations(hf_folder, tmp_path).items():
        if src_kind == 'file' and what in ('new file in the source folder',
                                           'through a linked folder'):
            continue  # a file source may write next to itself
        with pytest.raises(ValueError, match='Refusing') as err:
            load_tool().main([str(src), str(dst)])
        assert str(dst) in str(err.value), what
        assert {p.name: digest(p) for p in hf_folder.iterdir()} == before, \
            what
    # The source still loads, and a destination elsewhere works.
    out = tmp_path / 'out' / 'tiny.pth'
    load_tool().main([str(src), str(out)])
    model = MODELS.build(tiny_config())
    model.load_state_dict(load_checkpoint_file(str(out))['state_dict'])


def run_converter(src, dst, file_blocks=None):
    """Run the converter CLI, optionally under ``ulimit -f`` (KiB)."""
    cmd = f'exec "{sys.executable}" "{TOOL}" "{src}" "{dst}"'
    if file_blocks:
        cmd = f'ulimit -f {file_blocks}; {cmd}'
    return run(['bash', '-c', cmd], check=False)


def test_disk_full_keeps_the_existing_destination(hf_folder, tmp_path):
    dst = tmp_path / 'out' / 'tiny.pth'
    first = run_converter(hf_folder, dst)
    assert first.returncode == 0, first.stderr[-3000:]
    good = digest(dst)
    assert osp.getsize(dst) > 2048 * 1024
    full = run_converter(hf_folder, dst, file_blocks=2048)  # 2 MiB
    assert full.returncode != 0, full.stdout + full.stderr
    assert 'Disk full / could not write' in full.stderr, full.stderr[-3000:]
    assert str(dst) in full.stderr
    assert 'Traceback' not in full.stderr
    assert digest(dst) == good
    assert os.listdir(dst.parent) == ['tiny.pth']  # no temporary leftovers
