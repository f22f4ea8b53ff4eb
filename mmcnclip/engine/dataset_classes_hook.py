"""Agree the zero-shot model's classes with the dataset it runs on."""
from mmengine.hooks import Hook
from mmpretrain.evaluation import Accuracy

from mmcnclip.registry import HOOKS
from .model_wrappers import unwrap_model


def _dataset_classes(dataloader) -> tuple:
    """The dataloader's dataset and its ``metainfo['classes']`` (None when
    it names none)."""
    dataset = getattr(dataloader, 'dataset', None)
    return dataset, (getattr(dataset, 'metainfo', None) or {}).get('classes')


def _check_topk(loop, split: str) -> None:
    """Refuse top-k accuracies that need more classes than the dataset has.

    Args:
        loop: The runner's val or test loop (its ``dataloader`` and
            ``evaluator``).
        split (str): ``'val'`` or ``'test'``, to name the config key.
    """
    dataset, classes = _dataset_classes(loop.dataloader)
    if classes is None:
        return
    for metric in getattr(loop.evaluator, 'metrics', []):
        if not isinstance(metric, Accuracy):
            continue
        topk = metric.topk
        if max(topk) > len(classes):
            fits = [str(k) for k in topk if k <= len(classes)] or ['1']
            fits = ','.join(fits) + (',' if len(fits) == 1 else '')
            raise ValueError(
                f'{split}_evaluator asks for top-{max(topk)} accuracy '
                f'(topk={tuple(topk)}) but the {split} dataset '
                f'({type(dataset).__name__}) has only {len(classes)} '
                f'classes; pass --cfg-options "{split}_evaluator.topk='
                f'({fits})"')


@HOOKS.register_module()
class DatasetClassesHook(Hook):
    """Before training, validation and testing, hand the dataset's
    ``metainfo['classes']`` to models with ``adopt_dataset_classes``
    (:class:`~mmcnclip.models.ZeroShotClassifier`).

    A model whose config names no classes takes the dataset's; otherwise a
    different number of classes is an error naming both (instead of an
    accuracy computed against the wrong classes). Other models are left
    alone. An ``Accuracy`` evaluator whose largest ``topk`` exceeds the
    number of classes is an error naming the config key (instead of
    ``torch.topk``'s "selected index k out of range" after the whole
    dataset was encoded). ``configs/_base_/default_runtime.py`` installs it.
    """

    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        self._adopt(runner, runner.train_dataloader, 'train')

    def before_val(self, runner) -> None:
        self._adopt(runner, runner.val_loop.dataloader, 'val')
        _check_topk(runner.val_loop, 'val')

    def before_test(self, runner) -> None:
        self._adopt(runner, runner.test_loop.dataloader, 'test')
        _check_topk(runner.test_loop, 'test')

    @staticmethod
    def _adopt(runner, dataloader, split: str) -> None:
        model = unwrap_model(runner.model)
        dataset, classes = _dataset_classes(dataloader)
        if classes is None or not hasattr(model, 'adopt_dataset_classes'):
            return
        source = f'the {split} dataset ({type(dataset).__name__})'
        if model.adopt_dataset_classes(list(classes), source):
            runner.logger.info(f'The model takes the {len(classes)} classes '
                               f'of {source}')
