/* Read aloud: each activity, or the whole page, spoken by the browser's own speech synthesis in the
   page's language (the speech tag of site.yaml, in <body data-speech>). The buttons show only where
   the browser has a voice for that language; the voices arrive after the page, so css/site.css
   keeps the buttons' place (html.speech) and shows them once one is found (html.voices), which
   js/site.js remembers for the next page. Long texts are spoken in short pieces, sentence by
   sentence, because some browsers (Chrome) cut a long utterance off. */
(function () {
  "use strict";
  var root = document.documentElement;
  var synth = window.speechSynthesis;
  if (!synth || !window.SpeechSynthesisUtterance || !document.body) return;
  var tag = document.body.getAttribute("data-speech") || root.lang;
  var MEMO = "qm-voice:" + root.lang;
  var LIMIT = 180;  /* the longest piece, in letters; a Han character counts as three */
  var HAN = /[\u2e80-\u9fff\uf900-\ufaff]/;
  var BLOCKS = "h1, h2, h3, h4, h5, h6, p, li, dt, dd, th, td, caption, figcaption, blockquote, pre";
  var SKIP = "nav, form, button, select, input, textarea, script, style, svg, dialog, details, [aria-hidden=true], "
    + ".visually-hidden, .no-read, .page-bar, .activity__foot, .tags, .pager, .hero__links";
  var voice = null;
  var reading = null;  /* {button, target, pieces, next} */

  function memo(value) {
    try { localStorage.setItem(MEMO, value); } catch (e) { /* not remembered */ }
  }
  function normal(lang) { return String(lang || "").toLowerCase().replace(/_/g, "-"); }
  /* A voice for the tag itself, else one for its language (zh-TW → zh-…, en → en-US). */
  function findVoice() {
    var want = normal(tag), base = want.split("-")[0], near = null;
    var voices = synth.getVoices() || [];
    for (var i = 0; i < voices.length; i++) {
      var lang = normal(voices[i].lang);
      if (lang === want) return voices[i];
      if (!near && lang.split("-")[0] === base) near = voices[i];
    }
    return near;
  }
  /* `final`: the list is complete, so no voice means none (before that, an empty list may only be early). */
  function update(final) {
    voice = findVoice();
    if (voice) {
      root.classList.add("voices");
      memo("1");
    } else if (final) {
      if (reading) stop();
      root.classList.remove("voices");
      memo("0");
    }
  }

  /* The text of an element, as blocks (a heading, a paragraph, a list item…), without controls,
     navigation or anything hidden. */
  function blocks(element) {
    var out = [], last = null;
    var walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT, null);
    for (var node = walker.nextNode(); node; node = walker.nextNode()) {
      var parent = node.parentNode;
      if (!node.nodeValue.trim() || parent.closest(SKIP) || !parent.getClientRects().length) continue;
      var block = parent.closest(BLOCKS) || element;
      if (block !== last || !out.length) { out.push(""); last = block; }
      out[out.length - 1] += node.nodeValue;
    }
    return out.map(function (text) { return text.replace(/\s+/g, " ").trim(); }).filter(Boolean);
  }

  function weight(text) {
    var w = 0;
    for (var i = 0; i < text.length; i++) w += HAN.test(text.charAt(i)) ? 3 : 1;
    return w;
  }
  /* Cut after any of `ends` (and the closing quotes or brackets after it); `spaced`: only where a
     space follows, as in "No. 5" it does not. */
  function cut(text, ends, spaced) {
    var parts = [], start = 0;
    for (var i = 0; i < text.length; i++) {
      if (ends.indexOf(text.charAt(i)) < 0) continue;
      var j = i + 1;
      while (j < text.length && "”’」』）)]\"'".indexOf(text.charAt(j)) >= 0) j++;
      if (spaced && j < text.length && text.charAt(j) !== " ") continue;
      parts.push(text.slice(start, j).trim());
      start = j;
      i = j - 1;
    }
    parts.push(text.slice(start).trim());
    return parts.filter(Boolean);
  }
  /* A piece no longer than LIMIT: at a comma if there is one, else at a space, else anywhere. */
  function shorten(text) {
    if (weight(text) <= LIMIT) return [text];
    var parts = cut(text, "，、；：", false);
    if (parts.length < 2) parts = cut(text, ",;:", true);
    if (parts.length > 1) return join(parts).reduce(function (all, p) { return all.concat(shorten(p)); }, []);
    var end = 0, w = 0;
    while (end < text.length && w + weight(text.charAt(end)) <= LIMIT) w += weight(text.charAt(end++));
    var space = text.lastIndexOf(" ", end);
    if (space > end / 2) end = space;
    return [text.slice(0, end).trim()].concat(shorten(text.slice(end).trim())).filter(Boolean);
  }
  /* Short neighbours together, up to LIMIT. */
  function join(parts) {
    var out = [];
    parts.forEach(function (part) {
      var last = out.length - 1;
      var glue = /[\u2e80-\u9fff\uf900-\uffef]$/.test(out[last] || "") ? "" : " ";
      if (last >= 0 && weight(out[last] + glue + part) <= LIMIT) out[last] += glue + part;
      else out.push(part);
    });
    return out;
  }
  function pieces(texts) {
    var out = [];
    texts.forEach(function (text) {  /* each block starts a new piece, so headings stand apart */
      var sentences = cut(text, "。！？；!?", false).reduce(function (all, s) {
        return all.concat(cut(s, ".", true));
      }, []);
      join(sentences).forEach(function (p) { out = out.concat(shorten(p)); });
    });
    return out;
  }

  function setState(button, target, on) {
    if (button) button.classList.toggle("is-speaking", on);
    if (target && target.id !== "main") target.classList.toggle("is-reading", on);
  }
  function stop() {
    var was = reading;
    reading = null;
    if (was) setState(was.button, was.target, false);
    synth.cancel();
  }
  function speakNext(state) {
    if (reading !== state) return;
    if (state.next >= state.pieces.length) { stop(); return; }
    var utterance = new SpeechSynthesisUtterance(state.pieces[state.next++]);
    utterance.lang = tag;
    if (voice) utterance.voice = voice;
    utterance.onend = function () { speakNext(state); };
    utterance.onerror = function () { if (reading === state) stop(); };  /* (our own stop came first) */
    state.utterance = utterance;  /* kept referenced: Chrome drops the events of a collected one */
    synth.speak(utterance);
  }
  function read(button) {
    var target = document.getElementById(button.getAttribute("data-read"));
    var same = reading && reading.button === button;
    stop();
    if (same || !target) return;  /* a second press stops */
    var texts = pieces(blocks(target));
    if (!texts.length) return;
    reading = { button: button, target: target, pieces: texts, next: 0 };
    setState(button, target, true);
    if (synth.paused && synth.resume) synth.resume();
    speakNext(reading);
  }

  document.addEventListener("click", function (event) {
    var button = event.target && event.target.closest && event.target.closest("button[data-read]");
    if (button) read(button);
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && reading) stop();
  });
  window.addEventListener("pagehide", function () { if (reading) stop(); });

  update(false);
  if (synth.addEventListener) synth.addEventListener("voiceschanged", function () { update(true); });
  else synth.onvoiceschanged = function () { update(true); };
  /* Some browsers never send voiceschanged: after a while, the list is what it is. */
  setTimeout(function () { update(true); }, 2500);
})();
