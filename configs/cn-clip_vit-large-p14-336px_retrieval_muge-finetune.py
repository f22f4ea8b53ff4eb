# Contrastive finetuning of Chinese CLIP vit-large-p14-336px on muge, official recipe
# (schedule in _base_/schedules/cn-clip_contrastive-finetune.py); negatives
# gathered across GPUs with gradients.
#   tools/dist_train.sh THIS_CONFIG 8
_base_ = [
    '_base_/models/cn-clip_vit-large-p14-336px.py',
    '_base_/datasets/muge_retrieval.py',
    '_base_/datasets/cn-clip_336px_pipelines.py',
    '_base_/schedules/cn-clip_contrastive-finetune.py',  # + runtime
]

pipeline = {{_base_.pipelines_336px.retrieval}}
train_dataloader = dict(dataset=dict(pipeline=pipeline))
val_dataloader = dict(dataset=dict(pipeline=pipeline))
test_dataloader = dict(dataset=dict(pipeline=pipeline))

load_from = 'data/pretrained_weights/clip_cn_vit-l-14-336.pt'
