// A file's check or import is one long request. While it runs, the page asks the server how
// far it has got (the rows read of all, their rate and the time left, then each later stage)
// and shows it under the form, with a bar that fills while the rows are read.
//
// Before that, the upload form sends its file ahead (data-send-url) and shows the bytes going:
// a browser tells a script how much of a request it has sent, never a form. The form then
// names the file sent (its "sent" field) instead of carrying it again.
(() => {
  const ASK_EVERY_MS = 700;
  const MB = 1024 * 1024;

  const randomId = () =>
    Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) =>
      byte.toString(16).padStart(2, "0"),
    ).join("");

  // The page's translated sentences name their values as %(name)s, %(name)d or %(name)02d.
  const fill = (sentence, values) =>
    sentence.replace(/%\((\w+)\)(?:0(\d+))?[sd]/g, (_, name, width) =>
      String(values[name]).padStart(Number(width || 0), "0"),
    );

  const duration = (form, seconds) => {
    const whole = Math.round(seconds);
    if (whole < 60) return fill(form.dataset.seconds, { seconds: whole });
    return fill(form.dataset.minutes, { minutes: Math.floor(whole / 60), seconds: whole % 60 });
  };

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

  const progressBox = (form) => {
    // A box left by a sending that failed gives way to the new one.
    if (form.nextElementSibling?.matches(".import-progress")) form.nextElementSibling.remove();
    const box = document.createElement("div");
    box.className = "import-progress";
    box.setAttribute("role", "status");
    box.append(document.createElement("progress"), document.createElement("p"));
    form.after(box);
    return box;
  };

  // Asks the server how far the work the form is about to send has got, until the page goes.
  const askWhileWorking = (form, box) => {
    const id = randomId();
    form.elements.progress.value = id; // read by the server with the form's other fields
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
  };

  // The form as it was before it was sent: its buttons pressable, its file its own again.
  const restore = (form) => {
    for (const button of form.querySelectorAll("button[type=submit]")) button.disabled = false;
    form.querySelector(".busy-note")?.remove();
    form.elements.file.disabled = false;
    form.elements.sent.value = "";
  };

  // The file is not sent: the box says why, and the form may be sent again.
  const refuse = (form, box, why) => {
    show(box, { stage: "failed", message: fill(form.dataset.sendFailed, { why }) });
    box.querySelector("progress").remove();
    restore(form);
  };

  const sendAhead = (form, file, box) => {
    const number = new Intl.NumberFormat(document.documentElement.lang, {
      maximumFractionDigits: 1,
    });
    const request = new XMLHttpRequest();
    const started = performance.now();
    request.upload.addEventListener("progress", (sent) => {
      if (!sent.lengthComputable || sent.total === 0) return;
      const seconds = (performance.now() - started) / 1000;
      const rate = seconds > 0 ? sent.loaded / seconds : 0;
      const left = rate > 0 ? (sent.total - sent.loaded) / rate : 0;
      show(box, {
        stage: "sending",
        fraction: sent.loaded / sent.total,
        message: fill(form.dataset.sending, {
          sent: number.format(sent.loaded / MB),
          total: number.format(sent.total / MB),
          rate: number.format(rate / MB),
          left: duration(form, left),
        }),
      });
    });
    request.addEventListener("load", () => {
      let answer = {};
      try {
        answer = JSON.parse(request.responseText);
      } catch {
        // Not the view's answer (a proxy's error page, say): its status says enough.
      }
      if (request.status !== 200 || !answer.sent) {
        refuse(form, box, answer.error || `${request.status} ${request.statusText}`);
        return;
      }
      form.elements.sent.value = answer.sent;
      form.elements.file.disabled = true; // sent already: the form names it instead
      askWhileWorking(form, box);
      form.submit(); // no submit event: this handler is not asked again
    });
    request.addEventListener("error", () => refuse(form, box, form.dataset.connectionLost));
    const body = new FormData();
    body.append("csrfmiddlewaretoken", form.elements.csrfmiddlewaretoken.value);
    body.append("file", file);
    request.open("POST", form.dataset.sendUrl);
    request.setRequestHeader("Accept", "application/json");
    request.send(body);
  };

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (event.defaultPrevented || !form.matches("form[data-progress-url]")) return;
    const box = progressBox(form);
    const file = form.dataset.sendUrl && form.elements.file.files[0];
    if (file && !form.elements.sent.value) {
      event.preventDefault();
      if (file.size > Number(form.dataset.maxBytes)) {
        // The server would refuse it by its size: said now, not after sending it all.
        refuse(form, box, form.dataset.tooLarge);
        return;
      }
      sendAhead(form, file, box);
      return;
    }
    askWhileWorking(form, box);
  });

  // Back to a page the browser kept as it was left, after its file was sent: choosing
  // another file must send that one.
  window.addEventListener("pageshow", (shown) => {
    if (!shown.persisted) return;
    for (const form of document.querySelectorAll("form[data-send-url]")) restore(form);
  });
})();
