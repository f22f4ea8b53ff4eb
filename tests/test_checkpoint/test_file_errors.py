"""Unreadable checkpoint files are refused with the file and the problem
named: empty, not a checkpoint, truncated, format not matching the name."""
import re
import shutil

import pytest
import torch
from mmengine.runner import load_checkpoint
from safetensors.torch import save_file
from torch import nn

from mmcnclip.checkpoint import CheckpointFileError, load_checkpoint_file

STATE = {'w': torch.arange(2000, dtype=torch.float32)}


def half(data: bytes) -> bytes:
    return data[:len(data) // 2]


def make(tmp_path, name):
    """Write the broken file ``name``; return (path, expected message)."""
    torch.save(STATE, tmp_path / 'zip.pth')
    torch.save(STATE, tmp_path / 'pickle.pth',
               _use_new_zipfile_serialization=False)
    save_file(STATE, str(tmp_path / 'good.safetensors'))
    read = {n: (tmp_path / n).read_bytes()
            for n in ('zip.pth', 'pickle.pth', 'good.safetensors')}
    cases = {
        'empty.pth': (b'', 'is empty (0 bytes)'),
        'empty.safetensors': (b'', 'is empty (0 bytes)'),
        'text.pth': (b'not a model\n' * 5, 'is not a checkpoint'),
        'cut_zip.pth': (half(read['zip.pth']), 'truncated or corrupt'),
        'cut_pickle.pth': (half(read['pickle.pth']), 'truncated or corrupt'),
        'cut.safetensors': (half(read['good.safetensors']),
                            'truncated: its tensors need'),
        'cut_header.safetensors': (read['good.safetensors'][:20],
                                   'truncated: its header alone'),
        'safetensors.pth': (read['good.safetensors'],
                            'is a safetensors file, but its name'),
        'torch.safetensors': (read['zip.pth'],
                              'is a PyTorch (torch.save) checkpoint, not '
                              'safetensors'),
    }
    data, message = cases[name]
    path = tmp_path / 'broken' / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    return str(path), message


NAMES = ['empty.pth', 'empty.safetensors', 'text.pth', 'cut_zip.pth',
         'cut_pickle.pth', 'cut.safetensors', 'cut_header.safetensors',
         'safetensors.pth', 'torch.safetensors']


@pytest.mark.parametrize('name', NAMES)
def test_broken_file_is_named_with_its_problem(tmp_path, name):
    path, message = make(tmp_path, name)
    with pytest.raises(CheckpointFileError) as err:
        load_checkpoint_file(path)
    assert path in str(err.value) and message in str(err.value)
    # Through mmengine (load_from, tools/test.py CKPT) as well.
    with pytest.raises(CheckpointFileError, match=re.escape(message)):
        load_checkpoint(nn.Linear(2, 1), path)


def test_hugging_face_folder_names_its_weight_file(tmp_path):
    folder = tmp_path / 'hf'
    folder.mkdir()
    (folder / 'model.safetensors').write_bytes(b'')
    with pytest.raises(CheckpointFileError,
                       match=f'{folder}/model.safetensors is empty'):
        load_checkpoint_file(str(folder))


def test_good_files_still_load(tmp_path):
    make(tmp_path, 'empty.pth')
    for name in ('zip.pth', 'pickle.pth', 'good.safetensors'):
        assert torch.equal(load_checkpoint_file(str(tmp_path / name))['w'],
                           STATE['w'])
    shutil.rmtree(tmp_path / 'broken')
