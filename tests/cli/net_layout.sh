#!/usr/bin/env bash
# A trained net's output read back by analysis/net_to_torch.py, whose numpy energy
# (a direct convolution in PyTorch's NCHW order on /model/net/layer_i, written apart
# from zeta's C++) must give /eval/energy_model for /eval/samples: the layout that
# docs/net.md promises PyTorch users (weights [out, in, kh, kw], flatten in C, H, W
# order, sn_ layers as W / (u^T W v), groupnorm's weight and bias [C], res( ... )
# blocks adding their input at ')'). Usage: net_layout.sh ZETA SOURCE_DIR
set -u
zeta=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
for net in "sn_conv(8,4,2,1) lrelu(0.2) sn_conv(16,4,2,1) silu avgpool(2) flatten sn_linear(32) softplus linear(1)" \
  "conv(8,4,2,1) res( groupnorm(2) silu conv(8,3,1,1) res( groupnorm(4) ) ) avgpool(2) flatten linear(16) res( groupnorm(4) softplus linear(16) ) linear(1)"; do
  "$zeta" train "$src/input/train_pcd_energynet_fashion.ini" "--model.net=$net" \
    --data.limit=256 --train.batch=16 --train.buffer_size=128 --train.k=3 --run.steps=6 --train.eval_every=2 \
    --checkpoint.file= --checkpoint.every_steps=0 --output.file=net.h5 --run.progress_every=0 > train.json 2> train.err \
    || { echo "FAIL: zeta train $net"; tail -n 5 train.err; exit 1; }
  /usr/bin/python3 "$src/analysis/net_to_torch.py" net.h5 --check || { echo "FAIL: $net"; exit 1; }
  rm -f net.h5
done
