// Package resilience is how the bus reaches an agency: retries, a per-attempt
// timeout, a circuit breaker per endpoint and failover across a route's
// endpoints, all as http.RoundTripper layers under a go-retryablehttp client.
//
// The layers of one physical attempt, outermost first:
//
//	retryablehttp.Client   retries, backoff, Retry-After (policy in Client)
//	  http.Client          no timeout, no redirects
//	    BreakerTransport   fail fast while the endpoint's breaker is open
//	      AttemptTransport per-attempt timeout, buffered body, observer
//	        http.Transport shared keep-alive pool
//
// The breaker sits outside the attempt layer so that a call refused by an
// open breaker is not reported as a physical attempt, and so that a body
// that stalls half-way counts against the endpoint like any other timeout.
//
// Nothing here logs: at thousands of calls a second a log line per attempt
// would cost more than the call. Callers see attempts through
// adapters.WithAttemptObserver, retries through Hooks.OnRetry and breaker transitions
// through the hook given to NewBreakers, and turn those into metrics and
// audit rows as they see fit.
package resilience
