"""Fast prediction-time feature lookup: one hash table for every character-based block.

Prediction used to count each block on its own: pack the n-grams (the lexicon block
packs 1–4-grams, the character block 1–3-grams again), then ``np.unique`` (a sort of
every n-gram occurrence) and a binary search in the sorted vocabulary. The sort was
about two thirds of the prediction time. Here the n-grams of a batch are packed once,
for the widest range any block reads, and looked up in an open-addressing hash table
(numpy arrays, linear probing, load factor <= 1/4) that maps each code to its column
in every block at once; one sparse matrix is built for the whole union and weighted
block by block. The result is the same matrix as ``FeatureUnion.transform`` (tested).

Single characters need no hashing: their code is their alphabet index, looked up in a
small dense array. Raw texts reach the matrix without the token strings of ``prepare``
(``transform(..., raw=True)``): normalized in one batch, punctuation dropped by a table over
all code points, characters mapped to alphabet indices by a dense table (2.2 MB) instead
of a binary search. A prediction works through batches of about 200,000 characters
(:func:`prediction_batches`), so its arrays stay small: one array of a 4,000-complaint batch
was ~50 MB of freshly mapped memory each time, and the page faults alone made large batches
up to twice as slow.

These structures (:class:`Compiled`) are built when a model is loaded (about 0.3 s for the
default model's 416,000 words and n-grams) and kept beside the fitted vectorizers in a
``WeakKeyDictionary``: never pickled into a model file. The hash table costs about 80 bytes
per vocabulary entry (about 32 MB for the default model); a load factor of 1/2 would halve
that and cost about 10 % of the prediction speed (measured).
"""

from __future__ import annotations

import re
import threading
import weakref

import numpy as np
import scipy.sparse as sp

from zhiwang.classifier.ml.features import _MASK, CharNgramVectorizer, _code_points, _pack
from zhiwang.classifier.ml.text import normalize_many, prepare

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing multiplier
_EMPTY = np.int64(-1)  # codes are >= 1, so -1 marks a free slot

_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


class CodeTable:
    """Open-addressing hash table: int64 code -> one int32 value per block (-1: not in that block)."""

    def __init__(self, vocabularies: list[np.ndarray]):
        codes = np.unique(np.concatenate([np.asarray(v, np.int64) for v in vocabularies] or [[]]))
        bits = max(4, int(np.ceil(np.log2(max(1, len(codes)) * 4))))
        self.shift = np.uint64(64 - bits)
        self.mask = np.int64((1 << bits) - 1)
        self.keys = np.full(1 << bits, _EMPTY, dtype=np.int64)
        slots = self._insert(codes)
        self.values = np.full((len(vocabularies), 1 << bits), -1, dtype=np.int32)
        for b, vocabulary in enumerate(vocabularies):
            vocabulary = np.asarray(vocabulary, np.int64)
            self.values[b, slots[np.searchsorted(codes, vocabulary)]] = np.arange(len(vocabulary))

    def _hash(self, codes: np.ndarray) -> np.ndarray:
        return ((codes.astype(np.uint64) * _GOLDEN) >> self.shift).astype(np.int64)

    def _insert(self, codes: np.ndarray) -> np.ndarray:
        """Slot of each (distinct) code, placed by linear probing."""
        slots = self._hash(codes)
        placed = np.full(len(codes), -1, dtype=np.int64)
        pending = np.arange(len(codes))
        while len(pending):
            free = pending[self.keys[slots[pending]] == _EMPTY]
            # several codes may want the same free slot: one write wins, the others probe on
            self.keys[slots[free]] = codes[free]
            landed = free[self.keys[slots[free]] == codes[free]]
            placed[landed] = slots[landed]
            pending = pending[placed[pending] < 0]
            slots[pending] = (slots[pending] + 1) & self.mask
        return placed

    def find(self, codes: np.ndarray) -> np.ndarray:
        """Slot of each code, or -1 when the code is in no block."""
        slots = self._hash(codes)
        found = np.full(len(codes), -1, dtype=np.int64)
        pending = np.arange(len(codes))
        while len(pending):
            key = self.keys[slots[pending]]
            hit = key == codes[pending]
            found[pending[hit]] = slots[pending[hit]]
            pending = pending[~hit & (key != _EMPTY)]  # an empty slot ends the probe: a miss
            slots[pending] = (slots[pending] + 1) & self.mask
        return found


def _char_blocks(features) -> list[CharNgramVectorizer] | None:
    """The blocks of a feature union when all are character-based with one alphabet; else None."""
    blocks = [block for _name, block in getattr(features, "transformer_list", [])]
    if not blocks or not all(type(b) is CharNgramVectorizer and hasattr(b, "vocabulary_") for b in blocks):
        return None
    if any(getattr(b.tfidf_, "norm", None) != "l2" for b in blocks):
        return None
    alphabet = blocks[0].alphabet_
    if any(not np.array_equal(b.alphabet_, alphabet) for b in blocks[1:]):
        return None
    return blocks


class Compiled:
    """Everything prediction reads for one fitted union of character blocks, built once.

    The hash table of every n-gram of two characters or more, a dense column table for
    single characters (their code is the alphabet index), a dense symbol table for every
    code point (one gather instead of a binary search in the alphabet) and the per-column
    IDF, sublinear flag and block index of the whole union.
    """

    def __init__(self, blocks: list[CharNgramVectorizer]):
        self.blocks = blocks
        widths = [len(b.vocabulary_) for b in blocks]
        self.offsets = np.concatenate([[0], np.cumsum(widths)]).astype(np.int64)
        self.n_columns = int(self.offsets[-1])
        self.ngram_range = (min(b.ngram_range[0] for b in blocks), max(b.ngram_range[1] for b in blocks))
        alphabet = np.asarray(blocks[0].alphabet_, dtype=np.int64)
        self.symbols = np.zeros(_CODE_POINTS, dtype=np.int16)  # at most 32,767 symbols: int16 suffices
        self.symbols[alphabet[alphabet < _CODE_POINTS]] = np.flatnonzero(alphabet < _CODE_POINTS) + 1
        single = np.full((len(blocks), len(alphabet) + 1), -1, dtype=np.int64)
        longer = []
        for b, block in enumerate(blocks):
            vocabulary = np.asarray(block.vocabulary_, dtype=np.int64)
            one = vocabulary <= _MASK
            single[b, vocabulary[one]] = np.flatnonzero(one) + self.offsets[b]
            longer.append(vocabulary[~one])
        self.single = single
        # the table's values become columns of the union (-1: not in that block), in place: no second copy
        self.table = CodeTable(longer)
        for b, block in enumerate(blocks):
            vocabulary = np.asarray(block.vocabulary_, dtype=np.int64)
            columns = (np.flatnonzero(vocabulary > _MASK) + self.offsets[b]).astype(np.int32)
            taken = self.table.values[b] >= 0
            self.table.values[b, taken] = columns[self.table.values[b, taken]]
        self.idf = np.concatenate(
            [b.tfidf_.idf_ if b.tfidf_.use_idf else np.ones(len(b.vocabulary_)) for b in blocks]
        )
        self.sublinear = np.concatenate(
            [np.full(w, bool(b.tfidf_.sublinear_tf)) for b, w in zip(blocks, widths, strict=True)]
        )
        self.all_sublinear = bool(self.sublinear.all())
        self.block_of = np.repeat(np.arange(len(blocks), dtype=np.int64), widths)

    def symbols_of(self, points: np.ndarray) -> np.ndarray:
        """Alphabet indices (1..) of code points; 0 for unknown characters (and NUL, the separator)."""
        return self.symbols[points].astype(np.int64)

    def counts(self, symbols: np.ndarray, boundary: np.ndarray, n_docs: int) -> sp.csr_matrix:
        """Count matrix (documents x union columns) of the n-grams over a symbol array."""
        doc, code = _pack(symbols, boundary, self.ngram_range)
        is_single = code <= _MASK
        rows, cols = [], []
        single_doc, single_code = doc[is_single], code[is_single]
        for b in range(len(self.blocks)):
            col = self.single[b, single_code]
            hit = col >= 0
            rows.append(single_doc[hit])
            cols.append(col[hit])
        doc, code = doc[~is_single], code[~is_single]
        slot = self.table.find(code)
        inside = slot >= 0
        doc, slot = doc[inside], slot[inside]
        for b in range(len(self.blocks)):
            col = self.table.values[b, slot]
            hit = col >= 0
            rows.append(doc[hit])
            cols.append(col[hit])
        row, col = np.concatenate(rows), np.concatenate(cols)
        # duplicates are summed: the counts
        x = sp.csr_matrix((np.ones(len(col)), (row, col)), shape=(n_docs, self.n_columns))
        x.sum_duplicates()
        return x


_CODE_POINTS = 0x110000


def compiled(features) -> Compiled | None:
    """The prediction structures of a fitted union (built on first use, then cached); None if unsupported."""
    blocks = _char_blocks(features)
    if blocks is None:
        return None
    found = _cache.get(features)
    if found is None:
        with _cache_lock:
            found = _cache.get(features)
            if found is None:
                found = _cache[features] = Compiled(blocks)
    return found


def warm(features) -> None:
    """Build the lookup structures now (at load time) rather than on the first prediction."""
    compiled(features)


def supports(features) -> bool:
    """Whether :func:`transform` has a fast path for this fitted feature union."""
    return _char_blocks(features) is not None


def transform(features, docs: list[str], *, raw: bool = False) -> sp.csr_matrix:
    """``features.transform(docs)`` as a CSR matrix; fast for unions of character blocks.

    With ``raw=True`` the documents are raw texts rather than prepared token strings: the
    matrix is that of ``prepare(docs, words=False)`` (see :func:`_transform_raw`), which is
    what a character or lexicon+char model reads.
    """
    if raw:
        return _transform_raw(features, docs)
    fast = compiled(features)
    if fast is None:
        return sp.hstack([b.transform(docs) for _name, b in features.transformer_list]).tocsr()
    if not docs:
        return sp.csr_matrix((0, fast.n_columns))
    parts = []
    for batch in prediction_batches(docs):
        points = _code_points(batch)
        parts.append(fast.counts(fast.symbols_of(points), points == 0, len(batch)))
    x = sp.vstack(parts, format="csr") if len(parts) > 1 else parts[0]
    return _weight(x, fast)


def _transform_raw(features, texts: list[str]) -> sp.csr_matrix:
    """``transform(features, prepare(texts, words=False))`` for raw texts, without the token strings.

    For character and lexicon+char models: the texts are normalized (``text.normalize_many``)
    and every character that is not a letter or digit is dropped with one table lookup, where
    ``prepare`` would replace runs of them by a space and ``_code_points`` then remove the
    spaces. Same matrix (tested).
    """
    fast = compiled(features)
    if fast is None:
        return transform(features, prepare(texts, words=False))
    if not texts:
        return sp.csr_matrix((0, fast.n_columns))
    keep = _word_characters()
    normalized = normalize_many(texts)
    joined = "\x00".join(normalized) + "\x00"
    points = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    ends = np.cumsum(np.fromiter(map(len, normalized), dtype=np.int64, count=len(normalized)) + 1) - 1
    kept = keep[points]
    kept[ends] = True  # the separators stay: they end each document's n-grams
    symbols = fast.symbols_of(points)
    symbols[ends] = 0
    boundary = np.zeros(len(points), dtype=bool)
    boundary[ends] = True
    x = fast.counts(symbols[kept], boundary[kept], len(texts))
    return _weight(x, fast)


_word_lock = threading.Lock()
_word_table: np.ndarray | None = None


def _word_characters() -> np.ndarray:
    """For every code point, whether ``prepare`` keeps it: ``[^\\W_]`` (a letter or digit), by the same regex.

    Built once per process with one scan of a string of all code points (about 30 ms).
    """
    global _word_table
    if _word_table is None:
        with _word_lock:
            if _word_table is None:
                everything = "".join(map(chr, range(_CODE_POINTS)))
                table = np.zeros(_CODE_POINTS, dtype=bool)
                for match in re.finditer(r"[^\W_]+", everything):
                    table[match.start() : match.end()] = True
                _word_table = table
    return _word_table


def prediction_batches(docs: list) -> list[list]:
    """Batches of about ``_PREDICTION_CHARS`` characters.

    Smaller than the fitting batches: the int64 arrays of a batch stay within the CPU caches
    and the allocator's reused memory; one batch of 4,000 complaints (about 50 MB of arrays)
    was up to twice as slow, mostly in page faults of freshly mapped memory.
    """
    batches, batch, size = [], [], 0
    for doc in docs:
        batch.append(doc)
        size += len(doc)
        if size >= _PREDICTION_CHARS:
            batches.append(batch)
            batch, size = [], 0
    if batch:
        batches.append(batch)
    return batches


_PREDICTION_CHARS = 200_000


def _weight(x: sp.csr_matrix, fast: Compiled) -> sp.csr_matrix:
    """Sublinear TF, IDF and the l2 norm, each block normalised on its own (as a FeatureUnion does)."""
    data = x.data
    if fast.all_sublinear:
        np.log(data, out=data)
        data += 1.0
    else:
        log_cols = fast.sublinear[x.indices]
        data[log_cols] = np.log(data[log_cols]) + 1.0
    data *= fast.idf[x.indices]
    n_blocks = len(fast.blocks)
    rows = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
    key = rows * n_blocks + fast.block_of[x.indices]
    norms = np.sqrt(np.bincount(key, weights=data**2, minlength=x.shape[0] * n_blocks))
    norms[norms == 0] = 1.0
    data /= norms[key]
    return x
