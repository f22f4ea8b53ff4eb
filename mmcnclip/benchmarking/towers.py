"""Image and text tower benchmarks: official vs mmcnclip, same weights."""
import torch
import torch.nn.functional as F

from .memory import peak_memory
from .models import (build_hf, build_official, build_ours, image_gflops,
                     official_info, official_to, text_gflop)
from .timing import interleaved


def prepared(name, state, dtype, device, linear_route='auto'):
    """mmcnclip model ``name`` with the official ``state``, prepared for
    inference in ``dtype`` on ``device``."""
    from mmcnclip.models.inference import prepare_for_inference
    model = build_ours(name, state, inference_precision=None)
    return prepare_for_inference(
        model.to(device), dtype=None if dtype == torch.float32 else dtype,
        linear_route=linear_route)


def image_candidates(name: str, dtype: torch.dtype, device: str,
                     hf: bool = True, compile: bool = False,
                     int8: bool = False) -> dict:
    """The image encoders to compare, with the official one first.

    Returns:
        dict: ``candidates`` (``{impl: encode_image}``), ``size`` (input
        side), ``routes`` (linear kernel routes of the prepared model),
        ``diffs`` (max normalised-feature difference vs official) and
        ``notes`` (skipped peers).
    """
    from mmcnclip.models.layers.fused_linear import linear_routes
    from mmcnclip.models.quantization import INT8
    official = build_official(name)
    state = official.state_dict()
    plain = build_ours(name, state, inference_precision=None)
    fast = prepared(name, state, dtype, device)
    official = official_to(official, device, dtype)
    cands = {'official': official.encode_image,
             'mmcnclip': plain.to(device, dtype).encode_image,
             'mmcnclip+prepare': fast.encode_image}
    notes = []
    if dtype != torch.float32 or int8:  # the fp32 reference in the same run
        fp32 = prepared(name, state, torch.float32, device)
        cands['mmcnclip+prepare fp32'] = lambda x: fp32.encode_image(
            x.float())
    if int8:
        from mmcnclip.models.inference import prepare_for_inference
        side = official_info(name)['image_resolution']
        calibration = torch.randn(  # ResNet convolutions: static int8
            8, 3, side, side, generator=torch.Generator().manual_seed(1))
        q = prepare_for_inference(build_ours(name, state,
                                             inference_precision=None),
                                  dtype=INT8, calibration=calibration)
        cands['mmcnclip+prepare int8'] = lambda x: q.encode_image(x.float())
    if name.startswith('ViT') and hf:
        try:
            model = build_hf(name).to(device, dtype)
        except Exception as e:  # a peer; its absence must not stop the run
            notes.append(f'hf skipped: {type(e).__name__}: {e}')
        else:
            cands['hf'] = lambda x: model.get_image_features(pixel_values=x)
    size = official.visual.input_resolution
    probe = torch.randn(2, 3, size, size, device=device, dtype=dtype)
    diffs = {}
    with torch.inference_mode():
        ref = F.normalize(cands['official'](probe).float(), dim=-1)
        for key in ('mmcnclip', 'mmcnclip+prepare'):
            diffs[key] = (F.normalize(cands[key](probe).float(), dim=-1) -
                          ref).abs().max().item()
    if compile:
        cands['mmcnclip+prepare+compile'] = torch.compile(
            cands['mmcnclip+prepare'])
    return dict(candidates=cands, size=size, routes=linear_routes(fast),
                diffs=diffs, notes=notes)


def rows_of(thr: dict, lat: dict, mem: dict, count: int, gflop: float,
            peak: float) -> list:
    """Table rows: per candidate throughput (``count`` items per call),
    latency, peak memory, GFLOP/s, % of the GEMM peak and the ratio of the
    best time to the official one's (first candidate)."""
    base = thr['official'][1]
    rows = []
    for impl, (med, best) in thr.items():
        gfs = gflop * count / best
        rows.append(dict(
            impl=impl, med=count / med, best=count / best,
            lat_ms=lat[impl][1] * 1e3 if lat else None, peak_mib=mem[impl],
            gflops=gfs, pct_peak=100 * gfs / peak, x_official=base / best))
    return rows


def bench_image(name: str, batch: int, rounds: int, peak: float,
                dtype: torch.dtype = torch.float32, device: str = 'cpu',
                hf: bool = True, compile: bool = False,
                int8: bool = False) -> dict:
    """Throughput (batch ``batch``), latency (batch 1) and peak memory of
    the image towers, interleaved over ``rounds`` rounds.

    Returns:
        dict: ``rows`` (see :func:`rows_of`), ``gflop`` per image, ``size``,
        ``routes``, ``diffs``, ``notes`` and, with ``int8``, ``int8_cosine``
        (min normalised-feature cosine of int8 vs prepared fp32 over the
        batch).
    """
    res = image_candidates(name, dtype, device, hf, compile, int8)
    cands, size = res.pop('candidates'), res['size']
    x = torch.randn(batch, 3, size, size, device=device, dtype=dtype)
    x1 = x[:1].clone()
    mem = peak_memory({k: (lambda f=f: f(x)) for k, f in cands.items()},
                      device)
    thr = interleaved({k: (lambda f=f: f(x)) for k, f in cands.items()},
                      rounds, device)
    lat = interleaved({k: (lambda f=f: f(x1)) for k, f in cands.items()},
                      rounds, device)
    if int8:
        with torch.inference_mode():
            a = F.normalize(cands['mmcnclip+prepare fp32'](x).float(), dim=-1)
            b = F.normalize(cands['mmcnclip+prepare int8'](x).float(), dim=-1)
        res['int8_cosine'] = (a * b).sum(-1).min().item()
    gflop = image_gflops(name)
    return dict(res, gflop=gflop,
                rows=rows_of(thr, lat, mem, batch, gflop, peak))


def bench_text(name: str, prompts: int, batch: int, rounds: int,
               peak: float, dtype: torch.dtype = torch.float32,
               device: str = 'cpu') -> dict:
    """Text tower over ``prompts`` CIFAR-100 x openai prompts in batches of
    ``batch``: official (padded to 52) vs mmcnclip prepared, padded to 52,
    to the longest in the batch, and length-sorted.

    Returns:
        dict: ``rows``, ``count`` (prompts), ``gflop`` (per prompt at 52
        tokens), ``pad_diff`` (max feature difference pad-52 vs longest),
        ``routes``.
    """
    from mmcnclip.models.layers.fused_linear import linear_routes
    from mmcnclip.text import (ChineseTokenizer, build_prompts,
                               get_classnames, get_templates)
    official = build_official(name)
    ours = prepared(name, official.state_dict(), dtype, device)
    official = official_to(official, device, dtype)
    texts = build_prompts(get_classnames('cifar100'), get_templates('openai'))
    texts = texts[::max(1, len(texts) // prompts)][:prompts]
    tok = ChineseTokenizer()
    batches = [texts[i:i + batch] for i in range(0, len(texts), batch)]
    by_len = sorted(texts, key=lambda p: len(tok.tokenize_to_ids(p)))
    sorted_batches = [by_len[i:i + batch] for i in range(0, len(by_len),
                                                         batch)]
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
    mem = peak_memory(cands, device)
    thr = interleaved(cands, rounds, device)
    n = len(texts)
    gflop = text_gflop(official_info(name), [52] * n) / n
    return dict(rows=rows_of(thr, None, mem, n, gflop, peak), count=n,
                gflop=gflop, pad_diff=(a - b).abs().max().item(),
                routes=linear_routes(ours))
