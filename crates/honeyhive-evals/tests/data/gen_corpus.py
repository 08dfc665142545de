#!/usr/bin/env python3
"""Generates rouge_bleu_corpus.jsonl: (prediction, reference) pairs for the ROUGE/BLEU
fidelity test, and stemmer_words.txt: words for the Porter stemmer check. Deterministic (fixed seed, no dependencies): re-running it must
reproduce the committed file byte for byte.

    python3 crates/honeyhive-evals/tests/data/gen_corpus.py
"""
import json
import os
import random


# Hand-written edge cases first: empties, punctuation, case, Unicode, tokenizer traps.
HAND = [
    ("", ""),
    ("", "the reference is here"),
    ("a prediction with no reference", ""),
    ("   ", "\t\n"),
    ("The cat sat on the mat.", "The cat sat on the mat."),
    ("the cat sat on the mat", "The Cat Sat On The Mat"),
    ("THE CAT!!!", "the cat?"),
    ("Hello, world!", "Hello world"),
    ("It costs $3.50, or 3,50 EUR.", "It costs $3.50 (about 3,50 EUR)."),
    ("1,000,000 people; 2.5% growth.", "1.000.000 people: 2.5 % growth"),
    ("state-of-the-art models in 2023-2024", "state of the art models in 2023 - 2024"),
    ("e-mail me at foo@bar.com!", "email me at foo @ bar . com"),
    ("Tom &amp; Jerry &quot;classic&quot; &lt;3", "Tom & Jerry \"classic\" <3"),
    ("this is <skipped> text", "this is text"),
    ("hyphen-\nated line\nbreak", "hyphenated line break"),
    ("tabs\tand\nnewlines\r\nmixed", "tabs and newlines mixed"),
    ("Café crème brûlée", "cafe creme brulee"),
    ("naïve résumé façade", "naive resume facade"),
    ("İstanbul is big", "istanbul is big"),
    ("\u212a is the Kelvin sign", "K is the Kelvin sign"),
    ("Straße und Fuß", "strasse und fuss"),
    ("日本語のテキストです。", "日本語のテキスト"),
    ("中文 测试 句子", "中文 测试"),
    ("Привет, мир!", "привет мир"),
    ("Γειά σου Κόσμε", "γειά σου κόσμε"),
    ("emoji 🎉 party 🎉🎉", "emoji party 🎉"),
    ("mixed ascii and 한국어 words", "mixed ascii and words"),
    ("zero\u200bwidth joiner", "zero width joiner"),
    ("non\u00a0breaking space", "non breaking space"),
    ("file\u001cseparator\u001dgroup", "file separator group"),
    ("ﬁne ligature ﬂow", "fine ligature flow"),
    ("ＦＵＬＬＷＩＤＴＨ letters", "fullwidth letters"),
    ("...", "!!!"),
    ("a", "a"),
    ("a", "b"),
    ("the the the the", "the"),
    ("the", "the the the the"),
    ("running runs ran runner", "run running runs"),
    ("generalizations are hopefully conditional", "generalization is hopeful condition"),
    ("skies dying lying tying news innings", "sky die lie tie news inning"),
    ("flies spied tried agreed feed", "fly spy try agree feeding"),
    ("relational rationalization sensibility", "relate rational sensible"),
    ("controlling rolling falling hopping", "control roll fall hop"),
    ("analogously electrical formalize", "analogous electric formal"),
    ("'quoted' words and \"double quotes\"", "quoted words and double quotes"),
    ("end with space period .", "end with space period."),
    ("Dr. Smith vs. Mr. Jones, Ph.D.", "Dr Smith versus Mr Jones PhD"),
    ("version 3.10.4 released!", "version 3.10.4 is released"),
    ("x=1+2*3/4", "x = 1 + 2 * 3 / 4"),
    ("[brackets] {braces} (parens)", "brackets braces parens"),
    ("under_score and back\\slash", "under score and back slash"),
    ("trailing whitespace   \u3000", "trailing whitespace"),
    ("123 456 789", "123 456 789 0"),
    ("3.14159 is pi, 2.71828 is e.", "pi is 3.14159 and e is 2.71828"),
]

STEMS = [
    "nation", "relate", "condition", "valence", "hesitate", "digitize", "conform",
    "radical", "different", "vile", "analogous", "vietnam", "predicate", "operate",
    "feudal", "decisive", "hope", "callous", "formal", "sensitive", "sensible",
    "trouble", "size", "hop", "tan", "fall", "hiss", "fizz", "fail", "file",
    "happy", "sky", "enjoy", "triple", "electric", "good", "revive", "allow",
    "infer", "airline", "gyroscope", "adjust", "defend", "irritate", "replace",
    "depend", "adopt", "homology", "commune", "activate", "angular", "effect",
    "bowdler", "probate", "rate", "cease", "control", "roll", "agree", "plaster",
    "bleed", "motor", "sing", "conflate", "cry", "die", "ply", "generous", "happen",
]
SUFFIXES = [
    "", "s", "es", "ies", "ed", "ing", "ly", "ness", "ful", "fully", "ation",
    "ational", "tional", "ization", "izer", "ism", "ist", "ity", "ive", "iveness",
    "ousness", "ousli", "alli", "entli", "eli", "bli", "logi", "ance", "ence",
    "ment", "ement", "able", "ible", "ant", "ent", "er", "ic", "ical", "icate",
    "ative", "alize", "iciti", "ate", "iti", "ous", "ize", "al", "eed", "ied",
]
WORDS = (
    "the a an of to in on for with by from at as is was are were be been it this that "
    "model answer question data system user agent tool call response quality score "
    "evaluation test result value error latency token cost prompt output input metric "
    "paris france london city river mountain cat dog bird fish tree house car road "
    "quickly slowly carefully happily nearly always never often sometimes really"
).split()
PUNCT = [",", ".", "!", "?", ";", ":", "-", "--", "'", "\"", "(", ")", "...", "/", "&", "%", "$"]
UNICODE = ["é", "ü", "ß", "İ", "ç", "ñ", "日本", "🎉", "—", "…", "«", "»", "\u00a0", "\u212a", "Ω"]


def word(rng):
    r = rng.random()
    if r < 0.35:
        return rng.choice(STEMS) + rng.choice(SUFFIXES)
    if r < 0.9:
        return rng.choice(WORDS)
    return str(rng.randint(0, 2000)) + rng.choice(["", ".5", ",000", "%", "-3"])


def sentence(rng, n):
    out = []
    for _ in range(n):
        w = word(rng)
        r = rng.random()
        if r < 0.15:
            w = w.capitalize()
        elif r < 0.2:
            w = w.upper()
        if rng.random() < 0.15:
            w = w + rng.choice(PUNCT)
        if rng.random() < 0.05:
            w = rng.choice(UNICODE) + w if rng.random() < 0.5 else w + rng.choice(UNICODE)
        out.append(w)
    sep = " " if rng.random() < 0.9 else rng.choice(["  ", "\t", "\n", " \u00a0"])
    return sep.join(out) + rng.choice(["", ".", "!", "?", " .", "..."])


def perturb(rng, text):
    tokens = text.split(" ")
    ops = rng.randint(0, 4)
    for _ in range(ops):
        if not tokens:
            break
        op = rng.random()
        i = rng.randrange(len(tokens))
        if op < 0.3:
            tokens.pop(i)
        elif op < 0.55:
            tokens.insert(i, word(rng))
        elif op < 0.75:
            j = rng.randrange(len(tokens))
            tokens[i], tokens[j] = tokens[j], tokens[i]
        elif op < 0.9:
            tokens[i] = tokens[i].lower() if rng.random() < 0.5 else tokens[i].upper()
        else:
            tokens[i] = word(rng)
    return " ".join(tokens)


def main():
    rng = random.Random(7)
    pairs = list(HAND)
    # Short and medium pairs: a reference and a perturbed copy (overlap is high).
    for _ in range(150):
        ref = sentence(rng, rng.randint(1, 30))
        pairs.append((perturb(rng, ref), ref))
    # Unrelated pairs: little or no overlap.
    for _ in range(20):
        pairs.append((sentence(rng, rng.randint(1, 15)), sentence(rng, rng.randint(1, 15))))
    # Long texts: several hundred to a few thousand tokens.
    for n in (300, 800, 1500, 2500):
        ref = sentence(rng, n)
        pairs.append((perturb(rng, ref), ref))
        pairs.append((sentence(rng, n // 2), ref))
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rouge_bleu_corpus.jsonl")
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for prediction, reference in pairs:
            f.write(json.dumps({"prediction": prediction, "reference": reference}, ensure_ascii=False) + "\n")
    print(f"wrote {len(pairs)} pairs to {path}")
    # Every stem+suffix combination, for the stemmer's own fidelity check.
    words = sorted({stem + suffix for stem in STEMS for suffix in SUFFIXES} | set(WORDS))
    with open(os.path.join(os.path.dirname(path), "stemmer_words.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(words) + "\n")


if __name__ == "__main__":
    main()
