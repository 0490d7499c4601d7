// Behaviour the templates would otherwise write inline, which the Content-Security-Policy
// forbids: a language menu that switches on change, and print buttons.
document.addEventListener("change", (event) => {
  if (event.target.matches("select[data-submit-on-change]")) event.target.form.submit();
});
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-print]")) window.print();
});
// A form whose work takes a while (a file checked or imported) says so once sent, and its
// buttons wait: a second press would only send the work again.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (event.defaultPrevented || !form.matches("form[data-busy]")) return;
  for (const button of form.querySelectorAll("button[type=submit]")) button.disabled = true;
  let note = form.querySelector(".busy-note");
  if (!note) {
    note = document.createElement("p");
    note.className = "busy-note";
    note.setAttribute("role", "status");
    form.append(note);
  }
  note.textContent = form.dataset.busy;
});
// Back to a page the browser kept as it was left: its forms may be sent again.
window.addEventListener("pageshow", (event) => {
  if (!event.persisted) return;
  for (const form of document.querySelectorAll("form[data-busy]")) {
    for (const button of form.querySelectorAll("button[type=submit]")) button.disabled = false;
    form.querySelector(".busy-note")?.remove();
  }
});
