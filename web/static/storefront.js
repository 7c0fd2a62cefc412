// What every page of the demo storefront shares (docs/storefront.md). Only the public JSON
// API is used, and the DOM is built from text nodes: no API value is ever parsed as HTML.

export const config = document.body.dataset;
export const params = new URLSearchParams(location.search);
export const $ = (selector) => document.querySelector(selector);

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child);  // strings become text
  }
  return node;
}

export const money = (cents, currency = "usd") =>
  new Intl.NumberFormat("en-US", { style: "currency", currency: currency.toUpperCase() })
    .format(cents / 100);

export class APIError extends Error {
  constructor(status, body) {
    super(body.message || `The server answered ${status}.`);
    this.status = status;
    this.body = body;
  }
}

export async function request(url, options) {
  let response;
  try {
    response = await fetch(url, options);
  } catch {
    const host = new URL(url, location.href).host;
    throw new APIError(0, { message: `${host} could not be reached; try again.` });
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new APIError(response.status, body.error?.message ? body.error : body);
  return body;
}

export function api(method, path, { body, version } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (version !== undefined) headers["If-Match"] = `"${version}"`;
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return request(path, { method, headers, body: payload });
}

export function show(box, ...lines) {
  box.replaceChildren(...lines.map((line) => el("p", {}, line)));
  box.hidden = lines.length === 0;
}

// The API's own message, and each field it names for a 422.
export function showError(error, box = $("#error")) {
  const fields = (error?.body?.errors || []).map((item) => `${item.field}: ${item.message}`);
  show(box, ...(error ? [error.message, ...fields] : []));
}

export function setCart(cartId) {
  const link = $("#cart-link");
  link.href = `/cart/${encodeURIComponent(cartId)}`;
  link.hidden = false;
}

export async function newCart() {
  const cart = await api("POST", "/api/carts", { body: {} });
  return cart.id;
}

$("#new-cart").addEventListener("click", async () => {
  try {
    location.assign(`/cart/${encodeURIComponent(await newCart())}`);
  } catch (error) {
    showError(error);
  }
});
