// One picture that zooms (wheel, + and -) and pans (drag) inside a fixed frame; 0 or a double
// click fits it again. The picture arrives as a data URI, inside the session.
const STATES = new WeakMap();

export default function (component) {
  const { data, parentElement } = component;
  let s = STATES.get(parentElement);
  if (!s) {
    s = create(parentElement);
    STATES.set(parentElement, s);
  }
  if (s.img.getAttribute("src") !== data.src) {
    s.img.src = data.src;
    s.img.alt = data.alt || "";
    reset(s);
  }
  s.frame.style.height = `${data.height || 520}px`;
}

function create(parent) {
  const frame = document.createElement("div");
  frame.className = "zv-frame";
  frame.tabIndex = 0;
  frame.setAttribute("aria-label", "Picture: wheel or + and - zoom, drag pans, 0 or a double click fits");
  const img = document.createElement("img");
  img.draggable = false;
  const hint = document.createElement("div");
  hint.className = "zv-hint";
  frame.append(img, hint);
  parent.append(frame);
  const s = { frame, img, hint, scale: 1, x: 0, y: 0 };
  frame.addEventListener("wheel", (e) => {
    e.preventDefault();
    const r = frame.getBoundingClientRect();
    zoomAt(s, e.deltaY < 0 ? 1.2 : 1 / 1.2, e.clientX - r.left, e.clientY - r.top);
  }, { passive: false });
  frame.addEventListener("mousedown", (e) => {
    const start = { x: e.clientX - s.x, y: e.clientY - s.y };
    const move = (ev) => { s.x = ev.clientX - start.x; s.y = ev.clientY - start.y; paint(s); };
    const up = () => { window.removeEventListener("mousemove", move); window.removeEventListener("mouseup", up); };
    window.addEventListener("mousemove", move);
    window.addEventListener("mouseup", up);
  });
  frame.addEventListener("dblclick", () => reset(s));
  frame.addEventListener("keydown", (e) => {
    const r = frame.getBoundingClientRect();
    if (e.key === "+" || e.key === "=") zoomAt(s, 1.25, r.width / 2, r.height / 2);
    else if (e.key === "-") zoomAt(s, 0.8, r.width / 2, r.height / 2);
    else if (e.key === "0") reset(s);
    else return;
    e.stopPropagation();
  });
  return s;
}

function zoomAt(s, factor, cx, cy) {
  const scale = Math.min(Math.max(s.scale * factor, 1), 16);
  const k = scale / s.scale;
  s.x = cx - (cx - s.x) * k;
  s.y = cy - (cy - s.y) * k;
  s.scale = scale;
  paint(s);
}

function reset(s) {
  s.scale = 1; s.x = 0; s.y = 0;
  paint(s);
}

function paint(s) {
  s.img.style.transform = `translate(${s.x}px, ${s.y}px) scale(${s.scale})`;
  s.hint.textContent = s.scale > 1 ? `${Math.round(s.scale * 100)}%` : "";
}
