// The pay form: it confirms the order's PaymentIntent against the configured Stripe API with
// the client secret and the publishable key, the call Stripe.js makes against Stripe. The
// card goes to Stripe (here: the sandbox) only, never to this store's server. A card that asks
// for 3-D Secure gets a redirect: the browser goes to the bank's page (here the sandbox's),
// which sends it back to the order page with `redirect_status` in the query.
import { $, config, money, request, showError } from "./storefront.js";

let checkout = null;

const orderPage = () => `${location.origin}/orders/${encodeURIComponent(checkout.order_id)}`;

function cardFields() {
  const fields = $("#pay-form").elements;
  const [month, year] = fields.expiry.value.split("/").map((part) => part.trim());
  const form = new URLSearchParams();
  form.set("client_secret", checkout.client_secret);
  form.set("return_url", orderPage());
  form.set("payment_method_data[type]", "card");
  form.set("payment_method_data[card][number]", fields.number.value.replace(/\s+/g, ""));
  form.set("payment_method_data[card][exp_month]", month || "");
  form.set("payment_method_data[card][exp_year]", year || "");
  form.set("payment_method_data[card][cvc]", fields.cvc.value.trim());
  return form;
}

async function confirmPayment(event) {
  event.preventDefault();
  showError(null);
  const button = $("#pay-button");
  button.disabled = true;
  const intent = encodeURIComponent(checkout.payment_intent_id);
  try {
    const result = await request(`${config.stripeApiBase}/v1/payment_intents/${intent}/confirm`, {
      method: "POST",
      headers: { Authorization: `Bearer ${config.publishableKey}`,
        "Content-Type": "application/x-www-form-urlencoded" },
      body: cardFields(),
    });
    if (result.status === "succeeded" || result.status === "processing") {
      location.assign(orderPage());
      return;
    }
    const redirect = result.next_action?.redirect_to_url?.url;
    if (result.status === "requires_action" && redirect) {
      location.assign(redirect);
      return;
    }
    showError(new Error(`The payment is ${result.status}.`));
  } catch (error) {
    // Stripe's error object: its message says why (declined, insufficient funds ...).
    showError(error);
  }
  button.disabled = false;
}

export function pay(result) {
  checkout = result;
  $("#pay-order").textContent = result.order_number;
  const held = result.reservation_expires_at
    ? ` The items are held until ${new Date(result.reservation_expires_at).toLocaleTimeString()}.`
    : "";
  $("#pay-summary").textContent = `Total ${money(result.total_cents, result.currency)}.${held}`;
  $("#pay-button").textContent = `Pay ${money(result.total_cents, result.currency)}`;
  $("#pay").hidden = false;
  $("#pay").scrollIntoView({ behavior: "smooth" });
}

$("#pay-form").addEventListener("submit", confirmPayment);
