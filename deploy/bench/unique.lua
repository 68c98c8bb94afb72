-- wrk script: POST the file named by $BODY with $CTYPE (JSON by default) and
-- optional $AUTH. Every request gets a number unique to it, put in place of
-- each "{{n}}" in the body (e.g. an end-to-end id per payment); with $KEYED
-- set it is also sent as the request's Idempotency-Key, prefixed so that
-- keys differ between runs against the same store, as a caller of an async
-- route sends one (issue 14 measures acceptance that way).
local f = assert(io.open(os.getenv("BODY"), "rb"))
local template = f:read("*a")
f:close()
local ctype = os.getenv("CTYPE") or "application/json"
local auth = os.getenv("AUTH")
local keyed = (os.getenv("KEYED") or "") ~= ""
local templated = template:find("{{n}}", 1, true) ~= nil
local counter = 0
local thread_tag, run = "", ""

function setup(thread)
  counter = counter + 1
  thread:set("tag", tostring(counter))
end

function init(args)
  thread_tag = tag or "0"
  math.randomseed(os.time() + tonumber(thread_tag))
  run = string.format("%d-%d", os.time(), math.random(1, 1000000000))
end

local n = 0
function request()
  n = n + 1
  local id = thread_tag .. "-" .. n
  local body = template
  if templated then body = template:gsub("{{n}}", id) end
  local headers = { ["Content-Type"] = ctype, ["Accept-Encoding"] = "identity" }
  if keyed then headers["Idempotency-Key"] = run .. "-" .. id end
  if auth and auth ~= "" then headers["Authorization"] = auth end
  return wrk.format("POST", nil, headers, body)
end

function done(summary, latency, requests)
  io.write(string.format("NON2XX %d\n", summary.errors.status))
end
