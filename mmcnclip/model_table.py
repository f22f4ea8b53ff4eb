"""The one table of published Chinese CLIP models.

Official size name -> ``cn_clip`` json configs (vision, text) -> our base
config -> published weights, metrics and cost. Tests, tools, docs and the
model index (``configs/metafile.yml``, written by
``tools/misc/generate_metafile.py`` from :func:`metafile`) read it from here.
"""
import json
import os.path as osp
from dataclasses import dataclass
from typing import Dict, Optional

#: Where the numbers of the table come from.
SOURCES = {
    'image_gflops':
    'torch.utils.flop_counter.FlopCounterMode on encode_image of one image '
    'at img_size (2 FLOPs per multiply-add; matmuls and convolutions); '
    'checked by tests/test_model_table.py',
    'params':
    'parameters of the whole two-tower model built from `config`; checked '
    'by tests/test_model_table.py',
    'cifar100_top1':
    'CIFAR-100 zero-shot top-1 (183 "openai" templates) published in '
    "mmpretrain's configs/chinese_clip/metafile.yml (the Chinese-CLIP README "
    'gives 64.4 for ViT-B/16); none is published for ViT-L/14@336px alone',
}

_OFFICIAL = 'https://clip-cn-beijing.oss-cn-beijing.aliyuncs.com/checkpoints/'
_MMPRETRAIN = 'https://download.openmmlab.com/mmpretrain/v1.0/chinese_clip/'

#: Zero-shot classification tasks that have one shipped config per model
#: (``configs/{config}_zeroshot-cls_{task}.py``).
ZERO_SHOT_TASKS = ('cifar100', 'cifar10', 'imagenet-cn', 'elevater-folder')


@dataclass(frozen=True)
class ModelInfo:
    """One published Chinese CLIP model.

    Attributes:
        name (str): Official size name (``cn_clip.clip.available_models``).
        vision_json (str): ``cn_clip`` vision model config (json stem).
        text_json (str): ``cn_clip`` text model config (json stem).
        config (str): Our model config ``configs/_base_/models/{config}.py``.
        img_size (int): Input image side.
        params (int): Parameters of the two-tower model.
        image_gflops (float): GFLOP of the image tower per image.
        weights (str): Official checkpoint URL.
        mmpretrain_weights (str | None): mmpretrain's conversion, if any.
        cifar100_top1 (float | None): Published zero-shot CIFAR-100 top-1.
    """
    name: str
    vision_json: str
    text_json: str
    config: str
    img_size: int
    params: int
    image_gflops: float
    weights: str
    mmpretrain_weights: Optional[str]
    cifar100_top1: Optional[float]

    def zero_shot_config(self, task: str) -> str:
        """Name of the shipped zero-shot config for ``task``."""
        if task not in ZERO_SHOT_TASKS:
            raise KeyError(f'Unknown zero-shot task {task!r}; known: '
                           f'{ZERO_SHOT_TASKS}')
        return f'{self.config}_zeroshot-cls_{task}'


_ROWS = (
    ModelInfo('RN50', 'RN50', 'RBT3-chinese', 'cn-clip_resnet50', 224,
              76989537, 11.6, _OFFICIAL + 'clip_cn_rn50.pt',
              _MMPRETRAIN + 'cn-clip_resnet50_3rdparty_20230519-6a2b3eb2.pth',
              40.7),
    ModelInfo('ViT-B-16', 'ViT-B-16', 'RoBERTa-wwm-ext-base-chinese',
              'cn-clip_vit-base-p16', 224, 188262913, 35.1,
              _OFFICIAL + 'clip_cn_vit-b-16.pt', _MMPRETRAIN +
              'cn-clip_vit-base-p16_3rdparty_20230519-37fbc59e.pth', 64.5),
    ModelInfo('ViT-L-14', 'ViT-L-14', 'RoBERTa-wwm-ext-base-chinese',
              'cn-clip_vit-large-p14', 224, 406233089, 162.,
              _OFFICIAL + 'clip_cn_vit-l-14.pt', _MMPRETRAIN +
              'cn-clip_vit-large-p14_3rdparty_20230519-3f844503.pth', 74.8),
    ModelInfo('ViT-L-14-336', 'ViT-L-14-336', 'RoBERTa-wwm-ext-base-chinese',
              'cn-clip_vit-large-p14-336px', 336, 406560769, 382.,
              _OFFICIAL + 'clip_cn_vit-l-14-336.pt', None, None),
    ModelInfo('ViT-H-14', 'ViT-H-14', 'RoBERTa-wwm-ext-large-chinese',
              'cn-clip_vit-huge-p14', 224, 957598209, 335.,
              _OFFICIAL + 'clip_cn_vit-h-14.pt', _MMPRETRAIN +
              'cn-clip_vit-huge-p14_3rdparty_20230519-e4f49b00.pth', 79.1),
)

#: Official size name -> :class:`ModelInfo`.
MODEL_TABLE: Dict[str, ModelInfo] = {row.name: row for row in _ROWS}


def config_root() -> str:
    """Folder holding ``configs/`` (installed package, then source tree)."""
    package = osp.dirname(osp.abspath(__file__))
    for root in (osp.join(package, '.mim'), osp.dirname(package)):
        if osp.isdir(osp.join(root, 'configs')):
            return root
    raise FileNotFoundError(f'No configs/ folder in {package}/.mim or next '
                            'to the package')


def base_config_path(name: str) -> str:
    """Path of our model config for an official size name."""
    return osp.join(config_root(), 'configs', '_base_', 'models',
                    MODEL_TABLE[name].config + '.py')


def official_model_args(name: str) -> dict:
    """Keyword arguments of ``cn_clip.clip.model.CLIP`` for ``name``: its
    vision and text json configs merged, as the official loader does."""
    from cn_clip.clip import model as official
    root = osp.join(osp.dirname(official.__file__), 'model_configs')
    info = {}
    for part in (MODEL_TABLE[name].vision_json, MODEL_TABLE[name].text_json):
        with open(osp.join(root, f'{part}.json')) as f:
            info.update(json.load(f))
    if isinstance(info['vision_layers'], str):
        info['vision_layers'] = json.loads(info['vision_layers'])
    return info


#: mmpretrain task names (``mmpretrain.apis.inference_model`` picks the
#: inferencer from them).
CLS_TASK = 'Image Classification'
RETRIEVAL_TASKS = ('Text-To-Image Retrieval', 'Image-To-Text Retrieval')

#: Retrieval datasets with a test and a finetune config per model
#: (``configs/{config}_retrieval_{dataset}-{test,finetune}.py``).
RETRIEVAL_DATASETS = {'muge': 'MUGE', 'flickr30k-cn': 'Flickr30K-CN',
                      'coco-cn': 'COCO-CN'}
_ZERO_SHOT_DATASETS = {'cifar100': 'CIFAR-100', 'cifar10': 'CIFAR-10',
                       'imagenet-cn': 'ImageNet-CN',
                       'elevater-folder': 'ELEVATER (image folder)'}
_CIFAR100_SOURCE = ('https://github.com/open-mmlab/mmpretrain/blob/main/'
                    'configs/chinese_clip/metafile.yml')

#: Configs outside the per-model grid: path under configs/ -> (tasks,
#: dataset, collection, table row whose towers and weights it uses).
EXTRA_CONFIGS = {
    'linear-probe/cn-clip_vit-base-p16_linear-probe_cifar100.py':
    ((CLS_TASK, ), 'CIFAR-100', 'ChineseCLIP-mmcnclip', 'ViT-B-16'),
    'linear-probe/cn-clip_vit-base-p16_finetune_cifar100.py':
    ((CLS_TASK, ), 'CIFAR-100', 'ChineseCLIP-mmcnclip', 'ViT-B-16'),
    'linear-probe/cn-clip_resnet50_finetune_cifar100.py':
    ((CLS_TASK, ), 'CIFAR-100', 'ChineseCLIP-mmcnclip', 'RN50'),
    'taiyi/taiyi-clip_roberta-102m_vit-b-32.py':
    (RETRIEVAL_TASKS, 'any image-text gallery', 'TaiyiCLIP-mmcnclip', None),
    'taiyi/taiyi-clip_roberta-large-326m_vit-h-14.py':
    (RETRIEVAL_TASKS, 'any image-text gallery', 'TaiyiCLIP-mmcnclip', None),
    'taiyi/taiyi-clip_roberta-large-326m_vit-h-14_zeroshot-cls_cifar100.py':
    ((CLS_TASK, ), 'CIFAR-100', 'TaiyiCLIP-mmcnclip', None),
    'taiyi/taiyi-clip_roberta-large-326m_vit-h-14_zeroshot-cls_imagenet-cn.py':
    ((CLS_TASK, ), 'ImageNet-CN', 'TaiyiCLIP-mmcnclip', None),
    'shapes/cn-clip_tiny_shapes.py':
    (RETRIEVAL_TASKS, 'shapes (tools/data/make_shapes_dataset.py)',
     'ChineseCLIP-mmcnclip', None),
    'shapes/cn-clip_tiny_shapes_zeroshot.py':
    ((CLS_TASK, ), 'shapes (tools/data/make_shapes_dataset.py)',
     'ChineseCLIP-mmcnclip', None),
}


def _results(tasks, dataset: str, metrics: Optional[dict] = None,
             source: Optional[str] = None) -> list:
    """``Results`` entries; published numbers carry their ``Source``."""
    results = []
    for task in tasks:
        result = {'Task': task, 'Dataset': dataset, 'Metrics': metrics or {}}
        if metrics:
            result['Source'] = source
        results.append(result)
    return results


def _entry(name: str, config: str, collection: str, results: list,
           row: Optional[ModelInfo]) -> dict:
    entry = {'Name': name}
    if row is not None:
        entry['Metadata'] = {'FLOPs': round(row.image_gflops * 1e9),
                             'Parameters': row.params}
    entry['In Collection'] = collection
    entry['Results'] = results
    if row is not None:
        entry['Weights'] = row.weights
        if row.mmpretrain_weights:
            entry['MMPretrain Weights'] = row.mmpretrain_weights
    entry['Config'] = f'configs/{config}'
    if row is not None:
        entry['Converted From'] = {
            'Weights': row.weights,
            'Code': 'https://github.com/OFA-Sys/Chinese-CLIP'}
    return entry


def metafile() -> dict:
    """The model index (``configs/metafile.yml``), read from
    :data:`MODEL_TABLE`: every shipped zero-shot config under 'Image
    Classification', the retrieval test and finetune configs under the
    two retrieval tasks, and :data:`EXTRA_CONFIGS`."""
    models = []
    for row in _ROWS:
        for task in ZERO_SHOT_TASKS:
            name = row.zero_shot_config(task)
            published = task == 'cifar100' and row.cifar100_top1 is not None
            results = _results(
                (CLS_TASK, ), _ZERO_SHOT_DATASETS[task],
                {'Top 1 Accuracy': row.cifar100_top1} if published else None,
                _CIFAR100_SOURCE)
            models.append(_entry(name, f'{name}.py', 'ChineseCLIP-mmcnclip',
                                 results, row))
        for dataset, title in RETRIEVAL_DATASETS.items():
            for kind in ('test', 'finetune'):
                name = f'{row.config}_retrieval_{dataset}-{kind}'
                models.append(_entry(
                    name, f'{name}.py', 'ChineseCLIP-mmcnclip',
                    _results(RETRIEVAL_TASKS, title), row))
    for config, (tasks, dataset, collection, row) in EXTRA_CONFIGS.items():
        name = osp.splitext(osp.basename(config))[0]
        models.append(_entry(name, config, collection,
                             _results(tasks, dataset),
                             None if row is None else MODEL_TABLE[row]))
    return {'Collections': [_COLLECTION, _TAIYI_COLLECTION], 'Models': models}


_COLLECTION = {
    'Name': 'ChineseCLIP-mmcnclip',
    'Metadata': {
        'Training Data': ['LAION-5B', 'WuKong', 'VisualGenome', 'MSCOCO'],
        'Architecture': ['Transformer', 'Attention Pooling'],
    },
    'Paper': {
        'Title': 'Chinese CLIP: Contrastive Vision-Language Pretraining in '
        'Chinese',
        'URL': 'https://arxiv.org/abs/2211.01335',
    },
    'README': '../docs/zero_shot.md',  # relative to configs/metafile.yml
}

_TAIYI_COLLECTION = {
    'Name': 'TaiyiCLIP-mmcnclip',
    'Metadata': {
        'Training Data': ['Noah-Wukong', 'Zero'],
        'Architecture': ['Transformer'],
    },
    'Paper': {
        'Title': 'Fengshenbang 1.0: Being the Foundation of Chinese '
        'Cognitive Intelligence',
        'URL': 'https://arxiv.org/abs/2209.02970',
    },
    'README': '../docs/taiyi.md',
}


def metafile_text() -> str:
    """:func:`metafile` as the text of ``configs/metafile.yml``."""
    import textwrap

    import yaml
    lines = (
        'Generated by tools/misc/generate_metafile.py from',
        'mmcnclip/model_table.py: edit the table, not this file.',
        'Config paths are relative to the repository root (or to',
        'mmcnclip/.mim in an installed package). "Weights" are the official',
        'Chinese-CLIP checkpoints, which mmcnclip loads directly;',
        '"MMPretrain Weights" are mmpretrain\'s conversions, loadable too.',
        f'FLOPs: {SOURCES["image_gflops"]}.',
        f'Top 1 Accuracy: {SOURCES["cifar100_top1"]}.',
        'Results without Metrics list the task only (no published number '
        'for that config); published numbers name their Source.')
    header = ''.join(f'# {wrapped}\n' for line in lines
                     for wrapped in textwrap.wrap(line, 76))
    return header + yaml.safe_dump(metafile(), sort_keys=False,
                                   allow_unicode=True, width=78)
