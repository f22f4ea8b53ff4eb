# Linear probe: frozen Chinese CLIP ViT-B/16 image tower + mmpretrain
# LinearClsHead on the class token (768-d, before the CLIP projection).
# `pretrained` may be the official clip_cn_vit-b-16.pt, a Hugging Face
# OFA-Sys/chinese-clip-vit-base-patch16 folder or an mmpretrain checkpoint:
# only the image tower is loaded, every key checked.
_base_ = [
    'mmpretrain::_base_/default_runtime.py',
    './_base_/cifar100_224px.py',
]
default_scope = 'mmpretrain'
custom_imports = dict(imports=['mmcnclip'], allow_failed_imports=False)

pretrained = 'checkpoints/clip_cn_vit-b-16.pt'
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='mmcnclip.CLIPVisionTransformer',
        arch='base',
        img_size=224,
        patch_size=16,
        out_type='cls_token',
        frozen_stages=12,  # everything: embeddings, 12 layers, post_norm
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=100,
        in_channels=768,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        init_cfg=dict(type='Normal', layer='Linear', std=0.01)),
)

optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=0.))
param_scheduler = dict(type='CosineAnnealingLR', T_max=20, by_epoch=True)
train_cfg = dict(by_epoch=True, max_epochs=20, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=64)
