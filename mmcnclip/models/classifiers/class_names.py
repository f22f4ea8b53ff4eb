"""Display class names of a zero-shot classifier versus its prompt names.

A zero-shot model scores images against one text prototype per class. The
*class names* (shown to the user, e.g. ``pred_class``) and the *prompt
names* (put into the templates) are usually the same list; ``text_prototype``
gives prompt names that differ. This module keeps both in one place and says
where a count mismatch comes from.
"""
import sys
from typing import Optional, Sequence, Tuple

from mmcnclip.text import get_classnames

#: Frames searched upwards for an mmpretrain inferencer driving the model.
INFERENCER_FRAMES = 6


def calling_inferencer_classes(model) -> Optional[Tuple[str, ...]]:
    """The ``classes`` of the inferencer that is running ``model``, if any.

    mmpretrain's ``ImageClassificationInferencer(..., classes=[...])`` keeps
    the names for display only (``self.classes``) and never passes them to
    the model. To score against exactly those classes, the model looks for
    the inferencer among its callers (``BaseInferencer.forward`` calls
    ``self.model.test_step``): an object whose ``model`` is ``model`` and
    that has a ``classes`` attribute. Nothing is modified.

    Args:
        model (nn.Module): The model being run.

    Returns:
        tuple[str] | None: The inferencer's classes; None when not called by
        an inferencer or when it has none.
    """
    frame = sys._getframe(1)
    for _ in range(INFERENCER_FRAMES):
        if frame is None:
            return None
        caller = frame.f_locals.get('self')
        if caller is not model and getattr(caller, 'model', None) is model \
                and hasattr(caller, 'classes'):
            classes = caller.classes
            return None if classes is None else tuple(classes)
        frame = frame.f_back
    return None


class ClassNames:
    """Class names and prompt names of one zero-shot model.

    Args:
        classes (str | list[str], optional): Class names (a built-in set
            name, a list or a label file). Defaults to None.
        text_prototype (str | list[str], optional): Prompt names when they
            differ from the class names; same number of entries. Defaults to
            None.
    """

    def __init__(self, classes=None, text_prototype=None):
        self.names = (None if classes is None else
                      tuple(get_classnames(classes)))
        self.prompts = (None if text_prototype is None else
                        tuple(get_classnames(text_prototype)))
        #: Whether the config named the classes (else the dataset does).
        self.named = self.names is not None or self.prompts is not None

    def prompt_names(self) -> Optional[Tuple[str, ...]]:
        """Names to build the prototypes from (None: keep the head's)."""
        return self.prompts if self.prompts is not None else self.names

    def check(self) -> None:
        """Raise if the class names and prompt names differ in number."""
        if self.names is not None and self.prompts is not None and \
                len(self.names) != len(self.prompts):
            raise ValueError(
                f'The zero-shot model has {len(self.names)} class names '
                f'({_preview(self.names)}) but {len(self.prompts)} '
                f'text_prototype names ({_preview(self.prompts)}): give '
                'text_prototype one prompt name per class, or drop it to '
                'prompt with the class names')

    def set(self, names: Sequence[str]) -> None:
        """Make ``names`` the class names (prompts too unless
        ``text_prototype`` was given)."""
        self.names = tuple(names)
        self.named = True
        self.check()

    @staticmethod
    def check_dataset(ours: Sequence[str], names: Sequence[str],
                      dataset: str) -> None:
        """Raise if a dataset has another number of classes.

        Args:
            ours (Sequence[str]): The model's prompt names.
            names (Sequence[str]): The dataset's ``metainfo['classes']``.
            dataset (str): How to name the dataset in the message.
        """
        if len(ours) != len(names):
            raise ValueError(
                f'The zero-shot model has {len(ours)} classes '
                f'({_preview(ours)}) but {dataset} has {len(names)} '
                f'({_preview(names)}): set model.classes (or '
                'model.text_prototype) to the dataset\'s classes, or leave '
                'both unset to use the dataset\'s')


def _preview(names: Sequence[str], count: int = 3) -> str:
    shown = ', '.join(names[:count])
    return shown + (', ...' if len(names) > count else '')
