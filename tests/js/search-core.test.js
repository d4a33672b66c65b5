/* search-core.js under Node's own test runner: the matching logic without a browser.
   Run by tests/test_search_core.py (node --test), which passes the built site's assets folder
   in SEARCH_ASSETS so that the real search data and the vendored MiniSearch are used. */
"use strict";
const test = require("node:test");
const assert = require("node:assert");
const fs = require("node:fs");
const path = require("node:path");

const root = path.resolve(__dirname, "..", "..");
const core = require(path.join(root, "assets", "js", "search-core.js"));
const MiniSearch = require(path.join(root, "assets", "vendor", "minisearch.js"));
const assets = process.env.SEARCH_ASSETS;

function loadData(code) {
  const file = fs.readdirSync(assets).find((name) => name.startsWith(`search-${code}.`) && name.endsWith(".json"));
  return JSON.parse(fs.readFileSync(path.join(assets, file), "utf8"));
}
function engine(data, literal) {
  const options = { literal, folder: core.Folder(data.fold) };
  core.prepare(data, options.folder);
  const index = new MiniSearch(core.indexOptions(options.folder));
  index.addAll(data.activities);
  return { options, search: (q, agency = "", topic = "") => core.find(data, index, { q, agency, topic }, options) };
}
const marked = (string, ranges) => ranges.map(([a, b]) => string.slice(a, b));
const plain = { literal: false, folder: core.Folder({}) };

test("the browser features it needs are there", () => {
  assert.strictEqual(core.supported(), true);
});

test("nothing in it needs lookbehind, which older Safari (and WeChat on iPhone) lacks", () => {
  const source = fs.readFileSync(path.join(root, "assets", "js", "search-core.js"), "utf8");
  assert.ok(!/\(\?<[=!]/.test(source), "a lookbehind in search-core.js");
  const wiring = fs.readFileSync(path.join(root, "assets", "js", "search.js"), "utf8");
  assert.ok(!/\(\?<[=!]/.test(wiring), "a lookbehind in search.js");
});

test("it works where RegExp rejects lookbehind", () => {
  const Original = global.RegExp;
  global.RegExp = function (pattern, flags) {
    if (/\(\?<[=!]/.test(String(pattern))) throw new SyntaxError("Invalid regular expression: lookbehind");
    return new Original(pattern, flags);
  };
  try {
    const ranges = core.highlights("Cosmetics and cosmetic safety", "cosmetic", ["cosmetic", "cosmetics"], plain);
    assert.deepStrictEqual(marked("Cosmetics and cosmetic safety", ranges), ["Cosmetics", "cosmetic"]);
  } finally {
    global.RegExp = Original;
  }
});

test("normalize drops whitespace, punctuation and case, and folds the script", () => {
  const folder = core.Folder({ "電": "电", "質": "质" });
  assert.strictEqual(core.normalize("電梯 安全，質量!", folder), "电梯安全质量");
  assert.strictEqual(core.normalize("Food-Safety Week", folder), "foodsafetyweek");
});

test("tokenize makes Han characters and bigrams, and lowercase words", () => {
  assert.deepStrictEqual(core.tokenize("电梯 Safety", core.Folder({})), ["电", "电梯", "梯", "safety"]);
});

test("highlights mark literal parts across punctuation, in the script shown", () => {
  const options = { literal: true, folder: core.Folder({ "電": "电", "檢": "检" }) };
  const string = "開展電梯、檢測。電 梯";
  assert.deepStrictEqual(marked(string, core.highlights(string, "电梯", [], options)), ["電梯", "電 梯"]);
  assert.deepStrictEqual(marked(string, core.highlights(string, "梯检", [], options)), ["梯、檢"]);
});

test("adjacent parts are separate marks; overlapping ones are one", () => {
  const options = { literal: true, folder: core.Folder({}) };
  assert.deepStrictEqual(marked("质量提升", core.highlights("质量提升", "质量 提升", [], options)), ["质量", "提升"]);
  assert.deepStrictEqual(marked("质量提升", core.highlights("质量提升", "质量提 量提升", [], options)), ["质量提升"]);
});

test("English terms are marked as whole words only", () => {
  const string = "Inspection, inspections and reinspection";
  assert.deepStrictEqual(marked(string, core.highlights(string, "inspection", ["inspection"], plain)), ["Inspection"]);
});

test("an excerpt keeps its highlights in place and starts at a word", () => {
  const body = "word ".repeat(60) + "target here " + "tail ".repeat(60);
  const ranges = core.highlights(body, "target", ["target"], plain);
  const cut = core.excerpt(body, ranges, 80, true);
  assert.ok(cut.text.startsWith("…word") && cut.text.endsWith("…"));
  assert.deepStrictEqual(marked(cut.text, cut.ranges), ["target"]);
  assert.deepStrictEqual(core.excerpt("short", [[0, 5]], 80, true), { text: "short", ranges: [[0, 5]] });
});

test("every activity is found by its own title, in every language", { skip: !assets && "no SEARCH_ASSETS" }, () => {
  const codes = fs.readdirSync(assets).filter((n) => /^search-.*\.json$/.test(n)).map((n) => n.split(".")[0].slice(7));
  assert.ok(codes.length >= 2, codes);
  for (const code of codes) {
    const data = loadData(code);
    const literal = data.activities.some((a) => /[\u3400-\u9fff]/.test(a.title));
    const { search } = engine(data, literal);
    for (const activity of data.activities) {
      const found = search(activity.title).map((hit) => hit.activity.number);
      assert.ok(found.includes(activity.number), `${code}: ${activity.title} does not find ${activity.number}`);
    }
  }
});

test("Chinese finds every activity that contains the query, like Ctrl+F", { skip: !assets && "no SEARCH_ASSETS" }, () => {
  const data = loadData(JSON.parse(process.env.SEARCH_LITERAL_CODES || "[]")[0] || "zh");
  const { search, options } = engine(data, true);
  for (const query of ["质量", "检验检测", "电梯", "2020", "食品安全"]) {
    const needle = core.normalize(query, options.folder);
    const expected = data.activities.filter((a) => [a.plain.title, a.plain.agency, a.plain.agencyFull, a.plain.text]
      .some((field) => field.includes(needle))).map((a) => a.number).sort((x, y) => x - y);
    const got = search(query).map((hit) => hit.activity.number).sort((x, y) => x - y);
    assert.deepStrictEqual(got, expected, query);
  }
});

test("filters narrow the results", { skip: !assets && "no SEARCH_ASSETS" }, () => {
  const data = loadData("en");
  const { search } = engine(data, false);
  const slug = data.agencies[0].slug;
  const hits = search("", slug);
  assert.ok(hits.length > 0 && hits.every((hit) => data.agencies[hit.activity.agency].slug === slug));
});
