"""Write pictures of test predictions (``tools/test.py --show-dir``)."""
import os
import os.path as osp
from typing import List, Optional

import numpy as np
import torch
from mmengine.hooks import Hook

from mmcnclip.registry import HOOKS
from mmcnclip.visualization import (draw_classification, draw_image_to_text,
                                    draw_text_to_image, find_cjk_font)
from .model_wrappers import unwrap_model

#: Side of the image thumbnails kept for retrieval pictures.
THUMB = 96


def _to_hwc(image) -> np.ndarray:
    """A packed CHW image tensor (RGB for mmcnclip pipelines) as HWC."""
    return image.detach().cpu().permute(1, 2, 0).numpy().astype(np.uint8)


@HOOKS.register_module()
class PredictionPicturesHook(Hook):
    """Pictures of the predictions of a test run, with Chinese text.

    * Classification (samples with ``pred_score``): the image with its
      top-k labels and scores, the ground truth on top (correct labels
      green).
    * Retrieval (:class:`~mmcnclip.models.ChineseCLIP` samples with
      ``image_feat``/``text_feat``): after the run, every ``interval``-th
      text query with its top-k gallery images
      (``out_dir/text_to_image``) and every ``interval``-th image with its
      top-k texts (``out_dir/image_to_text``); true matches framed green.
      Features of the local rank's gallery are used.

    Labels are drawn with a CJK font (:func:`~mmcnclip.visualization.
    find_cjk_font`). ``configs/_base_/default_runtime.py`` installs it as
    ``default_hooks.visualization``; ``tools/test.py --show-dir DIR``
    enables it.

    Args:
        enable (bool): Draw at all. Defaults to False.
        interval (int): Draw every n-th sample/query. Defaults to 1.
        show (bool): Also open each picture in a viewer. Defaults to False.
        wait_time (float): Unused (accepted like mmpretrain's hook).
        out_dir (str, optional): Folder of the pictures; required when
            enabled unless ``show``. Defaults to None.
        topk (int): Labels or hits per picture. Defaults to 5.
    """

    priority = 'NORMAL'

    def __init__(self,
                 enable: bool = False,
                 interval: int = 1,
                 show: bool = False,
                 wait_time: float = 0.,
                 out_dir: Optional[str] = None,
                 topk: int = 5):
        if interval < 1:
            raise ValueError(f'interval must be >= 1, got {interval}')
        self.enable = enable
        self.interval = interval
        self.show = show
        self.out_dir = out_dir
        self.topk = topk
        self.font = None
        self._count = 0
        self._images, self._texts = [], []

    def before_test(self, runner) -> None:
        if not self.enable:
            return
        if self.out_dir is None and not self.show:
            raise ValueError('PredictionPicturesHook needs out_dir (or '
                             'show=True) when enabled')
        self.font = find_cjk_font()
        self._count = 0
        self._images, self._texts = [], []

    def _save(self, picture, *parts: str) -> None:
        if self.out_dir is not None:
            path = osp.join(self.out_dir, *parts)
            os.makedirs(osp.dirname(path), exist_ok=True)
            picture.save(path)
        if self.show:
            picture.show()

    def after_test_iter(self, runner, batch_idx: int, data_batch=None,
                        outputs=None) -> None:
        if not self.enable or not outputs:
            return
        inputs = data_batch['inputs']
        for i, sample in enumerate(outputs):
            if 'pred_score' in sample:
                self._classification(runner, inputs[i], sample)
            else:
                self._collect(inputs[i], sample)
            self._count += 1

    def _classes(self, runner) -> Optional[List[str]]:
        classes = getattr(unwrap_model(runner.model), 'classes', None)
        if classes is None:
            dataset = runner.test_loop.dataloader.dataset
            classes = dataset.metainfo.get('classes')
        return None if classes is None else list(classes)

    def _classification(self, runner, image, sample) -> None:
        if self._count % self.interval:
            return
        scores = sample.pred_score.detach().float().cpu()
        top = torch.topk(scores, min(self.topk, scores.numel()))
        classes = self._classes(runner) or [
            str(i) for i in range(scores.numel())]
        truth = None
        if 'gt_label' in sample:
            truth = classes[int(sample.gt_label[0])]
        picture = draw_classification(
            _to_hwc(image), [classes[i] for i in top.indices.tolist()],
            top.values.tolist(), self.font, truth)
        stem = osp.splitext(osp.basename(sample.get('img_path', '')))[0]
        self._save(picture, f'{self._count:06d}{"_" + stem if stem else ""}'
                   '.png')

    def _collect(self, image, sample) -> None:
        if image is not None and 'image_feat' in sample:
            thumb = torch.nn.functional.interpolate(
                image[None].float(), size=(THUMB, THUMB), mode='bilinear',
                antialias=True)[0].round().clamp(0, 255)
            self._images.append((sample.get('image_id', len(self._images)),
                                 sample.image_feat.detach().float().cpu(),
                                 _to_hwc(thumb)))
        elif 'text_feat' in sample:
            self._texts.append((sample.get('text_id', len(self._texts)),
                                str(sample.text),
                                sample.text_feat.detach().float().cpu(),
                                set(sample.get('gt_image_ids', []) or [])))

    def after_test_epoch(self, runner, metrics=None) -> None:
        if not self.enable or not (self._images and self._texts):
            return
        image_ids = [img[0] for img in self._images]
        sims = torch.stack([t[2] for t in self._texts]) @ torch.stack(
            [img[1] for img in self._images]).t()
        k = min(self.topk, len(image_ids))
        for q, (text_id, text, _, truth) in enumerate(self._texts):
            if q % self.interval:
                continue
            top = torch.topk(sims[q], k)
            hits = [(self._images[j][2], s, image_ids[j] in truth)
                    for s, j in zip(top.values.tolist(), top.indices.tolist())]
            self._save(draw_text_to_image(text, hits, self.font),
                       'text_to_image', f'{text_id}.png')
        k = min(self.topk, len(self._texts))
        for q, (image_id, _, thumb) in enumerate(self._images):
            if q % self.interval:
                continue
            top = torch.topk(sims[:, q], k)
            hits = [(self._texts[j][1], s, image_id in self._texts[j][3])
                    for s, j in zip(top.values.tolist(), top.indices.tolist())]
            self._save(draw_image_to_text(thumb, hits, self.font),
                       'image_to_text', f'{image_id}.png')
        runner.logger.info(f'Retrieval pictures written to {self.out_dir}')
        self._images, self._texts = [], []
