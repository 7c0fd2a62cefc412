// The products page: search and filters over GET /api/products, stock refreshed live.
import { cardPicture, productPath } from "./pictures.js";
import { $, api, el, money, newCart, params, setCart, show, showError } from "./storefront.js";

function productsPage() {
  const form = $("#filters");
  const list = $("#products");
  const more = $("#more");
  const stock = new Map();  // sku -> {label, button} of a shown product
  let cartId = params.get("cart");
  let cursor = null;
  let listed = null;  // the query of the listing shown, which "Show more" continues
  if (cartId) setCart(cartId);

  for (const name of ["q", "min", "max", "sort"]) {
    if (params.has(name)) form.elements[name].value = params.get(name);
  }
  form.elements.in_stock.checked = params.get("in_stock") === "true";

  function apiQuery() {
    const query = new URLSearchParams();
    const cents = (value) => (value === "" ? "" : String(Math.round(Number(value) * 100)));
    query.set("q", form.elements.q.value.trim());
    query.set("min_price_cents", cents(form.elements.min.value));
    query.set("max_price_cents", cents(form.elements.max.value));
    if (form.elements.in_stock.checked) query.set("in_stock", "true");
    query.set("sort", form.elements.sort.value);
    return query;
  }

  function pageQuery() {
    const query = new URLSearchParams(new FormData(form));
    if (cartId) query.set("cart", cartId);
    return query;
  }

  function setStock(sku, available) {
    const shown = stock.get(sku);
    if (!shown) return;
    shown.label.textContent = available === null ? "Stock unknown"
      : available > 0 ? `${available} in stock` : "Out of stock";
    shown.label.className = available === 0 ? "stock out" : "stock";
    shown.button.disabled = available === 0;
  }

  async function add(product, quantity) {
    showError(null);
    try {
      if (!cartId) {
        cartId = await newCart();
        setCart(cartId);
        history.replaceState(null, "", `/?${pageQuery()}`);
      }
      const path = `/api/carts/${encodeURIComponent(cartId)}/items`;
      const cart = await api("POST", path, { body: { sku: product.sku, quantity } });
      const count = cart.items.reduce((sum, item) => sum + item.quantity, 0);
      show($("#flash"), `Added ${quantity} × ${product.name}. The cart holds ${count} item(s).`);
    } catch (error) {
      showError(error);
    }
  }

  // eager: the listing's first image, the page's largest paint; the others load lazily.
  function card(product, eager) {
    const quantity = el("input", { type: "number", name: "quantity", min: 1, max: 99, value: 1,
      "aria-label": `Quantity of ${product.name}` });
    const button = el("button", { type: "submit" }, "Add to cart");
    const label = el("p", { class: "stock" });
    stock.set(product.sku, { label, button });
    const onsubmit = (event) => {
      event.preventDefault();
      add(product, Number(quantity.value));
    };
    return el("li", { class: "product", "data-sku": product.sku },
      cardPicture(product, { eager, cartId }),
      el("h3", {}, el("a", { href: productPath(product.sku, cartId) }, product.name)),
      el("p", { class: "muted" }, product.sku),
      el("p", { class: "price" }, money(product.price_cents, product.currency)),
      label,
      el("form", { class: "inline", onsubmit }, quantity, button));
  }

  async function load(reset) {
    showError(null);
    if (reset) listed = apiQuery();
    const query = new URLSearchParams(listed);
    if (!reset) query.set("cursor", cursor);
    try {
      const page = await api("GET", `/api/products?${query}`);
      if (reset) {
        list.replaceChildren();
        stock.clear();
      }
      for (const [index, product] of page.items.entries()) {
        list.append(card(product, reset && index === 0));
        setStock(product.sku, product.available);
      }
      cursor = page.next_cursor;
      more.hidden = !cursor;
      $("#summary").textContent =
        stock.size ? `${stock.size} product(s) shown` : "No product matches.";
    } catch (error) {
      showError(error);
    }
  }

  // Stock shown live: each shown product's availability is read again every few seconds.
  async function refreshStock() {
    if (document.hidden) return;
    await Promise.all([...stock.keys()].map(async (sku) => {
      try {
        setStock(sku, (await api("GET", `/api/products/${encodeURIComponent(sku)}`)).available);
      } catch {
        // A failed refresh keeps the last figure; the next round tries again.
      }
    }));
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    history.replaceState(null, "", `/?${pageQuery()}`);
    load(true);
  });
  more.addEventListener("click", () => load(false));
  // A cart made after the cards were: their product links take it on the way out.
  list.addEventListener("click", (event) => {
    const link = event.target.closest("a[href^='/products/']");
    if (link && cartId) link.href = productPath(link.closest(".product").dataset.sku, cartId);
  });
  load(true);
  setInterval(refreshStock, 5000);
}

productsPage();
