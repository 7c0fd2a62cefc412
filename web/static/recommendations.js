// Recommendation slots of the demo storefront (docs/recommendations.md). A page opts in with
// a container: <section data-recommendations="cart" data-cart-id="…"> (upsells) or
// <section data-recommendations="personal"> (the visitor's picks, else bestsellers).
import { api, el, money, params } from "./storefront.js";

const LIMIT = 4;

function productPath(sku) {
  const cart = params.get("cart");
  return `/products/${encodeURIComponent(sku)}${cart ? `?cart=${encodeURIComponent(cart)}` : ""}`;
}

function render(box, title, items) {
  box.replaceChildren();
  if (items.length === 0) {
    box.hidden = true;
    return;
  }
  const list = el("ul", { class: "recommendations" }, items.map((product) =>
    el("li", { "data-sku": product.sku },
      el("a", { href: productPath(product.sku) }, product.name),
      " ",
      el("span", { class: "muted" }, money(product.price_cents, product.currency)))));
  box.append(el("h2", {}, title), list);
  box.hidden = false;
}

async function fill(box) {
  const kind = box.dataset.recommendations;
  try {
    if (kind === "cart") {
      const path = `/api/carts/${encodeURIComponent(box.dataset.cartId)}/recommendations`;
      const body = await api("GET", `${path}?limit=${LIMIT}`);
      render(box, "You may also like", body.items);
    } else if (kind === "personal") {
      const query = new URLSearchParams({ limit: String(LIMIT) });
      if (params.get("cart")) query.set("cart", params.get("cart"));
      const body = await api("GET", `/api/recommendations?${query}`);
      render(box, body.source === "personal" ? "Picked for you" : "Bestsellers", body.items);
    }
  } catch {
    box.hidden = true;  // a suggestion that cannot load is left out, never an error
  }
}

document.querySelectorAll("[data-recommendations]").forEach(fill);
