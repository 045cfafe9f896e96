"""Features: TF-IDF over jieba words, over character n-grams and over a learned lexicon.

Character n-grams are counted by :class:`CharNgramVectorizer`, a vectorised numpy
implementation: the characters of the training data form an alphabet of at most 32,767
symbols, and each n-gram of up to four characters is packed into one 64-bit integer
(15 bits per character), so a whole batch is counted with array operations instead of a
Python loop per n-gram. It reads the prepared token string with the spaces removed, which
makes raw and pre-segmented input give the same n-grams.

The same vectorizer in *lexicon* mode (``tokens_as_vocabulary=True``) takes its vocabulary
from the training tokens (jieba words of up to four characters) and counts where those
words occur in the unsegmented text. It brings the words' information without segmenting
at prediction time: a ``lexicon+char`` model predicts without jieba, several times faster.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfTransformer, TfidfVectorizer
from sklearn.pipeline import FeatureUnion

from zhiwang.classifier.ml.text import split_tokens

FEATURE_KINDS = ("word", "char", "word+char", "lexicon+char")
_BITS = 15  # one alphabet index per character (index 0: separator or unknown character)
_MASK = (1 << _BITS) - 1
_MAX_ALPHABET = _MASK  # characters beyond the most frequent 32,767 count as unknown
_MAX_N = 4  # 4 x 15 bits fit in an int64
_BATCH_CHARS = 4_000_000  # keeps the int64 arrays of one batch around 100 MB


@dataclass(frozen=True)
class FeatureConfig:
    """Which features a model reads; stored in the model's metadata."""

    kind: str = "lexicon+char"  # one of FEATURE_KINDS
    char_ngram_range: tuple[int, int] = (1, 3)
    word_ngram_range: tuple[int, int] = (1, 1)
    min_df: int = 2  # lowered to 1 automatically for tiny training sets
    sublinear_tf: bool = True
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.kind not in FEATURE_KINDS:
            raise ValueError(f"feature kind {self.kind!r} is not one of {FEATURE_KINDS}")
        low, high = self.char_ngram_range
        if not 1 <= low <= high <= _MAX_N:
            raise ValueError(f"char_ngram_range must lie within (1, {_MAX_N})")

    @property
    def uses_words(self) -> bool:
        """Whether prediction needs jieba segmentation (char and lexicon+char models do not)."""
        return self.kind in ("word", "word+char")

    @property
    def trains_on_words(self) -> bool:
        """Whether training needs the texts segmented (the lexicon is learned from words)."""
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


def _code_points(docs: list[str]) -> np.ndarray:
    """Code points of the documents joined by NUL (the separator), spaces removed, NUL-terminated."""
    joined = "\x00".join(d.replace(" ", "").replace("\x00", "") for d in docs) + "\x00"
    return np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)


def _pack(
    symbols: np.ndarray, boundary: np.ndarray, ngram_range: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """(document index, packed n-gram code) for every n-gram over an array of alphabet indices.

    ``boundary`` marks the separators ending each document. Index 0 (a separator or an
    unknown character) breaks n-grams: one touching it is dropped. Code ranges never
    collide: indices are >= 1, so an n-gram of n symbols is >= 2**(15(n-1)) and < 2**(15n).
    """
    sep = symbols == 0
    doc_of = np.cumsum(boundary) - boundary  # index of the document each position belongs to
    all_doc, all_code = [], []
    low, high = ngram_range
    for n in range(low, high + 1):
        length = len(symbols) - n + 1
        if length <= 0:
            continue
        code = symbols[:length].copy()
        valid = ~sep[:length]
        for k in range(1, n):
            code = (code << _BITS) | symbols[k : k + length]
            valid &= ~sep[k : k + length]
        all_doc.append(doc_of[:length][valid])
        all_code.append(code[valid])
    if not all_code:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(all_doc), np.concatenate(all_code)


class CharNgramVectorizer(TransformerMixin, BaseEstimator):
    """TF-IDF of character n-grams (n <= 4) over whitespace-free text, counted with numpy.

    With ``tokens_as_vocabulary=True`` (lexicon mode) the vocabulary is the set of training
    tokens of ``ngram_range`` length (document frequency >= ``min_df``) instead of every
    n-gram; their occurrences are then counted in the whitespace-free text.
    """

    def __init__(self, ngram_range=(1, 3), min_df=2, sublinear_tf=True, tokens_as_vocabulary=False):
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.sublinear_tf = sublinear_tf
        self.tokens_as_vocabulary = tokens_as_vocabulary

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

    def _symbols(self, points: np.ndarray) -> np.ndarray:
        """Alphabet indices (1..) of code points; 0 for the separator and unknown characters."""
        alphabet = self.alphabet_
        if not len(alphabet):
            return np.zeros(len(points), np.int64)
        where = np.searchsorted(alphabet, points)
        where[where >= len(alphabet)] = 0
        return np.where(alphabet[where] == points, where + 1, 0).astype(np.int64)

    def _codes(self, docs: list[str], ngram_range=None) -> tuple[np.ndarray, np.ndarray]:
        points = _code_points(docs)
        return _pack(self._symbols(points), points == 0, ngram_range or self.ngram_range)

    def _counts(self, docs: list[str]) -> sp.csr_matrix:
        vocabulary = self.vocabulary_
        blocks = []
        for batch in self._batches(docs):
            doc, code = self._codes(batch)
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

    def _fit_alphabet(self, docs: list[str]) -> None:
        points = _code_points(docs)
        distinct, counts = np.unique(points[points != 0], return_counts=True)
        if len(distinct) > _MAX_ALPHABET:  # keep the most frequent characters
            distinct = np.sort(distinct[np.argsort(-counts, kind="stable")[:_MAX_ALPHABET]])
        self.alphabet_ = distinct

    def _document_frequencies(self, docs: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Distinct codes and how many documents contain each (tokens in lexicon mode)."""
        seen = []
        for batch in self._batches(docs):
            if self.tokens_as_vocabulary:
                low, high = self.ngram_range
                # one pseudo-document per token, each token counted once per document
                tokens, owner = [], []
                for i, d in enumerate(batch):
                    kept = {t for t in d.split() if low <= len(t) <= high}
                    tokens.extend(kept)
                    owner.extend([i] * len(kept))
                tok_doc, code = self._codes(tokens, (low, high))
                # keep only codes spanning the whole token (a token of n symbols gives one n-gram of n)
                lengths = np.asarray([len(t) for t in tokens], dtype=np.int64)
                whole = code >= (np.int64(1) << (_BITS * (lengths[tok_doc] - 1)))
                doc = np.asarray(owner, dtype=np.int64)[tok_doc[whole]] if len(tokens) else tok_doc
                code = code[whole]
            else:
                doc, code = self._codes(batch)
            distinct, inverse = np.unique(code, return_inverse=True)
            # one entry per (document, code): the document frequency of each code
            presence = sp.csr_matrix(
                (np.ones(len(code), dtype=np.int8), (doc, inverse)), shape=(len(batch), len(distinct))
            )
            presence.sum_duplicates()
            seen.append((distinct, np.bincount(presence.indices, minlength=len(distinct))))
        codes = np.concatenate([d for d, _df in seen])
        counts = np.concatenate([df for _d, df in seen])
        codes, where = np.unique(codes, return_inverse=True)
        return codes, np.bincount(where, weights=counts, minlength=len(codes))

    def fit(self, docs, y=None):
        docs = list(docs)
        self._fit_alphabet(docs)
        codes, df = self._document_frequencies(docs)
        self.vocabulary_ = codes[df >= self.min_df]
        self._multichar = self._pairs = None
        self.tfidf_ = TfidfTransformer(sublinear_tf=self.sublinear_tf).fit(self._counts(docs))
        return self

    def transform(self, docs):
        docs = list(docs)
        if not docs:
            return sp.csr_matrix((0, len(self.vocabulary_)))
        return _tfidf(self._counts(docs), self.tfidf_)

    def decode(self, code: int) -> str:
        """The characters an n-gram code stands for (for explanations)."""
        chars = []
        while code:
            chars.append(chr(int(self.alphabet_[(code & _MASK) - 1])))
            code >>= _BITS
        return "".join(reversed(chars))

    def multichar_columns(self) -> np.ndarray:
        """Columns of n-grams of two characters or more (the informative ones)."""
        cached = getattr(self, "_multichar", None)
        if cached is None:
            cached = self._multichar = np.flatnonzero(np.asarray(self.vocabulary_) > _MASK)
        return cached

    def pair_columns(self) -> np.ndarray:
        """Columns of n-grams of exactly two characters (a character model's unit of evidence)."""
        cached = getattr(self, "_pairs", None)
        if cached is None:
            vocabulary = np.asarray(self.vocabulary_)
            cached = self._pairs = np.flatnonzero(
                (vocabulary > _MASK) & (vocabulary < (np.int64(1) << (2 * _BITS)))
            )
        return cached

    def get_feature_names_out(self, input_features=None):
        return np.array([self.decode(int(c)) for c in self.vocabulary_], dtype=object)


def _tfidf(counts: sp.csr_matrix, fitted: TfidfTransformer) -> sp.csr_matrix:
    """``fitted.transform(counts)`` computed directly for the l2 norm.

    scikit-learn's input checks cost more than the arithmetic for a few texts (one
    suggestion as the citizen types). Tested against scikit-learn's own TF-IDF.
    """
    if fitted.norm != "l2":
        return fitted.transform(counts)
    x = counts.astype(np.float64)  # a copy
    if fitted.sublinear_tf:
        np.log(x.data, out=x.data)
        x.data += 1.0
    if fitted.use_idf:
        x.data *= fitted.idf_[x.indices]
    lengths = np.diff(x.indptr)
    rows = np.repeat(np.arange(x.shape[0]), lengths)
    norms = np.sqrt(np.bincount(rows, weights=x.data**2, minlength=x.shape[0]))
    norms[norms == 0] = 1.0
    x.data /= np.repeat(norms, lengths)
    return x


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
    if config.kind == "lexicon+char":
        lexicon = CharNgramVectorizer(
            (1, _MAX_N), min_df=min_df, sublinear_tf=config.sublinear_tf, tokens_as_vocabulary=True
        )
        blocks.append(("lexicon", lexicon))
    if config.kind in ("char", "word+char", "lexicon+char"):
        blocks.append(
            (
                "char",
                CharNgramVectorizer(config.char_ngram_range, min_df=min_df, sublinear_tf=config.sublinear_tf),
            )
        )
    return FeatureUnion(blocks)
