#!/usr/bin/env bash
# Create a separate venv with full mmcv (compiled ops), mmdet and mmseg so
# that mmcnclip backbones can be tested inside real detectors/segmentors.
#
# Usage: tools/setup_dense_env.sh VENV_DIR [MMCV_WHEEL]
#
# MMCV_WHEEL defaults to ../shared/wheels/mmcv-2.1.0-cp311-cp311-linux_x86_64.whl
# relative to the repository root (where CI keeps it). The main venv must
# keep mmcv-lite: both packages own the same files, so never mix them.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${1:?usage: $0 VENV_DIR [MMCV_WHEEL]}"
WHEEL="${2:-$REPO/../shared/wheels/mmcv-2.1.0-cp311-cp311-linux_x86_64.whl}"
if [ ! -f "$WHEEL" ]; then
    echo "mmcv wheel not found: $WHEEL (pass its path as 2nd argument)" >&2
    exit 1
fi
python3 -m venv "$VENV"
PIP="$VENV/bin/python -m pip"
$PIP install -q --upgrade pip
$PIP install -q torch==2.14.1 torchvision==0.29.1 mmengine==0.10.7 \
    numpy==2.3.5 opencv-python==4.11.0.86 setuptools==81.0.0
$PIP install -q --no-deps "$WHEEL"
# mmcv's own runtime requirements (skipped by --no-deps).
$PIP install -q addict packaging Pillow pyyaml yapf
$PIP install -q -r "$REPO/requirements/dense.txt"
$PIP install -q --no-deps -e "$REPO"
"$VENV/bin/python" -c "import mmcv, mmcv.ops, mmdet, mmseg, mmcnclip; \
print('dense env ok: mmcv', mmcv.__version__, 'mmdet', mmdet.__version__, \
'mmseg', mmseg.__version__)"
