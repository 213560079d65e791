// The page of `fashion-mnist serve`. The server keeps nothing between requests: the page keeps the photo the
// user chose and posts it again, with the box, each time the box changes.
"use strict";

const maxUploadBytes = Number(document.body.dataset.maxUploadBytes);
const byId = (id) => document.getElementById(id);
const boxFields = ["left", "top", "width", "height"].map((name) => byId(`box-${name}`));

let chosenFile = null; // the photo as the user chose it
let photoSize = null; // its width and height as the server reads it: the box is in these pixels
let shownBox = null; // [left, top, width, height]
let request = null; // the request in flight, aborted by a newer one

function showError(message) {
  byId("error").textContent = message;
  byId("error").hidden = !message;
}

function megabytes(bytes) {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function choose(file) {
  if (!file) return;
  // Refused here as the server would refuse it, without sending it: a browser may not read an early answer.
  if (file.size > maxUploadBytes) {
    showError(
      `${file.name}: the file is ${megabytes(file.size)}, over the limit of ${megabytes(maxUploadBytes)}; ` +
        "expected a smaller photo: scale it down, or save it as a JPEG",
    );
    return;
  }
  chosenFile = file;
  classify(null);
}

async function classify(box) {
  if (request) request.abort();
  const controller = new AbortController();
  request = controller;
  const form = new FormData();
  form.append("photo", chosenFile, chosenFile.name);
  if (box) form.append("box", box.join(","));
  byId("status").textContent = `Classifying ${chosenFile.name}\u2026`;
  let response;
  let body;
  try {
    response = await fetch("predict", { method: "POST", body: form, signal: controller.signal });
    body = await response.json().catch(() => ({ error: `the server answered ${response.status} without a result` }));
  } catch (error) {
    if (error.name === "AbortError") return;
    body = { error: `no answer from the server (${error.message}): is \`fashion-mnist serve\` still running?` };
  }
  if (request !== controller) return;
  request = null;
  if (response && response.ok) {
    showError("");
    showResult(body);
  } else {
    showError(body.error);
    showFailure(body);
  }
}

function showPhoto(body) {
  byId("photo-image").src = body.photo;
  photoSize = { width: body.width, height: body.height };
  setBox(body.box);
  byId("drop-hint").hidden = true;
  byId("photo-frame").hidden = false;
  byId("box-form").hidden = false;
}

function showResult(body) {
  showPhoto(body);
  for (const [step, url] of Object.entries(body.steps)) byId(`step-${step}`).src = url;
  byId("method").textContent = body.method;
  drawBars(body.classes);
  byId("status").textContent = `${body.width}\u00d7${body.height} px as read \u00b7 ${chosenFile.name}`;
  byId("status").title = chosenFile.name;
  byId("answer").hidden = false;
  byId("steps").hidden = false;
}

// A photo that was read but whose item was not found stays shown, so that a box can be drawn around the item.
function showFailure(body) {
  byId("answer").hidden = true;
  byId("steps").hidden = true;
  if (body.photo) {
    showPhoto(body);
    byId("status").textContent = "Draw a box around the item.";
  } else {
    byId("status").textContent = "No result.";
    if (!photoSize) return;
    byId("photo-frame").hidden = true;
    byId("box-form").hidden = true;
    byId("drop-hint").hidden = false;
    photoSize = null;
  }
}

function drawBars(classes) {
  const best = classes.reduce((top, entry) => (entry.probability > top.probability ? entry : top));
  byId("top-class").textContent = best.name;
  byId("top-probability").textContent = `${(best.probability * 100).toFixed(1)}%`;
  const bars = byId("bars");
  bars.replaceChildren(
    ...classes.map((entry) => {
      const row = document.createElement("li");
      row.className = entry === best ? "best" : "";
      const name = document.createElement("span");
      name.textContent = entry.name;
      const track = document.createElement("span");
      track.className = "track";
      const fill = document.createElement("span");
      fill.className = "fill";
      fill.style.display = "block";
      fill.style.width = `${(entry.probability * 100).toFixed(2)}%`;
      track.append(fill);
      const percent = document.createElement("span");
      percent.className = "percent";
      percent.textContent = `${(entry.probability * 100).toFixed(1)}%`;
      row.append(name, track, percent);
      return row;
    }),
  );
}

// The box is placed in percent of the photo, so that it follows the photo however large it is drawn.
function setBox(box) {
  shownBox = box;
  const [left, top, width, height] = box;
  const style = byId("box").style;
  style.left = `${(left / photoSize.width) * 100}%`;
  style.top = `${(top / photoSize.height) * 100}%`;
  style.width = `${(width / photoSize.width) * 100}%`;
  style.height = `${(height / photoSize.height) * 100}%`;
  box.forEach((value, index) => {
    boxFields[index].value = value;
  });
}

function photoPoint(event) {
  const frame = byId("photo-frame").getBoundingClientRect();
  const clamp = (value, limit) => Math.min(limit, Math.max(0, Math.round(value)));
  return [
    clamp(((event.clientX - frame.left) / frame.width) * photoSize.width, photoSize.width),
    clamp(((event.clientY - frame.top) / frame.height) * photoSize.height, photoSize.height),
  ];
}

let dragStart = null;
let boxBeforeDrag = null;

function boxBetween(start, end) {
  return [
    Math.min(start[0], end[0]),
    Math.min(start[1], end[1]),
    Math.abs(end[0] - start[0]),
    Math.abs(end[1] - start[1]),
  ];
}

byId("photo-frame").addEventListener("pointerdown", (event) => {
  event.preventDefault();
  event.currentTarget.setPointerCapture(event.pointerId);
  dragStart = photoPoint(event);
  boxBeforeDrag = shownBox;
});

byId("photo-frame").addEventListener("pointermove", (event) => {
  if (dragStart) setBox(boxBetween(dragStart, photoPoint(event)));
});

byId("photo-frame").addEventListener("pointerup", (event) => {
  if (!dragStart) return;
  const box = boxBetween(dragStart, photoPoint(event));
  dragStart = null;
  // A click, or a box too small to hold an item, keeps the box there was.
  if (box[2] < 4 || box[3] < 4) {
    setBox(boxBeforeDrag);
    return;
  }
  classify(box);
});

byId("box-form").addEventListener("submit", (event) => {
  event.preventDefault();
  classify(boxFields.map((field) => Math.round(Number(field.value))));
});

byId("photo-input").addEventListener("change", (event) => {
  choose(event.target.files[0]);
  // Cleared, so that choosing the same file again, after fixing it, is a change too.
  event.target.value = "";
});

// A photo dropped anywhere on the page is taken; the browser would otherwise open it in place of the page.
document.addEventListener("dragover", (event) => {
  event.preventDefault();
  byId("drop-zone").classList.add("dragging");
});
document.addEventListener("dragleave", () => byId("drop-zone").classList.remove("dragging"));
document.addEventListener("drop", (event) => {
  event.preventDefault();
  byId("drop-zone").classList.remove("dragging");
  choose(event.dataTransfer.files[0]);
});
