// Recommendation slots of the demo storefront (docs/recommendations.md). A slot stays hidden
// unless its request answers items: a 404, an error or an empty list leave the page as it was.
// - Pages opt in with a container: <section data-recommendations="cart" data-cart-id="…">
//   (upsells) or <section data-recommendations="personal"> (the visitor's picks, else
//   bestsellers); they are filled when this module loads.
// - The product page calls alsoBought(sku, cartId) for its "customers also bought" slot.
import { cardPicture, productPath } from "./pictures.js";
import { $, api, el, money, params } from "./storefront.js";

const LIMIT = 4;

function render(box, title, items) {
  box.replaceChildren();
  if (items.length === 0) {
    box.hidden = true;
    return;
  }
  const cart = params.get("cart");
  const list = el("ul", { class: "recommendations" }, items.map((product) =>
    el("li", { "data-sku": product.sku },
      el("a", { href: productPath(product.sku, cart) }, product.name),
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

function card(product, cartId) {
  return el("li", { class: "product", "data-sku": product.sku },
    cardPicture(product, { cartId }),
    el("h3", {}, el("a", { href: productPath(product.sku, cartId) }, product.name)),
    el("p", { class: "price" }, money(product.price_cents, product.currency)));
}

// cartId: a function, since the page may make its cart after the slot is filled.
export async function alsoBought(sku, cartId) {
  const slot = $("#also-bought");
  let items;
  try {
    const path = `/api/products/${encodeURIComponent(sku)}/recommendations?limit=${LIMIT}`;
    items = (await api("GET", path)).items;
  } catch {
    return;
  }
  if (!Array.isArray(items) || items.length === 0) return;
  slot.querySelector("ul").replaceChildren(...items.map((product) => card(product, cartId())));
  slot.hidden = false;
  // A cart made after the cards were: their links take it on the way out.
  slot.addEventListener("click", (event) => {
    const link = event.target.closest("a");
    if (link && cartId()) link.href = productPath(link.closest(".product").dataset.sku, cartId());
  });
}

document.querySelectorAll("[data-recommendations]").forEach(fill);
