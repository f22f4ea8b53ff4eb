"""Smoke test of tools/benchmark_gallery.py at the smallest settings (no
timing assertions)."""
from helpers.processes import run_tool


def test_search_benchmark_smoke():
    out = run_tool('benchmark_gallery.py', 'search', '--sizes', '2000',
                   '--dim', '32', '--queries', '5', '--exact-queries', '3',
                   '--nprobe', '4', '--ef-search', '16', '--data',
                   'clustered', with_stderr=False)
    rows = [line for line in out.splitlines() if line.startswith('| 2,000')]
    assert [r.split(' | ')[1] for r in rows] == [
        'faiss exact (fp32 flat)', 'IVF44,Flat nprobe=4',
        'HNSW32 efSearch=16']
    assert rows[0].endswith('| 1.000 |')
