"""PyTorch reference for bench/cnn-train.ts: trains the same network on the
same Fashion-MNIST images with the same batch and optimizer, and prints
training images/s as one JSON line.

  python3 torch-train.py IMAGES LABELS LIMIT EPOCHS BATCH MODEL MODE THREADS

MODEL is cnn (conv 32 3x3, pool, conv 64 3x3, pool, dense 128, dense 10) or
mlp (784-256-128-10). MODE is single (one process) or ddp
(DistributedDataParallel, 2 gloo ranks on this host, BATCH per rank, each
rank on its half of the images). THREADS is torch's intra-op thread count
(per rank). Epochs after the first are timed. The JSON line also names the
BLAS library the process loaded: Debian's torch links the system's
libblas.so.3, which is the slow reference implementation unless an
optimized one (libopenblas0-pthread) is installed.
"""
import gzip
import json
import os
import socket
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

RANKS = 2


def read_idx(path):
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rb') as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big') for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def build(model):
    if model == 'cnn':
        return nn.Sequential(
            nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 10))
    if model == 'mlp':
        return nn.Sequential(
            nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    raise SystemExit(f'unknown model {model!r} (cnn or mlp)')


def blas_library():
    """The BLAS shared object mapped into this process (after torch has used it)."""
    torch.mm(torch.ones(64, 64), torch.ones(64, 64))
    with open('/proc/self/maps') as maps:
        paths = {line.split()[-1] for line in maps if 'blas' in os.path.basename(line.split()[-1])}
    return ', '.join(sorted(os.path.realpath(p) for p in paths)) or 'unknown'


def load(images, labels, limit):
    x = torch.from_numpy(read_idx(images)[:limit].astype(np.float32) / 255.0).unsqueeze(1)
    y = torch.from_numpy(read_idx(labels)[:limit].astype(np.int64))
    return x, y


def train(net, x, y, epochs, batch, seed):
    """Returns the wall time of epochs 2..epochs, in seconds."""
    opt = torch.optim.Adam(net.parameters(), lr=0.001)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(seed)
    ends = []
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=gen)
        for start in range(0, len(x), batch):
            idx = order[start:start + batch]
            opt.zero_grad()
            loss_fn(net(x[idx]), y[idx]).backward()
            opt.step()
        ends.append(time.perf_counter())
    return ends[-1] - ends[0]


def ddp_rank(rank, args, port, results):
    images, labels, limit, epochs, batch, model, threads = args
    torch.set_num_threads(threads)
    os.environ['MASTER_ADDR'] = '127.0.0.1'
    os.environ['MASTER_PORT'] = str(port)
    dist.init_process_group('gloo', rank=rank, world_size=RANKS)
    torch.manual_seed(0)
    net = nn.parallel.DistributedDataParallel(build(model))
    x, y = load(images, labels, limit)
    shard = slice(rank * len(x) // RANKS, (rank + 1) * len(x) // RANKS)
    seconds = train(net, x[shard], y[shard], epochs, batch, seed=rank)
    results[rank] = seconds
    dist.destroy_process_group()


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def main():
    images, labels, limit, epochs, batch, model, mode, threads = sys.argv[1:9]
    limit, epochs, batch, threads = int(limit), int(epochs), int(batch), int(threads)
    torch.set_num_threads(threads)
    if mode == 'single':
        torch.manual_seed(0)
        x, y = load(images, labels, limit)
        seconds = train(build(model), x, y, epochs, batch, seed=0)
    elif mode == 'ddp':
        results = mp.Manager().dict()
        mp.spawn(ddp_rank, args=((images, labels, limit, epochs, batch, model, threads), free_port(), results), nprocs=RANKS)
        seconds = max(results.values())
    else:
        raise SystemExit(f'unknown mode {mode!r} (single or ddp)')
    print(json.dumps({
        'imagesPerSecond': limit * (epochs - 1) / seconds,
        'torch': torch.__version__,
        'intraOpThreads': torch.get_num_threads(),
        'blas': blas_library(),
    }))


if __name__ == '__main__':
    main()
