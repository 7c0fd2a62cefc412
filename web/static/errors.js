// Reports the storefront's JavaScript errors and unhandled promise rejections to Sentry, with
// the backend's release and environment, so one release's front and back end errors sit
// together. The pages load this module only when SENTRY_BROWSER_DSN is set, before their own
// scripts (modules run in document order), so errors in those are caught too.
import { init } from "./vendor/sentry/sentry-browser.min.js";

const { sentryDsn, sentryRelease, sentryEnvironment } = document.body.dataset;

// A cart id in an address is the right to use that cart, and the return from 3-D Secure
// carries a client secret in its query: neither leaves for Sentry, in the page's URL or in a
// breadcrumb of a navigation or an API call.
function redact(url) {
  return typeof url === "string"
    ? url.replace(/\/(carts?)\/[^/?#]+/, "/$1/{cart_id}").replace(/[?#].*$/, "")
    : url;
}

init({
  dsn: sentryDsn,
  release: sentryRelease,
  environment: sentryEnvironment,
  beforeSend(event) {
    if (event.request) event.request.url = redact(event.request.url);
    return event;
  },
  beforeBreadcrumb(crumb) {
    for (const key of ["url", "from", "to"]) {
      if (crumb.data?.[key]) crumb.data[key] = redact(crumb.data[key]);
    }
    return crumb;
  },
});

// `cartfleet sentry test` sends visitors here with ?sentry_test=1: one error and one
// unhandled rejection, both in this visitor's browser only, prove the path to Sentry.
if (new URLSearchParams(location.search).has("sentry_test")) {
  setTimeout(() => {
    Promise.reject(new Error("cartfleet sentry test: storefront unhandled rejection"));
    throw new Error("cartfleet sentry test: storefront error");
  });
}
