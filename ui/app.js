// Echo Brain web chat: POST /api/ask with stream=true, read the SSE reply with fetch().
"use strict";

(() => {
  const CIRCUITS = ["emotion", "creation", "self"];
  const TOKEN_KEY = "echo-brain.token";

  const STATUS_TEXT = {
    ok: "정상 · ok",
    error: "오류 · error",
    timeout: "시간 초과 · timeout",
    unavailable: "사용 불가 · unavailable",
  };
  const KIND_TEXT = {
    echo: "세 회로 합침 · Echo (three circuits)",
    identity: "자아의 답 · Identity",
    create: "프로젝트 생성 · Project created",
  };

  const $ = (selector) => document.querySelector(selector);
  const form = $("#ask-form");
  const prompt = $("#prompt");
  const sendButton = $("#send");
  const stopButton = $("#stop");
  const tokenInput = $("#token");
  const remember = $("#remember");
  const errorBox = $("#error");
  const merged = $("#merged");
  const reply = $("#reply");
  const kind = $("#kind");
  const project = $("#project");
  const summary = $("#summary");
  const remembered = $("#remembered");
  const readiness = $("#readiness");

  let controller = null;

  // ---- token: kept in the browser only, never in the URL ----

  function loadToken() {
    const kept = localStorage.getItem(TOKEN_KEY);
    remember.checked = kept !== null;
    tokenInput.value = kept ?? sessionStorage.getItem(TOKEN_KEY) ?? "";
  }

  function saveToken() {
    const token = tokenInput.value.trim();
    const [keep, drop] = remember.checked
      ? [localStorage, sessionStorage]
      : [sessionStorage, localStorage];
    drop.removeItem(TOKEN_KEY);
    if (token) keep.setItem(TOKEN_KEY, token);
    else keep.removeItem(TOKEN_KEY);
  }

  function forgetToken() {
    sessionStorage.removeItem(TOKEN_KEY);
    localStorage.removeItem(TOKEN_KEY);
    tokenInput.value = "";
    remember.checked = false;
  }

  function headers() {
    const h = { "Content-Type": "application/json", Accept: "text/event-stream" };
    const token = tokenInput.value.trim();
    if (token) h.Authorization = `Bearer ${token}`;
    return h;
  }

  // ---- rendering ----

  function pane(name) {
    return document.getElementById(`pane-${name}`);
  }

  function setPaneState(name, state) {
    const el = pane(name);
    if (!el) return;
    el.dataset.state = state;
    el.querySelector(".pane-text").setAttribute("aria-busy", String(state === "streaming"));
  }

  function appendDelta(name, text) {
    const el = pane(name);
    if (!el || !text) return;
    if (el.dataset.state !== "streaming") setPaneState(name, "streaming");
    el.querySelector(".pane-text").textContent += text;
  }

  function reset() {
    hideError();
    for (const name of CIRCUITS) {
      const el = pane(name);
      el.querySelector(".pane-text").textContent = "";
      el.querySelector(".pane-meta").textContent = "";
      setPaneState(name, "waiting");
    }
    reply.textContent = "";
    summary.textContent = "";
    kind.hidden = true;
    project.hidden = true;
    remembered.hidden = true;
    merged.dataset.state = "waiting";
  }

  function showDone(doc) {
    const circuits = doc.circuits || {};
    for (const name of CIRCUITS) {
      const el = pane(name);
      const result = circuits[name];
      if (!result) {
        el.querySelector(".pane-meta").textContent = "이번에는 쓰지 않음 · not used this time";
        setPaneState(name, "skipped");
        continue;
      }
      el.querySelector(".pane-text").textContent = result.text ?? "";
      const status = STATUS_TEXT[result.status] ?? result.status;
      el.querySelector(".pane-meta").textContent =
        `${status} · ${result.ms ?? "?"} ms · ${result.tokens ?? 0} 토큰 tokens`;
      setPaneState(name, result.status === "ok" ? "done" : "failed");
    }
    reply.textContent = doc.reply ?? "";
    kind.textContent = KIND_TEXT[doc.kind] ?? doc.kind ?? "";
    kind.hidden = !kind.textContent;
    kind.dataset.kind = doc.kind ?? "";
    showProject(doc.project);
    showRemembered(doc.memory && doc.memory.context);
    const parts = [`${doc.ms ?? "?"} ms`];
    if (doc.memory && doc.memory.saved) {
      parts.push(`기억에 저장됨 · saved to memory: ${doc.memory.path ?? ""}`.trim());
    } else if (doc.memory) {
      const why = doc.memory.error ? ` (${doc.memory.error})` : "";
      parts.push(`기억에 저장 안 됨 · not saved to memory${why}`);
    }
    summary.textContent = parts.join(" · ");
    merged.dataset.state = "done";
  }

  // The lines memory brought to the circuits (the origin only gets them).
  function showRemembered(lines) {
    if (!Array.isArray(lines) || lines.length === 0) {
      remembered.hidden = true;
      return;
    }
    remembered.querySelector(".remembered-count").textContent = String(lines.length);
    remembered.querySelector(".remembered-lines").replaceChildren(
      ...lines.map((line) => {
        const item = document.createElement("li");
        const where = document.createElement("span");
        where.className = "remembered-where";
        where.textContent = `${line.day} · part ${line.part} · line ${line.line}` +
          (line.speaker ? ` · ${line.speaker}` : "");
        const text = document.createElement("span");
        text.className = "remembered-text";
        text.textContent = line.text ?? "";
        item.append(where, text);
        return item;
      }),
    );
    remembered.hidden = false;
  }

  function showProject(info) {
    if (!info) return;
    project.querySelector(".project-name").textContent = info.name ?? "";
    project.querySelector(".project-path").textContent = info.path ?? "";
    const list = project.querySelector(".project-files");
    list.replaceChildren(
      ...(info.files ?? []).map((file) => {
        const item = document.createElement("li");
        const code = document.createElement("code");
        code.textContent = typeof file === "string" ? file : file.path ?? JSON.stringify(file);
        item.append(code);
        return item;
      }),
    );
    project.hidden = false;
  }

  function showError(status, error, retryAfter) {
    errorBox.querySelector(".error-status").textContent = status ? String(status) : "";
    errorBox.querySelector(".error-ko").textContent = error.message_ko || error.message || "";
    let english = error.message || "";
    if (retryAfter) english += ` (다시 시도: ${retryAfter}초 후 · retry after ${retryAfter} s)`;
    errorBox.querySelector(".error-en").textContent = english;
    errorBox.dataset.code = error.code || "";
    errorBox.dataset.status = status ? String(status) : "";
    errorBox.hidden = false;
    merged.dataset.state = "error";
    for (const name of CIRCUITS) {
      if (["waiting", "streaming"].includes(pane(name).dataset.state)) setPaneState(name, "idle");
    }
  }

  function hideError() {
    errorBox.hidden = true;
    delete errorBox.dataset.code;
    delete errorBox.dataset.status;
  }

  // ---- the request and the SSE stream ----

  async function errorOf(response) {
    try {
      const body = await response.json();
      if (body && body.error) return body.error;
    } catch {
      // not JSON: fall through to a generic message
    }
    return {
      code: "http_error",
      message: `the server answered ${response.status} ${response.statusText}`.trim(),
      message_ko: `서버가 ${response.status} 로 응답했습니다.`,
    };
  }

  function parseBlock(block) {
    let event = "message";
    const data = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
    return data.length ? { event, data: data.join("\n") } : null;
  }

  // Returns true once the final `done` or `error` event came.
  function handleEvent({ event, data }) {
    let payload;
    try {
      payload = JSON.parse(data);
    } catch {
      return false;
    }
    if (event === "delta") {
      appendDelta(payload.circuit, payload.text);
      return false;
    }
    if (event === "done") {
      showDone(payload);
      return true;
    }
    if (event === "error") {
      const error = payload.error || {};
      showError(error.status, error);
      return true;
    }
    return false;
  }

  async function readStream(response) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let finished = false;
    for (;;) {
      const { value, done } = await reader.read();
      buffer += decoder.decode(value ?? new Uint8Array(), { stream: !done });
      const blocks = buffer.split(/\r?\n\r?\n/);
      buffer = done ? "" : blocks.pop();
      for (const block of blocks) {
        const parsed = parseBlock(block);
        if (parsed && handleEvent(parsed)) finished = true;
      }
      if (done) break;
    }
    if (!finished) {
      showError(0, {
        code: "stream_ended",
        message: "the stream ended before the final answer; try again",
        message_ko: "최종 답이 오기 전에 스트림이 끊겼습니다. 다시 시도하세요.",
      });
    }
  }

  async function ask(text) {
    saveToken();
    reset();
    controller = new AbortController();
    setBusy(true);
    try {
      const response = await fetch("/api/ask", {
        method: "POST",
        headers: headers(),
        body: JSON.stringify({ prompt: text, stream: true }),
        signal: controller.signal,
        cache: "no-store",
      });
      if (!response.ok) {
        showError(response.status, await errorOf(response), response.headers.get("Retry-After"));
        return;
      }
      const type = response.headers.get("Content-Type") || "";
      if (type.startsWith("text/event-stream")) await readStream(response);
      else showDone(await response.json());
    } catch (exc) {
      if (exc.name === "AbortError") {
        showError(0, {
          code: "aborted",
          message: "stopped; the reply was not finished",
          message_ko: "멈췄습니다. 답이 끝나지 않았습니다.",
        });
      } else {
        showError(0, {
          code: "network",
          message: "could not reach the server; is it running?",
          message_ko: "서버에 연결할 수 없습니다. 서버가 실행 중인지 확인하세요.",
        });
      }
    } finally {
      controller = null;
      setBusy(false);
    }
  }

  function setBusy(busy) {
    sendButton.disabled = busy;
    stopButton.hidden = !busy;
    form.setAttribute("aria-busy", String(busy));
  }

  // ---- readiness badge ----

  async function checkReady() {
    let ready = false;
    try {
      const response = await fetch("/ready", { cache: "no-store" });
      ready = response.ok;
      readiness.dataset.state = ready ? "ready" : "loading";
      readiness.textContent = ready ? "준비됨 · Ready" : "회로 불러오는 중… · Loading circuits…";
    } catch {
      readiness.dataset.state = "offline";
      readiness.textContent = "서버 연결 안 됨 · Server unreachable";
    }
    if (!ready) setTimeout(checkReady, 3000);
  }

  // ---- wiring ----

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = prompt.value;
    if (!text.trim()) {
      showError(0, {
        code: "bad_input",
        message: "write a message first",
        message_ko: "먼저 메시지를 쓰세요.",
      });
      prompt.focus();
      return;
    }
    if (!controller) ask(text);
  });

  prompt.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });

  stopButton.addEventListener("click", () => controller && controller.abort());
  tokenInput.addEventListener("change", saveToken);
  $("#token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    saveToken();
    prompt.focus();
  });
  remember.addEventListener("change", saveToken);
  $("#forget").addEventListener("click", forgetToken);

  loadToken();
  checkReady();
})();
