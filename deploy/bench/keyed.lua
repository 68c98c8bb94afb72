-- wrk script: POST the file named by $BODY with $CTYPE and optional $AUTH,
-- each request under an Idempotency-Key of its own, as a caller of an
-- async route sends one (issue 14 measures acceptance that way).
local f = assert(io.open(os.getenv("BODY"), "rb"))
local body = f:read("*a")
f:close()
local ctype = os.getenv("CTYPE") or "application/json"
local auth = os.getenv("AUTH")
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tag", tostring(counter))
end
-- Keys differ between threads and between runs against the same store.
local prefix, n = "", 0
function init(args)
  math.randomseed(os.time() + tonumber(tag or "0"))
  prefix = string.format("%s-%d-%d", tag or "0", os.time(), math.random(1, 1000000000))
end
function request()
  n = n + 1
  local headers = { ["Content-Type"] = ctype, ["Accept-Encoding"] = "identity",
    ["Idempotency-Key"] = prefix .. "-" .. n }
  if auth and auth ~= "" then headers["Authorization"] = auth end
  return wrk.format("POST", nil, headers, body)
end
function done(summary, latency, requests)
  io.write(string.format("NON2XX %d\n", summary.errors.status))
end
