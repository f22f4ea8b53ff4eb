# Zero-shot image-text retrieval of the pretrained Chinese CLIP vit-large-p14-336px
# on flickr30k-cn:
#   python tools/test.py THIS_CONFIG data/pretrained_weights/clip_cn_vit-l-14-336.pt
_base_ = [
    '_base_/models/cn-clip_vit-large-p14-336px.py',
    '_base_/datasets/flickr30k-cn_retrieval.py', '_base_/default_runtime.py'
]

pipeline = [
    dict(type='mmcnclip.LoadImagePIL'),
    dict(type='mmcnclip.PILResize', scale=336),
    dict(type='mmcnclip.PackImageText'),
]
val_dataloader = dict(dataset=dict(pipeline=pipeline))
test_dataloader = dict(dataset=dict(pipeline=pipeline))

# evaluation only (the -finetune config trains): no train loop
train_dataloader = None
