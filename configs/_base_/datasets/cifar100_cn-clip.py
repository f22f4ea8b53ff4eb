# CIFAR-100 test split for Chinese CLIP: the python-pickle archive
# extracted under `data_root` (data/cifar100/cifar-100-python/{test,meta},
# from https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz); nothing is
# downloaded. Images are resized like cn_clip.clip.image_transform.
#
# `img_size` is read when this file is parsed: a child config that needs
# another size redefines `test_pipeline` (the 336px configs take it from
# ./cn-clip_336px_pipelines.py) and sets
# `test_dataloader = dict(dataset=dict(pipeline=test_pipeline))` (likewise
# val), or pass
# `--cfg-options test_dataloader.dataset.pipeline.1.scale=336`.
dataset_type = 'mmcnclip.CIFAR100'
data_root = 'data/cifar100'
img_size = 224

test_pipeline = [
    dict(type='mmcnclip.LoadImagePIL'),  # CIFAR arrays are BGR -> RGB PIL
    dict(type='mmcnclip.PILResize', scale=img_size),
    dict(type='PackInputs'),
]

test_dataloader = dict(
    batch_size=64,
    num_workers=2,
    pin_memory=False,
    persistent_workers=False,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='test',
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
test_evaluator = dict(type='Accuracy', topk=(1, 5))
test_cfg = dict()

# CIFAR has no separate validation split: validate on the test split.
val_dataloader = test_dataloader
val_evaluator = test_evaluator
val_cfg = dict()
