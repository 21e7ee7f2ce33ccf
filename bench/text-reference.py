"""scikit-learn on the same train/test split a tfleet text job used.

Usage: text-reference.py SPLIT.json  (keys: train, ytrain, test, ytest)
Prints one JSON line: accuracies of MultinomialNB on CountVectorizer
unigrams and uni+bigrams, and LinearSVC on TfidfVectorizer uni+bigrams.
"""
import json
import sys

import sklearn
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.naive_bayes import MultinomialNB
from sklearn.svm import LinearSVC


def main(path):
    with open(path) as f:
        d = json.load(f)
    out = {"sklearn": sklearn.__version__}
    for name, ngrams in (("nbUnigrams", (1, 1)), ("nbBigrams", (1, 2))):
        v = CountVectorizer(ngram_range=ngrams)
        model = MultinomialNB().fit(v.fit_transform(d["train"]), d["ytrain"])
        out[name] = model.score(v.transform(d["test"]), d["ytest"])
    v = TfidfVectorizer(ngram_range=(1, 2))
    model = LinearSVC().fit(v.fit_transform(d["train"]), d["ytrain"])
    out["linearSvc"] = model.score(v.transform(d["test"]), d["ytest"])
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
