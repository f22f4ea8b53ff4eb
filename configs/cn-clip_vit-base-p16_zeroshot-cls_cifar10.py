# Zero-shot classification, Chinese CLIP ViT-B/16 + RoBERTa-wwm-ext-base,
# on CIFAR-10 test split (10,000 images).
_base_ = [
    '_base_/models/cn-clip_vit-base-p16_zeroshot-cls.py',
    '_base_/datasets/cifar10_cn-clip.py',
    '_base_/default_runtime.py',
]

model = dict(
    classes='cifar10',  # set name, list or label file
)
