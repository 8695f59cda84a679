// The inbox's script. Everything shown comes from the emulator's JSON and
// is put into the page as text (never as markup); a message's HTML body is
// only ever shown inside the sandboxed frame.
"use strict";

const state = { mailbox: "", query: "", selected: null, remote: false, known: new Set(), page: "inbox" };

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

async function getJson(url) {
  const response = await fetch(url, { cache: "no-store" });
  if (!response.ok) throw new Error(`${url}: ${response.status}`);
  return response.json();
}

function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(2)} MB`;
}

function formatAddress(a) {
  return a.name ? `${a.name} <${a.address}>` : a.address;
}

function table(node, headers, rows) {
  node.replaceChildren(
    el("tr", {}, ...headers.map((h) => el("th", {}, h))),
    ...rows.map((row) => el("tr", {}, ...row.map((cell) => el("td", {}, cell)))),
  );
}

// ---- pages ----

function show(page) {
  state.page = page;
  for (const button of document.querySelectorAll("nav button")) {
    button.classList.toggle("active", button.dataset.page === page);
  }
  for (const section of document.querySelectorAll(".page")) {
    section.hidden = section.id !== `page-${page}`;
  }
  if (page === "drafts") loadDrafts();
  if (page === "tenant") loadTenant();
}

// ---- inbox ----

let directory = null;

async function loadMailboxes() {
  directory = await getJson("/_emulator/directory");
  const list = document.getElementById("mailbox-list");
  const item = (address, label) => {
    const li = el("li", { "data-mailbox": address, onclick: () => { state.mailbox = address; loadMessages(); } }, label);
    li.classList.toggle("active", state.mailbox === address);
    return li;
  };
  const mailboxes = directory.tenants.flatMap((t) => t.mailboxes.map((m) => m.address));
  list.replaceChildren(item("", "All mailboxes"), ...mailboxes.map((m) => item(m, m)));
}

async function loadMessages() {
  const params = new URLSearchParams({ q: state.query, mailbox: state.mailbox });
  const { messages } = await getJson(`/_emulator/ui/api/messages?${params}`);
  for (const li of document.querySelectorAll("#mailbox-list li")) {
    li.classList.toggle("active", li.dataset.mailbox === state.mailbox);
  }
  const list = document.getElementById("message-list");
  list.replaceChildren(...messages.map((m) => {
    const li = el("li", { "data-id": m.id, onclick: () => openMessage(m.id) },
      el("span", { class: "when" }, new Date(m.received_at).toLocaleTimeString()),
      el("span", { class: "from" }, formatAddress(m.from)),
      el("span", { class: "subject" }, m.subject || "(no subject)", m.attachments ? ` · ${m.attachments} attachment${m.attachments > 1 ? "s" : ""}` : ""),
      el("span", { class: "preview" }, `to ${m.to.map(formatAddress).join(", ")} — ${m.preview}`));
    if (state.known.size && !state.known.has(m.id)) li.classList.add("new");
    li.classList.toggle("active", m.id === state.selected);
    return li;
  }));
  for (const m of messages) state.known.add(m.id);
  document.getElementById("list-empty").hidden = messages.length > 0;
}

function bodyUrl(id) {
  return `/_emulator/ui/messages/${encodeURIComponent(id)}/body${state.remote ? "?remote=1" : ""}`;
}

function showPart(part) {
  document.getElementById("m-body").hidden = part !== "html";
  document.getElementById("m-text").hidden = part !== "text";
  document.getElementById("m-raw").hidden = part !== "raw";
}

async function openMessage(id) {
  state.selected = id;
  state.remote = false;
  const m = await getJson(`/_emulator/ui/api/messages/${encodeURIComponent(id)}`);
  for (const li of document.querySelectorAll("#message-list li")) {
    li.classList.toggle("active", li.dataset.id === id);
  }
  document.getElementById("message").hidden = false;
  document.getElementById("m-subject").textContent = m.subject || "(no subject)";
  const meta = [
    ["From", formatAddress(m.from)],
    ["Sent as", m.mailbox],
    ["To", m.to.map(formatAddress).join(", ")],
    ["Cc", m.cc.map(formatAddress).join(", ")],
    ["Bcc", m.bcc.map(formatAddress).join(", ")],
    ["Reply-To", m.reply_to.map(formatAddress).join(", ")],
    ["Received", m.received_at],
    ["Sent via", m.sent_via],
    ["App", m.app_id],
    ["request-id", m.request_id],
    ["Saved to Sent Items", m.save_to_sent_items ? "yes" : "no"],
  ].filter(([, value]) => value !== "");
  document.getElementById("m-meta").replaceChildren(...meta.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  document.getElementById("m-body").src = bodyUrl(id);
  const base = `/_emulator/ui/messages/${encodeURIComponent(id)}`;
  document.getElementById("m-raw-link").href = `${base}/raw`;
  document.getElementById("m-remote").hidden = m.body_type !== "html";
  document.getElementById("m-attachments").replaceChildren(...m.attachment_list.map((a) =>
    el("li", {},
      el("a", { href: `${base}/attachments/${a.index}`, download: a.name, "data-index": a.index }, a.name),
      ` ${formatSize(a.size)} · ${a.content_type}${a.is_inline ? ` · inline (cid:${a.content_id || ""})` : ""}`)));
  if (!m.attachment_list.length) document.getElementById("m-attachments").replaceChildren(el("li", { class: "empty" }, "none"));
  table(document.getElementById("m-headers"), ["name", "value"], m.headers);
  const text = await (await fetch(`${base}/body`)).text();
  // DOMParser builds an inert document: nothing in it runs or loads.
  const parsed = new DOMParser().parseFromString(text, "text/html");
  document.getElementById("m-text").textContent = (parsed.body && parsed.body.innerText) || parsed.documentElement.textContent;
  document.getElementById("m-raw").textContent = await (await fetch(`${base}/raw`)).text();
  showPart("html");
}

// ---- drafts ----

async function loadDrafts() {
  const { drafts } = await getJson("/_emulator/drafts");
  table(document.getElementById("drafts"), ["mailbox", "subject", "created", "size", "attachments"],
    drafts.map((d) => [d.mailbox, d.subject || "", d.created_at, formatSize(d.size),
      d.attachments.map((a) => `${a.name} (${formatSize(a.size)})`).join(", ")]));
  const sessions = drafts.flatMap((d) => d.upload_sessions.map((s) => ({ ...s, mailbox: d.mailbox, subject: d.subject })));
  table(document.getElementById("sessions"), ["mailbox", "draft", "file", "received", "expires"],
    sessions.map((s) => [s.mailbox, s.subject || "", s.name, `${formatSize(s.next_offset)} of ${formatSize(s.size)}`, s.expires_at]));
  document.getElementById("drafts-empty").hidden = drafts.length > 0;
  document.getElementById("sessions-empty").hidden = sessions.length > 0;
}

// ---- tenant ----

async function loadTenant() {
  directory = directory || await getJson("/_emulator/directory");
  // How an app proves who it is, where that is not a secret.
  const credentialNote = (a) => [
    a.disabled ? "disabled" : "",
    a.managed_identity ? a.managed_identity.replace("_", "-") + " managed identity" : "",
    (a.federated_credentials || []).length ? "federated: " + a.federated_credentials.map((c) => c.subject).join(", ") : "",
  ].filter(Boolean).join("; ");
  const apps = directory.tenants.flatMap((t) => t.apps);
  const appName = (id) => (apps.find((a) => a.client_id === id) || {}).display_name || id;
  table(document.getElementById("apps"), ["app", "client id", "roles", ""],
    apps.map((a) => [a.display_name, a.client_id, a.roles.join(", ") || "(none)", credentialNote(a)]));
  const mailboxes = directory.tenants.flatMap((t) => t.mailboxes);
  table(document.getElementById("mailboxes"), ["address", "kind", "display name"],
    mailboxes.map((m) => [m.address, m.kind, m.display_name || ""]));
  const policies = await getJson("/_emulator/policies");
  document.getElementById("policy-delay").textContent =
    `A policy applies ${policies.policy_apply_delay_secs} s after it is created (policy_apply_delay_secs).`;
  table(document.getElementById("policies"), ["app", "scope", "access right", "description", "created", "applies from", "in effect"],
    policies.policies.map((p) => [p.app_id === "*" ? "* (every app)" : appName(p.app_id), p.scope, p.access_right,
      p.description || "", p.created_at, p.effective_at, p.in_effect ? "yes" : "not yet"]));
  const fill = (select, options) => {
    if (select.options.length) return;
    select.replaceChildren(...options.map(([value, label]) => el("option", { value }, label)));
  };
  fill(document.getElementById("pt-app"), apps.map((a) => [a.client_id, a.display_name]));
  fill(document.getElementById("pt-mailbox"), mailboxes.map((m) => [m.address, m.address]));
  document.getElementById("faults").textContent = JSON.stringify(await getJson("/_emulator/faults"), null, 2);
  const counters = await getJson("/_emulator/counters");
  table(document.getElementById("counters"), ["counter", "value"], Object.entries(counters));
  const settings = await getJson("/_emulator/settings");
  table(document.getElementById("settings"), ["setting", "value"], Object.entries(settings).map(([k, v]) => [k, JSON.stringify(v)]));
}

async function testPolicy(event) {
  event.preventDefault();
  const params = new URLSearchParams({
    app_id: document.getElementById("pt-app").value,
    mailbox: document.getElementById("pt-mailbox").value,
  });
  const result = await getJson(`/_emulator/policies/test?${params}`);
  const verdict = (v) => el("span", { class: v === "Granted" ? "granted" : "denied" }, v);
  table(document.getElementById("pt-result"), ["AppId", "Mailbox", "AccessCheckResult", "EffectiveNow"],
    [[result.AppId, result.Mailbox, verdict(result.AccessCheckResult), verdict(result.EffectiveNow)]]);
}

// ---- live updates ----

function listen() {
  const live = document.getElementById("live");
  const events = new EventSource("/_emulator/ui/events");
  events.addEventListener("hello", () => { live.textContent = "live"; live.classList.add("on"); });
  events.addEventListener("messages", () => { loadMessages(); if (state.page === "tenant") loadTenant(); });
  events.addEventListener("drafts", () => { if (state.page === "drafts") loadDrafts(); });
  events.onerror = () => { live.textContent = "reconnecting…"; live.classList.remove("on"); };
}

// ---- start ----

for (const button of document.querySelectorAll("nav button")) {
  button.addEventListener("click", () => show(button.dataset.page));
}
let searchTimer = null;
document.getElementById("search").addEventListener("input", (event) => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => { state.query = event.target.value; loadMessages(); }, 150);
});
document.getElementById("m-show-html").addEventListener("click", () => showPart("html"));
document.getElementById("m-show-text").addEventListener("click", () => showPart("text"));
document.getElementById("m-show-raw").addEventListener("click", () => showPart("raw"));
document.getElementById("m-remote").addEventListener("click", () => {
  state.remote = true;
  document.getElementById("m-body").src = bodyUrl(state.selected);
  showPart("html");
});
document.getElementById("policy-test").addEventListener("submit", testPolicy);
loadMailboxes().then(loadMessages);
listen();
