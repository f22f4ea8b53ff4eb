"""tools/benchmark.py runs end to end (smallest settings; no timing checks)."""
import re

from helpers.processes import run_tool


def _benchmark(*args):
    return run_tool('benchmark.py', *args, with_stderr=False)


def _rows(out, names):
    """``{impl: x official}`` of the table rows named in ``names`` (the
    implementation column is 26 characters wide)."""
    found = {}
    for line in out.splitlines():
        if line[:26].strip() in names:
            found[line[:26].strip()] = float(line.split()[-1])
    return found


def test_fp32_image_and_text_towers():
    out = _benchmark('--model', 'RN50', '--batch', '1', '--iters', '1',
                     '--threads', '1', '--text-prompts', '8',
                     '--text-batch', '4')
    diffs = re.findall(r'max \|feature diff\| \S+ vs official: (\S+)', out)
    assert len(diffs) == 2 and all(float(d) < 1e-5 for d in diffs), out
    image = out.split('image tower')[1].split('text tower')[0]
    rows = _rows(image, ['official', 'mmcnclip', 'mmcnclip+prepare'])
    assert set(rows) == {'official', 'mmcnclip', 'mmcnclip+prepare'}, out
    assert rows['official'] == 1.0 and all(v > 0 for v in rows.values())
    text = out.split('text tower')[1]
    assert re.search(r'pad52 vs pad-longest: (\S+)', out)
    assert set(_rows(text, ['official', 'mmcnclip pad52',
                            'mmcnclip pad-longest'])) == {
        'official', 'mmcnclip pad52', 'mmcnclip pad-longest'}, out


def test_bf16_keeps_an_fp32_reference():
    out = _benchmark('--model', 'RN50', '--batch', '1', '--iters', '1',
                     '--threads', '1', '--dtype', 'bf16', '--tower',
                     'image')
    assert 'GEMM peak bf16' in out and ', fp32:' in out
    assert set(_rows(out, ['mmcnclip+prepare', 'mmcnclip+prepare fp32'])) \
        == {'mmcnclip+prepare', 'mmcnclip+prepare fp32'}, out


def test_load_test(tmp_path):
    out = _benchmark('--load-test', '--load-model', 'RN50', '--load-dtype',
                     'fp16', '--tmpdir', str(tmp_path))
    for mode in ('load_pretrained', 'build+load_checkpoint'):
        assert re.search(mode.replace('+', r'\+') +
                         r' +peak RSS rise during load', out), out
    assert not list(tmp_path.iterdir())  # the checkpoint is deleted
