# Contrastive finetuning of Chinese CLIP vit-large-p14 on flickr30k-cn. Official
# recipe (README): lr 5e-5, wd 0.001, 100 warmup steps, batch 128 per GPU,
# 3 epochs, AMP, negatives gathered across GPUs with gradients; AdamW
# betas/eps are cn_clip/training/params.py defaults for this architecture.
#   tools/dist_train.sh THIS_CONFIG 8
_base_ = ['./cn-clip_vit-large-p14_retrieval_flickr30k-cn-test.py']

load_from = 'data/pretrained_weights/clip_cn_vit-l-14.pt'
model = dict(
    loss=dict(type='mmcnclip.CLIPContrastiveLoss', gather=True,
              gather_with_grad=True),
    freeze_vision=False,  # the official --freeze-vision
    with_cp=None,  # True: gradient checkpointing of both towers
)

max_epochs = 3
optim_wrapper = dict(
    type='AmpOptimWrapper',
    optimizer=dict(type='AdamW', lr=5e-5, betas=(0.9, 0.98), eps=1e-06,
                   weight_decay=0.001),
    # no weight decay on norms, biases and the temperature
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.,
                       custom_keys={'logit_scale': dict(decay_mult=0.)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0,
         end=100),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=1,
                    save_best='retrieval/MR', rule='greater'))
# linear lr scaling with `tools/train.py --auto-scale-lr`
auto_scale_lr = dict(base_batch_size=128 * 8)
