// The board's behaviour: countdowns on holds, and search results that
// follow the registry live (Server-Sent Events, resumed after a drop by
// the browser with Last-Event-ID). No inline script: the CSP forbids it.
"use strict";

const words = document.body.dataset;

function tick() {
  const now = Date.now();
  for (const element of document.querySelectorAll("[data-expires]")) {
    const left = Math.floor((Date.parse(element.dataset.expires) - now) / 1000);
    if (left <= 0) {
      element.textContent = words.expired;
    } else {
      const minutes = Math.floor(left / 60);
      const seconds = String(left % 60).padStart(2, "0");
      element.textContent = `${words.left} ${minutes}:${seconds}`;
    }
  }
}

function follow(results) {
  const status = document.getElementById("live");
  const source = new EventSource(`/board/live?seit=${encodeURIComponent(results.dataset.revision)}`);
  let refreshing = Promise.resolve();
  source.addEventListener("change", () => {
    // One refresh at a time; the latest state is what is fetched.
    refreshing = refreshing.then(async () => {
      const answer = await fetch(`/board/zoeken/resultaten${window.location.search}`, {
        headers: { Accept: "text/html" },
      });
      if (!answer.ok) return;
      const current = document.getElementById("results");
      current.outerHTML = await answer.text();
      if (status) {
        const at = new Date().toLocaleTimeString("nl-NL", { timeZone: "Europe/Amsterdam" });
        status.textContent = `${words.live} · ${words.updated} ${at}`;
        status.classList.remove("lost");
      }
    });
  });
  source.addEventListener("error", () => {
    if (status) {
      status.textContent = words.lost;
      status.classList.add("lost");
    }
  });
  source.addEventListener("open", () => {
    if (status) status.classList.remove("lost");
  });
}

tick();
setInterval(tick, 1000);
const results = document.getElementById("results");
if (results) follow(results);
