// The query page: run a query against /sparql, show the answer as a table with links, offer downloads.
(function () {
  const form = document.getElementById("query-form");
  const textarea = document.getElementById("query");
  const results = document.getElementById("results");
  const status = document.getElementById("status");
  const examples = JSON.parse(document.getElementById("example-data").textContent);
  const base = "https://w3id.org/citydiplomacy/";

  document.getElementById("examples").addEventListener("change", (event) => {
    const example = examples[event.target.value];
    if (example) textarea.value = example.text;
  });

  function queryUrl(format) {
    const params = new URLSearchParams({ query: textarea.value });
    if (format) { params.set("format", format); params.set("download", "1"); }
    return form.action + "?" + params.toString();
  }
  for (const link of document.querySelectorAll("a.download")) {
    link.addEventListener("click", (event) => { event.preventDefault(); window.location = queryUrl(link.dataset.format); });
  }
  document.getElementById("permalink").addEventListener("click", (event) => {
    event.preventDefault();
    const url = window.location.pathname + "?" + new URLSearchParams({ query: textarea.value }).toString();
    history.replaceState(null, "", url);
    status.textContent = "The address bar now holds a link to this query.";
  });

  function cell(term) {
    const td = document.createElement("td");
    if (!term) return td;
    if (term.type === "uri") {
      const a = document.createElement("a");
      // Only our IRIs and http(s) IRIs become links: a javascript: IRI in the data must stay text.
      a.href = term.value.startsWith(base) ? "/" + term.value.slice(base.length)
        : /^https?:\/\//.test(term.value) ? term.value : "#";
      a.textContent = term.value.startsWith(base) ? term.value.slice(base.length) : term.value;
      td.appendChild(a);
    } else {
      td.textContent = term.value;
      if (term["xml:lang"]) { td.lang = term["xml:lang"]; td.title = "@" + term["xml:lang"]; }
    }
    return td;
  }

  function table(data) {
    const t = document.createElement("table");
    t.className = "results";
    const head = t.createTHead().insertRow();
    for (const v of data.head.vars) { const th = document.createElement("th"); th.textContent = v; head.appendChild(th); }
    const body = t.createTBody();
    for (const b of data.results.bindings) {
      const row = body.insertRow();
      for (const v of data.head.vars) row.appendChild(cell(b[v]));
    }
    return t;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    status.textContent = "Running…";
    results.replaceChildren();
    const started = performance.now();
    const response = await fetch(form.action, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded",
                 "Accept": "application/sparql-results+json, text/turtle;q=0.9" },
      body: new URLSearchParams({ query: textarea.value }),
    });
    const elapsed = Math.round(performance.now() - started);
    const type = response.headers.get("Content-Type") || "";
    if (!response.ok) {
      const problem = await response.json().catch(() => ({ detail: response.statusText }));
      const pre = document.createElement("pre"); pre.className = "problem";
      pre.textContent = (problem.title || "Error") + ": " + problem.detail +
        (problem.line ? "\n(line " + problem.line + ", column " + problem.column + ")" : "");
      results.appendChild(pre);
      status.textContent = response.status + " after " + elapsed + " ms";
      return;
    }
    if (type.startsWith("application/sparql-results+json")) {
      const data = await response.json();
      if ("boolean" in data) {
        results.textContent = "Answer: " + data.boolean;
      } else {
        results.appendChild(table(data));
        const cap = response.headers.get("X-SPARQL-MaxRows");
        status.textContent = data.results.bindings.length + " rows in " + elapsed + " ms" +
          (cap && data.results.bindings.length >= Number(cap) ? " (capped at " + cap + " rows)" : "");
        return;
      }
    } else {
      const pre = document.createElement("pre"); pre.textContent = await response.text(); results.appendChild(pre);
    }
    status.textContent = elapsed + " ms";
  });
})();
