// A file's check or import is one long request. While it runs, the page asks the server how
// far it has got (the rows read of all, their rate and the time left, then each later stage)
// and shows it under the form, with a bar that fills while the rows are read.
(() => {
  const ASK_EVERY_MS = 700;

  const randomId = () =>
    Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) =>
      byte.toString(16).padStart(2, "0"),
    ).join("");

  const show = (box, answer) => {
    const [bar, text] = box.children;
    box.dataset.stage = answer.stage || "";
    if (typeof answer.fraction === "number") {
      bar.max = 1;
      bar.value = answer.fraction;
    } else {
      bar.removeAttribute("value"); // an indeterminate bar: the stage has no count
    }
    if (answer.message) text.textContent = answer.message;
  };

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (event.defaultPrevented || !form.matches("form[data-progress-url]")) return;
    const id = randomId();
    form.elements.progress.value = id; // read by the server with the form's other fields
    const box = document.createElement("div");
    box.className = "import-progress";
    box.setAttribute("role", "status");
    box.append(document.createElement("progress"), document.createElement("p"));
    form.after(box);
    const url = `${form.dataset.progressUrl}?id=${id}`;
    const ask = async () => {
      try {
        const response = await fetch(url, { headers: { Accept: "application/json" } });
        if (response.ok) show(box, await response.json());
      } catch {
        // The answer to the form is arriving and this page is going: nothing to show.
      }
    };
    const timer = setInterval(ask, ASK_EVERY_MS);
    // Back to this page as it was left (the browser kept it): the work is over.
    window.addEventListener(
      "pageshow",
      (shown) => {
        if (!shown.persisted) return;
        clearInterval(timer);
        box.remove();
      },
      { once: true },
    );
  });
})();
