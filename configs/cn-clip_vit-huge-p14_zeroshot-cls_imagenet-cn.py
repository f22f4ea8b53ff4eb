# Zero-shot classification, Chinese CLIP ViT-H/14 + RoBERTa-wwm-ext-large,
# on ImageNet validation set with Chinese class names.
_base_ = [
    '_base_/models/cn-clip_vit-huge-p14.py',
    '_base_/datasets/imagenet-cn_cn-clip.py',
    '_base_/default_runtime.py',
]

model = dict(
    type='mmcnclip.ZeroShotClassifier',
    classes='imagenet',  # set name, list or label file
    text_prompt='imagenet',  # template set name or list
    # x100 like cn_clip/eval/zeroshot_evaluation.py; None: logit_scale.exp()
    head=dict(score_scale=100.),
)
