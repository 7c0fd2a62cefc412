// The order page: its status, polled from GET /api/orders/{id} until the payment settles.
import { $, api, config, el, money, params, show, showError } from "./storefront.js";

const orderPath = `/api/orders/${encodeURIComponent(config.orderId)}`;
const NOTES = {
  pending_payment: "Waiting for the payment to be confirmed (Stripe's webhook, then a worker)…",
  paid: "Paid. A confirmation email is on its way.",
  payment_failed: "The last payment attempt failed; a later one can still succeed.",
  canceled: "This order was canceled.",
  partially_shipped: "Part of the order has shipped; the rest follows in its own package.",
  shipped: "Shipped.",
  refunded: "Refunded.",
  partially_refunded: "Partly refunded.",
};
// A failed attempt is not the end: the same PaymentIntent can be confirmed with another card.
const UNSETTLED = ["pending_payment", "payment_failed"];
const FAST_POLLS = 120;  // once a second for two minutes, then every five seconds
let polls = 0;

function render(order) {
  $("#order-number").textContent = order.order_number;
  const status = $("#order-status");
  status.textContent = order.status.replaceAll("_", " ");
  status.className = `status status-${order.status}`;
  const paid = order.paid_at ? ` (${new Date(order.paid_at).toLocaleString()})` : "";
  $("#order-note").textContent = (NOTES[order.status] || "") + paid;
  $("#order-lines tbody").replaceChildren(...order.items.map((item) => el("tr", {},
    el("td", {}, item.name, " ", el("span", { class: "muted" }, item.sku)),
    el("td", {}, String(item.quantity)),
    el("td", { class: "num" }, money(item.unit_price_cents * item.quantity, order.currency)))));
  $("#order-lines").hidden = false;
  const totals = [["Subtotal", order.subtotal_cents]];
  if (order.discount_cents) totals.push(["Discount", -order.discount_cents]);
  totals.push(["Total", order.total_cents]);
  $("#order-totals").replaceChildren(...totals.flatMap(([name, cents]) =>
    [el("dt", {}, name), el("dd", {}, money(cents, order.currency))]));
  $("#order-totals").hidden = false;
}

async function poll() {
  polls += 1;
  try {
    const order = await api("GET", orderPath);
    showError(null);
    render(order);
    if (!UNSETTLED.includes(order.status)) return;
  } catch (error) {
    showError(error);
    if (error.status === 404) return;
  }
  setTimeout(poll, polls < FAST_POLLS ? 1000 : 5000);
}

// Back from 3-D Secure, Stripe's redirect names the outcome: a failure is said at once (the
// order turns payment_failed once the webhook is processed). The query also carries the
// client secret, so it leaves the address bar.
if (params.get("redirect_status") === "failed") {
  show($("#payment-note"), "The card's authentication (3-D Secure) failed, so the order is "
    + "not paid. Pay again from the cart, with the same card or another.");
}
if (location.search) history.replaceState(null, "", location.pathname);
poll();
