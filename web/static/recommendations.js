// The product page's "customers also bought" slot: GET /api/products/{sku}/recommendations.
// The slot stays hidden unless that answers items: a 404 (no recommendations on this
// server), an error or an empty list all leave the page as it was.
import { cardPicture, productPath } from "./pictures.js";
import { $, api, el, money } from "./storefront.js";

const LIMIT = 4;

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
