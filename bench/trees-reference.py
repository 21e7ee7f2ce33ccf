"""XGBoost and scikit-learn on the Fashion-MNIST IDX files, for bench/trees.ts.

usage: trees-reference.py TRAIN_IMAGES TRAIN_LABELS TEST_IMAGES TEST_LABELS
                          LIMIT ROUNDS TREES ONLY THREADS

LIMIT: training rows (0: all); ROUNDS: XGBoost boosting rounds; TREES:
random-forest trees; ONLY: 'gbdt', 'forest' or 'both'; THREADS: nthread of
XGBoost and n_jobs of scikit-learn. Pixels stay raw bytes (0-255): tfleet
scales them to [0, 1], which moves no split of a tree. Prints progress on
stderr and one JSON object on the last stdout line.
"""
import gzip
import json
import struct
import sys
import time

import numpy as np


def read_idx(path, limit=0):
    """The items of an IDX file of unsigned bytes, one row per item."""
    with gzip.open(path, 'rb') as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack('>HBB', data[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f'{path}: not an IDX file of unsigned bytes (magic {zero:#x}, type {dtype:#x})')
    dims = struct.unpack(f'>{ndim}I', data[4:4 + 4 * ndim])
    items = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims[0], -1)
    if limit:
        items = items[:limit]
    return items if ndim > 1 else items.ravel()


def timed(model, x, y, xt, yt):
    """Fit and test seconds and test accuracy of one model."""
    t0 = time.perf_counter()
    model.fit(x, y)
    fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    accuracy = float(np.mean(model.predict(xt) == yt))
    return {'fitSeconds': fit, 'predictSeconds': time.perf_counter() - t0, 'accuracy': accuracy}


def main(argv):
    if len(argv) != 10:
        sys.exit(__doc__)
    train_images, train_labels, test_images, test_labels = argv[1:5]
    limit, rounds, trees = int(argv[5]), int(argv[6]), int(argv[7])
    only, threads = argv[8], int(argv[9])
    t0 = time.perf_counter()
    # float32: the dtype both libraries convert to anyway, converted once here and outside the fits.
    x = read_idx(train_images, limit).astype(np.float32)
    y = read_idx(train_labels, limit).astype(np.int64)
    xt = read_idx(test_images).astype(np.float32)
    yt = read_idx(test_labels).astype(np.int64)
    out = {'rows': int(x.shape[0]), 'features': int(x.shape[1]), 'testRows': int(xt.shape[0]), 'loadSeconds': time.perf_counter() - t0}
    if only in ('gbdt', 'both'):
        import xgboost
        print(f'trees-reference: XGBoost {xgboost.__version__}, {rounds} rounds on {x.shape[0]} rows...', file=sys.stderr, flush=True)
        model = xgboost.XGBClassifier(tree_method='hist', n_estimators=rounds, max_depth=6, learning_rate=0.3, max_bin=256, nthread=threads)
        out['xgboost'] = {'version': xgboost.__version__, **timed(model, x, y, xt, yt)}
    if only in ('forest', 'both'):
        import sklearn
        from sklearn.ensemble import RandomForestClassifier
        print(f'trees-reference: scikit-learn {sklearn.__version__}, {trees} trees on {x.shape[0]} rows...', file=sys.stderr, flush=True)
        model = RandomForestClassifier(n_estimators=trees, n_jobs=threads, random_state=0)
        out['sklearn'] = {'version': sklearn.__version__, **timed(model, x, y, xt, yt)}
    print(json.dumps(out))


if __name__ == '__main__':
    main(sys.argv)
