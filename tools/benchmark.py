"""Throughput, latency and memory of mmcnclip vs the official cn_clip code.

Builds the official ``cn_clip`` model with seeded random weights, loads its
state dict (official layout) into mmcnclip, and times both (plus Hugging Face
``ChineseCLIPModel`` for ViT sizes, which runs with its own random weights:
its speed does not depend on the values) on the same inputs, interleaved
round by round so that load from other processes hits every candidate alike.
Ratios are computed within the run. The measurements live in
:mod:`mmcnclip.benchmarking`; this tool parses arguments and prints.

Examples::

    python tools/benchmark.py --model RN50 ViT-B-16 --batch 32
    python tools/benchmark.py --model ViT-B-16 --dtype bf16
    python tools/benchmark.py --model RN50 ViT-B-16 --int8 --tower image
    python tools/benchmark.py --e2e --model RN50 --e2e-images 200
    python tools/benchmark.py --load-test --load-dtype fp16
    python tools/benchmark.py --model RN50 --tower image --contention 1
    python tools/benchmark.py --model RN50 --profile --int8 --batch 8
    python tools/benchmark.py --model ViT-B-16 --int8-kernels
"""
import argparse

import torch

from mmcnclip.benchmarking import format_table, gemm_peak
from mmcnclip.benchmarking.contention import cpu_burners
from mmcnclip.benchmarking.models import DTYPES, model_names

COLUMNS = [('impl', 'impl', '<26'), ('med', '{unit}/s med', '10.2f'),
           ('best', '{unit}/s best', '10.2f'), ('lat_ms', 'lat@1 ms', '9.1f'),
           ('peak_mib', 'peak MiB', '9.0f'), ('gflops', 'GFLOP/s', '8.1f'),
           ('pct_peak', '%GEMM', '6.1f'), ('x_official', 'x official',
                                            '10.2f')]


def print_table(rows, unit):
    print(format_table(rows, [(k, h.format(unit=unit), f)
                              for k, h, f in COLUMNS]))


def print_routes(routes):
    print('linear kernel routes of the prepared model (layer family: route, '
          'why):')
    for family, (route, reason, count) in routes.items():
        print(f'  {family} x{count}: {route} ({reason})')


def run_image(name, args, dtype, peak):
    from mmcnclip.benchmarking.towers import bench_image
    res = bench_image(name, args.batch, args.iters, peak, dtype,
                      args.device, hf=not args.no_hf, compile=args.compile,
                      int8=args.int8)
    for note in res['notes']:
        print(f'  [{name}] {note}')
    for key, err in res['diffs'].items():
        print(f'  [{name}] max |feature diff| {key} vs official: {err:.2e}')
    if 'int8_cosine' in res:
        print(f'  [{name}] int8 vs prepared fp32: min normalised-feature '
              f'cosine {res["int8_cosine"]:.4f}')
    print(f'\n== {name} image tower: batch {args.batch}, {res["size"]}px, '
          f'{args.dtype}, {args.device}, {torch.get_num_threads()} threads, '
          f'{res["gflop"]} GFLOP/img, GEMM peak {peak:.0f} GFLOP/s ==')
    print_routes(res['routes'])
    print_table(res['rows'], 'img')


def run_profile(name, args, dtype):
    from mmcnclip.benchmarking.profile import op_shares
    from mmcnclip.benchmarking.towers import image_candidates
    res = image_candidates(name, dtype, args.device, hf=False,
                           int8=args.int8)
    x = torch.randn(args.batch, 3, res['size'], res['size'],
                    device=args.device, dtype=dtype)
    shares = {impl: op_shares(fn, x) for impl, fn in
              res['candidates'].items()}
    families = sorted({f for s in shares.values() for f in s},
                      key=lambda f: -max(s.get(f, 0) for s in
                                         shares.values()))
    print(f'\n== {name} image tower: share of self CPU time per operator '
          f'family (%), batch {args.batch}, {args.dtype} ==')
    rows = [dict(impl=impl, **{f: 100 * s.get(f, 0) for f in families})
            for impl, s in shares.items()]
    print(format_table(rows, [('impl', 'impl', '<26')] +
                       [(f, f, f'{max(len(f), 6)}.1f') for f in families]))


def run_int8_kernels(name, args):
    from mmcnclip.benchmarking.int8_kernels import int8_kernel_rows
    from mmcnclip.benchmarking.models import build_official
    from mmcnclip.benchmarking.towers import prepared
    model = prepared(name, build_official(name).state_dict(), torch.float32,
                     'cpu')
    rows = int8_kernel_rows(model, rounds=args.iters)
    total = dict(family='all (layer-weighted)',
                 count=sum(r['count'] for r in rows))
    for kernel in ('fp32', 'onednn', 'fbgemm'):
        total[f'{kernel}_ms'] = sum(r['count'] * r[f'{kernel}_ms']
                                    for r in rows)
    rows.append(total)
    for row in rows:
        row['ratio'] = row['fbgemm_ms'] / row['onednn_ms']
    print(f'\n== {name}: int8 linear kernels per layer family (both towers), '
          'best ms at 1024 rows; errors relative to the fp32 layer ==')
    print(format_table(rows, [
        ('family', 'family', '<26'), ('count', 'layers', '6d'),
        ('fp32_ms', 'fp32 ms', '8.2f'), ('onednn_ms', 'oneDNN ms', '9.2f'),
        ('fbgemm_ms', 'fbgemm ms', '9.2f'),
        ('ratio', 'fbgemm/oneDNN', '13.2f'),
        ('onednn_err', 'oneDNN err', '10.4f'),
        ('fbgemm_err', 'fbgemm err', '10.4f')]))


def run_text(name, args, dtype, peak):
    from mmcnclip.benchmarking.towers import bench_text
    res = bench_text(name, args.text_prompts, args.text_batch,
                     max(2, args.iters // 2), peak, dtype, args.device)
    print(f'  [{name}] max |text feature diff| pad52 vs pad-longest: '
          f'{res["pad_diff"]:.2e}')
    print(f'\n== {name} text tower: {res["count"]} CIFAR-100 x openai '
          f'prompts, batch {args.text_batch}, {args.dtype}, {args.device}; '
          f'GFLOP/prompt at 52 tokens {res["gflop"]:.2f} (GFLOP/s column '
          f'counts 52-token work) ==')
    print_routes(res['routes'])
    print_table(res['rows'], 'txt')


def run_load_test(args):
    from mmcnclip.benchmarking.load import LOAD_MODES, load_test
    res = load_test(args.load_model, args.load_dtype == 'fp16', args.tmpdir)
    nbytes = res['weights_bytes']
    print(f'\n== load test {args.load_model}: {args.load_dtype} official '
          f'checkpoint, fp32 weights {nbytes / 2**30:.2f} GiB ==')
    for mode in LOAD_MODES:
        r = res[mode]
        rise = r['hwm'] - r['rss0']
        print(f'{mode:22s} peak RSS rise during load {rise / 2**30:.2f} GiB '
              f'= {rise / nbytes:.2f}x weights (process peak '
              f'{r["hwm"] / 2**30:.2f} GiB), load time '
              f'{r["seconds"]:.1f} s')


def run_e2e(name, args):
    from mmcnclip.benchmarking.e2e import bench_e2e
    res = bench_e2e(name, images=args.e2e_images, batch=args.batch,
                    workers=args.workers, rounds=args.iters,
                    size=tuple(args.e2e_size), classes=args.e2e_classes,
                    formats=args.e2e_formats, workdir=args.tmpdir,
                    official=not args.no_official, int8=args.int8)
    print(f'\n== {name} end to end: {res["images"]} JPEGs '
          f'{args.e2e_size[0]}x{args.e2e_size[1]}, {res["classes"]} classes '
          f'x {res["templates"]} templates, batch {args.batch}, '
          f'{args.workers} DataLoader workers, {torch.get_num_threads()} '
          'threads ==')
    print_routes(res['routes'])
    print(format_table(res['rows'], [
        ('impl', 'run', '<34'), ('best', 'img/s best', '10.2f'),
        ('whole', 'img/s whole', '11.2f'), ('pct_tower', '% tower', '8.1f'),
        ('x_official', 'x official', '10.2f'), ('top1', 'top1', '7.2f'),
        ('agree', 'agree fp32', '10.3f')]))
    print('\none-off costs (s):')
    for key, seconds in res['one_off'].items():
        print(f'  {key:44s} {seconds:8.2f}')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--model', nargs='+', default=['RN50', 'ViT-B-16'],
                        choices=model_names())
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--iters', type=int, default=5,
                        help='timed rounds per candidate')
    parser.add_argument('--dtype', default='fp32', choices=list(DTYPES))
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument('--compile', action='store_true',
                        help='also time torch.compile of the prepared model')
    parser.add_argument('--int8', action='store_true',
                        help='also time the int8 prepared model (CPU) and '
                        'its agreement with fp32')
    parser.add_argument('--tower', nargs='+', default=['image', 'text'],
                        choices=['image', 'text'])
    parser.add_argument('--text-prompts', type=int, default=512)
    parser.add_argument('--text-batch', type=int, default=64)
    parser.add_argument('--no-hf', action='store_true')
    parser.add_argument('--e2e', action='store_true',
                        help='time the whole zero-shot job (tools/test.py '
                        'path and the official zeroshot_evaluation.py) on '
                        'generated JPEG datasets instead of the towers')
    parser.add_argument('--e2e-images', type=int, default=256)
    parser.add_argument('--e2e-classes', type=int, default=100)
    parser.add_argument('--e2e-size', type=int, nargs=2, default=[500, 375],
                        metavar=('W', 'H'))
    parser.add_argument('--e2e-formats', nargs='+',
                        default=['cifar', 'folder'],
                        choices=['cifar', 'folder'])
    parser.add_argument('--workers', type=int, default=2,
                        help='DataLoader workers of the end-to-end runs')
    parser.add_argument('--no-official', action='store_true',
                        help='skip the official script in --e2e')
    parser.add_argument('--load-test', action='store_true',
                        help='only run the checkpoint loading test')
    parser.add_argument('--load-model', default='ViT-H-14',
                        choices=model_names())
    parser.add_argument('--load-dtype', default='fp16',
                        choices=['fp16', 'fp32'])
    parser.add_argument('--profile', action='store_true',
                        help='instead of timing, print where each image '
                        'tower spends its time (operator families)')
    parser.add_argument('--int8-kernels', action='store_true',
                        help='instead of timing towers, time oneDNN\'s int8 '
                        'linear (what --prepare int8 uses) against fbgemm\'s '
                        'for each linear layer family of the models')
    parser.add_argument('--contention', type=int, default=0, metavar='N',
                        help='run N busy-looping processes during the '
                        'whole benchmark (the GEMM peak included)')
    parser.add_argument('--tmpdir', default=None,
                        help='where the load test and --e2e write files')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    with cpu_burners(args.contention) as pids:
        if pids:
            print(f'contention: {len(pids)} CPU-bound processes running '
                  f'(pids {", ".join(map(str, pids))})')
        run(args)


def run(args):
    """The benchmark mode ``args`` asks for."""
    if args.load_test:
        return run_load_test(args)
    if args.e2e:
        for name in args.model:
            run_e2e(name, args)
        return
    device, dtype = args.device, DTYPES[args.dtype]
    # preparing a CPU model changes malloc process-wide: do it before any
    # candidate runs, so that all of them (the official model too) share it
    from mmcnclip.utils.malloc import ENV, keep_freed_buffers
    if device == 'cpu':
        print('malloc: ' + ('large freed buffers kept, for every candidate'
                            if keep_freed_buffers() else
                            f'glibc defaults ({ENV}=0 or not glibc)'))
    peaks = gemm_peak(device, dtype, per_route=True)
    peak = max(peaks.values())
    if device == 'cuda':
        print(f'GPU: {torch.cuda.get_device_name()}')
    from mmcnclip.models.layers.kernel_routes import cpu_name, isa_limits
    from mmcnclip.models.layers.mkl_code_path import mkl_code_path
    caps = f' (capped: {isa_limits()})' if isa_limits() else ''
    mkl = f', MKL path: {mkl_code_path()}' if mkl_code_path() else ''
    print(f'torch {torch.__version__}, CPU {cpu_name()}, capability '
          f'{torch.backends.cpu.get_cpu_capability()}{caps}{mkl}, threads '
          f'{torch.get_num_threads()}; GEMM peak {args.dtype}: {peak:.0f} '
          'GFLOP/s (' + ', '.join(f'{k} {v:.0f}' for k, v in peaks.items())
          + ')' + ('' if dtype == torch.float32 else
                   f', fp32: {gemm_peak(device, torch.float32):.0f} GFLOP/s'))
    if args.profile:
        for name in args.model:
            run_profile(name, args, DTYPES[args.dtype])
        return
    if args.int8_kernels:
        for name in args.model:
            run_int8_kernels(name, args)
        return
    for name in args.model:
        if 'image' in args.tower:
            run_image(name, args, dtype, peak)
        if 'text' in args.tower:
            run_text(name, args, dtype, peak)


if __name__ == '__main__':
    main()
