"""Chinese text preparation: one function turns raw or pre-segmented text into tokens.

Both kinds of input end in the same form, a string of space-separated tokens
(``"市 西湖 建筑 集团 占 道 施工"``), so a model trained on one kind predicts on the other:

* Unicode NFKC folds full-width letters, digits and punctuation to half-width;
  English is lower-cased; the ``_x000D_`` escapes that Excel exports leave behind go.
* URLs, e-mail addresses, phone numbers, ID-card numbers and other long digit runs are
  replaced by placeholder tokens (``urltoken`` …): they carry no topic, and a model
  must not memorise personal data.
* Raw text is segmented by jieba; pre-segmented text (the competition files, or text
  segmented elsewhere) is split on whitespace. Tokens without a letter, digit or CJK
  character (punctuation) are dropped. Stop-words need no list: a word the training
  data never contained has no feature and is ignored at prediction time.

jieba is loaded lazily, once per process, from the dictionary inside the package
(nothing is downloaded) with its chatter silenced.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence

import numpy as np

PLACEHOLDERS = ("urltoken", "emailtoken", "phonetoken", "idtoken", "numtoken", "longtoken")

_URL = re.compile(r"(?:https?://|ftp://|www\.)[^\s\u3000-\u303f\uff00-\uffef\u4e00-\u9fff]+", re.IGNORECASE)
# Bounded, ASCII local part: an unbounded \w+ before "@" is quadratic on long runs of CJK text.
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+")
# Mainland mobile (1[3-9] + 9 digits, optional +86) and landline (area code 0xx(x) + 7–8 digits).
_PHONE = re.compile(r"(?<!\d)(?:(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}|0\d{2,3}[- ]?\d{7,8})(?!\d)")
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_LONG_NUMBER = re.compile(r"\d{7,}")
# Runs like base64 or hashes: no topic, and jieba is quadratic on very long Latin runs.
_LONG_LATIN = re.compile(r"[0-9A-Za-z_.%+#&-]{40,}")
# every number pattern above needs four digits in a row: without them none is tried
_FOUR_DIGITS = re.compile(r"\d{4}")
_EXCEL_ESCAPE = re.compile(r"_x000[dDaA]_")
_HAS_WORD_CHAR = re.compile(r"\w")
_NON_WORD = re.compile(r"[\W_]+")
_CJK = re.compile(r"[\u3400-\u9fff]")
_CJK_SPACE_CJK = re.compile(r"[\u3400-\u9fff] +(?=[\u3400-\u9fff])")

#: A text counts as pre-segmented when at least this share of its CJK characters is
#: followed by a space and another CJK character (raw Chinese almost never has one).
PRESEGMENTED_RATIO = 0.1

_jieba_lock = threading.Lock()
_tokenizer = None


def normalize(text: object) -> str:
    """Fold width and case, drop Excel escapes, mask URLs, e-mails, phones and long numbers."""
    if text is None:
        return ""
    return _mask(unicodedata.normalize("NFKC", str(text)))


def _mask(text: str) -> str:
    """:func:`normalize` after the NFKC step.

    Each pattern runs only where a plain substring test says it could match (a URL needs
    ``://`` or ``www.``, an e-mail ``@``, every number pattern a run of four digits): most
    complaints have none, and a regex scan of the text costs more than the test. The
    result is the same as running every pattern (tested).
    """
    if "_x000" in text:
        text = _EXCEL_ESCAPE.sub(" ", text)
    if "://" in text or "www." in text.lower():
        text = _URL.sub(" urltoken ", text)
    if "@" in text:
        text = _EMAIL.sub(" emailtoken ", text)
    if _FOUR_DIGITS.search(text):
        text = _ID_NUMBER.sub(" idtoken ", text)
        text = _PHONE.sub(" phonetoken ", text)
        text = _LONG_NUMBER.sub(" numtoken ", text)
    text = _LONG_LATIN.sub(" longtoken ", text)
    return text.lower()


def normalize_many(texts: Sequence[object]) -> list[str]:
    """``[normalize(t) for t in texts]``, with the NFKC step done for the whole batch at once."""
    return [_mask(t) for t in nfkc_many(["" if t is None else str(t) for t in texts])]


_SIMPLE_LOCK = threading.Lock()
_simple_nfkc: np.ndarray | None = None


def _simple_nfkc_table() -> np.ndarray:
    """For each BMP code point, its NFKC image when NFKC maps it on its own, else -1.

    A character is *simple* when its compatibility decomposition is one character that is
    a starter (combining class 0), not a combining mark and not a Hangul jamo. No canonical
    composition takes such a character as its second part (the test checks this against
    every decomposition in ``unicodedata``), so NFKC of a text made only of simple characters
    is the concatenation of their images: one table lookup per character. Built once per
    process (about 20 ms).
    """
    global _simple_nfkc
    if _simple_nfkc is None:
        with _SIMPLE_LOCK:
            if _simple_nfkc is None:
                table = np.full(0x10000, -1, dtype=np.int32)
                for point in range(0x10000):
                    if 0xD800 <= point < 0xE000:
                        continue  # surrogates
                    image = unicodedata.normalize("NFKD", chr(point))
                    if (
                        len(image) == 1
                        and unicodedata.combining(image) == 0
                        and not unicodedata.category(image).startswith("M")
                        and not 0x1100 <= ord(image) <= 0x11FF
                    ):
                        table[point] = ord(image)
                _simple_nfkc = table
    return _simple_nfkc


def nfkc_many(texts: Sequence[str]) -> list[str]:
    """``[unicodedata.normalize("NFKC", t) for t in texts]``, fast for texts of simple characters.

    ``unicodedata.normalize`` costs about 50 µs for a complaint of 400 characters (its
    full-width punctuation is not NFKC-stable, so no quick check saves it). Here the batch is
    mapped through one table (see :func:`_simple_nfkc_table`); a text with another character
    (``…`` expands to three, astral characters, combining marks) goes through ``unicodedata``.
    """
    if not texts:
        return []
    if len(texts) == 1 and len(texts[0]) < 16:
        return [unicodedata.normalize("NFKC", texts[0])]
    table = _simple_nfkc_table()
    joined = "".join(texts)
    points = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    image = table[np.where(points < 0x10000, points, 0xD800)]  # astral: a surrogate, never simple
    bad = image < 0
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    ends = np.cumsum(lengths)
    bad_before = np.concatenate([[0], np.cumsum(bad)])
    clean = bad_before[ends] == bad_before[ends - lengths]  # no unsimple character in the text
    image[bad] = 0x20  # any valid character: those texts are normalized one by one below
    mapped = image.astype(np.uint32).tobytes().decode("utf-32-le")
    out, start = [], 0
    for text, end, ok in zip(texts, ends.tolist(), clean.tolist(), strict=True):
        out.append(mapped[start:end] if ok else unicodedata.normalize("NFKC", text))
        start = end
    return out


def looks_presegmented(text: str) -> bool:
    """True when ``text`` reads like space-separated Chinese words rather than raw prose."""
    cjk = len(_CJK.findall(text))
    if cjk < 2:
        return False
    return len(_CJK_SPACE_CJK.findall(text)) >= PRESEGMENTED_RATIO * cjk


def jieba_tokenizer():
    """The process-wide jieba tokenizer, initialised once, quietly, from its bundled dictionary."""
    global _tokenizer
    if _tokenizer is None:
        with _jieba_lock:
            if _tokenizer is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                logging.getLogger("jieba").setLevel(logging.WARNING)
                tokenizer = jieba.Tokenizer()
                tokenizer.initialize()
                _tokenizer = tokenizer
    return _tokenizer


def segment(text: str, *, presegmented: bool | None = None) -> list[str]:
    """Tokens of one text: normalized, segmented (jieba) or split, punctuation dropped."""
    text = normalize(text)
    if presegmented is None:
        presegmented = looks_presegmented(text)
    if presegmented:
        words: Iterable[str] = text.split()
    else:
        words = jieba_tokenizer().cut(text)
    return [w for w in (w.strip() for w in words) if w and _HAS_WORD_CHAR.search(w)]


def prepare(texts: Sequence[object], *, presegmented: bool | None = None, words: bool = True) -> list[str]:
    """Each text as one string of space-separated tokens, the form every feature reads.

    With ``words=False`` (a character-only model) jieba is skipped: the text is only
    normalized and stripped of punctuation, which is all character n-grams need.
    """
    if words:
        return [" ".join(segment(t, presegmented=presegmented)) for t in texts]
    return [_NON_WORD.sub(" ", t).strip() for t in normalize_many(texts)]


def prepare_parallel(
    texts: Sequence[object], *, presegmented: bool | None = None, words: bool = True, n_jobs: int = 1
) -> list[str]:
    """:func:`prepare` split over ``n_jobs`` forked processes (segmentation is the slow, pure-Python step).

    Falls back to one process for small batches or where ``fork`` is unavailable.
    """
    if n_jobs <= 1 or len(texts) < 2000 or not words:
        return prepare(texts, presegmented=presegmented, words=words)
    import multiprocessing

    try:
        context = multiprocessing.get_context("fork")
    except ValueError:
        return prepare(texts, presegmented=presegmented, words=words)
    jieba_tokenizer()  # load once in the parent; the children inherit it
    size = -(-len(texts) // n_jobs)
    chunks = [list(texts[i : i + size]) for i in range(0, len(texts), size)]
    with context.Pool(n_jobs) as pool:
        parts = pool.starmap(_prepare_chunk, [(chunk, presegmented) for chunk in chunks])
    return [line for part in parts for line in part]


def _prepare_chunk(chunk: list[object], presegmented: bool | None) -> list[str]:
    return prepare(chunk, presegmented=presegmented, words=True)


def split_tokens(prepared: str) -> list[str]:
    """Word analyzer of the vectorizers (module level so a saved model can be unpickled)."""
    return prepared.split()
