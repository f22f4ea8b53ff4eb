import re
from pathlib import Path

import pytest

from mmcnclip.text import prompts
from mmcnclip.text.prompts import (available_classnames, available_templates,
                                   build_prompts, check_template,
                                   get_classnames, get_templates)

SAMPLE_NAMES = ['猫', '金毛猎犬', 'jpeg', 'a{b}c', '花瓶；装饰瓶', '']

CIFAR100_EN = (
    'apple', 'aquarium_fish', 'baby', 'bear', 'beaver', 'bed', 'bee',
    'beetle', 'bicycle', 'bottle', 'bowl', 'boy', 'bridge', 'bus',
    'butterfly', 'camel', 'can', 'castle', 'caterpillar', 'cattle', 'chair',
    'chimpanzee', 'clock', 'cloud', 'cockroach', 'couch', 'crab', 'crocodile',
    'cup', 'dinosaur', 'dolphin', 'elephant', 'flatfish', 'forest', 'fox',
    'girl', 'hamster', 'house', 'kangaroo', 'keyboard', 'lamp', 'lawn_mower',
    'leopard', 'lion', 'lizard', 'lobster', 'man', 'maple_tree', 'motorcycle',
    'mountain', 'mouse', 'mushroom', 'oak_tree', 'orange', 'orchid', 'otter',
    'palm_tree', 'pear', 'pickup_truck', 'pine_tree', 'plain', 'plate',
    'poppy', 'porcupine', 'possum', 'rabbit', 'raccoon', 'ray', 'road',
    'rocket', 'rose', 'sea', 'seal', 'shark', 'shrew', 'skunk', 'skyscraper',
    'snail', 'snake', 'spider', 'squirrel', 'streetcar', 'sunflower',
    'sweet_pepper', 'table', 'tank', 'telephone', 'television', 'tiger',
    'tractor', 'train', 'trout', 'tulip', 'turtle', 'wardrobe', 'whale',
    'willow_tree', 'wolf', 'woman', 'worm')

DATA_DIR = Path(prompts.__file__).parent


def _cn_clip_templates():
    pytest.importorskip('cn_clip')
    from cn_clip.eval import cvinw_zeroshot_templates as cvinw
    from cn_clip.eval import imagenet_zeroshot_templates as imagenet
    return {
        'openai': cvinw.openai_templates,
        'imagenet': imagenet.openai_imagenet_template,
        'single': cvinw.normal_templates,
    }


# --------------------------------------------------------------------------
# Shipped data files
# --------------------------------------------------------------------------


@pytest.mark.parametrize('name,count', [('openai', 183), ('imagenet', 80),
                                        ('single', 1)])
def test_template_counts(name, count):
    templates = get_templates(name)
    assert len(templates) == count
    for t in templates:
        assert t.count('{}') == 1
        assert '{' not in t.replace('{}', '')
        assert '}' not in t.replace('{}', '')
        assert '\n' not in t and '\r' not in t
        assert t == t.strip()


@pytest.mark.parametrize('name,count', [('cifar100', 100), ('cifar10', 10),
                                        ('imagenet', 1000)])
def test_classname_counts(name, count):
    names = get_classnames(name)
    assert len(names) == count
    assert all(n and n == n.strip() for n in names)


def test_data_files_are_plain_utf8_lines():
    files = sorted(DATA_DIR.glob('templates/*.txt')) + sorted(
        DATA_DIR.glob('classnames/*.txt'))
    assert {f.stem for f in DATA_DIR.glob('templates/*.txt')} == set(
        available_templates())
    assert {f.stem for f in DATA_DIR.glob('classnames/*.txt')} == set(
        available_classnames())
    for f in files:
        raw = f.read_bytes()
        assert not raw.startswith(b'\xef\xbb\xbf')
        assert b'\r' not in raw
        text = raw.decode('utf-8')
        assert text.endswith('\n') and not text.endswith('\n\n')
        assert all(line.strip() for line in text[:-1].split('\n'))


@pytest.mark.parametrize('name', ['openai', 'imagenet', 'single'])
def test_templates_match_cn_clip_lambdas(name):
    lambdas = _cn_clip_templates()[name]
    templates = get_templates(name)
    assert len(templates) == len(lambdas)
    for fmt, fn in zip(templates, lambdas):
        for c in SAMPLE_NAMES:
            assert fmt.format(c) == fn(c)


def test_single_template():
    assert get_templates('single') == ['{}的图片']


def test_imagenet_templates_are_openai_slice():
    # The ImageNet set equals the period-terminated block of the openai set.
    assert get_templates('imagenet') == get_templates('openai')[90:170]


def test_openai_templates_match_mmpretrain():
    pytest.importorskip('mmpretrain')
    utils = pytest.importorskip(
        'mmpretrain.models.multimodal.chinese_clip.utils')
    lambdas = utils.OPENAI_PROMPT
    templates = get_templates('openai')
    assert len(templates) == len(lambdas)
    for fmt, fn in zip(templates, lambdas):
        for c in SAMPLE_NAMES:
            assert fmt.format(c) == fn(c)


def test_imagenet_classnames_match_cn_clip():
    pytest.importorskip('cn_clip')
    from cn_clip.eval.imagenet_zeroshot_templates import imagenet_classnames
    assert get_classnames('imagenet') == list(imagenet_classnames)


def test_imagenet_classnames_spot_check():
    names = get_classnames('imagenet')
    assert names[:3] == ['丁鲷', '金鱼', '大白鲨']
    assert names[-1] == '卫生纸'
    # The official list keeps ImageNet's sunglass/sunglasses duplicate.
    assert names.count('太阳镜') == 2


def test_cifar100_classnames_match_mmpretrain():
    categories = pytest.importorskip('mmpretrain.datasets.categories')
    names = get_classnames('cifar100')
    assert names == list(categories.CIFAR100_CATEGORIES_CN)
    # The English fine labels there are in official index order.
    assert tuple(categories.CIFAR100_CATEGORIES) == CIFAR100_EN


def test_cifar100_alignment_spot_check():
    names = get_classnames('cifar100')
    assert len(names) == len(CIFAR100_EN) == len(set(names))
    expected = {
        'apple': '苹果', 'aquarium_fish': '水族馆鱼', 'baby': '婴儿',
        'bear': '熊', 'beaver': '河狸', 'bed': '床', 'bee': '蜜蜂',
        'beetle': '甲虫', 'bicycle': '自行车', 'bottle': '瓶子',
        'lawn_mower': '割草机', 'pickup_truck': '皮卡车', 'ray': '鳐鱼',
        'sweet_pepper': '甜椒', 'television': '电视', 'willow_tree': '柳树',
        'worm': '蠕虫'
    }
    for en, cn in expected.items():
        assert names[CIFAR100_EN.index(en)] == cn


def test_cifar10_classnames():
    # airplane, automobile, bird, cat, deer, dog, frog, horse, ship, truck
    assert get_classnames('cifar10') == [
        '飞机', '汽车', '鸟', '猫', '鹿', '狗', '青蛙', '马', '船', '卡车'
    ]


# --------------------------------------------------------------------------
# Lookup API
# --------------------------------------------------------------------------


def test_available_sets():
    assert available_templates() == ['openai', 'imagenet', 'single']
    assert available_classnames() == ['cifar100', 'cifar10', 'imagenet']
    # Fresh lists: mutating them does not affect the module.
    available_templates().append('x')
    assert 'x' not in available_templates()


def test_names_are_case_insensitive():
    assert get_templates('OpenAI') == get_templates('openai')
    assert get_classnames(' CIFAR10 ') == get_classnames('cifar10')


def test_results_are_fresh_copies():
    first = get_templates('openai')
    first.clear()
    assert len(get_templates('openai')) == 183
    names = get_classnames('cifar10')
    names[0] = 'x'
    assert get_classnames('cifar10')[0] == '飞机'


def test_builtin_files_are_cached(monkeypatch):
    get_classnames('cifar100')
    calls = []
    original = prompts._read_lines

    def spy(path):
        calls.append(path)
        return original(path)

    monkeypatch.setattr(prompts, '_read_lines', spy)
    for _ in range(3):
        get_classnames('cifar100')
        get_templates('single')
    # 'single' may be read at most once (if no earlier test loaded it).
    assert all(Path(p).name == 'single.txt' for p in calls)
    assert len(calls) <= 1


def test_list_and_tuple_specs():
    assert get_templates(['{}的照片', '一张{}']) == ['{}的照片', '一张{}']
    assert get_templates(('{}的照片', )) == ['{}的照片']
    assert get_classnames(['猫', '狗']) == ['猫', '狗']
    assert get_classnames(('猫', )) == ['猫']
    # Escaped braces are literal text, not placeholders.
    assert get_templates(['{{x}} {}']) == ['{{x}} {}']


def test_template_file_spec(tmp_path):
    path = tmp_path / 'my_templates.txt'
    path.write_text('{}的照片\n\n  \n一张{}的图片\n', encoding='utf-8')
    assert get_templates(str(path)) == ['{}的照片', '一张{}的图片']
    assert get_templates(path) == ['{}的照片', '一张{}的图片']


def test_template_file_roundtrip(tmp_path):
    path = tmp_path / 'openai.txt'
    path.write_text('\n'.join(get_templates('openai')), encoding='utf-8')
    assert get_templates(path) == get_templates('openai')


def test_label_file_spec(tmp_path):
    # ELEVATER label_cn.txt style, with a BOM, CRLF, blanks and padding.
    path = tmp_path / 'label_cn.txt'
    path.write_bytes('\ufeff 飞机 \r\n汽车\r\n\r\n\t鸟\r\n'.encode('utf-8'))
    assert get_classnames(str(path)) == ['飞机', '汽车', '鸟']
    assert get_classnames(path) == ['飞机', '汽车', '鸟']


def test_user_file_is_reread_after_change(tmp_path):
    path = tmp_path / 'labels.txt'
    path.write_text('猫\n', encoding='utf-8')
    assert get_classnames(path) == ['猫']
    path.write_text('猫\n狗\n', encoding='utf-8')
    assert get_classnames(path) == ['猫', '狗']


def test_extensionless_file_spec(tmp_path, monkeypatch):
    (tmp_path / 'labels').write_text('猫\n狗\n', encoding='utf-8')
    monkeypatch.chdir(tmp_path)
    assert get_classnames('labels') == ['猫', '狗']


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


def test_unknown_set_name():
    with pytest.raises(ValueError, match='openai, imagenet, single'):
        get_templates('nonexistent')
    with pytest.raises(ValueError, match='cifar100, cifar10, imagenet'):
        get_classnames('cifar1000')


def test_missing_file(tmp_path):
    missing = tmp_path / 'nope.txt'
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        get_templates(str(missing))
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        get_classnames(missing)
    with pytest.raises(FileNotFoundError, match='label_cn.txt'):
        get_classnames('label_cn.txt')


@pytest.mark.parametrize('bad', [
    '没有占位符', '{}{}', '{}和{}', '{c}的照片', '{0}的照片', '{:>4}的照片',
    '{!r}的照片', '{}的照片}', '{的照片{}', '{{}}的照片'
])
def test_bad_template(bad):
    with pytest.raises(ValueError, match=re.escape(repr(bad))):
        get_templates([bad])
    with pytest.raises(ValueError, match=re.escape(repr(bad))):
        check_template(bad)


def test_bad_template_in_file(tmp_path):
    path = tmp_path / 't.txt'
    path.write_text('{}的照片\n一张照片\n', encoding='utf-8')
    with pytest.raises(ValueError, match='一张照片'):
        get_templates(path)


def test_single_template_string_hint():
    with pytest.raises(ValueError, match=r'as a list'):
        get_templates('{}的照片')


def test_empty_specs(tmp_path):
    with pytest.raises(ValueError, match='No templates'):
        get_templates([])
    with pytest.raises(ValueError, match='No class names'):
        get_classnames(())
    path = tmp_path / 'empty.txt'
    path.write_text('\n  \n', encoding='utf-8')
    with pytest.raises(ValueError, match='empty.txt'):
        get_classnames(path)
    with pytest.raises(ValueError, match='empty.txt'):
        get_templates(path)


def test_bad_types():
    with pytest.raises(TypeError):
        get_templates(None)
    with pytest.raises(TypeError):
        get_classnames(3)
    with pytest.raises(TypeError):
        get_templates([1])
    with pytest.raises(TypeError):
        get_classnames(['猫', None])
    with pytest.raises(ValueError, match='empty'):
        get_classnames(['猫', '  '])


# --------------------------------------------------------------------------
# build_prompts
# --------------------------------------------------------------------------


def test_build_prompts_class_major_order():
    prompts_ = build_prompts(['猫', '狗'], ['{}的照片', '一张{}的图片'])
    assert prompts_ == ['猫的照片', '一张猫的图片', '狗的照片', '一张狗的图片']


def test_build_prompts_with_set_names():
    names = get_classnames('cifar10')
    templates = get_templates('openai')
    result = build_prompts('cifar10', 'openai')
    assert len(result) == 10 * 183
    for i, name in enumerate(names):
        for j, fmt in enumerate(templates):
            assert result[i * len(templates) + j] == fmt.format(name)
    assert build_prompts('cifar10', 'single')[:2] == ['飞机的图片', '汽车的图片']


def test_build_prompts_matches_cn_clip():
    lambdas = _cn_clip_templates()['imagenet']
    names = get_classnames('imagenet')[:5]
    expected = [fn(c) for c in names for fn in lambdas]
    assert build_prompts(names, 'imagenet') == expected


def test_build_prompts_braces_in_classname():
    assert build_prompts(['a{0}b'], ['{}的照片']) == ['a{0}b的照片']


def test_build_prompts_errors():
    with pytest.raises(ValueError):
        build_prompts([], ['{}'])
    with pytest.raises(ValueError):
        build_prompts(['猫'], ['无占位符'])
