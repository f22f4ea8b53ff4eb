# Contrastive finetuning of Chinese CLIP vit-base-p16 on muge, official recipe
# (schedule in _base_/schedules/cn-clip_contrastive-finetune.py); negatives
# gathered across GPUs with gradients.
#   tools/dist_train.sh THIS_CONFIG 8
_base_ = [
    '_base_/models/cn-clip_vit-base-p16.py',
    '_base_/datasets/muge_retrieval.py',
    '_base_/schedules/cn-clip_contrastive-finetune.py',  # + runtime
]

load_from = 'data/pretrained_weights/clip_cn_vit-b-16.pt'
