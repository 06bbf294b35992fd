// What both pages share: the credential header and definition-list rows. Loaded first.
"use strict";

// With authentication on (RAGOPS_AUTH=api-key or jwt) every call carries the key or token
// the user pasted, kept for this tab only (sessionStorage), never in the page's URL.
const KEY_ITEM = "ragops-credential";
function authHeaders() {
  const credential = sessionStorage.getItem(KEY_ITEM);
  return credential ? { Authorization: `Bearer ${credential}` } : {};
}

// One term and its value, appended to a <dl>.
function addTerm(list, term, value) {
  const dt = document.createElement("dt");
  dt.textContent = term;
  const dd = document.createElement("dd");
  dd.textContent = value;
  list.append(dt, dd);
}
