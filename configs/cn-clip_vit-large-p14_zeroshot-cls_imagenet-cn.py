# Zero-shot classification, Chinese CLIP ViT-L/14 + RoBERTa-wwm-ext-base,
# on ImageNet validation set with Chinese class names.
_base_ = [
    '_base_/models/cn-clip_vit-large-p14_zeroshot-cls.py',
    '_base_/datasets/imagenet-cn_cn-clip.py',
    '_base_/default_runtime.py',
]

model = dict(
    classes='imagenet',  # set name, list or label file
    text_prompt='imagenet',  # template set name or list
)
