# Full finetune of the Chinese CLIP RN50 image tower (attention-pooled,
# projected 1024-d embedding) with layer-wise lr decay over stem, 4 stages
# and attention pool (ModifiedResNet.get_layer_depth).
_base_ = ['./cn-clip_vit-base-p16_finetune_cifar100.py']

pretrained = 'checkpoints/clip_cn_rn50.pt'
model = dict(
    backbone=dict(
        type='mmcnclip.ModifiedResNet',
        depth=50,
        img_size=224,
        output_dims=1024,
        out_indices=(4, ),
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.'),
        _delete_=True),
    head=dict(in_channels=1024))
optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.8))
