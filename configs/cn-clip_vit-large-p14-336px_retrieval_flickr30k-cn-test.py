# Zero-shot image-text retrieval of the pretrained Chinese CLIP vit-large-p14-336px
# on flickr30k-cn:
#   python tools/test.py THIS_CONFIG data/pretrained_weights/clip_cn_vit-l-14-336.pt
_base_ = [
    '_base_/models/cn-clip_vit-large-p14-336px.py',
    '_base_/datasets/flickr30k-cn_retrieval.py',
    '_base_/datasets/cn-clip_336px_pipelines.py',
    '_base_/default_runtime.py',
]

pipeline = {{_base_.pipelines_336px.retrieval}}
val_dataloader = dict(dataset=dict(pipeline=pipeline))
test_dataloader = dict(dataset=dict(pipeline=pipeline))

# evaluation only (the -finetune config trains): no train loop
train_dataloader = None
