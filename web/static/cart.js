// The cart page: lines, quantities, discount code, checkout, and the pay form.
import { $, api, config, el, money, params, setCart, show, showError } from "./storefront.js";
import { pay } from "./pay.js";

const cartId = config.cartId;
const cartPath = `/api/carts/${encodeURIComponent(cartId)}`;
let cart = null;
setCart(cartId);

async function load() {
  try {
    render(await api("GET", cartPath));
  } catch (error) {
    $("#cart-status").textContent = "";
    showError(error);
  }
}

// Every edit names the version it was made on; a stale one (version_conflict) reloads.
async function edit(method, path, body) {
  showError(null);
  show($("#flash"));
  try {
    render(await api(method, cartPath + path, { body, version: cart?.version }));
  } catch (error) {
    if (error.body?.error === "version_conflict") {
      await load();
      error.message += " The cart has been reloaded; check it and try again.";
    }
    showError(error);
  }
}

const STATUS_TEXT = {
  active: "",
  checkout: "Checkout has started: the items are held for you.",
  completed: "This cart has been ordered.",
  abandoned: "This cart has expired.",
};

function priceCell(line, currency) {
  const now = line.current_price_cents;
  if (now === line.unit_price_cents) return el("td", {}, money(now, currency));
  const change = now > line.unit_price_cents ? "price rose to" : "now";
  return el("td", {}, el("s", {}, money(line.unit_price_cents, currency)), " ",
    el("span", { class: "notice-text" }, `${change} ${money(now, currency)}`));
}

function lineRow(line, currency, editable) {
  const sku = encodeURIComponent(line.sku);
  // Once checkout has reserved the items, stock is the reservation's business.
  const stock = editable && (line.stock_error || (line.in_stock ? null : "Not enough stock"));
  let quantity = String(line.quantity);
  let remove = null;
  if (editable) {
    const input = el("input", { type: "number", min: 0, max: 99, value: line.quantity,
      "aria-label": `Quantity of ${line.name}` });
    const onsubmit = (event) => {
      event.preventDefault();
      edit("PATCH", `/items/${sku}`, { quantity: Number(input.value) });
    };
    quantity = el("form", { class: "inline", onsubmit }, input,
      el("button", { type: "submit" }, "Update"));
    remove = el("button", { type: "button", class: "link",
      onclick: () => edit("DELETE", `/items/${sku}`) }, "Remove");
  }
  return el("tr", { "data-sku": line.sku },
    el("td", {}, el("strong", {}, line.name), el("br"), el("span", { class: "muted" }, line.sku),
      stock ? el("p", { class: "stock out" }, stock) : null),
    priceCell(line, currency),
    el("td", {}, quantity),
    el("td", { class: "num" }, money(line.quantity * line.current_price_cents, currency)),
    el("td", {}, remove));
}

function render(view) {
  cart = view;
  const editable = view.status === "active";
  const status = view.items.length || !editable ? STATUS_TEXT[view.status] : "The cart is empty.";
  const shopping = el("a", { href: `/?cart=${encodeURIComponent(view.id)}` }, "Continue shopping");
  const order = view.order_id
    ? el("a", { href: `/orders/${encodeURIComponent(view.order_id)}` }, "See the order") : null;
  $("#cart-status").replaceChildren(status, " ", editable ? shopping : order);

  $("#lines").hidden = view.items.length === 0;
  const rows = view.items.map((line) => lineRow(line, view.currency, editable));
  $("#lines tbody").replaceChildren(...rows);

  $("#discount").hidden = !editable || view.items.length === 0;
  const applied = $("#discount-applied");
  applied.hidden = !view.discount;
  $("#discount-form").hidden = Boolean(view.discount);
  if (view.discount) {
    applied.replaceChildren(`Code ${view.discount.code}: ${view.discount.percent}% off. `,
      el("button", { type: "button", class: "link", onclick: () => edit("DELETE", "/discount") },
        "Remove code"));
  }

  const totals = [["Subtotal", view.subtotal_cents]];
  if (view.discount_cents) totals.push(["Discount", -view.discount_cents]);
  totals.push(["Total", view.total_cents]);
  $("#totals").replaceChildren(...totals.flatMap(([name, cents]) =>
    [el("dt", {}, name), el("dd", {}, money(cents, view.currency))]));
  $("#totals").hidden = view.items.length === 0;

  const checkoutOpen = ["active", "checkout"].includes(view.status) && $("#pay").hidden;
  $("#checkout").hidden = view.items.length === 0 || !checkoutOpen;
  const email = $("#checkout-form").elements.email;
  if (!email.value && view.email) email.value = view.email;
}

function checkoutBody(acknowledge) {
  const fields = $("#checkout-form").elements;
  const address = {};
  for (const name of ["name", "line1", "line2", "city", "postal_code", "country"]) {
    const value = fields[name].value.trim();
    if (value) address[name] = value;
  }
  return { email: fields.email.value.trim(), shipping_address: address,
    acknowledge_price_changes: acknowledge };
}

function showPriceChanges(changes) {
  const names = new Map(cart.items.map((line) => [line.sku, line.name]));
  $("#price-changes ul").replaceChildren(...changes.map((change) => el("li", {},
    `${names.get(change.sku) || change.sku}: ${money(change.old_price_cents, cart.currency)} → `
    + money(change.new_price_cents, cart.currency))));
  $("#price-changes").hidden = false;
}

async function checkout(acknowledge) {
  showError(null);
  $("#price-changes").hidden = true;
  try {
    const result = await api("POST", `${cartPath}/checkout`, { body: checkoutBody(acknowledge) });
    pay(result);
    await load();
  } catch (error) {
    if (error.body?.error === "price_changed_acknowledgment_required") {
      await load();
      showPriceChanges(error.body.changes);  // the prompt says it in the shopper's words
      return;
    }
    if (error.body?.error === "out_of_stock" && error.body.items) {
      await load();
      error.body.errors = error.body.items.map((item) => ({ field: item.sku,
        message: `${item.requested} wanted, ${item.available} available` }));
    }
    showError(error);
  }
}

$("#discount-form").addEventListener("submit", (event) => {
  event.preventDefault();
  edit("POST", "/discount", { code: event.target.elements.code.value.trim() });
});
$("#checkout-form").addEventListener("submit", (event) => {
  event.preventDefault();
  checkout(false);
});
$("#accept-prices").addEventListener("click", () => checkout(true));

// A cart-recovery link lands here with ?discount=CODE: apply it once, then drop it.
async function start() {
  const code = params.get("discount");
  if (code) {
    history.replaceState(null, "", location.pathname);
    try {
      await api("POST", `${cartPath}/discount`, { body: { code } });
      show($("#flash"), `Discount code ${code} applied.`);
    } catch (error) {
      showError(error);
    }
  }
  await load();
}

start();
