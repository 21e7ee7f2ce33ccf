"""Surprise's SVD and BaselineOnly procedures in numpy, for bench/recommenders.ts.

usage: recommenders-reference.py --train u1.base --test u1.test
                                 [--algorithms svd,baseline] [--seed 0]

One MovieLens 100K fold per call (tab-separated `user item rating
timestamp` lines). Surprise itself is not needed: this reproduces what its
`SVD.sgd` and `BaselineOnly` (ALS) do, step for step, so that the numbers
are Surprise's procedure on this machine's numpy:

- the trainset gives users and items inner ids in order of first appearance
  and visits ratings user by user (inner id order), each user's ratings in
  file order, as Surprise's `Trainset.all_ratings()` does;
- svd: biased, 100 factors, 20 epochs, lr_all 0.005, reg_all 0.02, factors
  drawn from N(0, 0.1) by `np.random.RandomState(seed)` (pu first, then qi,
  as Surprise's `get_rng(random_state)` does), one update of bu, bi, pu and
  qi per rating, pu and qi both from their values before the update;
- baseline: ALS, 10 epochs, reg_u 15, reg_i 10, items then users each epoch;
- estimates: the global mean plus the biases (and the dot product) of what
  the trainset knows, clipped to the rating scale [1, 5].

Prints progress on stderr and one JSON object on the last stdout line.
"""
import argparse
import json
import math
import sys
import time

import numpy as np

RATING_SCALE = (1.0, 5.0)
SVD = {'n_factors': 100, 'n_epochs': 20, 'lr_all': 0.005, 'reg_all': 0.02, 'init_mean': 0.0, 'init_std_dev': 0.1}
BASELINE = {'method': 'als', 'n_epochs': 10, 'reg_u': 15, 'reg_i': 10}
ALGORITHMS = ('svd', 'baseline')


def read_ratings(path):
    """(raw user, raw item, rating) per line, in file order."""
    out = []
    with open(path, encoding='latin-1') as f:
        for n, line in enumerate(f, 1):
            fields = line.split('\t')
            if len(fields) < 3:
                raise ValueError(f'{path} line {n}: expected user<TAB>item<TAB>rating, got {line.strip()!r}')
            out.append((fields[0], fields[1], float(fields[2])))
    return out


class Trainset:
    """Surprise's Trainset: inner ids by first appearance, ratings by user then file order."""

    def __init__(self, raw):
        self.uid, self.iid = {}, {}
        ur = {}
        for ru, ri, r in raw:
            u = self.uid.setdefault(ru, len(self.uid))
            i = self.iid.setdefault(ri, len(self.iid))
            ur.setdefault(u, []).append((i, r))
        self.n_users, self.n_items = len(self.uid), len(self.iid)
        # dicts keep insertion order, and users are inserted in inner-id order.
        order = [(u, i, r) for u, rs in ur.items() for i, r in rs]
        self.u = np.array([t[0] for t in order], dtype=np.int64)
        self.i = np.array([t[1] for t in order], dtype=np.int64)
        self.r = np.array([t[2] for t in order], dtype=np.float64)
        self.global_mean = float(np.mean(self.r))


def test_ids(trainset, raw):
    """Inner ids of a test set, -1 where the trainset does not know the user or item."""
    u = np.array([trainset.uid.get(ru, -1) for ru, _, _ in raw], dtype=np.int64)
    i = np.array([trainset.iid.get(ri, -1) for _, ri, _ in raw], dtype=np.int64)
    r = np.array([t[2] for t in raw], dtype=np.float64)
    return u, i, r


def fit_svd(ts, seed):
    """Surprise's SVD.sgd: a python loop over ratings, numpy vectors for the factors."""
    p = SVD
    rng = np.random.RandomState(seed)
    pu = rng.normal(p['init_mean'], p['init_std_dev'], size=(ts.n_users, p['n_factors']))
    qi = rng.normal(p['init_mean'], p['init_std_dev'], size=(ts.n_items, p['n_factors']))
    # Python floats for the biases and row views for the factors: scalar
    # indexing into numpy arrays costs more than the arithmetic here.
    bu = [0.0] * ts.n_users
    bi = [0.0] * ts.n_items
    pu_rows, qi_rows = list(pu), list(qi)
    mu, lr, reg = ts.global_mean, p['lr_all'], p['reg_all']
    ratings = list(zip(ts.u.tolist(), ts.i.tolist(), ts.r.tolist()))
    for epoch in range(p['n_epochs']):
        print(f'recommenders-reference: svd epoch {epoch + 1}/{p["n_epochs"]}', file=sys.stderr, flush=True)
        for u, i, r in ratings:
            pu_u, qi_i = pu_rows[u], qi_rows[i]
            err = r - (mu + bu[u] + bi[i] + float(qi_i.dot(pu_u)))
            bu[u] += lr * (err - reg * bu[u])
            bi[i] += lr * (err - reg * bi[i])
            # Both factor updates from the old values, as Surprise's loop
            # over f reads puf and qif before writing either.
            d_pu = lr * (err * qi_i - reg * pu_u)
            qi_i += lr * (err * pu_u - reg * qi_i)
            pu_u += d_pu
    return np.array(bu), np.array(bi), pu, qi


def predict_svd(ts, model, u, i):
    bu, bi, pu, qi = model
    ku, ki = u >= 0, i >= 0
    est = np.full(u.shape, ts.global_mean)
    est[ku] += bu[u[ku]]
    est[ki] += bi[i[ki]]
    both = ku & ki
    est[both] += np.einsum('ij,ij->i', qi[i[both]], pu[u[both]])
    return est


def fit_baseline(ts):
    """Surprise's baseline_als, each sweep as one np.bincount per side."""
    p = BASELINE
    n_u = np.bincount(ts.u, minlength=ts.n_users)
    n_i = np.bincount(ts.i, minlength=ts.n_items)
    bu, bi = np.zeros(ts.n_users), np.zeros(ts.n_items)
    mu = ts.global_mean
    for _ in range(p['n_epochs']):
        bi = np.bincount(ts.i, weights=ts.r - mu - bu[ts.u], minlength=ts.n_items) / (p['reg_i'] + n_i)
        bu = np.bincount(ts.u, weights=ts.r - mu - bi[ts.i], minlength=ts.n_users) / (p['reg_u'] + n_u)
    return bu, bi


def predict_baseline(ts, model, u, i):
    bu, bi = model
    ku, ki = u >= 0, i >= 0
    est = np.full(u.shape, ts.global_mean)
    est[ku] += bu[u[ku]]
    est[ki] += bi[i[ki]]
    return est


def evaluate(fit, predict, ts, test):
    """Fit and test seconds (perf_counter), test RMSE and MAE of clipped estimates."""
    u, i, r = test
    t0 = time.perf_counter()
    model = fit()
    fit_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    est = np.clip(predict(ts, model, u, i), *RATING_SCALE)
    err = r - est
    rmse, mae = math.sqrt(float(np.mean(err * err))), float(np.mean(np.abs(err)))
    return {'rmse': rmse, 'mae': mae, 'fitSeconds': fit_seconds, 'testSeconds': time.perf_counter() - t0}


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--train', required=True)
    ap.add_argument('--test', required=True)
    ap.add_argument('--algorithms', default=','.join(ALGORITHMS))
    ap.add_argument('--seed', type=int, default=0)
    a = ap.parse_args(argv)
    algorithms = [x for x in a.algorithms.split(',') if x]
    unknown = [x for x in algorithms if x not in ALGORITHMS]
    if unknown:
        ap.error(f'--algorithms: unknown {", ".join(unknown)} (known: {", ".join(ALGORITHMS)})')
    ts = Trainset(read_ratings(a.train))
    test = test_ids(ts, read_ratings(a.test))
    out = {
        'numpy': np.__version__,
        'folds': [{
            'train': a.train, 'test': a.test, 'trainRatings': int(ts.r.size), 'testRatings': int(test[2].size),
            'users': ts.n_users, 'items': ts.n_items,
            'testUnknownUsers': int(np.sum(test[0] < 0)), 'testUnknownItems': int(np.sum(test[1] < 0)),
        }],
        'seed': a.seed,
    }
    if 'svd' in algorithms:
        out['svd'] = {**evaluate(lambda: fit_svd(ts, a.seed), predict_svd, ts, test), 'params': SVD}
    if 'baseline' in algorithms:
        out['baseline'] = {**evaluate(lambda: fit_baseline(ts), predict_baseline, ts, test), 'params': BASELINE}
    print(json.dumps(out))


if __name__ == '__main__':
    main(sys.argv[1:])
