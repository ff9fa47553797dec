// The board's behaviour: countdowns on holds, lists that follow the
// registry live (Server-Sent Events, resumed after a drop by the browser
// with Last-Event-ID), and a notification when the provider's offerings
// are about to go stale. No inline script: the CSP forbids it.
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

// The list with `data-live-fragment` is fetched again (with the page's own
// query) whenever the log it follows (`data-live-source`, the registry's by
// default) moves past the revision it was drawn at. Events that arrive
// during a refresh are folded into one more refresh: the latest state is
// what is fetched.
function follow(list) {
  const fragment = list.dataset.liveFragment;
  const events = list.dataset.liveSource || "/board/live";
  const status = document.getElementById("live");
  const source = new EventSource(`${events}?seit=${encodeURIComponent(list.dataset.revision)}`);
  let running = false;
  let again = false;
  async function refresh() {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        const answer = await fetch(`${fragment}${window.location.search}`, {
          headers: { Accept: "text/html" },
        });
        if (!answer.ok) continue;
        document.getElementById(list.id).outerHTML = await answer.text();
        if (status) {
          const at = new Date().toLocaleTimeString("nl-NL", { timeZone: "Europe/Amsterdam" });
          status.textContent = `${words.live} · ${words.updated} ${at}`;
          status.classList.remove("lost");
        }
        remind();
      } while (again);
    } finally {
      running = false;
    }
  }
  source.addEventListener("change", refresh);
  source.addEventListener("error", () => {
    if (status) {
      status.textContent = words.lost;
      status.classList.add("lost");
    }
  });
}

// A provider whose offerings are about to go stale hears it from the
// browser when it allows notifications; the page's banner says it anyway.
let reminded = false;
function remind() {
  if (reminded || !document.querySelector("[data-soon]")) return;
  if ("Notification" in window && Notification.permission === "granted") {
    new Notification(words.notification);
    reminded = true;
  }
}

const notify = document.getElementById("notify");
if (notify && "Notification" in window && Notification.permission === "default") {
  notify.hidden = false;
  notify.addEventListener("click", async () => {
    await Notification.requestPermission();
    notify.hidden = true;
    remind();
  });
}

tick();
setInterval(tick, 1000);
remind();
const live = document.querySelector("[data-live-fragment]");
if (live) follow(live);
