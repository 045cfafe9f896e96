"""Features: TF-IDF over jieba words and over character n-grams, alone or side by side.

Character n-grams are counted by :class:`CharNgramVectorizer`, a vectorised numpy
implementation: each n-gram of up to three characters is packed into one 64-bit
integer (21 bits per code point), so a whole batch is counted with array operations
instead of a Python loop per n-gram. It reads the prepared token string with the
spaces removed, which makes raw and pre-segmented input give the same n-grams.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfTransformer, TfidfVectorizer
from sklearn.pipeline import FeatureUnion

from zhiwang.classifier.ml.text import split_tokens

FEATURE_KINDS = ("word", "char", "word+char")
_BITS = 21  # every Unicode code point fits in 21 bits
_MASK = (1 << _BITS) - 1
_BATCH_CHARS = 4_000_000  # keeps the int64 arrays of one batch around 100 MB


@dataclass(frozen=True)
class FeatureConfig:
    """Which features a model reads; stored in the model's metadata."""

    kind: str = "word+char"  # one of FEATURE_KINDS
    char_ngram_range: tuple[int, int] = (1, 3)
    word_ngram_range: tuple[int, int] = (1, 1)
    min_df: int = 2  # lowered to 1 automatically for tiny training sets
    sublinear_tf: bool = True
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.kind not in FEATURE_KINDS:
            raise ValueError(f"feature kind {self.kind!r} is not one of {FEATURE_KINDS}")
        low, high = self.char_ngram_range
        if not 1 <= low <= high <= 3:
            raise ValueError("char_ngram_range must lie within (1, 3)")

    @property
    def uses_words(self) -> bool:
        """Whether prediction needs jieba segmentation (a char-only model does not)."""
        return self.kind != "char"

    def as_dict(self) -> dict:
        data = asdict(self)
        data["char_ngram_range"] = list(self.char_ngram_range)
        data["word_ngram_range"] = list(self.word_ngram_range)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> FeatureConfig:
        data = dict(data)
        for key in ("char_ngram_range", "word_ngram_range"):
            if key in data:
                data[key] = tuple(data[key])
        return cls(**data)


def _codes(docs: list[str], ngram_range: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(document index, packed n-gram code) for every character n-gram of ``docs``.

    The documents are joined with NUL separators; an n-gram touching a separator is dropped.
    Code ranges never collide: a unigram is < 2**21, a bigram >= 2**21, a trigram >= 2**42.
    """
    joined = "\x00".join(d.replace(" ", "").replace("\x00", "") for d in docs) + "\x00"
    chars = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    sep = chars == 0
    doc_of = np.cumsum(sep) - sep  # index of the document each position belongs to
    all_doc, all_code = [], []
    low, high = ngram_range
    for n in range(low, high + 1):
        length = len(chars) - n + 1
        if length <= 0:
            continue
        code = chars[:length].copy()
        valid = ~sep[:length]
        for k in range(1, n):
            code = (code << _BITS) | chars[k : k + length]
            valid &= ~sep[k : k + length]
        all_doc.append(doc_of[:length][valid])
        all_code.append(code[valid])
    if not all_code:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(all_doc), np.concatenate(all_code)


def decode_ngram(code: int) -> str:
    """The characters an n-gram code stands for (for explanations)."""
    chars = []
    while code:
        chars.append(chr(code & _MASK))
        code >>= _BITS
    return "".join(reversed(chars))


class CharNgramVectorizer(TransformerMixin, BaseEstimator):
    """TF-IDF of character n-grams (n <= 3) over whitespace-free text, counted with numpy."""

    def __init__(self, ngram_range=(1, 3), min_df=2, sublinear_tf=True):
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.sublinear_tf = sublinear_tf

    def _batches(self, docs):
        batch, size = [], 0
        for doc in docs:
            batch.append(doc)
            size += len(doc)
            if size >= _BATCH_CHARS:
                yield batch
                batch, size = [], 0
        if batch or not docs:
            yield batch

    def _counts(self, docs: list[str]) -> sp.csr_matrix:
        vocabulary = self.vocabulary_
        blocks = []
        for batch in self._batches(docs):
            doc, code = _codes(batch, self.ngram_range)
            # look each distinct n-gram up once: far fewer binary searches than one per occurrence
            distinct, inverse = np.unique(code, return_inverse=True)
            col = np.searchsorted(vocabulary, distinct)
            col[col >= len(vocabulary)] = 0
            known = vocabulary[col] == distinct if len(vocabulary) else np.zeros(len(distinct), bool)
            hit = known[inverse]
            cols = col[inverse][hit]
            data = np.ones(len(cols), dtype=np.float64)
            blocks.append(sp.csr_matrix((data, (doc[hit], cols)), shape=(len(batch), len(vocabulary))))
        counts = sp.vstack(blocks, format="csr") if len(blocks) > 1 else blocks[0]
        counts.sum_duplicates()
        return counts

    def fit(self, docs, y=None):
        docs = list(docs)
        seen = []
        for batch in self._batches(docs):
            doc, code = _codes(batch, self.ngram_range)
            distinct, inverse = np.unique(code, return_inverse=True)
            # one entry per (document, n-gram): the document frequency of each n-gram
            presence = sp.csr_matrix(
                (np.ones(len(code), dtype=np.int8), (doc, inverse)), shape=(len(batch), len(distinct))
            )
            presence.sum_duplicates()
            seen.append((distinct, np.bincount(presence.indices, minlength=len(distinct))))
        codes = np.concatenate([d for d, _df in seen])
        counts = np.concatenate([df for _d, df in seen])
        codes, where = np.unique(codes, return_inverse=True)
        df = np.bincount(where, weights=counts, minlength=len(codes))
        self.vocabulary_ = codes[df >= self.min_df]
        self.tfidf_ = TfidfTransformer(sublinear_tf=self.sublinear_tf).fit(self._counts(docs))
        return self

    def transform(self, docs):
        docs = list(docs)
        if not docs:
            return sp.csr_matrix((0, len(self.vocabulary_)))
        return self.tfidf_.transform(self._counts(docs))

    def get_feature_names_out(self, input_features=None):
        return np.array([decode_ngram(int(c)) for c in self.vocabulary_], dtype=object)


def effective_min_df(config: FeatureConfig, n_docs: int) -> int:
    """``config.min_df``, but 1 below 200 documents, where pruning would leave too little."""
    return config.min_df if n_docs >= 200 else 1


def build_features(config: FeatureConfig, *, n_docs: int) -> FeatureUnion:
    """An unfitted feature union for ``config`` (one block per kind of feature)."""
    min_df = effective_min_df(config, n_docs)
    blocks = []
    if config.kind in ("word", "word+char"):
        word = TfidfVectorizer(
            analyzer=split_tokens if config.word_ngram_range == (1, 1) else "word",
            token_pattern=None if config.word_ngram_range == (1, 1) else r"\S+",
            ngram_range=config.word_ngram_range,
            lowercase=False,
            min_df=min_df,
            sublinear_tf=config.sublinear_tf,
            dtype=np.float64,
        )
        blocks.append(("word", word))
    if config.kind in ("char", "word+char"):
        blocks.append(
            (
                "char",
                CharNgramVectorizer(config.char_ngram_range, min_df=min_df, sublinear_tf=config.sublinear_tf),
            )
        )
    return FeatureUnion(blocks)
