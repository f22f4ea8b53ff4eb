# ImageNet-1k validation set with Chinese class names, laid out like the
# Chinese-CLIP zero-shot datasets: data/datasets/imagenet/label_cn.txt
# (label_cn.txt of the ImageNet-1K folder linked from Chinese-CLIP's
# zeroshot_dataset.md, http://clip-cn-beijing.oss-cn-beijing.aliyuncs.com/
# datasets/ImageNet-1K/label_cn.txt)
# and data/datasets/imagenet/test/<class dir>/*.JPEG (the validation images
# in ImageFolder format, class directories sorted in label-file order).
# Set `label_file=None, classes='imagenet'` in the dataset to use the class
# names shipped with mmcnclip instead of label_cn.txt.
#
# The official evaluation reads images with torchvision's ImageFolder, which
# converts them to RGB before resizing: hence `convert_rgb=True`.
# `img_size` is read when this file is parsed: a child config that needs
# another size redefines `test_pipeline` (the 336px configs take it from
# ./cn-clip_336px_pipelines.py) and sets
# `test_dataloader = dict(dataset=dict(pipeline=test_pipeline))`, or pass
# `--cfg-options test_dataloader.dataset.pipeline.1.scale=336`.
dataset_type = 'mmcnclip.ZeroShotImageFolder'
data_root = 'data/datasets/imagenet'
img_size = 224

test_pipeline = [
    dict(type='mmcnclip.LoadImagePIL', convert_rgb=True),
    dict(type='mmcnclip.PILResize', scale=img_size),
    dict(type='PackInputs'),
]

test_dataloader = dict(
    batch_size=64,
    num_workers=4,
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
