// ragops web UI: plain JavaScript, no build step. Talks to the same HTTP API as any client.
"use strict";

const $ = (id) => document.getElementById(id);
let lastAnswer = null;
let pollTimer = null;

// authHeaders(), KEY_ITEM and addTerm() come from api.js, loaded before this file.

function askForCredential(message) {
  $("key-form").hidden = false;
  $("key-status").textContent = message || "This server needs an API key.";
  $("key-input").focus();
}

async function api(method, path, body) {
  const options = { method, headers: authHeaders() };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const message = data && data.error ? data.error.message : response.statusText;
    if (response.status === 401) askForCredential(message);
    const error = new Error(message);
    error.status = response.status;
    throw error;
  }
  return data;
}

// -- documents ------------------------------------------------------------------------------
function statusText(doc) {
  if (doc.status === "failed") return `failed: ${doc.status_reason || "unknown reason"}`;
  if (doc.status === "pending") return doc.status_reason ? `pending: ${doc.status_reason}` : "pending";
  return doc.status;
}

async function refreshDocuments() {
  let documents = [];
  try {
    documents = (await api("GET", "/v1/documents")).documents;
  } catch (error) {
    $("ask-status").textContent = `Could not list documents: ${error.message}`;
    return;
  }
  const body = $("documents").querySelector("tbody");
  body.replaceChildren();
  for (const doc of documents) {
    const row = document.createElement("tr");
    row.dataset.docId = doc.doc_id;
    const title = document.createElement("td");
    title.textContent = doc.title === doc.source ? doc.source : `${doc.title} (${doc.source})`;
    // Quality warnings from ingestion (duplicates, near-empty or garbled text), in words.
    for (const finding of (doc.quality || []).filter((f) => f.severity !== "info")) {
      const note = document.createElement("div");
      note.className = `doc-quality ${finding.severity}`;
      note.textContent = finding.message;
      title.append(note);
    }
    const status = document.createElement("td");
    status.textContent = statusText(doc);
    status.className = `doc-status ${doc.status}`;
    const chunks = document.createElement("td");
    chunks.textContent = String(doc.chunk_count);
    const updated = document.createElement("td");
    updated.textContent = new Date(doc.updated_at).toLocaleString();
    const actions = document.createElement("td");
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = "Delete";
    remove.setAttribute("aria-label", `Delete ${doc.source}`);
    remove.addEventListener("click", () => deleteDocument(doc));
    actions.append(remove);
    row.append(title, status, chunks, updated, actions);
    body.append(row);
  }
  $("docs-empty").hidden = documents.length > 0;
  clearTimeout(pollTimer);
  if (documents.some((d) => d.status === "pending")) pollTimer = setTimeout(refreshDocuments, 3000);
}

async function deleteDocument(doc) {
  if (!window.confirm(`Delete ${doc.source}? Its passages leave the index.`)) return;
  try {
    await api("DELETE", `/v1/documents/${encodeURIComponent(doc.doc_id)}`);
  } catch (error) {
    $("ask-status").textContent = `Could not delete ${doc.source}: ${error.message}`;
  }
  refreshDocuments();
}

// Which way a file goes (GET /v1/uploads/limits, asked once): through the API, or, when it
// is too large for the API's request limit (on AWS Lambda about 4.5 MB), straight to the
// bucket with a presigned POST (POST /v1/uploads).
let uploadLimits = null;
async function getUploadLimits() {
  if (uploadLimits === null) {
    try {
      uploadLimits = await api("GET", "/v1/uploads/limits");
    } catch {
      return {}; // asked again next time; meanwhile every file goes through the API
    }
  }
  return uploadLimits;
}

function uploadRow(file) {
  const item = document.createElement("li");
  const name = document.createElement("span");
  name.textContent = file.name;
  const progress = document.createElement("progress");
  progress.max = 100;
  progress.value = 0;
  progress.setAttribute("aria-label", `Uploading ${file.name}`);
  const result = document.createElement("span");
  result.className = "upload-result";
  item.append(name, progress, result);
  $("uploads").append(item);
  return {
    progress,
    done(ok, text) {
      progress.value = 100;
      item.classList.add(ok ? "ok" : "error");
      result.textContent = text;
    },
    say(text) { result.textContent = text; },
  };
}

// POST a form with upload progress (XMLHttpRequest, not fetch: it reports progress).
// Resolves with the request once answered, or null when nothing came back.
function postForm(url, form, progress, headers) {
  return new Promise((resolve) => {
    const request = new XMLHttpRequest();
    request.open("POST", url);
    for (const [name, value] of Object.entries(headers || {})) request.setRequestHeader(name, value);
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) progress.value = (100 * event.loaded) / event.total;
    });
    request.addEventListener("load", () => resolve(request));
    request.addEventListener("error", () => resolve(null));
    request.send(form);
  });
}

async function uploadOne(file) {
  const row = uploadRow(file);
  const limits = await getUploadLimits();
  if (limits.direct_uploads && limits.direct_upload_above_bytes !== null &&
      file.size > limits.direct_upload_above_bytes) {
    return uploadDirect(file, row);
  }
  const form = new FormData();
  form.append("file", file, file.name);
  const request = await postForm("/v1/documents", form, row.progress, authHeaders());
  if (request === null) return row.done(false, "the upload did not reach the server");
  let data = null;
  try { data = JSON.parse(request.responseText); } catch { data = null; }
  if (request.status >= 400) {
    return row.done(false, data && data.error ? data.error.message : `failed (${request.status})`);
  }
  const first = data && data.results ? data.results[0] : null;
  if (first && first.error) return row.done(false, first.error);
  const outcome = first ? first.outcome : "stored";
  row.done(true, outcome === "accepted" ? "stored; indexed when the search tier resumes" : outcome);
}

// S3 answers a refused POST with XML: <Error><Code>..</Code><Message>..</Message></Error>.
function bucketError(request) {
  const xml = new DOMParser().parseFromString(request.responseText || "", "application/xml");
  const message = xml.querySelector("Message");
  return message ? message.textContent : `the bucket refused the upload (${request.status})`;
}

const POLL_MS = 3000;
const POLL_LIMIT_MS = 15 * 60 * 1000;

// A large file: ask the API for a presigned POST, send the form's fields and then the file
// to the bucket (never the credential: the signed policy is the permission), then poll the
// document until the ingest function has taken it.
async function uploadDirect(file, row) {
  let ticket;
  try {
    ticket = await api("POST", "/v1/uploads", { filename: file.name, size: file.size });
  } catch (error) {
    return row.done(false, error.message);
  }
  const form = new FormData();
  for (const [name, value] of Object.entries(ticket.fields)) form.append(name, value);
  form.append("file", file, file.name); // last: S3 ignores fields after the file
  const request = await postForm(ticket.url, form, row.progress);
  if (request === null) return row.done(false, "the upload did not reach the bucket");
  if (request.status >= 300) return row.done(false, bucketError(request));
  row.say("uploaded; indexing…");
  refreshDocuments();
  const started = Date.now();
  while (Date.now() - started < POLL_LIMIT_MS) {
    await new Promise((wake) => setTimeout(wake, POLL_MS));
    let doc;
    try {
      doc = await api("GET", ticket.poll);
    } catch (error) {
      if (error.status === 404) continue; // the ingest function has not taken it yet
      return row.done(false, error.message);
    }
    refreshDocuments();
    if (doc.status === "indexed") return row.done(true, "created");
    if (doc.status === "failed") return row.done(false, statusText(doc));
    if (doc.status === "pending") return row.done(true, "stored; indexed when the search tier resumes");
  }
  row.done(true, "uploaded; not indexed yet (the document list shows it once it is)");
}

async function uploadFiles(files) {
  await Promise.all(Array.from(files).map(uploadOne));
  refreshDocuments();
}

// -- asking -----------------------------------------------------------------------------------
// "Operations > Maintenance mode": the heading path of the passage in its document, if any.
function sectionSuffix(citation) {
  return citation.section ? ` > ${citation.section}` : "";
}

function showPassage(citation) {
  $("passage-title").textContent = `[${citation.number}] ${citation.title}${sectionSuffix(citation)}`;
  $("passage-where").textContent = citation.page ? `${citation.source}, page ${citation.page}` : citation.source;
  $("passage-text").textContent = citation.snippet;
  $("passage").hidden = false;
  $("passage").focus();
  openInPlace(citation); // viewer.js: the document at the cited place
}

function citationButton(citation) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "cite";
  button.textContent = `[${citation.number}]`;
  button.setAttribute("aria-label", `Open source ${citation.number}: ${citation.title}`);
  button.addEventListener("click", () => showPassage(citation));
  return button;
}

function renderAnswerText(answer) {
  // Turn each [n] marker into a button that opens the cited passage.
  const byNumber = new Map(answer.citations.map((c) => [c.number, c]));
  const target = $("answer-text");
  target.replaceChildren();
  for (const part of answer.answer.split(/(\[\d+\])/)) {
    const match = /^\[(\d+)\]$/.exec(part);
    const citation = match ? byNumber.get(Number(match[1])) : null;
    target.append(citation ? citationButton(citation) : document.createTextNode(part));
  }
}

function renderAnswer(answer) {
  lastAnswer = answer;
  renderAnswerText(answer);
  const list = $("citations");
  list.replaceChildren();
  for (const citation of answer.citations) {
    const item = document.createElement("li");
    const open = citationButton(citation);
    const page = citation.page ? `, page ${citation.page}` : "";
    open.textContent = `${citation.title}${page}${sectionSuffix(citation)}`;
    item.append(open);
    list.append(item);
  }
  $("passage").hidden = true;
  const meta = $("answer-meta");
  meta.replaceChildren();
  const how = answer.mode === "extractive"
    ? (answer.fallback ? `extractive: ${answer.model} wrote an answer the passages did not support`
      : "extractive: the passages' own sentences")
    : answer.mode === "generative" ? `generated by ${answer.model}` : "declined";
  addTerm(meta, "Answer", answer.route && answer.mode === "generative" ? `${how} (${answer.route.tier})` : how);
  if (answer.answerability) {
    addTerm(meta, "Answerable", `${Math.round(answer.answerability.probability * 100)}% (needs ${Math.round(answer.answerability.threshold * 100)}%)`);
  }
  const cache = answer.cache && answer.cache.hit ? `${answer.cache.hit} hit` : "not cached";
  addTerm(meta, "Cache", answer.cache && answer.cache.similarity != null && answer.cache.hit === "semantic"
    ? `${cache} (similarity ${answer.cache.similarity})` : cache);
  addTerm(meta, "Tokens", `${answer.usage.input_tokens} in, ${answer.usage.output_tokens} out`);
  if (answer.cost) addTerm(meta, "Cost", `$${answer.cost.total_usd.toFixed(6)}`);
  addTerm(meta, "Latency", `${Math.round(answer.latency_ms)} ms`);
  const grounded = answer.groundedness ? (answer.groundedness.grounded ? "every sentence supported" : "partly supported") : "n/a";
  addTerm(meta, "Grounded", answer.abstained
    ? (answer.answerability ? "no passage answers this" : "nothing relevant found") : grounded);
  const flags = [];
  if (answer.groundedness) {
    for (const s of answer.groundedness.sentences) if (!s.supported) flags.push(`${s.text} (flagged)`);
    for (const s of answer.groundedness.removed) flags.push(`${s} (left out of the answer)`);
  }
  $("flag-list").replaceChildren(...flags.map((text) => {
    const li = document.createElement("li");
    li.textContent = text;
    return li;
  }));
  $("flags").hidden = flags.length === 0;
  $("feedback-status").textContent = "";
  $("answer").hidden = false;
}

function parseEvent(block) {
  const event = { kind: "message", data: null };
  for (const line of block.split("\n")) {
    if (line.startsWith("event: ")) event.kind = line.slice(7);
    else if (line.startsWith("data: ")) event.data = JSON.parse(line.slice(6));
  }
  return event;
}

function showStreaming() {
  // The answer so far: plain text, replaced by the final answer with its sources.
  $("answer-text").textContent = "";
  $("citations").replaceChildren();
  $("answer-meta").replaceChildren();
  $("passage").hidden = true;
  $("flags").hidden = true;
  $("feedback-status").textContent = "";
  $("answer").hidden = false;
}

async function streamAnswer(question) {
  // POST /v1/query/stream: server-sent events read from the response body (EventSource
  // only does GET). `delta` events carry sentences as they are written; `answer` the rest.
  const response = await fetch("/v1/query/stream", {
    method: "POST",
    headers: { "Content-Type": "application/json", ...authHeaders() },
    body: JSON.stringify(currentConversation ? { question, conversation_id: currentConversation } : { question }),
  });
  if (!response.ok) {
    const data = await response.json().catch(() => null);
    if (response.status === 401) askForCredential(data && data.error ? data.error.message : "");
    const error = new Error(data && data.error ? data.error.message : response.statusText);
    error.status = response.status;
    throw error;
  }
  showStreaming();
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let streamed = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const event = parseEvent(buffer.slice(0, cut));
      buffer = buffer.slice(cut + 2);
      if (event.kind === "delta") {
        streamed += event.data.text;
        $("answer-text").textContent = streamed;
      } else if (event.kind === "answer") {
        renderAnswer(event.data);
        addTurn(question, event.data); // conversations.js
        return;
      } else if (event.kind === "error") {
        throw new Error(event.data.error.message);
      }
    }
  }
  throw new Error("the answer stream ended early");
}

async function ask(event) {
  event.preventDefault();
  const question = $("question").value.trim();
  if (!question) return;
  $("ask-button").disabled = true;
  $("ask-status").textContent = "Thinking…";
  try {
    await streamAnswer(question);
    $("ask-status").textContent = "";
    $("question").value = "";
  } catch (error) {
    $("ask-status").textContent = error.status === 503
      ? `The search tier is not available: ${error.message}`
      : `Could not answer: ${error.message}`;
  } finally {
    $("ask-button").disabled = false;
  }
}

async function sendFeedback(rating) {
  if (!lastAnswer || !lastAnswer.answer_id) return;
  try {
    await api("POST", "/v1/feedback", { answer_id: lastAnswer.answer_id, rating });
    $("feedback-status").textContent = "Thanks for the feedback.";
  } catch (error) {
    $("feedback-status").textContent = `Feedback not saved: ${error.message}`;
  }
}

async function refreshTier() {
  try {
    const health = await api("GET", "/healthz");
    const banner = $("tier-banner");
    banner.hidden = health.tier.usable;
    banner.textContent = health.tier.usable ? "" :
      `Maintenance: the search tier is ${health.tier.state}. Uploads are still accepted and ` +
      "will be indexed when it resumes; questions wait until then.";
  } catch { /* the banner is a nicety */ }
}

function init() {
  $("ask-form").addEventListener("submit", ask);
  $("question").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); $("ask-form").requestSubmit(); }
  });
  $("passage-close").addEventListener("click", () => { $("passage").hidden = true; });
  $("thumbs-up").addEventListener("click", () => sendFeedback("up"));
  $("thumbs-down").addEventListener("click", () => sendFeedback("down"));
  $("file-input").addEventListener("change", (event) => uploadFiles(event.target.files));
  const zone = $("drop-zone");
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    uploadFiles(event.dataTransfer.files);
  });
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const credential = $("key-input").value.trim();
    if (!credential) return;
    sessionStorage.setItem(KEY_ITEM, credential);
    $("key-input").value = "";
    $("key-form").hidden = true;
    refreshDocuments();
  });
  refreshDocuments();
  refreshTier();
  initConversations(); // conversations.js
}

document.addEventListener("DOMContentLoaded", init);
