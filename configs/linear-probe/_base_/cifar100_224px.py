# CIFAR-100 upsampled to 224px with the CLIP normalisation, for linear-probe
# and finetune experiments on Chinese CLIP image towers.
_base_ = ['../../_base_/clip_normalisation.py']

dataset_type = 'CIFAR100'
data_preprocessor = dict(
    num_classes=100,
    # CLIP mean/std on RGB input
    mean={{_base_.clip_mean}},
    std={{_base_.clip_std}},
    to_rgb=False)

train_pipeline = [
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.5, 1.0),
         backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='Resize', scale=224, backend='pillow', interpolation='bicubic'),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=64,
    num_workers=4,
    dataset=dict(type=dataset_type, data_root='data/cifar100', split='train',
                 pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size=64,
    num_workers=4,
    dataset=dict(type=dataset_type, data_root='data/cifar100', split='test',
                 pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
