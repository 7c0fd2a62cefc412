// Product images as <picture>: the markup web/templates/storefront/pictures.html renders,
// built here for the images the scripts add. AVIF, then WebP, then JPEG at each ready
// width; width and height from the image, so the box is laid out before a byte arrives.
import { el } from "./storefront.js";

const FORMATS = ["avif", "webp"];

const srcset = (candidates) => candidates.map((c) => `${c.url} ${c.width}w`).join(", ");
const ofFormat = (image, format) => image.srcset.filter((c) => c.format === format);

// The placeholder is painted as the box's background until the image covers it; set
// through the CSSOM, which the page's CSP (no inline style) allows.
export function paintPlaceholder(img) {
  const placeholder = img.dataset.placeholder || "";
  if (!placeholder.startsWith("data:image/") || img.complete) return;
  img.style.backgroundImage = `url("${placeholder.replaceAll('"', "%22")}")`;
  img.addEventListener("load", () => { img.style.backgroundImage = ""; }, { once: true });
}

export function paintPlaceholders(root = document) {
  for (const img of root.querySelectorAll("img[data-placeholder]")) paintPlaceholder(img);
}

// eager: the page's largest paint (fetched at once, first); otherwise lazy, fetched
// only when scrolled near.
export function picture(image, sizes, { eager = false } = {}) {
  const sources = FORMATS.map((format) => ofFormat(image, format))
    .map((candidates, index) => candidates.length === 0 ? null
      : el("source", { type: `image/${FORMATS[index]}`, srcset: srcset(candidates), sizes }));
  const jpegs = ofFormat(image, "jpeg");
  const img = el("img", {
    loading: eager ? "eager" : "lazy",
    fetchpriority: eager ? "high" : null,
    decoding: "async",
    width: image.width,
    height: image.height,
    alt: image.alt || "",
    "data-placeholder": image.placeholder,
  });
  // The sources set last, inside the <picture>: an <img> starts fetching as soon as it
  // has a src, and only its <picture> parent's sources let it pick AVIF or WebP.
  const box = el("picture", {}, sources, img);
  if (jpegs.length) {
    img.sizes = sizes;
    img.srcset = srcset(jpegs);
  }
  img.src = image.url;
  paintPlaceholder(img);
  return box;
}

// A listing card's image: one column on a phone, two on a tablet, four on a desktop.
export const CARD_SIZES = "(min-width: 60rem) 13rem, (min-width: 30rem) calc(50vw - 3rem), calc(100vw - 4rem)";

// The cart id travels in the URL (docs/storefront.md), so the product page fills the same cart.
export const productPath = (sku, cartId = null) =>
  `/products/${encodeURIComponent(sku)}${cartId ? `?cart=${encodeURIComponent(cartId)}` : ""}`;

// The product's first image linking to its page, or nothing when it has none ready.
export function cardPicture(product, { eager = false, cartId = null } = {}) {
  const image = product.images?.[0];
  if (!image) return null;
  return el("a", { class: "card-image", href: productPath(product.sku, cartId), tabindex: -1 },
    picture(image, CARD_SIZES, { eager }));
}
