"""Checkpoint files are read without running code, yet mmengine training
checkpoints (message hub, numpy scalars) still load and resume."""
import os
import os.path as osp
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.model import BaseModel
from mmengine.registry import DefaultScope
from mmengine.runner import Runner, load_checkpoint
from torch import nn
from torch.utils.data import Dataset

from mmcnclip.checkpoint import CheckpointSafetyError, load_checkpoint_file
from mmcnclip.checkpoint.io import mmengine_checkpoint_globals


class Payload:
    """Unpickling this runs a shell command (creating ``marker``)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}', )


class SneakyGetattr:
    """Unpickling this looks up an arbitrary attribute via ``getattr``."""

    def __reduce__(self):
        return getattr, (HistoryBuffer, '__init__')


@pytest.mark.parametrize('zip_format', [True, False])
def test_code_running_pickle_is_refused(tmp_path, zip_format):
    marker = tmp_path / 'pwned'
    path = str(tmp_path / 'evil.pth')
    torch.save({'state_dict': {'w': torch.ones(2)},
                'extra': Payload(marker)}, path,
               _use_new_zipfile_serialization=zip_format)
    with pytest.raises(CheckpointSafetyError, match='evil.pth'):
        load_checkpoint_file(path)
    with pytest.raises(CheckpointSafetyError, match='evil.pth'):
        load_checkpoint(nn.Linear(2, 1), path)
    assert not marker.exists(), 'the payload ran'


def test_getattr_is_restricted_to_history_buffer_statistics(tmp_path):
    path = str(tmp_path / 'sneaky.pth')
    torch.save({'x': SneakyGetattr()}, path)
    with pytest.raises(CheckpointSafetyError, match='sneaky.pth'):
        load_checkpoint_file(path)


def test_numpy_1_module_names_are_accepted(tmp_path):
    """Checkpoints written with numpy 1.x name ``numpy.core.multiarray``."""
    path = str(tmp_path / 'np1.pth')
    torch.save({'eta': np.float64(1.5), 'arr': np.arange(3)}, path,
               _use_new_zipfile_serialization=False)
    with open(path, 'rb') as f:
        data = f.read()
    assert b'numpy._core.multiarray' in data  # written by numpy 2
    with open(path, 'wb') as f:
        f.write(data.replace(b'numpy._core.multiarray',
                             b'numpy.core.multiarray'))
    loaded = load_checkpoint_file(path)
    assert loaded['eta'] == 1.5 and isinstance(loaded['eta'], np.float64)
    assert np.array_equal(loaded['arr'], np.arange(3))


class ToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 1)

    def forward(self, x, mode='tensor'):
        out = self.fc(torch.stack(x) if isinstance(x, list) else x)
        if mode == 'loss':
            return {'loss': (out - 1).pow(2).mean()}
        return out


class ToyDataset(Dataset):

    def __len__(self):
        return 8

    def __getitem__(self, i):
        return dict(x=torch.full((2, ), float(i)))


def train_toy(work_dir, max_iters, **kwargs):
    """Train the toy model with a real Runner; the global default scope
    is restored afterwards so that other tests are not affected."""
    with DefaultScope.overwrite_default_scope('mmengine'):
        runner = _toy_runner(work_dir, max_iters, **kwargs)
        runner.train()
    return runner


def _toy_runner(work_dir, max_iters, **kwargs):
    return Runner(
        model=ToyModel(),
        work_dir=work_dir,
        train_dataloader=dict(
            dataset=ToyDataset(),
            sampler=dict(type='DefaultSampler', shuffle=True),
            batch_size=2,
            num_workers=0,
            collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01,
                                          momentum=0.9)),
        param_scheduler=dict(type='MultiStepLR', milestones=[1],
                             by_epoch=False),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=2,
                            by_epoch=False)),
        default_scope='mmengine',
        **kwargs)


@pytest.fixture(scope='module')
def training_checkpoint(tmp_path_factory):
    """A checkpoint written by a real (tiny) mmengine training run."""
    work_dir = str(tmp_path_factory.mktemp('train'))
    runner = train_toy(work_dir, max_iters=2)
    path = osp.join(work_dir, 'iter_2.pth')
    assert osp.isfile(path)
    return path, {k: v.clone() for k, v in runner.model.state_dict().items()}


def test_allowlist_covers_training_checkpoint(training_checkpoint):
    path, _ = training_checkpoint
    allowed_now = torch.serialization.get_safe_globals()  # ours, process-wide
    torch.serialization.clear_safe_globals()
    try:
        needed = set(
            torch.serialization.get_unsafe_globals_in_checkpoint(path))
        with pytest.raises(pickle.UnpicklingError):  # and it is needed
            torch.load(path, weights_only=True)
    finally:
        torch.serialization.add_safe_globals(allowed_now)
    # Sanity: the run really wrote the objects the allowlist is for.
    assert {'mmengine.logging.history_buffer.HistoryBuffer',
            'builtins.getattr', 'numpy.ndarray'} <= needed
    allowed = set()
    for entry in mmengine_checkpoint_globals():
        allowed.add(entry[1] if isinstance(entry, tuple) else
                    f'{entry.__module__}.{entry.__qualname__}')
    assert needed <= allowed, needed - allowed
    assert torch.load(path, weights_only=True)['meta']['iter'] == 2


def test_training_checkpoint_loads(training_checkpoint):
    path, weights = training_checkpoint
    ckpt = load_checkpoint_file(path)
    assert ckpt['meta']['iter'] == 2
    hub = ckpt['message_hub']['log_scalars']
    assert isinstance(hub['train/loss'], HistoryBuffer)
    assert hub['train/loss'].statistics('current') > 0
    model = ToyModel()
    load_checkpoint(model, path)
    for key, value in model.state_dict().items():
        assert torch.equal(value, weights[key])


def test_training_checkpoint_resumes(training_checkpoint, tmp_path):
    path, weights = training_checkpoint
    runner = train_toy(str(tmp_path), max_iters=3, resume=True,
                       load_from=path)
    assert runner.iter == 3
    loss = runner.message_hub.get_scalar('train/loss')
    assert len(loss.data[0]) == 3  # two resumed values + one new
    assert not torch.equal(runner.model.fc.weight, weights['fc.weight'])
