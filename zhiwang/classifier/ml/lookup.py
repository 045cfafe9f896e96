"""Fast prediction-time feature lookup: one hash table for every character-based block.

Prediction used to count each block on its own: pack the n-grams (the lexicon block
packs 1–4-grams, the character block 1–3-grams again), then ``np.unique`` (a sort of
every n-gram occurrence) and a binary search in the sorted vocabulary. The sort was
about two thirds of the prediction time. Here the n-grams of a batch are packed once,
for the widest range any block reads, and looked up in an open-addressing hash table
(numpy arrays, linear probing, load factor <= 1/4) that maps each code to its column
in every block at once; one sparse matrix is built for the whole union and weighted
block by block. The result is the same matrix as ``FeatureUnion.transform`` (tested).

The table is built when a model is loaded (about 0.3 s for the default model's 416,000
words and n-grams) and kept beside the fitted vectorizers in a ``WeakKeyDictionary``:
never pickled into a model file. It costs about 80 bytes per vocabulary entry (about
32 MB for the default model); a load factor of 1/2 would halve that and cost about 10 %
of the prediction speed (measured).
"""

from __future__ import annotations

import threading
import weakref

import numpy as np
import scipy.sparse as sp

from zhiwang.classifier.ml.features import CharNgramVectorizer, _code_points, _pack

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


def _table(features, blocks) -> CodeTable:
    table = _cache.get(features)
    if table is None:
        with _cache_lock:
            table = _cache.get(features)
            if table is None:
                table = _cache[features] = CodeTable([b.vocabulary_ for b in blocks])
    return table


def warm(features) -> None:
    """Build the lookup table now (at load time) rather than on the first prediction."""
    blocks = _char_blocks(features)
    if blocks is not None:
        _table(features, blocks)


def supports(features) -> bool:
    """Whether :func:`transform` has a fast path for this fitted feature union."""
    return _char_blocks(features) is not None


def transform(features, docs: list[str]) -> sp.csr_matrix:
    """``features.transform(docs)`` as a CSR matrix; fast for unions of character blocks."""
    blocks = _char_blocks(features)
    if blocks is None:
        return sp.hstack([b.transform(docs) for _name, b in features.transformer_list]).tocsr()
    widths = [len(b.vocabulary_) for b in blocks]
    offsets = np.concatenate([[0], np.cumsum(widths)])
    if not docs:
        return sp.csr_matrix((0, int(offsets[-1])))
    table = _table(features, blocks)
    low = min(b.ngram_range[0] for b in blocks)
    high = max(b.ngram_range[1] for b in blocks)
    parts = []
    for batch in blocks[0]._batches(docs):
        points = _code_points(batch)
        doc, code = _pack(blocks[0]._symbols(points), points == 0, (low, high))
        slot = table.find(code)
        inside = slot >= 0
        doc, slot = doc[inside], slot[inside]
        rows, cols = [], []
        for b in range(len(blocks)):
            col = table.values[b, slot]
            hit = col >= 0
            rows.append(doc[hit])
            cols.append(col[hit].astype(np.int64) + offsets[b])
        row, col = np.concatenate(rows), np.concatenate(cols)
        parts.append(
            sp.csr_matrix(
                (np.ones(len(col)), (row, col)), shape=(len(batch), int(offsets[-1]))
            )  # duplicates are summed: the counts
        )
    x = sp.vstack(parts, format="csr") if len(parts) > 1 else parts[0]
    x.sum_duplicates()
    return _weight(x, blocks, offsets)


def _weight(x: sp.csr_matrix, blocks, offsets: np.ndarray) -> sp.csr_matrix:
    """Sublinear TF, IDF and the l2 norm, each block normalised on its own (as a FeatureUnion does)."""
    idf = np.concatenate([b.tfidf_.idf_ if b.tfidf_.use_idf else np.ones(len(b.vocabulary_)) for b in blocks])
    sublinear = np.concatenate([np.full(len(b.vocabulary_), bool(b.tfidf_.sublinear_tf)) for b in blocks])
    data = x.data
    log_cols = sublinear[x.indices]
    data[log_cols] = np.log(data[log_cols]) + 1.0
    data *= idf[x.indices]
    lengths = np.diff(x.indptr)
    rows = np.repeat(np.arange(x.shape[0]), lengths)
    block_of = np.searchsorted(offsets, x.indices, side="right") - 1
    key = rows * len(blocks) + block_of
    norms = np.sqrt(np.bincount(key, weights=data**2, minlength=x.shape[0] * len(blocks)))
    norms[norms == 0] = 1.0
    data /= norms[key]
    return x
