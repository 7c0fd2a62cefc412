// The cart page: lines, quantities, saved items, bulk edits, discount code, checkout, the
// pay form; kept current across devices by live hints (live.js).
import { $, api, config, el, money, params, setCart, show, showError } from "./storefront.js";
import { follow } from "./live.js";
import { pay } from "./pay.js";

const cartId = config.cartId;
const cartPath = `/api/carts/${encodeURIComponent(cartId)}`;
let cart = null;
const selected = new Set();  // skus ticked for a bulk edit; kept across re-renders
setCart(cartId);

async function load() {
  try {
    render(await api("GET", cartPath));
  } catch (error) {
    $("#cart-status").textContent = "";
    showError(error);
  }
}

// Hints only say "changed": refetch when one is newer than what is shown (a skipped
// version is covered too) or carries no version (a resync, or polling). One fetch at a
// time; hints arriving meanwhile make one more.
let loading = null;
let again = false;
function refresh(hint) {
  if (hint.cart_id !== cartId) return;
  if (cart && hint.version !== null && hint.version <= cart.version) return;
  if (loading) {
    again = true;
    return;
  }
  loading = load().finally(() => {
    loading = null;
    if (again) {
      again = false;
      refresh({ cart_id: cartId, version: null });
    }
  });
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

// Several lines at once: one request, all or nothing, one version.
function bulk(operations) {
  if (operations.length) edit("POST", "/batch", { operations });
}

function selectedQuantity(sku) {
  const row = [...document.querySelectorAll("#lines tbody tr")].find((tr) => tr.dataset.sku === sku);
  return Number(row.querySelector("input[type=number]").value);
}

$("#bulk-update").addEventListener("click", () => bulk([...selected].map((sku) =>
  ({ op: "set_quantity", sku, quantity: selectedQuantity(sku) }))));
$("#bulk-save").addEventListener("click", () => bulk([...selected].map((sku) =>
  ({ op: "save_for_later", sku }))));
$("#bulk-remove").addEventListener("click", () => bulk([...selected].map((sku) =>
  ({ op: "remove", sku }))));
$("#select-all").addEventListener("change", (event) => {
  for (const line of cart.items) {
    if (event.target.checked) selected.add(line.sku);
    else selected.delete(line.sku);
  }
  render(cart);
});

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
  let pick = null;
  if (editable) {
    pick = el("input", { type: "checkbox", checked: selected.has(line.sku),
      "aria-label": `Select ${line.name}`, onchange: (event) => {
        if (event.target.checked) selected.add(line.sku);
        else selected.delete(line.sku);
        renderBulk();
      } });
    const input = el("input", { type: "number", min: 0, max: 99, value: line.quantity,
      "aria-label": `Quantity of ${line.name}` });
    const onsubmit = (event) => {
      event.preventDefault();
      edit("PATCH", `/items/${sku}`, { quantity: Number(input.value) });
    };
    quantity = el("form", { class: "inline", onsubmit }, input,
      el("button", { type: "submit" }, "Update"));
    remove = el("span", {},
      el("button", { type: "button", class: "link",
        onclick: () => edit("POST", "/saved", { sku: line.sku }) }, "Save for later"), " ",
      el("button", { type: "button", class: "link",
        onclick: () => edit("DELETE", `/items/${sku}`) }, "Remove"));
  }
  return el("tr", { "data-sku": line.sku },
    el("td", {}, pick),
    el("td", {}, el("strong", {}, line.name), el("br"), el("span", { class: "muted" }, line.sku),
      stock ? el("p", { class: "stock out" }, stock) : null),
    priceCell(line, currency),
    el("td", {}, quantity),
    el("td", { class: "num" }, money(line.quantity * line.current_price_cents, currency)),
    el("td", {}, remove));
}

function savedItem(item, currency, editable) {
  const sku = encodeURIComponent(item.sku);
  const actions = editable ? [" ",
    el("button", { type: "button", onclick: () => edit("POST", `/saved/${sku}/move-to-cart`) },
      "Move to cart"), " ",
    el("button", { type: "button", class: "link",
      onclick: () => edit("DELETE", `/saved/${sku}`) }, "Remove")] : [];
  return el("li", { "data-sku": item.sku },
    el("strong", {}, item.name), ` × ${item.quantity} at ${money(item.current_price_cents, currency)}`,
    item.in_stock ? null : el("span", { class: "stock out" }, " Out of stock"), ...actions);
}

function renderBulk() {
  const editable = cart.status === "active";
  $("#bulk").hidden = !editable || selected.size === 0;
  $("#bulk-count").textContent = `${selected.size} selected:`;
  $("#select-all").checked = cart.items.length > 0 && selected.size === cart.items.length;
}

function render(view) {
  cart = view;
  const editable = view.status === "active";
  const skus = new Set(view.items.map((line) => line.sku));
  for (const sku of selected) if (!skus.has(sku)) selected.delete(sku);
  const status = view.items.length || !editable ? STATUS_TEXT[view.status] : "The cart is empty.";
  const shopping = el("a", { href: `/?cart=${encodeURIComponent(view.id)}` }, "Continue shopping");
  const order = view.order_id
    ? el("a", { href: `/orders/${encodeURIComponent(view.order_id)}` }, "See the order") : null;
  $("#cart-status").replaceChildren(status, " ", editable ? shopping : order);

  $("#lines").hidden = view.items.length === 0;
  const rows = view.items.map((line) => lineRow(line, view.currency, editable));
  $("#lines tbody").replaceChildren(...rows);
  renderBulk();
  $("#saved").hidden = view.saved.length === 0;
  $("#saved-items").replaceChildren(...view.saved.map((item) =>
    savedItem(item, view.currency, editable)));

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
  follow(cartId, {
    onHint: refresh,
    onStatus: (live) => {
      $("#live-status").textContent = live
        ? "Live: changes from your other devices show here."
        : "Live updates are reconnecting; checking for changes every few seconds.";
      $("#live-status").dataset.live = live ? "on" : "off";
    },
  });
}

start();
