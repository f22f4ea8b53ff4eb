# Chinese CLIP ViT-L/14 + RoBERTa-wwm-ext-base (official weights: clip_cn_vit-l-14.pt)
model = dict(
    type='mmcnclip.ChineseCLIP',
    backbone=dict(
        type='mmcnclip.CLIPVisionTransformer',
        arch='large',
        img_size=224,
        patch_size=14),
    neck=dict(
        type='mmcnclip.CLIPProjection', in_channels=1024, out_channels=768),
    text_encoder=dict(type='mmcnclip.BertTextEncoder', arch='base'),
    text_proj=dict(
        type='mmcnclip.CLIPProjection', in_channels=768, out_channels=768),
)
