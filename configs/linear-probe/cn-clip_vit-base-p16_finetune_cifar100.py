# Full finetune of the Chinese CLIP ViT-B/16 image tower with layer-wise
# learning-rate decay (mmpretrain's LearningRateDecayOptimWrapperConstructor
# uses CLIPVisionTransformer.get_layer_depth: embeddings 0, layer i -> i + 1).
_base_ = ['./cn-clip_vit-base-p16_linear-probe_cifar100.py']

model = dict(
    backbone=dict(frozen_stages=-1, drop_rate=0.1),
    head=dict(loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1,
                        mode='original', _delete_=True)))

optim_wrapper = dict(
    optimizer=dict(
        type='AdamW', lr=3e-4, weight_decay=0.05, betas=(0.9, 0.999),
        _delete_=True),
    constructor='LearningRateDecayOptimWrapperConstructor',
    paramwise_cfg=dict(
        layer_decay_rate=0.65,
        custom_keys={
            '.ln': dict(decay_mult=0.0),
            '.norm': dict(decay_mult=0.0),
            '.bias': dict(decay_mult=0.0),
            '.cls_token': dict(decay_mult=0.0),
            '.pos_embed': dict(decay_mult=0.0),
        }),
    clip_grad=dict(max_norm=1.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=2,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=18, by_epoch=True, begin=2, end=20,
         eta_min=1e-6, convert_to_iter_based=True),
]
