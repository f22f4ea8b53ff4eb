# Zero-shot classification, Chinese CLIP ViT-B/16 + RoBERTa-wwm-ext-base,
# on CIFAR-10 test split (10,000 images).
_base_ = [
    '_base_/models/cn-clip_vit-base-p16.py',
    '_base_/datasets/cifar10_cn-clip.py',
    '_base_/default_runtime.py',
]

model = dict(
    type='mmcnclip.ZeroShotClassifier',
    classes='cifar10',  # set name, list or label file
    text_prompt='openai',  # template set name or list
    # x100 like cn_clip/eval/zeroshot_evaluation.py; None: logit_scale.exp()
    head=dict(score_scale=100.),
)
