"""The parameter groups of the official Chinese-CLIP finetuning recipe."""
from typing import List

import torch.nn as nn
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS, OPTIMIZERS

from mmcnclip.models.backbones import BertTextEncoder
from mmcnclip.registry import OPTIM_WRAPPER_CONSTRUCTORS


def official_no_decay(name: str, param_owner: nn.Module,
                      in_text_tower: bool) -> bool:
    """Whether ``cn_clip/training/main.py`` exempts a parameter from weight
    decay, decided on mmcnclip names.

    The official rule tests the official parameter *names*: no decay when
    the name contains ``bn``, ``ln``, ``bias`` or ``logit_scale``. On
    mmcnclip's layout that is: every bias and the temperature; the image
    tower's LayerNorms (official ``ln_pre``/``ln_1``/``ln_2``/``ln_post``);
    the ResNet BatchNorms named ``bn*`` (the downsample BatchNorm is called
    ``downsample.1`` there, so its weight is decayed); never the text
    tower's LayerNorm weights (BERT calls them ``LayerNorm``, which the
    official rule does not match).

    Args:
        name (str): Parameter name within the model.
        param_owner (nn.Module): The module that holds the parameter.
        in_text_tower (bool): Whether it belongs to a BERT text tower.

    Returns:
        bool: True for the official "gain or bias" group.
    """
    short = name.rsplit('.', 1)[-1]
    if short == 'bias' or short == 'logit_scale':
        return True
    if isinstance(param_owner, nn.modules.batchnorm._BatchNorm):
        return 'bn' in name
    if isinstance(param_owner, nn.LayerNorm):
        return not in_text_tower
    return False


def official_param_groups(model: nn.Module,
                          weight_decay: float) -> List[dict]:
    """``[no-decay group, decayed group]`` of the trainable parameters, in
    the order of ``cn_clip/training/main.py``."""
    text_params = {id(p) for m in model.modules()
                   if isinstance(m, BertTextEncoder) for p in m.parameters()}
    no_decay, rest = [], []
    for module_name, module in model.named_modules():
        for short, param in module.named_parameters(recurse=False):
            if not param.requires_grad:
                continue
            name = f'{module_name}.{short}' if module_name else short
            exempt = official_no_decay(name, module,
                                       id(param) in text_params)
            (no_decay if exempt else rest).append(param)
    return [dict(params=no_decay, weight_decay=0.),
            dict(params=rest, weight_decay=weight_decay)]


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class OfficialParamGroupsConstructor(DefaultOptimWrapperConstructor):
    """Optimizer with the parameter groups of the official finetuning
    (``cn_clip/training/main.py``): weight decay on every trainable
    parameter except biases, the temperature, the image tower's norms and
    the ResNet ``bn*`` BatchNorms (see :func:`official_no_decay`).

    Use it as ``optim_wrapper = dict(constructor=
    'mmcnclip.OfficialParamGroupsConstructor', optimizer=dict(type='AdamW',
    weight_decay=...))``; ``paramwise_cfg`` is not supported (it would
    replace the official groups).
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg=None):
        if paramwise_cfg:
            raise ValueError(
                'OfficialParamGroupsConstructor builds the official groups '
                'itself; remove optim_wrapper.paramwise_cfg (got '
                f'{paramwise_cfg}) or use another constructor')
        super().__init__(optim_wrapper_cfg, None)

    def __call__(self, model: nn.Module) -> OptimWrapper:
        model = getattr(model, 'module', model)  # DDP wrappers
        wrapper_cfg = self.optim_wrapper_cfg.copy()
        wrapper_cfg.setdefault('type', 'OptimWrapper')
        optimizer_cfg = self.optimizer_cfg.copy()
        optimizer_cfg['params'] = official_param_groups(
            model, optimizer_cfg.get('weight_decay', 0.))
        optimizer = OPTIMIZERS.build(optimizer_cfg)
        return OPTIM_WRAPPERS.build(wrapper_cfg,
                                    default_args=dict(optimizer=optimizer))

