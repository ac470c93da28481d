package serve

import "net/http"

// handlePage serves the web page: drop an image (or pick one) and see its
// nearest neighbours as thumbnails, and its classes when a classifier is
// loaded. Self-contained: no external scripts, styles or fonts.
func (s *Server) handlePage(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' blob: data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'")
	_, err := w.Write([]byte(page))
	return err
}

const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>selfsup: similar images</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
#drop { border: 2px dashed #888; border-radius: 8px; padding: 2em; text-align: center; max-width: 40em; }
#drop.over { background: #eef; }
#query { max-height: 128px; image-rendering: pixelated; display: none; margin-top: 1em; }
#results { display: flex; flex-wrap: wrap; gap: 12px; margin-top: 1em; }
figure.hit { margin: 0; width: 112px; font-size: 12px; text-align: center; }
figure.hit img { width: 96px; height: 96px; object-fit: contain; image-rendering: pixelated; background: #f4f4f4; }
figure.hit .noimg { width: 96px; height: 96px; display: inline-flex; align-items: center; justify-content: center; background: #f4f4f4; }
figcaption { overflow-wrap: anywhere; }
#status { margin-top: 1em; color: #555; }
#classes li { font-family: monospace; }
</style>
</head>
<body>
<h1>Similar images</h1>
<div id="drop">
  <p>Drop an image here, or <label><u>choose a file</u> <input type="file" id="file" accept="image/*" hidden></label>.</p>
  <p><label>neighbours: <input type="number" id="k" value="10" min="1" max="100" style="width: 4em"></label></p>
  <img id="query" alt="query image">
</div>
<div id="status">Encoder: <span id="encoder">…</span></div>
<ol id="classes"></ol>
<div id="results"></div>
<script>
"use strict";
let health = {};
const $ = (id) => document.getElementById(id);
function status(msg) { $("status").textContent = msg; }
fetch("/healthz").then(r => r.json()).then(h => {
  health = h;
  status("Encoder " + h.encoder_id + (h.index ? ", " + h.index_vectors + " images indexed" : ", no index") + (h.classifier ? ", classifier loaded" : ""));
});
function render(neighbors) {
  const box = $("results");
  box.replaceChildren();
  for (const n of neighbors) {
    const fig = document.createElement("figure");
    fig.className = "hit";
    if (n.thumbnail) {
      const img = document.createElement("img");
      img.src = n.thumbnail;
      img.alt = n.id;
      fig.appendChild(img);
    } else {
      const ph = document.createElement("span");
      ph.className = "noimg";
      ph.textContent = "no file";
      fig.appendChild(ph);
    }
    const cap = document.createElement("figcaption");
    cap.textContent = n.id + " (" + n.score.toFixed(3) + ")";
    fig.appendChild(cap);
    box.appendChild(fig);
  }
}
async function post(path, file) {
  const r = await fetch(path, { method: "POST", body: file, headers: { "Content-Type": "application/octet-stream" } });
  const j = await r.json();
  if (!r.ok) throw new Error(j.error || r.statusText);
  return j;
}
async function send(file) {
  const q = $("query");
  q.src = URL.createObjectURL(file);
  q.style.display = "block";
  status("Searching…");
  $("classes").replaceChildren();
  try {
    if (health.index) {
      const j = await post("/search?k=" + encodeURIComponent($("k").value), file);
      render(j.neighbors);
      status(j.neighbors.length + " neighbours in " + j.took_ms.toFixed(1) + " ms");
    }
    if (health.classifier) {
      const c = await post("/classify", file);
      for (const p of c.predictions.slice(0, 3)) {
        const li = document.createElement("li");
        li.textContent = p.class + ": " + (100 * p.probability).toFixed(1) + "%";
        $("classes").appendChild(li);
      }
    }
  } catch (e) {
    $("results").replaceChildren();
    status("Error: " + e.message);
  }
}
$("file").addEventListener("change", (e) => { if (e.target.files.length) send(e.target.files[0]); });
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  if (e.dataTransfer.files.length) send(e.dataTransfer.files[0]);
});
</script>
</body>
</html>
`
