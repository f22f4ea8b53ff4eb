# Zero-shot classification, Chinese CLIP ViT-L/14@336px + RoBERTa-base,
# on CIFAR-10 test split (10,000 images).
_base_ = [
    '_base_/models/cn-clip_vit-large-p14-336px_zeroshot-cls.py',
    '_base_/datasets/cifar10_cn-clip.py',
    '_base_/datasets/cn-clip_336px_pipelines.py',
    '_base_/default_runtime.py',
]

model = dict(
    classes='cifar10',  # set name, list or label file
)

# The 336px model: official PIL bicubic resize to 336x336.
test_pipeline = {{_base_.pipelines_336px.cifar}}
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
val_dataloader = test_dataloader
