# Zero-shot classification, Chinese CLIP ViT-H/14 + RoBERTa-wwm-ext-large,
# on CIFAR-100 test split (10,000 images).
_base_ = [
    '_base_/models/cn-clip_vit-huge-p14_zeroshot-cls.py',
    '_base_/datasets/cifar100_cn-clip.py',
    '_base_/default_runtime.py',
]

model = dict(
    classes='cifar100',  # set name, list or label file
)
