# CIFAR-10 test split for Chinese CLIP: the python-pickle archive
# extracted under `data_root`
# (data/cifar10/cifar-10-batches-py/{test_batch,batches.meta}, from
# https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz); nothing is
# downloaded. Images are resized like cn_clip.clip.image_transform.
#
# `img_size` is read when this file is parsed: a child config that needs
# another size redefines `test_pipeline` (the 336px configs take it from
# ./cn-clip_336px_pipelines.py) and sets
# `test_dataloader = dict(dataset=dict(pipeline=test_pipeline))` (likewise
# val), or pass
# `--cfg-options test_dataloader.dataset.pipeline.1.scale=336`.
_base_ = ['./cifar100_cn-clip.py']

dataset_type = 'mmcnclip.CIFAR10'
data_root = 'data/cifar10'
test_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = test_dataloader
