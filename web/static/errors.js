// Reports the storefront's JavaScript errors and unhandled promise rejections to Sentry, with
// the backend's release and environment, so one release's front and back end errors sit
// together. The pages load this module only when SENTRY_BROWSER_DSN is set, before their own
// scripts (modules run in document order), so errors in those are caught too.
import { init } from "./vendor/sentry/sentry-browser.min.js";

const { sentryDsn, sentryRelease, sentryEnvironment } = document.body.dataset;

init({ dsn: sentryDsn, release: sentryRelease, environment: sentryEnvironment });

// `cartfleet sentry test` sends visitors here with ?sentry_test=1: one error and one
// unhandled rejection, both in this visitor's browser only, prove the path to Sentry.
if (new URLSearchParams(location.search).has("sentry_test")) {
  setTimeout(() => {
    Promise.reject(new Error("cartfleet sentry test: storefront unhandled rejection"));
    throw new Error("cartfleet sentry test: storefront error");
  });
}
