/* The matching logic of the activities search, apart from the page: pure functions over the search
   data (assets/search-<lang>.json) and a MiniSearch index, so that Node can test them in
   milliseconds (tests/js/search-core.test.js). search.js wires them to the page.

   Chinese is matched like Ctrl+F: a query part with Han characters or digits (and, on a page whose
   language does not space its words, any part) must occur in the activity's title, agency name
   or text, once whitespace and punctuation are ignored and every character is folded to one
   script (the data's fold table: 電 → 电), so 电梯 and 電梯 find the same activities. English
   words match by prefix with typo tolerance (MiniSearch). Han text is indexed as single
   characters and overlapping bigrams so that MiniSearch can rank.

   Written for old browsers too: no lookbehind, no optional chaining; Unicode property escapes
   (\p{…}, Safari 11.1+) are the newest feature it needs, and search.js checks for them. */
(function (root, factory) {
  if (typeof module === "object" && module.exports) module.exports = factory();
  else root.QMSearchCore = factory();
})(typeof self !== "undefined" ? self : this, function () {
  "use strict";
  var HAN = /[\u3400-\u9fff\uf900-\ufaff]/;
  var TOKENS = /[\u3400-\u9fff\uf900-\ufaff]+|[\p{L}\p{N}]+/gu;
  var NOISE_CHAR = /[\s\p{P}\p{S}]/u;
  var WORD_CHAR = /[\p{L}\p{N}]/u;
  var DIGIT = /\p{N}/u;

  /* Characters folded to the form search compares them in; `table` maps a character to its
     form (from the search data), and each form knows every character that folds to it. */
  function Folder(table) {
    table = table || {};
    var members = {};
    Object.keys(table).forEach(function (ch) {
      var target = table[ch];
      (members[target] = members[target] || [target]).push(ch);
    });
    return {
      char: function (ch) { return Object.prototype.hasOwnProperty.call(table, ch) ? table[ch] : ch; },
      string: function (string) {
        var out = "";
        for (var i = 0; i < string.length; i++) out += this.char(string[i]);
        return out;
      },
      forms: function (ch) { return members[ch] || [ch]; }
    };
  }

  function lower(ch) {
    var low = ch.toLowerCase();
    return low.length === ch.length ? low : ch;  /* keep every position where it was */
  }

  /* The string as search compares it, with where each of its units came from:
     {text, from: [original index per unit], to: [original end per unit]}. `keepNoise` false
     drops whitespace, punctuation and symbols. */
  function comparable(string, folder, keepNoise) {
    var text = "", from = [], to = [], position = 0;
    for (var ch of string) {
      var next = position + ch.length;
      if (keepNoise || !NOISE_CHAR.test(ch)) {
        var form = folder.string(lower(ch));
        for (var i = 0; i < form.length; i++) { from.push(position); to.push(next); }
        text += form;
      }
      position = next;
    }
    return { text: text, from: from, to: to };
  }

  function normalize(string, folder) { return comparable(string, folder, false).text; }

  /* Han runs → characters + bigrams; other runs → lowercase words. */
  function tokenize(string, folder) {
    var out = [];
    (folder.string(string).match(TOKENS) || []).forEach(function (run) {
      if (!HAN.test(run)) { out.push(run.toLowerCase()); return; }
      for (var i = 0; i < run.length; i++) {
        out.push(run[i]);
        if (i + 1 < run.length) out.push(run.slice(i, i + 2));
      }
    });
    return out;
  }

  /* A query part is matched literally (as a substring) if it has Han characters or digits, or on
     a page whose language is written without spaces; other parts are words for MiniSearch. */
  function parseQuery(q, options) {
    var folder = options.folder;
    var parts = q.split(/\s+/).filter(Boolean);
    function literal(part) { return options.literal || HAN.test(part) || DIGIT.test(part); }
    var words = parts.filter(function (part) { return !literal(part); }).join(" ");
    return {
      needles: parts.filter(literal).map(function (p) { return normalize(p, folder); }).filter(Boolean),
      words: tokenize(words, folder).length ? words : ""  /* punctuation alone is ignored */
    };
  }

  /* The search data made ready: each activity with its agency's names and its fields as compared. */
  function prepare(data, folder) {
    data.activities.forEach(function (a) {
      a.agencyName = data.agencies[a.agency].name;  /* as the document writes it, often short */
      a.agencyFull = data.agencies[a.agency].full_name;
      /* Each field on its own, so that a match never spans the end of one and the start of the next. */
      a.plain = { title: normalize(a.title, folder), agency: normalize(a.agencyName, folder),
                  agencyFull: normalize(a.agencyFull, folder), text: normalize(a.text, folder) };
    });
    return data;
  }

  /* MiniSearch's options for this data. */
  function indexOptions(folder) {
    function tok(string) { return tokenize(string, folder); }
    return {
      idField: "number", fields: ["title", "agencyName", "agencyFull", "text"], tokenize: tok,
      processTerm: function (term) { return term.toLowerCase(); },
      searchOptions: {
        boost: { title: 3, agencyName: 2, agencyFull: 2 }, combineWith: "AND", tokenize: tok,
        prefix: function (term) { return !HAN.test(term); },
        fuzzy: function (term) { return !HAN.test(term) && /^\p{L}{5,}$/u.test(term) ? 0.2 : false; }
      }
    };
  }

  function inHeading(a, needle) {
    return a.plain.title.indexOf(needle) !== -1 || a.plain.agency.indexOf(needle) !== -1 ||
      a.plain.agencyFull.indexOf(needle) !== -1;
  }
  function contains(a, needle) { return inHeading(a, needle) || a.plain.text.indexOf(needle) !== -1; }

  /* The matching activities, best first, each as {activity, terms}: terms are the words of the
     activity that matched the English words of the query (after prefix and typo matching).
     `state` is {q, agency, topic}; `index` a MiniSearch index of the prepared data. */
  function find(data, index, state, options) {
    var query = parseQuery(state.q, options);
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

  /* What to highlight in a string, as sorted, non-overlapping [start, end) ranges of the string
     as shown: the literal parts of the query (in whichever script, wherever whitespace or
     punctuation interrupts them) and the whole words that matched the English words. */
  function highlights(string, q, terms, options) {
    var folder = options.folder, ranges = [];
    var needles = parseQuery(q, options).needles;
    if (needles.length) {
      var dense = comparable(string, folder, false);
      needles.forEach(function (needle) {
        for (var at = dense.text.indexOf(needle); at !== -1; at = dense.text.indexOf(needle, at + needle.length)) {
          ranges.push([dense.from[at], dense.to[at + needle.length - 1]]);
        }
      });
    }
    if (terms.length) {
      var plain = comparable(string, folder, true);
      terms.forEach(function (term) {
        term = normalize(term, folder) || term.toLowerCase();
        for (var at = plain.text.indexOf(term); at !== -1; at = plain.text.indexOf(term, at + 1)) {
          var end = at + term.length;
          var before = at > 0 ? string.slice(plain.from[at - 1], plain.to[at - 1]) : "";
          var after = end < plain.text.length ? string.slice(plain.from[end], plain.to[end]) : "";
          if (!WORD_CHAR.test(before) && !WORD_CHAR.test(after)) ranges.push([plain.from[at], plain.to[end - 1]]);
        }
      });
    }
    ranges.sort(function (x, y) { return x[0] - y[0] || y[1] - x[1]; });
    var merged = [];
    ranges.forEach(function (r) {
      var last = merged[merged.length - 1];
      if (last && r[0] < last[1]) last[1] = Math.max(last[1], r[1]);  /* overlapping: one mark */
      else merged.push([r[0], r[1]]);
    });
    return merged;
  }

  /* A window of `size` characters of the text around its first highlight (at a word's start
     where the language spaces its words), with … where it is cut; and the highlights within it,
     relative to the window. */
  function excerpt(body, ranges, size, spaced) {
    if (body.length <= size) return { text: body, ranges: ranges };
    var first = ranges.length ? ranges[0][0] : 0;
    var start = ranges.length ? Math.max(0, first - Math.floor(size / 3)) : 0;
    if (spaced && start > 0) { var space = body.lastIndexOf(" ", start); start = space > 0 ? space + 1 : 0; }
    var end = Math.min(body.length, start + size);
    var lead = start > 0 ? "…" : "";
    var shifted = ranges.filter(function (r) { return r[0] >= start && r[1] <= end; })
      .map(function (r) { return [r[0] - start + lead.length, r[1] - start + lead.length]; });
    return { text: lead + body.slice(start, end) + (end < body.length ? "…" : ""), ranges: shifted };
  }

  /* Whether this browser has what the search needs; where it does not, the page keeps its full
     list and says how to find text instead. */
  function supported() {
    try {
      return new RegExp("\\p{L}", "u").test("a") && typeof Promise === "function" &&
        typeof URLSearchParams === "function" && typeof Array.prototype.filter === "function";
    } catch (e) {
      return false;
    }
  }

  return {
    Folder: Folder, normalize: normalize, tokenize: tokenize, parseQuery: parseQuery, prepare: prepare,
    indexOptions: indexOptions, find: find, highlights: highlights, excerpt: excerpt, supported: supported
  };
});
