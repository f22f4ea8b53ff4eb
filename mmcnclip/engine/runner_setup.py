"""Config preparation shared by ``tools/train.py``, ``tools/test.py`` and
the retrieval tools.

Importing it imports mmcnclip (so that ``type='mmcnclip.X'`` and the
checkpoint loading are registered even without ``custom_imports``). It
makes distributed runs work on machines without CUDA: mmengine initialises
``--launcher pytorch`` runs with ``torch.cuda.set_device`` and wraps the
model for GPU devices, both of which fail on CPU. There the process group is created here with ``gloo`` and the
model is wrapped for CPU instead.
"""
import copy
import datetime
import os
import os.path as osp
from typing import Iterable

import torch
import torch.distributed as torch_dist
from mmengine.config import Config, ConfigDict
from mmengine.registry import MODEL_WRAPPERS, init_default_scope
from torch.nn.parallel import DistributedDataParallel

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')


def load_config(path: str) -> Config:
    """Read a config file and set its default registry scope.

    Args:
        path (str): Config file.

    Returns:
        Config: The config.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'Config file not found: {path}')
    cfg = Config.fromfile(path)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    return cfg


def set_work_dir(cfg: Config, work_dir: str, config_path: str) -> None:
    """Work dir priority: command line, then config, then config name.

    Args:
        cfg (Config): The config, updated in place.
        work_dir (str, optional): ``--work-dir``.
        config_path (str): The config file.
    """
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join(
            './work_dirs',
            osp.splitext(osp.basename(config_path))[0])


def set_dataloader_defaults(cfg: Config,
                            fields: Iterable[str],
                            no_pin_memory: bool = False,
                            no_persistent_workers: bool = False) -> None:
    """Fill ``collate_fn``, ``pin_memory`` and ``persistent_workers``.

    ``pin_memory`` defaults to True only when CUDA is available and
    ``persistent_workers`` only with worker processes.

    Args:
        cfg (Config): The config, updated in place.
        fields (Iterable[str]): Dataloader fields, e.g.
            ``['test_dataloader']``.
        no_pin_memory (bool): Force ``pin_memory=False``. Defaults to False.
        no_persistent_workers (bool): Force ``persistent_workers=False``.
            Defaults to False.
    """
    for field in fields:
        loader = cfg.get(field, None)
        if loader is None:
            continue
        loader.setdefault('collate_fn', dict(type='default_collate'))
        loader.setdefault('pin_memory', torch.cuda.is_available())
        loader.setdefault('persistent_workers',
                          loader.get('num_workers', 0) > 0)
        if no_pin_memory:
            loader['pin_memory'] = False
        if no_persistent_workers or loader.get('num_workers', 0) == 0:
            loader['persistent_workers'] = False


def setup_distributed(cfg: Config, launcher: str) -> None:
    """Record the launcher; on CPU, start ``gloo`` and wrap for CPU.

    With CUDA, or with ``launcher='none'``, only ``cfg.launcher`` is set and
    mmengine does the rest. Without CUDA, a ``nccl`` backend becomes
    ``gloo``, the process group is created here (mmengine's initialisation
    calls ``torch.cuda.set_device``) and the default model wrapper gets
    ``device_ids=None`` as CPU ``DistributedDataParallel`` requires.

    Args:
        cfg (Config): The config, updated in place.
        launcher (str): One of :data:`LAUNCHERS`.

    Raises:
        ValueError: For an unknown launcher, or ``slurm``/``mpi`` without
            CUDA (only the ``pytorch`` launcher of ``tools/dist_*.sh``
            runs on CPU).
    """
    if launcher not in LAUNCHERS:
        raise ValueError(f'Unknown launcher {launcher!r}; choose one of '
                         f'{LAUNCHERS}')
    cfg.launcher = launcher
    if launcher == 'none' or torch.cuda.is_available():
        return
    if launcher != 'pytorch':
        raise ValueError(
            f'--launcher {launcher} needs CUDA; on CPU use --launcher '
            'pytorch (tools/dist_train.sh, tools/dist_test.sh)')
    env_cfg = cfg.setdefault('env_cfg', ConfigDict())
    dist_cfg = env_cfg.setdefault('dist_cfg', ConfigDict())
    if dist_cfg.get('backend', 'nccl') == 'nccl':
        dist_cfg['backend'] = 'gloo'
    wrapper = cfg.get('model_wrapper_cfg', None)
    if wrapper is None:
        wrapper = ConfigDict(
            type='MMDistributedDataParallel',
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper_type = MODEL_WRAPPERS.get(
        wrapper.get('type', 'MMDistributedDataParallel'))
    if isinstance(wrapper_type, type) and issubclass(
            wrapper_type, DistributedDataParallel):
        wrapper.setdefault('device_ids', None)
    cfg.model_wrapper_cfg = wrapper
    if not torch_dist.is_initialized():
        timeout = dist_cfg.get('timeout', None)
        torch_dist.init_process_group(
            backend=dist_cfg['backend'],
            timeout=None if timeout is None else datetime.timedelta(
                seconds=timeout))


def finish_distributed() -> None:
    """Leave the process group cleanly at the end of a distributed run.

    Without this, a rank that exits while the other still holds its ``gloo``
    connections can be killed by ``terminate called without an active
    exception`` (a communication thread torn down at interpreter exit), so
    a run that finished its work still fails. All ranks meet at a barrier
    and then destroy the group. A no-op outside distributed runs.
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()


def set_local_rank(local_rank: int) -> None:
    """Export ``LOCAL_RANK`` for launchers that pass ``--local_rank``.

    Args:
        local_rank (int): The ``--local_rank`` argument.
    """
    os.environ.setdefault('LOCAL_RANK', str(local_rank))


def enable_tta(cfg) -> None:
    """Wrap the model in ``cfg.tta_model`` and test with ``cfg.tta_pipeline``
    (mmpretrain's ``tools/test.py --tta``).

    Without them in the config: ``mmpretrain.AverageClsScoreTTA`` over the
    test pipeline and its horizontally flipped copy.

    Args:
        cfg (mmengine.Config): The config (changed in place).

    Raises:
        ValueError: The config has no ``tta_model`` and its model is not a
            classifier (class scores are what the default averages).
    """
    if 'tta_model' not in cfg:
        if 'Classifier' not in cfg.model.type:
            raise ValueError(
                f'--tta: {cfg.model.type} is not a classifier and the config '
                'has no tta_model; the default (mmpretrain.AverageClsScoreTTA)'
                ' averages class scores')
        cfg.tta_model = dict(type='mmpretrain.AverageClsScoreTTA')
    if 'tta_pipeline' not in cfg:
        pipeline = cfg.test_dataloader.dataset.pipeline
        cfg.tta_pipeline = copy.deepcopy(pipeline[:-1]) + [dict(
            type='TestTimeAug',
            transforms=[[dict(type='RandomFlip', prob=1.),
                         dict(type='RandomFlip', prob=0.)],
                        [pipeline[-1]]])]
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
    cfg.tta_model.module = cfg.model
    cfg.model = cfg.tta_model


def enable_amp(cfg) -> None:
    """Switch ``cfg.optim_wrapper`` to mmengine's ``AmpOptimWrapper``.

    Args:
        cfg (mmengine.Config): The config (changed in place).

    Raises:
        SystemExit: Without an accelerator: mmengine's AmpOptimWrapper (fp16
            with loss scaling) only runs on GPU, NPU, MLU or MUSA devices.
    """
    from mmengine.device import get_device
    if get_device() == 'cpu':
        raise SystemExit(
            '--amp: mmengine\'s AmpOptimWrapper needs a GPU, NPU, MLU or '
            'MUSA device and none is available; train in fp32 on CPU '
            '(drop --amp)')
    cfg.optim_wrapper.type = 'AmpOptimWrapper'
    cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
