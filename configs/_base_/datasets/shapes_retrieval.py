# The offline "shapes" demonstration data (tools/data/make_shapes_dataset.py)
# in the official jsonl + tsv format: training pairs and a retrieval gallery.
data_root = 'data/shapes'
img_size = 32

train_pipeline = [
    dict(type='mmcnclip.LoadImagePIL'),
    dict(type='mmcnclip.PILResize', scale=img_size),
    dict(type='mmcnclip.PackImageText'),
]
test_pipeline = train_pipeline

train_dataloader = dict(
    batch_size=64,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    drop_last=True,  # equal batches on every rank for gathered negatives
    dataset=dict(
        type='mmcnclip.CNCLIPTsvRetrieval',
        data_root=data_root,
        split='train',
        pipeline=train_pipeline))

val_dataloader = dict(
    batch_size=64,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),  # text-only gallery items
    dataset=dict(
        type='mmcnclip.CNCLIPTsvRetrieval',
        data_root=data_root,
        split='valid',
        test_mode=True,
        pipeline=test_pipeline))
val_evaluator = dict(type='mmcnclip.ImageTextRecall')

test_dataloader = val_dataloader
test_evaluator = val_evaluator
