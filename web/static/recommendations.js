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

// cartId: a function, read once the answer is in (the page may have made a cart meanwhile).
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
}
