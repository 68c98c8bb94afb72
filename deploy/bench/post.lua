-- wrk script: POST the file named by $BODY with $CTYPE and optional $AUTH.
local f = assert(io.open(os.getenv("BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = os.getenv("CTYPE") or "application/json"
wrk.headers["Accept-Encoding"] = "identity"
local auth = os.getenv("AUTH")
if auth and auth ~= "" then wrk.headers["Authorization"] = auth end

-- Print the non-2xx count so the caller can tell failures from throughput.
function done(summary, latency, requests)
  io.write(string.format("NON2XX %d\n", summary.errors.status))
end
