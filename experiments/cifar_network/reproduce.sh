#!/usr/bin/env bash
# The shipped `hyper` base from scratch, in one command (about 90 minutes on 2 CPU cores; resumable:
# run it again after a stop and each stage goes on from its runs/<stage>/state.pkl).
#   bash experiments/cifar_network/reproduce.sh
set -euo pipefail
cd "$(dirname "$0")"
nice -n 10 python3 train.py runs/main --minutes 45 --no-inner                               # the learned start
nice -n 10 python3 train.py runs/meta --minutes 45 --init runs/main/state.pkl --lr 3e-4     # through the inner loop
python3 export.py runs/meta                                          # inrcodec/bases/hyper.npz and hyper.json
