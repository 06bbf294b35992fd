// Conversations: the thread being asked in, and the past ones (GET /v1/conversations).
// Loaded after app.js, whose api() and $() it uses; app.js calls addTurn() and
// initConversations().
"use strict";

let currentConversation = null;

function turnItem(question, answer, standalone) {
  const item = document.createElement("li");
  item.className = "turn";
  const asked = document.createElement("p");
  asked.className = "turn-question";
  asked.textContent = question;
  item.append(asked);
  if (standalone) {
    const as = document.createElement("p");
    as.className = "meta turn-standalone";
    as.textContent = `asked as: ${standalone}`;
    item.append(as);
  }
  const answered = document.createElement("p");
  answered.className = "turn-answer";
  answered.textContent = answer;
  item.append(answered);
  return item;
}

function showThread(conversationId, title) {
  currentConversation = conversationId;
  $("new-conversation").hidden = !conversationId;
  $("thread").hidden = $("thread").children.length === 0;
  const named = /[.?!]$/.test(title) ? title : `${title}.`;
  $("thread-status").textContent = conversationId
    ? `Conversation: ${named} Ask a follow-up, or start a new conversation.`
    : "A new conversation: a follow-up question can lean on the ones before it.";
}

// A turn just answered: into the thread, and the conversation to the top of the list.
function addTurn(question, answer) {
  if (!answer.conversation_id) return;
  if (answer.conversation_id !== currentConversation) $("thread").replaceChildren();
  $("thread").append(turnItem(question, answer.answer, answer.standalone_question));
  const title = $("thread").firstElementChild.querySelector(".turn-question").textContent;
  showThread(answer.conversation_id, title);
  refreshConversations();
}

async function openConversation(summary) {
  let conversation;
  try {
    conversation = await api("GET", `/v1/conversations/${encodeURIComponent(summary.conversation_id)}`);
  } catch (error) {
    $("ask-status").textContent = `Could not open the conversation: ${error.message}`;
    refreshConversations();
    return;
  }
  $("thread").replaceChildren(...conversation.turns.map((turn) =>
    turnItem(turn.question, turn.answer,
      turn.standalone_question !== turn.question ? turn.standalone_question : null)));
  $("answer").hidden = true;
  showThread(conversation.conversation_id, conversation.title);
  $("question").focus();
}

function startConversation() {
  $("thread").replaceChildren();
  $("answer").hidden = true;
  showThread(null, "");
  $("question").focus();
}

async function deleteConversation(summary) {
  if (!window.confirm(`Delete the conversation "${summary.title}"?`)) return;
  try {
    await api("DELETE", `/v1/conversations/${encodeURIComponent(summary.conversation_id)}`);
  } catch (error) {
    $("ask-status").textContent = `Could not delete the conversation: ${error.message}`;
  }
  if (summary.conversation_id === currentConversation) startConversation();
  refreshConversations();
}

async function refreshConversations() {
  let conversations = [];
  try {
    conversations = (await api("GET", "/v1/conversations")).conversations;
  } catch {
    return; // the list is a convenience: asking still works
  }
  const list = $("conversations");
  list.replaceChildren();
  for (const summary of conversations) {
    const item = document.createElement("li");
    if (summary.conversation_id === currentConversation) item.setAttribute("aria-current", "true");
    const open = document.createElement("button");
    open.type = "button";
    open.className = "conversation-open";
    open.textContent = summary.title;
    open.setAttribute("aria-label", `Open conversation: ${summary.title}`);
    open.addEventListener("click", () => openConversation(summary));
    const when = document.createElement("span");
    when.className = "meta";
    const turns = summary.turns === 1 ? "1 question" : `${summary.turns} questions`;
    when.textContent = ` ${turns}, ${new Date(summary.updated_at).toLocaleString()} `;
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "conversation-delete";
    remove.textContent = "Delete";
    remove.setAttribute("aria-label", `Delete conversation: ${summary.title}`);
    remove.addEventListener("click", () => deleteConversation(summary));
    item.append(open, when, remove);
    list.append(item);
  }
  $("conversations-empty").hidden = conversations.length > 0;
}

function initConversations() {
  $("new-conversation").addEventListener("click", startConversation);
  refreshConversations();
}
