# UperNet on the Chinese CLIP RN50 image tower (stage maps of strides 4-32).
# Needs full mmcv with ops and mmsegmentation 1.2 (tools/setup_dense_env.sh).
# `pretrained`: official .pt, Hugging Face folder or mmpretrain checkpoint;
# only the image tower is loaded, every key checked.
_base_ = [
    'mmseg::_base_/models/upernet_r50.py',
    'mmseg::_base_/datasets/ade20k.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_80k.py',
    '../_base_/clip_normalisation.py',
]
custom_imports = dict(imports=['mmcnclip'], allow_failed_imports=False)

crop_size = (512, 512)
pretrained = 'checkpoints/clip_cn_rn50.pt'
# SyncBN on multi-GPU runs; plain BN keeps the config usable on one device.
norm_cfg = dict(type='BN', requires_grad=True)
data_preprocessor = dict(
    mean={{_base_.clip_mean}},
    std={{_base_.clip_std}},
    bgr_to_rgb=True,
    size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(
        _delete_=True,
        type='mmcnclip.ModifiedResNet',
        depth=50,
        out_indices=(0, 1, 2, 3),
        with_attnpool=False,
        norm_eval=False,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    decode_head=dict(num_classes=150, norm_cfg=norm_cfg),
    auxiliary_head=dict(num_classes=150, norm_cfg=norm_cfg))
