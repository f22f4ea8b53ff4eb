# Contrastive finetuning of Chinese CLIP vit-huge-p14 on muge, official recipe
# (schedule in _base_/schedules/cn-clip_contrastive-finetune.py); negatives
# gathered across GPUs with gradients.
#   tools/dist_train.sh THIS_CONFIG 8
_base_ = [
    '_base_/models/cn-clip_vit-huge-p14.py',
    '_base_/datasets/muge_retrieval.py',
    '_base_/default_runtime.py',
    '_base_/schedules/cn-clip_contrastive-finetune.py',
]

load_from = 'data/pretrained_weights/clip_cn_vit-h-14.pt'
model = dict(
    loss=dict(type='mmcnclip.CLIPContrastiveLoss', gather=True,
              gather_with_grad=True),
    freeze_vision=False,  # the official --freeze-vision
    with_cp=None,  # True: gradient checkpointing of both towers
)
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=1,
                    save_best='retrieval/MR', rule='greater'))
