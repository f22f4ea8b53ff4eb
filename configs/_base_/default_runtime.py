# Runtime settings of mmcnclip configs (mmpretrain registries + mmcnclip).
default_scope = 'mmpretrain'
custom_imports = dict(imports=['mmcnclip'], allow_failed_imports=False)

default_hooks = dict(
    # record the time of every iteration.
    timer=dict(type='IterTimerHook'),
    # print a log line (with ETA) every 20 iterations.
    logger=dict(type='LoggerHook', interval=20),
    # enable the parameter scheduler.
    param_scheduler=dict(type='ParamSchedulerHook'),
    # save a checkpoint every epoch, keep the best and last few.
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3),
    # set the sampler seed in distributed environments.
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # pictures of the predictions (top-5 Chinese labels, retrieval hits);
    # tools/test.py --show-dir DIR enables it.
    visualization=dict(type='mmcnclip.PredictionPicturesHook', enable=False),
)

# zero-shot models take the dataset's classes when the config names none,
# and a different number of classes is an error.
custom_hooks = [dict(type='mmcnclip.DatasetClassesHook')]

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # 'nccl' needs CUDA: tools/train.py and tools/test.py switch to 'gloo'
    # (and CPU DistributedDataParallel) when no GPU is available, so
    # tools/dist_*.sh also run on CPU. Set 'gloo' here to force it.
    dist_cfg=dict(backend='nccl'),
)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)

log_level = 'INFO'
# checkpoint to load (tools/test.py sets it from its `checkpoint` argument).
load_from = None
# resume training from `load_from` (or the latest checkpoint of work_dir).
resume = False
# random seed; `deterministic=True` makes cuDNN deterministic.
randomness = dict(seed=None, deterministic=False)
