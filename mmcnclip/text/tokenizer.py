"""Chinese BERT tokenizer with id parity to ``cn_clip.clip.tokenize``.

Kept instead of ``transformers.BertTokenizerFast(vocab, do_lower_case=True)``
(``max_input_chars_per_word=200``) because, measured by
``tools/misc/library_alternatives.py`` on 21,343 strings (test texts, 18,300
template x class prompts, random Unicode), that one gives other ids than
``cn_clip`` on 206 (literal ``[CLS]``/``[UNK]`` in user text read as special
tokens, final-sigma lower-casing, accented capitals such as ``Ę``), raises
on lone surrogates, and takes 6.8 s for the 18,300 prompts where this one
takes 0.27 s, cold caches (``cn_clip`` 3.4 s; one thread).

The pipeline is the classic two-stage BERT tokenisation used by the
Chinese-CLIP text tower (``chinese_L-12_H-768_A-12`` vocabulary, lower-cased):

1. *Basic* stage, applied to the whole string:

   * drop U+0000, U+FFFD and every control/format character (Unicode
     categories ``Cc`` and ``Cf``), except TAB, LF and CR which count as
     whitespace;
   * map whitespace (space, TAB, LF, CR and category ``Zs``) to a space;
   * surround every CJK ideograph with spaces so it becomes its own word;
   * split on whitespace (Python's ``str.split``); then, per word, lowercase,
     decompose with NFD and drop non-spacing marks (``Mn``), and cut the word
     around every punctuation character (ASCII symbols plus Unicode
     categories ``P*``), each punctuation character being a word of its own.

2. *WordPiece* stage, applied to each resulting word: greedy longest-match
   from the left against the vocabulary, with non-initial pieces prefixed by
   ``##``.  A word longer than 200 characters, or one that cannot be fully
   covered by vocabulary pieces, becomes a single ``[UNK]``.

Both stages are memoised: characters are classified once (through a
``str.translate`` table that fills itself lazily) and each whitespace
separated word is mapped to its id list once per tokenizer instance.
"""
import array
import functools
import pathlib
import unicodedata
from typing import Dict, Iterable, List, Optional, Sequence, Union

import torch

__all__ = ['ChineseTokenizer', 'tokenize']

DEFAULT_VOCAB_FILE = pathlib.Path(__file__).with_name('vocab.txt')
DEFAULT_CONTEXT_LENGTH = 52
MAX_CHARS_PER_WORD = 200
WORD_CACHE_SIZE = 1 << 17

PAD_TOKEN = '[PAD]'
UNK_TOKEN = '[UNK]'
CLS_TOKEN = '[CLS]'
SEP_TOKEN = '[SEP]'
CONTINUATION_PREFIX = '##'

# Code point ranges treated as CJK ideographs (each one becomes a word).
# Kangxi radicals, kana, hangul etc. are deliberately NOT in this list.
_CJK_RANGES = (
    (0x4E00, 0x9FFF),  # CJK Unified Ideographs
    (0x3400, 0x4DBF),  # Extension A
    (0x20000, 0x2A6DF),  # Extension B
    (0x2A700, 0x2B73F),  # Extension C
    (0x2B740, 0x2B81F),  # Extension D
    (0x2B820, 0x2CEAF),  # Extension E
    (0xF900, 0xFAFF),  # Compatibility Ideographs
    (0x2F800, 0x2FA1F),  # Compatibility Ideographs Supplement
)


def _is_cjk_ideograph(code_point: int) -> bool:
    """Tell whether a code point lies in one of the CJK ideograph blocks.

    Args:
        code_point (int): Unicode code point.

    Returns:
        bool: True if the code point is treated as a Chinese character.
    """
    return any(low <= code_point <= high for low, high in _CJK_RANGES)


def _is_whitespace(char: str) -> bool:
    """Tell whether a character is whitespace for the basic stage.

    Args:
        char (str): A single character.

    Returns:
        bool: True for space, TAB, LF, CR and any ``Zs`` character.
    """
    return char in ' \t\n\r' or unicodedata.category(char) == 'Zs'


def _is_control(char: str) -> bool:
    """Tell whether a character is a control/format character to drop.

    TAB, LF and CR are excluded because they are handled as whitespace.

    Args:
        char (str): A single character.

    Returns:
        bool: True for characters of category ``Cc`` or ``Cf``.
    """
    if char in '\t\n\r':
        return False
    return unicodedata.category(char) in ('Cc', 'Cf')


def _is_punctuation(char: str) -> bool:
    """Tell whether a character is punctuation for the basic stage.

    Every printable non-alphanumeric ASCII character counts (so the dollar
    sign, caret, backtick, plus sign ... are included even though Unicode
    does not class them as punctuation), as does every character of a
    Unicode ``P*`` category.

    Args:
        char (str): A single character.

    Returns:
        bool: True if the character splits words.
    """
    code_point = ord(char)
    if 33 <= code_point <= 47 or 58 <= code_point <= 64 \
            or 91 <= code_point <= 96 or 123 <= code_point <= 126:
        return True
    return unicodedata.category(char).startswith('P')


class _CharTable(dict):
    """Lazily filled ``str.translate`` table for the character clean-up.

    Keys are code points; values are ``None`` (delete the character), a
    single space (whitespace), the character padded with spaces (CJK
    ideograph), or the character itself.
    """

    def __missing__(self, code_point: int) -> Optional[str]:
        char = chr(code_point)
        if code_point == 0 or code_point == 0xFFFD or _is_control(char):
            value = None
        elif _is_whitespace(char):
            value = ' '
        elif _is_cjk_ideograph(code_point):
            value = f' {char} '
        else:
            value = char
        self[code_point] = value
        return value


def _load_vocab(vocab_file: Union[str, pathlib.Path]) -> Dict[str, int]:
    """Read a BERT vocabulary file.

    The id of a token is its zero-based line number.  Lines are split the
    way Python text files split them (``\\n``, ``\\r`` or ``\\r\\n`` only, so
    U+2028 inside a line is kept) and each entry is stripped of surrounding
    whitespace; a later duplicate overrides an earlier one.

    Args:
        vocab_file (str | pathlib.Path): Path of the one-token-per-line file.

    Returns:
        dict[str, int]: Mapping from token to id.
    """
    vocab: Dict[str, int] = {}
    with open(vocab_file, 'r', encoding='utf-8') as handle:
        for index, line in enumerate(handle):
            vocab[line.strip()] = index
    return vocab


class ChineseTokenizer:
    """Lower-casing Chinese BERT tokenizer producing CLIP-style id tensors.

    Calling an instance mirrors ``cn_clip.clip.tokenize``: every text becomes
    ``[CLS] + wordpiece_ids[:context_length - 2] + [SEP]``, right-padded with
    the ``[PAD]`` id (0 in the shipped vocabulary).

    Args:
        vocab_file (str | pathlib.Path, optional): Vocabulary file, one token
            per line.  Defaults to the ``vocab.txt`` shipped next to this
            module (the 21128-token Chinese BERT vocabulary).
        context_length (int): Default number of ids per output row.
            Defaults to 52, the value used by all Chinese-CLIP checkpoints.

    Example:
        >>> tokenizer = ChineseTokenizer()
        >>> tokenizer(['一只猫的照片', 'a photo of a dog']).shape
        torch.Size([2, 52])
    """

    def __init__(self,
                 vocab_file: Optional[Union[str, pathlib.Path]] = None,
                 context_length: int = DEFAULT_CONTEXT_LENGTH) -> None:
        self.vocab_file = pathlib.Path(
            DEFAULT_VOCAB_FILE if vocab_file is None else vocab_file)
        self.context_length = self._check_context_length(context_length)
        self.vocab = _load_vocab(self.vocab_file)
        for token in (PAD_TOKEN, UNK_TOKEN, CLS_TOKEN, SEP_TOKEN):
            if token not in self.vocab:
                raise ValueError(f'Special token {token!r} is missing from '
                                 f'vocabulary file {str(self.vocab_file)!r}')
        self.pad_id = self.vocab[PAD_TOKEN]
        self.unk_id = self.vocab[UNK_TOKEN]
        self.cls_id = self.vocab[CLS_TOKEN]
        self.sep_id = self.vocab[SEP_TOKEN]
        # No substring longer than the longest entry can ever match.
        self._max_piece_len = max(map(len, self.vocab))
        self._init_caches()

    # ------------------------------------------------------------------ #
    # caches (rebuilt after unpickling, e.g. in dataloader workers)
    # ------------------------------------------------------------------ #
    def _init_caches(self) -> None:
        """Create the per-instance character table and word caches."""
        self._char_table = _CharTable()
        self._word_to_ids = functools.lru_cache(maxsize=WORD_CACHE_SIZE)(
            self._word_to_ids_uncached)
        self._wordpiece = functools.lru_cache(maxsize=WORD_CACHE_SIZE)(
            self._wordpiece_uncached)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        for key in ('_char_table', '_word_to_ids', '_wordpiece'):
            state.pop(key, None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._init_caches()

    # ------------------------------------------------------------------ #
    # tokenisation
    # ------------------------------------------------------------------ #
    @property
    def vocab_size(self) -> int:
        """int: Number of distinct tokens in the vocabulary."""
        return len(self.vocab)

    def _wordpiece_uncached(self, word: str) -> tuple:
        """Split one basic-stage word into WordPiece ids.

        Args:
            word (str): A non-empty word without whitespace.

        Returns:
            tuple[int, ...]: The piece ids, or ``(unk_id,)`` if the word is
            too long or cannot be covered by the vocabulary.
        """
        length = len(word)
        if length > MAX_CHARS_PER_WORD:
            return (self.unk_id, )
        vocab = self.vocab
        max_piece_len = self._max_piece_len
        ids = []
        start = 0
        while start < length:
            prefix = CONTINUATION_PREFIX if start else ''
            longest_end = min(length, start + max_piece_len)
            for end in range(longest_end, start, -1):
                piece_id = vocab.get(prefix + word[start:end])
                if piece_id is not None:
                    break
            else:
                return (self.unk_id, )
            ids.append(piece_id)
            start = end
        return tuple(ids)

    def _word_to_ids_uncached(self, word: str) -> tuple:
        """Lower-case, strip accents, split punctuation and WordPiece a word.

        Args:
            word (str): One whitespace-delimited word of the cleaned text.

        Returns:
            tuple[int, ...]: The ids of all pieces of the word.
        """
        word = unicodedata.normalize('NFD', word.lower())
        word = ''.join(c for c in word if unicodedata.category(c) != 'Mn')
        pieces: List[str] = []
        current: List[str] = []
        for char in word:
            if _is_punctuation(char):
                if current:
                    pieces.append(''.join(current))
                    current = []
                pieces.append(char)
            else:
                current.append(char)
        if current:
            pieces.append(''.join(current))
        ids: List[int] = []
        for piece in pieces:
            # Normalisation could in theory yield whitespace: re-split.
            for sub_word in piece.split():
                ids.extend(self._wordpiece(sub_word))
        return tuple(ids)

    def tokenize_to_ids(self, text: str) -> List[int]:
        """Convert a text into WordPiece ids, without special tokens.

        Args:
            text (str): The text to tokenize.

        Returns:
            list[int]: The ids, untruncated and without ``[CLS]``/``[SEP]``.

        Raises:
            TypeError: If ``text`` is not a ``str``.
        """
        if not isinstance(text, str):
            raise TypeError(f'text must be a str, got {type(text).__name__}')
        ids: List[int] = []
        word_to_ids = self._word_to_ids
        for word in text.translate(self._char_table).split():
            ids.extend(word_to_ids(word))
        return ids

    @staticmethod
    def _check_context_length(context_length: int) -> int:
        """Validate a context length.

        Args:
            context_length (int): Requested number of ids per row.

        Returns:
            int: The validated context length.

        Raises:
            TypeError: If it is not an integer.
            ValueError: If it is smaller than 2 (no room for CLS and SEP).
        """
        if isinstance(context_length, bool) or not isinstance(
                context_length, int):
            raise TypeError('context_length must be an int, got '
                            f'{type(context_length).__name__}')
        if context_length < 2:
            raise ValueError('context_length must be at least 2 to hold '
                             f'[CLS] and [SEP], got {context_length}')
        return context_length

    def __call__(self,
                 texts: Union[str, Sequence[str]],
                 context_length: Optional[int] = None,
                 pad_to_longest: bool = False) -> torch.Tensor:
        """Tokenize one or several texts into a padded id tensor.

        Args:
            texts (str | Sequence[str]): A text or a sequence of texts.
            context_length (int, optional): Maximum ids per row, special
                tokens included; longer texts are truncated.  Defaults to
                the instance's ``context_length``.
            pad_to_longest (bool): If True, pad only up to the longest row
                of the batch (never beyond ``context_length``) instead of
                to ``context_length``.  Defaults to False.

        Returns:
            torch.LongTensor: Shape ``(len(texts), L)`` where ``L`` is
            ``context_length``, or the longest row length when
            ``pad_to_longest`` is set (``context_length`` for an empty
            batch).

        Raises:
            TypeError: If ``texts`` is neither a str nor an iterable of str,
                or an element is not a str (the message names its index).
            ValueError: If ``context_length`` is smaller than 2.
        """
        if context_length is None:
            context_length = self.context_length
        context_length = self._check_context_length(context_length)
        if isinstance(texts, str):
            texts = [texts]
        elif not isinstance(texts, Iterable) or isinstance(
                texts, (bytes, bytearray)):
            raise TypeError('texts must be a str or a sequence of str, got '
                            f'{type(texts).__name__}')

        max_body = context_length - 2
        rows: List[List[int]] = []
        for index, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f'texts[{index}] must be a str, got '
                                f'{type(text).__name__}: {text!r:.80}')
            ids = self.tokenize_to_ids(text)
            rows.append([self.cls_id, *ids[:max_body], self.sep_id])

        width = context_length
        if pad_to_longest and rows:
            width = max(len(row) for row in rows)
        if not rows:
            return torch.full((0, width), self.pad_id, dtype=torch.long)
        # Filling a flat int64 buffer is several times faster than building
        # the tensor from nested Python lists.
        flat = array.array('q', [self.pad_id]) * (len(rows) * width)
        for index, row in enumerate(rows):
            offset = index * width
            flat[offset:offset + len(row)] = array.array('q', row)
        return torch.frombuffer(flat, dtype=torch.long).view(len(rows), width)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(vocab_file={str(self.vocab_file)!r}, '
                f'vocab_size={self.vocab_size}, '
                f'context_length={self.context_length})')


_default_tokenizer: Optional[ChineseTokenizer] = None


def _get_default_tokenizer() -> ChineseTokenizer:
    """Return the shared default tokenizer, creating it on first use.

    Returns:
        ChineseTokenizer: Tokenizer over the packaged vocabulary.
    """
    global _default_tokenizer
    if _default_tokenizer is None:
        _default_tokenizer = ChineseTokenizer()
    return _default_tokenizer


def tokenize(texts: Union[str, Sequence[str]],
             context_length: int = DEFAULT_CONTEXT_LENGTH) -> torch.Tensor:
    """Tokenize texts exactly like ``cn_clip.clip.tokenize``.

    Args:
        texts (str | Sequence[str]): A text or a sequence of texts.
        context_length (int): Ids per row, ``[CLS]`` and ``[SEP]`` included.
            Defaults to 52.

    Returns:
        torch.LongTensor: Shape ``(len(texts), context_length)``, rows
        ``[CLS] + ids[:context_length - 2] + [SEP]`` followed by zeros.
    """
    return _get_default_tokenizer()(texts, context_length=context_length)
