"""Indexing: incremental updates, unreadable files, model identity,
SIGKILL then resume, and the search API."""
import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest
from helpers.gallery import (GALLERY, TINY_CFG, child_env, gallery_cli,
                             write_photos)

from mmcnclip.gallery import (GalleryModel, GallerySearch, GalleryStore,
                              ModelMismatchError, VectorIndex, index_folder)


def stored(db):
    """path -> (status, vector bytes) of every row."""
    with sqlite3.connect(db) as conn:
        return {p: (s, v) for p, s, v in conn.execute(
            'SELECT path, status, vector FROM images')}


def run(model, root, db, **kw):
    return index_folder(model, str(root), str(db), batch_size=4, workers=0,
                        progress=False, **kw)


@pytest.fixture(scope='module')
def model(tiny_ckpt):
    return GalleryModel(TINY_CFG, tiny_ckpt)


def test_incremental_add_remove_modify(tmp_path, model):
    root, db = tmp_path / 'photos', tmp_path / 'g.db'
    paths = write_photos(root, 10)
    first = run(model, root, db)
    assert (first['added'], first['encoded'], first['indexed']) == (10, 10,
                                                                    10)
    before = stored(db)
    again = run(model, root, db)
    assert (again['unchanged'], again['encoded']) == (10, 0)
    os.remove(paths[0])
    write_photos(root, 2, seed=5, start=100)
    write_photos(root, 1, seed=9, start=3, size=48)  # rewrites 0003.png
    summary = run(model, root, db)
    assert {k: summary[k] for k in ('added', 'changed', 'removed',
                                    'unchanged', 'encoded', 'indexed')} == \
        dict(added=2, changed=1, removed=1, unchanged=8, encoded=3,
             indexed=11)
    after = stored(db)
    gone, modified = 'd0/0000.png', 'd0/0003.png'
    assert gone not in after and {'d1/0100.png', 'd2/0101.png'} <= set(after)
    for path in set(before) - {gone, modified}:
        assert after[path] == before[path], path  # not re-encoded
    assert after[modified][1] != before[modified][1]
    # the incremental database equals a fresh index of the same folder
    fresh = tmp_path / 'fresh.db'
    run(model, root, fresh)
    expect = stored(fresh)
    assert set(expect) == set(after)
    for path in expect:
        np.testing.assert_allclose(np.frombuffer(after[path][1], np.float32),
                                   np.frombuffer(expect[path][1], np.float32),
                                   atol=1e-6)
    # the saved faiss index holds exactly the rows
    gallery = GallerySearch(str(db))
    hits = gallery.search(image=str(root / 'd1' / '0100.png'), k=11)
    assert hits[0]['path'] == 'd1/0100.png' and len(hits) == 11
    assert hits[0]['score'] == pytest.approx(1, abs=1e-5)


def test_unreadable_files_listed_and_skipped(tmp_path, tiny_ckpt):
    root, db = tmp_path / 'photos', tmp_path / 'g.db'
    write_photos(root, 4)
    (root / 'empty.jpg').write_bytes(b'')
    (root / 'text.png').write_text('not an image')
    good = (root / 'd0' / '0000.png').read_bytes()
    (root / 'cut.png').write_bytes(good[:len(good) // 2])
    out = gallery_cli('index', TINY_CFG, tiny_ckpt, root, '--db', db,
                      '--workers', '1')
    for name in ('empty.jpg', 'text.png', 'cut.png'):
        assert f'unreadable, skipped: {name}: ' in out.stdout
    assert '4 images indexed' in out.stdout and '3 unreadable' in out.stdout
    store = GalleryStore(str(db), readonly=True)
    assert [p for p, _ in store.errors()] == ['cut.png', 'empty.jpg',
                                              'text.png']
    assert store.counts() == dict(ok=4, error=3, pending=0)


def test_model_mismatch_refused(tmp_path, model, tiny_ckpt, other_ckpt):
    root, db = tmp_path / 'photos', tmp_path / 'g.db'
    write_photos(root, 3)
    run(model, root, db)
    other = GalleryModel(TINY_CFG, other_ckpt)
    with pytest.raises(ModelMismatchError, match=r'weights \(checkpoint\)'):
        run(other, root, db)
    with pytest.raises(ModelMismatchError, match='another model'):
        GallerySearch(str(db), checkpoint=other_ckpt)
    out = gallery_cli('search', '--db', db, '--text', '圆形', '--checkpoint',
                      other_ckpt, check=False)
    assert out.returncode != 0
    assert 'was indexed with another model' in out.stderr
    with pytest.raises(ValueError, match='use one database per folder'):
        write_photos(tmp_path / 'other', 1)
        run(model, tmp_path / 'other', db)


def test_sigkill_mid_index_then_resume(tmp_path, tiny_ckpt):
    root = tmp_path / 'photos'
    write_photos(root, 600)
    db, clean = tmp_path / 'killed.db', tmp_path / 'clean.db'
    args = [sys.executable, GALLERY, 'index', TINY_CFG, tiny_ckpt, str(root),
            '--db', str(db), '--batch-size', '2', '--workers', '1']
    proc = subprocess.Popen(args, env=child_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        done = 0
        while done < 20:  # some batches committed, most not
            assert proc.poll() is None, proc.stdout.read().decode()[-3000:]
            assert time.monotonic() < deadline, 'indexing did not start'
            time.sleep(0.05)
            if db.exists():
                try:
                    with sqlite3.connect(f'file:{db}?mode=ro',
                                         uri=True) as conn:
                        done = conn.execute("SELECT COUNT(*) FROM images "
                                            "WHERE status='ok'").fetchone()[0]
                except sqlite3.OperationalError:
                    done = 0  # schema not created yet
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    killed = stored(db)
    assert 0 < sum(s == 'ok' for s, _ in killed.values()) < 600
    resumed = gallery_cli('index', TINY_CFG, tiny_ckpt, root, '--db', db,
                          '--batch-size', '16', '--workers', '0')
    encoded = int(resumed.stdout.split(' encoded')[0].rsplit('; ', 1)[1])
    assert encoded == sum(s == 'pending' for s, _ in killed.values())
    gallery_cli('index', TINY_CFG, tiny_ckpt, root, '--db', clean,
                '--batch-size', '16', '--workers', '0')
    got, want = stored(db), stored(clean)
    assert len(got) == len(want) == 600  # nothing lost, no duplicates
    for path, (status, vector) in want.items():
        assert got[path][0] == status == 'ok'
        np.testing.assert_allclose(np.frombuffer(got[path][1], np.float32),
                                   np.frombuffer(vector, np.float32),
                                   atol=1e-6)
    for path, (_, vector) in killed.items():  # committed rows kept as is
        if vector is not None:
            assert got[path][1] == vector


def test_search_text_image_both_and_fp16(tmp_path, model):
    root, db = tmp_path / 'photos', tmp_path / 'g.db'
    write_photos(root, 6)
    run(model, root, db, fp16=True)
    gallery = GallerySearch(str(db))
    assert gallery.store.vector_dtype == np.float16
    query = str(root / 'd1' / '0004.png')
    by_image = gallery.search(image=query, k=3)
    assert by_image[0]['path'] == 'd1/0004.png'
    by_text = gallery.search(text='红色的圆形', k=6)
    assert sorted(h['score'] for h in by_text)[::-1] == [h['score']
                                                         for h in by_text]
    page2 = gallery.search(text='红色的圆形', k=2, offset=2)
    assert [h['id'] for h in page2] == [h['id'] for h in by_text[2:4]]
    assert page2[0]['rank'] == 3
    t, i = gallery.text_vector('红色的圆形'), gallery.image_vector(query)
    both = gallery.query_vector(text='红色的圆形', image=query,
                                text_weight=0.3)
    expect = 0.3 * t + 0.7 * i
    np.testing.assert_allclose(both, expect / np.linalg.norm(expect),
                               atol=1e-6)
    with open(query, 'rb') as f:
        np.testing.assert_allclose(gallery.image_vector(f.read()), i,
                                   atol=1e-6)
    out = gallery_cli('search', '--db', db, '--image', query, '--json',
                      '--topk', '2')
    import json
    hits = json.loads(out.stdout)
    assert hits[0]['path'] == 'd1/0004.png' and len(hits) == 2


@pytest.mark.parametrize('kind', ['exact', 'ivf', 'hnsw'])
def test_vector_index_kinds(tmp_path, kind):
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((20, 16)).astype(np.float32)
    x = centres[rng.integers(0, 20, 2000)] + 0.1 * rng.standard_normal(
        (2000, 16)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ids = np.arange(2000, dtype=np.int64) * 3 + 7
    index = VectorIndex.build(ids, x, kind)
    assert index.kind == kind and index.size == 2000
    index.save(str(tmp_path / 'v.faiss'))
    index = VectorIndex.load(str(tmp_path / 'v.faiss'), kind)
    scores, found = index.search(x[:50], 10)
    assert (found[:, 0] == ids[:50]).mean() >= 0.95
    assert scores.shape == (50, 10)
    with pytest.raises(ValueError, match='width 16'):
        index.search(np.zeros(8, np.float32), 1)
