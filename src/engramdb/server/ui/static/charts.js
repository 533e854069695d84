// Inline SVG charts drawn here, no library: a bar of shares, a line with marks, a scatter.
// Every chart has a <title> and an aria-label that says in words what it shows.

const SVG = "http://www.w3.org/2000/svg";

function el(name, attrs = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function frame(width, height, label) {
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": label });
  svg.append(el("title", {}, label));
  return svg;
}

export const GROUP_COLOURS = {
  meaning: "#3558a8",
  words: "#2f8f6f",
  who: "#b5651d",
  conversation: "#7a5aa6",
  time: "#c0392b",
  form: "#8a8a8a",
  strength: "#d4a017",
  feeling: "#d35d92",
  knowledge: "#1f7a8c",
};

/** One horizontal bar split into the parts' shares; parts: [{share, colour, label}]. */
export function shareBar(parts, label, width = 420, height = 18) {
  const svg = frame(width, height, label);
  let x = 0;
  for (const part of parts) {
    const w = Math.max(0, part.share) * width;
    if (w < 0.5) continue;
    const rect = el("rect", { x, y: 0, width: w, height, fill: part.colour });
    rect.append(el("title", {}, `${part.label}: ${Math.round(part.share * 100)}%`));
    svg.append(rect);
    x += w;
  }
  return svg;
}

/** A line chart: points [{x: Date, y}] with y in [0, 1]; marks [{x: Date, label}]. */
export function lineChart(points, { label, marks = [], yLabel = "", width = 960, height = 240 }) {
  const svg = frame(width, height, label);
  const pad = { left: 44, right: 12, top: 12, bottom: 34 };
  const w = width - pad.left - pad.right;
  const h = height - pad.top - pad.bottom;
  const xs = points.map((p) => p.x.getTime()).concat(marks.map((m) => m.x.getTime()));
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs, x0 + 1);
  const ymax = Math.max(1, ...points.map((p) => p.y));
  const sx = (t) => pad.left + ((t - x0) / (x1 - x0)) * w;
  const sy = (v) => pad.top + h - (v / ymax) * h;
  for (const tick of [0, 0.25, 0.5, 0.75, 1]) {
    const v = tick * ymax;
    svg.append(el("line", { x1: pad.left, x2: pad.left + w, y1: sy(v), y2: sy(v), class: "grid" }));
    svg.append(el("text", { x: pad.left - 6, y: sy(v) + 4, "text-anchor": "end", class: "tick" }, ymax === 1 ? tick.toFixed(2) : Math.round(v)));
  }
  for (const [t, anchor] of [[x0, "start"], [(x0 + x1) / 2, "middle"], [x1, "end"]]) {
    svg.append(el("text", { x: sx(t), y: height - 14, "text-anchor": anchor, class: "tick" }, new Date(t).toISOString().slice(0, 10)));
  }
  if (yLabel) svg.append(el("text", { x: 4, y: pad.top + 8, class: "tick" }, yLabel));
  const path = points.map((p, i) => `${i ? "L" : "M"}${sx(p.x.getTime()).toFixed(1)},${sy(p.y).toFixed(1)}`).join("");
  svg.append(el("path", { d: path, class: "line" }));
  for (const mark of marks) {
    const x = sx(mark.x.getTime());
    svg.append(el("line", { x1: x, x2: x, y1: pad.top, y2: pad.top + h, class: "mark" }));
    const text = el("text", { x: x + 3, y: pad.top + 10 + 12 * (mark.row || 0), class: "mark-label" }, mark.label);
    svg.append(text);
  }
  return svg;
}

/** Valence (x, -1..1) by arousal (y, 0..1): one dot per memory; points [{valence, arousal, label, colour}]. */
export function emotionMap(points, { label, width = 420, height = 300 }) {
  const svg = frame(width, height, label);
  const pad = { left: 40, right: 12, top: 12, bottom: 34 };
  const w = width - pad.left - pad.right;
  const h = height - pad.top - pad.bottom;
  const sx = (v) => pad.left + ((v + 1) / 2) * w;
  const sy = (a) => pad.top + h - a * h;
  svg.append(el("rect", { x: pad.left, y: pad.top, width: w, height: h, class: "plot" }));
  svg.append(el("line", { x1: sx(0), x2: sx(0), y1: pad.top, y2: pad.top + h, class: "grid" }));
  svg.append(el("line", { x1: pad.left, x2: pad.left + w, y1: sy(0.5), y2: sy(0.5), class: "grid" }));
  svg.append(el("text", { x: pad.left, y: height - 14, class: "tick" }, "unpleasant"));
  svg.append(el("text", { x: pad.left + w, y: height - 14, "text-anchor": "end", class: "tick" }, "pleasant"));
  svg.append(el("text", { x: sx(0), y: height - 2, "text-anchor": "middle", class: "tick" }, "valence"));
  svg.append(el("text", { x: pad.left + 4, y: pad.top + 12, class: "tick" }, "intense"));
  svg.append(el("text", { x: pad.left + 4, y: pad.top + h - 4, class: "tick" }, "calm"));
  for (const p of points) {
    const dot = el("circle", { cx: sx(p.valence), cy: sy(p.arousal), r: 4, fill: p.colour || "#3558a8", class: "dot" });
    dot.append(el("title", {}, p.label));
    svg.append(dot);
  }
  return svg;
}

/** Bars of counts by day: days [{day: "YYYY-MM-DD", count}], with the running total drawn over them. */
export function growthChart(days, { label, width = 960, height = 240 }) {
  const svg = frame(width, height, label);
  const pad = { left: 44, right: 12, top: 12, bottom: 34 };
  const w = width - pad.left - pad.right;
  const h = height - pad.top - pad.bottom;
  if (!days.length) return svg;
  let total = 0;
  const running = days.map((d) => (total += d.count));
  const ymax = Math.max(1, total);
  const bw = w / days.length;
  const sy = (v) => pad.top + h - (v / ymax) * h;
  days.forEach((d, i) => {
    const bar = el("rect", { x: pad.left + i * bw + 1, y: sy(d.count), width: Math.max(1, bw - 2), height: pad.top + h - sy(d.count), class: "bar" });
    bar.append(el("title", {}, `${d.day}: ${d.count}, ${running[i]} in all`));
    svg.append(bar);
  });
  const path = running.map((v, i) => `${i ? "L" : "M"}${(pad.left + (i + 0.5) * bw).toFixed(1)},${sy(v).toFixed(1)}`).join("");
  svg.append(el("path", { d: path, class: "line" }));
  for (const v of [0, ymax]) svg.append(el("text", { x: pad.left - 6, y: sy(v) + 4, "text-anchor": "end", class: "tick" }, v));
  svg.append(el("text", { x: pad.left, y: height - 14, class: "tick" }, days[0].day));
  svg.append(el("text", { x: pad.left + w, y: height - 14, "text-anchor": "end", class: "tick" }, days[days.length - 1].day));
  return svg;
}
