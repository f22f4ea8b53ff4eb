#!/usr/bin/env bash
# Distributed test: tools/dist_test.sh CONFIG CHECKPOINT NPROC [test.py args]
# Works on GPUs (nccl) and on CPU-only machines (gloo, chosen automatically
# by tools/test.py when CUDA is unavailable).
set -euo pipefail
CONFIG=${1:?usage: $0 CONFIG CHECKPOINT NPROC [ARGS...]}
CHECKPOINT=${2:?usage: $0 CONFIG CHECKPOINT NPROC [ARGS...]}
GPUS=${3:?usage: $0 CONFIG CHECKPOINT NPROC [ARGS...]}
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHON=${PYTHON:-python}
TOOLS="$(cd "$(dirname "$0")" && pwd)"

PYTHONPATH="$TOOLS/..${PYTHONPATH:+:$PYTHONPATH}" \
"$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --master_port="$PORT" \
    --nproc_per_node="$GPUS" \
    "$TOOLS/test.py" \
    "$CONFIG" \
    "$CHECKPOINT" \
    --launcher pytorch \
    "${@:4}"
