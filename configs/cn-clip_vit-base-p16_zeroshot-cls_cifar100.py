# Zero-shot classification, Chinese CLIP ViT-B/16 + RoBERTa-wwm-ext-base,
# on CIFAR-100 test split (10,000 images).
_base_ = [
    '_base_/models/cn-clip_vit-base-p16_zeroshot-cls.py',
    '_base_/datasets/cifar100_cn-clip.py',
    '_base_/default_runtime.py',
]

model = dict(
    classes='cifar100',  # set name, list or label file
)
