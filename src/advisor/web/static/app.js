// The questionnaire form. Everything it knows comes from the server: the questions from
// GET v1/questionnaire, which are asked and what is wrong with an answer from
// POST v1/questionnaire/state, the report from POST v1/recommendations. This file only draws
// the form, turns the inputs into JSON values and shows the answers it gets back.
"use strict";

(() => {
  const DEBOUNCE_MS = 300;
  const NONE = "__none__"; // the "none of these" box of a list question: an empty list

  const form = document.getElementById("questionnaire");
  const holder = document.getElementById("questions");
  const status = document.getElementById("status");
  const result = document.getElementById("result");
  const reportBox = document.getElementById("report");

  let questions = [];
  const blocks = new Map(); // question id -> {block, error, control}
  const sectionBoxes = new Map(); // section id -> fieldset
  let timer = null;
  let sequence = 0;
  let shown = null; // {requirements, report} of the report on the page

  function make(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes)) {
      if (value !== null && value !== undefined && value !== false) node.setAttribute(key, value);
    }
    node.append(...children);
    return node;
  }

  function say(text, problem = false) {
    status.textContent = text;
    status.classList.toggle("problem", problem);
  }

  function domId(question) {
    return "q-" + question.id.replace(/\./g, "-");
  }

  function selectFor(question, options) {
    const select = make("select", {id: domId(question), name: question.id});
    select.append(make("option", {value: ""}, "— don't know —"));
    for (const [value, text] of options) select.append(make("option", {value}, text));
    if (question.default !== null) select.value = String(question.default);
    return select;
  }

  function control(question) {
    if (question.kind === "bool") return selectFor(question, [["true", "yes"], ["false", "no"]]);
    if (question.kind === "enum") return selectFor(question, question.choices.map((c) => [c, c]));
    if (question.kind === "multi") {
      const group = make("fieldset", {class: "choices", id: domId(question)});
      const boxes = question.choices.map((choice) => [choice, choice]);
      if (!question.choices.includes("none")) boxes.push([NONE, "none of these"]);
      for (const [value, text] of boxes) {
        const box = make("input", {type: "checkbox", name: question.id, value});
        group.append(make("label", {}, box, " " + text));
      }
      group.addEventListener("change", (event) => {
        // "none of these" and a choice exclude each other.
        const picked = event.target;
        for (const box of group.querySelectorAll("input")) {
          if (box !== picked && picked.checked && (box.value === NONE || picked.value === NONE)) {
            box.checked = false;
          }
        }
      });
      return group;
    }
    if (question.kind === "number" || question.kind === "integer") {
      const input = make("input", {
        type: "number", id: domId(question), name: question.id, inputmode: "decimal",
        min: question.minimum, max: question.maximum,
        step: question.kind === "integer" ? "1" : "any",
      });
      if (question.default !== null) input.value = String(question.default);
      return input;
    }
    if (question.kind === "components") {
      return make("textarea", {
        id: domId(question), name: question.id, rows: "3",
        placeholder: "one per line, e.g. eks: no Kubernetes until the platform team supports it",
      });
    }
    return make("input", {type: "text", id: domId(question), name: question.id});
  }

  // "component: reason" lines as the constraint entries the requirements expect.
  function componentsOf(text) {
    return text.split("\n").filter((line) => line.trim() !== "").map((line) => {
      const at = line.indexOf(":");
      return at < 0 ? {component: line.trim(), reason: ""}
        : {component: line.slice(0, at).trim(), reason: line.slice(at + 1).trim()};
    });
  }

  function bounds(question) {
    const parts = [];
    if (question.kind === "integer") parts.push("a whole number");
    if (question.minimum !== null) {
      parts.push((question.minimum_exclusive ? "> " : "≥ ") + question.minimum);
    }
    if (question.maximum !== null) parts.push("≤ " + question.maximum);
    return parts.join(", ");
  }

  function draw(schema) {
    questions = schema.questions;
    holder.replaceChildren();
    for (const section of schema.sections) {
      const box = make("fieldset", {class: "section", "data-section": section.id},
        make("legend", {}, section.title), make("p", {class: "section-help"}, section.help));
      sectionBoxes.set(section.id, box);
      holder.append(box);
    }
    for (const question of questions) {
      const input = control(question);
      const title = question.kind === "multi"
        ? make("span", {class: "label"}, question.title)
        : make("label", {for: domId(question)}, question.title);
      title.append(make("span", {class: "id"}, question.id));
      const error = make("p", {class: "error", id: domId(question) + "-error", role: "alert"});
      input.setAttribute("aria-describedby", error.id);
      const block = make("div", {class: "question", "data-question": question.id},
        title, input, make("p", {class: "help"}, question.help));
      const hint = bounds(question);
      if (hint) block.append(make("p", {class: "bounds"}, hint));
      block.append(error);
      blocks.set(question.id, {block, error, control: input});
      sectionBoxes.get(question.section).append(block);
    }
  }

  function valueOf(question) {
    if (question.kind === "multi") {
      const picked = [...form.querySelectorAll(`input[name="${question.id}"]:checked`)]
        .map((box) => box.value);
      if (picked.includes(NONE)) return [];
      return picked.length ? picked : undefined;
    }
    const text = blocks.get(question.id).control.value.trim();
    if (text === "") return undefined;
    if (question.kind === "bool") return text === "true";
    if (question.kind === "components") return componentsOf(text);
    if (question.kind === "number" || question.kind === "integer") {
      const number = Number(text);
      return Number.isFinite(number) ? number : text;
    }
    return text;
  }

  function answers() {
    const out = {};
    for (const question of questions) {
      const value = valueOf(question);
      if (value === undefined) continue;
      (out[question.section] ??= {})[question.field] = value;
    }
    return out;
  }

  function post(path, body, accept = "application/json") {
    return fetch(path, {
      method: "POST", body: JSON.stringify(body),
      headers: {"Content-Type": "application/json", "Accept": accept},
    });
  }

  function showErrors(errors) {
    for (const [id, {block, error, control: input}] of blocks) {
      const problems = errors[id] || [];
      error.textContent = problems.join("\n");
      block.classList.toggle("invalid", problems.length > 0);
      if (problems.length) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    }
  }

  function apply(state) {
    const asked = new Set(state.asked);
    for (const [id, {block}] of blocks) block.hidden = !asked.has(id);
    for (const [id, box] of sectionBoxes) {
      box.hidden = !questions.some((q) => q.section === id && asked.has(q.id));
    }
    showErrors(state.errors);
  }

  async function problemText(response) {
    try {
      const body = await response.json();
      if (typeof body.detail === "string") return body.detail;
      return body.detail.map((item) => item.loc.join(".") + ": " + item.msg).join("; ");
    } catch {
      return `the server answered ${response.status}`;
    }
  }

  // The newest answers' state; null if a newer call overtook this one or the call failed.
  async function refresh() {
    const mine = ++sequence;
    let response;
    try {
      response = await post("v1/questionnaire/state", answers());
    } catch {
      say("The server cannot be reached.", true);
      return null;
    }
    if (!response.ok) {
      say(await problemText(response), true);
      return null;
    }
    const state = await response.json();
    if (mine !== sequence) return null;
    apply(state);
    return state;
  }

  function later() {
    clearTimeout(timer);
    timer = setTimeout(refresh, DEBOUNCE_MS);
  }

  async function recommend(event) {
    event.preventDefault();
    clearTimeout(timer);
    say("Checking the answers…");
    const state = await refresh();
    if (state === null) return;
    const invalid = state.asked.filter((id) => state.errors[id]);
    if (invalid.length) {
      say(`${invalid.length} answer${invalid.length > 1 ? "s need" : " needs"} attention.`, true);
      blocks.get(invalid[0]).control.focus();
      return;
    }
    say("Recommending…");
    const response = await post("v1/recommendations?html=true", state.requirements);
    if (!response.ok) {
      say(await problemText(response), true);
      return;
    }
    const report = await response.json();
    shown = {requirements: state.requirements, report};
    reportBox.innerHTML = report.html; // built on the server from the escaped Markdown
    result.hidden = false;
    say(`${report.decisions.length} decisions.`);
    result.scrollIntoView();
  }

  function save(name, type, text) {
    const link = make("a", {href: URL.createObjectURL(new Blob([text], {type})), download: name});
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  }

  async function download(kind) {
    if (shown === null) return;
    const {markdown, html, ...report} = shown.report;
    if (kind === "markdown") save("report.md", "text/markdown", markdown);
    if (kind === "json") save("report.json", "application/json", JSON.stringify(report, null, 2) + "\n");
    if (kind === "design-doc") {
      const response = await post("v1/design-docs", shown.requirements, "text/markdown");
      if (!response.ok) {
        say(await problemText(response), true);
        return;
      }
      save("design.md", "text/markdown", await response.text());
    }
  }

  async function start() {
    try {
      const response = await fetch("v1/questionnaire");
      draw(await response.json());
    } catch {
      holder.textContent = "The questions could not be loaded from the server.";
      return;
    }
    form.addEventListener("input", later);
    form.addEventListener("change", later);
    form.addEventListener("submit", recommend);
    for (const button of document.querySelectorAll("[data-download]")) {
      button.addEventListener("click", () => download(button.dataset.download));
    }
    await refresh();
    form.dataset.ready = "true";
  }

  start();
})();
