// A citation opened in place: a PDF rendered at the cited page with pdf.js (served from
// /ui/vendor/pdfjs, installed from npm; no CDN) and the passage's text highlighted; any
// other document as its extracted text with the passage highlighted and scrolled into view.
// Loaded after app.js, whose api(), $() and authHeaders() it uses.
"use strict";

const PDFJS = "/ui/vendor/pdfjs";
let pdfjsLib = null;
let viewing = null; // the citation shown, so that a late answer for another is dropped

async function loadPdfjs() {
  if (!pdfjsLib) {
    pdfjsLib = await import(`${PDFJS}/pdf.min.mjs`);
    pdfjsLib.GlobalWorkerOptions.workerSrc = `${PDFJS}/pdf.worker.min.mjs`;
  }
  return pdfjsLib;
}

function normalise(text) {
  return text.toLowerCase().replace(/[\u2026]/g, " ").replace(/\s+/g, " ").trim();
}

async function documentBytes(docId) {
  // On S3 the API redirects to a presigned URL; fetch follows it (without the credential).
  const response = await fetch(`/v1/documents/${encodeURIComponent(docId)}/content`, {
    headers: authHeaders(),
  });
  if (!response.ok) {
    const data = await response.json().catch(() => null);
    throw new Error(data && data.error ? data.error.message : response.statusText);
  }
  return response;
}

// The passage as indexed (the citation's start and end in the document's text).
async function passageText(citation) {
  const text = await api("GET", `/v1/documents/${encodeURIComponent(citation.doc_id)}/text`);
  return text;
}

async function showPdfPage(citation, passage) {
  const lib = await loadPdfjs();
  const data = new Uint8Array(await (await documentBytes(citation.doc_id)).arrayBuffer());
  const pdf = await lib.getDocument({ data, isEvalSupported: false }).promise;
  const number = Math.min(Math.max(citation.page, 1), pdf.numPages);
  const page = await pdf.getPage(number);
  if (viewing !== citation) return;
  const viewport = page.getViewport({ scale: 1.25 });
  const box = $("pdf-page");
  const canvas = $("pdf-canvas");
  canvas.width = Math.floor(viewport.width);
  canvas.height = Math.floor(viewport.height);
  box.style.width = `${Math.floor(viewport.width)}px`;
  box.style.height = `${Math.floor(viewport.height)}px`;
  box.style.setProperty("--scale-factor", String(viewport.scale));
  box.hidden = false;
  await page.render({ canvasContext: canvas.getContext("2d"), viewport }).promise;
  const layer = $("pdf-text");
  layer.replaceChildren();
  const textLayer = new lib.TextLayer({
    textContentSource: await page.getTextContent(),
    container: layer,
    viewport,
  });
  await textLayer.render();
  const wanted = normalise(passage);
  let first = null;
  for (const span of layer.querySelectorAll("span")) {
    const text = normalise(span.textContent || "");
    if (text.length >= 3 && wanted.includes(text)) {
      span.classList.add("cited");
      first = first || span;
    }
  }
  $("viewer-status").textContent = `${citation.source}, page ${number} of ${pdf.numPages}` +
    (first ? ": the cited passage is highlighted." : ".");
  if (first) first.scrollIntoView({ block: "center" });
}

function showText(citation, doc) {
  const target = $("doc-text");
  const text = doc.text;
  let start = citation.start;
  let end = citation.end;
  if (start == null || end == null || end > text.length) {
    // An answer from before citations carried offsets: find the snippet instead.
    const core = citation.snippet.replace(/^\u2026|\u2026$/g, "").trim();
    start = text.indexOf(core);
    end = start >= 0 ? start + core.length : -1;
  }
  const mark = document.createElement("mark");
  mark.className = "cited";
  if (start >= 0) {
    mark.textContent = text.slice(start, end);
    target.replaceChildren(text.slice(0, start), mark, text.slice(end));
  } else {
    target.replaceChildren(text);
  }
  target.hidden = false;
  $("viewer-status").textContent = start >= 0
    ? `${citation.source}: the cited passage is highlighted.` : citation.source;
  if (start >= 0) mark.scrollIntoView({ block: "center" });
}

async function openInPlace(citation) {
  viewing = citation;
  $("pdf-page").hidden = true;
  $("doc-text").hidden = true;
  $("viewer-status").textContent = `Opening ${citation.source}…`;
  try {
    const doc = await passageText(citation);
    if (viewing !== citation) return;
    if (citation.page != null && doc.content_type === "application/pdf") {
      const passage = citation.start != null ? doc.text.slice(citation.start, citation.end) : citation.snippet;
      try {
        await showPdfPage(citation, passage);
        return;
      } catch (error) {
        // No pdf.js here (installed without npm), or a page it cannot draw: the text.
        if (viewing !== citation) return;
        $("pdf-page").hidden = true;
        showText(citation, doc);
        $("viewer-status").textContent += ` (page ${citation.page}; the page itself could not be shown: ${error.message})`;
        return;
      }
    }
    showText(citation, doc);
  } catch (error) {
    if (viewing === citation) $("viewer-status").textContent = `Could not open the document: ${error.message}`;
  }
}

async function openOriginal() {
  if (!viewing) return;
  try {
    const response = await documentBytes(viewing.doc_id);
    const url = URL.createObjectURL(await response.blob());
    window.open(url, "_blank", "noopener");
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  } catch (error) {
    $("viewer-status").textContent = `Could not open the original: ${error.message}`;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("passage-original").addEventListener("click", openOriginal);
});
