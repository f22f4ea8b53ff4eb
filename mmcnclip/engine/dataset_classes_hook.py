"""Agree the zero-shot model's classes with the dataset it runs on."""
from mmengine.hooks import Hook

from mmcnclip.registry import HOOKS


def _unwrap(model):
    """The model inside DDP / TTA wrappers."""
    while hasattr(model, 'module'):
        model = model.module
    return model


@HOOKS.register_module()
class DatasetClassesHook(Hook):
    """Before training, validation and testing, hand the dataset's
    ``metainfo['classes']`` to models with ``adopt_dataset_classes``
    (:class:`~mmcnclip.models.ZeroShotClassifier`).

    A model whose config names no classes takes the dataset's; otherwise a
    different number of classes is an error naming both (instead of an
    accuracy computed against the wrong classes). Other models are left
    alone. ``configs/_base_/default_runtime.py`` installs it.
    """

    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        self._adopt(runner, runner.train_dataloader, 'train')

    def before_val(self, runner) -> None:
        self._adopt(runner, runner.val_loop.dataloader, 'val')

    def before_test(self, runner) -> None:
        self._adopt(runner, runner.test_loop.dataloader, 'test')

    @staticmethod
    def _adopt(runner, dataloader, split: str) -> None:
        model = _unwrap(runner.model)
        dataset = getattr(dataloader, 'dataset', None)
        classes = (getattr(dataset, 'metainfo', None) or {}).get('classes')
        if classes is None or not hasattr(model, 'adopt_dataset_classes'):
            return
        source = f'the {split} dataset ({type(dataset).__name__})'
        if model.adopt_dataset_classes(list(classes), source):
            runner.logger.info(f'The model takes the {len(classes)} classes '
                               f'of {source}')
