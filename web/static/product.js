// The product page: gallery, price, live stock and add to cart. The server rendered the
// product from GET /api/products/{sku}'s own document (its first image in the HTML, for
// the largest paint); this script starts from that document and reads it again live.
import { alsoBought } from "./recommendations.js";
import { paintPlaceholders, picture } from "./pictures.js";
import { $, api, config, el, money, newCart, params, setCart, show, showError } from "./storefront.js";

const THUMB_SIZES = "5rem";
const STOCK_EVERY_MS = 5000;

function productPage() {
  const data = $("#product-data");
  if (!data) return;  // no such product: the page says so, nothing to run
  const product = JSON.parse(data.textContent);
  const path = `/api/products/${encodeURIComponent(product.sku)}`;
  const form = $("#add");
  let cartId = params.get("cart");
  if (cartId) setCart(cartId);

  paintPlaceholders($("#main-image"));
  $("#price").textContent = money(product.price_cents, product.currency);

  function setStock(available) {
    const label = $("#stock");
    label.textContent = available === null ? "Stock unknown"
      : available > 0 ? `${available} in stock` : "Out of stock";
    label.className = available === 0 ? "stock out" : "stock";
    form.querySelector("button").disabled = available === 0;
  }

  // Thumbnails below the main image: choosing one shows it there, fetched at once.
  function gallery(images) {
    if (images.length < 2) return;
    const thumbnails = images.map((image, index) => {
      const button = el("button", { type: "button", class: "thumbnail",
        "aria-label": `Photo ${index + 1} of ${images.length}`,
        "aria-pressed": index === 0 ? "true" : "false",
        onclick: () => {
          $("#main-image").replaceChildren(picture(image, config.mainSizes, { eager: true }));
          for (const other of $("#thumbnails").querySelectorAll("button")) {
            other.setAttribute("aria-pressed", other === button ? "true" : "false");
          }
        } }, picture(image, THUMB_SIZES));
      return el("li", {}, button);
    });
    $("#thumbnails").replaceChildren(...thumbnails);
  }

  async function refreshStock() {
    if (document.hidden) return;
    try {
      setStock((await api("GET", path)).available);
    } catch {
      // A failed refresh keeps the last figure; the next round tries again.
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError(null);
    const quantity = Number(form.elements.quantity.value);
    try {
      if (!cartId) {
        cartId = await newCart();
        setCart(cartId);
        history.replaceState(null, "", `?cart=${encodeURIComponent(cartId)}`);
      }
      const items = `/api/carts/${encodeURIComponent(cartId)}/items`;
      const cart = await api("POST", items, { body: { sku: product.sku, quantity } });
      const count = cart.items.reduce((sum, item) => sum + item.quantity, 0);
      show($("#flash"), `Added ${quantity} × ${product.name}. The cart holds ${count} item(s).`);
    } catch (error) {
      showError(error);
    }
  });

  setStock(product.available);
  gallery(product.images || []);
  alsoBought(product.sku, () => cartId);
  setInterval(refreshStock, STOCK_EVERY_MS);
}

productPage();
