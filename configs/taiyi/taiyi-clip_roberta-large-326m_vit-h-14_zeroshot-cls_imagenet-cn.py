# Zero-shot classification with Taiyi-CLIP-RoBERTa-326M-ViT-H-Chinese on
# imagenet-cn. The two published towers named by the model config are converted
# and merged when the weights are initialised, so no checkpoint is needed:
#   python tools/test.py configs/taiyi/THIS_CONFIG.py
_base_ = [
    '../_base_/models/taiyi-clip_roberta-large-326m_vit-h-14.py',
    '../_base_/datasets/imagenet-cn_cn-clip.py',
    '../_base_/default_runtime.py',
]

model = dict(
    type='mmcnclip.ZeroShotClassifier',
    classes='imagenet',
    text_prompt='imagenet',
)
