"""Conformance: the official honeyhive 1.7.0 client, unmodified, against `hh serve`.

Driven by crates/hh/tests/it/python_conformance.rs, which starts the server and sets
HH_API_URL, HH_API_KEY, HH_PROJECT and HH_GRPC_ENDPOINT. Every scenario sends through
the real client, then asserts through our REST API. Exits non-zero on the first
failed check, printing what differed.
"""

import asyncio
import json
import os
import sys
import time
import urllib.parse
import urllib.request

API = os.environ["HH_API_URL"].rstrip("/")
KEY = os.environ["HH_API_KEY"]
PROJECT = os.environ.get("HH_PROJECT", "conformance")
CHECKS = 0


def check(cond, what, got=None):
    global CHECKS
    CHECKS += 1
    if not cond:
        print(f"FAILED: {what}" + (f"\n  got: {json.dumps(got, indent=1, default=str)[:3000]}" if got is not None else ""), file=sys.stderr)
        sys.exit(1)


def otlp_requests(encoding):
    """Accepted OTLP exports by encoding, from the server's Prometheus metrics."""
    with urllib.request.urlopen(API + "/metrics", timeout=30) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith(f'hh_otlp_requests_total{{encoding="{encoding}"}}'):
                return int(float(line.split()[-1]))
    return 0


def rest(path, query=None):
    url = API + path
    if query:
        url += "?" + urllib.parse.urlencode(query)
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {KEY}"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def flatten_tree(node, out):
    out.append(node)
    for child in node.get("children", []) or []:
        flatten_tree(child, out)
    return out


def session_events(session_id, want, timeout=15.0):
    """GET /v1/sessions/{id} until it holds `want` non-session events; returns (tree, by_name)."""
    deadline = time.time() + timeout
    while True:
        tree = rest(f"/v1/sessions/{session_id}")
        events = [e for e in flatten_tree(tree, []) if e.get("event_type") != "session"]
        if len(events) >= want or time.time() > deadline:
            return tree, {e["event_name"]: e for e in events}
        time.sleep(0.2)


def tracing_scenario(protocol):
    encoding = "protobuf" if protocol == "http/protobuf" else "json"
    before = otlp_requests(encoding)
    os.environ["HH_OTLP_PROTOCOL"] = protocol
    from honeyhive import HoneyHiveTracer, atrace, enrich_span, trace

    tracer = HoneyHiveTracer.init(
        api_key=KEY,
        server_url=API,
        session_name=f"conformance-{protocol}",
        source="conformance",
    )

    @trace(event_type="tool", tracer=tracer)
    def add(a, b):
        enrich_span(metadata={"kind": "leaf"}, metrics={"score": 1.0})
        return a + b

    @trace(event_type="chain", tracer=tracer)
    def outer(x):
        enrich_span(feedback={"liked": True}, user_properties={"uid": "u1"}, config={"temperature": 0.1})
        return add(x, 1) + add(x, 2)

    @atrace(event_type="model", tracer=tracer)
    async def async_model(prompt):
        enrich_span(metrics={"tokens": 3}, config={"model": "fake-1"})
        await asyncio.sleep(0.01)
        return {"completion": prompt.upper()}

    @trace(tracer=tracer)
    def boom(v):
        raise ValueError(f"bad value {v}")

    check(outer(2) == 7, "traced function returns its value")
    check(asyncio.run(async_model("hi")) == {"completion": "HI"}, "async traced function returns its value")
    try:
        boom(7)
        check(False, "traced function re-raises")
    except ValueError:
        pass
    tracer.enrich_session(metadata={"run": "conformance"}, feedback={"rating": 5}, metrics={"m": 0.5},
                          user_properties={"user": "alice"}, outputs={"final": "done"})
    tracer.flush()
    session_id = tracer.session_id
    check(bool(session_id), "tracer has a session id")

    tree, by_name = session_events(session_id, 5)
    check(otlp_requests(encoding) > before, f"{protocol}: the client really exported {encoding}")
    names = sorted(by_name)
    check(any(n.endswith("outer") for n in names), f"{protocol}: outer chain stored", names)
    outer_ev = next(e for n, e in by_name.items() if n.endswith("outer"))
    adds = [e for e in flatten_tree(tree, []) if e.get("event_name", "").endswith("add")]
    check(len(adds) == 2, f"{protocol}: two add events", [e.get("event_name") for e in flatten_tree(tree, [])])
    for a in adds:
        check(a["parent_id"] == outer_ev["event_id"], f"{protocol}: add nested under outer", a)
        check(a["event_type"] == "tool", f"{protocol}: add is a tool", a)
        check(a["metadata"].get("kind") == "leaf", f"{protocol}: enrich_span metadata", a)
        check(a["metrics"].get("score") == 1.0, f"{protocol}: enrich_span metrics", a)
    check(sorted(a["inputs"]["b"] for a in adds) == [1, 2], f"{protocol}: add inputs", adds)
    check(sorted(a["outputs"]["result"] for a in adds) == [3, 4], f"{protocol}: add outputs", adds)
    check(outer_ev["event_type"] == "chain", f"{protocol}: outer is a chain", outer_ev)
    check(outer_ev["inputs"].get("x") == 2, f"{protocol}: outer inputs", outer_ev)
    check(outer_ev["outputs"].get("result") == 7, f"{protocol}: outer output", outer_ev)
    check(outer_ev["feedback"].get("liked") is True, f"{protocol}: outer feedback", outer_ev)
    check(outer_ev["user_properties"].get("uid") == "u1", f"{protocol}: outer user_properties", outer_ev)
    check(outer_ev["config"].get("temperature") == 0.1, f"{protocol}: outer config", outer_ev)
    model = next(e for n, e in by_name.items() if n.endswith("async_model"))
    check(model["event_type"] == "model", f"{protocol}: async_model is a model event", model)
    check(model["outputs"]["result"] == {"completion": "HI"}, f"{protocol}: async output", model)
    check(model["config"].get("model") == "fake-1", f"{protocol}: async config", model)
    errs = [e for e in flatten_tree(tree, []) if e.get("error")]
    check(any("bad value 7" in e["error"] for e in errs), f"{protocol}: raising fn recorded an error", errs)
    check(tree["event_type"] == "session", f"{protocol}: root is the session", tree)
    check(tree["metadata"].get("run") == "conformance", f"{protocol}: enrich_session metadata", tree)
    check(tree["feedback"].get("rating") == 5, f"{protocol}: enrich_session feedback", tree)
    check(tree["metrics"].get("m") == 0.5, f"{protocol}: enrich_session metrics", tree)
    check(tree["outputs"].get("final") == "done", f"{protocol}: enrich_session outputs", tree)
    check(tree["metadata"].get("num_events", 0) >= 5, f"{protocol}: session roll-up num_events", tree["metadata"])
    check(tree["metadata"].get("num_model_events") == 1, f"{protocol}: session roll-up num_model_events", tree["metadata"])

    # The same events through the filtered query API.
    got = rest("/events", {"filters": json.dumps([
        {"field": "session_id", "operator": "is", "value": session_id, "type": "string"},
        {"field": "event_type", "operator": "is", "value": "tool", "type": "string"},
    ])})
    tools = [e for e in got["events"] if e.get("event_name", "").endswith("add")]
    check(len(tools) == 2, f"{protocol}: GET /events filters by session and type", got)
    return session_id


def app(datapoint):
    from honeyhive import trace

    @trace(event_type="tool")
    def helper(q):
        return q.upper()

    return {"answer": helper(datapoint["inputs"]["question"])}


def exact_match(outputs, inputs, ground_truth):
    return 1.0 if outputs["answer"] == ground_truth["answer"] else 0.0


def length_check(outputs, inputs, ground_truth):
    return {"score": len(outputs["answer"]), "explanation": "answer length"}


DATASET = [
    {"inputs": {"question": "abc"}, "ground_truth": {"answer": "ABC"}},
    {"inputs": {"question": "hello"}, "ground_truth": {"answer": "HELLO!"}},
    {"inputs": {"question": "x"}, "ground_truth": {"answer": "X"}},
]


def experiments_scenario():
    from honeyhive import HoneyHive, evaluate
    from honeyhive.experiments import compare_runs

    first = evaluate(function=app, dataset=DATASET, evaluators=[exact_match, length_check],
                     api_key=KEY, server_url=API, name="conformance-exp", max_workers=2, print_results=False)
    run1 = getattr(first, "run_id", None)
    check(bool(run1), "evaluate() returns a run id", str(first))
    result = rest(f"/v1/runs/{run1}/result", {"aggregate_function": "average"})
    metrics = result["metrics"]
    by_name = {m["metric_name"]: m for m in metrics.get("details", [])} if isinstance(metrics, dict) else {}
    check("exact_match" in by_name and "length_check" in by_name, "run result has both evaluator metrics", result)
    check(abs(by_name["exact_match"]["aggregate"] - 2 / 3) < 1e-9, "exact_match average is 2/3", by_name)
    check(abs(by_name["length_check"]["aggregate"] - 3.0) < 1e-9, "length_check average is (3+5+1)/3", by_name)
    check(len(result["datapoints"]) == 3, "three datapoints in the result", result)
    check(result["status"] == "completed", "run is completed", result)
    # No passing ranges are configured, so every numeric score passes: all three datapoints pass.
    check(len(result["passed"]) == 3 and result["failed"] == [], "all three datapoints passed", result)
    check(all(d.startswith("EXT-") for d in result["passed"]), "inline datapoints carry EXT- ids", result["passed"])
    check(sorted(d["datapoint_id"] for d in result["datapoints"]) == sorted(result["passed"]),
          "per-datapoint results name the same datapoints", result["datapoints"])
    summed = rest(f"/v1/runs/{run1}/result", {"aggregate_function": "sum"})
    sums = {m["metric_name"]: m for m in summed["metrics"]["details"]}
    check(abs(sums["length_check"]["aggregate"] - 9.0) < 1e-9, "length_check sum is 9", sums)

    def better_app(datapoint):
        return {"answer": datapoint["ground_truth"]["answer"]}

    second = evaluate(function=better_app, dataset=DATASET, evaluators=[exact_match, length_check],
                      api_key=KEY, server_url=API, name="conformance-exp-2", max_workers=2, print_results=False)
    run2 = second.run_id
    client = HoneyHive(api_key=KEY, server_url=API)
    cmp = compare_runs(client, new_run_id=run2, old_run_id=run1)
    check(cmp.common_datapoints == 3, "compare_runs finds the 3 common datapoints", vars(cmp))
    delta = cmp.get_metric_delta("exact_match")
    check(delta is not None and abs(delta["new_aggregate"] - 1.0) < 1e-9 and abs(delta["old_aggregate"] - 2 / 3) < 1e-9,
          "exact_match improved from 2/3 to 1", delta)
    check(delta["improved_count"] == 1, "one datapoint improved on exact_match", delta)
    return run1, run2


def otel_scenario(kind):
    """A plain OpenTelemetry exporter (no honeyhive package) sending gen_ai.* spans."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    transport = "protobuf" if kind == "http" else "grpc"
    before = otlp_requests(transport)
    if kind == "http":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        exporter = OTLPSpanExporter(endpoint=f"{API}/v1/traces", headers={"Authorization": f"Bearer {KEY}"})
    else:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        exporter = OTLPSpanExporter(endpoint=os.environ["HH_GRPC_ENDPOINT"], insecure=True,
                                    headers=(("authorization", f"Bearer {KEY}"),))
    provider = TracerProvider(resource=Resource.create({"service.name": f"otel-{kind}"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("conformance")
    with tracer.start_as_current_span("invoke_agent support") as root:
        root.set_attribute("gen_ai.operation.name", "invoke_agent")
        trace_id = format(root.get_span_context().trace_id, "032x")
        with tracer.start_as_current_span("chat gpt-4o-mini") as llm:
            llm.set_attribute("gen_ai.operation.name", "chat")
            llm.set_attribute("gen_ai.system", "openai")
            llm.set_attribute("gen_ai.request.model", "gpt-4o-mini")
            llm.set_attribute("gen_ai.usage.input_tokens", 1000)
            llm.set_attribute("gen_ai.usage.output_tokens", 500)
    provider.shutdown()
    check(otlp_requests(transport) == before + 2, f"otel {kind}: both spans exported as {transport}")
    got = rest("/events", {"filters": json.dumps([
        {"field": "event_name", "operator": "is", "value": "chat gpt-4o-mini", "type": "string"},
        {"field": "config.model", "operator": "is", "value": "gpt-4o-mini", "type": "string"},
    ]), "limit": 100})
    mine = [e for e in got["events"] if e.get("metadata", {}).get("prompt_tokens") == 1000]
    check(len(mine) >= 1, f"otel {kind}: gen_ai span stored as an event", got)
    ev = mine[-1]
    check(ev["event_type"] == "model", f"otel {kind}: chat is a model event", ev)
    check(ev["metadata"].get("completion_tokens") == 500, f"otel {kind}: completion tokens", ev)
    check(ev["metadata"].get("cost", 0) > 0, f"otel {kind}: cost from the price table", ev)
    return trace_id


def main():
    json_session = tracing_scenario("http/json")
    pb_session = tracing_scenario("http/protobuf")
    check(json_session != pb_session, "two tracer sessions are distinct")
    run1, run2 = experiments_scenario()
    otel_scenario("http")
    otel_scenario("grpc")
    print(f"conformance: {CHECKS} checks passed (sessions {json_session}, {pb_session}; runs {run1}, {run2})")


if __name__ == "__main__":
    main()
