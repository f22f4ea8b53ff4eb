# Contrastive finetuning of Chinese CLIP resnet50 on flickr30k-cn, official recipe
# (schedule in _base_/schedules/cn-clip_contrastive-finetune.py); negatives
# gathered across GPUs with gradients.
#   tools/dist_train.sh THIS_CONFIG 8
_base_ = [
    '_base_/models/cn-clip_resnet50.py',
    '_base_/datasets/flickr30k-cn_retrieval.py',
    '_base_/schedules/cn-clip_contrastive-finetune.py',  # + runtime
]

load_from = 'data/pretrained_weights/clip_cn_rn50.pt'
# cn_clip/training/params.py AdamW defaults for ResNet towers
optim_wrapper = dict(optimizer=dict(betas=(0.9, 0.999), eps=1e-08))
