# One dataset of the Chinese ELEVATER zero-shot benchmark (see the
# Chinese-CLIP zeroshot_dataset.md; ELEVATER_all.zip), unzipped as
#   data/datasets/<name>/label_cn.txt
#   data/datasets/<name>/test/000/*.jpg, test/001/...
# Point `data_root` at the dataset, e.g.
#   --cfg-options test_dataloader.dataset.data_root=data/datasets/food-101
# (the zero-shot model configs also need the class names of that dataset).
#
# The official evaluation reads images with torchvision's ImageFolder, which
# converts them to RGB before resizing: hence `convert_rgb=True`.
# `img_size` is read when this file is parsed: a child config that needs
# another size redefines `test_pipeline` and sets
# `test_dataloader = dict(dataset=dict(pipeline=test_pipeline))`, or pass
# `--cfg-options test_dataloader.dataset.pipeline.1.scale=336`.
dataset_type = 'mmcnclip.ZeroShotImageFolder'
data_root = 'data/datasets/cifar-100'
img_size = 224

test_pipeline = [
    dict(type='mmcnclip.LoadImagePIL', convert_rgb=True),
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
        label_file='label_cn.txt',
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
test_evaluator = dict(type='Accuracy', topk=(1, 5))
test_cfg = dict()
