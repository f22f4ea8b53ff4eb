r"""The main job end to end on an embedded default, offline, on CPU.

Generates the "shapes" data (coloured circles, squares and triangles with
Chinese captions), trains the tiny Chinese CLIP of
``configs/shapes/cn-clip_tiny_shapes.py`` from scratch with
``tools/train.py``, then evaluates it with ``tools/test.py``: zero-shot
classification of the held-out shapes (12 classes) and image-text
retrieval. Prints a table and where the checkpoint, logs and pictures went.

Examples:
    python demo/quickstart.py                       # 400 iterations on CPU
    python demo/quickstart.py --train 64 --test 12 --iters 4 --batch-size 16
                                                    # a smoke run
"""
import argparse
import os
import os.path as osp
import re
import subprocess
import sys
from typing import Dict, List

from tqdm import tqdm

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TRAIN_CFG = osp.join(REPO, 'configs', 'shapes', 'cn-clip_tiny_shapes.py')
ZS_CFG = osp.join(REPO, 'configs', 'shapes', 'cn-clip_tiny_shapes_zeroshot.py')
NUM_CLASSES = 12
ITER_RE = re.compile(r'Iter\(train\)\s*\[\s*(\d+)/(\d+)\]')


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (list[str], optional): Arguments; ``sys.argv[1:]`` when None.
            Defaults to None.

    Returns:
        argparse.Namespace: The arguments.
    """
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/quickstart',
                        help='folder for data, checkpoint, logs, pictures '
                        '(default work_dirs/quickstart)')
    parser.add_argument('--train', type=int, default=3000,
                        help='training image-caption pairs (default 3000)')
    parser.add_argument('--test', type=int, default=240,
                        help='held-out images, >= 12 (default 240)')
    parser.add_argument('--iters', type=int, default=400,
                        help='training iterations of batch 64 (default 400)')
    parser.add_argument('--batch-size', type=int, default=64,
                        help='training batch size (default 64)')
    parser.add_argument('--threads', type=int, default=os.cpu_count() or 1,
                        help='CPU threads of the tools (default: all)')
    args = parser.parse_args(argv)
    if args.iters < 2:
        parser.error('--iters must be >= 2')
    if not 1 <= args.batch_size <= args.train:
        parser.error('--batch-size must be between 1 and --train')
    return args


def tool_env(threads: int) -> dict:
    """Environment of the tools: this repository importable, thread count."""
    return dict(os.environ, OMP_NUM_THREADS=str(threads),
                PYTHONPATH=os.pathsep.join(
                    p for p in (REPO, os.environ.get('PYTHONPATH')) if p))


def run_tool(name: str, args: List[str], log_file: str, env: dict,
             total_iters: int = 0) -> str:
    """Run ``tools/<name>``, writing its output to ``log_file``.

    Args:
        name (str): Tool path under ``tools/``.
        args (list[str]): Its arguments.
        log_file (str): Where its stdout and stderr go.
        env (dict): Its environment.
        total_iters (int): When > 0, show a progress bar driven by the
            ``Iter(train) [i/n]`` log lines. Defaults to 0.

    Returns:
        str: Its whole output.

    Raises:
        SystemExit: The tool failed (the end of its output is printed).
    """
    cmd = [sys.executable, osp.join(REPO, 'tools', name), *args]
    bar = tqdm(total=total_iters, desc='training', unit='iter') \
        if total_iters else None
    lines = []
    with open(log_file, 'w', encoding='utf-8') as log, subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            encoding='utf-8', errors='replace', cwd=REPO, env=env) as proc:
        for line in proc.stdout:
            log.write(line)
            lines.append(line)
            found = ITER_RE.search(line)
            if bar is not None and found:
                bar.update(int(found.group(1)) - bar.n)
    if bar is not None:
        bar.close()
    output = ''.join(lines)
    if proc.returncode != 0:
        sys.stderr.write(output[-4000:])
        raise SystemExit(f'tools/{name} failed (exit {proc.returncode}); '
                         f'full output in {log_file}')
    return output


def metric(output: str, key: str) -> float:
    """The last value logged for ``key`` (e.g. ``accuracy/top1``)."""
    found = re.findall(re.escape(key) + r':\s*([0-9.]+)', output)
    if not found:
        raise SystemExit(f'{key} not found in the output of tools/test.py')
    return float(found[-1])


def schedule_options(iters: int, batch_size: int) -> List[str]:
    """``--cfg-options`` that fit the tiny config's schedule to ``iters``
    of ``batch_size``."""
    warmup = min(40, iters // 2)
    return [f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters}',
            f'train_dataloader.batch_size={batch_size}',
            f'default_hooks.checkpoint.interval={iters}',
            f'param_scheduler.0.end={warmup}',
            f'param_scheduler.1.begin={warmup}',
            f'param_scheduler.1.end={iters}',
            f'default_hooks.logger.interval={max(1, min(10, iters // 10))}']


def quickstart(args: argparse.Namespace) -> Dict[str, float]:
    """Generate, train, evaluate; returns the measured metrics."""
    work = osp.abspath(args.work_dir)
    data = osp.join(work, 'data')
    logs = osp.join(work, 'logs')
    os.makedirs(logs, exist_ok=True)
    env = tool_env(args.threads)
    print(f'1/4 generating {args.train} training pairs and {args.test} '
          f'held-out images in {data}')
    run_tool(osp.join('data', 'make_shapes_dataset.py'),
             [data, '--train', str(args.train), '--test', str(args.test),
              '--seed', '0'], osp.join(logs, 'data.log'), env)

    print(f'2/4 training the tiny model from scratch ({args.iters} '
          f'iterations of batch {args.batch_size} on CPU)')
    train_dir = osp.join(work, 'train')
    data_opts = [f'{split}_dataloader.dataset.data_root={data}'
                 for split in ('train', 'val', 'test')]
    run_tool('train.py', [TRAIN_CFG, '--work-dir', train_dir,
                          '--cfg-options', *data_opts,
                          *schedule_options(args.iters, args.batch_size)],
             osp.join(logs, 'train.log'), env, total_iters=args.iters)
    ckpt = osp.join(train_dir, f'iter_{args.iters}.pth')

    print('3/4 zero-shot classification of the held-out shapes '
          '(tools/test.py --show-dir)')
    pictures = osp.join(work, 'pictures')
    zs = run_tool('test.py', [
        ZS_CFG, ckpt, '--work-dir', osp.join(work, 'zero_shot'),
        '--show-dir', osp.join(pictures, 'zero_shot'), '--interval',
        str(max(1, args.test // 12)), '--cfg-options',
        f'test_dataloader.dataset.data_root={osp.join(data, "zeroshot")}'
    ], osp.join(logs, 'zero_shot.log'), env)

    print('4/4 image-text retrieval on the held-out images (tools/test.py)')
    ret = run_tool('test.py', [
        TRAIN_CFG, ckpt, '--work-dir', osp.join(work, 'retrieval'),
        '--cfg-options', *data_opts
    ], osp.join(logs, 'retrieval.log'), env)

    results = {'top1': metric(zs, 'accuracy/top1')}
    for direction in ('t2i', 'i2t'):
        for k in (1, 5, 10):
            results[f'{direction}_R@{k}'] = metric(
                ret, f'retrieval/{direction}_R@{k}')
    print_report(results, work, ckpt, logs, pictures)
    return results


def print_report(results: Dict[str, float], work: str, ckpt: str, logs: str,
                 pictures: str) -> None:
    """Print the result table and where everything went."""
    chance = 100 / NUM_CLASSES
    print('\n| task | metric | value | chance |')
    print('| --- | --- | --- | --- |')
    print(f'| zero-shot, {NUM_CLASSES} classes | top-1 | '
          f'{results["top1"]:.1f} | {chance:.1f} |')
    for direction, name in (('t2i', 'text -> image'),
                            ('i2t', 'image -> text')):
        for k in (1, 5, 10):
            print(f'| retrieval {name} | R@{k} | '
                  f'{results[f"{direction}_R@{k}"]:.1f} | |')
    print(f'\ncheckpoint: {ckpt}\nlogs:       {logs} (and the runs under '
          f'{work}/train, zero_shot, retrieval)\npictures:   {pictures}')


def main(argv=None) -> Dict[str, float]:
    """Entry point; returns the measured metrics."""
    return quickstart(parse_args(argv))


if __name__ == '__main__':
    main()
