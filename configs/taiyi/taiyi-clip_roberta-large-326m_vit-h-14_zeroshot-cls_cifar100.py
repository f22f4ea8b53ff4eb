# Zero-shot classification with Taiyi-CLIP-RoBERTa-326M-ViT-H-Chinese on
# cifar100. The two published towers named by the model config are converted
# and merged when the weights are initialised, so no checkpoint is needed:
#   python tools/test.py configs/taiyi/THIS_CONFIG.py
_base_ = [
    '../_base_/models/taiyi-clip_roberta-large-326m_vit-h-14.py',
    '../_base_/datasets/cifar100_cn-clip.py',
    '../_base_/default_runtime.py',
]

model = dict(
    type='mmcnclip.ZeroShotClassifier',
    classes='cifar100',
    text_prompt='openai',
)
