"""Zero-shot classification prompt templates and class-name sets.

The built-in sets are shipped as plain UTF-8 text files next to this module
(one entry per line):

* ``templates/openai.txt`` - the 183 Chinese "openai" templates that
  Chinese-CLIP uses for CIFAR and the ELEVATER datasets.
* ``templates/imagenet.txt`` - the 80 Chinese ImageNet templates of
  Chinese-CLIP.
* ``templates/single.txt`` - the single template ``{}的图片``.
* ``classnames/cifar10.txt``, ``classnames/cifar100.txt`` and
  ``classnames/imagenet.txt`` - Chinese class names in dataset index order.

Every template is a :meth:`str.format` string with exactly one bare ``{}``
placeholder that is replaced by the class name. Literal braces, should a
user template need them, are written ``{{`` and ``}}`` as usual for
:meth:`str.format`; none of the built-in templates contains any.

Built-in sets keep the official lists verbatim, including their duplicates
(the openai set has 179 distinct templates, the ImageNet set 78, and the
ImageNet class list names ``太阳镜`` twice, for ``sunglass`` and
``sunglasses``), so that zero-shot results match the reference
implementation.

Example:
    >>> from mmcnclip.text.prompts import build_prompts
    >>> build_prompts('cifar10', 'single')[:2]
    ['飞机的图片', '汽车的图片']
"""
import logging
import os
import string
from functools import lru_cache
from pathlib import Path
from typing import Callable, List, Sequence, Tuple, Union

from mmengine.logging import print_log

__all__ = [
    'available_templates', 'available_classnames', 'get_templates',
    'get_classnames', 'build_prompts', 'check_template',
    'warn_ambiguous_classnames'
]

_DATA_ROOT = Path(__file__).resolve().parent
_TEMPLATE_DIR = _DATA_ROOT / 'templates'
_CLASSNAME_DIR = _DATA_ROOT / 'classnames'

#: Names of the built-in template sets, in a stable order.
TEMPLATE_SETS: Tuple[str, ...] = ('openai', 'imagenet', 'single')
#: Names of the built-in class-name sets, in a stable order.
CLASSNAME_SETS: Tuple[str, ...] = ('cifar100', 'cifar10', 'imagenet')

TemplateSpec = Union[str, os.PathLike, Sequence[str]]
ClassnameSpec = Union[str, os.PathLike, Sequence[str]]

_FORMATTER = string.Formatter()


def available_templates() -> List[str]:
    """List the names of the built-in template sets.

    Returns:
        list[str]: Names accepted by :func:`get_templates`.
    """
    return list(TEMPLATE_SETS)


def available_classnames() -> List[str]:
    """List the names of the built-in class-name sets.

    Returns:
        list[str]: Names accepted by :func:`get_classnames`.
    """
    return list(CLASSNAME_SETS)


def check_template(template: str) -> str:
    """Check that ``template`` is a format string with exactly one ``{}``.

    Args:
        template (str): The template to check.

    Returns:
        str: ``template`` itself, unchanged.

    Raises:
        TypeError: If ``template`` is not a string.
        ValueError: If ``template`` is not a valid :meth:`str.format` string
            or does not contain exactly one bare ``{}`` placeholder (named,
            numbered or formatted fields such as ``{c}``, ``{0}`` or
            ``{:>5}`` are rejected).
    """
    if not isinstance(template, str):
        raise TypeError(f'A template must be a str, got '
                        f'{type(template).__name__}: {template!r}')
    try:
        fields = [(name, spec, conv)
                  for _, name, spec, conv in _FORMATTER.parse(template)
                  if name is not None]
    except ValueError as e:
        raise ValueError(f'Invalid template {template!r}: {e}. A template '
                         'must contain exactly one "{}" placeholder; write '
                         'literal braces as "{{" and "}}".') from None
    if fields != [('', '', None)]:
        raise ValueError(f'Invalid template {template!r}: a template must '
                         'contain exactly one bare "{}" placeholder (found '
                         f'{len(fields)} replacement field(s)).')
    return template


def _read_lines(path: Path) -> Tuple[str, ...]:
    """Read non-blank lines of a UTF-8 text file, without line endings."""
    # ``utf-8-sig`` drops a BOM written by some Windows editors.
    text = path.read_text(encoding='utf-8-sig')
    return tuple(line for line in text.splitlines() if line.strip())


@lru_cache(maxsize=None)
def _load_builtin(directory: str, name: str) -> Tuple[str, ...]:
    """Read a built-in data file once; later calls hit the cache."""
    return _read_lines(Path(directory) / f'{name}.txt')


@lru_cache(maxsize=64)
def _load_user_file(path: str, mtime_ns: int, size: int) -> Tuple[str, ...]:
    """Read a user file; the cache key includes its mtime and size so an
    edited file is read again."""
    return _read_lines(Path(path))


def _read_user_file(path: Path) -> Tuple[str, ...]:
    if not path.is_file():
        raise FileNotFoundError(f'File not found: {str(path)!r}')
    stat = path.stat()
    return _load_user_file(str(path.resolve()), stat.st_mtime_ns,
                           stat.st_size)


def _resolve(spec, kind: str, known: Tuple[str, ...], directory: Path,
             list_hint: str) -> Tuple[Tuple[str, ...], str]:
    """Turn a spec into entries plus a description used in error messages.

    Known set names take precedence over files of the same name; pass a path
    such as ``./openai`` to read such a file instead.
    """
    if isinstance(spec, (list, tuple)):
        return tuple(spec), f'the given {kind} list'
    if isinstance(spec, os.PathLike):
        path = Path(spec)
        return _read_user_file(path), f'file {str(path)!r}'
    if not isinstance(spec, str):
        raise TypeError(f'Expected a {kind} set name, a list/tuple of '
                        f'{kind}s or a path to a text file, got '
                        f'{type(spec).__name__}: {spec!r}')
    key = spec.strip().lower()
    if key in known:
        return _load_builtin(str(directory), key), f'{kind} set {key!r}'
    path = Path(spec).expanduser()
    if path.is_file():
        return _read_user_file(path), f'file {str(path)!r}'
    if '{' in spec and kind == 'template':
        raise ValueError(f'Got the single template {spec!r}; pass templates '
                         f'as a list, e.g. [{spec!r}].')
    looks_like_path = (os.sep in spec or (os.altsep or os.sep) in spec
                       or path.suffix != '')
    if looks_like_path:
        raise FileNotFoundError(f'{kind.capitalize()} file not found: '
                                f'{spec!r}')
    raise ValueError(f'Unknown {kind} set {spec!r}. Known {kind} sets: '
                     f'{", ".join(known)}; alternatively pass {list_hint} or '
                     'the path of a text file with one entry per line.')


def get_templates(spec: TemplateSpec) -> List[str]:
    """Get zero-shot prompt templates.

    Args:
        spec (str | os.PathLike | list[str] | tuple[str]): One of

            * a built-in set name (see :func:`available_templates`):
              ``'openai'`` (183 templates), ``'imagenet'`` (80) or
              ``'single'`` (``'{}的图片'``); matched case-insensitively;
            * a list/tuple of format strings, each with exactly one ``{}``;
            * the path of a UTF-8 text file with one template per line.
              Blank lines are ignored; other lines are used verbatim
              (without the line ending).

    Returns:
        list[str]: The templates, in order (a fresh list on every call).

    Raises:
        ValueError: If ``spec`` is an unknown set name, if the result is
            empty, or if a template does not contain exactly one ``{}``.
        FileNotFoundError: If ``spec`` names a file that does not exist.
        TypeError: If ``spec`` or one of its entries has a wrong type.
    """
    templates, source = _resolve(spec, 'template', TEMPLATE_SETS,
                                 _TEMPLATE_DIR, 'a list of format strings')
    if not templates:
        raise ValueError(f'No templates found in {source}.')
    for template in templates:
        check_template(template)
    return list(templates)


def get_classnames(spec: ClassnameSpec) -> List[str]:
    """Get the class names of a zero-shot classification task.

    Args:
        spec (str | os.PathLike | list[str] | tuple[str]): One of

            * a built-in set name (see :func:`available_classnames`):
              ``'cifar100'``, ``'cifar10'`` or ``'imagenet'``; matched
              case-insensitively. Names are Chinese and in dataset index
              order;
            * a list/tuple of class names (used as given);
            * the path of a UTF-8 label file with one name per line, e.g. an
              ELEVATER ``label_cn.txt``. Blank lines are ignored and
              surrounding whitespace is stripped.

    Returns:
        list[str]: The class names, in order (a fresh list on every call).

    Raises:
        ValueError: If ``spec`` is an unknown set name, or if the result is
            empty or contains an empty name.
        FileNotFoundError: If ``spec`` names a file that does not exist.
        TypeError: If ``spec`` or one of its entries has a wrong type.
    """
    is_list = isinstance(spec, (list, tuple))
    names, source = _resolve(spec, 'class name', CLASSNAME_SETS,
                             _CLASSNAME_DIR, 'a list of class names')
    if not names:
        raise ValueError(f'No class names found in {source}.')
    for i, name in enumerate(names):
        if not isinstance(name, str):
            raise TypeError(f'Class name #{i} in {source} must be a str, '
                            f'got {type(name).__name__}: {name!r}')
        if not name.strip():
            raise ValueError(f'Class name #{i} in {source} is empty.')
    if is_list:
        return list(names)
    return [name.strip() for name in names]


def is_builtin_classnames(spec: ClassnameSpec) -> bool:
    """Whether ``spec`` names a built-in class-name set (which keeps the
    official duplicates on purpose)."""
    return isinstance(spec, str) and spec.strip().lower() in CLASSNAME_SETS


def warn_ambiguous_classnames(classnames: Sequence[str],
                              normalise: Callable[[str], object]) -> list:
    """Warn about class names that cannot be told apart.

    Two class names that are equal after ``normalise`` give identical
    prompts, hence tied scores: the second one never wins. A name that
    normalises to nothing gives prompts without a class at all.

    Args:
        classnames (Sequence[str]): The class names.
        normalise (callable): Maps a name to what the model sees, e.g. its
            token ids after the prompt normalisation; an empty result means
            the name vanishes.

    Returns:
        list[str]: The warnings logged (at WARNING level), one per problem.
    """
    groups, empty = {}, []
    for index, name in enumerate(classnames):
        key = normalise(name)
        if not key:
            empty.append(f'#{index} {name!r}')
            continue
        groups.setdefault(key, []).append(f'#{index} {name!r}')
    messages = [
        'Class names ' + ', '.join(group) + ' are the same after text '
        'normalisation: their scores tie and only the first can be predicted'
        for group in groups.values() if len(group) > 1
    ]
    if empty:
        messages.append('Class names ' + ', '.join(empty) + ' are empty '
                        'after text normalisation: their prompts name no '
                        'class')
    for message in messages:
        print_log(message, logger='current', level=logging.WARNING)
    return messages


def build_prompts(classnames: ClassnameSpec,
                  templates: TemplateSpec) -> List[str]:
    """Fill every template with every class name.

    The result is class-major: all templates for class 0, then all templates
    for class 1, and so on, i.e. the prompt for class ``i`` and template
    ``j`` is at index ``i * len(templates) + j``.

    Args:
        classnames: Anything accepted by :func:`get_classnames`.
        templates: Anything accepted by :func:`get_templates`.

    Returns:
        list[str]: ``len(classnames) * len(templates)`` prompts.

    Example:
        >>> build_prompts(['猫', '狗'], ['{}的照片', '一张{}的图片'])
        ['猫的照片', '一张猫的图片', '狗的照片', '一张狗的图片']
    """
    names = get_classnames(classnames)
    formats = get_templates(templates)
    return [fmt.format(name) for name in names for fmt in formats]
