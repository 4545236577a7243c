// The Review grid: selection, focus and the tile size live here, in the browser; only an action
// (label, flag, tag, clear flags, undo, open, turn the page) goes to the server, as one trigger
// value carrying every selected id, so one action is one round trip and one batch of events.
const STATES = new WeakMap();
// Pictures by image id, kept for the page's life: the server sends a picture once per session
// and a tile then names it only by id (see tile_grid.py); a tile whose picture is missing here
// asks the server to send them all again.
const PICTURES = new Map();
const SIZE_KEY = "curation.grid.size";
const COMMAND_KEYS = { f: "flag", t: "tag", x: "unflag", g: "gold" };

export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  let s = STATES.get(parentElement);
  if (!s) {
    s = create(parentElement);
    STATES.set(parentElement, s);
  }
  s.send = setTriggerValue;
  update(s, data || {});
}

function el(tag, attrs = {}, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function create(parent) {
  const s = { tiles: [], selected: new Set(), anchor: null, focus: 0, seq: 0, pending: 0, page: null, labels: [] };
  s.root = el("div", { class: "cg-root" });
  s.bar = el("div", { class: "cg-bar" });
  s.count = el("span", { class: "cg-count", "aria-live": "polite" });
  s.legend = el("span", { class: "cg-legend", role: "toolbar", "aria-label": "Label keys" });
  s.commands = el("span", { class: "cg-commands", role: "toolbar", "aria-label": "Actions" });
  s.searchBox = el("span", { class: "cg-search" });
  s.search = el("input", { type: "text", "aria-label": "Quick label search", placeholder: "label…", hidden: "" });
  s.matches = el("ul", { class: "cg-matches", role: "listbox", "aria-label": "Matching labels", hidden: "" });
  s.searchBox.append(s.search, s.matches);
  const sizeLabel = el("label", { class: "cg-size" }, "Tile size ");
  s.size = el("input", { type: "range", min: "64", max: "256", step: "16", "aria-label": "Tile size" });
  s.size.value = localStorage.getItem(SIZE_KEY) || "128";
  sizeLabel.append(s.size);
  s.help = el("div", { class: "cg-help" });
  s.bar.append(s.count, s.legend, s.searchBox, s.commands, sizeLabel, s.help);
  s.wrap = el("div", { class: "cg-wrap" });
  s.grid = el("div", { class: "cg-grid", role: "listbox", "aria-multiselectable": "true", tabindex: "0",
    "aria-label": "Images on this page" });
  s.wrap.append(s.grid);
  s.root.append(s.bar, s.wrap);
  parent.append(s.root);
  applySize(s);
  s.size.addEventListener("input", () => { localStorage.setItem(SIZE_KEY, s.size.value); applySize(s); });
  s.grid.addEventListener("keydown", (e) => onKey(s, e));
  s.grid.addEventListener("mousedown", (e) => onMouseDown(s, e));
  s.grid.addEventListener("dblclick", (e) => {
    const i = tileIndex(e.target);
    if (i !== null) act(s, "open", { ids: [s.tiles[i].id] });
  });
  s.search.addEventListener("input", () => renderMatches(s));
  s.search.addEventListener("keydown", (e) => onSearchKey(s, e));
  s.legend.addEventListener("click", (e) => {
    const key = e.target.closest("[data-label]");
    if (key) labelTargets(s, key.dataset.label);
  });
  s.commands.addEventListener("click", (e) => {
    const button = e.target.closest("[data-command]");
    if (button) command(s, button.dataset.command);
  });
  return s;
}

function applySize(s) {
  s.grid.style.setProperty("--cg-size", `${s.size.value}px`);
}

function update(s, data) {
  const pageChanged = data.page !== s.page;
  s.page = data.page;
  s.labels = data.labels || [];
  s.tiles = data.tiles || [];
  s.help.textContent = data.message || data.help || "";
  s.commandList = data.commands || [];
  if (data.ack !== undefined && data.ack > (s.ackSeen || 0)) {
    s.ackSeen = data.ack;
    if (data.clear) s.selected.clear();
  }
  const ids = new Set(s.tiles.map((t) => t.id));
  if (pageChanged) s.selected.clear();
  for (const id of [...s.selected]) if (!ids.has(id)) s.selected.delete(id);
  if (pageChanged) s.focus = 0;
  s.focus = Math.min(s.focus, Math.max(s.tiles.length - 1, 0));
  if (data.ack !== undefined && data.ack >= s.pending) s.grid.removeAttribute("aria-busy");
  s.seq = Math.max(s.seq, data.ack || 0);
  renderLegend(s);
  renderCommands(s);
  renderTiles(s);
  if (data.autofocus || document.activeElement === document.body) focusGrid(s);
}

function focusGrid(s) {
  s.grid.focus({ preventScroll: true });
}

function renderLegend(s) {
  s.legend.replaceChildren(...s.labels.slice(0, 9).map((label, n) => {
    const key = el("button", { type: "button", class: "cg-key", "data-label": label, "aria-keyshortcuts": String(n + 1),
      title: `Press ${n + 1} to label the selection '${label}'` });
    key.append(el("kbd", {}, String(n + 1)), document.createTextNode(label));
    return key;
  }));
}

function renderCommands(s) {
  s.commands.replaceChildren(...s.commandList.map((c) => {
    const button = el("button", { type: "button", class: "cg-key", "data-command": c.kind, "aria-keyshortcuts": c.shortcut,
      title: c.title || c.text });
    button.append(el("kbd", {}, c.key), document.createTextNode(c.text));
    return button;
  }));
}

function command(s, kind) {
  if (kind === "undo") act(s, "undo", {});
  else if (kind === "open") act(s, "open", { ids: targets(s).slice(0, 1) });
  else act(s, kind, { ids: targets(s) });
}

function renderTiles(s) {
  if (!s.tiles.length) {
    s.grid.replaceChildren(el("div", { class: "cg-empty", role: "presentation" }, "No image on this page."));
    s.count.textContent = "";
    return;
  }
  for (const t of s.tiles) if (t.src) PICTURES.set(t.id, t.src);
  if (s.tiles.some((t) => !t.src && !t.missing && !PICTURES.has(t.id))) {
    act(s, "resend", {});
  }
  s.nodes = s.nodes || new Map();
  const nodes = s.tiles.map((t, i) => tileNode(s, t, i));
  s.grid.replaceChildren(...nodes);
  paintSelection(s);
}

function tileNode(s, t, i) {
  const node = el("div", { class: "cg-tile", role: "option", id: `cg-${t.id}`, "data-index": String(i),
    "aria-label": `#${t.id} ${t.title}` });
  node.append(picture(s, t));
  const badges = el("div", { class: "cg-badges" });
  for (const b of t.badges || []) badges.append(el("span", { class: `cg-badge ${b.kind}` }, b.text));
  node.append(badges);
  if (t.pred) node.append(el("div", { class: "cg-pred" }, t.pred));
  node.append(el("div", { class: "cg-caption" }, `#${t.id} · ${t.title}`));
  return node;
}

// The tile's <img>, reused from the previous draw when its picture is the same, so a rerun after
// an action neither re-sends nor re-decodes the page's pictures.
function picture(s, t) {
  const src = t.missing ? null : (t.src || PICTURES.get(t.id));
  if (!src) return el("div", { class: "cg-missing" }, t.missing || "Picture not loaded");
  const kept = s.nodes.get(t.id);
  if (kept && kept.getAttribute("src") === src) return kept;
  const img = el("img", { src, alt: "", draggable: "false", decoding: "async" });
  s.nodes.set(t.id, img);
  return img;
}

function paintSelection(s) {
  s.grid.querySelectorAll(".cg-tile").forEach((node, i) => {
    const t = s.tiles[i];
    node.setAttribute("aria-selected", s.selected.has(t.id) ? "true" : "false");
    node.classList.toggle("cg-focus", i === s.focus);
  });
  const focused = s.tiles[s.focus];
  if (focused) s.grid.setAttribute("aria-activedescendant", `cg-${focused.id}`);
  const n = s.selected.size;
  s.count.textContent = `${n} selected`;
}

function tileIndex(target) {
  const node = target.closest && target.closest(".cg-tile");
  return node ? Number(node.dataset.index) : null;
}

function onMouseDown(s, e) {
  if (e.button !== 0) return;
  focusGrid(s);
  e.preventDefault();
  const start = { x: e.clientX, y: e.clientY };
  const pressed = tileIndex(e.target);
  const base = e.ctrlKey || e.metaKey ? new Set(s.selected) : new Set();
  let rect = null;
  const move = (ev) => {
    if (!rect && Math.hypot(ev.clientX - start.x, ev.clientY - start.y) < 6) return;
    if (!rect) {
      rect = el("div", { class: "cg-rect" });
      s.wrap.append(rect);
    }
    dragSelect(s, start, ev, rect, base);
  };
  const up = (ev) => {
    window.removeEventListener("mousemove", move);
    window.removeEventListener("mouseup", up);
    if (rect) {
      rect.remove();
      return;
    }
    if (pressed !== null) clickTile(s, pressed, ev);
  };
  window.addEventListener("mousemove", move);
  window.addEventListener("mouseup", up);
}

function dragSelect(s, start, ev, rect, base) {
  const box = s.wrap.getBoundingClientRect();
  const x1 = Math.min(start.x, ev.clientX), x2 = Math.max(start.x, ev.clientX);
  const y1 = Math.min(start.y, ev.clientY), y2 = Math.max(start.y, ev.clientY);
  Object.assign(rect.style, { left: `${x1 - box.left}px`, top: `${y1 - box.top}px`, width: `${x2 - x1}px`,
    height: `${y2 - y1}px` });
  s.selected = new Set(base);
  s.grid.querySelectorAll(".cg-tile").forEach((node, i) => {
    const r = node.getBoundingClientRect();
    if (r.right >= x1 && r.left <= x2 && r.bottom >= y1 && r.top <= y2) s.selected.add(s.tiles[i].id);
  });
  paintSelection(s);
}

function clickTile(s, i, e) {
  const id = s.tiles[i].id;
  if (e.shiftKey && s.anchor !== null) {
    if (!(e.ctrlKey || e.metaKey)) s.selected.clear();
    selectRange(s, s.anchor, i);
  } else if (e.ctrlKey || e.metaKey) {
    if (s.selected.has(id)) s.selected.delete(id); else s.selected.add(id);
    s.anchor = i;
  } else {
    s.selected = new Set([id]);
    s.anchor = i;
  }
  s.focus = i;
  paintSelection(s);
}

function selectRange(s, a, b) {
  for (let k = Math.min(a, b); k <= Math.max(a, b); k++) s.selected.add(s.tiles[k].id);
}

function columns(s) {
  const nodes = s.grid.querySelectorAll(".cg-tile");
  if (nodes.length < 2) return 1;
  const top = nodes[0].offsetTop;
  let n = 0;
  while (n < nodes.length && nodes[n].offsetTop === top) n++;
  return Math.max(n, 1);
}

function moveFocus(s, step, extend) {
  const next = Math.min(Math.max(s.focus + step, 0), s.tiles.length - 1);
  if (extend) {
    if (s.anchor === null) s.anchor = s.focus;
    s.selected.clear();
    selectRange(s, s.anchor, next);
  }
  s.focus = next;
  paintSelection(s);
  const node = s.grid.querySelector(`#cg-${s.tiles[next].id}`);
  if (node) node.scrollIntoView({ block: "nearest" });
}

function onKey(s, e) {
  if (!s.tiles.length) return;
  const ctrl = e.ctrlKey || e.metaKey;
  const key = e.key;
  const steps = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -columns(s), ArrowDown: columns(s) };
  let handled = true;
  if (key in steps) moveFocus(s, steps[key], e.shiftKey);
  else if (key === "Home") moveFocus(s, -s.focus, e.shiftKey);
  else if (key === "End") moveFocus(s, s.tiles.length, e.shiftKey);
  else if (ctrl && key.toLowerCase() === "a") { s.selected = new Set(s.tiles.map((t) => t.id)); paintSelection(s); }
  else if (ctrl && key.toLowerCase() === "z") act(s, "undo", {});
  else if (ctrl) handled = false;
  else if (key === "Escape") { s.selected.clear(); paintSelection(s); }
  else if (key === " ") clickTile(s, s.focus, { ctrlKey: true });
  else if (key === "Enter") act(s, "open", { ids: [s.tiles[s.focus].id] });
  else if (key === "PageDown") act(s, "page", { step: 1 });
  else if (key === "PageUp") act(s, "page", { step: -1 });
  else if (/^[1-9]$/.test(key) && s.labels[Number(key) - 1] !== undefined) labelTargets(s, s.labels[Number(key) - 1]);
  else if (COMMAND_KEYS[key.toLowerCase()] && !e.altKey && s.commandList.some((c) => c.kind === COMMAND_KEYS[key.toLowerCase()])) command(s, COMMAND_KEYS[key.toLowerCase()]);
  else if (key === "/" || (key.length === 1 && /\S/.test(key) && !e.altKey)) openSearch(s, key === "/" ? "" : key);
  else handled = false;
  if (handled) { e.preventDefault(); e.stopPropagation(); }
}

function targets(s) {
  if (s.selected.size) return s.tiles.filter((t) => s.selected.has(t.id)).map((t) => t.id);
  return s.tiles[s.focus] ? [s.tiles[s.focus].id] : [];
}

function labelTargets(s, label) {
  act(s, "label", { ids: targets(s), label });
}

function act(s, kind, payload) {
  s.seq += 1;
  s.pending = s.seq;
  s.grid.setAttribute("aria-busy", "true");
  s.send("action", { kind, seq: s.seq, ...payload });
}

function openSearch(s, text) {
  s.search.hidden = false;
  s.search.value = text;
  s.search.focus();
  renderMatches(s);
}

function closeSearch(s) {
  s.search.hidden = true;
  s.matches.hidden = true;
  s.search.value = "";
  focusGrid(s);
}

function matching(s) {
  const q = s.search.value.trim().toLowerCase();
  if (!q) return s.labels.slice();
  const starts = s.labels.filter((l) => l.toLowerCase().startsWith(q));
  return starts.concat(s.labels.filter((l) => !l.toLowerCase().startsWith(q) && l.toLowerCase().includes(q)));
}

function renderMatches(s) {
  const found = matching(s);
  const typed = s.search.value.trim();
  const options = found.length || !typed ? found : [typed];
  s.matchIndex = 0;
  s.matches.replaceChildren(...options.slice(0, 8).map((label, n) => el("li", { role: "option",
    "aria-selected": n === 0 ? "true" : "false", "data-label": label },
    found.length ? label : `new label '${label}'`)));
  s.matches.hidden = options.length === 0;
}

function onSearchKey(s, e) {
  const items = [...s.matches.querySelectorAll("li")];
  if (e.key === "Escape") closeSearch(s);
  else if (e.key === "Enter") {
    const chosen = items[s.matchIndex || 0];
    closeSearch(s);
    if (chosen) labelTargets(s, chosen.dataset.label);
  } else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
    s.matchIndex = Math.min(Math.max((s.matchIndex || 0) + (e.key === "ArrowDown" ? 1 : -1), 0), items.length - 1);
    items.forEach((li, n) => li.setAttribute("aria-selected", n === s.matchIndex ? "true" : "false"));
  } else return;
  e.preventDefault();
  e.stopPropagation();
}
