"""Throughput, latency and memory of mmcnclip vs the official cn_clip code.

Builds the official ``cn_clip`` model with seeded random weights, loads its
state dict (official layout) into mmcnclip, and times both (plus Hugging Face
``ChineseCLIPModel`` for ViT sizes, which runs with its own random weights:
its speed does not depend on the values) on the same inputs, interleaved
round by round so that load from other processes hits every candidate alike.
Ratios are computed within the run.

Examples::

    python tools/benchmark.py --model RN50 ViT-B-16 --batch 32
    python tools/benchmark.py --model ViT-B-16 --dtype bf16
    python tools/benchmark.py --load-test --load-dtype fp16
"""
import argparse
import json
import os.path as osp
import statistics
import subprocess
import sys
import tempfile
import time

import torch
import torch.nn.functional as F

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)
from mmcnclip.model_table import (  # noqa: E402
    MODEL_TABLE, base_config_path, official_model_args)

DTYPES = {'fp32': torch.float32, 'bf16': torch.bfloat16,
          'fp16': torch.float16}


# ----------------------------------------------------------------- memory
def _proc_status_kb(field: str) -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise RuntimeError(f'{field} not in /proc/self/status')


def _malloc_trim() -> None:
    """Give freed heap memory back to the OS (glibc), so that an RSS rise
    measures what a block allocates rather than what earlier code freed."""
    try:
        import ctypes
        ctypes.CDLL('libc.so.6').malloc_trim(0)
    except (OSError, AttributeError):
        pass


class PeakMemory:
    """Peak memory of a code block: CUDA allocator peak, or on CPU the rise
    of VmHWM (peak resident set) after resetting it via
    ``/proc/self/clear_refs``; in MiB."""

    def __init__(self, device: str):
        self.device = device
        self.mib = float('nan')

    def __enter__(self):
        if self.device == 'cuda':
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.base = torch.cuda.memory_allocated()
        else:
            _malloc_trim()
            try:
                with open('/proc/self/clear_refs', 'w') as f:
                    f.write('5')  # reset VmHWM to the current RSS
            except OSError:
                pass
            self.base = _proc_status_kb('VmRSS') * 1024
        return self

    def __exit__(self, *exc):
        if self.device == 'cuda':
            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated()
        else:
            peak = _proc_status_kb('VmHWM') * 1024
        self.mib = (peak - self.base) / 2**20


# ----------------------------------------------------------------- models
def official_info(name: str) -> dict:
    """The official json config (vision + text) of ``name``."""
    return official_model_args(name)


def build_official(name: str, seed: int = 0):
    """Official ``cn_clip`` CLIP (fp32, eval) with its seeded random init."""
    from cn_clip.clip.model import CLIP
    torch.manual_seed(seed)
    return CLIP(**official_info(name)).eval()


def build_ours(name: str, official_state: dict):
    """mmcnclip ChineseCLIP loaded from an official-layout state dict."""
    from mmengine.config import Config

    import mmcnclip  # noqa: F401
    from mmcnclip.registry import MODELS
    cfg = Config.fromfile(base_config_path(name))
    model = MODELS.build(cfg.model).eval()
    model.load_state_dict(
        {f'module.{k}': v for k, v in official_state.items()}, strict=True)
    return model


def build_hf(name: str):
    """Hugging Face ChineseCLIPModel of the same architecture (ViT only)."""
    from transformers import ChineseCLIPConfig, ChineseCLIPModel
    info = official_info(name)
    vision = dict(
        hidden_size=info['vision_width'],
        intermediate_size=info['vision_width'] * 4,
        num_hidden_layers=info['vision_layers'],
        num_attention_heads=info['vision_width'] // 64,
        image_size=info['image_resolution'],
        patch_size=info['vision_patch_size'], hidden_act='quick_gelu',
        projection_dim=info['embed_dim'])
    text = dict(
        vocab_size=info['vocab_size'], hidden_size=info['text_hidden_size'],
        num_hidden_layers=info['text_num_hidden_layers'],
        num_attention_heads=info['text_num_attention_heads'],
        intermediate_size=info['text_intermediate_size'])
    cfg = ChineseCLIPConfig(text_config=text, vision_config=vision,
                            projection_dim=info['embed_dim'])
    return ChineseCLIPModel(cfg).eval()


def _official_to(model, device, dtype):
    """Move/cast the official model as cn_clip's own ``convert_weights``
    does: everything in ``dtype`` except the image tower's LayerNorms, which
    compute in fp32 (cn_clip's LayerNorm subclass) and keep fp32 weights;
    the BERT runs entirely in ``dtype``."""
    from cn_clip.clip.model import LayerNorm as OfficialLayerNorm
    model.to(device, dtype)
    for module in model.modules():
        if isinstance(module, OfficialLayerNorm):
            module.float()
    return model


# ----------------------------------------------------------------- timing
def gemm_peak(device: str, dtype: torch.dtype, n: int = None,
              reps: int = 6) -> float:
    """Best achieved GFLOP/s of an ``n``-cubed matrix product in ``dtype``
    (``n`` defaults to 2048 on CPU and 8192 on CUDA, where smaller products
    do not fill the GPU). On CPU the best of PyTorch's BLAS (``a @ b``, MKL
    for fp32) and oneDNN's GEMM, which can be much faster (2x on AVX-512
    AMD CPUs), so that "% of peak" is measured against the faster one."""
    from mmcnclip.models.layers.fused_linear import onednn_linear_available
    n = n or (8192 if device == 'cuda' else 2048)
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    products = [lambda: a @ b]
    if device == 'cpu' and onednn_linear_available():
        products.append(lambda: torch.ops.mkldnn._linear_pointwise(
            a, b, None, 'none', [], ''))
    best = float('inf')
    with torch.inference_mode():
        for product in products:
            for _ in range(reps):
                best = min(best, _timed(product, device))
    return 2 * n**3 / best / 1e9


def _timed(fn, device: str) -> float:
    if device == 'cuda':
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    if device == 'cuda':
        torch.cuda.synchronize()
    return time.perf_counter() - start


def interleaved(candidates: dict, rounds: int, device: str,
                warmup: int = None) -> dict:
    """Time every candidate once per round, round after round, after
    ``warmup`` untimed calls each (default 1 on CPU, 3 on CUDA, where the
    first calls also select kernels).

    Returns:
        dict: ``{name: (median_s, best_s)}`` per call.
    """
    warmup = warmup or (3 if device == 'cuda' else 1)
    times = {k: [] for k in candidates}
    with torch.inference_mode():
        for fn in candidates.values():
            for _ in range(warmup):
                fn()
        for _ in range(rounds):
            for name, fn in candidates.items():
                times[name].append(_timed(fn, device))
    return {k: (statistics.median(v), min(v)) for k, v in times.items()}


def peak_memory(candidates: dict, device: str) -> dict:
    out = {}
    with torch.inference_mode():
        for name, fn in candidates.items():
            with PeakMemory(device) as mem:
                fn()
            out[name] = mem.mib
    return out


def text_gflop(info: dict, lengths) -> float:
    """Forward GFLOP of the BERT tower for token sequences of ``lengths``."""
    d, ff = info['text_hidden_size'], info['text_intermediate_size']
    layers = info['text_num_hidden_layers']
    total = sum(layers * (2 * L * (4 * d * d + 2 * d * ff) + 4 * L * L * d)
                for L in lengths)
    return total / 1e9


# ----------------------------------------------------------------- towers
def image_candidates(name, args, dtype, device):
    from mmcnclip.models.inference import prepare_for_inference
    official = build_official(name)
    state = official.state_dict()
    plain = build_ours(name, state)
    fast = prepare_for_inference(
        build_ours(name, state),
        dtype=None if dtype == torch.float32 else dtype)
    official = _official_to(official, device, dtype)
    cands = {'official': official.encode_image,
             'mmcnclip': plain.to(device, dtype).encode_image,
             'mmcnclip+prepare': fast.to(device).encode_image}
    if dtype != torch.float32:  # the fp32 reference within the same run
        fp32 = prepare_for_inference(build_ours(name, state)).to(device)
        cands['mmcnclip+prepare fp32'] = lambda x: fp32.encode_image(
            x.float())
    if name.startswith('ViT') and not args.no_hf:
        try:
            hf = build_hf(name).to(device, dtype)
        except Exception as e:  # a peer; its absence must not stop the run
            print(f'  [{name}] hf skipped: {type(e).__name__}: {e}')
        else:
            cands['hf'] = lambda x: hf.get_image_features(pixel_values=x)
    # Sanity: the candidates compute the same features (HF excepted).
    size = official.visual.input_resolution
    probe = torch.randn(2, 3, size, size, device=device, dtype=dtype)
    with torch.inference_mode():
        ref = F.normalize(cands['official'](probe).float(), dim=-1)
        for key in ('mmcnclip', 'mmcnclip+prepare'):
            err = (F.normalize(cands[key](probe).float(), dim=-1) -
                   ref).abs().max().item()
            print(f'  [{name}] max |feature diff| {key} vs official: '
                  f'{err:.2e}')
    if args.compile:
        cands['mmcnclip+prepare+compile'] = torch.compile(cands[
            'mmcnclip+prepare'])
    return cands, size, official, plain


def bench_image(name, args, dtype, device, peaks):
    cands, size, official, plain = image_candidates(name, args, dtype,
                                                    device)
    gflop = MODEL_TABLE[name].image_gflops
    x = torch.randn(args.batch, 3, size, size, device=device, dtype=dtype)
    x1 = x[:1].clone()
    mem = peak_memory({k: (lambda f=f: f(x)) for k, f in cands.items()},
                      device)
    thr = interleaved({k: (lambda f=f: f(x)) for k, f in cands.items()},
                      args.iters, device)
    lat = interleaved({k: (lambda f=f: f(x1)) for k, f in cands.items()},
                      args.iters, device)
    peak = peaks[dtype]
    print(f'\n== {name} image tower: batch {args.batch}, {size}px, '
          f'{args.dtype}, {device}, {torch.get_num_threads()} threads, '
          f'{gflop} GFLOP/img, GEMM peak {peak:.0f} GFLOP/s ==')
    _table(thr, lat, mem, args.batch, gflop, peak, 'img')


def _table(thr, lat, mem, batch, gflop, peak, unit):
    base = thr['official'][1]
    print(f'{"impl":26s} {unit + "/s med":>10s} {unit + "/s best":>10s} '
          f'{"lat@1 ms":>9s} {"peak MiB":>9s} {"GFLOP/s":>8s} '
          f'{"%GEMM":>6s} {"x official":>10s}')
    for k, (med, best) in thr.items():
        gfs = gflop * batch / best
        latency = f'{lat[k][1] * 1e3:9.1f}' if lat else f'{"-":>9s}'
        print(f'{k:26s} {batch / med:10.2f} {batch / best:10.2f} '
              f'{latency} {mem[k]:9.0f} {gfs:8.1f} '
              f'{100 * gfs / peak:6.1f} {base / best:10.2f}')


def bench_text(name, args, dtype, device, peaks):
    from mmcnclip.models.inference import prepare_for_inference
    from mmcnclip.text import (ChineseTokenizer, build_prompts,
                               get_classnames, get_templates)
    official = build_official(name)
    ours = prepare_for_inference(
        build_ours(name, official.state_dict()),
        dtype=None if dtype == torch.float32 else dtype).to(device)
    official = _official_to(official, device, dtype)
    prompts = build_prompts(get_classnames('cifar100'),
                            get_templates('openai'))
    step = max(1, len(prompts) // args.text_prompts)
    prompts = prompts[::step][:args.text_prompts]
    tok = ChineseTokenizer()
    bs = args.text_batch
    batches = [prompts[i:i + bs] for i in range(0, len(prompts), bs)]
    by_len = sorted(prompts, key=lambda p: len(tok.tokenize_to_ids(p)))
    sorted_batches = [by_len[i:i + bs] for i in range(0, len(by_len), bs)]
    ids52 = [tok(b).to(device) for b in batches]
    longest = [tok(b, pad_to_longest=True).to(device) for b in batches]
    sorted_ids = [tok(b, pad_to_longest=True).to(device)
                  for b in sorted_batches]

    def run(fn, id_batches):
        return lambda: [fn(ids) for ids in id_batches]

    cands = {
        'official': run(official.encode_text, ids52),
        'mmcnclip pad52': run(ours.encode_text, ids52),
        'mmcnclip pad-longest': run(ours.encode_text, longest),
        'mmcnclip sorted+longest': run(ours.encode_text, sorted_ids),
    }
    with torch.inference_mode():  # padding never changes the features
        a = F.normalize(torch.cat(cands['mmcnclip pad52']()).float(), dim=-1)
        b = F.normalize(torch.cat(cands['mmcnclip pad-longest']()).float(),
                        dim=-1)
    print(f'  [{name}] max |text feature diff| pad52 vs pad-longest: '
          f'{(a - b).abs().max().item():.2e}')
    mem = peak_memory(cands, device)
    thr = interleaved(cands, max(2, args.iters // 2), device)
    info = official_info(name)
    gflop = text_gflop(info, [52] * len(prompts)) / len(prompts)
    n = len(prompts)
    print(f'\n== {name} text tower: {n} CIFAR-100 x openai prompts, batch '
          f'{bs}, {args.dtype}, {device}; GFLOP/prompt at 52 tokens '
          f'{gflop:.2f} (GFLOP/s column counts 52-token work) ==')
    _table(thr, None, mem, n, gflop, peaks[dtype],
           'txt')


# ------------------------------------------------------------- load test
def load_test(args) -> None:
    """Write a random official-format checkpoint, load it in a fresh
    process and report peak RSS / fp32 weight bytes and load time."""
    name = args.load_model
    with tempfile.TemporaryDirectory(dir=args.tmpdir) as tmp:
        path = osp.join(tmp, 'official.pt')
        official = build_official(name)
        half = args.load_dtype == 'fp16'
        state = {f'module.{k}': (v.half() if half and v.is_floating_point()
                                 else v)
                 for k, v in official.state_dict().items()}
        nbytes = sum(v.numel() * 4 for v in official.state_dict().values()
                     if v.is_floating_point())
        torch.save({'state_dict': state}, path)
        del official, state
        cfg = base_config_path(name)
        results = {mode: _load_in_subprocess(mode, cfg, path)
                   for mode in ('load_pretrained', 'build+load_checkpoint')}
    print(f'\n== load test {name}: {args.load_dtype} official checkpoint, '
          f'fp32 weights {nbytes / 2**30:.2f} GiB ==')
    for mode, res in results.items():
        rise = res['hwm'] - res['rss0']
        print(f'{mode:22s} peak RSS rise during load {rise / 2**30:.2f} GiB '
              f'= {rise / nbytes:.2f}x weights (process peak '
              f'{res["hwm"] / 2**30:.2f} GiB), load time '
              f'{res["seconds"]:.1f} s')


def _load_in_subprocess(mode: str, cfg: str, path: str) -> dict:
    load = ('m = load_pretrained(cfg, %r)' % path
            if mode == 'load_pretrained' else
            'm = MODELS.build(cfg); load_checkpoint(m, %r, strict=True)' %
            path)
    code = (
        'import sys, time, json; sys.path.insert(0, %r)\n'
        'from tools.benchmark import _proc_status_kb\n'
        'from mmengine.config import Config\n'
        'from mmengine.runner import load_checkpoint\n'
        'from mmcnclip.checkpoint import load_pretrained\n'
        'from mmcnclip.registry import MODELS\n'
        'cfg = Config.fromfile(%r).model\n'
        'rss0 = _proc_status_kb("VmRSS") * 1024\n'
        't = time.perf_counter()\n'
        '%s\n'
        'dt = time.perf_counter() - t\n'
        'print(json.dumps(dict(rss0=rss0, hwm=_proc_status_kb("VmHWM")'
        ' * 1024, seconds=dt)))\n') % (REPO, cfg, load)
    out = subprocess.run([sys.executable, '-c', code], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--model', nargs='+', default=['RN50', 'ViT-B-16'],
                        choices=list(MODEL_TABLE))
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--iters', type=int, default=5,
                        help='timed rounds per candidate')
    parser.add_argument('--dtype', default='fp32', choices=list(DTYPES))
    parser.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument('--compile', action='store_true',
                        help='also time torch.compile of the prepared model')
    parser.add_argument('--tower', nargs='+', default=['image', 'text'],
                        choices=['image', 'text'])
    parser.add_argument('--text-prompts', type=int, default=512)
    parser.add_argument('--text-batch', type=int, default=64)
    parser.add_argument('--no-hf', action='store_true')
    parser.add_argument('--load-test', action='store_true',
                        help='only run the checkpoint loading test')
    parser.add_argument('--load-model', default='ViT-H-14',
                        choices=list(MODEL_TABLE))
    parser.add_argument('--load-dtype', default='fp16',
                        choices=['fp16', 'fp32'])
    parser.add_argument('--tmpdir', default=None,
                        help='where the load test writes its checkpoint')
    return parser.parse_args()


def main():
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.load_test:
        return load_test(args)
    device, dtype = args.device, DTYPES[args.dtype]
    peaks = {dtype: gemm_peak(device, dtype)}
    if device == 'cuda':
        print(f'GPU: {torch.cuda.get_device_name()}')
    print(f'torch {torch.__version__}, CPU capability '
          f'{torch.backends.cpu.get_cpu_capability()}, threads '
          f'{torch.get_num_threads()}; GEMM peak {args.dtype}: '
          f'{peaks[dtype]:.0f} GFLOP/s' +
          ('' if dtype == torch.float32 else
           f', fp32: {gemm_peak(device, torch.float32):.0f} GFLOP/s'))
    for name in args.model:
        if 'image' in args.tower:
            bench_image(name, args, dtype, device, peaks)
        if 'text' in args.tower:
            bench_text(name, args, dtype, device, peaks)


if __name__ == '__main__':
    main()
