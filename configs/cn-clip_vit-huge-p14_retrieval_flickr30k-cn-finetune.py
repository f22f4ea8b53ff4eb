# Contrastive finetuning of Chinese CLIP vit-huge-p14 on flickr30k-cn, official recipe
# (schedule in _base_/schedules/cn-clip_contrastive-finetune.py); negatives
# gathered across GPUs with gradients.
#   tools/dist_train.sh THIS_CONFIG 8
_base_ = [
    '_base_/models/cn-clip_vit-huge-p14.py',
    '_base_/datasets/flickr30k-cn_retrieval.py',
    '_base_/schedules/cn-clip_contrastive-finetune.py',  # + runtime
]

load_from = 'data/pretrained_weights/clip_cn_vit-h-14.pt'
