# ViTDet-style Mask R-CNN on the Chinese CLIP ViT-B/16 image tower: the
# stride-16 patch map goes through mmcnclip.SimpleFeaturePyramid (strides
# 4/8/16/32 + a pooled stride-64 level for the RPN). Needs full mmcv with ops
# and mmdet 3.3 (tools/setup_dense_env.sh).
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/coco_instance.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    'mmdet::_base_/default_runtime.py',
    '../_base_/clip_normalisation.py',
]
custom_imports = dict(imports=['mmcnclip'], allow_failed_imports=False)

pretrained = 'checkpoints/clip_cn_vit-b-16.pt'
norm_cfg = dict(type='LN2d', eps=1e-6)
model = dict(
    data_preprocessor=dict(
        mean={{_base_.clip_mean}},
        std={{_base_.clip_std}},
        bgr_to_rgb=True,
        pad_size_divisor=32),
    backbone=dict(
        _delete_=True,
        type='mmcnclip.CLIPVisionTransformer',
        arch='base',
        img_size=224,  # positional embeddings are interpolated per input
        patch_size=16,
        out_type='featmap',
        final_norm=True,
        drop_rate=0.1,
        with_cp=False,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=dict(
        _delete_=True,
        type='mmcnclip.SimpleFeaturePyramid',
        in_channels=768,
        out_channels=256,
        scales=(4, 2, 1, 0.5),
        num_outs=5,
        norm_cfg=norm_cfg))

optim_wrapper = dict(
    _delete_=True,
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999),
                   weight_decay=0.1),
    clip_grad=dict(max_norm=1.0))
