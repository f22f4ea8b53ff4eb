# Zero-shot classification, Chinese CLIP ViT-L/14 + RoBERTa-wwm-ext-base,
# on CIFAR-100 test split (10,000 images).
_base_ = [
    '_base_/models/cn-clip_vit-large-p14.py',
    '_base_/datasets/cifar100_cn-clip.py',
    '_base_/default_runtime.py',
]

model = dict(
    type='mmcnclip.ZeroShotClassifier',
    classes='cifar100',  # set name, list or label file
    text_prompt='openai',  # template set name or list
    # x100 like cn_clip/eval/zeroshot_evaluation.py; None: logit_scale.exp()
    head=dict(score_scale=100.),
)
