"""Tests for :mod:`mmcnclip.text.tokenizer`.

The official ``cn_clip.clip.tokenize`` is the reference oracle;
``transformers.BertTokenizerFast`` built from the same vocabulary is a second
oracle on the subset of strings where the two references agree.
"""
import pickle
import random
import shutil
import time

import pytest
import torch

from mmcnclip.text import ChineseTokenizer, tokenize
from mmcnclip.text.tokenizer import DEFAULT_VOCAB_FILE

HOSTILE_TEXTS = {
    # plain Chinese
    'zh_plain': '一只猫的照片',
    'zh_sentence': '这是一张在公园里拍摄的小狗奔跑的照片，非常可爱。',
    'zh_rare': '㐀㐁䶵𠀀𠀁𪜀𫝀𫠠',  # Extension A / B / C / D / E ideographs
    'zh_compat': '豈更車賈滑',  # U+F900.. compatibility ideographs (NFD-change)
    'cjk_ext_g': '\U00030000\U00030001一\U00030002',  # outside CJK ranges
    # mixed / English / digits
    'mixed': '一张iPhone 15 Pro的照片, taken in 北京 at 3:45pm!',
    'upper_en': 'A PHOTO OF A BIG DOG, UNAFFABLE AND UNBELIEVABLE',
    'camel': 'TensorFlowPyTorchMMPretrain',
    'digits': '1234567890 3.14159 1,000,000 2024年5月20日 007',
    'long_number': '123456789012345678901234567890',
    # emoji
    'emoji_simple': '😀😃😄 猫🐱 dog🐶',
    'emoji_zwj': '👨‍👩‍👧‍👦 family 👩‍💻 coder 🏳️‍🌈',
    'emoji_flags': '🇨🇳🇺🇸🇯🇵 flags',
    'emoji_skin': '👍🏽👋🏿 ✌️ ❤️',
    # accented Latin / combining marks
    'accents': 'café naïve résumé façade São Paulo Ångström ñandú',
    'accents_upper': 'ÉCOLE ÀÉÎÕÜ ÑANDÚ ÅSA',
    'combining': 'e\u0301 a\u0300\u0301\u0302 n\u0303o\u0308 cafe\u0301',
    'special_case': 'İstanbul ẞtraße ﬁsh ﬂower Ǆ ǅ ΐ σς',
    'greek_final_sigma': 'ΑΣ ΟΔΟΣ ΣΑΣ',  # str.lower() applies final-sigma rule
    # full-width forms and CJK punctuation
    'fullwidth_punct': '你好！这是什么？（测试）：；，。“引号”‘单引’',
    'fullwidth_latin': 'ＡＢＣ ｄｅｆ １２３ Ｈｅｌｌｏ，Ｗｏｒｌｄ！',
    'cjk_punct': '「你好」《红楼梦》、『书名』。【注】〈一〉〜…—·',
    # control characters, zero-width and odd whitespace
    'controls': 'a\x00b\x07c\ufffdd\u200be\u200cf\u200dg\ufeffh\x7fi',
    'control_only': '\x00\x01\x02\ufffd\u200b',
    'whitespace_mix': ' 猫\t狗\n鸟\r鱼  \u3000 cat\t\tdog \u00a0 end\u2028x\u2029y',
    'vt_ff': 'a\x0bb\x0cc\x1cd\x1fe\x85f',
    'empty': '',
    'only_space': ' \t\n\r  \u3000\u00a0',
    # other scripts
    'kana': 'こんにちは カタカナ ｶﾀｶﾅ ねこの写真',
    'hangul': '안녕하세요 고양이 사진 ᄀᄂ',
    'arabic': 'مرحبا بالعالم صورة قطة',
    'misc_scripts': 'Привет мир Γειά σου κόσμε שלום עולם नमस्ते ไทย',
    # lengths and repetitions
    'long_word': 'a' * 201,
    'long_word_200': 'b' * 200,
    'long_word_mixed': 'pneumonoultramicroscopicsilicovolcanoconiosis' * 5,
    'long_text_zh': '这是一个非常长的句子' * 12,
    'long_text_en': ' '.join(['photograph'] * 80),
    'repeated': '哈哈哈哈哈哈 !!!!!! ?????? aaaaaaa ........',
    # literal special-looking text
    'hashes': '##ing ## # ### a##b',
    'special_literals': '[UNK] [CLS] [SEP] [PAD] [MASK] <s> </s> [unused1]',
    'brackets_sym': '$100 ^_^ `code` ~tilde~ @user #tag 50% a+b=c |x| \\n',
    'surrogate': 'a\ud800b 猫',
    'unmatchable': '\u0f3a\u0f3b xyzzy\U0001f9ff\U0010fffd',
}

HOSTILE_IDS = sorted(HOSTILE_TEXTS)


@pytest.fixture(scope='module')
def tokenizer():
    return ChineseTokenizer()


@pytest.fixture(scope='module')
def cn_clip_tokenize():
    cn_clip = pytest.importorskip('cn_clip')
    from cn_clip.clip import tokenize as ref_tokenize
    del cn_clip
    return ref_tokenize


@pytest.fixture(scope='module')
def hf_tokenizer(tmp_path_factory):
    transformers = pytest.importorskip('transformers')
    vocab_dir = tmp_path_factory.mktemp('hf_vocab')
    shutil.copy(DEFAULT_VOCAB_FILE, vocab_dir / 'vocab.txt')
    return transformers.BertTokenizerFast.from_pretrained(
        str(vocab_dir), do_lower_case=True)


# --------------------------------------------------------------------------
# vocabulary
# --------------------------------------------------------------------------
def test_vocab_file(tokenizer):
    with open(DEFAULT_VOCAB_FILE, encoding='utf-8') as handle:
        assert sum(1 for _ in handle) == 21128
    assert tokenizer.vocab_size == 21128
    assert tokenizer.vocab['[PAD]'] == tokenizer.pad_id == 0
    assert tokenizer.vocab['[UNK]'] == tokenizer.unk_id == 100
    assert tokenizer.vocab['[CLS]'] == tokenizer.cls_id == 101
    assert tokenizer.vocab['[SEP]'] == tokenizer.sep_id == 102
    assert tokenizer.vocab['[MASK]'] == 103
    assert tokenizer.vocab['的'] == 4638
    assert tokenizer.context_length == 52


def test_vocab_matches_cn_clip(tokenizer, cn_clip_tokenize):
    from cn_clip.clip import _tokenizer
    assert dict(_tokenizer.vocab) == tokenizer.vocab


def test_custom_vocab_file(tmp_path):
    vocab = tmp_path / 'vocab.txt'
    vocab.write_text(
        '\n'.join(['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'un', '##aff',
                   '##able', 'a']) + '\n',
        encoding='utf-8')
    tok = ChineseTokenizer(vocab, context_length=8)
    assert tok.tokenize_to_ids('Unaffable a unable unab') == [
        4, 5, 6, 7, 4, 6, 1]
    assert tok('a').tolist() == [[2, 7, 3, 0, 0, 0, 0, 0]]
    vocab.write_text('[PAD]\n[CLS]\n[SEP]\n', encoding='utf-8')
    with pytest.raises(ValueError, match=r'\[UNK\]'):
        ChineseTokenizer(vocab)


# --------------------------------------------------------------------------
# parity with the official cn_clip tokenizer
# --------------------------------------------------------------------------
@pytest.mark.parametrize('name', HOSTILE_IDS)
def test_parity_cn_clip_each(name, cn_clip_tokenize):
    text = HOSTILE_TEXTS[name]
    expected = cn_clip_tokenize(text)
    actual = tokenize(text)
    assert actual.dtype == torch.long
    assert actual.shape == (1, 52)
    assert torch.equal(actual, expected), (name, actual, expected)


def test_parity_cn_clip_batch(cn_clip_tokenize):
    texts = [HOSTILE_TEXTS[name] for name in HOSTILE_IDS]
    assert torch.equal(tokenize(texts), cn_clip_tokenize(texts))
    # tuples are accepted like lists
    assert torch.equal(tokenize(tuple(texts)), cn_clip_tokenize(texts))


def test_parity_cn_clip_fuzz(cn_clip_tokenize):
    """Seeded random strings over all of Unicode mixed with common text."""
    rng = random.Random(20240520)
    common = 'abcXYZ Éé一猫的照片,.!？ \t\n##[]0123'
    texts = []
    for _ in range(400):
        chars = []
        for _ in range(rng.randint(0, 60)):
            if rng.random() < 0.5:
                code_point = rng.randrange(0x110000)
                if 0xD800 <= code_point <= 0xDFFF:
                    code_point = 0x20
                chars.append(chr(code_point))
            else:
                chars.append(rng.choice(common))
        texts.append(''.join(chars))
    assert torch.equal(tokenize(texts), cn_clip_tokenize(texts))


def test_truncation(tokenizer, cn_clip_tokenize):
    text = HOSTILE_TEXTS['long_text_zh']
    ids = tokenizer.tokenize_to_ids(text)
    assert len(ids) == 120
    row = tokenize(text)[0]
    assert row[0] == 101 and row[-1] == 102
    assert row[1:-1].tolist() == ids[:50]
    assert torch.equal(tokenize(text), cn_clip_tokenize(text))


def test_tokenize_to_ids(tokenizer):
    assert tokenizer.tokenize_to_ids('') == []
    assert tokenizer.tokenize_to_ids(' \t\n') == []
    assert tokenizer.tokenize_to_ids('a' * 201) == [100]
    ids = tokenizer.tokenize_to_ids('一只猫')
    assert ids == [tokenizer.vocab[c] for c in '一只猫']
    # tokenizing is memoised but the result must not alias the cache
    ids.append(-1)
    assert tokenizer.tokenize_to_ids('一只猫') == ids[:-1]


@pytest.mark.parametrize('context_length', [2, 3, 5, 16, 52, 77, 128])
def test_context_length_parity(context_length, tokenizer, cn_clip_tokenize):
    texts = [HOSTILE_TEXTS[name] for name in HOSTILE_IDS]
    expected = cn_clip_tokenize(texts, context_length=context_length)
    assert torch.equal(tokenize(texts, context_length=context_length),
                       expected)
    assert torch.equal(tokenizer(texts, context_length=context_length),
                       expected)
    own = ChineseTokenizer(context_length=context_length)
    assert torch.equal(own(texts), expected)


def test_pad_to_longest(tokenizer):
    texts = ['一只猫', '一张非常非常可爱的小狗的照片', 'a photo', '']
    full = tokenizer(texts)
    short = tokenizer(texts, pad_to_longest=True)
    longest = max(len(tokenizer.tokenize_to_ids(t)) for t in texts) + 2
    assert short.shape == (4, longest)
    assert short.dtype == torch.long
    assert torch.equal(short, full[:, :longest])
    assert full[:, longest:].eq(0).all()
    # never longer than context_length
    long_texts = [HOSTILE_TEXTS['long_text_zh'], '猫']
    capped = tokenizer(long_texts, context_length=20, pad_to_longest=True)
    assert capped.shape == (2, 20)
    assert torch.equal(capped, tokenizer(long_texts, context_length=20))
    # single string and empty batch
    assert tokenizer('', pad_to_longest=True).tolist() == [[101, 102]]
    assert tokenizer([], pad_to_longest=True).shape == (0, 52)
    assert tokenizer([]).shape == (0, 52)


def test_bad_inputs(tokenizer):
    with pytest.raises(TypeError, match=r'texts\[1\].*int'):
        tokenizer(['ok', 3])
    with pytest.raises(TypeError, match=r'texts\[2\].*bytes'):
        tokenize(['a', 'b', b'bytes'])
    with pytest.raises(TypeError, match=r'texts\[0\].*NoneType'):
        tokenizer([None])
    with pytest.raises(TypeError, match='int'):
        tokenizer(5)
    with pytest.raises(TypeError, match='bytes'):
        tokenizer(b'abc')
    with pytest.raises(TypeError, match='str'):
        tokenizer.tokenize_to_ids(['a'])
    for bad in (1, 0, -3):
        with pytest.raises(ValueError, match='context_length'):
            tokenizer('a', context_length=bad)
        with pytest.raises(ValueError, match='context_length'):
            ChineseTokenizer(context_length=bad)
        with pytest.raises(ValueError, match='context_length'):
            tokenize('a', context_length=bad)
    with pytest.raises(TypeError, match='context_length'):
        tokenizer('a', context_length=5.0)


def test_pickle_roundtrip(tokenizer):
    tokenizer('warm the cache 一只猫')
    clone = pickle.loads(pickle.dumps(tokenizer))
    texts = [HOSTILE_TEXTS[name] for name in HOSTILE_IDS]
    assert torch.equal(clone(texts), tokenizer(texts))


def test_speed_zero_shot_scale():
    """100 classes x 183 templates must tokenize quickly (cold tokenizer)."""
    tok = ChineseTokenizer()
    classes = [f'类别{i}号的物体' for i in range(100)]
    templates = [f'模板{j}：一张{{}}的照片，photo No.{j}。' for j in range(183)]
    texts = [t.format(c) for c in classes for t in templates]
    assert len(texts) == 18300
    start = time.perf_counter()
    out = tok(texts)
    elapsed = time.perf_counter() - start
    assert out.shape == (18300, 52)
    assert elapsed < 5.0, elapsed


# --------------------------------------------------------------------------
# second oracle: HuggingFace BertTokenizerFast on the same vocabulary
# --------------------------------------------------------------------------
# Strings on which BertTokenizerFast differs from cn_clip (the reference):
HF_DISAGREE = {
    # HF WordPiece turns words of more than 100 chars into [UNK]; cn_clip's
    # limit is 200.
    'long_word_200',
    # HF lowercases char by char ('Σ' -> 'σ' always); Python's str.lower()
    # used by cn_clip maps a word-final capital sigma to 'ς'.
    'greek_final_sigma',
    # a lone surrogate cannot be encoded to UTF-8 for the Rust tokenizer.
    'surrogate',
}
HF_IDS = [name for name in HOSTILE_IDS if name not in HF_DISAGREE]


@pytest.mark.parametrize('name', HF_IDS)
def test_parity_hf_fast(name, tokenizer, hf_tokenizer):
    text = HOSTILE_TEXTS[name]
    # split_special_tokens: literal '[CLS]' etc. is plain text for cn_clip.
    expected = hf_tokenizer(
        text, add_special_tokens=False,
        split_special_tokens=True)['input_ids']
    assert tokenizer.tokenize_to_ids(text) == expected


@pytest.mark.parametrize('name', sorted(HF_DISAGREE))
def test_hf_known_disagreements(name, tokenizer, cn_clip_tokenize):
    # the reference (cn_clip) is still matched on these strings
    text = HOSTILE_TEXTS[name]
    assert torch.equal(tokenize(text), cn_clip_tokenize(text))
