# A tiny Chinese CLIP (ViT 4x128 on 32px patches of 8, BERT 2x128 with the
# real 21128-token vocabulary) trained from scratch on the shapes data.
_base_ = [
    '../_base_/datasets/shapes_retrieval.py', '../_base_/default_runtime.py'
]

embed_dim = 64
model = dict(
    type='mmcnclip.ChineseCLIP',
    backbone=dict(
        type='mmcnclip.CLIPVisionTransformer',
        arch=dict(embed_dims=128, num_layers=4, num_heads=4,
                  feedforward_channels=512),
        img_size=32,
        patch_size=8),
    neck=dict(type='mmcnclip.CLIPProjection', in_channels=128,
              out_channels=embed_dim),
    text_encoder=dict(
        type='mmcnclip.BertTextEncoder',
        arch=dict(embed_dims=128, num_layers=2, num_heads=4,
                  feedforward_channels=512),
        max_position=64,
        drop_rate=0.,
        attn_drop_rate=0.),
    text_proj=dict(type='mmcnclip.CLIPProjection', in_channels=128,
                   out_channels=embed_dim),
    context_length=24,
)

max_iters = 400
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.98), eps=1e-6,
                   weight_decay=0.05),
    # no weight decay on norms, biases and the temperature
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.,
                       custom_keys={'logit_scale': dict(decay_mult=0.)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=40),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=40, end=max_iters,
         eta_min=1e-5),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=max_iters)
val_cfg = dict()
test_cfg = dict()

default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', by_epoch=False,
                    interval=max_iters, max_keep_ckpts=1))
log_processor = dict(by_epoch=False)
randomness = dict(seed=0, deterministic=False)
