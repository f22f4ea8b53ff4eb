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
# another size redefines `test_pipeline` (the 336px configs take it from
# ./cn-clip_336px_pipelines.py) and sets
# `test_dataloader = dict(dataset=dict(pipeline=test_pipeline))`, or pass
# `--cfg-options test_dataloader.dataset.pipeline.1.scale=336`.
_base_ = ['./imagenet-cn_cn-clip.py']

data_root = 'data/datasets/cifar-100'
test_dataloader = dict(num_workers=2, dataset=dict(data_root=data_root))
# ELEVATER has datasets of 2-4 classes; the official evaluation reports
# top-1 only.
test_evaluator = dict(type='Accuracy', topk=(1, ))
