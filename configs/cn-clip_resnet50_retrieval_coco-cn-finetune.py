# Contrastive finetuning of Chinese CLIP resnet50 on coco-cn, official recipe
# (schedule in _base_/schedules/cn-clip_contrastive-finetune.py); negatives
# gathered across GPUs with gradients.
#   tools/dist_train.sh THIS_CONFIG 8
_base_ = [
    '_base_/models/cn-clip_resnet50.py',
    '_base_/datasets/coco-cn_retrieval.py',
    '_base_/default_runtime.py',
    '_base_/schedules/cn-clip_contrastive-finetune.py',
]

load_from = 'data/pretrained_weights/clip_cn_rn50.pt'
model = dict(
    loss=dict(type='mmcnclip.CLIPContrastiveLoss', gather=True,
              gather_with_grad=True),
    freeze_vision=False,  # the official --freeze-vision
    with_cp=None,  # True: gradient checkpointing of both towers
)
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=1,
                    save_best='retrieval/MR', rule='greater'))
# cn_clip/training/params.py AdamW defaults for ResNet towers
optim_wrapper = dict(optimizer=dict(betas=(0.9, 0.999), eps=1e-08))
