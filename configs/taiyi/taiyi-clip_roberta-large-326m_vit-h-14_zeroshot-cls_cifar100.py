# Zero-shot classification with Taiyi-CLIP-RoBERTa-326M-ViT-H-Chinese on
# cifar100. Merge the two published towers once (docs/taiyi.md):
#   python -c "import torch, mmcnclip; from mmcnclip.checkpoint.taiyi import \
#   merge_two_tower_checkpoints as m; torch.save(m('IMAGE.bin', 'TEXT_DIR', \
#   'open_clip', 'hf_bert'), 'checkpoints/taiyi-clip_vit-h-14_merged.pth')"
_base_ = [
    '../_base_/datasets/cifar100_cn-clip.py',
    '../_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmcnclip'], allow_failed_imports=False)

model = dict(
    type='mmcnclip.ZeroShotClassifier',
    backbone=dict(
        type='mmcnclip.CLIPVisionTransformer',
        arch='huge',
        img_size=224,
        patch_size=14,
        act='gelu'),
    neck=dict(
        type='mmcnclip.CLIPProjection', in_channels=1280, out_channels=1024),
    text_encoder=dict(
        type='mmcnclip.BertTextEncoder', arch='large', out_type='pooler'),
    text_proj=dict(type='mmcnclip.TextProjection', in_channels=1024),
    context_length=77,
    classes='cifar100',
    text_prompt='openai',
    pretrained='checkpoints/taiyi-clip_vit-h-14_merged.pth',
)
