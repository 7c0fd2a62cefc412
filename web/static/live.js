// Live cart (docs/live-cart.md): hints from the realtime gateway make the page refetch.
// One WebSocket per browser and cart: the tab holding a Web Lock owns it and relays hints
// to the other tabs over a BroadcastChannel; when it closes, another tab takes the lock.
// Reconnects back off; while the gateway cannot be reached the page polls instead.
import { api } from "./storefront.js";

const POLL_MS = 5000;
const BACKOFF_MS = [500, 1000, 2000, 5000, 10000, 30000];

export function follow(cartId, { onHint, onStatus }) {
  const name = `cartfleet-live-${cartId}`;
  const channel = "BroadcastChannel" in window ? new BroadcastChannel(name) : null;
  let pollTimer = null;
  let leading = false;
  let connected = false;

  // Polling runs whenever no live connection is known to be up, in every tab.
  function setLive(live) {
    onStatus(live);
    if (live && pollTimer) {
      clearInterval(pollTimer);
      pollTimer = null;
    } else if (!live && !pollTimer) {
      pollTimer = setInterval(() => onHint({ cart_id: cartId, version: null }), POLL_MS);
    }
  }

  function announce(message) {
    channel?.postMessage(message);
  }

  channel?.addEventListener("message", (event) => {
    if (event.data.type === "hint") onHint(event.data.hint);
    if (event.data.type === "status") setLive(event.data.live);
    // A tab opened later asks whether the connection is up.
    if (event.data.type === "hello" && leading) announce({ type: "status", live: connected });
  });

  async function connectOnce() {
    const live = await api("POST", `/api/carts/${encodeURIComponent(cartId)}/live-token`);
    const socket = new WebSocket(`${live.url}?token=${encodeURIComponent(live.token)}`);
    return new Promise((resolve) => {
      let opened = false;
      socket.addEventListener("open", () => {
        opened = connected = true;
        setLive(true);
        announce({ type: "status", live: true });
        onHint({ cart_id: cartId, version: null });  // whatever changed while away
      });
      socket.addEventListener("message", (event) => {
        let hint;
        try {
          hint = JSON.parse(event.data);
        } catch {
          return;
        }
        onHint(hint);
        announce({ type: "hint", hint });
      });
      socket.addEventListener("close", () => {
        connected = false;
        setLive(false);
        announce({ type: "status", live: false });
        resolve(opened);
      });
    });
  }

  // Owns the connection for as long as this tab lives (the lock is never given back).
  async function lead() {
    leading = true;
    let failures = 0;
    for (;;) {
      let opened = false;
      try {
        opened = await connectOnce();
      } catch {
        setLive(false);
        announce({ type: "status", live: false });
      }
      failures = opened ? 0 : failures + 1;
      const delay = BACKOFF_MS[Math.min(failures, BACKOFF_MS.length - 1)];
      await new Promise((done) => setTimeout(done, delay * (0.5 + Math.random())));
    }
  }

  setLive(false);
  announce({ type: "hello" });
  if (navigator.locks) navigator.locks.request(name, lead);
  else lead();
}
