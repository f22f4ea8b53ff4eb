# Flickr30K-CN retrieval (5 captions per image), official Chinese-CLIP layout:
#   data/datasets/Flickr30k-CN/{train,valid,test}_texts.jsonl + _imgs.tsv
# For the LMDB of cn_clip/preprocess/build_lmdb_dataset.py (under
# data/datasets/Flickr30k-CN/lmdb/{train,valid,test}) switch the type only:
#   --cfg-options train_dataloader.dataset.type=mmcnclip.CNCLIPLmdbRetrieval
#   val_dataloader.dataset.type=... test_dataloader.dataset.type=... (same)
_base_ = ['./cn-clip_tsv_retrieval.py']

data_root = 'data/datasets/Flickr30k-CN'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
