// Generate the portfolio PDF in the background, poll its status, then offer the download.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("pdf-form");
  if (!form) return;
  const button = document.getElementById("pdf-button");
  const status = document.getElementById("pdf-status");
  const link = document.getElementById("pdf-download");
  const show = (run) => {
    status.textContent = run.error ? `Failed: ${run.error}` : `Report #${run.id}: ${run.label}…`;
    if (run.download_url) {
      status.textContent = `Report #${run.id} is ready (fingerprint ${run.fingerprint}).`;
      link.href = run.download_url;
      link.hidden = false;
      button.disabled = false;
    } else if (run.status === "failed") {
      button.disabled = false;
    } else {
      setTimeout(() => poll(run.status_url), 1000);
    }
  };
  const poll = (url) => fetch(url, { headers: { Accept: "application/json" } }).then((r) => r.json()).then(show);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    button.disabled = true;
    link.hidden = true;
    status.textContent = "Queued…";
    fetch(form.action, { method: "POST", body: new FormData(form), headers: { Accept: "application/json" } })
      .then((r) => r.json())
      .then((run) => (run.error && !run.id ? ((status.textContent = run.error), (button.disabled = false)) : show(run)))
      .catch(() => { status.textContent = "Could not reach the server."; button.disabled = false; });
  });
});
