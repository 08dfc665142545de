"""Parity: the official honeyhive 1.7.0 `evaluate()` over the dataset and evaluators
that crates/hh/tests/it/experiments_parity.rs also runs through the Rust SDK.

Driven by experiments_parity.rs, which starts `hh serve` and sets HH_API_URL and
HH_API_KEY. Prints one JSON line: {"run_id": ...}. Keep DATASET and the evaluators
in step with the Rust test.
"""

import json
import os

from honeyhive import evaluate, trace

API = os.environ["HH_API_URL"].rstrip("/")
KEY = os.environ["HH_API_KEY"]

DATASET = [
    {"inputs": {"question": "abc"}, "ground_truth": {"answer": "ABC"}},
    {"inputs": {"question": "hello"}, "ground_truth": {"answer": "HELLO!"}},
    {"inputs": {"question": "x"}, "ground_truth": {"answer": "X"}},
    {"inputs": {"question": "Größe ✓"}, "ground_truth": {"answer": "GRÖSSE ✓"}, "id": "unicode"},
    {"inputs": {"question": "fail"}, "ground_truth": {"answer": "FAIL"}},
    {"inputs": {"question": "nums", "weights": [0.5, 1e-05, 3]}},
]


def app(datapoint):
    @trace(event_type="tool")
    def helper(q):
        return q.upper()

    question = datapoint["inputs"]["question"]
    if question == "fail":
        raise ValueError("cannot answer")
    return {"answer": helper(question)}


def exact_match(outputs, inputs, ground_truth=None):
    if ground_truth is None:
        return None
    return 1.0 if outputs["answer"] == ground_truth["answer"] else 0.0


def length_check(outputs, inputs, ground_truth=None):
    n = len(outputs["answer"])
    return {"score": n, "explanation": "answer length", "long_enough": n > 2}


def is_upper(outputs, inputs, ground_truth=None):
    return outputs["answer"] == outputs["answer"].upper()


def main():
    result = evaluate(
        function=app,
        dataset=DATASET,
        evaluators=[exact_match, length_check, is_upper],
        api_key=KEY,
        server_url=API,
        name="parity-python",
        max_workers=3,
        print_results=False,
    )
    print(json.dumps({"run_id": result.run_id}))


if __name__ == "__main__":
    main()
