/* Search on the activities page, in the browser, with MiniSearch.
   Chinese is matched like Ctrl+F: Han text is indexed as single characters and overlapping
   bigrams (no word segmentation, which disagrees with what readers type), and every hit is then
   confirmed to contain the query as a substring. English words match by prefix with typo tolerance.
   The page lists every activity without JavaScript; this only filters and ranks that list. */
(function () {
  "use strict";
  var form = document.getElementById("search");
  if (!form) return;
  var input = form.querySelector("#q");
  var agencySelect = form.querySelector("#agency");
  var topicSelect = form.querySelector("#topic");
  var status = document.getElementById("search-status");
  var results = document.getElementById("search-results");
  var fullList = document.getElementById("all-activities");
  var text = form.dataset;
  var HAN = /[\u3400-\u9fff\uf900-\ufaff]/;
  var TOKENS = /[\u3400-\u9fff\uf900-\ufaff]+|[\p{L}\p{N}]+/gu;
  var NOISE = /[\s\p{P}\p{S}]+/gu;
  var data = null, index = null, loading = null, composing = false, timer = 0;

  /* Han runs → characters + bigrams; other runs → lowercase words. */
  function tokenize(string) {
    var out = [];
    (string.match(TOKENS) || []).forEach(function (run) {
      if (!HAN.test(run)) { out.push(run.toLowerCase()); return; }
      for (var i = 0; i < run.length; i++) {
        out.push(run[i]);
        if (i + 1 < run.length) out.push(run.slice(i, i + 2));
      }
    });
    return out;
  }
  function normalize(string) { return string.toLowerCase().replace(NOISE, ""); }

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = src; script.onload = resolve; script.onerror = reject;
      document.head.appendChild(script);
    });
  }

  /* The library and the data are fetched when the reader first uses the search, not before. */
  function ensureIndex() {
    if (!loading) {
      loading = Promise.all([loadScript(text.library), fetch(text.index).then(function (r) { return r.json(); })])
        .then(function (loaded) {
          data = loaded[1];
          data.activities.forEach(function (a) {
            a.agencyName = data.agencies[a.agency].name;
            a.haystack = normalize(a.title + " " + a.agencyName + " " + a.text);
          });
          index = new window.MiniSearch({
            idField: "number", fields: ["title", "agencyName", "text"], tokenize: tokenize,
            processTerm: function (term) { return term.toLowerCase(); },
            searchOptions: {
              boost: { title: 3, agencyName: 2 }, combineWith: "AND", tokenize: tokenize,
              prefix: function (term) { return !HAN.test(term); },
              fuzzy: function (term) { return !HAN.test(term) && term.length > 3 ? 0.2 : false; }
            }
          });
          index.addAll(data.activities);
        });
    }
    return loading;
  }

  function readState() {
    var params = new URLSearchParams(window.location.search);
    return { q: params.get("q") || "", agency: params.get("agency") || "", topic: params.get("topic") || "" };
  }
  function formState() {
    return { q: input.value.trim(), agency: agencySelect.value, topic: topicSelect.value };
  }
  function fillForm(state) {
    input.value = state.q;
    agencySelect.value = state.agency;
    topicSelect.value = state.topic;
  }
  function stateUrl(state) {
    var params = new URLSearchParams();
    ["q", "agency", "topic"].forEach(function (key) { if (state[key]) params.set(key, state[key]); });
    var query = params.toString();
    return window.location.pathname + (query ? "?" + query : "");
  }

  function find(state) {
    var byNumber = {};
    data.activities.forEach(function (a) { byNumber[a.number] = a; });
    var hits;
    if (state.q) {
      var needles = state.q.split(/\s+/).filter(HAN.test.bind(HAN)).map(normalize);
      hits = index.search(state.q).map(function (hit) { return byNumber[hit.id]; }).filter(function (a) {
        return needles.every(function (needle) { return a.haystack.indexOf(needle) !== -1; });
      });
    } else {
      hits = data.activities.slice();
    }
    return hits.filter(function (a) {
      return (!state.agency || data.agencies[a.agency].slug === state.agency) &&
        (!state.topic || a.topics.indexOf(state.topic) !== -1);
    });
  }

  /* Terms to highlight: the Chinese parts of the query as typed, and the English words. */
  function highlighter(query) {
    var terms = query.split(/\s+/).filter(Boolean).map(function (t) {
      return t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    });
    return terms.length ? new RegExp("(" + terms.join("|") + ")", "giu") : null;
  }
  function appendMarked(parent, string, pattern) {
    if (!pattern) { parent.appendChild(document.createTextNode(string)); return; }
    string.split(pattern).forEach(function (part, i) {
      if (!part) return;
      if (i % 2 === 1) {
        var mark = document.createElement("mark");
        mark.textContent = part;
        parent.appendChild(mark);
      } else {
        parent.appendChild(document.createTextNode(part));
      }
    });
  }
  function excerpt(body, pattern, han) {
    var size = han ? 60 : 180;
    var at = pattern ? body.search(pattern) : -1;
    if (at < 0 || body.length <= size) return body.length > size ? body.slice(0, size) + "…" : body;
    var start = Math.max(0, at - Math.floor(size / 3));
    if (!han) { var space = body.lastIndexOf(" ", start); start = space > 0 ? space + 1 : 0; }
    var end = Math.min(body.length, start + size);
    return (start > 0 ? "…" : "") + body.slice(start, end) + (end < body.length ? "…" : "");
  }

  function el(tag, className, parent) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (parent) parent.appendChild(node);
    return node;
  }

  function show(state) {
    var active = Boolean(state.q || state.agency || state.topic);
    fullList.hidden = active;
    results.hidden = !active;
    results.textContent = "";
    if (!active) { status.textContent = ""; return; }
    var hits = find(state);
    var pattern = highlighter(state.q);
    var han = HAN.test(state.q) || text.lang === "zh";
    hits.forEach(function (a) {
      var item = el("li", "result", results);
      var title = el("h2", "result__title", item);
      var link = el("a", "", title);
      link.href = text.agencies + data.agencies[a.agency].slug + "/#activity-" + a.number;
      var number = el("span", "index-list__number", link);
      number.textContent = a.label + " ";
      appendMarked(link, a.title, pattern);
      var meta = el("p", "result__meta", item);
      appendMarked(meta, a.agencyName, pattern);
      meta.appendChild(document.createTextNode(" · " + a.topics.map(function (id) { return data.topics[id]; }).join(" · ")));
      appendMarked(el("p", "result__excerpt", item), excerpt(a.text, pattern, han), pattern);
    });
    status.textContent = hits.length ? count(hits.length) : text.none;
  }
  function count(n) { return n === 1 ? text.countOne : text.count.replace("{n}", String(n)); }

  function run(state, history) {
    if (history === "push") window.history.pushState(state, "", stateUrl(state));
    else if (history === "replace") window.history.replaceState(state, "", stateUrl(state));
    if (!(state.q || state.agency || state.topic)) { show(state); return; }
    if (!index) status.textContent = text.loading;
    ensureIndex().then(function () { show(state); }, function () { status.textContent = text.none; });
  }

  /* Typing replaces the current history entry; a submitted search or a filter adds one. */
  input.addEventListener("focus", function () { ensureIndex(); }, { once: true });
  input.addEventListener("compositionstart", function () { composing = true; });
  input.addEventListener("compositionend", function () { composing = false; run(formState(), "replace"); });
  input.addEventListener("input", function (event) {
    if (composing || event.isComposing) return;
    clearTimeout(timer);
    timer = setTimeout(function () { run(formState(), "replace"); }, 60);
  });
  [agencySelect, topicSelect].forEach(function (select) {
    select.addEventListener("change", function () { run(formState(), "push"); });
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    run(formState(), "push");
  });
  window.addEventListener("popstate", function () {
    var state = readState();
    fillForm(state);
    run(state, null);
  });

  var initial = readState();
  fillForm(initial);
  run(initial, null);
})();
