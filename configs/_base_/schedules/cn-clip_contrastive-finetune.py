# Contrastive finetuning schedule of the official Chinese-CLIP recipe
# (README): lr 5e-5, wd 0.001, 100 warmup steps then cosine, batch 128 per
# GPU, 3 epochs, AMP (`tools/train.py --amp` on a GPU). AdamW betas/eps are
# the cn_clip/training/params.py defaults for ViT towers; RN50 configs override them with (0.9, 0.999) and
# 1e-8.
#
# The model keeps ChineseCLIP's defaults: loss mmcnclip.CLIPContrastiveLoss
# with negatives gathered across GPUs with gradients (gather=True,
# gather_with_grad=True); set model.freeze_vision=True for the official
# --freeze-vision and model.with_cp=True for gradient checkpointing of both
# towers.
_base_ = ['../default_runtime.py']

max_epochs = 3
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=5e-5, betas=(0.9, 0.98), eps=1e-06,
                   weight_decay=0.001),
    # the official groups (cn_clip/training/main.py): no weight decay on
    # biases, the temperature, image-tower norms and ResNet bn* layers; the
    # text tower's LayerNorm weights are decayed like there
    constructor='mmcnclip.OfficialParamGroupsConstructor')
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0,
         end=100),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
# keep the best checkpoint by mean recall, and the last
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=1,
                    save_best='retrieval/MR', rule='greater'))
# linear lr scaling with `tools/train.py --auto-scale-lr`
auto_scale_lr = dict(base_batch_size=128 * 8)
