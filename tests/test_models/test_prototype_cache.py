"""The prototype cache: its key covers everything that changes a prototype,
entries are checked before use, and no cache problem fails a run."""
import logging
import os
import shutil
import sys

import pytest
import torch

from helpers.processes import REPO, run
from mmcnclip.models.heads import prototype_cache as pc
from mmcnclip.text import ChineseTokenizer
from mmcnclip.text.tokenizer import DEFAULT_VOCAB_FILE
from conftest import PromptCounter
from test_zero_shot_head import CLASSES, tiny_model


def fresh(**kwargs):
    """Prototypes of a head without any cache (same seed: same weights)."""
    kwargs.pop('cache_file', None)
    return tiny_model(**kwargs).head.get_prototypes()


def warnings_of(mm_log):
    return mm_log.messages(logging.WARNING)


def test_context_length_is_part_of_the_key(tmp_path):
    path = str(tmp_path / 'protos.pth')
    long = tiny_model(cache_file=path,
                      context_length=24).head.get_prototypes()
    short = tiny_model(cache_file=path, context_length=6)
    counter = PromptCounter(short)
    got = short.head.get_prototypes()
    assert counter.count > 0, 'stale 24-token prototypes served'
    assert torch.equal(got, fresh(context_length=6))
    assert (got - long).abs().max() > 1e-3


def test_class_names_are_not_joined_ambiguously(tmp_path):
    path = str(tmp_path / 'protos.pth')
    tiny_model(cache_file=path,
               classnames=['红色的', '圆形']).head.get_prototypes()
    head = tiny_model(cache_file=path, classnames=['红色的\x1f圆形']).head
    got = head.get_prototypes()
    assert got.shape[0] == 1
    assert torch.equal(got, fresh(classnames=['红色的\x1f圆形']))


def test_vocabulary_content_is_part_of_the_key(tmp_path):
    lines = DEFAULT_VOCAB_FILE.read_text(encoding='utf-8').splitlines()
    same = tmp_path / 'same.txt'
    shutil.copy(DEFAULT_VOCAB_FILE, same)
    swapped = tmp_path / 'swapped.txt'
    lines[4344], lines[4345] = lines[4345], lines[4344]  # 猫 and its neighbour
    swapped.write_text('\n'.join(lines) + '\n', encoding='utf-8')
    default = pc.tokenizer_fingerprint(ChineseTokenizer())
    assert pc.tokenizer_fingerprint(ChineseTokenizer(same)) == default
    assert pc.tokenizer_fingerprint(ChineseTokenizer(swapped)) != default
    assert pc.tokenizer_fingerprint(ChineseTokenizer(
        context_length=24)) != default


def test_normalisation_and_dtype_are_part_of_the_key():
    request = pc.make_request('w', ['猫'], ['{}'], 't', 'n', torch.float32)
    assert pc.entry_key(request) != pc.entry_key(
        dict(request, normalisation=pc.normalisation_fingerprint(str.upper)))
    assert pc.entry_key(request) != pc.entry_key(
        pc.make_request('w', ['猫'], ['{}'], 't', 'n', torch.float16))


def test_in_place_data_copy_of_the_text_encoder_is_detected():
    """EMA swaps write ``p.data.copy_``: no version counter bump, and the
    text projection is unchanged."""
    model = tiny_model()
    before = model.head.get_prototypes().clone()
    other = tiny_model()
    torch.manual_seed(3)
    for p in other.text_encoder.parameters():
        p.data.normal_()
    for mine, theirs in zip(model.text_encoder.parameters(),
                            other.text_encoder.parameters()):
        mine.data.copy_(theirs.data)
    after = model.head.get_prototypes()
    assert (after - before).abs().max() > 1e-3
    assert torch.equal(after, other.head.get_prototypes())


def test_int8_model_keeps_its_prototypes():
    """int8 layers unpack new weight tensors at every state_dict call: the
    prototypes are still built once (they were rebuilt for every batch,
    making ``tools/test.py --prepare int8`` 10x slower than the tower)."""
    from mmcnclip.models.inference import prepare_for_inference
    from mmcnclip.models.layers.int8_linear import Int8Linear
    from mmcnclip.models.quantization import INT8
    model = prepare_for_inference(tiny_model(), dtype=INT8)
    first = model.head.get_prototypes()
    counter = PromptCounter(model)
    assert model.head.get_prototypes() is first
    assert counter.count == 0
    # the values still count: new int8 weights are new prototypes
    for module in model.text_encoder.modules():
        if isinstance(module, Int8Linear):
            with torch.no_grad():
                module.bias.add_(1)
            break
        if hasattr(module, 'set_weight_bias'):  # PyTorch's dynamic int8
            module.set_weight_bias(module.weight(), module.bias() + 1)
            break
    assert not torch.equal(model.head.get_prototypes(), first)
    assert counter.count > 0


def tamper(path, change):
    data = torch.load(path, weights_only=True)
    (entry, ) = data['entries'].values()
    change(entry)
    torch.save(data, path)


@pytest.mark.parametrize('what, change, reason', [
    ('3 rows for 4 classes',
     lambda e: e.update(prototypes=e['prototypes'][:3]),
     'prototypes of shape (3, 16), expected (4, D)'),
    ('all zero', lambda e: e.update(
        prototypes=torch.zeros_like(e['prototypes']),
        sha1=pc._prototypes_sha1(torch.zeros_like(e['prototypes']))),
     'not unit vectors'),
    ('other values', lambda e: e['prototypes'].mul_(-1),
     'does not match its checksum'),
    ('other request', lambda e: e['request'].update(classnames=['x'] * 4),
     'written for another request'),
])
def test_tampered_entry_is_recomputed(tmp_path, mm_log, what, change, reason):
    path = str(tmp_path / 'protos.pth')
    tiny_model(cache_file=path).head.get_prototypes()
    tamper(path, change)
    mm_log.records.clear()
    head = tiny_model(cache_file=path).head
    assert torch.equal(head.get_prototypes(), fresh())
    (warning, ) = warnings_of(mm_log)
    assert path in warning and reason in warning, warning
    # The entry was replaced by a good one.
    mm_log.records.clear()
    again = tiny_model(cache_file=path)
    counter = PromptCounter(again)
    again.head.get_prototypes()
    assert counter.count == 0 and not warnings_of(mm_log)


class NotTensor:
    pass


def broken_cache(path, kind):
    """Write a cache file with problem ``kind``; return its reason text."""
    if kind == 'truncated':
        tiny_model(cache_file=path).head.get_prototypes()
        data = open(path, 'rb').read()
        open(path, 'wb').write(data[:len(data) // 2])
        return 'truncated or corrupt'
    if kind == 'garbage':
        torch.save({'format': NotTensor()}, path)
        return 'holds Python objects a cache never contains'
    if kind == 'zero bytes':
        open(path, 'wb').close()
        return 'is empty (0 bytes)'
    if kind == 'text':
        open(path, 'w').write('my notes\n')
        return 'not written by torch.save'
    if kind == 'entries not a dict':
        torch.save({'format': pc.CACHE_FORMAT, 'entries': [1, 2]}, path)
        return 'its entries are not a mapping'
    torch.save({'something': 'else'}, path)  # another torch file
    return 'no \'mmcnclip-text-prototypes-v2\' format tag'


@pytest.mark.parametrize('kind', ['truncated', 'garbage', 'zero bytes',
                                  'text', 'entries not a dict', 'foreign'])
def test_unreadable_cache_file_is_a_warning(tmp_path, mm_log, kind):
    path = str(tmp_path / 'protos.pth')
    reason = broken_cache(path, kind)
    before = open(path, 'rb').read()
    mm_log.records.clear()
    head = tiny_model(cache_file=path).head
    assert torch.equal(head.get_prototypes(), fresh())
    (warning, ) = warnings_of(mm_log)
    assert f'Text prototype cache {path} is not used' in warning
    assert reason in warning, warning
    assert 'weights_only' not in warning
    assert open(path, 'rb').read() == before  # never overwritten


def test_unwritable_cache_folder_is_a_warning(tmp_path, mm_log):
    blocker = tmp_path / 'file'
    blocker.write_text('')
    path = str(blocker / 'protos.pth')  # its "folder" is a file
    head = tiny_model(cache_file=path).head
    assert torch.equal(head.get_prototypes(), fresh())
    (warning, ) = warnings_of(mm_log)
    assert 'Text prototypes are not cached' in warning and path in warning


@pytest.mark.skipif(os.geteuid() == 0, reason='root writes anywhere')
def test_read_only_cache_folder_is_a_warning(tmp_path, mm_log):
    folder = tmp_path / 'ro'
    folder.mkdir()
    folder.chmod(0o555)
    path = str(folder / 'protos.pth')
    try:
        assert torch.equal(tiny_model(cache_file=path).head.get_prototypes(),
                           fresh())
    finally:
        folder.chmod(0o755)
    (warning, ) = warnings_of(mm_log)
    assert 'Text prototypes are not cached' in warning and path in warning


CHILD = """
import torch, mmcnclip
from mmengine.logging import MMLogger
MMLogger.get_instance('mmcnclip-child')
from test_zero_shot_head import tiny_model
head = tiny_model(cache_file={path!r}, classnames={classes!r},
                  templates=['{{}}']).head
torch.save(head.get_prototypes(), {out!r})
"""
#: 400 long class names: prototypes of ~26 KB, a cache file of ~90 KB.
MANY = [f'类别{i}' + '很长的名字' * 10 for i in range(400)]


def test_full_disk_is_a_warning_and_keeps_the_cache(tmp_path):
    path = str(tmp_path / 'protos.pth')
    tiny_model(cache_file=path, classnames=CLASSES[:1],
               templates=['{}']).head.get_prototypes()
    before = open(path, 'rb').read()
    out = str(tmp_path / 'protos_out.pth')
    script = CHILD.format(path=path, out=out, classes=MANY)
    tests = os.path.join(REPO, 'tests')
    env = dict(PYTHONDONTWRITEBYTECODE='1', PYTHONPATH=os.pathsep.join(
        [REPO, tests, os.path.join(tests, 'test_models'),
         os.environ.get('PYTHONPATH', '')]))
    # Room for the output file, not for the grown cache file (KiB).
    limit = 48
    proc = run(['bash', '-c', f'ulimit -f {limit}; exec "{sys.executable}" '
                '-c "$0"', script], env=env)
    log = proc.stdout + proc.stderr
    assert 'Text prototypes are not cached: Disk full / could not write ' \
        f'{path}' in log, log[-4000:]
    assert open(path, 'rb').read() == before
    assert torch.equal(torch.load(out, weights_only=True),
                       fresh(classnames=MANY, templates=['{}']))
    assert sorted(os.listdir(tmp_path)) == ['protos.pth', 'protos_out.pth']
