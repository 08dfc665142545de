// The GraphQL explorer: sends the query and variables to POST /graphql with
// the key kept in this tab's sessionStorage, and shows the answer as text.
// Everything the server returns is shown through textContent, never parsed
// as markup.
"use strict";

(function () {
  const KEY = "hh.graphql.key";
  const QUERY = "hh.graphql.query";
  const VARIABLES = "hh.graphql.variables";
  const byId = (id) => document.getElementById(id);
  const key = byId("key");
  const query = byId("query");
  const variables = byId("variables");
  const result = byId("result");
  const status = byId("status");

  key.value = sessionStorage.getItem(KEY) || "";
  query.value = sessionStorage.getItem(QUERY) || query.value;
  variables.value = sessionStorage.getItem(VARIABLES) || variables.value;
  key.addEventListener("input", () => sessionStorage.setItem(KEY, key.value.trim()));
  query.addEventListener("input", () => sessionStorage.setItem(QUERY, query.value));
  variables.addEventListener("input", () => sessionStorage.setItem(VARIABLES, variables.value));

  function say(text, failed) {
    status.textContent = text;
    status.className = failed ? "failed" : "";
  }

  // Posts one query; resolves to the parsed answer and the HTTP status.
  async function post(body) {
    const headers = { "Content-Type": "application/json" };
    if (key.value.trim()) {
      headers.Authorization = "Bearer " + key.value.trim();
    }
    const response = await fetch("/graphql", {
      method: "POST",
      headers,
      body: JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
    const text = await response.text();
    let answer;
    try {
      answer = JSON.parse(text);
    } catch (_) {
      answer = text;
    }
    return { status: response.status, answer };
  }

  async function run() {
    let vars = {};
    const written = variables.value.trim();
    if (written) {
      try {
        vars = JSON.parse(written);
      } catch (e) {
        say("the variables are not JSON: " + e.message, true);
        return;
      }
    }
    say("running…", false);
    const started = performance.now();
    try {
      const { status: code, answer } = await post({ query: query.value, variables: vars });
      const ms = Math.round(performance.now() - started);
      result.textContent = typeof answer === "string" ? answer : JSON.stringify(answer, null, 2);
      const failed = code !== 200 || (answer && answer.errors && answer.errors.length > 0);
      say("HTTP " + code + " in " + ms + " ms" + (failed ? ", with errors" : ""), failed);
    } catch (e) {
      say("the request failed: " + e.message, true);
    }
  }

  // Introspection, within the server's depth limit.
  const SCHEMA_QUERY = `{
  __schema {
    queryType { name }
    subscriptionType { name }
    types {
      name kind description
      enumValues { name }
      possibleTypes { name }
      fields { name args { name type { ...T } } type { ...T } }
    }
  }
}
fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }`;

  function typeName(t) {
    if (!t) return "?";
    if (t.kind === "NON_NULL") return typeName(t.ofType) + "!";
    if (t.kind === "LIST") return "[" + typeName(t.ofType) + "]";
    return t.name;
  }

  function describe(schema) {
    const lines = [];
    const types = schema.types.filter((t) => !t.name.startsWith("__"));
    const order = { OBJECT: 0, UNION: 1, ENUM: 2, SCALAR: 3 };
    types.sort((a, b) => (order[a.kind] - order[b.kind]) || a.name.localeCompare(b.name));
    for (const t of types) {
      if (t.description) {
        lines.push("# " + t.description.split("\n").join("\n# "));
      }
      if (t.kind === "OBJECT") {
        lines.push("type " + t.name + " {");
        for (const f of t.fields || []) {
          const args = f.args.length
            ? "(" + f.args.map((a) => a.name + ": " + typeName(a.type)).join(", ") + ")"
            : "";
          lines.push("  " + f.name + args + ": " + typeName(f.type));
        }
        lines.push("}");
      } else if (t.kind === "UNION") {
        lines.push("union " + t.name + " = " + t.possibleTypes.map((p) => p.name).join(" | "));
      } else if (t.kind === "ENUM") {
        lines.push("enum " + t.name + " { " + t.enumValues.map((v) => v.name).join(" ") + " }");
      } else if (t.kind === "SCALAR") {
        lines.push("scalar " + t.name);
      }
      lines.push("");
    }
    return lines.join("\n");
  }

  async function showSchema() {
    say("reading the schema…", false);
    try {
      const { status: code, answer } = await post({ query: SCHEMA_QUERY });
      if (code !== 200 || !answer || !answer.data) {
        result.textContent = typeof answer === "string" ? answer : JSON.stringify(answer, null, 2);
        say("HTTP " + code + ": the schema could not be read", true);
        return;
      }
      result.textContent = describe(answer.data.__schema);
      say("the schema", false);
    } catch (e) {
      say("the request failed: " + e.message, true);
    }
  }

  byId("run").addEventListener("click", run);
  byId("schema").addEventListener("click", showSchema);
  document.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      run();
    }
  });
})();
