/* Search on the activities page: the wiring between the page and search-core.js (the matching).
   The page lists every activity without JavaScript; this only filters and ranks that list.
   It fails safe: where the browser lacks what the search needs, or anything goes wrong, the full
   list stays (or comes back) and the status line says how to find text with the browser instead. */
(function () {
  "use strict";
  var form = document.getElementById("search");
  var core = window.QMSearchCore;
  if (!form) return;
  window.QMSearchStarted = true;  /* js/site.js brings the full list back on a page where this never ran */
  if (!core || !core.supported()) {  /* the page as it works without script: the list and the hint */
    document.documentElement.classList.remove("search-ok", "qm-searching");
    return;
  }
  var input = form.querySelector("#q");
  var agencySelect = form.querySelector("#agency");
  var topicSelect = form.querySelector("#topic");
  var status = document.getElementById("search-status");
  var results = document.getElementById("search-results");
  var fullList = document.getElementById("all-activities");
  var text = form.dataset;
  var options = { literal: text.literal === "true", folder: core.Folder({}) };
  var excerptSize = parseInt(text.excerpt, 10) || 180;
  var data = null, index = null, loading = null, composing = false, typing = false, timer = 0, latest = 0;

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
          options.folder = core.Folder(loaded[1].fold);
          data = core.prepare(loaded[1], options.folder);
          index = new window.MiniSearch(core.indexOptions(options.folder));
          index.addAll(data.activities);
        });
      loading.catch(function () { loading = null; });  /* let a later search try again */
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
  function active(state) { return Boolean(state.q || state.agency || state.topic); }

  function el(tag, className, parent) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (parent) parent.appendChild(node);
    return node;
  }
  /* The string into `parent`, with <mark> around the ranges. */
  function appendMarked(parent, string, ranges) {
    var last = 0;
    ranges.forEach(function (r) {
      if (r[0] > last) parent.appendChild(document.createTextNode(string.slice(last, r[0])));
      el("mark", "", parent).textContent = string.slice(r[0], r[1]);
      last = r[1];
    });
    if (last < string.length) parent.appendChild(document.createTextNode(string.slice(last)));
  }

  /* The results as a list, built apart from the page: nothing on the page changes until it is whole. */
  function resultList(hits, q) {
    var list = document.createDocumentFragment();
    hits.forEach(function (hit) {
      var a = hit.activity;
      function marks(string) { return core.highlights(string, q, hit.terms, options); }
      var item = el("li", "result", list);
      var link = el("a", "", el("h2", "result__title", item));
      link.href = text.agencies + data.agencies[a.agency].slug + "/#activity-" + a.number;
      el("span", "index-list__number", link).textContent = a.label + " ";
      appendMarked(link, a.title, marks(a.title));
      var meta = el("p", "result__meta", item);
      appendMarked(meta, a.agencyName, marks(a.agencyName));
      if (a.agencyFull !== a.agencyName && marks(a.agencyFull).length && !marks(a.agencyName).length) {
        meta.appendChild(document.createTextNode(text.open));  /* the full name, when it is what matched */
        appendMarked(meta, a.agencyFull, marks(a.agencyFull));
        meta.appendChild(document.createTextNode(text.close));
      }
      meta.appendChild(document.createTextNode(" · " + a.topics.map(function (id) { return data.topics[id]; }).join(" · ")));
      var cut = core.excerpt(a.text, marks(a.text), excerptSize, !options.literal);
      appendMarked(el("p", "result__excerpt", item), cut.text, cut.ranges);
    });
    return list;
  }

  function show(state) {
    if (!active(state)) { showAll(""); return; }
    var hits = core.find(data, index, state, options);
    var list = resultList(hits, state.q);
    results.textContent = "";
    results.appendChild(list);
    fullList.hidden = true;
    results.hidden = false;
    document.documentElement.classList.remove("qm-searching");
    status.textContent = hits.length ? count(hits.length) : text.none;
  }
  /* The whole list, as without script; `message` in the status line. */
  function showAll(message) {
    results.hidden = true;
    results.textContent = "";
    fullList.hidden = false;
    document.documentElement.classList.remove("qm-searching");
    status.textContent = message;
  }
  function count(n) { return n === 1 ? text.countOne : text.count.replace("{n}", String(n)); }

  function run(state, history) {
    var url = stateUrl(state);
    var current = window.location.pathname + window.location.search;
    if (history === "push" && url !== current) window.history.pushState(state, "", url);
    else if (history) window.history.replaceState(state, "", url);
    var ticket = ++latest;  /* only the latest search is shown, even if an earlier one waited for the data */
    if (!active(state)) { showAll(""); return; }
    if (!index) status.textContent = text.loading;
    ensureIndex().then(function () {
      if (ticket === latest) show(state);
    }).catch(function () {
      if (ticket === latest) showAll(text.failed);
    });
  }

  /* History: the first keystroke after a settled search adds an entry and later keystrokes update
     it, so Back returns to the search before the typing; submitting or changing a filter settles
     the search (adding an entry only if the address changes). A partial IME composition is not
     searched: the search runs when the composition ends. */
  function typed() {
    clearTimeout(timer);
    timer = setTimeout(function () {
      run(formState(), typing ? "replace" : "push");
      typing = true;
    }, 60);
  }
  function settle() {
    clearTimeout(timer);
    run(formState(), "push");
    typing = false;
  }
  input.addEventListener("focus", function () { ensureIndex().catch(function () {}); }, { once: true });
  input.addEventListener("compositionstart", function () { composing = true; clearTimeout(timer); });
  input.addEventListener("compositionend", function () { composing = false; typed(); });
  input.addEventListener("input", function (event) {
    if (composing || event.isComposing) return;
    typed();
  });
  [agencySelect, topicSelect].forEach(function (select) { select.addEventListener("change", settle); });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    settle();
  });
  window.addEventListener("popstate", function () {
    var state = readState();
    clearTimeout(timer);
    typing = false;
    fillForm(state);
    run(state, null);
  });

  var initial = readState();
  fillForm(initial);
  run(initial, null);
})();
