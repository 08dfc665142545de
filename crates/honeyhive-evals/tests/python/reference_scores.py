"""Reference ROUGE / BLEU scores for the fidelity test.

Reads JSON lines {"prediction", "reference"} on stdin; writes one JSON line per
pair with rouge-score's F-measures (stemmer off and on) and sacrebleu's
sentence_bleu score, all with the libraries' defaults.
"""
import json
import sys

import sacrebleu
from rouge_score import rouge_scorer

TYPES = ["rouge1", "rouge2", "rougeL"]
plain = rouge_scorer.RougeScorer(TYPES, use_stemmer=False)
stemmed = rouge_scorer.RougeScorer(TYPES, use_stemmer=True)

for line in sys.stdin:
    pair = json.loads(line)
    prediction, reference = pair["prediction"], pair["reference"]
    out = {}
    for name, scorer in (("", plain), ("_stem", stemmed)):
        scores = scorer.score(reference, prediction)
        for t in TYPES:
            out[t + name] = scores[t].fmeasure
    out["bleu"] = sacrebleu.sentence_bleu(prediction, [reference]).score
    sys.stdout.write(json.dumps(out) + "\n")
