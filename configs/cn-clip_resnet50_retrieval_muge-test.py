# Zero-shot image-text retrieval of the pretrained Chinese CLIP resnet50
# on muge:
#   python tools/test.py THIS_CONFIG data/pretrained_weights/clip_cn_rn50.pt
_base_ = [
    '_base_/models/cn-clip_resnet50.py',
    '_base_/datasets/muge_retrieval.py', '_base_/default_runtime.py'
]

# evaluation only (the -finetune config trains): no train loop
train_dataloader = None
