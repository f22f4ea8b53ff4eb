# RetinaNet + FPN on the Chinese CLIP RN50 image tower (stage maps of
# strides 4-32, attention pool not built). Needs full mmcv with ops and
# mmdet 3.3 (tools/setup_dense_env.sh).
# `pretrained`: the official clip_cn_rn50.pt, a Hugging Face folder or an
# mmpretrain checkpoint; only the image tower ('backbone.' in mmcnclip's
# layout) is loaded, every key checked (the attention pool is skipped).
_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py',
    'mmdet::_base_/datasets/coco_detection.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
    '../_base_/clip_normalisation.py',
]
custom_imports = dict(imports=['mmcnclip'], allow_failed_imports=False)

pretrained = 'checkpoints/clip_cn_rn50.pt'
model = dict(
    # CLIP normalisation; mmdet loads BGR, CLIP expects RGB.
    data_preprocessor=dict(
        mean={{_base_.clip_mean}},
        std={{_base_.clip_std}},
        bgr_to_rgb=True),
    backbone=dict(
        _delete_=True,
        type='mmcnclip.ModifiedResNet',
        depth=50,
        out_indices=(0, 1, 2, 3),
        with_attnpool=False,
        frozen_stages=1,
        norm_eval=True,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(in_channels=[256, 512, 1024, 2048]))

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001))
