// Behaviour the templates would otherwise write inline, which the Content-Security-Policy
// forbids: a language menu that switches on change, and print buttons.
document.addEventListener("change", (event) => {
  if (event.target.matches("select[data-submit-on-change]")) event.target.form.submit();
});
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-print]")) window.print();
});
