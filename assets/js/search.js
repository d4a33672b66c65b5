/* Search on the activities page, in the browser, with MiniSearch.
   Chinese is matched like Ctrl+F: a query part with Han characters or digits (and, on the Chinese
   page, any part) must occur in the activity's title, agency name or text, once whitespace and
   punctuation are ignored; every activity is checked, so nothing that contains it is missed.
   English words match by prefix with typo tolerance. Han text is indexed as single characters and
   overlapping bigrams (no word segmentation, which disagrees with what readers type) so that
   MiniSearch can rank; activities matched in their title or agency name come first.
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
  var WORD = "[\\p{L}\\p{N}]";
  var literalPage = text.literal === "true";  /* a language without spaces between words (site.yaml) */
  var data = null, index = null, loading = null, composing = false, typing = false, timer = 0, latest = 0;

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
  function escapeRegExp(string) { return string.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); }

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
            a.agencyName = data.agencies[a.agency].name;  /* as the document writes it, often short */
            a.agencyFull = data.agencies[a.agency].full_name;
            /* Each field on its own, so that a match never spans the end of one and the start of the next. */
            a.plain = { title: normalize(a.title), agency: normalize(a.agencyName),
                        agencyFull: normalize(a.agencyFull), text: normalize(a.text) };
          });
          index = new window.MiniSearch({
            idField: "number", fields: ["title", "agencyName", "agencyFull", "text"], tokenize: tokenize,
            processTerm: function (term) { return term.toLowerCase(); },
            searchOptions: {
              boost: { title: 3, agencyName: 2, agencyFull: 2 }, combineWith: "AND", tokenize: tokenize,
              prefix: function (term) { return !HAN.test(term); },
              fuzzy: function (term) { return !HAN.test(term) && /^\p{L}{5,}$/u.test(term) ? 0.2 : false; }
            }
          });
          index.addAll(data.activities);
        });
      loading.catch(function () { loading = null; });  // let a later search try again
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

  /* A query part is matched literally (as a substring) if it has Han characters or digits, or on a
     page whose language is written without spaces; other parts are words for MiniSearch. */
  function isLiteral(part) { return literalPage || HAN.test(part) || /\p{N}/u.test(part); }
  function parseQuery(q) {
    var parts = q.split(/\s+/).filter(Boolean);
    var words = parts.filter(function (part) { return !isLiteral(part); }).join(" ");
    return {
      needles: parts.filter(isLiteral).map(normalize).filter(Boolean),
      words: tokenize(words).length ? words : ""  // punctuation alone is ignored
    };
  }
  function inHeading(a, needle) {
    return a.plain.title.indexOf(needle) !== -1 || a.plain.agency.indexOf(needle) !== -1 ||
      a.plain.agencyFull.indexOf(needle) !== -1;
  }
  function contains(a, needle) { return inHeading(a, needle) || a.plain.text.indexOf(needle) !== -1; }

  /* The matching activities, best first, each as {activity, terms}: terms are the words of the
     activity that matched the English words of the query (after prefix and typo matching). */
  function find(state) {
    var query = parseQuery(state.q);
    var found = data.activities.filter(function (a) {
      return (!state.agency || data.agencies[a.agency].slug === state.agency) &&
        (!state.topic || a.topics.indexOf(state.topic) !== -1) &&
        query.needles.every(function (needle) { return contains(a, needle); });
    });
    var info = {};
    found.forEach(function (a) { info[a.number] = { activity: a, score: 0, heading: 0, terms: [] }; });
    if (query.words) {
      var wordHits = {};
      index.search(query.words).forEach(function (hit) { wordHits[hit.id] = hit; });
      found = found.filter(function (a) { return wordHits[a.number]; });
      found.forEach(function (a) {
        var hit = wordHits[a.number], entry = info[a.number];
        entry.score += hit.score;
        entry.terms = hit.terms;
        /* A query word counts as a heading match if a word starting with it (not a mere typo
           match) is in the title or the agency name. */
        hit.queryTerms.forEach(function (term) {
          if (hit.terms.some(function (t) {
            return t.indexOf(term) === 0 && hit.match[t].some(function (f) { return f !== "text"; });
          })) entry.heading += 1;
        });
      });
    }
    if (query.needles.length && found.length > 1) {
      index.search(query.needles.join(" "), { combineWith: "OR", prefix: false, fuzzy: false })
        .forEach(function (hit) { if (info[hit.id]) info[hit.id].score += hit.score; });
    }
    return found.map(function (a) {
      var entry = info[a.number];
      query.needles.forEach(function (needle) { if (inHeading(a, needle)) entry.heading += 1; });
      return entry;
    }).sort(function (x, y) {
      return y.heading - x.heading || y.score - x.score || x.activity.number - y.activity.number;
    });
  }

  /* What to highlight in one result: the literal parts of the query, wherever whitespace or
     punctuation interrupts them, and the whole words that matched the English words. */
  function highlighter(query, terms) {
    var alternatives = parseQuery(query).needles.map(function (needle) {
      return Array.from(needle).map(escapeRegExp).join("[\\s\\p{P}\\p{S}]*");
    }).concat(terms.map(function (term) {
      return "(?<!" + WORD + ")" + escapeRegExp(term) + "(?!" + WORD + ")";
    }));
    return alternatives.length ? new RegExp(alternatives.join("|"), "giu") : null;
  }
  function appendMarked(parent, string, pattern) {
    var last = 0, match;
    if (pattern) {
      pattern.lastIndex = 0;
      while ((match = pattern.exec(string))) {
        if (!match[0]) { pattern.lastIndex += 1; continue; }
        if (match.index > last) parent.appendChild(document.createTextNode(string.slice(last, match.index)));
        el("mark", "", parent).textContent = match[0];
        last = match.index + match[0].length;
      }
    }
    if (last < string.length) parent.appendChild(document.createTextNode(string.slice(last)));
  }
  function firstMatch(string, pattern) {
    if (!pattern) return -1;
    pattern.lastIndex = 0;
    var match = pattern.exec(string);
    return match ? match.index : -1;
  }
  function excerpt(body, pattern, han) {
    var size = han ? 60 : 180;
    var at = firstMatch(body, pattern);
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
    var han = HAN.test(state.q) || text.lang === "zh";
    hits.forEach(function (hit) {
      var a = hit.activity, pattern = highlighter(state.q, hit.terms);
      var item = el("li", "result", results);
      var title = el("h2", "result__title", item);
      var link = el("a", "", title);
      link.href = text.agencies + data.agencies[a.agency].slug + "/#activity-" + a.number;
      var number = el("span", "index-list__number", link);
      number.textContent = a.label + " ";
      appendMarked(link, a.title, pattern);
      var meta = el("p", "result__meta", item);
      appendMarked(meta, a.agencyName, pattern);
      if (a.agencyFull !== a.agencyName && firstMatch(a.agencyFull, pattern) !== -1 && firstMatch(a.agencyName, pattern) === -1) {
        meta.appendChild(document.createTextNode(literalPage ? "（" : " ("));  /* the full name, when it is what matched */
        appendMarked(meta, a.agencyFull, pattern);
        meta.appendChild(document.createTextNode(literalPage ? "）" : ")"));
      }
      meta.appendChild(document.createTextNode(" · " + a.topics.map(function (id) { return data.topics[id]; }).join(" · ")));
      appendMarked(el("p", "result__excerpt", item), excerpt(a.text, pattern, han), pattern);
    });
    status.textContent = hits.length ? count(hits.length) : text.none;
  }
  function count(n) { return n === 1 ? text.countOne : text.count.replace("{n}", String(n)); }

  function run(state, history) {
    var url = stateUrl(state);
    var current = window.location.pathname + window.location.search;
    if (history === "push" && url !== current) window.history.pushState(state, "", url);
    else if (history) window.history.replaceState(state, "", url);
    var ticket = ++latest;  // only the latest search is shown, even if an earlier one waited for the data
    if (!(state.q || state.agency || state.topic)) { show(state); return; }
    if (!index) status.textContent = text.loading;
    ensureIndex().then(function () {
      if (ticket === latest) show(state);
    }, function () {
      if (ticket === latest) status.textContent = text.none;
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
