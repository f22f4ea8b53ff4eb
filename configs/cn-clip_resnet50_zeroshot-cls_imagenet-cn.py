# Zero-shot classification, Chinese CLIP RN50 + RBT3,
# on ImageNet validation set with Chinese class names.
_base_ = [
    '_base_/models/cn-clip_resnet50_zeroshot-cls.py',
    '_base_/datasets/imagenet-cn_cn-clip.py',
    '_base_/default_runtime.py',
]

model = dict(
    classes='imagenet',  # set name, list or label file
    text_prompt='imagenet',  # template set name or list
)
