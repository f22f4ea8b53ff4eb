# Chinese CLIP RN50 + RBT3 (official weights: clip_cn_rn50.pt)
model = dict(
    type='mmcnclip.ChineseCLIP',
    backbone=dict(
        type='mmcnclip.ModifiedResNet', depth=50, output_dims=1024),
    neck=None,
    text_encoder=dict(type='mmcnclip.BertTextEncoder', arch='rbt3'),
    text_proj=dict(
        type='mmcnclip.CLIPProjection', in_channels=768, out_channels=1024),
)
