"""The README's gallery commands and the Python snippet of docs/gallery.md,
run as written (in a folder where the shapes quickstart's data and
checkpoint are in place)."""
import json
import os
import os.path as osp
import re
import shlex
import signal
import subprocess
import sys

from helpers.gallery import child_env, wait_for_url
from helpers.processes import REPO, run


def readme_commands() -> list:
    with open(osp.join(REPO, 'README.md'), encoding='utf-8') as f:
        text = f.read()
    section = text.split('## Photo gallery', 1)[1].split('\n## ', 1)[0]
    block = re.search(r'```bash\n(.*?)```', section, re.S).group(1)
    return [shlex.split(line) for line in block.splitlines() if line]


def docs_snippet() -> str:
    with open(osp.join(REPO, 'docs', 'gallery.md'), encoding='utf-8') as f:
        return re.search(r'```python\n(.*?)```', f.read(), re.S).group(1)


def quickstart_folder(tmp_path, root: str, ckpt: str) -> None:
    """``tools``, ``configs``, ``data/shapes`` and the quickstart's
    checkpoint path in ``tmp_path``."""
    for name in ('tools', 'configs'):
        os.symlink(osp.join(REPO, name), tmp_path / name)
    (tmp_path / 'data').mkdir()
    os.symlink(root, tmp_path / 'data' / 'shapes')
    (tmp_path / 'work_dirs' / 'cn-clip_tiny_shapes').mkdir(parents=True)
    os.symlink(ckpt, tmp_path / 'work_dirs' / 'cn-clip_tiny_shapes' /
               'iter_400.pth')


def test_docs_python_snippet(trained_shapes, tmp_path, monkeypatch):
    quickstart_folder(tmp_path, *trained_shapes)
    monkeypatch.chdir(tmp_path)
    scope = {}
    exec(docs_snippet(), scope)
    assert all(h['path'].startswith('000/') for h in scope['hits'])
    assert scope['both'][0]['path'] == '000/100000.png'


def test_readme_gallery_commands(trained_shapes, tmp_path):
    quickstart_folder(tmp_path, *trained_shapes)
    index, search, serve = readme_commands()
    outputs = []
    for cmd in (index, search):
        assert cmd[0] == 'python'
        outputs.append(run([sys.executable, *cmd[1:]], cwd=tmp_path).stdout)
    assert '240 images indexed' in outputs[0]
    hits = json.loads(outputs[1])
    assert all(h['path'].startswith('000/') for h in hits[:5]), hits
    # the same serve command, on a free port instead of 8000
    proc = subprocess.Popen([sys.executable, *serve[1:], '--port', '0'],
                            cwd=tmp_path, env=child_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        assert wait_for_url(proc).startswith('http://127.0.0.1:')
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
